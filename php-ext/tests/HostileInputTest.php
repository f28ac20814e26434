<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\TesseraException;
use Tessera\Exception\TransportException;
use Tessera\Http\Psr18Transport;
use Tessera\Http\WordPressTransport;
use Tessera\Verifier;

// The PSR interfaces and Guzzle's PSR-17 factory, for Tessera\Http\Psr18Transport
// (Debian's packages, scripts/setup.d/20-php.sh; as php/tests/HttpPsr18Test.php).
foreach (['GuzzleHttp/autoload.php', 'GuzzleHttp/Psr7/autoload.php', 'Psr/Http/Message/autoload.php'] as $autoload) {
    require_once $autoload;
}

/**
 * Binding robustness: the hostile-input catalogue (tests/hostile/catalogue.json)
 * plus PHP-only values (invalid UTF-8, resources, closures, Stringable and
 * other objects, INF/NAN, PHP_INT_MIN/MAX, references, self-referencing
 * arrays) fed through every public method of the extension — found by
 * reflection on the `Tessera` namespace, so a new method without a spec fails
 * — in every parameter and every array field, through the host callables'
 * return values, and with too many / too few / unknown named arguments.
 *
 * The contract (php-ext/README.md, "Bad input"): a hostile call either
 * succeeds because the input is in fact valid (only where ACCEPTED says so, with
 * the reason), or throws a `Tessera\Exception\TesseraException` whose code is
 * not `internal`; an exception thrown by the caller's own callable propagates
 * unchanged; a wrong argument COUNT (or an unknown named argument) is the
 * engine's `ArgumentCountError` / `Error`. A wrong argument TYPE is never a
 * `TypeError`: the extension converts every value itself and throws
 * `InvalidInputException`. After every hostile call a sanity call must work.
 *
 * TESSERA_HOSTILE_SMALL=1 (set by valgrind.sh) shrinks the "big" size.
 */
final class HostileInputTest extends TestCase
{
    /** @var array{calls: int, refused: int, accepted: int, propagated: int, engine: int} */
    private static array $counts = ['calls' => 0, 'refused' => 0, 'accepted' => 0, 'propagated' => 0, 'engine' => 0];
    /** @var list<string> */
    private static array $failures = [];
    private static ?array $catalogue = null;
    private static ?\DomainException $sentinel = null;
    /** @var array<string, string> fixtures: state JSON and friends */
    private static array $fx = [];

    public static function setUpBeforeClass(): void
    {
        self::$sentinel = new \DomainException('hostile caller code');
        self::$catalogue = json_decode((string) file_get_contents(__DIR__ . '/../../tests/hostile/catalogue.json'), true, 512, JSON_THROW_ON_ERROR);
        $c = Companion::create(['broker_url' => BROKER]);
        $req = $c->registrationRequest(['site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1.0.0']);
        $c->handleRegistrationResponse(['status' => 201, 'headers' => [], 'body' => '{}']);
        self::$fx['secret'] = json_decode($req['body'], true)['secret'];
        self::$fx['registered'] = $c->exportState();
        // Pending now: completeConnect() reads the clock (10 minutes to complete).
        \Tessera\Testing\connectUrl($c, SITE . '/wp-admin/?page=x', null, time(), 'hostile-state-0123456789');
        self::$fx['pending'] = $c->exportState();
        $c->completeConnect(SITE . '/wp-admin/?page=x&state=hostile-state-0123456789&code=' . CONNECT_CODE, self::connectTransport('btk_hostile'));
        self::$fx['connected'] = $c->exportState();
        self::$fx['install_id'] = (string) $c->installId();
        $c->checkSite('https://moved.example');
        self::$fx['mismatch'] = $c->exportState();
        $a = Companion::create(['broker_url' => BROKER]);
        $req = $a->registrationRequest(['site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1.0.0']);
        $a->handleRegistrationResponse(['status' => 202, 'headers' => [], 'body' => '{"challenge":"challenge-0123456789abcdef"}']);
        self::$fx['awaiting'] = $a->exportState();
        self::$fx['awaiting_secret'] = json_decode($req['body'], true)['secret'];
        self::$fx['awaiting_id'] = (string) $a->installId();
        self::$fx['proof'] = $a->ownershipProof()['body'];
        self::$fx['sealed'] = Companion::importState(self::$fx['connected'])->sealState('0123456789abcdef-hostile');
    }

    public static function tearDownAfterClass(): void
    {
        $c = self::$counts;
        // PHPUnit is strict about output: the count goes to stderr.
        fwrite(STDERR, sprintf(
            "\nhostile calls (%s): %d — %d refused with a Tessera exception, %d caller exceptions propagated unchanged, %d engine argument-count errors, %d accepted as valid\n",
            impl() === IMPL_PURE ? 'pure PHP' : 'PHP extension',
            $c['calls'],
            $c['refused'],
            $c['propagated'],
            $c['engine'],
            $c['accepted'],
        ));
    }

    // ---- the catalogue ------------------------------------------------------------

    private static function size(string|int $count): int
    {
        if (is_int($count)) {
            return $count;
        }
        $small = getenv('TESSERA_HOSTILE_SMALL') === '1' ? (self::$catalogue['small_sizes'][$count] ?? null) : null;
        return $small ?? self::$catalogue['sizes'][$count];
    }

    /** One catalogue recipe → its PHP value (numbers: NAN/INF as floats, i64 as ints, u64 max as a float). */
    private static function expand(array $e): mixed
    {
        if (array_key_exists('text', $e)) {
            return $e['text'];
        }
        if (isset($e['repeat'])) {
            return ($e['prefix'] ?? '') . str_repeat($e['repeat'], self::size($e['count'])) . ($e['suffix'] ?? '');
        }
        if (isset($e['nest'])) {
            return str_repeat($e['nest'][0], $e['depth']) . ($e['core'] ?? '') . str_repeat($e['nest'][1], $e['depth']);
        }
        if (array_key_exists('number', $e)) {
            return match ($e['number']) {
                'NaN' => NAN,
                'Infinity' => INF,
                '-Infinity' => -INF,
                'i64_min' => PHP_INT_MIN,
                'i64_max' => PHP_INT_MAX,
                'u64_max' => 18446744073709551615.0,
                default => $e['number'],
            };
        }
        if (isset($e['pairs'])) {
            $h = [];
            for ($i = 0, $n = self::size($e['pairs']); $i < $n; $i++) {
                if (!empty($e['same_name'])) {
                    $h['x-same'][] = 'v';
                } else {
                    $h["x-h$i"] = 'v';
                }
            }
            return $h;
        }
        throw new \LogicException('bad recipe ' . json_encode($e));
    }

    /** @return array<string, \Closure(): mixed> "<prefix> <name>" => factory */
    private static function cat(string $list, string $prefix): array
    {
        static $cache = [];
        if (!isset($cache[$list])) {
            $cache[$list] = [];
            foreach (self::$catalogue[$list] as $e) {
                $cache[$list]["$prefix {$e['name']}"] = self::expand($e);
            }
        }
        return array_map(fn ($v) => fn () => $v, $cache[$list]);
    }

    /**
     * PHP values: label => [factory, kind]. A slot lists the kinds whose type it
     * accepts (the value may still be refused).
     *
     * @return array<string, array{\Closure(): mixed, string}>
     */
    private static function phpValues(): array
    {
        $sentinel = self::$sentinel;
        return [
            'null' => [fn () => null, 'null'],
            'true' => [fn () => true, 'bool'],
            'false' => [fn () => false, 'bool'],
            'zero' => [fn () => 0, 'int'],
            'minus one' => [fn () => -1, 'int'],
            'PHP_INT_MAX' => [fn () => PHP_INT_MAX, 'int'],
            'PHP_INT_MIN' => [fn () => PHP_INT_MIN, 'int'],
            'float' => [fn () => 1700000000.0, 'float'],
            'INF' => [fn () => INF, 'float'],
            '-INF' => [fn () => -INF, 'float'],
            'NAN' => [fn () => NAN, 'float'],
            'numeric string' => [fn () => '1700000000', 'string'],
            'function-name string' => [fn () => 'strlen', 'string'],
            'invalid utf-8 byte' => [fn () => "caf\xe9", 'binary'],
            'invalid utf-8 sequence' => [fn () => "\xc3\x28", 'binary'],
            'overlong utf-8' => [fn () => "\xc0\xaf", 'binary'],
            'utf-8 encoded surrogate' => [fn () => "\xed\xa0\x80", 'binary'],
            'truncated utf-8' => [fn () => "https://shop.example/\xe2\x82", 'binary'],
            'empty array' => [fn () => [], 'array'],
            'list' => [fn () => ['a', 'b'], 'array'],
            'array of junk' => [fn () => [1 => [2], 'x' => new \stdClass()], 'array'],
            'self-referencing array' => [function () {
                $a = ['method' => 'GET', 'status' => 200, 'broker_url' => BROKER];
                $a['self'] = &$a;
                return $a;
            }, 'array'],
            'stdClass' => [fn () => (object) ['broker_url' => BROKER, 'status' => 200], 'object'],
            'Stringable' => [fn () => new class () {
                public function __toString(): string
                {
                    return 'https://broker.example';
                }
            }, 'object'],
            'ArrayObject' => [fn () => new \ArrayObject(['broker_url' => BROKER, 'status' => 200]), 'object'],
            'ArrayAccess throwing' => [fn () => new class ($sentinel) implements \ArrayAccess {
                public function __construct(private \Throwable $e)
                {
                }
                public function offsetExists(mixed $o): bool
                {
                    throw $this->e;
                }
                public function offsetGet(mixed $o): mixed
                {
                    throw $this->e;
                }
                public function offsetSet(mixed $o, mixed $v): void
                {
                }
                public function offsetUnset(mixed $o): void
                {
                }
            }, 'object'],
            'generator' => [fn () => (function () {
                yield 'status' => 200;
            })(), 'object'],
            'closure' => [fn () => fn () => 1, 'callable'],
            'first-class callable' => [fn () => strlen(...), 'callable'],
            'resource' => [fn () => fopen('php://memory', 'r'), 'resource'],
            'closed resource' => [function () {
                $f = fopen('php://memory', 'r');
                fclose($f);
                return $f;
            }, 'resource'],
            'exception object' => [fn () => new \RuntimeException('x'), 'object'],
        ];
    }

    /** @return array<string, \Closure(): mixed> the PHP values whose kind is not in $accepts */
    private static function wrong(array $accepts): array
    {
        $out = [];
        foreach (self::phpValues() as $label => [$f, $kind]) {
            if (!in_array($kind, $accepts, true)) {
                $out[$label] = $f;
            }
        }
        return $out;
    }

    // ---- slots ----------------------------------------------------------------------

    /** A UTF-8 string parameter/field (`string` in the stub). */
    private static function text(string ...$lists): array
    {
        $h = self::wrong(['string']);
        foreach ($lists ?: ['strings'] as $l) {
            $h += self::cat($l, rtrim($l, 's'));
        }
        return ['hostile' => $h];
    }

    private static function optText(string ...$lists): array
    {
        $s = self::text(...$lists);
        unset($s['hostile']['null']);
        return $s + ['optional' => true];
    }

    /** A byte-string parameter (key material, sealed blob): any bytes are a string. */
    private static function bytes(): array
    {
        $h = self::wrong(['string', 'binary']);
        foreach (self::cat('strings', 'string') as $l => $f) {
            if (preg_match('/empty|nul|1 MiB|big/', $l)) {
                $h[$l] = $f;
            }
        }
        $h['15 bytes'] = fn () => str_repeat('k', 15);
        return ['hostile' => $h];
    }

    /** An optional byte-string parameter (a seal key): null means none. */
    private static function optBytes(): array
    {
        $s = self::bytes();
        unset($s['hostile']['null']);
        return $s + ['optional' => true];
    }

    private static function time(bool $optional = true): array
    {
        return ['hostile' => self::wrong($optional ? ['null', 'int'] : ['int']) + self::cat('times', 'time'), 'optional' => $optional];
    }

    private static function callable(bool $optional = false, array $extra = []): array
    {
        $h = self::wrong($optional ? ['null', 'callable'] : ['callable']);
        $h['non-callable string'] = fn () => 'no_such_function_anywhere';
        $h['array callable to nothing'] = fn () => [new \stdClass(), 'nope'];
        $h['private method callable'] = fn () => [new class () {
            private function secret(): void
            {
            }
        }, 'secret'];
        return ['hostile' => $h + $extra];
    }

    private static function headers(): array
    {
        $h = self::wrong(['null', 'array']);
        foreach (self::cat('header_names', 'header name') as $l => $f) {
            $h[$l] = fn () => [$f() => 'v'];
        }
        foreach (self::cat('header_values', 'header value') as $l => $f) {
            $h[$l] = fn () => ['x-a' => $f()];
        }
        $h += self::cat('header_lists', 'header list');
        $h['int name'] = fn () => [5 => 'v'];
        $h['invalid utf-8 name'] = fn () => ["x-\xff" => 'v'];
        $h['invalid utf-8 value'] = fn () => ['x-a' => "\xff"];
        $h['int value'] = fn () => ['x-a' => 5];
        $h['float value'] = fn () => ['x-a' => NAN];
        $h['null value'] = fn () => ['x-a' => null];
        $h['object value'] = fn () => ['x-a' => new \stdClass()];
        $h['Stringable value'] = fn () => ['x-a' => self::phpValues()['Stringable'][0]()];
        $h['resource value'] = fn () => ['x-a' => fopen('php://memory', 'r')];
        $h['nested list value'] = fn () => ['x-a' => [['b']]];
        $h['list with int'] = fn () => ['x-a' => ['b', 5]];
        $h['100k-entry list value'] = fn () => ['x-a' => array_fill(0, self::size('many'), 'v')];
        $h['reference value'] = function () {
            $v = 'a';
            return ['x-a' => &$v];
        };
        return ['hostile' => $h, 'optional' => true];
    }

    private static function body(): array
    {
        $h = self::wrong(['null', 'string', 'binary']);
        $h['big body'] = fn () => str_repeat('b', self::size('big'));
        $h['1 MiB + 1 body'] = fn () => str_repeat('b', self::size('mib_plus_one'));
        return ['hostile' => $h, 'optional' => true];
    }

    private static function status(): array
    {
        return ['hostile' => self::wrong(['int']) + self::cat('times', 'time') + ['65536' => fn () => 65536]];
    }

    /** A `key => string` array (event variables, metadata); `$nulls`: null values mean "delete". */
    private static function stringMap(bool $optional, bool $nulls = false): array
    {
        $h = self::wrong($optional ? ['null', 'array'] : ['array']);
        $h['int value'] = fn () => ['a' => 5];
        $h['nested array value'] = fn () => ['a' => ['b']];
        $h['object value'] = fn () => ['a' => new \stdClass()];
        $h['invalid utf-8 key'] = fn () => ["\xff" => 'v'];
        $h['invalid utf-8 value'] = fn () => ['a' => "\xff"];
        $h['bad key'] = fn () => ['A B' => 'v'];
        $h['100k entries'] = fn () => array_fill(0, self::size('many'), 'v');
        $h['big value'] = fn () => ['a' => str_repeat('v', self::size('big'))];
        if (!$nulls) {
            $h['null value'] = fn () => ['a' => null];
        }
        return ['hostile' => $h] + ($optional ? ['optional' => true] : []);
    }

    /** A Timeline Event array. */
    private static function event(): array
    {
        return self::arr([
            'source_id' => self::text(),
            'template_id' => self::text(),
            'contact_id' => self::optText(),
            'site_id' => self::optText(),
            'description' => self::optText(),
            'external_url' => self::optText('strings', 'urls'),
            'variables' => self::stringMap(true),
        ]);
    }

    private const EVENT = ['source_id' => 'src_1', 'template_id' => 'tpl_1', 'contact_id' => 'con_1', 'site_id' => 'sit_1', 'description' => 'd', 'external_url' => 'https://shop.example/x', 'variables' => ['unit' => 'A-12']];

    /** An array parameter with typed fields. */
    private static function arr(array $fields, bool $optional = false): array
    {
        return ['fields' => $fields, 'optional' => $optional];
    }

    // ---- fixtures ------------------------------------------------------------------------

    private static function state(string $name): Companion
    {
        return Companion::importState(self::$fx[$name]);
    }

    private static function okTransport(): \Closure
    {
        return fn (array $r) => ['status' => 204, 'headers' => [], 'body' => ''];
    }

    /** A push the broker signed for the connected fixture at 1700000000 (docs/PROTOCOL.md §14.4): [headers, body]. */
    private static function push(): array
    {
        $body = '{"events":[{"id":"evt_1","type":"order.updated","api_version":"2025-09","created_at":1700000000,"data":{"a":[1,"b"]}}]}';
        $key = (string) base64_decode(strtr(self::$fx['secret'], '-_', '+/'));
        $mac = hash_hmac('sha256', "tessera-push-v1\n" . self::$fx['install_id'] . "\n1700000000\n" . $body, $key);
        return [['Tessera-Push-Signature' => "t=1700000000,v1=$mac"], $body];
    }

    /** `verifyPush()`'s headers: an array the caller must give (null too is wrong), with the request headers' hostile entries. */
    private static function pushHeaders(): array
    {
        return ['hostile' => ['null' => fn () => null] + self::headers()['hostile']];
    }

    /** The broker's answer to a pull of events: one event, cursor 42. */
    private static function eventsTransport(): \Closure
    {
        $page = '{"events":[{"id":"evt_1","type":"order.updated","api_version":"2025-09","created_at":1700000000,"data":{"a":[1,"b"]}}],"cursor":"42","has_more":false}';
        return fn (array $r) => ['status' => 200, 'headers' => ['Content-Type' => 'application/json'], 'body' => $page];
    }

    /** The broker's answer to the connect completion. */
    private static function connectTransport(string $token = 'btk_x'): \Closure
    {
        return fn (array $r) => ['status' => 200, 'headers' => ['Content-Type' => 'application/json'], 'body' => json_encode(['broker_token' => $token, 'account' => ACCOUNT])];
    }

    private static function signed(): array
    {
        return self::state('connected')->signRequest(['method' => 'POST', 'path' => '/api/x', 'body' => '{}'], 1700000000);
    }

    /**
     * Every public method: `receiver` (a fresh object, or null for statics),
     * `args` (the baseline, which must succeed), `slots` (one per parameter).
     *
     * @return array<string, array>
     */
    private static function spec(): array
    {
        $fx = self::$fx;
        $now = 1700000000;
        $secret = $fx['secret'];
        $driver = [self::callable(), self::callable(true), self::callable(true)];
        $request = self::arr(['method' => self::text(), 'path' => self::text('strings', 'urls'), 'headers' => self::headers(), 'body' => self::body()]);
        $response = self::arr(['status' => self::status(), 'headers' => self::headers(), 'body' => self::body()]);
        $broker = self::arr(['method' => self::text(), 'url' => self::text('strings', 'urls'), 'headers' => self::headers(), 'body' => self::body()]);
        $secretFor = self::callable(false);
        return [
            'Tessera\Companion::__construct' => ['receiver' => null, 'new' => true, 'args' => fn () => [], 'slots' => [], 'always_throws' => 'not constructible with new (stub)'],
            'Tessera\Companion::create' => [
                'args' => fn () => [['broker_url' => BROKER, 'routes' => ['connect' => '/c', 'connect_complete' => '/c/done'], 'retry' => ['max_attempts' => 2]], '0123456789abcdef-hostile'],
                'slots' => [self::arr([
                    'broker_url' => self::text('strings', 'urls'),
                    'routes' => self::arr(['installations' => self::optText(), 'connect' => self::optText('strings', 'urls'), 'disconnect' => self::optText(), 'connect_complete' => self::optText()], true),
                    'retry' => self::arr(['max_attempts' => self::time(), 'base_delay_ms' => self::time(), 'max_delay_ms' => self::time(), 'max_total_delay_ms' => self::time(), 'max_retry_after_ms' => self::time()], true),
                ]), self::optBytes()],
            ],
            'Tessera\Companion::importState' => [
                'args' => fn () => [$fx['connected'], '0123456789abcdef-hostile'],
                'slots' => [['hostile' => self::text()['hostile'] + [
                    'truncated state' => fn () => substr($fx['connected'], 0, intdiv(strlen($fx['connected']), 2)),
                    'state with clock offset i64 max' => fn () => preg_replace('/"clock_offset":-?\d+/', '"clock_offset":9223372036854775807', $fx['connected']),
                    'state with retry u64 max' => fn () => preg_replace('/"base_delay_ms":\d+/', '"base_delay_ms":18446744073709551615', $fx['connected']),
                ]], self::optBytes()],
            ],
            'Tessera\Companion::openState' => ['args' => fn () => [$fx['sealed'], '0123456789abcdef-hostile'], 'slots' => [self::bytes(), self::bytes()]],
            'Tessera\Companion::exportState' => ['receiver' => 'connected', 'args' => fn () => [], 'slots' => []],
            'Tessera\Companion::status' => ['receiver' => 'connected', 'args' => fn () => [], 'slots' => []],
            'Tessera\Companion::installId' => ['receiver' => 'connected', 'args' => fn () => [], 'slots' => []],
            'Tessera\Companion::siteUrl' => ['receiver' => 'connected', 'args' => fn () => [], 'slots' => []],
            'Tessera\Companion::reconnectReason' => ['receiver' => 'connected', 'args' => fn () => [], 'slots' => []],
            'Tessera\Companion::clockOffset' => ['receiver' => 'connected', 'args' => fn () => [], 'slots' => []],
            'Tessera\Companion::registrationRequest' => [
                'receiver' => 'fresh',
                'args' => fn () => [['site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1.0.0']],
                'slots' => [self::arr(['site_url' => self::text('strings', 'urls'), 'admin_email' => self::text(), 'platform' => self::text(), 'plugin_version' => self::text()])],
            ],
            'Tessera\Companion::register' => [
                'receiver' => 'fresh',
                'args' => fn () => [['site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1.0.0'], fn ($r) => ['status' => 201, 'headers' => [], 'body' => '{}'], fn ($ms) => null, fn ($j) => null, fn ($p) => true],
                'slots' => [self::arr(['site_url' => self::text('strings', 'urls'), 'admin_email' => self::text(), 'platform' => self::text(), 'plugin_version' => self::text()]), ...$driver, self::callable(true)],
                'transport' => 1,
            ],
            'Tessera\Companion::handleRegistrationResponse' => [
                'receiver' => 'pending registration',
                'args' => fn () => [['status' => 202, 'headers' => ['Date' => 'Tue, 14 Nov 2023 22:13:20 GMT'], 'body' => '{"challenge":"challenge-0123456789abcdef"}']],
                'slots' => [$response],
            ],
            'Tessera\Companion::ownershipProof' => ['receiver' => 'awaiting', 'args' => fn () => [], 'slots' => []],
            'Tessera\Companion::connectUrl' => [
                'receiver' => 'registered',
                'args' => fn () => [SITE . '/wp-admin/?page=x', 'units:read', $now],
                'slots' => [self::text('strings', 'urls'), self::optText(), self::time()],
            ],
            'Tessera\Companion::completeConnect' => [
                'receiver' => 'pending',
                'args' => fn () => [SITE . '/wp-admin/?page=x&state=hostile-state-0123456789&code=' . CONNECT_CODE, self::connectTransport(), fn ($ms) => null, fn ($j) => null],
                'slots' => [self::text('strings', 'urls'), ...$driver],
                'transport' => 1,
            ],
            'Tessera\Companion::account' => ['receiver' => 'connected', 'args' => fn () => [], 'slots' => []],
            'Tessera\Companion::signRequest' => [
                'receiver' => 'connected',
                'args' => fn () => [['method' => 'POST', 'path' => '/api/x?a=1', 'headers' => ['X-A' => ['b', 'c']], 'body' => '{}'], $now, 'n0nce', 'key'],
                'slots' => [$request, self::time(), self::optText(), self::optText()],
            ],
            'Tessera\Companion::classify' => [
                'args' => fn () => [['status' => 429, 'headers' => ['Retry-After' => '3'], 'body' => ''], $now],
                'slots' => [$response, self::time()],
            ],
            'Tessera\Companion::call' => [
                'receiver' => 'connected',
                'args' => fn () => [['method' => 'POST', 'path' => '/api/x', 'body' => '{}'], fn ($r) => ['status' => 200, 'headers' => [], 'body' => 'ok'], fn ($ms) => null, fn ($j) => null],
                'slots' => [$request, ...$driver],
                'transport' => 1,
            ],
            'Tessera\Companion::callAndRecord' => [
                'receiver' => 'connected',
                'args' => fn () => [['method' => 'POST', 'path' => '/api/x', 'body' => '{}'], self::EVENT, fn ($r) => ['status' => 201, 'headers' => [], 'body' => 'ok'], fn ($ms) => null, fn ($j) => null],
                'slots' => [$request, self::event(), ...$driver],
                'transport' => 2,
            ],
            'Tessera\Companion::pullEvents' => [
                'receiver' => 'connected',
                'args' => fn () => [self::eventsTransport(), fn ($ms) => null, fn ($j) => null, 50],
                'slots' => [...$driver, self::time()],
                'transport' => 0,
            ],
            'Tessera\Companion::acknowledgeEvents' => ['receiver' => 'connected', 'args' => fn () => ['42', fn ($j) => null], 'slots' => [self::text(), self::callable(true)]],
            'Tessera\Companion::eventsCursor' => ['receiver' => 'connected', 'args' => fn () => [], 'slots' => []],
            'Tessera\Companion::verifyPush' => ['receiver' => 'connected', 'args' => fn () => [...self::push(), $now], 'slots' => [self::pushHeaders(), self::bytes(), self::time()]],
            'Tessera\Companion::pushRegistrationRequest' => ['receiver' => 'connected', 'args' => fn () => [SITE . '/wp-json/my-plugin/v1/events'], 'slots' => [self::optText('strings', 'urls')]],
            'Tessera\Companion::setRefreshLock' => ['receiver' => 'connected', 'args' => fn () => [fn ($n) => null, fn ($n) => null], 'slots' => [self::callable(), self::callable()]],
            'Tessera\Companion::timelineEventRequest' => ['args' => fn () => [self::EVENT, 'order-7'], 'slots' => [self::event(), self::text()]],
            'Tessera\Companion::validateMetadata' => ['args' => fn () => [['plan' => 'gold']], 'slots' => [self::stringMap(false)]],
            'Tessera\Companion::metadataPatch' => ['args' => fn () => [['plan' => null, 'tier' => '2'], ['plan' => 'gold']], 'slots' => [self::stringMap(false, true), self::stringMap(true)]],
            'Tessera\Companion::disconnect' => ['receiver' => 'connected', 'args' => fn () => [self::okTransport(), fn ($ms) => null, fn ($j) => null], 'slots' => $driver, 'transport' => 0],
            'Tessera\Companion::revokePrevious' => ['receiver' => 'connected', 'args' => fn () => ['ins_cHJldmlvdXMtaW5zdGFsbA', self::okTransport(), fn ($ms) => null, fn ($j) => null], 'slots' => [self::text(), ...$driver], 'transport' => 1],
            'Tessera\Companion::uninstall' => ['receiver' => 'connected', 'args' => fn () => [self::okTransport(), fn ($ms) => null, fn ($j) => null], 'slots' => $driver, 'transport' => 0],
            'Tessera\Companion::reset' => [
                'receiver' => 'connected',
                'args' => fn () => [['site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1.0.0'], fn ($r) => ['status' => 201, 'headers' => [], 'body' => '{}'], fn ($ms) => null, fn ($j) => null, fn ($p) => true],
                'slots' => [self::arr(['site_url' => self::text('strings', 'urls'), 'admin_email' => self::text(), 'platform' => self::text(), 'plugin_version' => self::text()]), ...$driver, self::callable(true)],
                'transport' => 1,
            ],
            'Tessera\Companion::siteMoved' => ['receiver' => 'mismatch', 'args' => fn () => [fn ($r) => ['status' => 200], fn ($ms) => null, fn ($j) => null, fn ($p) => true], 'slots' => [...$driver, self::callable(true)], 'transport' => 0],
            'Tessera\Companion::checkSite' => ['receiver' => 'connected', 'args' => fn () => [SITE], 'slots' => [self::text('strings', 'urls')]],
            'Tessera\Companion::resolveSiteAsCopy' => ['receiver' => 'mismatch', 'args' => fn () => [], 'slots' => []],
            'Tessera\Companion::uninstallUrl' => ['receiver' => 'connected', 'args' => fn () => [$now], 'slots' => [self::time()]],
            'Tessera\Companion::sealState' => ['receiver' => 'connected', 'args' => fn () => ['0123456789abcdef-hostile'], 'slots' => [self::bytes()]],
            'Tessera\Http\Psr18Transport::__construct' => ['new' => true, 'args' => fn () => self::psr18Parts(), 'slots' => [['hostile' => self::wrong([])], ['hostile' => self::wrong([])], ['hostile' => self::wrong([])]]],
            'Tessera\Http\Psr18Transport::__invoke' => [
                'receiver' => 'psr18',
                'args' => fn () => [['method' => 'POST', 'url' => BROKER . '/api/x', 'headers' => ['content-type' => 'application/json'], 'body' => '{}']],
                'slots' => [$broker],
            ],
            'Tessera\Http\WordPressTransport::__construct' => ['new' => true, 'args' => fn () => [15], 'slots' => [self::time()]],
            'Tessera\Http\WordPressTransport::__invoke' => [
                'receiver' => 'wordpress',
                'args' => fn () => [['method' => 'GET', 'url' => BROKER . '/api/x', 'headers' => [], 'body' => '']],
                'slots' => [$broker],
                'always_throws' => 'outside WordPress: InvalidStateException',
            ],
            'Tessera\Verifier::__construct' => ['new' => true, 'args' => fn () => [300, 10], 'slots' => [self::time(), self::time()]],
            'Tessera\Verifier::verify' => [
                'receiver' => 'verifier',
                'args' => fn () => [self::signed(), fn ($id) => $secret, fn ($k, $e, $n) => true, $now],
                'slots' => [$broker, $secretFor, self::callable(true), self::time()],
            ],
            'Tessera\Verifier::verifyConnectUrl' => [
                'args' => fn () => [self::state('registered')->connectUrl(SITE . '/cb', null, $now), fn ($id) => $secret, $now],
                'slots' => [self::text('strings', 'urls'), $secretFor, self::time()],
            ],
            'Tessera\Verifier::verifyUninstallTicket' => [
                'args' => fn () => [$fx['install_id'], self::state('registered')->uninstallUrl($now), fn ($id) => $secret, 60, $now],
                'slots' => [self::text(), self::text('strings', 'urls'), $secretFor, self::time(), self::time()],
            ],
            'Tessera\Verifier::hmacSignGeneric' => [
                'args' => fn () => [['method' => 'POST', 'url' => 'https://example.com/foo?param=Value&Pet=dog', 'headers' => ['Date' => 'x'], 'body' => '{}'], 'sig-b25=("date" "@authority");created=1618884473;keyid="test-shared-secret"', 'key'],
                'slots' => [$broker, self::text(), self::bytes()],
            ],
            'Tessera\Verifier::verifyOwnershipProof' => [
                'args' => fn () => [$fx['awaiting_secret'], $fx['awaiting_id'], 'challenge-0123456789abcdef', $fx['proof']],
                'slots' => [self::text(), self::text(), self::text(), self::text()],
            ],
        ];
    }

    /** Members that take no input of their own (besides the extra-argument check). */
    private const EXEMPT_FUNCTIONS = [
        'tessera\testing\panic' => 'test-only hook of tessera-test.so (not in the shipped build)',
        'tessera\testing\useseededentropy' => 'test-only hook of tessera-test.so (not in the shipped build)',
        'tessera\testing\useclock' => 'test-only hook of tessera-test.so (not in the shipped build)',
        'tessera\testing\connecturl' => 'test-only hook of tessera-test.so (not in the shipped build)',
        'tessera\testing\macchecks' => 'test-only hook of tessera-test.so (not in the shipped build)',
    ];

    /**
     * Hostile calls that may succeed: [member regex, path regex, label regex, reason].
     *
     * @return list<array{string, string, string, string}>
     */
    private static function accepted(): array
    {
        return [
            ['/./', '/./', '/^(null|missing optional)$/', 'optional: null or a missing key means the default'],
            ['/^Tessera\\\\Http\\\\Psr18Transport::__invoke$/', '/^0\\.(method|url|headers|body|\xff)$/', '/./', 'a transport sends what it is given (the core builds every request): it checks types, the PSR-7 implementation refuses what it cannot represent'],
            ['/^Tessera\\\\Http\\\\WordPressTransport::__construct$/', '/^0$/', '/^time (2\\^53|.*max.*)$/', 'any whole number of seconds ≥ 1 is a timeout'],
            ['/::create$/', '/^0\.(routes|retry)$/', '/^(empty array|missing)$/', 'routes and retry are optional: an empty or missing array means the defaults'],
            ['/::create$/', '/^0\.retry\.base_delay_ms$/', '/^time 2\^53$/', 'the base delay is capped by max_delay_ms (core)'],
            ['/::create$/', '/^0\.routes\.connect$/', '/^url scheme-relative$/', 'joined below the broker URL like a path (https://broker.example//broker.example/x)'],
            ['/::importState$/', '/^0$/', '/^state with (clock offset i64 max|retry u64 max)$/', 'the core accepts these stored values (its i64 arithmetic on them: see the report)'],
            ['/::(registrationRequest|register|reset|checkSite)$/', '/site_url$|^0$/', '/^url (plain http|hex ip)$/', 'a site may be plain http; the core normalises the host'],
            ['/::(registrationRequest|register|reset)$/', '/\.platform$/', '/^string word null$/', '`null` is a valid platform name ([a-z0-9._-]{1,32})'],
            ['/./', '/(^|\.)(\d|now)$/', '/^time 2\^53$/', 'an int: any whole second is a time (and any capacity/window the host asks for)'],
            ['/::(handleRegistrationResponse|classify)$/', '/\.headers$/', '/^(header (name|value) .*|header list .*|int name|100k-entry list value|reference value)$/', 'a response\'s headers are whatever the broker sent; the core reads only the ones it knows'],
            ['/::(signRequest|call|callAndRecord|verify|hmacSignGeneric)$/', '/\.headers$/', '/^(int name|reference value)$/', 'an integer key is the header name "5" (a valid token); references are read through'],
            ['/::(callAndRecord|timelineEventRequest)$/', '/^(0|1)\.\xff$/', '/^invalid utf-8 key$/', 'keys of an event array other than its documented members are ignored'],
            ['/::(handleRegistrationResponse|classify|signRequest|call|callAndRecord|verify|hmacSignGeneric)$/', '/^0\.\xff$/', '/^invalid utf-8 key$/', 'keys of a request/response array other than method/path/url/status/headers/body are ignored (a wp_remote_request array carries more)'],
            ['/::(classify|hmacSignGeneric)$/', '/\.body$/', '/^(big body|1 MiB \+ 1 body)$/', 'bodies are bytes of any size (classify reads a bounded prefix; the generic signer has no limit)'],
            ['/::hmacSignGeneric$/', '/^2$/', '/^(string (empty|nul|embedded nul|percent nul|word null|1 MiB|1 MiB \+ 1 of 2-byte|big)|15 bytes)$/', 'the low-level generic signer takes any HMAC key (RFC 2104: any length)'],
            ['/::hmacSignGeneric$/', '/\.url$/', '/^url (plain http|hex ip)$/', 'the generic signer signs any absolute http(s) URL'],
            ['/::(sealState|openState)$/', '/^(0|1)$/', '/^string (1 MiB|1 MiB \+ 1 of 2-byte|big)$/', 'key material of any length ≥ 16 bytes (HKDF input)'],
            ['/::(create|importState)$/', '/^1$/', '/^string (1 MiB|1 MiB \+ 1 of 2-byte|big)$/', 'a seal key: key material of any length ≥ 16 bytes (HKDF input)'],
            ['/::connectUrl$/', '/^1$/', '/./', 'scope is free text (1-256 visible ASCII) the core percent-encodes'],
            ['/::connectUrl$/', '/^0$/', '/^url (plain http|file|userinfo|port out of range|negative port|open ipv6|bad escape|backslash authority|dot segments|hex ip|long host label)$/', 'the core checks only that a return URL is absolute visible ASCII without a fragment; which return URLs to redirect to is the broker\'s decision (see the report)'],
            ['/::(callAndRecord|timelineEventRequest)$/', '/\.(source_id|template_id|contact_id|site_id)$/', '/^string (percent .*|bad percent escape|format string|path traversal|word null|json (truncated|trailing garbage|nan literal|lone surrogate escape|huge number|proto key))$/', 'ids are any 1-100 visible ASCII characters (Stora\'s ids are opaque); the core JSON-encodes them'],
            ['/::(callAndRecord|timelineEventRequest)$/', '/\.description$/', '/^string (?!deep|just over|1 MiB|big)/', 'the description is free text of at most 1000 characters the core JSON-encodes'],
            ['/::timelineEventRequest$/', '/^1$/', '/^string word null$/', '`null` is a valid external id ([A-Za-z0-9._~-]{1,124})'],
            ['/::(signRequest|call|callAndRecord|hmacSignGeneric)$/', '/\.method$/', '/^string word null$/', '`null` is a valid method token'],
            ['/::(signRequest|call|callAndRecord)$/', '/\.path$/', '/^url scheme-relative$/', 'joined below the broker URL (https://broker.example//broker.example/x): it cannot leave the broker'],
            ['/::signRequest$/', '/^(2|3)$/', '/^string word null$/', '`null` is a valid nonce / idempotency-key token'],
            ['/::revokePrevious$/', '/^0$/', '/^string word null$/', '`null` is a valid install id token ([A-Za-z0-9._~-]): the broker answers whether it exists'],
            ['/::(call|callAndRecord|disconnect|uninstall|siteMoved|register|reset|completeConnect|revokePrevious|pullEvents|acknowledgeEvents)$/', '/^(2|3|4)$|^(1|2)$/', '/^function-name string$/', '"strlen" is a callable: as sleep/persist it is called and its result ignored (as serveProof it is not called: no challenge)'],
            ['/::setRefreshLock$/', '/^(0|1)$/', '/^function-name string$/', '"strlen" is a callable: kept as the lock (a broker-mode companion never calls it)'],
            ['/^callbacks$/', '/^result$/', '/^serveProof returns /', 'anything but false means served (checked: registered after a second send)'],
            ['/::(registrationRequest|register|reset)$/', '/\.plugin_version$/', '/^string (percent .*|bad percent escape|format string|path traversal|word null|json .*)$/', 'the plugin version is free text the core JSON-encodes'],
            ['/./', '/(^|\.)(\d|now)$|\.(max_attempts|\w+_ms)$/', '/^(zero|time negative|time very negative|minus one|PHP_INT_(MIN|MAX)|time i64 (min|max))$/', 'any int is a time for the binding; the core decides (see the time notes in the report)'],
        ];
    }

    // ---- running ---------------------------------------------------------------------------

    private static function receiver(?string $name): ?object
    {
        return match ($name) {
            null => null,
            'psr18' => new Psr18Transport(...self::psr18Parts()),
            'wordpress' => new WordPressTransport(),
            'fresh' => Companion::create(['broker_url' => BROKER]),
            'pending registration' => (function () {
                $c = Companion::create(['broker_url' => BROKER]);
                $c->registrationRequest(['site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1']);
                return $c;
            })(),
            'verifier' => new Verifier(null, 100),
            default => self::state($name),
        };
    }

    /** A PSR-18 client answering every request 200, and Guzzle's PSR-17 factory twice. */
    private static function psr18Parts(): array
    {
        $factory = new \GuzzleHttp\Psr7\HttpFactory();
        $client = new class () implements \Psr\Http\Client\ClientInterface {
            public function sendRequest(\Psr\Http\Message\RequestInterface $request): \Psr\Http\Message\ResponseInterface
            {
                return new \GuzzleHttp\Psr7\Response(200, ['x-a' => 'b'], 'ok');
            }
        };
        return [$client, $factory, $factory];
    }

    private static function invoke(string $member, array $spec, mixed $receiver, array $args): array
    {
        [$class, $method] = explode('::', $member);
        try {
            if (!empty($spec['new'])) {
                $value = new $class(...$args);
            } elseif ($receiver === null) {
                $value = $class::$method(...$args);
            } else {
                $value = $receiver->$method(...$args);
            }
            return ['ok' => true, 'value' => $value];
        } catch (\Throwable $e) {
            return ['ok' => false, 'error' => $e];
        }
    }

    private static function outcome(string $member, string $path, string $label, array $r, bool $callerThrows = false): void
    {
        self::$counts['calls']++;
        $where = "$member $path <- $label";
        if ($r['ok']) {
            foreach (self::accepted() as [$m, $p, $l, $reason]) {
                if (preg_match($m, $member) && preg_match($p, $path) && preg_match($l, $label)) {
                    self::$counts['accepted']++;
                    return;
                }
            }
            self::$failures[] = "$where: accepted";
            return;
        }
        $e = $r['error'];
        if ($e instanceof TesseraException) {
            if ($e->getErrorCode() === 'internal') {
                self::$failures[] = "$where: internal error: {$e->getMessage()}";
            } else {
                self::$counts['refused']++;
            }
            return;
        }
        if ($callerThrows && $e === self::$sentinel) {
            self::$counts['propagated']++;
            return;
        }
        // "strlen" passed as a callable: PHP's own error from calling it with the wrong arguments propagates.
        if ($label === 'function-name string' && ($e instanceof \TypeError || $e instanceof \ArgumentCountError) && str_starts_with($e->getMessage(), 'strlen()')) {
            self::$counts['propagated']++;
            return;
        }
        self::$failures[] = "$where: threw " . get_class($e) . ': ' . substr($e->getMessage(), 0, 160);
    }

    /** The extension still works, and so does the receiver. */
    private function sanity(mixed $receiver): void
    {
        $c = self::state('connected');
        $signed = $c->signRequest(['method' => 'GET', 'path' => '/api/sanity'], 1700000000);
        $v = (new Verifier())->verify($signed, fn ($id) => self::$fx['secret'], fn ($k, $e, $n) => true, 1700000000);
        $this->assertSame(self::$fx['install_id'], $v['install_id']);
        if ($receiver instanceof Companion) {
            $this->assertIsString($receiver->status());
            $this->assertIsString($receiver->exportState());
        }
    }

    /** Sets $value at "1.retry.max_attempts" in the argument list. */
    private static function withValue(array $args, string $path, mixed $value, bool $unset = false): array
    {
        $parts = explode('.', $path);
        $ref = &$args;
        $last = array_pop($parts);
        foreach ($parts as $p) {
            if (!is_array($ref[$p] ?? null)) {
                $ref[$p] = [];
            }
            $ref = &$ref[$p];
        }
        if ($unset) {
            unset($ref[$last]);
        } else {
            $ref[$last] = $value;
        }
        unset($ref);
        return $args;
    }

    /** @return list<array{string, string, \Closure|string}> [path, label, factory or "MISSING"] */
    private static function hostileCalls(array $spec): array
    {
        $out = [];
        $walk = function (array $slot, string $path) use (&$walk, &$out): void {
            if (isset($slot['fields'])) {
                foreach (self::wrong($slot['optional'] ? ['null', 'array'] : ['array']) as $label => $f) {
                    $out[] = [$path, (string) $label, $f];
                }
                $out[] = [$path, 'list instead of map', fn () => array_values(['GET', '/x', BROKER])];
                foreach ($slot['fields'] as $name => $field) {
                    $out[] = ["$path.$name", empty($field['optional']) ? 'missing' : 'missing optional', 'MISSING'];
                    $walk($field, "$path.$name");
                }
                $out[] = ["$path.\xff", 'invalid utf-8 key', 'v'];
                return;
            }
            foreach ($slot['hostile'] as $label => $f) {
                $out[] = [$path, (string) $label, $f];
            }
        };
        foreach ($spec['slots'] as $i => $slot) {
            $walk($slot, (string) $i);
        }
        return $out;
    }

    // ---- tests -------------------------------------------------------------------------------

    /**
     * Every public method and function of the implementation under test, by
     * reflection, under its API name: the extension's internal `Tessera\…`
     * classes, or the pure-PHP `Tessera\Pure\…` classes (not `Internal\`)
     * that `Tessera\…` aliases, without their magic methods (the
     * extension refuses cloning and serialisation in object handlers).
     */
    private static function members(): array
    {
        $pure = impl() === IMPL_PURE;
        $prefix = $pure ? 'Tessera\\Pure\\' : 'Tessera\\';
        $apiName = fn (string $class): string => $pure ? 'Tessera\\' . substr($class, strlen($prefix)) : $class;
        $members = [];
        foreach (get_declared_classes() as $class) {
            if (!str_starts_with($class, $prefix) || ($pure && str_starts_with($class, 'Tessera\\Pure\\Internal\\'))) {
                continue;
            }
            $rc = new \ReflectionClass($class);
            if ($rc->isInternal() === $pure) {
                continue;
            }
            foreach ($rc->getMethods(\ReflectionMethod::IS_PUBLIC) as $m) {
                if ($pure && in_array($m->getName(), PURE_MAGIC_METHODS, true)) {
                    continue;
                }
                if (str_starts_with($m->getDeclaringClass()->getName(), $prefix)) {
                    $members[$apiName($m->getDeclaringClass()->getName()) . '::' . $m->getName()] = $m;
                }
            }
        }
        foreach (get_defined_functions()['internal'] as $f) {
            if (str_starts_with($f, 'tessera\\')) {
                $members[$f] = new \ReflectionFunction($f);
            }
        }
        ksort($members);
        return $members;
    }

    public function testEveryPublicMethodHasASpec(): void
    {
        $spec = self::spec();
        $exceptionGetters = 0;
        foreach (self::members() as $name => $m) {
            if (isset(self::EXEMPT_FUNCTIONS[$name]) || isset($spec[$name])) {
                continue;
            }
            // The exception getters take no input: checked by the extra-argument test.
            if (str_starts_with($name, 'Tessera\Exception\\') && $m->getNumberOfParameters() === 0) {
                $exceptionGetters++;
                continue;
            }
            $this->fail("$name has no hostile-input spec in HostileInputTest::spec()");
        }
        foreach (array_keys($spec) as $name) {
            $this->assertArrayHasKey($name, self::members(), "spec for a method that does not exist: $name");
        }
        $this->assertGreaterThanOrEqual(9, $exceptionGetters);
        $this->assertGreaterThanOrEqual(30, count($spec));
    }

    public function testEveryBaselineCallSucceeds(): void
    {
        foreach (self::spec() as $member => $spec) {
            $r = self::invoke($member, $spec, self::receiver($spec['receiver'] ?? null), ($spec['args'])());
            if (isset($spec['always_throws'])) {
                $this->assertFalse($r['ok'], $member);
                continue;
            }
            $this->assertTrue($r['ok'], "$member baseline failed: " . ($r['ok'] ? '' : get_class($r['error']) . ' ' . $r['error']->getMessage()));
        }
    }

    public function testHostileValuesInEveryParameterAndField(): void
    {
        self::$failures = [];
        foreach (self::spec() as $member => $spec) {
            foreach (self::hostileCalls($spec) as [$path, $label, $factory]) {
                $receiver = self::receiver($spec['receiver'] ?? null);
                $args = ($spec['args'])();
                if ($factory === 'MISSING') {
                    $args = self::withValue($args, $path, null, true);
                } elseif ($label === 'invalid utf-8 key') {
                    $args = self::withValue($args, $path, $factory);
                } else {
                    $args = self::withValue($args, $path, $factory());
                }
                $r = self::invoke($member, $spec, $receiver, $args);
                self::outcome($member, $path, $label, $r, str_contains($label, 'throwing'));
                $this->sanity($receiver);
            }
        }
        $this->assertNoFailures();
    }

    public function testArgumentCountsAndNamesAreEngineErrors(): void
    {
        self::$failures = [];
        foreach (self::members() as $name => $m) {
            if (isset(self::EXEMPT_FUNCTIONS[$name])) {
                continue;
            }
            $spec = self::spec()[$name] ?? ['receiver' => null, 'args' => fn () => []];
            [$class, $method] = explode('::', $name) + [1 => null];
            $target = match (true) {
                $m->isStatic() || $method === '__construct' => null,
                str_starts_with($name, 'Tessera\Exception\\') => new $class('x'),
                default => self::receiver($spec['receiver'] ?? null),
            };
            $args = ($spec['args'])();
            $calls = [
                'one argument too many' => [...array_pad($args, $m->getNumberOfParameters(), null), 'extra'],
                'unknown named argument' => [...$args, 'noSuchParameter' => 1],
            ];
            if ($m->getNumberOfRequiredParameters() > 0) {
                $calls['one argument too few'] = array_slice($args, 0, $m->getNumberOfRequiredParameters() - 1);
            }
            foreach ($calls as $label => $callArgs) {
                try {
                    if ($method === '__construct') {
                        new $class(...$callArgs);
                    } elseif ($m->isStatic()) {
                        $class::$method(...$callArgs);
                    } else {
                        $target->$method(...$callArgs);
                    }
                    self::$failures[] = "$name <- $label: accepted";
                } catch (\ArgumentCountError $e) {
                    self::$counts['engine']++;
                } catch (\Error $e) {
                    if ($label === 'unknown named argument' && str_contains($e->getMessage(), 'Unknown named parameter')) {
                        self::$counts['engine']++;
                    } else {
                        self::$failures[] = "$name <- $label: " . get_class($e) . ' ' . $e->getMessage();
                    }
                }
                self::$counts['calls']++;
            }
        }
        $this->sanity(null);
        $this->assertNoFailures();
    }

    public function testHostileCallableResults(): void
    {
        self::$failures = [];
        $s = self::$sentinel;
        $big = str_repeat('b', self::size('big'));
        $results = [
            'transport returns null' => fn ($r) => null,
            'transport returns int' => fn ($r) => 200,
            'transport returns string' => fn ($r) => '200 OK',
            'transport returns object' => fn ($r) => (object) ['status' => 200],
            'transport returns empty array' => fn ($r) => [],
            'transport status string' => fn ($r) => ['status' => '200'],
            'transport status float' => fn ($r) => ['status' => 200.0],
            'transport status NAN' => fn ($r) => ['status' => NAN],
            'transport status 70000' => fn ($r) => ['status' => 70000],
            'transport status PHP_INT_MIN' => fn ($r) => ['status' => PHP_INT_MIN],
            'transport headers string' => fn ($r) => ['status' => 200, 'headers' => 'a: b'],
            'transport header resource' => fn ($r) => ['status' => 200, 'headers' => ['a' => fopen('php://memory', 'r')]],
            'transport header invalid utf-8' => fn ($r) => ['status' => 200, 'headers' => ['a' => "\xff"]],
            'transport body int' => fn ($r) => ['status' => 200, 'body' => 5],
            'transport body array' => fn ($r) => ['status' => 200, 'body' => ['a']],
            'transport body Stringable' => fn ($r) => ['status' => 200, 'body' => self::phpValues()['Stringable'][0]()],
            'transport big body' => fn ($r) => ['status' => 200, 'body' => $big],
            'transport 401 deep json' => fn ($r) => ['status' => 401, 'body' => str_repeat('[', 30000) . str_repeat(']', 30000)],
            'transport 429 huge retry-after' => fn ($r) => ['status' => 429, 'headers' => ['Retry-After' => str_repeat('9', 400)]],
            'transport 503 with 100k headers' => fn ($r) => ['status' => 503, 'headers' => array_fill_keys(array_map(fn ($i) => "x-$i", range(1, self::size('many'))), 'v')],
            'transport throws TransportException with invalid utf-8' => fn ($r) => throw new TransportException("down \xff\xfe"),
            'transport throws TransportException 1 MiB message' => fn ($r) => throw new TransportException(str_repeat('m', 1 << 20)),
            'transport throwing SENTINEL' => fn ($r) => throw $s,
            'transport returns reference' => function ($r) {
                static $x = ['status' => 200];
                return $x;
            },
        ];
        foreach (self::spec() as $member => $spec) {
            if (!isset($spec['transport'])) {
                continue;
            }
            foreach ($results as $label => $transport) {
                $receiver = self::receiver($spec['receiver']);
                $args = ($spec['args'])();
                $args[$spec['transport']] = $transport;
                $r = self::invoke($member, $spec, $receiver, $args);
                if ($r['ok'] && preg_match('/^transport (big body|401|429|503|throws TransportException|returns reference)/', $label)) {
                    // A (valid, odd) response or a transport error: the core's policy decides; the
                    // remote steps of disconnect/uninstall report failures instead of throwing.
                    self::$counts['calls']++;
                    self::$counts['accepted']++;
                } elseif ($r['ok'] && in_array($member, ['Tessera\Companion::disconnect', 'Tessera\Companion::uninstall'], true)) {
                    self::$counts['calls']++;
                    $steps = $member === 'Tessera\Companion::uninstall' ? [$r['value']['disconnect'], $r['value']['deregister']] : [$r['value']['remote']];
                    $failed = array_filter($steps, fn ($st) => $st['result'] === 'failed' && $st['error'] instanceof TesseraException && $st['error']->getErrorCode() !== 'internal');
                    if ($failed) {
                        self::$counts['accepted']++;
                    } else {
                        self::$failures[] = "$member <- $label: no failed step";
                    }
                } else {
                    self::outcome($member, (string) $spec['transport'], $label, $r, str_contains($label, 'SENTINEL'));
                }
                $this->sanity($receiver);
            }
        }
        // sleep and persist that throw; secretFor / replay that answer junk.
        $callbacks = [
            'sleep throwing SENTINEL' => fn () => self::state('connected')->call(['method' => 'GET', 'path' => '/x'], fn ($r) => ['status' => 503], fn ($ms) => throw $s),
            'persist throwing SENTINEL' => fn () => self::state('connected')->call(['method' => 'GET', 'path' => '/x'], fn ($r) => ['status' => 401, 'body' => '{"error":"stora_reconnect_required"}'], null, fn ($j) => throw $s),
            'serveProof throwing SENTINEL' => fn () => self::receiver('fresh')->register(['site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1'], fn ($r) => ['status' => 202, 'body' => '{"challenge":"challenge-0123456789abcdef"}'], null, null, fn ($p) => throw $s),
        ];
        // serveProof: anything but false means served (the registration is sent again).
        foreach (['null' => null, 'zero' => 0, 'empty string' => '', 'string false' => 'false', 'array' => [], 'object' => new \stdClass(), 'NAN' => NAN] as $label => $answer) {
            $callbacks["serveProof returns $label"] = function () use ($answer) {
                $sent = 0;
                $out = self::receiver('fresh')->register(['site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1'], function ($r) use (&$sent) {
                    return ++$sent === 1 ? ['status' => 202, 'body' => '{"challenge":"challenge-0123456789abcdef"}'] : ['status' => 201];
                }, null, null, fn ($p) => $answer);
                if ($out !== ['outcome' => 'registered'] || $sent !== 2) {
                    throw new \LogicException('not served: ' . json_encode($out));
                }
                return $out;
            };
        }
        // The clock: an integer, or the call is refused; a throwing clock propagates.
        foreach ([
            'clock returns string' => fn () => '1700000000',
            'clock returns float' => fn () => 1700000000.5,
            'clock returns null' => fn () => null,
            'clock returns array' => fn () => [1700000000],
            'clock returns NAN' => fn () => NAN,
            'clock throwing SENTINEL' => fn () => throw $s,
        ] as $label => $clock) {
            $callbacks["call: $label"] = function () use ($clock) {
                $c = self::state('connected');
                \Tessera\Testing\useClock($c, $clock);
                return $c->call(['method' => 'GET', 'path' => '/x'], fn ($r) => ['status' => 200]);
            };
            $callbacks["signRequest: $label"] = function () use ($clock) {
                $c = self::state('connected');
                \Tessera\Testing\useClock($c, $clock);
                return $c->signRequest(['method' => 'GET', 'path' => '/x']);
            };
        }
        $v = new Verifier(null, 1000);
        foreach ([
            'secretFor returns int' => fn ($id) => 42,
            'secretFor returns array' => fn ($id) => ['x'],
            'secretFor returns Stringable' => fn ($id) => self::phpValues()['Stringable'][0](),
            'secretFor returns invalid utf-8' => fn ($id) => "\xff\xfe",
            'secretFor returns not base64url' => fn ($id) => 'not base64url!',
            'secretFor returns short' => fn ($id) => 'c2hvcnQ',
            'secretFor returns big' => fn ($id) => $big,
            'secretFor returns resource' => fn ($id) => fopen('php://memory', 'r'),
            'secretFor throwing SENTINEL' => fn ($id) => throw $s,
        ] as $label => $secretFor) {
            $callbacks["verify: $label"] = fn () => $v->verify(self::signed(), $secretFor, fn ($k, $e, $n) => true, 1700000000);
            $callbacks["connect url: $label"] = fn () => Verifier::verifyConnectUrl(self::state('registered')->connectUrl(SITE . '/cb', null, 1700000000), $secretFor, 1700000000);
            $callbacks["ticket: $label"] = fn () => Verifier::verifyUninstallTicket(self::$fx['install_id'], self::state('registered')->uninstallUrl(1700000000), $secretFor, null, 1700000000);
        }
        foreach ([
            'replay returns string' => fn ($k, $e, $n) => 'yes',
            'replay returns int' => fn ($k, $e, $n) => 1,
            'replay returns null' => fn ($k, $e, $n) => null,
            'replay throwing SENTINEL' => fn ($k, $e, $n) => throw $s,
        ] as $label => $replay) {
            $callbacks["verify: $label"] = fn () => $v->verify(self::signed(), fn ($id) => self::$fx['secret'], $replay, 1700000000);
        }
        // Re-entering the verifier from inside secretFor is not hostile: the
        // in-memory store is used only after the callables returned
        // (VerifierTest::testReenteringFromSecretForIsFine).
        foreach ($callbacks as $label => $f) {
            try {
                $r = ['ok' => true, 'value' => $f()];
            } catch (\Throwable $e) {
                $r = ['ok' => false, 'error' => $e];
            }
            self::outcome('callbacks', 'result', $label, $r, str_contains($label, 'SENTINEL'));
            $this->sanity(null);
        }
        // Using the same companion from inside its callables is fine (not hostile: documented).
        $c = self::state('connected');
        $r = $c->call(['method' => 'GET', 'path' => '/x'], fn ($r) => ['status' => 200, 'body' => $c->exportState() !== '' ? 'ok' : ''], null, fn ($j) => $c->signRequest(['method' => 'GET', 'path' => '/y']));
        $this->assertSame('ok', $r['body']);
        $this->assertNoFailures();
    }

    /**
     * Known core issue (not the binding's; reported, core/ is being reworked):
     * the core does unchecked i64 arithmetic on times — `created + 300`,
     * `now + clock_offset`, `now - pending.created`, `now + 300` / `now - ts`
     * for links, `(now - created).abs()` in the verifier. The binding passes
     * any PHP int through, so PHP_INT_MIN/MAX (or a stored clock offset of
     * i64::MAX) wrap in release builds (what ships) and would panic in a debug
     * build (caught here as `internal`). This pins what must hold either way:
     * no crash, no `internal`, and the extension still works; when the core
     * refuses such times, the InvalidInputException branch takes over.
     */
    public function testExtremeTimesReachTheCoreWithoutCrashing(): void
    {
        self::$failures = [];
        $secret = self::$fx['secret'];
        $calls = [
            'signRequest now PHP_INT_MAX' => fn () => self::state('connected')->signRequest(['method' => 'GET', 'path' => '/x'], PHP_INT_MAX)['headers']['signature-input'],
            'connectUrl now PHP_INT_MIN' => fn () => self::state('registered')->connectUrl(SITE . '/cb', null, PHP_INT_MIN),
            'completeConnect now PHP_INT_MIN' => function () {
                $c = self::state('pending');
                \Tessera\Testing\useClock($c, fn () => PHP_INT_MIN);
                return $c->completeConnect(SITE . '/wp-admin/?page=x&state=hostile-state-0123456789&code=' . CONNECT_CODE, self::connectTransport(), fn ($ms) => null);
            },
            'uninstallUrl with a stored clock offset of i64 max' => fn () => Companion::importState((string) preg_replace('/"clock_offset":-?\d+/', '"clock_offset":9223372036854775807', self::$fx['connected']))->uninstallUrl(1700000000),
            'verify at now PHP_INT_MIN a request created at 0' => fn () => (new Verifier(null, 10))->verify(self::state('connected')->signRequest(['method' => 'GET', 'path' => '/x'], 0), fn ($id) => $secret, null, PHP_INT_MIN),
            'verifyConnectUrl now PHP_INT_MAX' => fn () => Verifier::verifyConnectUrl(self::state('registered')->connectUrl(SITE . '/cb', null, 1700000000), fn ($id) => $secret, PHP_INT_MAX),
            'verifyUninstallTicket max age PHP_INT_MIN' => fn () => Verifier::verifyUninstallTicket(self::$fx['install_id'], self::state('registered')->uninstallUrl(1700000000), fn ($id) => $secret, PHP_INT_MIN, PHP_INT_MIN),
        ];
        $notes = [];
        foreach ($calls as $label => $f) {
            try {
                $r = ['ok' => true, 'value' => $f()];
                $notes[] = "$label -> " . substr(json_encode($r['value']), 0, 140);
                self::$counts['calls']++;
                self::$counts['accepted']++;
            } catch (\Throwable $e) {
                self::outcome('extreme time', 'now', $label, ['ok' => false, 'error' => $e]);
            }
            $this->sanity(null);
        }
        if ($notes !== []) {
            fwrite(STDERR, "\nnote (core issue, see HostileInputTest::testExtremeTimesReachTheCoreWithoutCrashing):\n  " . implode("\n  ", $notes) . "\n");
        }
        $this->assertNoFailures();
    }

    private function assertNoFailures(): void
    {
        $this->assertSame([], self::$failures, count(self::$failures) . " hostile calls broke the contract:\n" . implode("\n", self::$failures));
        $this->assertGreaterThan(0, self::$counts['calls']);
    }
}

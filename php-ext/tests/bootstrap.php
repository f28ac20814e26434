<?php

declare(strict_types=1);

namespace Tessera\Tests;

use Tessera\Companion;
use Tessera\Exception\TransportException;

/*
 * One suite, two implementations (TESSERA_IMPL):
 *   extension (default): the native extension must be loaded —
 *       php -d extension=$PWD/target/php/tessera-test.so /usr/bin/phpunit -c php-ext/phpunit.xml
 *   pure: the pure-PHP package (php/) provides `Tessera\…` and the extension
 *       must NOT be loaded — php/phpunit.xml (through Composer's
 *       php/vendor/autoload.php), or TESSERA_IMPL=pure with this file alone
 *       (through php/autoload.php, the Composer-less loader).
 *       TESSERA_PURE_DIR=/path/to/a/copy/of/php loads that copy's autoload.php
 *       instead (php/tests/wrong-drivers.php: deliberately broken drivers).
 */
const IMPL_PURE = 'pure';
const IMPL_EXTENSION = 'extension';

(static function (): void {
    $impl = getenv('TESSERA_IMPL') ?: IMPL_EXTENSION;
    if ($impl === IMPL_PURE) {
        if (extension_loaded('tessera')) {
            fwrite(STDERR, "TESSERA_IMPL=pure: the tessera extension is loaded; run the pure-PHP suite without it (php -n ...)\n");
            exit(2);
        }
        // A Composer autoloader (php/tests/bootstrap.php) may already provide the package.
        if (!class_exists('Tessera\\Pure\\Companion')) {
            require (getenv('TESSERA_PURE_DIR') ?: __DIR__ . '/../../php') . '/autoload.php';
        }
        if ((new \ReflectionClass('Tessera\\Companion'))->getName() !== 'Tessera\\Pure\\Companion') {
            fwrite(STDERR, "TESSERA_IMPL=pure: Tessera\\Companion is not the pure-PHP class\n");
            exit(2);
        }
    } elseif ($impl === IMPL_EXTENSION) {
        if (!extension_loaded('tessera')) {
            fwrite(STDERR, "The tessera extension is not loaded: run phpunit as php -d extension=/path/to/tessera.so /usr/bin/phpunit\n"
                . "(or TESSERA_IMPL=pure for the pure-PHP package: php/phpunit.xml)\n");
            exit(2);
        }
        if (!(new \ReflectionClass('Tessera\\Companion'))->isInternal()) {
            fwrite(STDERR, "Tessera\\Companion is not the extension's class\n");
            exit(2);
        }
    } else {
        fwrite(STDERR, "TESSERA_IMPL must be 'extension' or 'pure', not '$impl'\n");
        exit(2);
    }
    // The test hooks (Tessera\Testing\useSeededEntropy(), useClock(),
    // connectUrl() with a fixed state): the extension's test build has them,
    // the shipped tessera.so does not; for pure PHP they live in
    // php/tests/testing.php, outside the package.
    if ($impl === IMPL_PURE) {
        require_once __DIR__ . '/../../php/tests/testing.php';
    } elseif (!function_exists('Tessera\\Testing\\useSeededEntropy')) {
        fwrite(STDERR, "The loaded tessera extension has no test hooks: run the suite on the test build "
            . "(scripts/build-php.sh --test-hooks → target/php/tessera-test.so)\n");
        exit(2);
    }
})();

/** The implementation under test: IMPL_EXTENSION or IMPL_PURE. */
function impl(): string
{
    return extension_loaded('tessera') ? IMPL_EXTENSION : IMPL_PURE;
}

/**
 * Magic methods only the pure-PHP classes declare: the extension refuses
 * cloning and serialisation in its object handlers, pure PHP in these.
 */
const PURE_MAGIC_METHODS = ['__clone', '__serialize', '__unserialize', '__wakeup', '__sleep', '__debugInfo', '__set_state'];

/**
 * php-ext/tessera.stub.php described by reflection in a child `php -n`
 * (stub-check.php --describe-stub): classes => methods => params (name, type, ...).
 */
function stub_description(): array
{
    static $desc = null;
    if ($desc === null) {
        $cmd = escapeshellarg(PHP_BINARY) . ' -n ' . escapeshellarg(__DIR__ . '/stub-check.php') . ' --describe-stub ' . escapeshellarg(__DIR__ . '/../tessera.stub.php');
        exec($cmd, $lines, $rc);
        if ($rc !== 0) {
            throw new \RuntimeException("describing the stub failed:\n" . implode("\n", $lines));
        }
        $desc = json_decode(implode("\n", $lines), true, 512, JSON_THROW_ON_ERROR);
    }
    return $desc;
}

/** The real name of a class (an alias resolves to the pure-PHP class it names). */
function real_class(string $class): string
{
    return (new \ReflectionClass($class))->getName();
}

const BROKER = 'https://broker.example';
const SITE = 'https://shop.example';
const VECTORS = __DIR__ . '/../../tests/vectors';
const REGISTRATION = ['site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1.0.0'];

/** A scripted broker: a queue of responses (arrays), exceptions to throw, or callables. */
final class FakeTransport
{
    /** @var list<array> requests received */
    public array $requests = [];

    /** What answers every request once the script is used up (null: a 599 "script exhausted"). */
    private array|\Throwable|\Closure|null $always = null;

    /** @param list<array|\Throwable|callable> $script */
    public function __construct(private array $script)
    {
    }

    /** A transport that answers every request with $answer (a response, an exception to throw, or a callable). */
    public static function always(array|\Throwable|\Closure $answer): self
    {
        $t = new self([]);
        $t->always = $answer;
        return $t;
    }

    public function __invoke(array $request): array
    {
        $this->requests[] = $request;
        $next = array_shift($this->script) ?? $this->always ?? ['status' => 599, 'headers' => [], 'body' => 'script exhausted'];
        if ($next instanceof \Throwable) {
            throw $next;
        }
        if (is_callable($next)) {
            return $next($request);
        }
        return $next;
    }
}

/** Records sleeps and persists. */
final class Recorder
{
    /** @var list<int> */
    public array $sleeps = [];
    /** @var list<string> */
    public array $persisted = [];

    public function sleep(): callable
    {
        return function (int $ms): void {
            $this->sleeps[] = $ms;
        };
    }

    public function persist(): callable
    {
        return function (string $json): void {
            $this->persisted[] = $json;
        };
    }
}

function response(int $status, array $body = null, array $headers = []): array
{
    return [
        'status' => $status,
        'headers' => $body === null ? $headers : ['Content-Type' => 'application/json'] + $headers,
        'body' => $body === null ? '' : json_encode($body),
    ];
}

function transport_error(string $message = 'connection refused'): TransportException
{
    return new TransportException($message);
}

/** @return array{Companion, string} a registered companion and its secret (base64url) */
function registered(string $broker = BROKER): array
{
    $c = Companion::create(['broker_url' => $broker]);
    $t = new FakeTransport([['status' => 201, 'headers' => [], 'body' => '{}']]);
    $c->register(REGISTRATION, $t);
    $secret = json_decode($t->requests[0]['body'], true)['secret'];
    return [$c, $secret];
}

/** The Stora account the scripted broker's connect completion names (docs/PROTOCOL.md §5.4.1). */
const ACCOUNT = ['id' => 'op_test', 'name' => 'Test Storage'];

/** A well-formed connect code (§5.4: 16-256 characters of [A-Za-z0-9-._~]; the reference broker's form). */
const CONNECT_CODE = 'cc_dGVzdC1jb25uZWN0LWNvZGUtMDEyMzQ1Njc4OWFiY2RlZmc';

/** The plugin's return page in these tests. */
const RETURN_URL = SITE . '/wp-admin/admin.php?page=tessera';

/** The broker's 200 answer to the signed `POST /connect/complete`: `{"broker_token", "account"}`. */
function connect_answer(string $token = 'btk_test_token', array $account = ACCOUNT): array
{
    return response(200, ['broker_token' => $token, 'account' => $account]);
}

/** A transport answering every request (the connect completion) with connect_answer(); it records what it was sent. */
function connect_transport(string $token = 'btk_test_token', array $account = ACCOUNT): FakeTransport
{
    return FakeTransport::always(connect_answer($token, $account));
}

/** The `state` parameter of a connect URL. */
function state_of(string $connectUrl): string
{
    parse_str((string) parse_url($connectUrl, PHP_URL_QUERY), $q);
    return $q['state'];
}

/** The callback the broker sends the browser to: `$return` + `state` and a connect `code` (§5.4). */
function callback_url(string $state, string $code = CONNECT_CODE, string $return = RETURN_URL): string
{
    return $return . (str_contains($return, '?') ? '&' : '?') . 'state=' . rawurlencode($state) . '&code=' . rawurlencode($code);
}

/**
 * Connects $c (registered): a connect URL, then the callback, whose code the
 * scripted broker exchanges for $token and ACCOUNT.
 *
 * @return FakeTransport what the completion sent
 */
function connect(Companion $c, string $token = 'btk_test_token', array $account = ACCOUNT): FakeTransport
{
    $t = connect_transport($token, $account);
    $c->completeConnect(callback_url(state_of($c->connectUrl(RETURN_URL))), $t, fn (int $ms) => null);
    return $t;
}

/** @return array{Companion, string} a connected companion (broker token btk_test_token, account ACCOUNT) and its secret */
function connected(string $broker = BROKER, string $token = 'btk_test_token'): array
{
    [$c, $secret] = registered($broker);
    connect($c, $token);
    return [$c, $secret];
}

/** @return array<string, array> the cases of one vector file, keyed by name */
function vector_cases(string $file): array
{
    $data = json_decode((string) file_get_contents(VECTORS . '/' . $file), true, 512, JSON_THROW_ON_ERROR);
    $cases = [];
    foreach ($data['cases'] as $case) {
        $cases[$case['name']] = [$case];
    }
    return $cases;
}

/** The signature's `created` parameter of a signed request. */
function created_of(array $request): int
{
    preg_match('/;created=(\d+);/', $request['headers']['signature-input'], $m);
    return (int) $m[1];
}

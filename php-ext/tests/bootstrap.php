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
            require __DIR__ . '/../../php/autoload.php';
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

    /** @param list<array|\Throwable|callable> $script */
    public function __construct(private array $script)
    {
    }

    public function __invoke(array $request): array
    {
        $this->requests[] = $request;
        $next = array_shift($this->script) ?? ['status' => 599, 'headers' => [], 'body' => 'script exhausted'];
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

/** @return array{Companion, string} a connected companion (broker token btk_test_token) and its secret */
function connected(string $broker = BROKER, string $token = 'btk_test_token'): array
{
    [$c, $secret] = registered($broker);
    $url = $c->connectUrl(SITE . '/wp-admin/admin.php?page=tessera');
    parse_str((string) parse_url($url, PHP_URL_QUERY), $q);
    $c->completeConnect(SITE . '/wp-admin/admin.php?page=tessera&state=' . $q['state'] . '&broker_token=' . $token);
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

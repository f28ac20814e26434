<?php

declare(strict_types=1);

/*
 * End-to-end harness for the PHP extension and the pure-PHP package: starts tessera-e2e-env (fake
 * Stora + reference broker + a stand-in for the plugin's site, all on
 * 127.0.0.1) once for the run, and gives the tests a real HTTP transport and
 * a "browser" that follows redirects. Uses only PHP's stream wrapper (no curl),
 * as a WordPress host without curl would.
 */

namespace Tessera\E2E;

use Tessera\Companion;

require_once __DIR__ . '/lib.php';

/*
 * Either implementation (TESSERA_IMPL): the extension (default; it must be
 * loaded), or `pure`: the pure-PHP package through its Composer-less loader
 * php/autoload.php (what the WordPress bundle uses), with the extension NOT
 * loaded (php -n).
 */
if ((getenv('TESSERA_IMPL') ?: 'extension') === 'pure') {
    if (extension_loaded('tessera')) {
        fwrite(STDERR, "TESSERA_IMPL=pure: the tessera extension is loaded; run the pure-PHP suite without it (php -n ...)\n");
        exit(2);
    }
    require dirname(__DIR__, 3) . '/php/autoload.php';
    if ((new \ReflectionClass(Companion::class))->getName() !== 'Tessera\\Pure\\Companion') {
        fwrite(STDERR, "TESSERA_IMPL=pure: Tessera\\Companion is not the pure-PHP class\n");
        exit(2);
    }
} elseif (!extension_loaded('tessera')) {
    fwrite(STDERR, "The tessera extension is not loaded: run phpunit as php -d extension=/path/to/tessera.so /usr/bin/phpunit\n"
        . "(or TESSERA_IMPL=pure php -n ... for the pure-PHP package)\n");
    exit(2);
}

/** 'pure' or 'extension': the implementation under test. */
function impl(): string
{
    return extension_loaded('tessera') ? 'extension' : 'pure';
}

/** The running environment: URLs, admin token, and the process that owns it. */
final class Env
{
    public static ?Env $instance = null;
    public static ?Env $proxyInstance = null;

    /** Prefix of every code and token the fake Stora issues in this run. */
    public const STORA_CANARY = 'CANARYphp-';

    /** @var resource */
    private $process;
    private int $owner;
    /** @var array<int, resource> */
    private array $pipes = [];
    public string $broker;
    public string $stora;
    /** Stora's API base, for a proxy-mode companion (proxy environment only). */
    public string $storaApi;
    public string $site;
    public string $returnUrl;
    public string $adminToken;

    /**
     * @param bool $proxy tessera-proxy-env (fake Stora + authorization proxy +
     *        site; `broker` is then the proxy) instead of tessera-e2e-env
     */
    private function __construct(bool $proxy = false)
    {
        $name = $proxy ? 'tessera-proxy-env' : 'tessera-e2e-env';
        $bin = getenv($proxy ? 'TESSERA_PROXY_ENV' : 'TESSERA_E2E_ENV') ?: dirname(__DIR__, 3) . "/target/debug/$name";
        if (!is_executable($bin)) {
            fwrite(STDERR, "$name not found at $bin (cargo build -p tessera-broker -p tessera-proxy --bins)\n");
            exit(2);
        }
        $this->owner = getmypid();
        // Stora's tokens carry a canary prefix: SecretsTest searches for it.
        $args = ['--token-canary', self::STORA_CANARY];
        $this->process = proc_open([$bin, '--exit-on-stdin-close', '--max-lifetime', '600', '--quiet', ...$args], [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => STDERR], $this->pipes);
        if (!is_resource($this->process)) {
            fwrite(STDERR, "cannot start $bin\n");
            exit(2);
        }
        $line = fgets($this->pipes[1]);
        $info = json_decode((string) $line, true);
        if (!is_array($info)) {
            fwrite(STDERR, "$name did not start: " . var_export($line, true) . "\n");
            exit(2);
        }
        $this->broker = $info['broker_url'] ?? $info['proxy_url'];
        $this->stora = $info['stora_url'];
        $this->storaApi = $info['stora_api_url'] ?? '';
        $this->site = $info['site_url'];
        $this->returnUrl = $info['return_url'];
        $this->adminToken = $info['admin_token'] ?? '';
    }

    public static function get(): Env
    {
        return self::$instance ??= new Env();
    }

    /** The authorization-proxy environment (docs/PROTOCOL.md §13), started once. */
    public static function proxy(): Env
    {
        return self::$proxyInstance ??= new Env(true);
    }

    /** Closing stdin stops the environment; it also stops by itself. */
    public function stop(): void
    {
        if (getmypid() !== $this->owner) {
            return; // a forked child must not stop the parent's environment
        }
        fclose($this->pipes[0]);
        fclose($this->pipes[1]);
        proc_close($this->process);
    }

    /**
     * A fresh companion for the broker; with `$sealKey` every persist hands
     * over the state sealed under it.
     */
    public function companion(#[\SensitiveParameter] ?string $sealKey = null): Companion
    {
        return Companion::create(['broker_url' => $this->broker], $sealKey);
    }

    public function registration(): array
    {
        return [
            'site_url' => $this->site,
            'admin_email' => 'owner@shop.example',
            'platform' => 'wordpress',
            'plugin_version' => '1.0.0',
        ];
    }

    /**
     * Registers through the extension's driver (`register()`), serving the
     * ownership proof on the site when the broker asks for one. The
     * WordPress plugin serves it from a REST route; the test site takes it by
     * PUT. Returns the outcome.
     *
     * @param list<string>|null $persisted receives every state the driver persists
     */
    public function register(Companion $c, ?array &$persisted = null): array
    {
        $persisted = [];
        return $c->register(
            $this->registration(),
            fn (array $req): array => http_send($req),
            fn (int $ms) => usleep($ms * 1000),
            function (string $json) use (&$persisted): void {
                $persisted[] = $json;
            },
            function (array $proof): bool {
                $put = http_send(['method' => 'PUT', 'url' => $this->site . $proof['path'], 'headers' => [], 'body' => $proof['body']]);
                if ($put['status'] !== 204) {
                    throw new \RuntimeException('cannot serve the proof');
                }
                return true;
            },
        );
    }

    /**
     * Runs the browser part of connect and returns the URL the browser
     * landed on (the plugin's return URL with state + code, or error). One
     * browser (one cookie jar) per call unless $browser is given: the broker
     * binds the round to the browser's cookie.
     */
    public function browseConnect(Companion $c, ?string $scope, ?string $operator, ?int $now = null, ?Browser $browser = null): string
    {
        $browser ??= new Browser();
        $url = $c->connectUrl($this->returnUrl, $scope, $now);
        $page = $browser->browse($url, $this->returnUrl);
        if (!$page['returned'] && $page['status'] === 200 && preg_match('/id="continue" href="([^"]+)"/', $page['body'], $cont)) {
            $page = $browser->browse(resolve($page['url'], html_entity_decode($cont[1])), $this->returnUrl); // the broker's interstitial: Continue
        }
        if ($page['returned']) {
            return $page['url'];
        }
        if ($page['status'] !== 200) {
            throw new \RuntimeException("consent page answered {$page['status']}");
        }
        $id = $operator === null ? 'deny' : 'approve';
        if (!preg_match('/id="' . $id . '" href="([^"]+)"/', $page['body'], $m)) {
            throw new \RuntimeException("no #$id link");
        }
        $next = resolve($page['url'], html_entity_decode($m[1]));
        if ($operator !== null) {
            $next .= '&operator=' . rawurlencode($operator);
        }
        $landing = $browser->browse($next, $this->returnUrl);
        if (!$landing['returned']) {
            throw new \RuntimeException("ended on a page ({$landing['status']})");
        }
        return $landing['url'];
    }

    /**
     * Connects $c as $operator: the browser round, then completeConnect()
     * exchanges the callback's single-use connect code for the broker token
     * (signed `POST /connect/complete`). The callback must carry `code`, and
     * never a broker token. Returns completeConnect()'s result:
     * `['account' => ['id' => …, 'name' => …]]`.
     */
    /** @param list<string>|null $persisted receives every state the completion persists */
    public function connect(Companion $c, string $operator, ?string $scope = null, ?array &$persisted = null): array
    {
        $landing = $this->browseConnect($c, $scope, $operator);
        parse_str((string) parse_url($landing, PHP_URL_QUERY), $q);
        if (!isset($q['code']) || str_contains($landing, 'broker_token')) {
            throw new \RuntimeException("the callback must carry a connect code and no broker token: $landing");
        }
        $persisted = [];
        return $c->completeConnect($landing, fn (array $req): array => http_send($req), fn (int $ms) => usleep($ms * 1000), function (string $state) use (&$persisted): void {
            $persisted[] = $state;
        });
    }

    public function storaControl(string $path, array $body = []): array
    {
        $r = http_send(['method' => 'POST', 'url' => "{$this->stora}/_control/$path", 'headers' => ['content-type' => 'application/json'], 'body' => json_encode((object) $body)]);
        return json_decode($r['body'], true) ?? [];
    }

    public function storaCounters(): array
    {
        return json_decode(http_send(['method' => 'GET', 'url' => "{$this->stora}/_control/counters", 'headers' => [], 'body' => ''])['body'], true);
    }

    /** @return list<array{method: string, path: string, operator: ?string, idempotency_key: ?string, status: int}> */
    public function storaRequests(string $path): array
    {
        $all = json_decode(http_send(['method' => 'GET', 'url' => "{$this->stora}/_control/requests", 'headers' => [], 'body' => ''])['body'], true);
        return array_values(array_filter($all, fn ($r) => $r['path'] === $path));
    }

    /** The operator's Stora timeline, as the operator sees it (oldest first). */
    public function storaTimeline(string $operator): array
    {
        return json_decode(http_send(['method' => 'GET', 'url' => "{$this->stora}/_control/timeline?operator=" . rawurlencode($operator), 'headers' => [], 'body' => ''])['body'], true);
    }

    public function admin(string $method, string $path): array
    {
        return http_send(['method' => $method, 'url' => $this->broker . $path, 'headers' => ['authorization' => 'Bearer ' . $this->adminToken], 'body' => '']);
    }
}

/**
 * A browser with cookies: follows redirects like browse() (lib.php), and
 * keeps each Set-Cookie name=value (attributes ignored) for the host:port
 * that set it, sending it back there. Two instances are two browsers.
 */
final class Browser
{
    /** @var array<string, array<string, string>> host:port => name => value */
    public array $cookies = [];

    private static function hostOf(string $url): string
    {
        $p = parse_url($url);
        return ($p['host'] ?? '') . (isset($p['port']) ? ':' . $p['port'] : '');
    }

    /** @return array{returned: bool, url: string, status: int, body: string} */
    public function browse(string $url, string $stopAt): array
    {
        for ($i = 0; $i < 10; $i++) {
            if (str_starts_with($url, $stopAt)) {
                return ['returned' => true, 'url' => $url, 'status' => 0, 'body' => ''];
            }
            $host = self::hostOf($url);
            $headers = ['accept' => 'text/html'];
            if (($this->cookies[$host] ?? []) !== []) {
                $pairs = [];
                foreach ($this->cookies[$host] as $name => $value) {
                    $pairs[] = "$name=$value";
                }
                $headers['cookie'] = implode('; ', $pairs);
            }
            $r = http_send(['method' => 'GET', 'url' => $url, 'headers' => $headers, 'body' => '']);
            if (isset($r['headers']['set-cookie'])) {
                $pair = explode(';', $r['headers']['set-cookie'], 2)[0];
                if (str_contains($pair, '=')) {
                    [$name, $value] = array_map('trim', explode('=', $pair, 2));
                    $this->cookies[$host][$name] = $value;
                }
            }
            if (in_array($r['status'], [301, 302, 303, 307, 308], true) && isset($r['headers']['location'])) {
                $url = resolve($url, $r['headers']['location']);
                continue;
            }
            return ['returned' => false, 'url' => $url, 'status' => $r['status'], 'body' => $r['body']];
        }
        throw new \RuntimeException('too many redirects');
    }
}

Env::get();
register_shutdown_function(static fn () => Env::get()->stop());
register_shutdown_function(static fn () => Env::$proxyInstance?->stop());

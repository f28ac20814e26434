<?php

declare(strict_types=1);

namespace Tessera\E2E;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\TesseraException;

/**
 * Secrets never leak from the PHP extension nor from the pure-PHP package
 * (issues 8 and 13; TESSERA_IMPL selects the implementation): the whole
 * lifecycle against the reference broker and the fake Stora (whose tokens
 * carry Env::STORA_CANARY), then every exception, every result and the
 * Companion itself are printed the ways a WordPress plugin or its error
 * reporter would — var_dump, print_r, var_export, json_encode, (string),
 * getMessage, getTraceAsString, serialize — and searched for every
 * installation secret and broker token the companion held (plain, percent,
 * base64, base64url, hex) and for any Stora token.
 *
 * With PHP's production settings (zend.exception_ignore_args=On, set here):
 * with the development setting, traces keep call arguments (the key passed
 * to openState()), as php-ext/README.md says. The callback URL passed to
 * completeConnect() carries only a single-use connect code.
 *
 * Pure PHP runs in PHP frames, so its traces are searched further: the
 * frames inside Tessera (`Tessera\…` classes) of every exception, Tessera's
 * and the caller's own ones that propagate through Tessera (a transport or a
 * persist that throws), also with the development setting
 * zend.exception_ignore_args=Off, where PHP keeps frame arguments (only
 * #[\SensitiveParameter] and Tessera's own care keep secrets out). Warnings,
 * notices and the error log written during the run are searched too.
 *
 * The companions are given a seal key (issue 14: hosts get what they
 * store), so every `$persist` callable receives the sealed state: each such
 * value must open with the key to a state (the last one to the companion's
 * own), and is searched like everything else. The seal key itself is a
 * needle: no dump of a companion holding it, no exception, no result shows
 * it. exportState() returns the state by design (it holds the secret): the
 * plain form is checked to hold the secret (the search works).
 */
final class SecretsTest extends TestCase
{
    /** @var list<array{0: string, 1: string, 2: list<string>}> place, text, kinds allowed there */
    private array $places = [];
    /** @var list<string> kinds allowed in what dump() records now */
    private array $allow = [];
    /** @var array<string, string> value => kind */
    private array $held = [];
    /** @var list<string> */
    private array $sealed = [];
    private string $key;
    /** zend.exception_ignore_args=Off: frame arguments are kept (dump only Tessera's frames of a Throwable). */
    private bool $devArgs = false;

    private function dump(string $place, mixed $value): void
    {
        $from = count($this->places);
        $this->dumpAll($place, $value);
        for ($i = $from; $i < count($this->places); $i++) {
            $this->places[$i][2] = $this->allow;
        }
    }

    private function dumpAll(string $place, mixed $value): void
    {
        if ($value instanceof \Throwable) {
            // The frames inside Tessera, arguments included (kept only under the development setting).
            $frames = array_values(array_filter($value->getTrace(), fn (array $f) => preg_match('/^Tessera\\\\(Companion|Verifier|Exception\\\\|Pure\\\\)/', $f['class'] ?? '') === 1));
            if ($frames === [] && !$this->devArgs) {
                $frames = null;
            }
            if ($frames !== null) {
                $this->tesseraFrames += count($frames);
                $this->dumpValue("Tessera frames of $place", $frames);
            }
            $this->places[] = ["(string) $place", (string) $value];
            $this->places[] = ["message $place", $value->getMessage()];
            $this->places[] = ["trace $place", $value->getTraceAsString()];
            $this->places[] = ["log line $place", sprintf('%s: %s in %s:%d', get_class($value), $value->getMessage(), $value->getFile(), $value->getLine())];
            if ($this->devArgs) {
                // The whole exception would also show the test's own frames' arguments (its closures).
                return;
            }
        }
        $this->dumpValue($place, $value);
    }

    private int $tesseraFrames = 0;

    private function dumpValue(string $place, mixed $value): void
    {
        ob_start();
        var_dump($value);
        $this->places[] = ["var_dump $place", (string) ob_get_clean()];
        $this->places[] = ["print_r $place", print_r($value, true)];
        try {
            $this->places[] = ["var_export $place", var_export($value, true)];
        } catch (\Throwable $e) {
            $this->places[] = ["var_export failure $place", $e->getMessage()];
        }
        $this->places[] = ["json_encode $place", (string) json_encode($value, JSON_PARTIAL_OUTPUT_ON_ERROR)];
        ob_start();
        debug_zval_refcount_safe($value);
        $this->places[] = ["debug_zval_dump $place", (string) ob_get_clean()];
        try {
            $this->places[] = ["serialize $place", serialize($value)];
        } catch (\Throwable $e) {
            $this->places[] = ["serialize failure $place", $e->getMessage()];
        }
    }

    /** A caller's exception (made inside its callable: its trace goes through Tessera) that propagated unchanged. */
    private function propagates(string $place, string $message, callable $fn): void
    {
        try {
            $fn();
        } catch (\RuntimeException $e) {
            $this->assertSame(\RuntimeException::class, get_class($e), $place);
            $this->assertSame($message, $e->getMessage(), $place);
            $this->dump($place, $e);
            return;
        }
        $this->fail("$place: expected the caller's exception");
    }

    private function fails(string $place, callable $fn): TesseraException
    {
        try {
            $fn();
        } catch (TesseraException $e) {
            $this->dump($place, $e);
            return $e;
        }
        $this->fail("$place: expected a TesseraException");
    }

    /** Learns what $c holds (secret, broker token, Stora tokens); with $dump, records it printed and sealed. */
    private function note(Companion $c, bool $dump = true): void
    {
        $state = json_decode($c->exportState(), true);
        if (isset($state['installation']['secret'])) {
            $this->held[$state['installation']['secret']] = 'secret';
        }
        if (isset($state['broker_token'])) {
            $this->held[$state['broker_token']] = 'broker token';
        }
        if (isset($state['tokens'])) {
            $this->held[$state['tokens']['access_token']] = 'access token';
            $this->held[$state['tokens']['refresh_token']] = 'refresh token';
        }
        if ($dump) {
            $this->sealed[] = $c->sealState($this->key);
            $this->dump('the companion', $c);
        }
    }

    /**
     * What $persist received: sealed blobs that open with the seal key (the
     * last one, when $current, to the companion's state), searched like the
     * sealed states.
     *
     * @param list<string> $persisted
     */
    private function persistedSealed(Companion $c, array $persisted, bool $current = true): void
    {
        $this->assertNotEmpty($persisted, 'something was persisted');
        foreach ($persisted as $i => $blob) {
            $this->assertStringStartsWith('tsv1.', $blob, "persisted #$i is sealed");
            $this->assertIsString(Companion::openState($blob, $this->key)->exportState());
            $this->sealed[] = $blob;
        }
        if ($current) {
            $this->assertSame($c->exportState(), Companion::openState(end($persisted), $this->key)->exportState());
        }
    }

    public function testNoSecretOrTokenInExceptionsResultsOrDumps(): void
    {
        $this->withSettings(false, fn () => $this->lifecycleAndSearch('opr_php_secrets'));
    }

    /**
     * Pure PHP under the development setting zend.exception_ignore_args=Off:
     * the frames inside Tessera keep their arguments, which must hold no secret.
     * (The extension keeps the arguments of the one call into it, e.g. the key
     * given to openState(), as php-ext/README.md says: not tested there.)
     */
    public function testPureFramesHoldNoSecretWithTheDevelopmentSetting(): void
    {
        if (impl() !== 'pure') {
            $this->markTestSkipped('pure PHP only: the extension has no PHP frames inside it (php-ext/README.md: the development setting keeps the arguments of the call into it)');
        }
        $this->devArgs = true;
        $this->withSettings(true, fn () => $this->lifecycleAndSearch('opr_php_secrets_dev'));
        $this->assertGreaterThan(20, $this->tesseraFrames, 'Tessera frames were searched');
    }

    /**
     * Authorization-proxy mode (issue 18): the installation holds Stora's
     * access and refresh tokens itself (tessera-proxy-env, same canary). The
     * whole lifecycle, with every request the driver sends recorded: every
     * persisted value is sealed; no token, secret or seal key in any
     * exception, result, dump or URL; the access token only in the
     * Authorization header of requests to Stora's API, the refresh token
     * only in the bodies of /refresh and /revoke, the installation secret
     * only in the registration, Stora's code only in the callback and the
     * code exchange.
     */
    public function testProxyModeTokensAreSealedAtRestAndReachNoUrlErrorOrDump(): void
    {
        $this->withSettings(false, fn () => $this->proxyLifecycleAndSearch('opr_php_proxy_secrets'));
    }

    private function proxyLifecycleAndSearch(string $op): void
    {
        $env = Env::proxy();
        $this->key = random_bytes(32);
        $this->held[$this->key] = 'seal key';
        $scope = 'public.order:read public.contact:read public.contact:write';
        $stora = (string) parse_url($env->storaApi, PHP_URL_SCHEME) . '://' . parse_url($env->storaApi, PHP_URL_HOST) . ':' . parse_url($env->storaApi, PHP_URL_PORT) . '/';
        $stored = null;
        $persisted = [];
        $c = null;
        $persist = function (string $value) use (&$stored, &$persisted, &$c): void {
            $stored = $value;
            $persisted[] = $value;
            $this->note($c, false);
        };
        $requests = 0;
        $bearer = 0;
        $send = function (array $req) use ($env, $stora, &$requests, &$bearer): array {
            $requests++;
            $url = $req['url'];
            $authorization = '';
            foreach ($req['headers'] as $name => $value) {
                [$name, $value] = is_int($name) ? $value : [$name, $value];
                if (strtolower($name) === 'authorization') {
                    $authorization = $value;
                }
            }
            $toStora = str_starts_with($url, $stora);
            $bearer += $toStora && str_starts_with($authorization, 'Bearer ') ? 1 : 0;
            $path = substr($url, strlen($env->broker));
            $this->places[] = ["the URL $url", $url, []];
            $this->places[] = ["the Authorization header to $url", $authorization, $toStora ? ['access token'] : []];
            $allowed = match (true) {
                $path === '/installations' => ['secret'],
                str_starts_with($path, '/token') => ['canary'],
                str_starts_with($path, '/refresh'), str_starts_with($path, '/revoke') => ['refresh token'],
                default => [],
            };
            $this->places[] = ["the body sent to $url", (string) $req['body'], $allowed];
            return http_send($req);
        };
        $sleep = fn (int $ms) => usleep($ms * 1000);
        $run = function (array $req) use (&$c, $send, $sleep, $persist): array {
            return $c->call($req, $send, $sleep, $persist);
        };

        $c = Companion::create(['broker_url' => $env->broker, 'proxy' => ['stora_api_url' => $env->storaApi]], $this->key);
        $c->setRefreshLock(function (string $name) use (&$stored): ?string {
            return $stored;
        }, fn (string $name) => null);
        $env->register($c, $registered);
        foreach ($registered as $value) {
            $persist($value);
        }
        $landing = $env->browseConnect($c, $scope, $op);
        $this->allow = ['canary']; // OAuth's callback carries Stora's single-use code
        $this->dump('the connect landing URL', $landing);
        $this->allow = [];
        $this->dump('a connect result', $c->completeConnect($landing, $send, $sleep, $persist));
        $this->assertStringStartsWith(Env::STORA_CANARY, json_decode($c->exportState(), true)['tokens']['access_token'], 'the search works: tokens carry the canary');
        $this->dump('a GET result', $run(['method' => 'GET', 'path' => '/api/account']));
        $this->dump('a POST result', $run(['method' => 'POST', 'path' => '/api/contacts', 'headers' => ['content-type' => 'application/json'], 'body' => '{"name":"Ada"}']));
        $env->storaControl('expire_tokens', ['operator' => $op]);
        $this->dump('a result after a refresh', $run(['method' => 'GET', 'path' => '/api/account']));
        $this->note($c);

        // Bad input that holds the tokens.
        $json = $c->exportState();
        $tokens = json_decode($json, true)['tokens'];
        foreach ([
            substr($json, 0, strpos($json, $tokens['refresh_token']) + 10),
            str_replace("\"{$tokens['access_token']}\"", "[\"{$tokens['access_token']}\"]", $json),
            str_replace("\"{$tokens['refresh_token']}\"", "{\"{$tokens['refresh_token']}\":1}", $json),
            str_replace('"v":1', "\"v\":\"{$tokens['access_token']}\"", $json),
        ] as $bad) {
            $this->fails('a corrupt state', fn () => Companion::importState($bad));
        }
        $this->fails('a plain state given as sealed', fn () => Companion::openState($json, $this->key));
        $this->fails('a path holding the token', fn () => $run(['method' => 'GET', 'path' => "/api/{$tokens['access_token']}/../x"]));

        // Revoked at Stora → reconnect; disconnect; uninstall.
        $env->storaControl('revoke_grant', ['operator' => $op]);
        $this->fails('a call needing a reconnect', fn () => $run(['method' => 'GET', 'path' => '/api/account']));
        $this->fails('a call while reconnect is required', fn () => $run(['method' => 'GET', 'path' => '/api/account']));
        $this->note($c);
        $this->dump('a reconnect result', $c->completeConnect($env->browseConnect($c, $scope, $op), $send, $sleep, $persist));
        $this->note($c);
        $this->dump('a disconnect result', $c->disconnect($send, $sleep, $persist));
        $this->fails('a call when not connected', fn () => $run(['method' => 'GET', 'path' => '/api/account']));
        $c->completeConnect($env->browseConnect($c, $scope, $op), $send, $sleep, $persist);
        $this->note($c);
        $this->dump('an uninstall report', $c->uninstall($send, $sleep, $persist));
        $this->note($c);

        $this->assertGreaterThanOrEqual(8, count($persisted));
        $this->persistedSealed($c, $persisted);
        $this->assertGreaterThanOrEqual(4, $bearer, 'calls to Stora with the access token');
        [$needles, $leaks, $allowedHits] = $this->search(', proxy mode');
        $this->assertGreaterThanOrEqual(3, count(array_filter($this->held, fn ($k) => $k === 'refresh token')), 'the lifecycle held several pairs');
        $this->assertSame([], $leaks);
        $this->assertGreaterThan(0, $allowedHits, 'the access token was found in the Authorization header (the search works)');
        $this->assertNotEmpty(array_filter($needles, fn ($n) => $n[0] === 'refresh token' && str_contains($json, $n[1])));
    }

    /** Runs $fn with exception arguments kept or not, recording warnings and the error log. */
    private function withSettings(bool $keepArgs, callable $fn): void
    {
        $saved = [];
        $log = tempnam(sys_get_temp_dir(), 'tessera-secrets-log');
        foreach (['zend.exception_ignore_args' => $keepArgs ? '0' : '1', 'log_errors' => '1', 'error_log' => $log] as $k => $v) {
            $saved[$k] = ini_get($k);
            ini_set($k, $v);
        }
        $errors = [];
        set_error_handler(function (int $no, string $str, string $file, int $line) use (&$errors): bool {
            if (!(error_reporting() & $no)) {
                return true; // silenced with @ (the test's own HTTP helper)
            }
            $errors[] = "$no $str in $file:$line";
            error_log("PHP $no: $str in $file:$line");
            return true;
        });
        try {
            $fn();
        } finally {
            restore_error_handler();
            foreach ($saved as $k => $v) {
                ini_set($k, (string) $v);
            }
            $written = (string) file_get_contents($log);
            unlink($log);
        }
        $this->assertSame([], $errors, 'no warning or notice during the run');
        $this->assertSame('', $written, 'nothing written to the error log');
    }

    private function lifecycleAndSearch(string $op): void
    {
        $env = Env::get();
        $host = new Host();
        $this->key = random_bytes(32);
        $run = fn (Companion $c, array $req) => $c->call($req, $host->transport(), $host->sleep(), $host->persist());

        $this->held[$this->key] = 'seal key';
        $c = $env->companion($this->key);
        $env->register($c, $persisted);
        $this->assertGreaterThanOrEqual(2, count($persisted), 'the secret, then the confirmation');
        $this->persistedSealed($c, $persisted);
        $this->note($c);
        $this->dump('the companion right after create', $env->companion($this->key));
        $this->dump('a connect result', $env->connect($c, $op, 'public.order:read public.contact:read public.contact:write', $persisted));
        $this->persistedSealed($c, $persisted);
        // The Stora account that consented (fake Stora: GET /2025-09/account).
        $this->assertSame(['id' => $op, 'name' => "Operator $op"], $c->account());
        $this->note($c);
        $this->dump('a GET result', $run($c, ['method' => 'GET', 'path' => '/api/orders']));
        $this->dump('a POST result', $run($c, ['method' => 'POST', 'path' => '/api/contacts', 'headers' => ['content-type' => 'application/json'], 'body' => '{"name":"Ada"}']));
        $env->storaControl('expire_tokens', ['operator' => $op]);
        $this->dump('a result after a refresh', $run($c, ['method' => 'GET', 'path' => '/api/orders']));
        // The request to send: its Authorization header carries the token by design.
        $this->allow = ['broker token'];
        $this->dump('a signed request', $signed = $c->signRequest(['method' => 'GET', 'path' => '/api/orders']));
        $this->allow = [];
        http_send($signed);
        $this->dump('a replay answer', http_send($signed));

        // Forged callbacks carrying the current token (the last one, with
        // the pending state and the token as its code, reaches the broker's
        // connect completion, which refuses it).
        $token = json_decode($c->exportState(), true)['broker_token'];
        parse_str((string) parse_url($c->connectUrl($env->returnUrl), PHP_URL_QUERY), $q);
        foreach ([
            "{$env->returnUrl}&state=forged-state-0123456789&broker_token=$token",
            "{$env->returnUrl}&broker_token=$token",
            "{$env->returnUrl}&state=%ZZ&broker_token=$token%00",
            "{$env->returnUrl}&state=forged-state-0123456789&code=" . rawurlencode($token),
            "{$env->returnUrl}&state={$q['state']}&code=" . rawurlencode($token),
        ] as $cb) {
            $this->fails('a forged callback', fn () => $c->completeConnect($cb, $host->transport(), $host->sleep(), $host->persist()));
        }
        $this->assertSame('connected', $c->status(), 'a failed completion keeps the token');
        $this->assertSame($token, json_decode($c->exportState(), true)['broker_token']);
        $this->note($c);

        // Revoked at Stora; the kill switch.
        $env->storaControl('revoke_grant', ['operator' => $op]);
        $this->fails('a call needing a reconnect', fn () => $run($c, ['method' => 'GET', 'path' => '/api/orders']));
        $this->fails('a call while reconnect is required', fn () => $run($c, ['method' => 'GET', 'path' => '/api/orders']));
        $this->note($c);
        $this->dump('a reconnect result', $env->connect($c, $op));
        $this->assertSame(['id' => $op, 'name' => "Operator $op"], $c->account());
        $id = $c->installId();
        $env->admin('POST', "/admin/installations/$id/disable");
        $this->fails('a call to a disabled installation', fn () => $run($c, ['method' => 'GET', 'path' => '/api/orders']));
        $env->admin('POST', "/admin/installations/$id/enable");
        $env->connect($c, $op);
        $this->note($c);

        // Bad input that holds the secret or the token; a transport that fails.
        $json = $c->exportState();
        $state = json_decode($json, true);
        $secret = $state['installation']['secret'];
        foreach ([
            substr($json, 0, strpos($json, $secret) + 10),
            str_replace("\"$secret\"", "[\"$secret\"]", $json),
            str_replace("\"$secret\"", "\"$secret!!\"", $json),
            str_replace("\"{$state['broker_token']}\"", "{\"{$state['broker_token']}\":1}", $json),
            str_replace('"v":1', "\"v\":\"$secret\"", $json),
        ] as $bad) {
            $this->fails('a corrupt state', fn () => Companion::importState($bad));
        }
        $this->fails('a wrong key', fn () => Companion::openState($c->sealState($this->key), 'another key of 16+ bytes'));
        $this->fails('a plain state given as sealed', fn () => Companion::openState($json, $this->key));
        $this->fails('a bad request', fn () => $run($c, ['method' => 'GET', 'path' => "/api/$secret\n"]));
        $this->fails('a failing transport', fn () => $c->call(
            ['method' => 'GET', 'path' => '/api/orders'],
            static fn (array $req) => throw new \Tessera\Exception\TransportException('down'),
            $host->sleep(),
            $host->persist(),
        ));
        // The caller's own exceptions, thrown while Tessera holds the signed
        // request (transport) or the state to persist (persist), propagate
        // through Tessera's frames. The callables keep their own arguments
        // out of traces, as a careful plugin does.
        $this->propagates('a transport that throws', 'the transport gave up', fn () => $c->call(
            ['method' => 'POST', 'path' => '/api/contacts', 'headers' => ['content-type' => 'application/json'], 'body' => '{"name":"Ada"}'],
            static fn (#[\SensitiveParameter] array $req) => throw new \RuntimeException('the transport gave up'),
        ));
        $this->note($c);
        // register() persists the new secret before its first send.
        $fresh = $env->companion($this->key);
        $this->propagates('a persist that throws', 'the disk is full', fn () => $fresh->register(
            $env->registration(),
            static fn (#[\SensitiveParameter] array $req) => http_send($req),
            null,
            static fn (#[\SensitiveParameter] string $json) => throw new \RuntimeException('the disk is full'),
        ));
        $this->note($fresh);

        // Disconnect, uninstall.
        $this->dump('a disconnect result', $c->disconnect($host->transport(), $host->sleep(), $host->persist()));
        $this->fails('a call when not connected', fn () => $run($c, ['method' => 'GET', 'path' => '/api/orders']));
        $env->connect($c, $op);
        $this->note($c);
        $this->dump('the uninstall link', $c->uninstallUrl());
        $this->dump('an uninstall report', $c->uninstall($host->transport(), $host->sleep(), $host->persist()));
        $this->note($c);

        // Everything the driver handed to $persist on the way (the host's log).
        $this->assertNotEmpty($host->persistedAll);
        $this->persistedSealed($c, $host->persistedAll, false);
        $this->dump('a companion imported with the seal key', Companion::importState($json, $this->key));
        $this->dump('a companion opened with the seal key', Companion::openState($c->sealState($this->key), $this->key));

        // The search.
        [$needles, $leaks, $allowedHits] = $this->search();
        $tokens = count(array_filter($this->held, fn ($k) => $k === 'broker token'));
        $this->assertGreaterThanOrEqual(3, $tokens, 'the lifecycle held several broker tokens');
        $this->assertSame([], $leaks);
        $this->assertGreaterThan(0, $allowedHits, "the signed request's Authorization header was found (the search works)");
        // The search works: the plain state holds the secret and the token.
        $this->assertNotEmpty(array_filter($needles, fn ($n) => $n[0] === 'secret' && str_contains($json, $n[1])));
        $this->assertNotEmpty(array_filter($needles, fn ($n) => $n[0] === 'broker token' && str_contains(print_r(json_decode($json, true), true), $n[1])));
    }

    /**
     * Searches every place recorded (and every sealed state) for every value
     * held, in every form → [needles, leaks, hits where allowed].
     *
     * @return array{0: list<array{0: string, 1: string}>, 1: list<string>, 2: int}
     */
    private function search(string $mode = ''): array
    {
        $needles = [];
        foreach ($this->held as $value => $kind) {
            $value = (string) $value;
            $forms = [$value, rawurlencode($value), urlencode($value), base64_encode($value), bin2hex($value)];
            if ($kind === 'secret') {
                $raw = base64_decode(strtr($value, '-_', '+/'), true);
                $forms = [...$forms, bin2hex($raw), strtoupper(bin2hex($raw)), base64_encode($raw), rawurlencode(base64_encode($raw)), addcslashes($raw, "\0..\37\177..\377")];
            }
            foreach ($forms as $f) {
                if (strlen($f) >= 16) {
                    $needles[] = [$kind, $f];
                }
            }
        }
        $this->assertNotEmpty(array_filter($needles, fn ($n) => $n[0] === 'seal key'), 'the seal key is searched for');
        $places = $this->places;
        foreach ($this->sealed as $i => $s) {
            $places[] = ["sealed state #$i", $s, []];
        }
        $leaks = [];
        $allowedHits = 0;
        foreach ($places as [$place, $text, $allow]) {
            foreach ($needles as [$kind, $needle]) {
                if (!str_contains($text, $needle)) {
                    continue;
                }
                if (in_array($kind, $allow, true)) {
                    $allowedHits++;
                } else {
                    $leaks[] = "$kind in $place: " . substr($text, 0, 200);
                }
            }
            // A Stora code or token: allowed only where a token or the code is.
            if (str_contains($text, Env::STORA_CANARY) && array_intersect($allow, ['canary', 'access token', 'refresh token']) === []) {
                $leaks[] = "a Stora code or token in $place";
            }
        }
        fwrite(STDERR, sprintf("\nsecrets (php, %s%s%s): %d places x %d needles, %d frames inside Tessera; %d leaks\n", impl(), $mode, $this->devArgs ? ', frame arguments kept' : '', count($places), count($needles) + 1, $this->tesseraFrames, count($leaks)));
        return [$needles, $leaks, $allowedHits];
    }
}

/** debug_zval_dump, which warns on some internal objects; the output is what matters. */
function debug_zval_refcount_safe(mixed $value): void
{
    @debug_zval_dump($value);
}

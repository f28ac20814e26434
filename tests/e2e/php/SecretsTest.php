<?php

declare(strict_types=1);

namespace Tessera\E2E;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\TesseraException;

/**
 * Secrets never leak from the PHP extension (issue 8, "Hardening"): the whole
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
 * to openState(), the callback URL passed to completeConnect()), as
 * php-ext/README.md says.
 *
 * toJson() returns the state by design (what a plugin persists): it must be
 * sealed before storage, so the sealed form is searched; the plain form is
 * checked to hold the secret (the search works).
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
        if ($value instanceof \Throwable) {
            $this->places[] = ["(string) $place", (string) $value];
            $this->places[] = ["message $place", $value->getMessage()];
            $this->places[] = ["trace $place", $value->getTraceAsString()];
            $this->places[] = ["log line $place", sprintf('%s: %s in %s:%d', get_class($value), $value->getMessage(), $value->getFile(), $value->getLine())];
        }
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

    private function note(Companion $c): void
    {
        $state = json_decode($c->toJson(), true);
        if (isset($state['installation']['secret'])) {
            $this->held[$state['installation']['secret']] = 'secret';
        }
        if (isset($state['broker_token'])) {
            $this->held[$state['broker_token']] = 'broker token';
        }
        $this->sealed[] = $c->sealState($this->key);
        $this->dump('the companion', $c);
    }

    public function testNoSecretOrTokenInExceptionsResultsOrDumps(): void
    {
        $ignore = ini_get('zend.exception_ignore_args');
        ini_set('zend.exception_ignore_args', '1');
        try {
            $this->lifecycleAndSearch();
        } finally {
            ini_set('zend.exception_ignore_args', (string) $ignore);
        }
    }

    private function lifecycleAndSearch(): void
    {
        $env = Env::get();
        $host = new Host();
        $this->key = random_bytes(32);
        $op = 'opr_php_secrets';
        $run = fn (Companion $c, array $req) => $c->call($req, $host->transport(), $host->sleep(), $host->persist());

        $c = $env->companion();
        $env->register($c);
        $this->note($c);
        $env->connect($c, $op, 'orders:read contacts:read contacts:write');
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

        // Forged callbacks carrying the current token.
        $token = json_decode($c->toJson(), true)['broker_token'];
        $c->connectUrl($env->returnUrl);
        foreach ([
            "{$env->returnUrl}&state=forged-state-0123456789&broker_token=$token",
            "{$env->returnUrl}&broker_token=$token",
            "{$env->returnUrl}&state=%ZZ&broker_token=$token%00",
        ] as $cb) {
            $this->fails('a forged callback', fn () => $c->completeConnect($cb));
        }
        $this->note($c);

        // Revoked at Stora; the kill switch.
        $env->storaControl('revoke_grant', ['operator' => $op]);
        $this->fails('a call needing a reconnect', fn () => $run($c, ['method' => 'GET', 'path' => '/api/orders']));
        $this->fails('a call while reconnect is required', fn () => $run($c, ['method' => 'GET', 'path' => '/api/orders']));
        $this->note($c);
        $env->connect($c, $op);
        $id = $c->installId();
        $env->admin('POST', "/admin/installations/$id/disable");
        $this->fails('a call to a disabled installation', fn () => $run($c, ['method' => 'GET', 'path' => '/api/orders']));
        $env->admin('POST', "/admin/installations/$id/enable");
        $env->connect($c, $op);
        $this->note($c);

        // Bad input that holds the secret or the token; a transport that fails.
        $json = $c->toJson();
        $state = json_decode($json, true);
        $secret = $state['installation']['secret'];
        foreach ([
            substr($json, 0, strpos($json, $secret) + 10),
            str_replace("\"$secret\"", "[\"$secret\"]", $json),
            str_replace("\"$secret\"", "\"$secret!!\"", $json),
            str_replace("\"{$state['broker_token']}\"", "{\"{$state['broker_token']}\":1}", $json),
            str_replace('"v":1', "\"v\":\"$secret\"", $json),
        ] as $bad) {
            $this->fails('a corrupt state', fn () => Companion::fromJson($bad));
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
        $this->note($c);

        // Disconnect, uninstall.
        $this->dump('a disconnect result', $c->disconnect($host->transport(), $host->sleep(), $host->persist()));
        $this->fails('a call when not connected', fn () => $run($c, ['method' => 'GET', 'path' => '/api/orders']));
        $env->connect($c, $op);
        $this->note($c);
        $this->dump('the uninstall link', $c->uninstallUrl());
        $this->dump('an uninstall report', $c->uninstall($host->transport(), $host->sleep(), $host->persist()));
        $this->note($c);

        // The search.
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
        $tokens = count(array_filter($this->held, fn ($k) => $k === 'broker token'));
        $this->assertGreaterThanOrEqual(3, $tokens, 'the lifecycle held several broker tokens');
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
            if (str_contains($text, Env::STORA_CANARY)) {
                $leaks[] = "a Stora token in $place";
            }
        }
        fwrite(STDERR, sprintf("\nsecrets (php): %d places x %d needles; %d leaks\n", count($places), count($needles) + 1, count($leaks)));
        $this->assertSame([], $leaks);
        $this->assertGreaterThan(0, $allowedHits, "the signed request's Authorization header was found (the search works)");
        // The search works: the plain state holds the secret and the token.
        $this->assertNotEmpty(array_filter($needles, fn ($n) => $n[0] === 'secret' && str_contains($json, $n[1])));
        $this->assertNotEmpty(array_filter($needles, fn ($n) => $n[0] === 'broker token' && str_contains(print_r(json_decode($json, true), true), $n[1])));
    }
}

/** debug_zval_dump, which warns on some internal objects; the output is what matters. */
function debug_zval_refcount_safe(mixed $value): void
{
    @debug_zval_dump($value);
}

<?php

declare(strict_types=1);

namespace Tessera\E2E;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\ReconnectRequiredException;

/**
 * Authorization-proxy mode end to end from PHP (the extension, or pure PHP
 * with TESSERA_IMPL=pure) against tessera-proxy-env (fake Stora + reference
 * proxy + site) over real HTTP: connect, calls straight to Stora, expiry →
 * one refresh, N concurrent PHP processes of one "WordPress site" (one state
 * file, one lock) → one refresh per expiry and none bricked, revoke at Stora
 * → reconnect, disconnect, uninstall.
 */
final class ProxyTest extends TestCase
{
    private const WORKERS = 6;

    /** A site's storage: the option row (a file) and its refresh lock (flock, as GET_LOCK). */
    private static function site(string $dir): array
    {
        $state = "$dir/state.json";
        $held = [];
        $persist = function (string $json) use ($state): void {
            $tmp = "$state." . getmypid() . '.tmp';
            file_put_contents($tmp, $json);
            rename($tmp, $state);
        };
        $lock = function (string $name) use ($dir, $state, &$held): ?string {
            $fh = fopen("$dir/$name.lock", 'c');
            $deadline = microtime(true) + 20;
            while (!flock($fh, LOCK_EX | LOCK_NB)) {
                if (microtime(true) > $deadline) {
                    fclose($fh);
                    return null;
                }
                usleep(5000);
            }
            $held[$name] = $fh;
            return (string) file_get_contents($state);
        };
        $unlock = function (string $name) use (&$held): void {
            flock($held[$name], LOCK_UN);
            fclose($held[$name]);
            unset($held[$name]);
        };
        return [$persist, $lock, $unlock, $state];
    }

    private static function companion(Env $env, string $state, callable $lock, callable $unlock): Companion
    {
        $c = Companion::importState((string) file_get_contents($state));
        $c->setRefreshLock($lock, $unlock);
        return $c;
    }

    public function testProxyModeEndToEnd(): void
    {
        $env = Env::proxy();
        $dir = sys_get_temp_dir() . '/tessera-proxy-e2e-' . getmypid();
        @mkdir($dir);
        [$persist, $lock, $unlock, $state] = self::site($dir);
        $send = fn (array $req): array => http_send($req);
        $sleep = fn (int $ms) => usleep($ms * 1000);
        $operator = 'opr_php_proxy';

        $c = Companion::create(['broker_url' => $env->broker, 'proxy' => ['stora_api_url' => $env->storaApi]]);
        $c->setRefreshLock($lock, $unlock);
        $this->assertSame(['outcome' => 'registered'], $env->register($c));
        $persist($c->exportState()); // the site's option row (Env's helpers keep their own copies)
        $env->connect($c, $operator);
        $this->assertSame('connected', $c->status());
        $persist($c->exportState());

        // Straight to Stora.
        $this->assertSame(200, $c->call(['method' => 'GET', 'path' => '/api/account'], $send, $sleep, $persist)['status']);
        $this->assertNotEmpty($env->storaRequests('/2025-09/account'));

        // N PHP processes of the same site, all refused by Stora at once.
        $env->storaControl('expire_tokens', ['operator' => $operator]);
        $before = $env->storaCounters();
        $results = $this->concurrently($env, $dir, $state, $lock, $unlock);
        $after = $env->storaCounters();
        $failed = array_filter($results, fn ($r) => $r !== '200');
        fwrite(STDERR, sprintf("\nconcurrent refresh (PHP %s): %d processes, %d refresh at Stora, %d failed\n",
            getenv('TESSERA_IMPL') ?: 'ext', self::WORKERS, $after['refreshes'] - $before['refreshes'], count($failed)));
        $this->assertSame([], $failed);
        $this->assertSame(1, $after['refreshes'] - $before['refreshes'], 'one refresh per expiry');
        $this->assertSame($before['invalid_grants'], $after['invalid_grants'], 'no rotated token sent again');

        // Revoked at Stora → reconnect_required.
        $c = self::companion($env, $state, $lock, $unlock);
        $env->storaControl('revoke_grant', ['operator' => $operator]);
        try {
            $c->call(['method' => 'GET', 'path' => '/api/account'], $send, $sleep, $persist);
            $this->fail('expected reconnect_required');
        } catch (ReconnectRequiredException $e) {
            $this->assertSame('invalid_grant', $e->getReason());
        }
        // Reconnect, disconnect (revoked at Stora), uninstall.
        $env->connect($c, $operator);
        $persist($c->exportState());
        $revokes = $env->storaCounters()['revokes'];
        $this->assertSame('ok', $c->disconnect($send, $sleep, $persist)['remote']['result']);
        $this->assertSame($revokes + 1, $env->storaCounters()['revokes']);
        $this->assertSame('ok', $c->uninstall($send, $sleep, $persist)['deregister']['result']);
        array_map('unlink', glob("$dir/*"));
        rmdir($dir);
    }

    /** @return list<string> each process's outcome: the status, or the exception */
    private function concurrently(Env $env, string $dir, string $state, callable $lock, callable $unlock): array
    {
        if (!function_exists('pcntl_fork')) {
            $this->markTestSkipped('pcntl is not available');
        }
        $start = microtime(true) + 0.3;
        $pids = [];
        for ($i = 0; $i < self::WORKERS; $i++) {
            $pid = pcntl_fork();
            if ($pid === 0) {
                time_sleep_until($start);
                [$persist] = self::site($dir);
                try {
                    $c = self::companion($env, $state, $lock, $unlock);
                    $r = $c->call(['method' => 'GET', 'path' => '/api/account'], fn (array $req): array => http_send($req), fn (int $ms) => usleep($ms * 1000), $persist);
                    file_put_contents("$dir/out.$i", (string) $r['status']);
                } catch (\Throwable $e) {
                    file_put_contents("$dir/out.$i", get_class($e) . ': ' . $e->getMessage());
                }
                if (function_exists('posix_kill')) {
                    posix_kill(getmypid(), SIGKILL);
                }
                pcntl_exec('/bin/true');
            }
            $pids[] = $pid;
        }
        foreach ($pids as $pid) {
            pcntl_waitpid($pid, $status);
        }
        $out = [];
        for ($i = 0; $i < self::WORKERS; $i++) {
            $out[] = (string) @file_get_contents("$dir/out.$i");
            @unlink("$dir/out.$i");
        }
        return $out;
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\InvalidInputException;
use Tessera\Exception\ReconnectRequiredException;
use Tessera\Exception\ServerUnavailableException;
use Tessera\Exception\TesseraException;

/**
 * Authorization-proxy mode (docs/PROTOCOL.md §13) as a PHP host sees it: the
 * `proxy` configuration key, `setRefreshLock()` (required before `call()`
 * and `callAndRecord()`), the lock released when the operation is abandoned,
 * and the Stora tokens kept out of every dump and message. The machine's
 * own behaviour is MachineTest's (tests/vectors/machine-proxy.json).
 */
final class ProxyModeTest extends TestCase
{
    private const PROXY = 'https://proxy.example';
    private const STORA = 'https://api.stora.example/2025-09';
    private const ACCESS = 'at_ProxyModeTestAccessToken0123456789';
    private const REFRESH = 'rt_ProxyModeTestRefreshToken0123456789';
    private const EXPIRES_AT = 1700003600;

    /**
     * A connected proxy-mode companion (the state of the script "proxy: call
     * with a fresh token", with this test's tokens) whose clock reads $now.
     */
    private static function connected(int $now): Companion
    {
        $doc = json_decode((string) file_get_contents(VECTORS . '/machine-proxy.json'), true, 512, JSON_THROW_ON_ERROR);
        $state = array_values(array_filter($doc['scripts'], fn ($s) => $s['name'] === 'proxy: call with a fresh token'))[0]['state'];
        $state = str_replace(['"at_1"', '"rt_1"'], ['"' . self::ACCESS . '"', '"' . self::REFRESH . '"'], $state, $count);
        self::assertSame(2, $count, 'the script state holds at_1 and rt_1');
        $c = Companion::importState($state);
        \Tessera\Testing\useClock($c, fn (): int => $now);
        return $c;
    }

    /** The message of the exception `create()` throws for $config. */
    private static function configError(array $config): string
    {
        try {
            Companion::create($config);
        } catch (TesseraException $e) {
            return $e->getErrorCode() === 'invalid_input' ? $e->getMessage() : "{$e->getErrorCode()}: {$e->getMessage()}";
        }
        self::fail('create() accepted ' . json_encode($config));
    }

    public function testTheProxyKeyConfiguresProxyModeWithTheCoreDefaults(): void
    {
        $c = Companion::create(['broker_url' => self::PROXY, 'proxy' => ['stora_api_url' => self::STORA]]);
        $state = json_decode($c->exportState(), true);
        $this->assertSame(
            ['stora_api_url' => self::STORA, 'refresh_margin_secs' => 120, 'token' => '/token', 'refresh' => '/refresh', 'revoke' => '/revoke'],
            $state['config']['proxy'],
        );
        $c = Companion::create(['broker_url' => self::PROXY, 'proxy' => [
            'stora_api_url' => self::STORA, 'refresh_margin_secs' => 300, 'token' => '/t', 'refresh' => '/r', 'revoke' => '/v',
        ]]);
        $this->assertSame(
            ['stora_api_url' => self::STORA, 'refresh_margin_secs' => 300, 'token' => '/t', 'refresh' => '/r', 'revoke' => '/v'],
            json_decode($c->exportState(), true)['config']['proxy'],
        );
        // Broker mode has no proxy member at all.
        $this->assertArrayNotHasKey('proxy', json_decode(Companion::create(['broker_url' => self::PROXY])->exportState(), true)['config']);
    }

    public function testProxyConfigErrorsNameTheKey(): void
    {
        $base = ['broker_url' => self::PROXY];
        $this->assertSame(
            'unknown key `config.proxy.storaApiUrl`; did you mean `stora_api_url`?',
            self::configError($base + ['proxy' => ['storaApiUrl' => self::STORA]]),
        );
        $this->assertSame('unknown key `config.proxy.lock`', self::configError($base + ['proxy' => ['stora_api_url' => self::STORA, 'lock' => 'x']]));
        $this->assertSame('missing key `config.proxy.stora_api_url` (a string)', self::configError($base + ['proxy' => []]));
        $this->assertSame('`config.proxy` must be an array, got string', self::configError($base + ['proxy' => self::STORA]));
        $this->assertSame(
            '`config.proxy.refresh_margin_secs` must be an int, got string',
            self::configError($base + ['proxy' => ['stora_api_url' => self::STORA, 'refresh_margin_secs' => '120']]),
        );
        $this->assertSame(
            '`config.proxy.refresh_margin_secs` must not be negative',
            self::configError($base + ['proxy' => ['stora_api_url' => self::STORA, 'refresh_margin_secs' => -1]]),
        );
        $this->assertSame('`config.proxy.token` must be a string, got int', self::configError($base + ['proxy' => ['stora_api_url' => self::STORA, 'token' => 7]]));
        // The core's own checks name the key too.
        $this->assertStringContainsString(
            'refresh_margin_secs',
            self::configError($base + ['proxy' => ['stora_api_url' => self::STORA, 'refresh_margin_secs' => 3601]]),
        );
        $this->assertStringContainsString('stora_api_url', self::configError($base + ['proxy' => ['stora_api_url' => 'not a url']]));
        $this->assertStringStartsWith('insecure_broker_url', self::configError($base + ['proxy' => ['stora_api_url' => 'http://api.stora.example/2025-09']]));
    }

    public function testCallWithoutSetRefreshLockFailsBeforeAnyAction(): void
    {
        $c = self::connected(1700000000);
        $before = $c->exportState();
        $acted = [];
        $transport = function (array $r) use (&$acted): array {
            $acted[] = 'send';
            return ['status' => 200, 'headers' => [], 'body' => '[]'];
        };
        $sleep = function (int $ms) use (&$acted): void {
            $acted[] = 'sleep';
        };
        $persist = function (string $s) use (&$acted): void {
            $acted[] = 'persist';
        };
        $event = ['source_id' => 'src_1', 'template_id' => 'tpl_1', 'external_url' => 'https://shop.example/units/1'];
        foreach ([
            'call' => fn () => $c->call(['method' => 'GET', 'path' => '/api/units'], $transport, $sleep, $persist),
            'callAndRecord' => fn () => $c->callAndRecord(['method' => 'POST', 'path' => '/api/units', 'body' => '{}'], $event, $transport, $sleep, $persist),
        ] as $method => $run) {
            try {
                $run();
                $this->fail("$method() ran in proxy mode without setRefreshLock()");
            } catch (InvalidInputException $e) {
                $this->assertSame('invalid_input', $e->getErrorCode(), $method);
                $this->assertStringContainsString('setRefreshLock', $e->getMessage(), $method);
            }
        }
        $this->assertSame([], $acted);
        $this->assertSame($before, $c->exportState());
        // With the lock given, the same call goes straight to Stora (the token is fresh: no lock taken).
        $locks = [];
        $c->setRefreshLock(function (string $n) use (&$locks): ?string {
            $locks[] = "lock $n";
            return null;
        }, function (string $n) use (&$locks): void {
            $locks[] = "unlock $n";
        });
        $sent = [];
        $response = $c->call(['method' => 'GET', 'path' => '/api/units'], function (array $r) use (&$sent): array {
            $sent[] = $r;
            return ['status' => 200, 'headers' => [], 'body' => '[]'];
        });
        $this->assertSame('[]', $response['body']);
        $this->assertSame([], $locks);
        $this->assertSame(self::STORA . '/units', $sent[0]['url']);
        $this->assertSame('Bearer ' . self::ACCESS, $sent[0]['headers']['authorization']);
    }

    public function testBrokerModeNeedsNoRefreshLock(): void
    {
        [$c] = connected();
        $t = new FakeTransport([response(200, ['ok' => true])]);
        $this->assertSame(200, $c->call(['method' => 'GET', 'path' => '/api/x'], $t)['status']);
    }

    /**
     * @return array{Companion, list<string>} a companion whose token is
     *   about to expire, with a refresh lock that records what it is asked
     */
    private static function expiring(?bool $grant = true): array
    {
        $c = self::connected(self::EXPIRES_AT - 60);
        $log = new \ArrayObject();
        // A weak reference: a lock closure holding its own companion would be a
        // reference cycle, which the extension's objects do not let PHP's cycle
        // collector see (php-ext/README.md, setRefreshLock()).
        $self = \WeakReference::create($c);
        $c->setRefreshLock(function (string $name) use ($self, $log, $grant): ?string {
            $log[] = "lock $name";
            return $grant ? $self->get()->exportState() : null;
        }, function (string $name) use ($log): void {
            $log[] = "unlock $name";
        });
        return [$c, $log];
    }

    public function testTheLockIsReleasedWhenTheTransportThrowsMidRefresh(): void
    {
        [$c, $log] = self::expiring();
        $name = 'tessera-refresh-' . $c->installId();
        $sent = [];
        try {
            $c->call(['method' => 'GET', 'path' => '/api/units'], function (array $r) use (&$sent): array {
                $sent[] = $r['url'];
                throw new \RuntimeException('the host gave up');
            }, null, fn (string $s) => null);
            $this->fail('the host exception was swallowed');
        } catch (\RuntimeException $e) {
            $this->assertSame('the host gave up', $e->getMessage());
        }
        $this->assertSame([self::PROXY . '/refresh'], $sent);
        $this->assertSame(["lock $name", "unlock $name"], $log->getArrayCopy());
        // Nothing changed: the old pair is still held, nothing is retired.
        $this->assertSame(self::ACCESS, json_decode($c->exportState(), true)['tokens']['access_token']);
        $this->assertArrayNotHasKey('retired_refresh', json_decode($c->exportState(), true));
    }

    public function testALostRefreshAnswerUnlocksOnceAndFails(): void
    {
        [$c, $log] = self::expiring();
        $name = 'tessera-refresh-' . $c->installId();
        try {
            $c->call(['method' => 'GET', 'path' => '/api/units'], fn (array $r) => throw transport_error(), null, fn (string $s) => null);
            $this->fail('a lost refresh answer succeeded');
        } catch (ServerUnavailableException $e) {
            $this->assertSame('server_unavailable', $e->getErrorCode());
        }
        $this->assertSame(["lock $name", "unlock $name"], $log->getArrayCopy());
    }

    public function testALockNotTakenInTimeFailsWithLockUnavailable(): void
    {
        [$c, $log] = self::expiring(false);
        $sent = 0;
        try {
            $c->call(['method' => 'GET', 'path' => '/api/units'], function (array $r) use (&$sent): array {
                $sent++;
                return ['status' => 200, 'headers' => [], 'body' => '[]'];
            });
            $this->fail('a call went on without the lock');
        } catch (ServerUnavailableException $e) {
            $this->assertSame('lock_unavailable', $e->getErrorCode());
        }
        $this->assertSame(0, $sent);
        $this->assertSame(['lock tessera-refresh-' . $c->installId()], $log->getArrayCopy());
    }

    public function testARefreshUnderTheLockPersistsBeforeUnlocking(): void
    {
        [$c, $log] = self::expiring();
        $answers = [
            ['status' => 200, 'headers' => ['content-type' => 'application/json'], 'body' => json_encode(['access_token' => 'at_new', 'refresh_token' => 'rt_new', 'expires_in' => 3600, 'scope' => 'units:read'])],
            ['status' => 200, 'headers' => [], 'body' => '[]'],
        ];
        $sent = [];
        $transport = function (array $r) use (&$sent, &$answers, $log): array {
            $sent[] = $r;
            $log[] = 'send';
            return array_shift($answers);
        };
        $c->call(['method' => 'GET', 'path' => '/api/units'], $transport, null, function (string $s) use ($log): void {
            $log[] = 'persist ' . json_decode($s, true)['tokens']['access_token'];
        });
        $name = 'tessera-refresh-' . $c->installId();
        $this->assertSame(["lock $name", 'send', 'persist at_new', "unlock $name", 'send'], $log->getArrayCopy());
        $this->assertSame(self::PROXY . '/refresh', $sent[0]['url']);
        $this->assertSame(json_encode(['refresh_token' => self::REFRESH]), $sent[0]['body']);
        $this->assertArrayNotHasKey('authorization', $sent[0]['headers']);
        $this->assertSame('Bearer at_new', $sent[1]['headers']['authorization']);
    }

    public function testALockCallableThatReturnsAnythingButAStringOrNullIsRefusedAndReleased(): void
    {
        $c = self::connected(self::EXPIRES_AT - 60);
        $log = [];
        $c->setRefreshLock(function (string $n) use (&$log) {
            $log[] = 'lock';
            return 42;
        }, function (string $n) use (&$log): void {
            $log[] = 'unlock';
        });
        try {
            $c->call(['method' => 'GET', 'path' => '/api/units'], fn (array $r) => $this->fail('sent'));
            $this->fail('a lock returning 42 was accepted');
        } catch (\TypeError | InvalidInputException $e) {
            $this->assertStringContainsString('lock', $e->getMessage());
        }
        // The callable returned: the lock is held, and released before the refusal goes on.
        $this->assertSame(['lock', 'unlock'], $log);
    }

    public function testTokensNeverShowInDumpsOrExceptions(): void
    {
        [$c] = self::expiring();
        $shown = [];
        ob_start();
        var_dump($c);
        debug_zval_dump($c);
        $shown[] = (string) ob_get_clean();
        $shown[] = print_r($c, true);
        $shown[] = var_export($c, true);
        $shown[] = (string) json_encode($c);
        $shown[] = print_r((array) $c, true);
        $shown[] = print_r(get_object_vars($c), true);
        // Exceptions from proxy mode: the fail-fast refusal, an invalid_grant
        // refresh, Stora refusing the call, a lost answer.
        $fresh = self::connected(1700000000);
        try {
            $fresh->call(['method' => 'GET', 'path' => '/api/units'], fn (array $r) => []);
            $this->fail('no setRefreshLock, no refusal');
        } catch (TesseraException $e) {
            $shown[] = self::describe($e);
        }
        $failures = [
            fn () => response(400, ['error' => 'invalid_grant', 'error_description' => 'the refresh token is unknown']),
            fn () => throw transport_error('refresh lost'),
        ];
        foreach ($failures as $failure) {
            [$c] = self::expiring();
            try {
                $c->call(['method' => 'GET', 'path' => '/api/units'], fn (array $r) => $failure(), null, fn (string $s) => null);
                $this->fail('the refresh succeeded');
            } catch (TesseraException $e) {
                $shown[] = self::describe($e);
            }
        }
        $fresh->setRefreshLock(fn (string $n): ?string => null, fn (string $n) => null);
        try {
            $fresh->call(['method' => 'GET', 'path' => '/api/units'], fn (array $r) => response(403, ['error' => 'forbidden', 'token' => 'x']));
            $this->fail('a 403 succeeded');
        } catch (TesseraException $e) {
            $shown[] = self::describe($e);
        }
        $this->assertCount(10, $shown);
        foreach ($shown as $i => $text) {
            $this->assertStringNotContainsString(self::ACCESS, $text, "shown[$i]");
            $this->assertStringNotContainsString(self::REFRESH, $text, "shown[$i]");
            $this->assertStringNotContainsString('ProxyModeTest' . 'AccessToken', $text, "shown[$i]");
        }
    }

    /** Everything an exception shows, its previous ones included. */
    private static function describe(\Throwable $e): string
    {
        $out = '';
        for ($x = $e; $x !== null; $x = $x->getPrevious()) {
            $out .= $x->getMessage() . "\n" . $x . "\n" . print_r($x, true) . "\n" . var_export($x, true) . "\n";
        }
        return $out;
    }

    public function testInvalidGrantAsksForAReconnect(): void
    {
        [$c, $log] = self::expiring();
        // While the pair is held, the account shows (there is no broker token in this mode).
        $this->assertSame(['id' => 'op_7', 'name' => 'Acme Self Storage'], $c->account());
        try {
            $c->call(['method' => 'GET', 'path' => '/api/units'], fn (array $r) => response(400, ['error' => 'invalid_grant']), null, fn (string $s) => null);
            $this->fail('invalid_grant succeeded');
        } catch (ReconnectRequiredException $e) {
            $this->assertSame('reconnect_required', $e->getErrorCode());
        }
        $this->assertSame('reconnect_required', $c->status());
        $this->assertSame('invalid_grant', $c->reconnectReason());
        $this->assertNull($c->account(), 'a lost grant shows no connected account');
        $this->assertCount(2, $log);
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\InvalidInputException;
use Tessera\Exception\ReconnectRequiredException;
use Tessera\Exception\StateUndecryptableException;

/**
 * Hosts get what they store (security issue 14): with a seal key (given to
 * `create()`, `importState()` or kept by `openState()`) every `$persist`
 * callable receives the state sealed under it, which `openState($v, $key)`
 * reopens to the companion's `exportState()` and which never holds the
 * secret or the broker token; without one it receives the state JSON. The
 * key never shows in dumps of the companion.
 */
final class SealKeyTest extends TestCase
{
    private const KEY = 'wp-logged-in-key|wp-logged-in-salt|seal';

    /**
     * Checks every persisted value: a sealed blob that opens with KEY (and
     * no other), holds none of $secrets, and the last of which is the
     * companion's current state.
     *
     * @param list<string> $persisted
     * @param list<string> $secrets
     */
    private function assertPersistedSealed(Companion $c, array $persisted, array $secrets): void
    {
        $this->assertNotEmpty($persisted, 'something was persisted');
        foreach ($persisted as $i => $v) {
            $this->assertStringStartsWith('tsv1.', $v, "persisted #$i is sealed");
            $this->assertNull(json_decode($v), "persisted #$i is not JSON");
            foreach ([...$secrets, self::KEY] as $s) {
                $this->assertStringNotContainsString($s, $v, "persisted #$i");
            }
            $opened = Companion::openState($v, self::KEY);
            $this->assertSame(json_decode($opened->exportState(), true)['v'], 1);
            try {
                Companion::openState($v, 'another key material, 16+ bytes');
                $this->fail('a sealed state opened with another key');
            } catch (StateUndecryptableException $e) {
                $this->assertSame('state_undecryptable', $e->getErrorCode());
            }
        }
        $this->assertSame($c->exportState(), Companion::openState(end($persisted), self::KEY)->exportState());
        $this->assertCount(count($persisted), array_unique($persisted), 'a fresh nonce each time');
    }

    /** @param list<string> $persisted */
    private function assertPersistedJson(Companion $c, array $persisted): void
    {
        $this->assertNotEmpty($persisted);
        foreach ($persisted as $i => $v) {
            $this->assertIsArray(json_decode($v, true), "persisted #$i is the state JSON");
            $this->assertSame($v, Companion::importState($v)->exportState());
        }
        $this->assertSame($c->exportState(), end($persisted));
    }

    public function testCreateWithASealKeySealsEveryPersist(): void
    {
        $c = Companion::create(['broker_url' => BROKER], self::KEY);
        $t = new FakeTransport([['status' => 201, 'headers' => [], 'body' => '{}']]);
        $r = new Recorder();
        $this->assertSame(['outcome' => 'registered'], $c->register(REGISTRATION, $t, $r->sleep(), $r->persist()));
        $secret = json_decode($t->requests[0]['body'], true)['secret'];
        // The new secret is persisted (sealed) before the POST, then the confirmation.
        $this->assertCount(2, $r->persisted);
        $this->assertSame('registration_pending', json_decode(Companion::openState($r->persisted[0], self::KEY)->exportState(), true)['status']);
        $this->assertPersistedSealed($c, $r->persisted, [$secret]);

        // Connect: the consumed attempt, then the token and the account.
        $r = new Recorder();
        $c->completeConnect(callback_url(state_of($c->connectUrl(RETURN_URL))), connect_transport('btk_sealed_token'), $r->sleep(), $r->persist());
        $this->assertSame('connected', $c->status());
        $this->assertPersistedSealed($c, $r->persisted, [$secret, 'btk_sealed_token']);
        $this->assertSame('btk_sealed_token', json_decode(Companion::openState(end($r->persisted), self::KEY)->exportState(), true)['broker_token']);

        // A call that learns the clock offset persists it; one that needs a reconnect persists that.
        $r = new Recorder();
        $now = time();
        $skewed = gmdate('D, d M Y H:i:s', $now + 3600) . ' GMT';
        $t = new FakeTransport([response(401, ['error' => 'signature_expired'], ['Date' => $skewed]), response(200, ['ok' => true])]);
        $c->call(['method' => 'GET', 'path' => '/api/orders'], $t, $r->sleep(), $r->persist());
        $this->assertNotSame(0, $c->clockOffset());
        $this->assertPersistedSealed($c, $r->persisted, [$secret, 'btk_sealed_token']);
        $r = new Recorder();
        try {
            $c->call(['method' => 'GET', 'path' => '/api/orders'], new FakeTransport([response(401, ['error' => 'stora_reconnect_required'])]), $r->sleep(), $r->persist());
            $this->fail('expected ReconnectRequiredException');
        } catch (ReconnectRequiredException $e) {
            $this->assertSame('reconnect_required', $e->getErrorCode());
        }
        $this->assertPersistedSealed($c, $r->persisted, [$secret, 'btk_sealed_token']);

        // Disconnect, uninstall.
        $c->connectUrl(RETURN_URL);
        $r = new Recorder();
        $c->completeConnect(callback_url(state_of($c->connectUrl(RETURN_URL))), connect_transport('btk_second_token'), $r->sleep(), $r->persist());
        $this->assertPersistedSealed($c, $r->persisted, [$secret, 'btk_second_token']);
        $r = new Recorder();
        $c->disconnect(new FakeTransport([['status' => 204]]), $r->sleep(), $r->persist());
        $this->assertSame('registered', $c->status());
        $this->assertPersistedSealed($c, $r->persisted, [$secret, 'btk_second_token']);
        $r = new Recorder();
        $c->uninstall(new FakeTransport([['status' => 204]]), $r->sleep(), $r->persist());
        $this->assertSame('not_registered', $c->status());
        $this->assertPersistedSealed($c, $r->persisted, [$secret]);
    }

    public function testImportStateWithASealKeySealsWhatItPersists(): void
    {
        [$plain, $secret] = connected();
        $c = Companion::importState($plain->exportState(), self::KEY);
        $r = new Recorder();
        $c->disconnect(new FakeTransport([['status' => 204]]), $r->sleep(), $r->persist());
        $this->assertPersistedSealed($c, $r->persisted, [$secret, 'btk_test_token']);
        // The same operations without a key hand over the JSON.
        $r = new Recorder();
        $plain->disconnect(new FakeTransport([['status' => 204]]), $r->sleep(), $r->persist());
        $this->assertPersistedJson($plain, $r->persisted);
        $this->assertSame($plain->exportState(), $c->exportState());
    }

    public function testOpenStateKeepsItsKeyAsTheSealKey(): void
    {
        [$plain, $secret] = connected();
        $c = Companion::openState($plain->sealState(self::KEY), self::KEY);
        $r = new Recorder();
        $c->uninstall(new FakeTransport([['status' => 204], ['status' => 204]]), $r->sleep(), $r->persist());
        $this->assertPersistedSealed($c, $r->persisted, [$secret, 'btk_test_token']);
        // Reopened from what was persisted, it still seals.
        [$other, $secret] = registered();
        $r = new Recorder();
        $d = Companion::openState($other->sealState(self::KEY), self::KEY);
        $d->completeConnect(callback_url(state_of($d->connectUrl(RETURN_URL))), connect_transport('btk_opened'), $r->sleep(), $r->persist());
        $e = Companion::openState(end($r->persisted), self::KEY);
        $r2 = new Recorder();
        $e->disconnect(new FakeTransport([['status' => 204]]), $r2->sleep(), $r2->persist());
        $this->assertPersistedSealed($e, $r2->persisted, [$secret, 'btk_opened']);
    }

    public function testWithoutASealKeyPersistGetsTheJson(): void
    {
        $c = Companion::create(['broker_url' => BROKER]);
        $r = new Recorder();
        $c->register(REGISTRATION, new FakeTransport([['status' => 201, 'headers' => [], 'body' => '{}']]), $r->sleep(), $r->persist());
        $this->assertPersistedJson($c, $r->persisted);
        $r = new Recorder();
        $d = Companion::importState($c->exportState());
        $d->completeConnect(callback_url(state_of($d->connectUrl(RETURN_URL))), connect_transport(), $r->sleep(), $r->persist());
        $this->assertPersistedJson($d, $r->persisted);
        $r = new Recorder();
        $d = Companion::importState($d->exportState(), null);
        $d->disconnect(new FakeTransport([['status' => 204]]), $r->sleep(), $r->persist());
        $this->assertPersistedJson($d, $r->persisted);
    }

    public function testShortOrWrongSealKeysAreRefused(): void
    {
        [$c] = registered();
        $json = $c->exportState();
        foreach ([
            'create, 15 bytes' => fn () => Companion::create(['broker_url' => BROKER], str_repeat('k', 15)),
            'create, empty' => fn () => Companion::create(['broker_url' => BROKER], ''),
            'create, an int' => fn () => Companion::create(['broker_url' => BROKER], 1234567890123456),
            'create, an array' => fn () => Companion::create(['broker_url' => BROKER], [self::KEY]),
            'importState, 15 bytes' => fn () => Companion::importState($json, str_repeat('k', 15)),
            'importState, empty' => fn () => Companion::importState($json, ''),
            'importState, an object' => fn () => Companion::importState($json, new \stdClass()),
        ] as $label => $fn) {
            try {
                $fn();
                $this->fail("$label: accepted");
            } catch (InvalidInputException $e) {
                $this->assertSame('invalid_input', $e->getErrorCode(), $label);
                $this->assertStringNotContainsString('kkkkkkkkkkkkkkk', $e->getMessage(), $label);
            }
        }
        // 16 bytes of any kind are key material.
        $this->assertSame('not_registered', Companion::create(['broker_url' => BROKER], str_repeat("\0", 16))->status());
        $this->assertSame($json, Companion::importState($json, random_bytes(16))->exportState());
    }

    public function testTheSealKeyNeverShowsInDumps(): void
    {
        $key = 'SEAL-KEY-CANARY-' . bin2hex(random_bytes(8));
        [$plain] = connected();
        foreach ([
            'create' => Companion::create(['broker_url' => BROKER], $key),
            'importState' => Companion::importState($plain->exportState(), $key),
            'openState' => Companion::openState($plain->sealState($key), $key),
        ] as $how => $c) {
            $shown = [];
            ob_start();
            var_dump($c);
            $shown['var_dump'] = (string) ob_get_clean();
            $shown['print_r'] = print_r($c, true);
            $shown['var_export'] = var_export($c, true);
            $shown['json_encode'] = (string) json_encode($c);
            $shown['(array)'] = print_r((array) $c, true);
            $shown['get_object_vars'] = print_r(get_object_vars($c), true);
            ob_start();
            @debug_zval_dump($c);
            $shown['debug_zval_dump'] = (string) ob_get_clean();
            try {
                $shown['serialize'] = serialize($c);
                $this->fail("$how: a Companion was serialised");
            } catch (\Exception $e) {
                $shown['serialize'] = $e->getMessage();
            }
            $shown['exportState'] = $c->exportState();
            foreach ($shown as $way => $text) {
                $this->assertStringNotContainsString($key, $text, "$how: $way");
                $this->assertStringNotContainsString(bin2hex($key), $text, "$how: $way");
                $this->assertStringNotContainsString(base64_encode($key), $text, "$how: $way");
            }
        }
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\CallbackException;
use Tessera\Exception\InvalidStateException;
use Tessera\Exception\SiteMismatchException;
use Tessera\Exception\StateUndecryptableException;
use Tessera\Verifier;

/** API behaviour of Tessera\Companion (no network: transports are fakes). */
final class CompanionTest extends TestCase
{
    public function testStateRoundTrip(): void
    {
        [$c] = connected();
        $json = $c->exportState();
        $d = Companion::importState($json);
        $this->assertSame($json, $d->exportState());
        $this->assertSame('connected', $d->status());
        $this->assertSame($c->installId(), $d->installId());
        $this->assertSame(SITE, $d->siteUrl());
        $this->assertNull($d->reconnectReason());
        $this->assertSame(0, $d->clockOffset());
        // The restored companion signs exactly like the original.
        $req = ['method' => 'GET', 'path' => '/api/orders'];
        $this->assertSame($c->signRequest($req, 1700000000, 'nonce-1'), $d->signRequest($req, 1700000000, 'nonce-1'));
    }

    public function testFreshCompanion(): void
    {
        $c = Companion::create(['broker_url' => BROKER, 'routes' => ['connect' => '/oauth/connect'], 'retry' => ['max_attempts' => 5]]);
        $this->assertSame('not_registered', $c->status());
        $this->assertNull($c->installId());
        $this->assertNull($c->siteUrl());
        $state = json_decode($c->exportState(), true);
        $this->assertSame('/oauth/connect', $state['config']['routes']['connect']);
        $this->assertSame('/installations', $state['config']['routes']['installations']);
        $this->assertSame(5, $state['config']['retry']['max_attempts']);
    }

    public function testRegistrationRequestIsPlainArrayForWpRemoteRequest(): void
    {
        $c = Companion::create(['broker_url' => BROKER]);
        $req = $c->registrationRequest([
            'site_url' => SITE . '/',
            'admin_email' => 'owner@shop.example',
            'platform' => 'wordpress',
            'plugin_version' => '1.0.0',
        ]);
        $this->assertSame(['method', 'url', 'headers', 'body'], array_keys($req));
        $this->assertSame('POST', $req['method']);
        $this->assertSame(BROKER . '/installations', $req['url']);
        $this->assertSame(['content-type' => 'application/json'], $req['headers']);
        $body = json_decode($req['body'], true);
        $this->assertMatchesRegularExpression('/^ins_[A-Za-z0-9_-]{22}$/', $body['install_id']);
        $this->assertSame($c->installId(), $body['install_id']);
        $this->assertSame(SITE, $body['site_url']);
        $this->assertSame(43, strlen($body['secret']));
        $this->assertSame('registration_pending', $c->status());
        // Sent again (e.g. after a proof), the same id and secret are reused.
        $again = $c->registrationRequest([
            'site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1.0.0',
        ]);
        $this->assertSame($body['secret'], json_decode($again['body'], true)['secret']);
        $c->handleRegistrationResponse(['status' => 201, 'headers' => [], 'body' => '{}']);
        $this->assertSame('registered', $c->status());
        $this->expectException(InvalidStateException::class);
        $c->registrationRequest(['site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1.0.0']);
    }

    public function testOwnershipChallenge(): void
    {
        $c = Companion::create(['broker_url' => BROKER]);
        $req = $c->registrationRequest(['site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1']);
        $secret = json_decode($req['body'], true)['secret'];
        $challenge = 'Y2hhbGxlbmdlLWZvci1vd25lcnNoaXA';
        $out = $c->handleRegistrationResponse(response(202, ['challenge' => $challenge]));
        $this->assertSame('ownership_challenge', $out['outcome']);
        $this->assertSame('awaiting_ownership', $c->status());
        $id = $c->installId();
        $this->assertSame(['url' => SITE . "/.well-known/tessera/$id", 'path' => "/.well-known/tessera/$id", 'body' => $out['proof']['body']], $out['proof']);
        $this->assertSame($out['proof'], $c->ownershipProof());
        // What the broker checks:
        Verifier::verifyOwnershipProof($secret, $id, $challenge, $out['proof']['body']);
        $c->handleRegistrationResponse(['status' => 201]);
        $this->assertSame('registered', $c->status());
    }

    public function testConnectCallbackCall(): void
    {
        [$c, $secret] = registered();
        $return = SITE . '/wp-admin/admin.php?page=tessera';
        $url = $c->connectUrl($return, 'orders:read');
        // The broker's side of the connect URL:
        $params = Verifier::verifyConnectUrl($url, fn (string $id) => $id === $c->installId() ? $secret : null);
        $this->assertSame($c->installId(), $params['install_id']);
        $this->assertSame($return, $params['return_url']);
        $this->assertSame('orders:read', $params['scope']);
        // ... Stora consent, then the broker redirects back with a single-use
        // connect code, which the plugin exchanges with a signed request:
        $this->assertNull($c->account());
        $exchange = connect_transport('btk_from_broker', ['id' => 'op_42', 'name' => 'Acme Self Storage']);
        $r = new Recorder();
        $out = $c->completeConnect($return . '&state=' . rawurlencode($params['state']) . '&code=' . CONNECT_CODE, $exchange, $r->sleep(), $r->persist());
        $this->assertSame(['account' => ['id' => 'op_42', 'name' => 'Acme Self Storage']], $out);
        $this->assertSame('connected', $c->status());
        $this->assertSame(['id' => 'op_42', 'name' => 'Acme Self Storage'], $c->account());
        $this->assertCount(1, $exchange->requests);
        $complete = $exchange->requests[0];
        $this->assertSame('POST', $complete['method']);
        $this->assertSame(BROKER . '/connect/complete', $complete['url']);
        $this->assertSame('{"code":"' . CONNECT_CODE . '","state":"' . $params['state'] . '"}', $complete['body']);
        // No bearer (§5.4.1); signed, with an Idempotency-Key.
        $this->assertArrayNotHasKey('authorization', array_change_key_case($complete['headers']));
        $this->assertArrayHasKey('idempotency-key', array_change_key_case($complete['headers']));
        $v = (new Verifier(null, 16))->verify($complete, fn ($id) => $secret);
        $this->assertSame($c->installId(), $v['install_id']);
        $this->assertNull($v['bearer']);
        // The consumed attempt is persisted before the send, the token after.
        $this->assertCount(2, $r->persisted);
        $this->assertNull(json_decode($r->persisted[0], true)['pending_connect']);
        $this->assertSame('registered', json_decode($r->persisted[0], true)['status']);
        $this->assertSame($c->exportState(), end($r->persisted));
        // The account survives the state's round trip.
        $this->assertSame($c->account(), Companion::importState($c->exportState())->account());

        $transport = new FakeTransport([response(200, ['orders' => []], ['X-Request-Id' => 'r1'])]);
        $resp = $c->call(['method' => 'GET', 'path' => '/api/orders?limit=3'], $transport);
        $this->assertSame(200, $resp['status']);
        $this->assertSame('{"orders":[]}', $resp['body']);
        $this->assertSame('r1', $resp['headers']['X-Request-Id']);
        $sent = $transport->requests[0];
        $this->assertSame(BROKER . '/api/orders?limit=3', $sent['url']);
        $this->assertSame('Bearer btk_from_broker', $sent['headers']['authorization']);
        // The broker verifies what was sent.
        $v = (new Verifier(null, 16))->verify($sent, fn ($id) => $secret);
        $this->assertSame($c->installId(), $v['install_id']);
        $this->assertSame('btk_from_broker', $v['bearer']);
    }

    public function testCallbackStateIsCheckedOnce(): void
    {
        [$c] = registered();
        $state = state_of($c->connectUrl(SITE . '/cb'));
        $t = connect_transport();
        try {
            $c->completeConnect('state=wrong-state-value&code=' . CONNECT_CODE, $t);
            $this->fail('expected CallbackException');
        } catch (CallbackException $e) {
            $this->assertSame('callback_state_mismatch', $e->getErrorCode());
        }
        try {
            $c->completeConnect("state=$state&error=access_denied", $t);
            $this->fail('expected CallbackException');
        } catch (CallbackException $e) {
            $this->assertSame('callback_denied', $e->getErrorCode());
            $this->assertSame('access_denied', $e->getReason());
        }
        // Nothing was sent for either.
        $this->assertSame([], $t->requests);
        // The state was used up by the denied callback.
        try {
            $c->completeConnect("state=$state&code=" . CONNECT_CODE, $t);
            $this->fail('expected InvalidStateException');
        } catch (InvalidStateException $e) {
            $this->assertSame([], $t->requests);
            $this->assertSame('registered', $c->status());
        }
    }

    public function testCallbackExpires(): void
    {
        [$c] = registered();
        // An attempt started 601 s ago (the completion reads the clock).
        $state = state_of($c->connectUrl(SITE . '/cb', null, time() - 601));
        $t = connect_transport();
        try {
            $c->completeConnect("state=$state&code=" . CONNECT_CODE, $t);
            $this->fail('expected CallbackException');
        } catch (CallbackException $e) {
            $this->assertSame('callback_expired', $e->getErrorCode());
        }
        $this->assertSame([], $t->requests);
        $this->assertSame('registered', $c->status());
    }

    /** The broker token no longer travels in the callback: a `broker_token` there is not a code. */
    public function testATokenInTheCallbackIsRefused(): void
    {
        [$c] = registered();
        $state = state_of($c->connectUrl(SITE . '/cb'));
        $t = connect_transport();
        try {
            $c->completeConnect("state=$state&broker_token=btk_from_an_old_broker", $t);
            $this->fail('expected CallbackException');
        } catch (CallbackException $e) {
            $this->assertSame('callback_invalid', $e->getErrorCode());
        }
        $this->assertSame([], $t->requests);
        $this->assertSame('registered', $c->status());
        $this->assertStringNotContainsString('btk_from_an_old_broker', $c->exportState());
    }

    /** Reconnecting while connected: the new token and account replace the old ones only on success. */
    public function testReconnectReplacesTokenAndAccount(): void
    {
        [$c, $secret] = connected();
        $this->assertSame(ACCOUNT, $c->account());
        connect($c, 'btk_second', ['id' => 'op_other', 'name' => 'Other Storage']);
        $this->assertSame('connected', $c->status());
        $this->assertSame(['id' => 'op_other', 'name' => 'Other Storage'], $c->account());
        $t = new FakeTransport([response(200, [])]);
        $c->call(['method' => 'GET', 'path' => '/api/x'], $t);
        $this->assertSame('Bearer btk_second', $t->requests[0]['headers']['authorization']);
    }

    /** @return array<string, array{\Closure(): FakeTransport, string}> a failing exchange, and the error code it ends with */
    public static function failedExchanges(): array
    {
        return [
            'transport exception' => [fn () => FakeTransport::always(transport_error()), 'server_unavailable'],
            'code refused (400)' => [fn () => FakeTransport::always(response(400, ['error' => 'connect_code_invalid'])), 'client_error'],
            '503 every time' => [fn () => FakeTransport::always(response(503)), 'server_unavailable'],
            '200 without an account' => [fn () => FakeTransport::always(response(200, ['broker_token' => 'btk_new'])), 'callback_invalid'],
            '200 not json' => [fn () => FakeTransport::always(['status' => 200, 'headers' => [], 'body' => 'ok']), 'callback_invalid'],
        ];
    }

    /**
     * A failed completion — the transport throws, the broker refuses the
     * code, or answers nonsense — keeps the previous broker token and account.
     *
     * @dataProvider failedExchanges
     */
    public function testAFailedReconnectKeepsThePreviousToken(\Closure $transport, string $code): void
    {
        [$c] = connected();
        $before = json_decode($c->exportState(), true);
        $t = $transport();
        $r = new Recorder();
        try {
            $c->completeConnect(callback_url(state_of($c->connectUrl(RETURN_URL))), $t, $r->sleep(), $r->persist());
            $this->fail('expected a TesseraException');
        } catch (\Tessera\Exception\TesseraException $e) {
            $this->assertSame($code, $e->getErrorCode());
        }
        $this->assertNotEmpty($t->requests);
        $this->assertSame('connected', $c->status());
        $this->assertSame(ACCOUNT, $c->account());
        $after = json_decode($c->exportState(), true);
        $this->assertSame($before['broker_token'], $after['broker_token']);
        $this->assertSame('btk_test_token', $after['broker_token']);
        $this->assertNull($after['pending_connect'], 'the attempt is used up');
        foreach ($r->persisted as $persisted) {
            $this->assertSame('btk_test_token', json_decode($persisted, true)['broker_token']);
        }
        // ... and the old token still signs calls.
        $call = new FakeTransport([response(200, [])]);
        $c->call(['method' => 'GET', 'path' => '/api/x'], $call);
        $this->assertSame('Bearer btk_test_token', $call->requests[0]['headers']['authorization']);
    }

    /** A TransportException thrown by the host during the completion: retried, then the previous token is kept. */
    public function testATransportExceptionDuringCompletionKeepsThePreviousToken(): void
    {
        [$c] = connected();
        $t = FakeTransport::always(transport_error('connection reset'));
        $r = new Recorder();
        try {
            $c->completeConnect(callback_url(state_of($c->connectUrl(RETURN_URL))), $t, $r->sleep(), $r->persist());
            $this->fail('expected ServerUnavailableException');
        } catch (\Tessera\Exception\ServerUnavailableException $e) {
            $this->assertSame('server_unavailable', $e->getErrorCode());
        }
        // Retried like any POST with an Idempotency-Key, with the same key.
        $this->assertGreaterThan(1, count($t->requests));
        $keys = array_unique(array_map(fn ($q) => array_change_key_case($q['headers'])['idempotency-key'], $t->requests));
        $this->assertCount(1, $keys);
        $this->assertNotEmpty($r->sleeps);
        $this->assertSame('connected', $c->status());
        $this->assertSame('btk_test_token', json_decode($c->exportState(), true)['broker_token']);
        $this->assertSame(ACCOUNT, $c->account());
    }

    /** Any other exception from the transport propagates unchanged, and the previous token is kept. */
    public function testAHostExceptionDuringCompletionPropagatesAndKeepsThePreviousToken(): void
    {
        [$c] = connected();
        $boom = new \DomainException('the host gave up');
        $t = FakeTransport::always($boom);
        try {
            $c->completeConnect(callback_url(state_of($c->connectUrl(RETURN_URL))), $t, fn (int $ms) => null);
            $this->fail('expected the host\'s exception');
        } catch (\DomainException $e) {
            $this->assertSame($boom, $e);
        }
        $this->assertCount(1, $t->requests);
        $this->assertSame('connected', $c->status());
        $this->assertSame('btk_test_token', json_decode($c->exportState(), true)['broker_token']);
        $this->assertSame(ACCOUNT, $c->account());
    }

    public function testSignRequestIsDeterministicWithFixedInputs(): void
    {
        [$c] = connected();
        $req = ['method' => 'POST', 'path' => '/api/events', 'headers' => ['Content-Type' => 'application/json'], 'body' => '{"a":1}'];
        $a = $c->signRequest($req, 1700000000, 'nonce-a', 'idem-a');
        $this->assertSame($a, $c->signRequest($req, 1700000000, 'nonce-a', 'idem-a'));
        $this->assertSame($a, $c->signRequest($req, now: 1700000000, nonce: 'nonce-a', idempotencyKey: 'idem-a'));
        $this->assertSame('idem-a', $a['headers']['idempotency-key']);
        $this->assertStringContainsString('nonce="nonce-a"', $a['headers']['signature-input']);
        $this->assertSame(1700000000, created_of($a));
        // Without them: fresh nonce and a UUIDv4 idempotency key for POST.
        $b = $c->signRequest($req);
        $this->assertNotSame($a['headers']['signature'], $b['headers']['signature']);
        $this->assertMatchesRegularExpression('/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/', $b['headers']['idempotency-key']);
        $this->assertLessThanOrEqual(2, abs(created_of($b) - time()));
    }

    public function testHeadersAcceptListsAndBinaryBodies(): void
    {
        [$c, $secret] = connected();
        $body = random_bytes(64) . "\x00\xff";
        $signed = $c->signRequest(['method' => 'PUT', 'path' => '/api/blob', 'headers' => ['Content-Type' => ['application/octet-stream']], 'body' => $body]);
        $this->assertSame($body, $signed['body']);
        $this->assertSame('application/octet-stream', $signed['headers']['content-type']);
        $v = (new Verifier(null, 16))->verify($signed, fn ($id) => $secret);
        $this->assertSame($c->installId(), $v['install_id']);
    }

    public function testRepeatedResponseHeadersAreJoined(): void
    {
        [$c] = connected();
        $resp = $c->call(['method' => 'GET', 'path' => '/api/x'], fn ($r) => ['status' => 200, 'headers' => ['Set-Cookie' => ['a=1', 'b=2'], 'X-One' => 'v'], 'body' => '']);
        $this->assertSame(['Set-Cookie' => 'a=1, b=2', 'X-One' => 'v'], $resp['headers']);
    }

    public function testClassify(): void
    {
        $o = Companion::classify(response(401, ['error' => 'stora_reconnect_required']));
        $this->assertSame('reconnect_required', $o['kind']);
        $this->assertSame(401, $o['status']);
        $this->assertSame('stora_reconnect_required', $o['code']);
        $o = Companion::classify(['status' => 429, 'headers' => ['Retry-After' => ['3']]]);
        $this->assertSame(['code' => null, 'description' => null, 'details' => null, 'from_stora' => false, 'kind' => 'rate_limited', 'request_id' => null, 'retry_after_ms' => 3000, 'server_date' => null, 'status' => 429], $o);
        // Stora's nested error, passed through by the broker.
        $o = Companion::classify(['status' => 400, 'headers' => ['Tessera-Origin' => ['stora']], 'body' => '{"error":{"code":"api_error","request_id":"req_7"}}']);
        $this->assertSame(['upstream_failed', 'api_error', 'req_7', true], [$o['kind'], $o['code'], $o['request_id'], $o['from_stora']]);
    }

    public function testStoraErrorsKeepTheirCodeAndRequestId(): void
    {
        [$c] = connected();
        $stora = fn (int $status, string $code) => [
            'status' => $status,
            'headers' => ['Tessera-Origin' => ['stora']],
            'body' => json_encode(['error' => ['code' => $code, 'type' => 't', 'message' => 'm', 'details' => [], 'links' => [], 'request_id' => "req_{$status}"]]),
        ];
        try {
            $c->call(['method' => 'POST', 'path' => '/api/contacts', 'body' => '{}'], fn ($r) => $stora(409, 'conflict'));
            $this->fail('no exception');
        } catch (\Tessera\Exception\ClientErrorException $e) {
            $this->assertSame(['client_error', 409, 'conflict', 'req_409'], [$e->getErrorCode(), $e->getStatus(), $e->getReason(), $e->getRequestId()]);
        }
        $sent = 0;
        try {
            $c->call(['method' => 'POST', 'path' => '/api/contacts', 'body' => '{}'], function ($r) use ($stora, &$sent) {
                $sent++;
                return $stora(500, 'internal_server_error');
            });
            $this->fail('no exception');
        } catch (\Tessera\Exception\ServerUnavailableException $e) {
            // Stora stored its 500 under the key: not sent again.
            $this->assertSame(['upstream_failed', 500, 'internal_server_error', 'req_500', 1], [$e->getErrorCode(), $e->getStatus(), $e->getReason(), $e->getRequestId(), $sent]);
            $this->assertStringContainsString('req_500', $e->getMessage());
        }
    }

    public function testSiteMismatch(): void
    {
        [$c] = connected();
        $this->assertSame(['kind' => 'same'], $c->checkSite(SITE . '/'));
        $check = $c->checkSite('https://staging.shop.example');
        $this->assertSame(['current' => 'https://staging.shop.example', 'kind' => 'mismatch', 'registered' => SITE], $check);
        $this->assertSame('site_mismatch', $c->status());
        try {
            $c->signRequest(['method' => 'GET', 'path' => '/api/orders']);
            $this->fail('expected SiteMismatchException');
        } catch (SiteMismatchException $e) {
            $this->assertSame('site_mismatch', $e->getErrorCode());
            $this->assertSame(SITE, $e->getRegisteredUrl());
            $this->assertSame('https://staging.shop.example', $e->getCurrentUrl());
        }
        // The mismatch is part of the state.
        $this->assertSame('site_mismatch', Companion::importState($c->exportState())->status());
        // A copy must not touch the original's registration: uninstall skips the broker.
        $copy = Companion::importState($c->exportState());
        $t = new FakeTransport([]);
        $report = $copy->uninstall($t);
        $this->assertSame([], $t->requests);
        $this->assertSame(['disconnect' => ['result' => 'skipped', 'error' => null], 'deregister' => ['result' => 'skipped', 'error' => null]], $report);
        // "This is a copy": a fresh registration.
        $c->resolveSiteAsCopy();
        $this->assertSame('not_registered', $c->status());
        $this->assertNull($c->installId());
    }

    public function testSiteMoved(): void
    {
        [$c, $secret] = connected();
        $c->checkSite('https://new.shop.example');
        $t = new FakeTransport([response(200, [])]);
        $r = new Recorder();
        $c->siteMoved($t, $r->sleep(), $r->persist());
        $this->assertSame('PATCH', $t->requests[0]['method']);
        $this->assertSame(BROKER . '/installations/' . $c->installId(), $t->requests[0]['url']);
        $this->assertSame(['site_url' => 'https://new.shop.example'], json_decode($t->requests[0]['body'], true));
        (new Verifier(null, 16))->verify($t->requests[0], fn ($id) => $secret);
        $this->assertSame('https://new.shop.example', $c->siteUrl());
        $this->assertSame('connected', $c->status());
        $this->assertCount(1, $r->persisted);
    }

    public function testSealedState(): void
    {
        [$c] = connected();
        $key = 'wp-logged-in-key|wp-logged-in-salt';
        $sealed = $c->sealState($key);
        $this->assertStringStartsWith('tsv1.', $sealed);
        $this->assertNotSame($sealed, $c->sealState($key), 'fresh nonce per seal');
        $this->assertSame($c->exportState(), Companion::openState($sealed, $key)->exportState());
        foreach ([
            [$sealed, 'another-key-material'],
            [substr($sealed, 0, -4), $key],
            [$sealed . 'AAAA', $key],
            ['', $key],
            ["tsv1.\xff\xfe", $key],
            [str_replace('tsv1.', 'tsv2.', $sealed), $key],
        ] as [$blob, $k]) {
            try {
                Companion::openState($blob, $k);
                $this->fail('expected StateUndecryptableException');
            } catch (StateUndecryptableException $e) {
                $this->assertSame('state_undecryptable', $e->getErrorCode());
            }
        }
    }

    public function testUninstallPlan(): void
    {
        [$c, $secret] = connected();
        $id = $c->installId();
        $t = new FakeTransport([['status' => 204], ['status' => 204]]);
        $r = new Recorder();
        $report = $c->uninstall($t, $r->sleep(), $r->persist());
        $this->assertSame(['disconnect' => ['result' => 'ok', 'error' => null], 'deregister' => ['result' => 'ok', 'error' => null]], $report);
        $this->assertSame(['POST', 'DELETE'], array_column($t->requests, 'method'));
        $this->assertSame(BROKER . '/disconnect', $t->requests[0]['url']);
        $this->assertSame(BROKER . "/installations/$id", $t->requests[1]['url']);
        foreach ($t->requests as $req) {
            (new Verifier(null, 16))->verify($req, fn ($k) => $secret);
        }
        $this->assertSame('not_registered', $c->status());
        $this->assertNull($c->installId());
        $this->assertStringNotContainsString($secret, $c->exportState());
        $this->assertStringNotContainsString($secret, end($r->persisted));
    }

    public function testUninstallReportsFailuresAndWipesAnyway(): void
    {
        [$c] = connected();
        $t = new FakeTransport([response(500), response(500), response(500), response(403, ['error' => 'forbidden'])]);
        $r = new Recorder();
        $report = $c->uninstall($t, $r->sleep(), $r->persist());
        $this->assertSame('failed', $report['disconnect']['result']);
        $this->assertInstanceOf(\Tessera\Exception\ServerUnavailableException::class, $report['disconnect']['error']);
        $this->assertSame('failed', $report['deregister']['result']);
        $this->assertInstanceOf(\Tessera\Exception\ClientErrorException::class, $report['deregister']['error']);
        $this->assertSame(403, $report['deregister']['error']->getStatus());
        $this->assertSame('forbidden', $report['deregister']['error']->getReason());
        $this->assertSame('not_registered', $c->status());
    }

    public function testDisconnect(): void
    {
        [$c] = connected();
        $t = new FakeTransport([response(401, ['error' => 'broker_token_invalid'])]);
        $out = $c->disconnect($t);
        // A 401 means already gone: success; the token is dropped either way.
        $this->assertSame(['remote' => ['result' => 'ok', 'error' => null]], $out);
        $this->assertSame('registered', $c->status());
        $this->expectException(InvalidStateException::class);
        $c->disconnect($t);
    }

    public function testUninstallUrl(): void
    {
        [$c, $secret] = registered();
        $url = $c->uninstallUrl(1700000000);
        $this->assertStringStartsWith(BROKER . '/installations/' . $c->installId() . '/uninstall?ts=1700000000&sig=', $url);
        $ts = Verifier::verifyUninstallTicket($c->installId(), $url, fn ($id) => $secret, null, 1700000100);
        $this->assertSame(1700000000, $ts);
    }

    public function testNotConstructibleNorSerialisable(): void
    {
        try {
            new Companion();
            $this->fail('expected InvalidStateException');
        } catch (InvalidStateException $e) {
            $this->assertSame('invalid_state', $e->getErrorCode());
        }
        [$c] = registered();
        try {
            serialize($c);
            $this->fail('expected an exception');
        } catch (\Exception $e) {
            $this->assertStringContainsString('not allowed', $e->getMessage());
        }
        try {
            $copy = clone $c;
            $this->fail('expected an Error');
        } catch (\Error $e) {
            $this->assertStringContainsString('clone', $e->getMessage());
        }
    }

    public function testSecretsNeverShowInDumpsOrMessages(): void
    {
        [$c, $secret] = connected('https://broker.example', 'btk_very_secret_token');
        $dumps = [];
        ob_start();
        var_dump($c);
        debug_zval_dump($c);
        $dumps[] = ob_get_clean();
        $dumps[] = print_r($c, true);
        $dumps[] = var_export($c, true);
        $dumps[] = json_encode($c);
        $dumps[] = print_r((array) $c, true);
        $dumps[] = print_r(get_object_vars($c), true);
        foreach ($dumps as $d) {
            $this->assertStringNotContainsString($secret, $d);
            $this->assertStringNotContainsString('btk_very_secret_token', $d);
        }
        // Errors raised on a connected companion carry neither.
        $t = new FakeTransport([response(401, ['error' => 'stora_reconnect_required'])]);
        try {
            $c->call(['method' => 'GET', 'path' => '/api/x'], $t, null, fn ($j) => null);
            $this->fail('expected ReconnectRequiredException');
        } catch (\Tessera\Exception\ReconnectRequiredException $e) {
            foreach ([$e->getMessage(), (string) $e, print_r($e, true), var_export($e, true)] as $text) {
                $this->assertStringNotContainsString($secret, $text);
                $this->assertStringNotContainsString('btk_very_secret_token', $text);
            }
        }
    }

    public function testCallbacksMayUseTheSameCompanion(): void
    {
        [$c] = connected();
        $seen = [];
        $transport = function (array $req) use ($c, &$seen): array {
            // Reading the companion from inside its own call is fine.
            $seen[] = $c->status();
            $seen[] = strlen($c->exportState()) > 0;
            return ['status' => 200, 'headers' => [], 'body' => 'ok'];
        };
        $this->assertSame('ok', $c->call(['method' => 'GET', 'path' => '/api/x'], $transport)['body']);
        $this->assertSame(['connected', true], $seen);
        // Even a nested call through the same object works (nothing is borrowed across callbacks).
        $outer = function (array $req) use ($c, $transport): array {
            return $c->call(['method' => 'GET', 'path' => '/api/inner'], $transport);
        };
        $this->assertSame('ok', $c->call(['method' => 'GET', 'path' => '/api/outer'], $outer)['body']);
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Exception\InvalidInputException;
use Tessera\Exception\VerificationException;
use Tessera\Verifier;

/** The broker side, Tessera\Verifier, against requests signed by Tessera\Companion. */
final class VerifierTest extends TestCase
{
    public function testVerifiesAndRejectsReplays(): void
    {
        [$c, $secret] = connected();
        $signed = $c->signRequest(['method' => 'POST', 'path' => '/api/events?x=1', 'headers' => ['Content-Type' => 'application/json'], 'body' => '{"a":1}'], null, null, 'idem-42');
        $v = new Verifier(null, 16);
        $lookups = [];
        $secretFor = function (string $id) use ($c, $secret, &$lookups): ?string {
            $lookups[] = $id;
            return $id === $c->installId() ? $secret : null;
        };
        $ok = $v->verify($signed, $secretFor);
        $this->assertSame(['install_id', 'created', 'expires', 'nonce', 'idempotency_key', 'bearer'], array_keys($ok));
        $this->assertSame($c->installId(), $ok['install_id']);
        $this->assertSame('idem-42', $ok['idempotency_key']);
        $this->assertSame('btk_test_token', $ok['bearer']);
        $this->assertSame($ok['created'] + 300, $ok['expires']);
        $this->assertSame([$c->installId()], $lookups);
        try {
            $v->verify($signed, $secretFor);
            $this->fail('expected replayed');
        } catch (VerificationException $e) {
            $this->assertSame('replayed', $e->getErrorCode());
            $this->assertSame(401, $e->getHttpStatus());
            $this->assertSame('replayed', $e->getWireCode());
        }
        // Another verifier has its own store.
        $this->assertSame($ok, (new Verifier(null, 16))->verify($signed, $secretFor));
    }

    public function testTamperingIsDetected(): void
    {
        [$c, $secret] = connected();
        $signed = $c->signRequest(['method' => 'POST', 'path' => '/api/events', 'body' => '{"a":1}']);
        $secretFor = fn ($id) => $secret;
        $cases = [
            'digest_mismatch' => ['body' => '{"a":2}'],
            'signature_invalid' => ['url' => BROKER . '/api/other'],
            'signature_missing' => ['headers' => array_diff_key($signed['headers'], ['signature' => 1])],
        ];
        foreach ($cases as $code => $change) {
            try {
                (new Verifier(null, 8))->verify(array_replace($signed, $change), $secretFor);
                $this->fail("expected $code");
            } catch (VerificationException $e) {
                $this->assertSame($code, $e->getErrorCode());
            }
        }
        try {
            (new Verifier(null, 8))->verify($signed, fn ($id) => null);
            $this->fail('expected unknown_installation');
        } catch (VerificationException $e) {
            $this->assertSame('unknown_installation', $e->getErrorCode());
        }
    }

    public function testTimeWindow(): void
    {
        [$c, $secret] = connected();
        $signed = $c->signRequest(['method' => 'GET', 'path' => '/api/x'], 1700000000);
        $secretFor = fn ($id) => $secret;
        $this->assertSame(1700000000, (new Verifier(null, 16))->verify($signed, $secretFor, null, 1700000100)['created']);
        try {
            (new Verifier(null, 8))->verify($signed, $secretFor, null, 1700000000 + 400);
            $this->fail();
        } catch (VerificationException $e) {
            $this->assertSame('signature_expired', $e->getErrorCode());
        }
        // A wider window accepts a larger clock difference (expires still bounds it).
        $this->assertSame(1700000000, (new Verifier(600, 16))->verify($signed, $secretFor, null, 1700000000 - 500)['created']);
    }

    public function testCustomReplayStore(): void
    {
        [$c, $secret] = connected();
        $store = [];
        $replay = function (string $key, int $expiresAt, int $now) use (&$store): bool {
            if (isset($store[$key]) && $store[$key] > $now) {
                return false;
            }
            $store[$key] = $expiresAt;
            return true;
        };
        $signed = $c->signRequest(['method' => 'GET', 'path' => '/api/x']);
        (new Verifier())->verify($signed, fn ($id) => $secret, $replay);
        $this->assertCount(1, $store);
        try {
            (new Verifier())->verify($signed, fn ($id) => $secret, $replay);
            $this->fail();
        } catch (VerificationException $e) {
            $this->assertSame('replayed', $e->getErrorCode());
        }
    }

    public function testNoReplayStoreIsRefusedUpFront(): void
    {
        // Under PHP-FPM a Verifier dies with its request: a store of its own
        // would forget every nonce. Without $replay or $replayCapacity every
        // call is refused before the request is even parsed, and secretFor is
        // never asked.
        [$c, $secret] = connected();
        $signed = $c->signRequest(['method' => 'GET', 'path' => '/api/x']);
        $asked = 0;
        $secretFor = function ($id) use ($secret, &$asked) {
            $asked++;
            return $secret;
        };
        foreach (['valid' => $signed, 'unsigned' => ['method' => 'GET', 'url' => BROKER . '/x'], 'bad url' => ['method' => 'GET', 'url' => 'not a url']] as $name => $request) {
            try {
                (new Verifier())->verify($request, $secretFor);
                $this->fail("expected a refusal without a replay store ($name)");
            } catch (InvalidInputException $e) {
                $this->assertSame('invalid_input', $e->getErrorCode());
                $this->assertStringContainsString('invalid `replay`: pass a shared replay store', $e->getMessage());
                $this->assertStringContainsString('$replayCapacity', $e->getMessage());
            }
        }
        $this->assertSame(0, $asked);
    }

    public function testSecretForIsAskedOnceAfterTheChecksThatNeedNoSecret(): void
    {
        [$c, $secret] = connected();
        $calls = [];
        $secretFor = function ($id) use ($secret, &$calls) {
            $calls[] = ['secretFor', $id];
            return $secret;
        };
        $replay = function ($key, $expiresAt, $now) use (&$calls) {
            $calls[] = ['replay', $key, $expiresAt, $now];
            return 'fresh';
        };
        $signed = $c->signRequest(['method' => 'POST', 'path' => '/api/x', 'body' => '{}'], 1700000000, 'nonce-once');
        // Refused before the secret (digest, time): neither callable is called.
        foreach ([['body' => '{"x":1}'], []] as $i => $change) {
            try {
                (new Verifier())->verify(array_replace($signed, $change), $secretFor, $replay, $i === 0 ? 1700000000 : 1700000000 + 301);
                $this->fail();
            } catch (VerificationException $e) {
                $this->assertSame($i === 0 ? 'digest_mismatch' : 'signature_expired', $e->getErrorCode());
            }
        }
        $this->assertSame([], $calls);
        // A MAC that does not verify: secretFor once, the store never (a forged request burns no nonce).
        try {
            (new Verifier())->verify(array_replace($signed, ['url' => BROKER . '/api/y']), $secretFor, $replay, 1700000000);
            $this->fail();
        } catch (VerificationException $e) {
            $this->assertSame('signature_invalid', $e->getErrorCode());
        }
        $this->assertSame([['secretFor', $c->installId()]], $calls);
        // A valid one: secretFor once, then the store with (install_id:nonce, expires, now);
        // the MAC is computed once (the core's counter, a test hook of both implementations).
        $calls = [];
        $macs = \Tessera\Testing\macChecks();
        $v = (new Verifier())->verify($signed, $secretFor, $replay, 1700000005);
        $this->assertSame(1, \Tessera\Testing\macChecks() - $macs);
        $this->assertSame([['secretFor', $c->installId()], ['replay', $c->installId() . ':nonce-once', 1700000300, 1700000005]], $calls);
        $this->assertSame('nonce-once', $v['nonce']);
    }

    public function testTheReplayStoreAnswers(): void
    {
        [$c, $secret] = connected();
        $signed = $c->signRequest(['method' => 'GET', 'path' => '/api/x'], 1700000000);
        $verify = fn ($answer) => (new Verifier())->verify($signed, fn ($id) => $secret, fn ($k, $e, $n) => $answer, 1700000000);
        $this->assertSame($c->installId(), $verify('fresh')['install_id']);
        $this->assertSame($c->installId(), $verify(true)['install_id']);
        foreach ([['seen', 401, 'replayed'], [false, 401, 'replayed'], ['full', 503, 'replay_store_full']] as [$answer, $status, $code]) {
            try {
                $verify($answer);
                $this->fail('accepted on ' . var_export($answer, true));
            } catch (VerificationException $e) {
                $this->assertSame([$code, $status, $code], [$e->getErrorCode(), $e->getHttpStatus(), $e->getWireCode()]);
                $this->assertSame(['content-type' => 'application/json', 'cache-control' => 'no-store'], $e->getWireHeaders());
                $this->assertSame($code, json_decode($e->getWireBody(), true)['error']);
            }
        }
        foreach (['FRESH', 'ok', 1, 0, null, ['fresh'], 'fresh '] as $bad) {
            try {
                $verify($bad);
                $this->fail('accepted the answer ' . var_export($bad, true));
            } catch (InvalidInputException $e) {
                $this->assertStringContainsString("invalid `replay`: must return 'fresh', 'seen' or 'full'", $e->getMessage());
            }
        }
    }

    public function testAnExpiredRequestIsAnsweredWithTheBrokerDate(): void
    {
        [$c, $secret] = connected();
        $signed = $c->signRequest(['method' => 'GET', 'path' => '/api/x'], 1700000000);
        try {
            (new Verifier(null, 8))->verify($signed, fn ($id) => $secret, null, 1700000000 + 301);
            $this->fail();
        } catch (VerificationException $e) {
            $this->assertSame('signature_expired', $e->getWireCode());
            $this->assertSame(['content-type' => 'application/json', 'cache-control' => 'no-store', 'date' => 'Tue, 14 Nov 2023 22:18:21 GMT'], $e->getWireHeaders());
            $this->assertSame(['error' => 'signature_expired', 'error_description' => $e->getMessage()], json_decode($e->getWireBody(), true));
        }
    }

    public function testReenteringFromSecretForIsFine(): void
    {
        // The in-memory store is used after the callables returned: a
        // secretFor that verifies another request on the same object works.
        [$c, $secret] = connected();
        $v = new Verifier(null, 8);
        $inner = null;
        $outer = $v->verify($c->signRequest(['method' => 'GET', 'path' => '/a']), function ($id) use ($v, $c, $secret, &$inner) {
            $inner = $v->verify($c->signRequest(['method' => 'GET', 'path' => '/b']), fn ($i) => $secret);
            return $secret;
        });
        $this->assertNotSame($inner['nonce'], $outer['nonce']);
    }

    public function testReplayStoreCapacityFailsClosed(): void
    {
        [$c, $secret] = connected();
        $v = new Verifier(null, 2);
        $v->verify($c->signRequest(['method' => 'GET', 'path' => '/a']), fn ($id) => $secret);
        $v->verify($c->signRequest(['method' => 'GET', 'path' => '/b']), fn ($id) => $secret);
        try {
            $v->verify($c->signRequest(['method' => 'GET', 'path' => '/c']), fn ($id) => $secret);
            $this->fail();
        } catch (VerificationException $e) {
            $this->assertSame('replay_store_full', $e->getErrorCode());
            $this->assertSame(503, $e->getHttpStatus());
        }
    }

    public function testOwnershipProofAt(): void
    {
        [, $secret] = registered();
        try {
            Verifier::verifyOwnershipProof($secret, 'ins_x', 'challenge-challenge', 'nope', 1700000000);
            $this->fail();
        } catch (VerificationException $e) {
            $this->assertSame([403, 'ownership_proof_invalid'], [$e->getHttpStatus(), $e->getWireCode()]);
            $this->assertArrayNotHasKey('date', $e->getWireHeaders());
        }
    }

    public function testConnectUrlAndTicket(): void
    {
        [$c, $secret] = registered();
        $url = $c->connectUrl(SITE . '/cb', null, 1700000000);
        $p = Verifier::verifyConnectUrl($url, fn ($id) => $secret, 1700000010);
        $this->assertSame(1700000000, $p['ts']);
        $this->assertNull($p['scope']);
        try {
            Verifier::verifyConnectUrl(str_replace('return_url=', 'return_url=x', $url), fn ($id) => $secret, 1700000010);
            $this->fail();
        } catch (VerificationException $e) {
            $this->assertSame('signature_invalid', $e->getErrorCode());
        }
        try {
            Verifier::verifyConnectUrl($url, fn ($id) => $secret, 1700000000 + 3600);
            $this->fail();
        } catch (VerificationException $e) {
            $this->assertSame('signature_expired', $e->getErrorCode());
        }
        $ticket = $c->uninstallUrl(1700000000);
        try {
            Verifier::verifyUninstallTicket($c->installId(), $ticket, fn ($id) => $secret, 60, 1700000000 + 61);
            $this->fail();
        } catch (VerificationException $e) {
            $this->assertSame('signature_expired', $e->getErrorCode());
        }
    }
}

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
                (new Verifier())->verify(array_replace($signed, $change), $secretFor);
                $this->fail("expected $code");
            } catch (VerificationException $e) {
                $this->assertSame($code, $e->getErrorCode());
            }
        }
        try {
            (new Verifier())->verify($signed, fn ($id) => null);
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
            (new Verifier())->verify($signed, $secretFor, null, 1700000000 + 400);
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

    public function testNoReplayStoreRefusesInsteadOfForgetting(): void
    {
        // Under PHP-FPM a Verifier dies with its request: a store of its own
        // would forget every nonce. Without $replay or $replayCapacity a
        // request that would verify is refused; other failures are unchanged.
        [$c, $secret] = connected();
        $signed = $c->signRequest(['method' => 'GET', 'path' => '/api/x']);
        try {
            (new Verifier())->verify($signed, fn ($id) => $secret);
            $this->fail('expected a refusal without a replay store');
        } catch (InvalidInputException $e) {
            $this->assertSame('invalid_input', $e->getErrorCode());
            $this->assertStringContainsString('replay', $e->getMessage());
        }
        try {
            (new Verifier())->verify($signed, fn ($id) => null);
            $this->fail();
        } catch (VerificationException $e) {
            $this->assertSame('unknown_installation', $e->getErrorCode());
        }
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

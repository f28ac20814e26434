<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Exception\ClientErrorException;
use Tessera\Exception\RateLimitedException;
use Tessera\Exception\ReconnectRequiredException;
use Tessera\Exception\RegistrationInvalidException;
use Tessera\Exception\ServerUnavailableException;

/**
 * The synchronous driver of Companion::call() with a fake transport: every
 * decision is the core's; these check that the PHP loop carries it out.
 */
final class DriverTest extends TestCase
{
    private const GET = ['method' => 'GET', 'path' => '/api/orders'];
    private const POST = ['method' => 'POST', 'path' => '/api/events', 'headers' => ['Content-Type' => 'application/json'], 'body' => '{}'];

    public function testRetriesServerErrorsWithBoundedJitteredBackoff(): void
    {
        [$c] = connected();
        $t = new FakeTransport([response(503), response(502), response(200, ['ok' => true])]);
        $r = new Recorder();
        $resp = $c->call(self::GET, $t, $r->sleep(), $r->persist());
        $this->assertSame(200, $resp['status']);
        $this->assertCount(3, $t->requests);
        $this->assertCount(2, $r->sleeps);
        // Full jitter: the n-th wait is within [0, base * 2^(n-1)] (base 250 ms).
        $this->assertLessThanOrEqual(250, $r->sleeps[0]);
        $this->assertLessThanOrEqual(500, $r->sleeps[1]);
        $this->assertSame([], $r->persisted);
        // Each attempt is signed afresh (new nonce).
        $nonces = array_map(fn ($q) => $q['headers']['signature-input'], $t->requests);
        $this->assertCount(3, array_unique($nonces));
    }

    public function testGivesUpAfterMaxAttempts(): void
    {
        [$c] = connected();
        $t = new FakeTransport([response(500), response(500), response(500), response(200)]);
        $r = new Recorder();
        try {
            $c->call(self::GET, $t, $r->sleep(), $r->persist());
            $this->fail('expected ServerUnavailableException');
        } catch (ServerUnavailableException $e) {
            $this->assertSame('server_unavailable', $e->getErrorCode());
            $this->assertSame(500, $e->getStatus());
        }
        $this->assertCount(3, $t->requests);
        $this->assertCount(2, $r->sleeps);
    }

    public function testTransportExceptionsAreRetriedLikeServerErrors(): void
    {
        [$c] = connected();
        $t = new FakeTransport([transport_error('timeout'), transport_error('dns'), response(200)]);
        $r = new Recorder();
        $this->assertSame(200, $c->call(self::GET, $t, $r->sleep())['status']);
        $this->assertCount(3, $t->requests);

        $t = new FakeTransport([transport_error(), transport_error(), transport_error()]);
        try {
            $c->call(self::GET, $t, $r->sleep());
            $this->fail('expected ServerUnavailableException');
        } catch (ServerUnavailableException $e) {
            $this->assertNull($e->getStatus());
        }
    }

    public function testPostsRetryWithTheSameIdempotencyKey(): void
    {
        [$c] = connected();
        $t = new FakeTransport([response(503), transport_error(), response(201, ['id' => 1])]);
        $r = new Recorder();
        $this->assertSame(201, $c->call(self::POST, $t, $r->sleep())['status']);
        $keys = array_map(fn ($q) => $q['headers']['idempotency-key'], $t->requests);
        $this->assertCount(3, $keys);
        $this->assertCount(1, array_unique($keys));
    }

    public function testClientErrorsAreNeverRetried(): void
    {
        [$c] = connected();
        $t = new FakeTransport([response(422, ['error' => 'validation_failed']), response(200)]);
        $r = new Recorder();
        try {
            $c->call(self::POST, $t, $r->sleep());
            $this->fail('expected ClientErrorException');
        } catch (ClientErrorException $e) {
            $this->assertSame(422, $e->getStatus());
            $this->assertSame('validation_failed', $e->getReason());
        }
        $this->assertCount(1, $t->requests);
        $this->assertSame([], $r->sleeps);
    }

    public function testRateLimitHonoursRetryAfterThenSurfaces(): void
    {
        [$c] = connected();
        $t = new FakeTransport([response(429, null, ['Retry-After' => '2']), response(200)]);
        $r = new Recorder();
        $this->assertSame(200, $c->call(self::GET, $t, $r->sleep())['status']);
        $this->assertSame([2000], $r->sleeps);

        // Longer than the policy sleeps for: surfaces for the host to schedule.
        $t = new FakeTransport([response(429, null, ['Retry-After' => '120'])]);
        $r = new Recorder();
        try {
            $c->call(self::GET, $t, $r->sleep());
            $this->fail('expected RateLimitedException');
        } catch (RateLimitedException $e) {
            $this->assertSame(120, $e->getRetryAfter());
            $this->assertSame(120000, $e->getRetryAfterMs());
            $this->assertSame(429, $e->getStatus());
        }
        $this->assertSame([], $r->sleeps);
    }

    public function testClockSkewIsLearnedPersistedAndRetriedOnce(): void
    {
        [$c, $secret] = connected();
        $skew = 3600;
        $t = new FakeTransport([
            fn (array $req) => response(401, ['error' => 'signature_expired'], ['Date' => gmdate('D, d M Y H:i:s \G\M\T', time() + $skew)]),
            response(200),
        ]);
        $r = new Recorder();
        $this->assertSame(200, $c->call(self::GET, $t, $r->sleep(), $r->persist())['status']);
        $this->assertCount(2, $t->requests);
        $this->assertEqualsWithDelta(time(), created_of($t->requests[0]), 2);
        $this->assertEqualsWithDelta(time() + $skew, created_of($t->requests[1]), 2);
        $this->assertEqualsWithDelta($skew, $c->clockOffset(), 2);
        $this->assertCount(1, $r->persisted);
        $this->assertEqualsWithDelta($skew, json_decode($r->persisted[0], true)['clock_offset'], 2);
        // The broker accepts the corrected request at its own clock.
        (new \Tessera\Verifier(null, 16))->verify($t->requests[1], fn ($id) => $secret, null, time() + $skew);

        // Only once per call: a second signature_expired is a client error.
        $expired = fn (array $req) => response(401, ['error' => 'signature_expired'], ['Date' => gmdate('D, d M Y H:i:s \G\M\T', time() + 2 * $skew)]);
        $t = new FakeTransport([$expired, $expired]);
        $this->expectException(ClientErrorException::class);
        $c->call(self::GET, $t, $r->sleep(), $r->persist());
    }

    public function testReconnectRequiredDropsTheTokenAndPersists(): void
    {
        [$c] = connected();
        $t = new FakeTransport([response(401, ['error' => 'stora_reconnect_required'])]);
        $r = new Recorder();
        try {
            $c->call(self::GET, $t, $r->sleep(), $r->persist());
            $this->fail('expected ReconnectRequiredException');
        } catch (ReconnectRequiredException $e) {
            $this->assertSame('reconnect_required', $e->getErrorCode());
            $this->assertSame('stora_reconnect_required', $e->getReason());
        }
        $this->assertSame('reconnect_required', $c->status());
        $this->assertSame('stora_reconnect_required', $c->reconnectReason());
        $this->assertCount(1, $r->persisted);
        $this->assertSame('reconnect_required', json_decode($r->persisted[0], true)['status']);
        // Further calls fail before any I/O.
        $t = new FakeTransport([]);
        try {
            $c->call(self::GET, $t);
            $this->fail('expected ReconnectRequiredException');
        } catch (ReconnectRequiredException $e) {
            $this->assertSame([], $t->requests);
        }
    }

    public function testRegistrationInvalid(): void
    {
        [$c] = connected();
        $t = new FakeTransport([response(401, ['error' => 'unknown_installation'])]);
        try {
            $c->call(self::GET, $t, null, fn ($j) => null);
            $this->fail('expected RegistrationInvalidException');
        } catch (RegistrationInvalidException $e) {
            $this->assertSame('registration_invalid', $e->getErrorCode());
            $this->assertSame('unknown_installation', $e->getReason());
        }
        $this->assertSame('registration_invalid', $c->status());
    }

    public function testDefaultSleepReallySleeps(): void
    {
        [$c] = connected();
        $t = new FakeTransport([response(429, null, ['Retry-After' => '1']), response(200)]);
        $start = microtime(true);
        $this->assertSame(200, $c->call(self::GET, $t)['status']);
        $this->assertGreaterThanOrEqual(0.95, microtime(true) - $start);
    }

    public function testOtherExceptionsFromCallbacksPropagateUnchanged(): void
    {
        [$c] = connected();
        foreach (['transport', 'sleep', 'persist'] as $where) {
            $boom = new \LogicException("boom in $where");
            $t = new FakeTransport([
                $where === 'transport' ? $boom : response(503),
                $where === 'sleep' ? response(200) : response(401, ['error' => 'stora_reconnect_required']),
            ]);
            $sleep = fn (int $ms) => $where === 'sleep' ? throw $boom : null;
            $persist = fn (string $j) => $where === 'persist' ? throw $boom : null;
            try {
                [$d] = [\Tessera\Companion::fromJson($c->toJson())];
                $d->call(self::GET, $t, $sleep, $persist);
                $this->fail("expected the LogicException from $where");
            } catch (\LogicException $e) {
                $this->assertSame($boom, $e);
            }
        }
    }

    public function testTransportMustReturnAResponseArray(): void
    {
        [$c] = connected();
        foreach ([null, 'HTTP/1.1 200 OK', 200, ['status' => '200'], ['status' => 99999], ['headers' => []], ['status' => 200, 'headers' => 'x'], ['status' => 200, 'body' => []]] as $bad) {
            try {
                $c->call(self::GET, fn (array $r) => $bad);
                $this->fail('expected InvalidInputException for ' . json_encode($bad));
            } catch (\Tessera\Exception\InvalidInputException $e) {
                $this->assertSame('invalid_input', $e->getErrorCode());
            } catch (\TypeError $e) {
                // A closure declared `: array` would not even return a non-array.
                $this->fail('TypeError: ' . $e->getMessage());
            }
        }
    }
}

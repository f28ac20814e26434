<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\ClientErrorException;
use Tessera\Exception\InvalidInputException;
use Tessera\Exception\InvalidStateException;
use Tessera\Exception\RateLimitedException;
use Tessera\Exception\ReconnectRequiredException;
use Tessera\Exception\RegistrationInvalidException;
use Tessera\Exception\ServerUnavailableException;
use Tessera\Verifier;

/**
 * The synchronous driver (`call()`, `register()`, `siteMoved()`, …) with a
 * fake transport: every decision is the core's; these check that the PHP loop
 * carries it out (MachineTest replays the core's scripts action by action).
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
                [$d] = [\Tessera\Companion::importState($c->exportState())];
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

    // ---- registration on the step machine ---------------------------------------------

    public function testRegisterPersistsTheSecretBeforeTheFirstSend(): void
    {
        $c = Companion::create(['broker_url' => BROKER]);
        $r = new Recorder();
        $t = new FakeTransport([function (array $req) use ($r) {
            // The new installation is stored before anything leaves.
            $this->assertCount(1, $r->persisted);
            $this->assertSame(json_decode($req['body'], true)['secret'], json_decode($r->persisted[0], true)['installation']['secret']);
            return response(201, []);
        }]);
        $this->assertSame(['outcome' => 'registered'], $c->register(REGISTRATION, $t, $r->sleep(), $r->persist()));
        $this->assertSame('registered', $c->status());
        $this->assertCount(1, $t->requests);
        $this->assertSame(['POST', BROKER . '/installations'], [$t->requests[0]['method'], $t->requests[0]['url']]);
        $this->assertCount(2, $r->persisted);
        $this->assertSame($c->exportState(), end($r->persisted));
    }

    public function testRegisterRetriesLostAnswersWithTheSameInstallation(): void
    {
        $c = Companion::create(['broker_url' => BROKER]);
        $t = new FakeTransport([transport_error('reset'), response(503), response(201, [])]);
        $r = new Recorder();
        $this->assertSame(['outcome' => 'registered'], $c->register(REGISTRATION, $t, $r->sleep(), $r->persist()));
        $this->assertCount(3, $t->requests);
        $this->assertCount(1, array_unique(array_column($t->requests, 'body')), 'same install id and secret on every attempt');
        $this->assertCount(2, $r->sleeps);
    }

    public function testRegisterServesTheOwnershipProofAndSendsAgain(): void
    {
        $c = Companion::create(['broker_url' => BROKER]);
        $challenge = 'chl_' . str_repeat('c', 22);
        $t = new FakeTransport([response(202, ['challenge' => $challenge]), response(201, [])]);
        $served = [];
        $serveProof = function (array $proof) use (&$served, $c) {
            $served[] = $proof;
            $this->assertSame('awaiting_ownership', $c->status(), 'the challenge is in the state before the proof is asked for');
            return null; // anything but false: served
        };
        $this->assertSame(['outcome' => 'registered'], $c->register(REGISTRATION, $t, null, null, $serveProof));
        $this->assertCount(2, $t->requests);
        $this->assertSame($t->requests[0]['body'], $t->requests[1]['body']);
        $this->assertCount(1, $served);
        $id = $c->installId();
        $this->assertSame(['url', 'path', 'body'], array_keys($served[0]));
        $this->assertSame(SITE . "/.well-known/tessera/$id", $served[0]['url']);
        $this->assertSame("/.well-known/tessera/$id", $served[0]['path']);
        $secret = json_decode($t->requests[0]['body'], true)['secret'];
        Verifier::verifyOwnershipProof($secret, $id, $challenge, $served[0]['body']);
    }

    public function testRegisterDefersTheProofWhenTheHostCannotServeIt(): void
    {
        $challenge = 'chl_' . str_repeat('d', 22);
        foreach (['no serveProof' => null, 'serveProof returns false' => fn (array $p) => false] as $label => $serveProof) {
            $c = Companion::create(['broker_url' => BROKER]);
            $t = new FakeTransport([response(202, ['challenge' => $challenge])]);
            $out = $c->register(REGISTRATION, $t, null, null, $serveProof);
            $this->assertSame('ownership_challenge', $out['outcome'], $label);
            $this->assertSame($c->ownershipProof(), $out['proof'], $label);
            $this->assertSame('awaiting_ownership', $c->status(), $label);
            $this->assertCount(1, $t->requests, $label);
            // A later register() resumes the round with the same installation.
            $id = $c->installId();
            $again = new FakeTransport([response(201, [])]);
            $this->assertSame(['outcome' => 'registered'], $c->register(REGISTRATION, $again, null, null, fn (array $p) => true), $label);
            $this->assertSame($t->requests[0]['body'], $again->requests[0]['body'], $label);
            $this->assertSame($id, $c->installId(), $label);
        }
    }

    public function testRegisterRefusalsAreTyped(): void
    {
        $c = Companion::create(['broker_url' => BROKER]);
        try {
            $c->register(REGISTRATION, new FakeTransport([response(400, ['error' => 'bad_site'])]));
            $this->fail('expected RegistrationInvalidException');
        } catch (RegistrationInvalidException $e) {
            $this->assertSame('registration_rejected', $e->getErrorCode());
            $this->assertSame(400, $e->getStatus());
        }
        [$registered] = registered();
        $t = new FakeTransport([]);
        try {
            $registered->register(REGISTRATION, $t);
            $this->fail('expected InvalidStateException');
        } catch (InvalidStateException $e) {
            $this->assertSame([], $t->requests, 'refused before any action');
        }
    }

    public function testRedirectsAreNeitherFollowedNorRetried(): void
    {
        $redirect = ['status' => 302, 'headers' => ['Location' => 'https://elsewhere.example/'], 'body' => ''];
        [$c] = connected();
        $r = new Recorder();
        foreach ([
            'call' => fn ($t) => $c->call(self::GET, $t, $r->sleep(), $r->persist()),
            'register' => fn ($t) => Companion::create(['broker_url' => BROKER])->register(REGISTRATION, $t, $r->sleep(), $r->persist()),
        ] as $label => $op) {
            $t = new FakeTransport([$redirect, response(200)]);
            try {
                $op($t);
                $this->fail("$label: expected ClientErrorException");
            } catch (ClientErrorException $e) {
                $this->assertSame('redirected', $e->getErrorCode(), $label);
                $this->assertSame(302, $e->getStatus(), $label);
            }
            $this->assertCount(1, $t->requests, $label);
            $this->assertSame([], $r->sleeps, $label);
        }
    }

    public function testSiteMovedServesTheProofWhenTheBrokerAsks(): void
    {
        $challenge = 'chl_' . str_repeat('m', 22);
        [$c, $secret] = connected();
        $c->checkSite('https://new.shop.example');
        $t = new FakeTransport([response(202, ['challenge' => $challenge]), response(201, [])]);
        $served = [];
        $this->assertNull($c->siteMoved($t, null, null, function (array $p) use (&$served) {
            $served[] = $p;
            return true;
        }));
        $this->assertSame(['PATCH', 'POST'], array_column($t->requests, 'method'));
        $this->assertSame('https://new.shop.example/.well-known/tessera/' . $c->installId(), $served[0]['url']);
        Verifier::verifyOwnershipProof($secret, (string) $c->installId(), $challenge, $served[0]['body']);
        $this->assertSame('https://new.shop.example', $c->siteUrl());
        $this->assertSame('connected', $c->status());

        // Deferred: awaiting the proof until register() finishes the round.
        [$d] = connected();
        $d->checkSite('https://new.shop.example');
        $d->siteMoved(new FakeTransport([response(202, ['challenge' => $challenge])]));
        $this->assertSame('awaiting_ownership', $d->status());
        $this->assertSame(['outcome' => 'registered'], $d->register(['site_url' => 'https://new.shop.example'] + REGISTRATION, new FakeTransport([response(201, [])]), null, null, fn ($p) => true));
        $this->assertSame('connected', $d->status());
    }

    // ---- test hooks ---------------------------------------------------------------------

    public function testUseSeededEntropyMakesRunsReproducible(): void
    {
        $seed = str_repeat("\x07", 32);
        $bodies = [];
        foreach ([true, true, false] as $seeded) {
            $c = Companion::create(['broker_url' => BROKER]);
            if ($seeded) {
                \Tessera\Testing\useSeededEntropy($c, $seed);
            }
            $t = new FakeTransport([response(201, [])]);
            $c->register(REGISTRATION, $t);
            $bodies[] = $t->requests[0]['body'];
            // One stream across calls: the next draw differs from the first.
            $bodies[] = $c->signRequest(['method' => 'POST', 'path' => '/api/x'], 1700000000)['headers']['idempotency-key'];
        }
        $this->assertSame($bodies[0], $bodies[2]);
        $this->assertSame($bodies[1], $bodies[3]);
        $this->assertNotSame($bodies[0], $bodies[4]);
        $c = Companion::create(['broker_url' => BROKER]);
        \Tessera\Testing\useSeededEntropy($c, $seed);
        \Tessera\Testing\useSeededEntropy($c, null);
        $this->assertNotSame($bodies[0], $c->registrationRequest(REGISTRATION)['body'], 'null returns to the OS CSPRNG');
        foreach (['', str_repeat('x', 31), str_repeat('x', 33)] as $bad) {
            try {
                \Tessera\Testing\useSeededEntropy($c, $bad);
                $this->fail('expected InvalidInputException');
            } catch (InvalidInputException $e) {
                $this->assertSame('invalid_input', $e->getErrorCode());
            }
        }
    }

    public function testUseClockIsReadOncePerEventAndByImplicitNows(): void
    {
        [$c] = connected();
        $reads = 0;
        \Tessera\Testing\useClock($c, function () use (&$reads): int {
            $reads++;
            return 1800000000;
        });
        $t = new FakeTransport([response(503), response(200)]);
        $c->call(self::GET, $t, fn (int $ms) => null);
        $this->assertSame(4, $reads, 'start, response, slept, response');
        $this->assertSame([1800000000, 1800000000], array_map(fn ($q) => created_of($q), $t->requests));
        $this->assertSame(1800000000, created_of($c->signRequest(self::GET)));
        $this->assertSame(1700000000, created_of($c->signRequest(self::GET, 1700000000)), 'an explicit $now wins');
        $this->assertStringContainsString('ts=1800000000', $c->uninstallUrl());
        \Tessera\Testing\useClock($c, fn () => '1800000000');
        try {
            $c->signRequest(self::GET);
            $this->fail('expected InvalidInputException');
        } catch (InvalidInputException $e) {
            $this->assertSame('invalid_input', $e->getErrorCode());
        }
        $boom = new \LogicException('clock broke');
        \Tessera\Testing\useClock($c, fn () => throw $boom);
        try {
            $c->call(self::GET, new FakeTransport([response(200)]));
            $this->fail('expected the LogicException');
        } catch (\LogicException $e) {
            $this->assertSame($boom, $e);
        }
        \Tessera\Testing\useClock($c, null);
        $this->assertEqualsWithDelta(time(), created_of($c->signRequest(self::GET)), 2);
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception;
use Tessera\Exception\TesseraException;
use Tessera\Verifier;

/** Every exception class, raised for real through the API. */
final class ExceptionsTest extends TestCase
{
    private const FAMILIES = [
        Exception\InvalidInputException::class,
        Exception\InvalidStateException::class,
        Exception\StateUndecryptableException::class,
        Exception\ReconnectRequiredException::class,
        Exception\RegistrationInvalidException::class,
        Exception\RateLimitedException::class,
        Exception\ClientErrorException::class,
        Exception\ServerUnavailableException::class,
        Exception\CallbackException::class,
        Exception\SiteMismatchException::class,
        Exception\VerificationException::class,
    ];

    public function testHierarchy(): void
    {
        $base = new \ReflectionClass(TesseraException::class);
        $this->assertTrue($base->isSubclassOf(\Exception::class));
        $this->assertFalse($base->isFinal());
        foreach (self::FAMILIES as $class) {
            $r = new \ReflectionClass($class);
            // getName(): the class an alias names (pure PHP: Tessera\Pure\Exception\…).
            $this->assertSame($base->getName(), $r->getParentClass()->getName(), $class);
            $this->assertTrue($r->isFinal(), $class);
        }
        $this->assertTrue(is_subclass_of(Exception\TransportException::class, \RuntimeException::class));
        $this->assertFalse(is_subclass_of(Exception\TransportException::class, TesseraException::class));
    }

    /** @return array<string, array{string, string, callable}> class, code, thrower */
    public static function raisers(): array
    {
        $registration = ['site_url' => SITE, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1'];
        return [
            'invalid input' => [Exception\InvalidInputException::class, 'insecure_broker_url', fn () => Companion::create(['broker_url' => 'http://broker.example'])],
            'invalid state' => [Exception\InvalidStateException::class, 'state_corrupt', fn () => Companion::importState('{"v":1}')],
            'not registered' => [Exception\InvalidStateException::class, 'not_registered', fn () => Companion::create(['broker_url' => BROKER])->signRequest(['method' => 'GET', 'path' => '/x'])],
            'newer state' => [Exception\InvalidStateException::class, 'state_version_unsupported', function () {
                [$c] = registered();
                $s = json_decode($c->exportState(), true);
                $s['v'] = 99;
                Companion::importState(json_encode($s));
            }],
            'undecryptable' => [Exception\StateUndecryptableException::class, 'state_undecryptable', fn () => Companion::openState('tsv1.AAAA', str_repeat('k', 16))],
            'reconnect' => [Exception\ReconnectRequiredException::class, 'reconnect_required', function () {
                [$c] = connected();
                $c->call(['method' => 'GET', 'path' => '/x'], fn ($r) => response(401, ['error' => 'installation_disabled']));
            }],
            'registration conflict' => [Exception\RegistrationInvalidException::class, 'registration_conflict', function () use ($registration) {
                $c = Companion::create(['broker_url' => BROKER]);
                $c->register($registration, fn ($r) => response(409, ['error' => 'conflict']));
            }],
            'registration rejected' => [Exception\RegistrationInvalidException::class, 'registration_rejected', function () use ($registration) {
                $c = Companion::create(['broker_url' => BROKER]);
                $c->register($registration, fn ($r) => response(400, ['error' => 'bad_site']));
            }],
            'rate limited' => [Exception\RateLimitedException::class, 'rate_limited', function () use ($registration) {
                $c = Companion::create(['broker_url' => BROKER]);
                $c->register($registration, fn ($r) => response(429, null, ['Retry-After' => '30']));
            }],
            'rate limited (low level)' => [Exception\RateLimitedException::class, 'rate_limited', function () use ($registration) {
                $c = Companion::create(['broker_url' => BROKER]);
                $c->registrationRequest($registration);
                $c->handleRegistrationResponse(response(429, null, ['Retry-After' => '30']));
            }],
            'client error' => [Exception\ClientErrorException::class, 'client_error', function () {
                [$c] = connected();
                $c->call(['method' => 'GET', 'path' => '/x'], fn ($r) => response(404, ['error' => 'not_found']));
            }],
            'redirected' => [Exception\ClientErrorException::class, 'redirected', function () {
                [$c] = connected();
                $c->call(['method' => 'GET', 'path' => '/x'], fn ($r) => ['status' => 307, 'headers' => ['Location' => 'https://elsewhere.example/x']]);
            }],
            'server unavailable' => [Exception\ServerUnavailableException::class, 'server_unavailable', function () use ($registration) {
                $c = Companion::create(['broker_url' => BROKER]);
                $c->register($registration, fn ($r) => response(503), fn ($ms) => null);
            }],
            'callback' => [Exception\CallbackException::class, 'callback_invalid', function () {
                [$c] = registered();
                $c->connectUrl(SITE . '/cb');
                $c->completeConnect('code=' . CONNECT_CODE, connect_transport());
            }],
            'site mismatch' => [Exception\SiteMismatchException::class, 'site_mismatch', function () {
                [$c] = connected();
                $c->checkSite('https://copy.example');
                $c->connectUrl(SITE . '/cb');
            }],
            'verification' => [Exception\VerificationException::class, 'signature_missing', fn () => (new Verifier(null, 8))->verify(['method' => 'GET', 'url' => BROKER . '/api/x'], fn ($id) => null)],
        ];
    }

    /** @dataProvider raisers */
    public function testEveryFamilyIsRaised(string $class, string $code, callable $raise): void
    {
        $line = __LINE__ + 2;
        try {
            $raise();
            $this->fail("expected $class");
        } catch (TesseraException $e) {
            $this->assertInstanceOf($class, $e);
            $this->assertSame($code, $e->getErrorCode());
            $this->assertNotSame('', $e->getMessage());
            $this->assertSame(0, $e->getCode());
            $this->assertNull($e->getPrevious());
            // File and line are where PHP called into the extension, like any PHP exception.
            $this->assertSame(__FILE__, $e->getFile());
            $this->assertNotSame($line, 0);
            $this->assertNotEmpty($e->getTrace());
            $this->assertStringStartsWith(real_class($class) . ':', (string) $e);
        }
    }

    public function testEveryFamilyHasARaiser(): void
    {
        $raised = array_unique(array_column(self::raisers(), 0));
        sort($raised);
        $families = self::FAMILIES;
        sort($families);
        $this->assertSame($families, $raised);
    }

    public function testDetails(): void
    {
        [$c] = connected();
        try {
            $c->call(['method' => 'GET', 'path' => '/x'], fn ($r) => response(429, null, ['Retry-After' => '61']));
            $this->fail();
        } catch (Exception\RateLimitedException $e) {
            $this->assertSame(61000, $e->getRetryAfterMs());
            $this->assertSame(61, $e->getRetryAfter());
            $this->assertSame(429, $e->getStatus());
            $this->assertNull($e->getReason());
        }
        try {
            (new Verifier(null, 8))->verify(['method' => 'GET', 'url' => BROKER . '/x'], fn ($id) => null);
            $this->fail();
        } catch (Exception\VerificationException $e) {
            $this->assertSame(401, $e->getHttpStatus());
            $this->assertSame('signature_missing', $e->getWireCode());
            $this->assertSame(['content-type' => 'application/json', 'cache-control' => 'no-store'], $e->getWireHeaders());
            $this->assertSame('{"error":"signature_missing","error_description":"the request carries no tessera signature"}', $e->getWireBody());
        }
        try {
            Verifier::verifyOwnershipProof(str_repeat('A', 43), 'ins_x', 'challenge-challenge', 'nope');
            $this->fail();
        } catch (Exception\VerificationException $e) {
            $this->assertSame('ownership_proof_invalid', $e->getErrorCode());
            $this->assertSame(403, $e->getHttpStatus());
            $this->assertSame('ownership_proof_invalid', $e->getWireCode());
            $this->assertSame(['content-type' => 'application/json', 'cache-control' => 'no-store'], $e->getWireHeaders());
            $this->assertSame('{"error":"ownership_proof_invalid","error_description":"the ownership proof does not match"}', $e->getWireBody());
        }
        // Not from a verification step (hmacSignGeneric's malformed input): status and code, no answer.
        try {
            Verifier::hmacSignGeneric(['method' => 'GET', 'url' => BROKER . '/x'], 'sig=("@method"', 'key');
            $this->fail();
        } catch (Exception\VerificationException $e) {
            $this->assertSame('signature_malformed', $e->getWireCode());
            $this->assertSame([], $e->getWireHeaders());
            $this->assertSame('', $e->getWireBody());
        }
    }

    public function testConstructedInPhpTheGettersKeepTheirTypes(): void
    {
        $e = new Exception\RateLimitedException('by hand');
        $this->assertSame('internal', $e->getErrorCode());
        $this->assertSame(0, $e->getRetryAfter());
        $this->assertNull($e->getStatus());
        $s = new Exception\SiteMismatchException();
        $this->assertSame('', $s->getRegisteredUrl());
        $v = new Exception\VerificationException('by hand');
        $this->assertSame([500, 'internal', [], ''], [$v->getHttpStatus(), $v->getWireCode(), $v->getWireHeaders(), $v->getWireBody()]);
        $custom = new class ('mine') extends TesseraException {
        };
        $this->assertSame('internal', $custom->getErrorCode());
        $this->assertSame('mine', $custom->getMessage());
    }

    public function testRustPanicBecomesInternalTesseraException(): void
    {
        if (impl() === IMPL_PURE) {
            $this->markTestSkipped('native only: a Rust panic caught at the extension boundary (pure PHP has no panics)');
        }
        if (!function_exists('Tessera\Testing\panic')) {
            $this->markTestSkipped('needs the test build (scripts/build-php.sh --test-hooks)');
        }
        for ($i = 0; $i < 3; $i++) {
            try {
                \Tessera\Testing\panic();
                $this->fail('expected TesseraException');
            } catch (TesseraException $e) {
                $this->assertSame(TesseraException::class, get_class($e));
                $this->assertSame('internal', $e->getErrorCode());
                $this->assertStringNotContainsString('deliberate', $e->getMessage());
            }
        }
        // The process and the extension are still fine.
        [$c] = connected();
        $this->assertSame('connected', $c->status());
    }
}

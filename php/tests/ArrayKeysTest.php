<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\InvalidInputException;
use Tessera\Exception\TesseraException;

/**
 * An array argument that is not what Tessera reads names the problem: the
 * unknown key (with its snake_case spelling when a camelCase one is given),
 * the missing key, or the key of the wrong type, with its path — the same
 * message from the extension and from pure PHP (this file runs against both:
 * scripts/test.d/20-php.sh), and never a value (a value may be a secret).
 */
final class ArrayKeysTest extends TestCase
{
    private const SECRET = 'sk_live_do-not-print-me';

    /** @return array<string, array{array, string}> */
    public static function configs(): array
    {
        return [
            'camelCase' => [['brokerUrl' => BROKER], 'unknown key `config.brokerUrl`; did you mean `broker_url`?'],
            'PascalCase acronym' => [['BrokerURL' => BROKER], 'unknown key `config.BrokerURL`; did you mean `broker_url`?'],
            'kebab-case' => [['broker-url' => BROKER], 'unknown key `config.broker-url`; did you mean `broker_url`?'],
            'unknown' => [['broker_url' => BROKER, 'timeout' => 5], 'unknown key `config.timeout`'],
            'unknown before missing' => [['other' => 1], 'unknown key `config.other`'],
            'not a plain name' => [['broker_url' => BROKER, "bad key\n" => 1], 'unknown key in `config` (not shown: not a plain name)'],
            'a list' => [[BROKER], 'unknown key `config.0`'],
            'missing' => [[], 'missing key `config.broker_url` (a string)'],
            'wrong type' => [['broker_url' => 443], '`config.broker_url` must be a string, got int'],
            'null' => [['broker_url' => null], '`config.broker_url` must be a string, got null'],
            'not UTF-8' => [['broker_url' => "https://b\xffroker"], '`config.broker_url` must be valid UTF-8'],
            'nested wrong type' => [['broker_url' => BROKER, 'retry' => ['max_attempts' => '3']], '`config.retry.max_attempts` must be an int, got string'],
            'nested float' => [['broker_url' => BROKER, 'retry' => ['base_delay_ms' => 1.5]], '`config.retry.base_delay_ms` must be an int, got float'],
            'nested negative' => [['broker_url' => BROKER, 'retry' => ['max_delay_ms' => -1]], '`config.retry.max_delay_ms` must not be negative'],
            'nested too large' => [['broker_url' => BROKER, 'retry' => ['max_attempts' => 4294967296]], '`config.retry.max_attempts` must be at most 4294967295'],
            'nested camelCase' => [['broker_url' => BROKER, 'retry' => ['maxAttempts' => 3]], 'unknown key `config.retry.maxAttempts`; did you mean `max_attempts`?'],
            'nested unknown' => [['broker_url' => BROKER, 'routes' => ['callback' => '/cb']], 'unknown key `config.routes.callback`'],
            'nested not an array' => [['broker_url' => BROKER, 'routes' => '/installations'], '`config.routes` must be an array, got string'],
            'nested camelCase route' => [['broker_url' => BROKER, 'routes' => ['connectComplete' => '/cc']], 'unknown key `config.routes.connectComplete`; did you mean `connect_complete`?'],
        ];
    }

    /** @dataProvider configs */
    public function testConfigNamesTheKey(array $config, string $message): void
    {
        $this->assertInvalid($message, fn () => Companion::create($config));
    }

    public function testAWellFormedConfigIsAccepted(): void
    {
        $c = Companion::create([
            'broker_url' => BROKER,
            'routes' => ['installations' => '/installations', 'connect' => '/connect', 'disconnect' => '/disconnect', 'connect_complete' => '/connect/complete'],
            'retry' => ['max_attempts' => 3, 'base_delay_ms' => 250, 'max_delay_ms' => 4000, 'max_total_delay_ms' => 15000, 'max_retry_after_ms' => 600000],
        ]);
        $this->assertInstanceOf(Companion::class, $c);
        $this->assertInstanceOf(Companion::class, Companion::create(['broker_url' => BROKER, 'routes' => [], 'retry' => []]));
    }

    /** @return array<string, array{array, string}> */
    public static function registrations(): array
    {
        $without = REGISTRATION;
        unset($without['plugin_version']);
        return [
            'camelCase' => [['adminEmail' => 'a@shop.example'] + REGISTRATION, 'unknown key `registration.adminEmail`; did you mean `admin_email`?'],
            'unknown' => [REGISTRATION + ['site_name' => 'Shop'], 'unknown key `registration.site_name`'],
            'missing' => [$without, 'missing key `registration.plugin_version` (a string)'],
            'wrong type' => [['platform' => ['wordpress']] + REGISTRATION, '`registration.platform` must be a string, got array'],
            'a list' => [array_values(REGISTRATION), 'unknown key `registration.0`'],
        ];
    }

    /** @dataProvider registrations */
    public function testRegistrationNamesTheKey(array $registration, string $message): void
    {
        $c = Companion::create(['broker_url' => BROKER]);
        $this->assertInvalid($message, fn () => $c->registrationRequest($registration));
        $t = new FakeTransport([]);
        $this->assertInvalid($message, fn () => $c->register(registration: $registration, transport: $t));
        $this->assertSame([], $t->requests, 'nothing is sent for a malformed registration');
    }

    /** @return array<string, array{array, string}> */
    public static function requests(): array
    {
        return [
            'misspelt headers' => [['method' => 'GET', 'path' => '/v1/orders', 'header' => ['accept' => 'application/json']], 'unknown key `request.header`'],
            'capitalised' => [['method' => 'POST', 'path' => '/v1/orders', 'Body' => '{}'], 'unknown key `request.Body`; did you mean `body`?'],
            'a list' => [['GET', '/v1/orders'], 'unknown key `request.0`'],
            'missing' => [['path' => '/v1/orders'], 'invalid `request.method`: is missing'],
            'wrong type' => [['method' => 'GET', 'path' => ['/v1']], 'invalid `request.path`: must be a string'],
            'nested wrong type' => [['method' => 'GET', 'path' => '/v1', 'headers' => ['accept' => 1]], 'invalid `request.headers`: must be a string'],
            'body not a string' => [['method' => 'POST', 'path' => '/v1', 'body' => ['a' => 1]], 'invalid `request.body`: must be a string'],
        ];
    }

    /** @dataProvider requests */
    public function testApiRequestNamesTheKey(array $request, string $message): void
    {
        [$c] = connected();
        $this->assertInvalid($message, fn () => $c->signRequest($request));
        $t = new FakeTransport([]);
        $this->assertInvalid($message, fn () => $c->call(request: $request, transport: $t));
        $this->assertSame([], $t->requests, 'nothing is sent for a malformed request');
    }

    /** @return array<string, array{array, string}> */
    public static function events(): array
    {
        $event = ['source_id' => 'src_1', 'template_id' => 'tpl_1'];
        return [
            'camelCase' => [['sourceId' => 'src_1', 'template_id' => 'tpl_1'], 'unknown key `event.sourceId`; did you mean `source_id`?'],
            'unknown' => [$event + ['title' => 'x'], 'unknown key `event.title`'],
            'missing' => [['source_id' => 'src_1'], 'invalid `event.template_id`: is missing'],
            'wrong type' => [$event + ['description' => 42], 'invalid `event.description`: must be a string'],
            'nested wrong type' => [$event + ['variables' => ['name' => ['Ada']]], 'invalid `event.variables`: must be a string'],
            'nested not an array' => [$event + ['variables' => 'name=Ada'], 'invalid `event.variables`: must be an array of name => value'],
        ];
    }

    /** @dataProvider events */
    public function testTimelineEventNamesTheKey(array $event, string $message): void
    {
        $this->assertInvalid($message, fn () => Companion::timelineEventRequest(event: $event, externalId: 'ext-1'));
    }

    /** A response array (a transport's result, classify()'s argument) names its keys; it may carry more (wp_remote_request's does). */
    public function testResponseNamesTheKey(): void
    {
        $this->assertInvalid('invalid `response.status`: is missing', fn () => Companion::classify(['code' => 200]));
        $this->assertInvalid('invalid `response.status`: must be an integer HTTP status', fn () => Companion::classify(['status' => '200']));
        $this->assertInvalid('invalid `response.headers`: must be an array of name => value', fn () => Companion::classify(['status' => 200, 'headers' => 'x']));
        $this->assertSame('ok', Companion::classify(['status' => 200, 'cookies' => [], 'response' => ['code' => 200]])['kind'], 'unused response keys are accepted');
        [$c] = connected();
        $this->assertInvalid('invalid `response.status`: is missing', fn () => $c->call(
            request: ['method' => 'GET', 'path' => '/api/orders'],
            transport: fn (array $r) => ['code' => 200],
            sleep: fn (int $ms) => null,
        ));
    }

    /** The broker side's request array names its keys too. */
    public function testVerifierRequestNamesTheKey(): void
    {
        $this->assertInvalid('invalid `request.url`: is missing', fn () => \Tessera\Verifier::hmacSignGeneric(['method' => 'GET'], 'sig1=()', 'key'));
    }

    public function testNoValueIsEverPrinted(): void
    {
        $cases = [
            fn () => Companion::create(['brokerUrl' => self::SECRET]),
            fn () => Companion::create(['broker_url' => BROKER, 'retry' => ['max_attempts' => self::SECRET]]),
            fn () => Companion::create(['broker_url' => [self::SECRET]]),
            fn () => Companion::create(['broker_url' => BROKER, 'routes' => [self::SECRET]]),
            fn () => Companion::create(['broker_url' => self::SECRET . "\xff"]),
            fn () => connected()[0]->signRequest(['method' => 'GET', 'path' => '/x', 'authorization' => self::SECRET]),
        ];
        foreach ($cases as $i => $case) {
            try {
                $case();
                $this->fail("case $i: no exception");
            } catch (InvalidInputException $e) {
                $this->assertStringNotContainsString('do-not-print', (string) $e, "case $i");
                $this->assertStringNotContainsString('do-not-print', $e->getMessage(), "case $i");
            }
        }
    }

    /** The exception: InvalidInputException (a TesseraException) with code invalid_input and exactly $message. */
    private function assertInvalid(string $message, callable $call): void
    {
        try {
            $call();
        } catch (InvalidInputException $e) {
            $this->assertInstanceOf(TesseraException::class, $e);
            $this->assertSame('invalid_input', $e->getErrorCode());
            $this->assertSame($message, $e->getMessage());
            $this->assertNull($e->getPrevious());
            return;
        }
        $this->fail("no InvalidInputException (expected: $message)");
    }
}

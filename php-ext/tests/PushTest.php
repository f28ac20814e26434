<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\InvalidInputException;
use Tessera\Exception\InvalidStateException;
use Tessera\Exception\ServerUnavailableException;
use Tessera\Exception\SiteMismatchException;
use Tessera\Exception\TesseraException;
use Tessera\Exception\VerificationException;

/**
 * Pushed events (docs/PROTOCOL.md §14.4) as a PHP host sees them:
 * `verifyPush()` on a push the broker signed (the vector case "one event" of
 * tests/vectors/push.json, signed by the core's `sign_push`), the same push
 * tampered with, the PHP shapes around it, and `pushRegistrationRequest()`
 * run through `call()`. Every rule is the core's; VectorsTest runs every
 * case of push.json.
 */
final class PushTest extends TestCase
{
    /** The vector case `$name` of push.json. */
    private static function vector(string $name): array
    {
        return vector_cases('push.json')[$name][0];
    }

    /** Runs `$f`, which must throw `$class` with the code `$code`. */
    private function assertRefused(string $class, string $code, callable $f, string $message = ''): TesseraException
    {
        try {
            $f();
        } catch (TesseraException $e) {
            $this->assertInstanceOf($class, $e, $message);
            $this->assertSame($code, $e->getErrorCode(), $message);
            return $e;
        }
        $this->fail("nothing was refused ($code expected) $message");
    }

    public function testAPushSignedByTheBrokerVerifiesAndATamperedOneIsRefused(): void
    {
        $case = self::vector('one event');
        $c = Companion::importState($case['state']);
        [[, $signature]] = $case['headers'];
        // Headers as the package takes them: name => value (any case), name => [values].
        foreach ([['Tessera-Push-Signature' => $signature], ['TESSERA-PUSH-SIGNATURE' => [$signature]], ['content-type' => 'application/json', 'tessera-push-signature' => $signature]] as $headers) {
            $events = $c->verifyPush($headers, $case['body'], $case['now']);
            $this->assertSame([[
                'id' => 'evt_0',
                'type' => 'contact.created',
                'api_version' => '2025-09',
                'created_at' => 1700000000,
                'data' => ['object' => ['id' => 'con_1', 'name' => 'Zoë', 'total' => 125.0]],
                'data_json' => '{"object":{"id":"con_1","name":"Zoë","total":12.5e1}}',
            ]], $events);
        }
        // Every v1 is compared: a matching one among others (as while the secret rotates) verifies.
        $this->assertCount(1, $c->verifyPush(['tessera-push-signature' => $signature . ',v1=' . str_repeat('0', 64)], $case['body'], $case['now']));
        // One byte of the body changed, the signature changed, signed for another time: refused, as the core answers the broker.
        $tampered = [
            'body' => [['tessera-push-signature' => $signature], str_replace('con_1', 'con_2', $case['body']), 'signature_invalid'],
            'trailing byte' => [['tessera-push-signature' => $signature], $case['body'] . ' ', 'signature_invalid'],
            'mac' => [['tessera-push-signature' => substr($signature, 0, -1) . (str_ends_with($signature, '0') ? '1' : '0')], $case['body'], 'signature_invalid'],
            'time' => [['tessera-push-signature' => str_replace('t=1700000000', 't=1700000001', $signature)], $case['body'], 'signature_invalid'],
            'no header' => [['content-type' => 'application/json'], $case['body'], 'signature_missing'],
            'malformed' => [['tessera-push-signature' => 'v1=' . substr($signature, -64)], $case['body'], 'signature_malformed'],
        ];
        foreach ($tampered as $what => [$headers, $body, $code]) {
            $e = $this->assertRefused(VerificationException::class, $code, fn () => $c->verifyPush($headers, $body, $case['now']), $what);
            $this->assertSame([401, $code], [$e->getHttpStatus(), $e->getWireCode()], $what);
        }
        // Verifying reads nothing into the state: the cursor never moves with a push.
        $this->assertSame($case['state'], $c->exportState());
    }

    /** `$now` defaults to the clock (here the test hook's): the 300 s window counts from it. */
    public function testNowDefaultsToTheClock(): void
    {
        $case = self::vector('one event');
        $c = Companion::importState($case['state']);
        $headers = ['Tessera-Push-Signature' => $case['headers'][0][1]];
        \Tessera\Testing\useClock($c, fn (): int => 1700000000 + 300);
        $this->assertCount(1, $c->verifyPush($headers, $case['body']));
        $this->assertCount(1, $c->verifyPush($headers, $case['body'], null));
        \Tessera\Testing\useClock($c, fn (): int => 1700000000 + 301);
        $this->assertRefused(VerificationException::class, 'signature_expired', fn () => $c->verifyPush($headers, $case['body']));
        $this->assertCount(1, $c->verifyPush($headers, $case['body'], 1700000000), 'a given $now wins over the clock');
    }

    public function testWhatIsRefusedAroundTheSignature(): void
    {
        $case = self::vector('one event');
        $c = Companion::importState($case['state']);
        $headers = ['Tessera-Push-Signature' => $case['headers'][0][1]];
        // The size is checked before the signature; a signed body that is not events is response_invalid.
        $this->assertRefused(InvalidInputException::class, 'too_large', fn () => $c->verifyPush($headers, str_repeat(' ', 320 * 1024 + 1), $case['now']));
        $signed = self::vector('no events');
        $e = $this->assertRefused(ServerUnavailableException::class, 'response_invalid', fn () => $c->verifyPush(['tessera-push-signature' => $signed['headers'][0][1]], $signed['body'], $signed['now']));
        $this->assertSame("the broker's answer is malformed: a push carries 1 to 10 events", $e->getMessage());
        // Arguments of the wrong type are InvalidInputException, never a TypeError.
        foreach ([
            'headers' => fn () => $c->verifyPush('tessera-push-signature: x', $case['body'], $case['now']),
            'header value' => fn () => $c->verifyPush(['tessera-push-signature' => 5], $case['body'], $case['now']),
            'non-UTF-8 header' => fn () => $c->verifyPush(['tessera-push-signature' => "\xff"], $case['body'], $case['now']),
            'body' => fn () => $c->verifyPush($headers, null, $case['now']),
            'now' => fn () => $c->verifyPush($headers, $case['body'], '1700000000'),
        ] as $what => $f) {
            $this->assertRefused(InvalidInputException::class, 'invalid_input', $f, $what);
        }
        // Without an installation there is no secret to verify with.
        $fresh = Companion::create(['broker_url' => BROKER]);
        $this->assertRefused(InvalidStateException::class, 'not_registered', fn () => $fresh->verifyPush($headers, $case['body'], $case['now']));
    }

    /** The registration of the push URL is an API call like any other: signed, sent by `call()`. */
    public function testThePushUrlIsRegisteredAndUnregisteredThroughCall(): void
    {
        [$c] = connected();
        $request = $c->pushRegistrationRequest(SITE . '/wp-json/my-plugin/v1/events');
        $this->assertSame([
            'method' => 'PUT',
            'path' => '/events/push',
            'headers' => ['content-type' => 'application/json'],
            'body' => '{"url":"https://shop.example/wp-json/my-plugin/v1/events"}',
        ], $request);
        $t = new FakeTransport([response(204), response(204)]);
        $this->assertSame(204, $c->call($request, $t)['status']);
        $this->assertSame(['PUT', BROKER . '/events/push', $request['body']], [$t->requests[0]['method'], $t->requests[0]['url'], $t->requests[0]['body']]);
        $this->assertSame('Bearer btk_test_token', $t->requests[0]['headers']['authorization']);
        $this->assertArrayHasKey('signature', $t->requests[0]['headers']);
        // null (or nothing) stops the pushes.
        $stop = ['method' => 'DELETE', 'path' => '/events/push', 'headers' => [], 'body' => ''];
        $this->assertSame($stop, $c->pushRegistrationRequest(null));
        $this->assertSame($stop, $c->pushRegistrationRequest());
        $c->call($c->pushRegistrationRequest(null), $t);
        $this->assertSame(['DELETE', BROKER . '/events/push', ''], [$t->requests[1]['method'], $t->requests[1]['url'], $t->requests[1]['body']]);
        // Sent normalised; anywhere but the site's own origin is refused before anything is sent.
        $this->assertSame('{"url":"https://shop.example/hook?a=%2F"}', $c->pushRegistrationRequest('HTTPS://Shop.Example:443/hook?a=/')['body']);
        foreach (['https://evil.example/hook', 'http://shop.example/hook', 'https://shop.example:8443/hook', '/hook', 'https://shop.example/#x'] as $url) {
            $this->assertRefused(InvalidInputException::class, 'invalid_url', fn () => $c->pushRegistrationRequest($url), $url);
        }
        $e = $this->assertRefused(InvalidInputException::class, 'invalid_url', fn () => $c->pushRegistrationRequest('https://evil.example/hook'));
        $this->assertSame("invalid URL in `push_url`: must be on the site's own origin", $e->getMessage());
        $this->assertRefused(InvalidInputException::class, 'too_large', fn () => $c->pushRegistrationRequest(SITE . '/' . str_repeat('a', 2048)));
        $this->assertRefused(InvalidInputException::class, 'invalid_input', fn () => $c->pushRegistrationRequest(5));
        $this->assertCount(2, $t->requests);
        // Only a registered installation, on the site it was registered for, has a push URL; a push still verifies.
        $fresh = Companion::create(['broker_url' => BROKER]);
        $this->assertRefused(InvalidStateException::class, 'not_registered', fn () => $fresh->pushRegistrationRequest(null));
        $case = self::vector('one event');
        $moved = Companion::importState($case['state']);
        $this->assertSame('mismatch', $moved->checkSite('https://new.example')['kind']);
        $this->assertRefused(SiteMismatchException::class, 'site_mismatch', fn () => $moved->pushRegistrationRequest(null));
        $this->assertCount(1, $moved->verifyPush(['tessera-push-signature' => $case['headers'][0][1]], $case['body'], $case['now']));
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Exception\ClientErrorException;

/**
 * A client_error keeps the broker's or Stora's explanation (issue 17, item 6):
 * `getDescription()` and `getDetails()`, cleaned and bounded by the core
 * (the bounds themselves are pinned by tests/vectors/classification.json).
 */
final class ClientErrorDetailsTest extends TestCase
{
    private const POST = ['method' => 'POST', 'path' => '/api/contacts', 'body' => '{}'];

    /** Calls once with a transport that always answers $answer; returns the ClientErrorException. */
    private function refused(array $answer): ClientErrorException
    {
        [$c] = connected();
        try {
            $c->call(self::POST, FakeTransport::always($answer), (new Recorder())->sleep());
        } catch (ClientErrorException $e) {
            return $e;
        }
        $this->fail('expected ClientErrorException');
    }

    public function testTheBrokersFlatDescription(): void
    {
        $e = $this->refused(response(400, ['error' => 'invalid_request', 'error_description' => 'return_url must be https']));
        $this->assertSame(['invalid_request', 'return_url must be https', null], [$e->getReason(), $e->getDescription(), $e->getDetails()]);
        $this->assertSame('the request was refused (status 400, invalid_request): return_url must be https', $e->getMessage());
    }

    public function testStorasNestedMessageAndDetails(): void
    {
        $body = ['error' => [
            'code' => 'invalid_content', 'type' => 'invalid_request_error', 'message' => 'The email is invalid.',
            'details' => [['field' => 'email', 'issue' => 'format', 'max' => 3, 'ok' => false]], 'links' => [], 'request_id' => 'req_7',
        ]];
        $e = $this->refused(response(422, $body, ['Tessera-Origin' => 'stora']));
        $this->assertSame('The email is invalid.', $e->getDescription());
        $this->assertSame([['field' => 'email', 'issue' => 'format', 'max' => 3, 'ok' => false]], $e->getDetails());
        $this->assertSame('req_7', $e->getRequestId());
        $this->assertStringEndsWith(', request req_7): The email is invalid.', $e->getMessage());
        // A details object decodes to an associative array, keys in the body's order.
        $body['error']['details'] = ['zeta' => 1, 'alpha' => ['x' => null]];
        $this->assertSame(['zeta' => 1, 'alpha' => ['x' => null]], $this->refused(response(409, $body))->getDetails());
    }

    public function testControlCharactersAreDroppedAndNonJsonIsNeverKept(): void
    {
        $e = $this->refused(response(400, ['error' => 'bad', 'error_description' => "one\r\ntwo\u{1b}[31m\u{202e}three"]));
        $this->assertSame('onetwo[31mthree', $e->getDescription());
        $e = $this->refused(['status' => 400, 'headers' => ['Content-Type' => 'text/plain'], 'body' => 'error_description: btk_echoed_secret']);
        $this->assertNull($e->getDescription());
        $this->assertNull($e->getDetails());
        $this->assertStringNotContainsString('btk_echoed_secret', $e->getMessage() . $e);
    }

    public function testBoundsAndNonArrayDetails(): void
    {
        $e = $this->refused(response(400, ['error' => 'long', 'error_description' => str_repeat('é', 600)]));
        $this->assertSame(str_repeat('é', 511) . '…', $e->getDescription());
        // The message quotes at most 160 characters of it.
        $this->assertStringEndsWith(': ' . str_repeat('é', 159) . '…', $e->getMessage());
        // Details over 2048 bytes are cut by the core (no longer JSON): none here.
        $big = ['error' => ['code' => 'c', 'message' => 'm', 'details' => [str_repeat('a', 3000)]]];
        $this->assertNull($this->refused(response(422, $big))->getDetails());
        $text = ['error' => ['code' => 'c', 'message' => 'm', 'details' => 'just text']];
        $this->assertNull($this->refused(response(422, $text))->getDetails());
    }

    public function testARedirectAndAnExceptionBuiltInPhpHaveNone(): void
    {
        $e = $this->refused(['status' => 302, 'headers' => ['Location' => 'https://elsewhere.example'], 'body' => '']);
        $this->assertSame('redirected', $e->getErrorCode());
        $this->assertNull($e->getDescription());
        $this->assertNull($e->getDetails());
        $r = new \ReflectionClass(ClientErrorException::class);
        $plain = new ClientErrorException("built in PHP");
        $this->assertNull($plain->getDescription());
        $this->assertNull($plain->getDetails());
        $this->assertSame('?string', (string) $r->getMethod('getDescription')->getReturnType());
        $this->assertSame('?array', (string) $r->getMethod('getDetails')->getReturnType());
    }
}

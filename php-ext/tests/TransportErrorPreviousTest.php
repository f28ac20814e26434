<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Exception\ServerUnavailableException;
use Tessera\Exception\TesseraException;
use Tessera\Exception\TransportException;

/** A host's own transport failure class (not Tessera's). */
final class HostConnectException extends TransportException
{
}

/**
 * issue 17, items 5 and 8: the last TransportException the host threw is the
 * `getPrevious()` of the ServerUnavailableException, cleaned of secrets; and
 * TransportException's place in the hierarchy.
 */
final class TransportErrorPreviousTest extends TestCase
{
    private const GET = ['method' => 'GET', 'path' => '/api/orders'];

    /** Throws from a frame whose arguments hold the signed request (as an HTTP client would). */
    private static function failWith(array $request, string $class, string $message): never
    {
        throw new $class($message, 7, new \RuntimeException('inner ' . $message));
    }

    /** @return array{ServerUnavailableException, string, string} the exception, the token, the secret */
    private function unavailable(string $class, callable $message): array
    {
        [$c, $secret] = connected(BROKER, 'btk_leaky_token_0123456789');
        $t = function (array $request) use ($class, $message, $secret): array {
            self::failWith($request, $class, $message($request, $secret));
        };
        try {
            $c->call(self::GET, $t, (new Recorder())->sleep());
        } catch (ServerUnavailableException $e) {
            return [$e, 'btk_leaky_token_0123456789', $secret];
        }
        $this->fail('expected ServerUnavailableException');
    }

    public function testThePreviousIsTheLastTransportFailureWithoutItsSecrets(): void
    {
        $attempt = 0;
        [$e, $token, $secret] = $this->unavailable(TransportException::class, function (array $r, string $secret) use (&$attempt): string {
            $attempt++;
            return "attempt {$attempt} refused; sent {$r['headers']['authorization']} sig {$r['headers']['signature']} secret {$secret}";
        });
        $p = $e->getPrevious();
        $this->assertInstanceOf(TransportException::class, $p);
        $this->assertSame(real_class(TransportException::class), get_class($p));
        $this->assertStringStartsWith("attempt {$attempt} refused; sent [redacted] sig [redacted] secret [redacted]", $p->getMessage());
        $this->assertNull($p->getPrevious(), 'the host\'s own chain is not kept');
        $this->assertSame(0, $p->getCode());
        $all = (string) $e . "\n" . $e->getTraceAsString() . "\n" . $p->getTraceAsString() . "\n" . print_r($p->getTrace(), true);
        foreach ([$token, $secret] as $s) {
            $this->assertStringNotContainsString($s, $all);
        }
        $this->assertStringContainsString('[redacted]', (string) $e);
        // Its trace starts at the caller's call into Tessera, like Tessera's own exceptions.
        $this->assertSame(__FILE__, $p->getFile());
        foreach ($p->getTrace() as $frame) {
            $this->assertArrayNotHasKey('args', $frame);
        }
    }

    public function testAHostSubclassIsNamedInTheMessage(): void
    {
        [$e, $token] = $this->unavailable(HostConnectException::class, fn (array $r) => "cURL error 7 for {$r['url']} with {$r['headers']['authorization']}");
        $p = $e->getPrevious();
        $this->assertSame(real_class(TransportException::class), get_class($p));
        $this->assertStringStartsWith(HostConnectException::class . ': cURL error 7 for ' . BROKER . '/api/orders with [redacted]', $p->getMessage());
        $this->assertStringNotContainsString($token, (string) $e);
    }

    public function testNoPreviousWhenTheLastAttemptWasAnswered(): void
    {
        [$c] = connected();
        $t = new FakeTransport([transport_error('dns'), response(503), response(503)]);
        try {
            $c->call(self::GET, $t, (new Recorder())->sleep());
            $this->fail('expected ServerUnavailableException');
        } catch (ServerUnavailableException $e) {
            $this->assertSame(503, $e->getStatus());
            $this->assertNull($e->getPrevious());
        }
    }

    /** Item 8: the host's signal to Tessera, not an error Tessera throws. */
    public function testTransportExceptionIsTheHostsRuntimeExceptionNotATesseraOne(): void
    {
        $this->assertTrue(is_subclass_of(TransportException::class, \RuntimeException::class));
        $this->assertFalse(is_subclass_of(TransportException::class, TesseraException::class));
        $this->assertFalse((new \ReflectionClass(TransportException::class))->isFinal(), 'hosts may subclass it');
        $doc = file_get_contents(__DIR__ . '/../tessera.stub.php');
        $this->assertMatchesRegularExpression('/Why it extends `\\\\RuntimeException` and not `TesseraException`/', $doc);
    }
}

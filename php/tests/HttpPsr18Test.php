<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Psr\Http\Client\ClientInterface;
use Psr\Http\Client\NetworkExceptionInterface;
use Psr\Http\Message\RequestInterface;
use Psr\Http\Message\ResponseInterface;
use Tessera\Companion;
use Tessera\Exception\ClientErrorException;
use Tessera\Exception\InvalidInputException;
use Tessera\Exception\ServerUnavailableException;
use Tessera\Exception\TransportException;
use Tessera\Http\Psr18Transport;

/*
 * Debian's Guzzle and PSR packages (scripts/setup.d/20-php.sh), from the
 * include path (/usr/share/php). Guzzle sends through curl when it is loaded,
 * else through PHP streams (the pure run is `php -n`: allow_url_fopen is on).
 */
foreach (['GuzzleHttp/autoload.php', 'GuzzleHttp/Psr7/autoload.php', 'Psr/Http/Message/autoload.php'] as $autoload) {
    if (stream_resolve_include_path($autoload) === false) {
        fwrite(STDERR, "HttpPsr18Test needs Debian's php-guzzlehttp-guzzle, php-guzzlehttp-psr7, php-psr-http-client, "
            . "php-psr-http-factory and php-psr-http-message (scripts/setup.d/20-php.sh): $autoload not found\n");
        exit(2);
    }
    require_once $autoload;
}

/** A PSR-18 "no response" that quotes the request it failed on, as real clients' messages may. */
final class QuotingNetworkError extends \RuntimeException implements NetworkExceptionInterface
{
    public function __construct(private RequestInterface $request)
    {
        parent::__construct('could not send ' . $request->getMethod() . ' with authorization ' . $request->getHeaderLine('authorization')
            . ' and idempotency-key ' . $request->getHeaderLine('idempotency-key') . ', body ' . $request->getBody());
    }

    public function getRequest(): RequestInterface
    {
        return $this->request;
    }
}

/** A PSR-18 client that throws what it is given. */
final class ThrowingClient implements ClientInterface
{
    /** @param \Closure(RequestInterface): \Throwable $make */
    public function __construct(private \Closure $make)
    {
    }

    public function sendRequest(RequestInterface $request): ResponseInterface
    {
        throw ($this->make)($request);
    }
}

/**
 * Tessera\Http\Psr18Transport (extension or pure PHP, as the suite runs) with
 * Guzzle's PSR-18 client against a real echo server
 * (php-ext/tests/fixtures/echo-router.php under `php -S 127.0.0.1:<port>`).
 */
final class HttpPsr18Test extends TestCase
{
    /** @var resource|null the server process */
    private static $server = null;
    private static int $port = 0;
    private static string $log = '';
    private static string $targets = '';

    public static function setUpBeforeClass(): void
    {
        self::$log = (string) tempnam(sys_get_temp_dir(), 'tessera-echo');
        self::$targets = (string) tempnam(sys_get_temp_dir(), 'tessera-echo-targets');
        self::$port = self::freePort();
        $cmd = [PHP_BINARY, '-n', '-S', '127.0.0.1:' . self::$port, __DIR__ . '/../../php-ext/tests/fixtures/echo-router.php'];
        $env = ['PATH' => (string) getenv('PATH'), 'ECHO_LOG' => self::$targets];
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['file', self::$log, 'w'], 2 => ['file', self::$log, 'a']], $pipes, null, $env);
        if (!is_resource($proc)) {
            throw new \RuntimeException('could not start php -S');
        }
        self::$server = $proc;
        for ($i = 0; $i < 200; $i++) {
            $s = @stream_socket_client('tcp://127.0.0.1:' . self::$port, $errno, $errstr, 0.1);
            if ($s !== false) {
                fclose($s);
                return;
            }
            usleep(25_000);
        }
        throw new \RuntimeException("php -S did not start:\n" . file_get_contents(self::$log));
    }

    public static function tearDownAfterClass(): void
    {
        if (self::$server !== null) {
            proc_terminate(self::$server);
            proc_close(self::$server);
            self::$server = null;
        }
        @unlink(self::$log);
        @unlink(self::$targets);
    }

    private static function base(): string
    {
        return 'http://127.0.0.1:' . self::$port;
    }

    /** Guzzle's PSR-18 client configured as the transport requires (no redirects). */
    private static function transport(?ClientInterface $client = null): Psr18Transport
    {
        $factory = new \GuzzleHttp\Psr7\HttpFactory();
        return new Psr18Transport($client ?? new \GuzzleHttp\Client(['allow_redirects' => false, 'timeout' => 10]), $factory, $factory);
    }

    /** A connected companion whose broker is the echo server. */
    private static function companion(): Companion
    {
        return connected(self::base())[0];
    }

    /** Header names the signature covers or that carry it. */
    private const PROFILE = ['content-type', 'content-digest', 'authorization', 'idempotency-key', 'signature', 'signature-input'];

    /**
     * @return array{method: string, target: string, headers: list<array{string, string}>, body: string} what the
     *         echo server received for `$call` (call() through the transport), and the request Tessera gave it
     */
    private function echoed(array $call): array
    {
        $seen = [];
        $inner = self::transport();
        $record = function (array $request) use ($inner, &$seen): array {
            $seen[] = $request;
            return $inner($request);
        };
        $result = self::companion()->call($call, $record, fn (int $ms) => null);
        $this->assertCount(1, $seen, 'sent once');
        $this->assertSame(200, $result['status'], $result['body']);
        $this->assertSame('one, two', $result['headers']['X-Echo'] ?? $result['headers']['x-echo'] ?? null, 'a repeated response header keeps both values');
        return [json_decode($result['body'], true, 512, JSON_THROW_ON_ERROR), $seen[0]];
    }

    /** The echo server received exactly the request Tessera signed; the client added only non-profile headers. */
    private function assertArrivedAsSigned(array $echo, array $signed): void
    {
        $url = parse_url($signed['url']);
        $this->assertSame($signed['method'], $echo['method']);
        $this->assertSame($url['path'] . (isset($url['query']) ? '?' . $url['query'] : ''), $echo['target']);
        $this->assertSame($signed['body'], $echo['body']);
        $arrived = [];
        foreach ($echo['headers'] as [$name, $value]) {
            $arrived[strtolower($name)][] = $value;
        }
        foreach ($signed['headers'] as $name => $value) {
            $this->assertSame([$value], $arrived[strtolower($name)] ?? [], "header $name");
            unset($arrived[strtolower($name)]);
        }
        $this->assertArrayHasKey('signature', $signed['headers']);
        // What is left the client added itself (Host, User-Agent, Content-Length, …): never a profile header.
        $this->assertSame([], array_intersect(array_keys($arrived), self::PROFILE), 'headers added: ' . implode(', ', array_keys($arrived)));
    }

    public function testAPostArrivesExactlyAsSigned(): void
    {
        [$echo, $signed] = $this->echoed([
            'method' => 'POST',
            'path' => '/api/echo?x=1&y=a%20b',
            'headers' => ['Content-Type' => 'application/json', 'X-Custom' => 'kept as given'],
            'body' => '{"a":1,"b":"ü"}',
        ]);
        $this->assertArrivedAsSigned($echo, $signed);
        $this->assertSame('application/json', $signed['headers']['content-type'] ?? $signed['headers']['Content-Type']);
    }

    public function testABodylessPostAndAGetArriveExactlyAsSigned(): void
    {
        [$echo, $signed] = $this->echoed(['method' => 'POST', 'path' => '/api/echo/empty']);
        $this->assertArrivedAsSigned($echo, $signed);
        $this->assertSame('', $echo['body']);
        [$echo, $signed] = $this->echoed(['method' => 'GET', 'path' => '/api/echo?q=1']);
        $this->assertArrivedAsSigned($echo, $signed);
        $this->assertArrayNotHasKey('content-type', array_change_key_case($signed['headers']));
    }

    public function testARedirectComesBackUnfollowed(): void
    {
        $before = (string) file_get_contents(self::$targets);
        $r = self::transport()(['method' => 'GET', 'url' => self::base() . '/redirect', 'headers' => ['Accept' => 'text/plain'], 'body' => '']);
        $this->assertSame(302, $r['status']);
        $this->assertSame(['/landed'], $r['headers']['Location']);
        $this->assertSame('moved', $r['body']);
        $after = substr((string) file_get_contents(self::$targets), strlen($before));
        $this->assertSame("/redirect\n", $after, 'the Location was not requested');

        // Through a companion: the core ends the call with `redirected`, after one request.
        $sent = 0;
        $t = self::transport();
        try {
            self::companion()->call(['method' => 'GET', 'path' => '/redirect/api'], function (array $r) use ($t, &$sent) {
                $sent++;
                return $t($r);
            }, fn (int $ms) => null);
            $this->fail('a redirect must end the call');
        } catch (ClientErrorException $e) {
            $this->assertSame('redirected', $e->getErrorCode());
            $this->assertSame(302, $e->getStatus());
        }
        $this->assertSame(1, $sent);
    }

    public function testAServerErrorIsAResponse(): void
    {
        $r = self::transport()(['method' => 'GET', 'url' => self::base() . '/status/500', 'headers' => [], 'body' => '']);
        $this->assertSame(500, $r['status']);
        $this->assertSame('broken', $r['body']);
        $this->assertSame(['text/plain;charset=UTF-8'], str_replace(' ', '', array_change_key_case($r['headers'])['content-type'] ?? []));
    }

    public function testAClosedPortIsATransportExceptionAndTheOperationEndsServerUnavailable(): void
    {
        $closed = 'http://127.0.0.1:' . self::freePort();
        try {
            self::transport()(['method' => 'GET', 'url' => $closed . '/api/x', 'headers' => ['authorization' => 'Bearer btk_not_for_messages_42'], 'body' => '']);
            $this->fail('no server: no response');
        } catch (TransportException $e) {
            $this->assertStringContainsString('GuzzleHttp\\Exception\\ConnectException', $e->getMessage());
            $this->assertStringNotContainsString('btk_not_for_messages_42', $e->getMessage());
            $this->assertNull($e->getPrevious(), 'the client exception (it holds the request) is not kept');
        }

        $c = connected($closed)[0];
        $sleeps = [];
        $this->expectException(ServerUnavailableException::class);
        try {
            $c->call(['method' => 'GET', 'path' => '/api/x'], self::transport(), function (int $ms) use (&$sleeps) {
                $sleeps[] = $ms;
            });
        } finally {
            $this->assertNotEmpty($sleeps, 'the transport error was retried');
        }
    }

    public function testTheMessageCarriesNoHeaderValueNorBody(): void
    {
        $t = self::transport(new ThrowingClient(fn (RequestInterface $r) => new QuotingNetworkError($r)));
        $c = self::companion();
        $signed = $c->signRequest(['method' => 'POST', 'path' => '/api/x', 'headers' => ['Content-Type' => 'application/json'], 'body' => '{"secret":"s3cr3t-body-value"}']);
        try {
            $t($signed);
            $this->fail('the client threw');
        } catch (TransportException $e) {
            $m = $e->getMessage();
            $this->assertStringContainsString(QuotingNetworkError::class, $m);
            $this->assertStringContainsString('could not send POST with authorization [redacted]', $m);
            $this->assertStringNotContainsString('btk_test_token', $m);
            $this->assertStringNotContainsString('s3cr3t-body-value', $m);
            $headers = array_change_key_case($signed['headers']);
            $this->assertStringNotContainsString($headers['idempotency-key'], $m);
            $this->assertNull($e->getPrevious());
        }
    }

    public function testAnExceptionThatIsNotAClientExceptionPropagates(): void
    {
        $t = self::transport(new ThrowingClient(fn () => new \LogicException('a bug in the client')));
        $this->expectException(\LogicException::class);
        $this->expectExceptionMessage('a bug in the client');
        self::companion()->call(['method' => 'GET', 'path' => '/api/x'], $t, fn (int $ms) => null);
    }

    public function testTheConstructorRefusesWhatIsNotAPsrObject(): void
    {
        $factory = new \GuzzleHttp\Psr7\HttpFactory();
        foreach ([
            'client' => [new \stdClass(), $factory, $factory],
            'requests' => [new \GuzzleHttp\Client(), new \stdClass(), $factory],
            'streams' => [new \GuzzleHttp\Client(), $factory, 'not an object'],
        ] as $field => $args) {
            try {
                new Psr18Transport(...$args);
                $this->fail("$field accepted");
            } catch (InvalidInputException $e) {
                $this->assertStringContainsString("`$field`", $e->getMessage());
                $this->assertStringContainsString('must implement Psr\\Http\\', $e->getMessage());
            }
        }
    }

    public function testARequestThatIsNotARequestIsInvalidInput(): void
    {
        $this->expectException(InvalidInputException::class);
        $this->expectExceptionMessage('`request.url`');
        self::transport()(['method' => 'GET']);
    }

    public function testARequestThePsr7ImplementationRefusesIsInvalidInput(): void
    {
        foreach ([
            'header name' => ['method' => 'GET', 'url' => self::base() . '/api/x', 'headers' => ['bad name' => 'v'], 'body' => ''],
            'header value' => ['method' => 'GET', 'url' => self::base() . '/api/x', 'headers' => ['x-a' => "v\r\nx-injected: 1"], 'body' => ''],
            'empty header name' => ['method' => 'GET', 'url' => self::base() . '/api/x', 'headers' => ['' => 'v'], 'body' => ''],
        ] as $what => $request) {
            try {
                self::transport()($request);
                $this->fail("$what accepted");
            } catch (InvalidInputException $e) {
                $this->assertStringContainsString('`request`: the PSR-7 implementation refused', $e->getMessage(), $what);
                $this->assertNull($e->getPrevious());
            }
        }
    }

    private static function freePort(): int
    {
        $s = stream_socket_server('tcp://127.0.0.1:0', $errno, $errstr);
        if ($s === false) {
            throw new \RuntimeException("no free port: $errstr");
        }
        $port = (int) substr((string) strrchr((string) stream_socket_get_name($s, false), ':'), 1);
        fclose($s);
        return $port;
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;

/**
 * Tessera\Http\WordPressTransport (extension or pure PHP, as the suite runs)
 * against a fake of WordPress's HTTP API functions. The functions are
 * global, so the scenarios run in a process of their own
 * (php-ext/tests/fixtures/wordpress-transport.php, with the same
 * implementation loaded), which prints what happened; the real WordPress run
 * is suite 40-wordpress.
 */
final class HttpWordPressTest extends TestCase
{
    /** @var array<string, mixed> */
    private static array $run = [];

    public static function setUpBeforeClass(): void
    {
        $cmd = [PHP_BINARY, '-n'];
        if (impl() === IMPL_EXTENSION) {
            array_push($cmd, '-d', 'extension=' . self::loadedExtension());
        }
        $cmd[] = __DIR__ . '/../../php-ext/tests/fixtures/wordpress-transport.php';
        $env = ['PATH' => (string) getenv('PATH'), 'TESSERA_IMPL' => impl()];
        if (getenv('TESSERA_PURE_DIR')) {
            $env['TESSERA_PURE_DIR'] = getenv('TESSERA_PURE_DIR');
        }
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env);
        if (!is_resource($proc)) {
            throw new \RuntimeException('could not start the WordPress transport scenarios');
        }
        $stdout = (string) stream_get_contents($pipes[1]);
        $stderr = (string) stream_get_contents($pipes[2]);
        $rc = proc_close($proc);
        if ($rc !== 0) {
            throw new \RuntimeException("wordpress-transport.php failed ($rc):\n$stderr\n$stdout");
        }
        self::$run = json_decode($stdout, true, 512, JSON_THROW_ON_ERROR);
    }

    /** The API name of a thrown class (pure PHP's are aliases of Tessera\Pure\…). */
    private static function api(string $class): string
    {
        return str_replace('Tessera\\Pure\\', 'Tessera\\', $class);
    }

    private function assertThrown(string $class, array $outcome): array
    {
        $this->assertArrayHasKey('thrown', $outcome, json_encode($outcome));
        $this->assertSame($class, self::api($outcome['thrown']['class']));
        return $outcome['thrown'];
    }

    public function testTheScenariosRanOnTheImplementationUnderTest(): void
    {
        $this->assertSame(impl(), self::$run['impl']);
    }

    public function testOutsideWordPressItSaysSo(): void
    {
        $e = $this->assertThrown('Tessera\\Exception\\InvalidStateException', self::$run['outside']);
        $this->assertStringContainsString('wp_remote_request() is not defined', $e['message']);
        $e = $this->assertThrown('Tessera\\Exception\\InvalidInputException', self::$run['bad_timeout']);
        $this->assertStringContainsString('`timeoutSeconds`', $e['message']);
    }

    public function testWordPressGetsExactlyTheSignedRequestAndTheResponseComesBack(): void
    {
        foreach (['post', 'bodyless_post'] as $case) {
            $run = self::$run[$case];
            $this->assertCount(1, $run['given'], $case);
            $this->assertCount(1, $run['wp_calls'], "$case: sent once");
            [$given, $wp] = [$run['given'][0], $run['wp_calls'][0]];
            $this->assertSame($given['url'], $wp['url']);
            $this->assertSame(
                ['method' => $given['method'], 'headers' => $given['headers'], 'body' => $given['body'], 'timeout' => 7, 'redirection' => 0],
                $wp['args'],
                $case
            );
            $this->assertArrayHasKey('signature', $given['headers']);
            $this->assertSame(['status' => 201, 'headers' => ['content-type' => 'application/json', 'x-multi' => 'a, b'], 'body' => '{"ok":true}'], $run['result']);
        }
        $this->assertSame('{"a":1}', self::$run['post']['wp_calls'][0]['args']['body']);
        // A bodyless POST carries the Content-Type the core signed for it, so WordPress adds none.
        $this->assertSame('', self::$run['bodyless_post']['wp_calls'][0]['args']['body']);
        $this->assertSame('application/octet-stream', self::$run['bodyless_post']['wp_calls'][0]['args']['headers']['content-type']);
        $this->assertSame(['status' => 200, 'headers' => ['x-plain' => 'yes'], 'body' => 'plain'], self::$run['plain_headers']['result']);
    }

    public function testARedirectComesBackAndEndsTheCall(): void
    {
        $this->assertSame(['status' => 302, 'headers' => ['location' => 'https://elsewhere.example/'], 'body' => ''], self::$run['redirect_direct']['result']);
        $e = $this->assertThrown('Tessera\\Exception\\ClientErrorException', self::$run['redirect']);
        $this->assertSame('redirected', $e['code']);
        $this->assertCount(1, self::$run['redirect']['wp_calls']);
    }

    public function testAWpErrorIsATransportExceptionWithoutTheRequestsValues(): void
    {
        $e = $this->assertThrown('Tessera\\Exception\\TransportException', self::$run['wp_error_direct']);
        $this->assertStringStartsWith('wp_remote_request() got no response: cURL error 7: Failed to connect', $e['message']);
        $this->assertStringContainsString('Authorization: [redacted] body [redacted]', $e['message']);
        $this->assertStringNotContainsString('btk_test_token', $e['message']);
        $this->assertStringNotContainsString('s3cr3t-body-value', $e['message']);
        $this->assertFalse($e['previous']);

        $run = self::$run['wp_error'];
        $e = $this->assertThrown('Tessera\\Exception\\ServerUnavailableException', $run);
        $this->assertSame('server_unavailable', $e['code']);
        $this->assertGreaterThan(1, count($run['wp_calls']), 'retried by Tessera');
        $this->assertSame(count($run['given']), count($run['wp_calls']), 'each request sent once');

        $this->assertThrown('Tessera\\Exception\\TransportException', self::$run['no_status']);
    }

    private static function loadedExtension(): string
    {
        foreach (file('/proc/self/maps', FILE_IGNORE_NEW_LINES) ?: [] as $line) {
            $path = preg_split('/\s+/', $line, 6)[5] ?? '';
            if (preg_match('#/tessera[^/]*\.so$#', $path) === 1) {
                return $path;
            }
        }
        throw new \RuntimeException('the loaded tessera extension was not found in /proc/self/maps');
    }
}

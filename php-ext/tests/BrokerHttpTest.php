<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;

/**
 * A PHP broker over real HTTP (php-ext/tests/fixtures/broker-router.php under
 * `php -S 127.0.0.1:<port>`, loading the implementation under test): its
 * answers to failed verifications are the core's wire answers — status,
 * headers and body — compared with the shared vectors, with no status
 * decided by the broker.
 */
final class BrokerHttpTest extends TestCase
{
    /** @var resource|null the server process */
    private static $server = null;
    private static int $port = 0;
    /** The broker's clock runs this far ahead of the system's (and of php -S's own Date header). */
    private const SKEW = 3 * 86400;
    private static string $store = '';
    private static string $log = '';
    /** @var array{0: \Tessera\Companion, 1: string} a connected companion and its secret */
    private static array $plugin = [];

    public static function setUpBeforeClass(): void
    {
        self::$plugin = connected();
        self::$store = (string) tempnam(sys_get_temp_dir(), 'tessera-store');
        self::$log = (string) tempnam(sys_get_temp_dir(), 'tessera-broker');
        self::$port = self::freePort();
        $cmd = [PHP_BINARY, '-n'];
        if (impl() === IMPL_EXTENSION) {
            $cmd[] = '-d';
            $cmd[] = 'extension=' . self::loadedExtension();
        }
        array_push($cmd, '-S', '127.0.0.1:' . self::$port, __DIR__ . '/fixtures/broker-router.php');
        $env = [
            'PATH' => (string) getenv('PATH'),
            'TESSERA_BROKER_IMPL' => impl(),
            'TESSERA_BROKER_PUBLIC_URL' => BROKER,
            'TESSERA_BROKER_SECRETS' => json_encode([self::$plugin[0]->installId() => self::$plugin[1]]),
            'TESSERA_BROKER_STORE' => self::$store,
            // One live nonce per installation: the second fresh request finds the store full.
            'TESSERA_BROKER_CAPACITY' => '1',
            'TESSERA_BROKER_CLOCK_SKEW' => (string) self::SKEW,
        ];
        if (getenv('TESSERA_PURE_DIR')) {
            $env['TESSERA_PURE_DIR'] = getenv('TESSERA_PURE_DIR');
        }
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
        @unlink(self::$store);
        @unlink(self::$log);
    }

    public function testEveryFailureIsAnsweredWithTheCoreWireAnswer(): void
    {
        [$c] = self::$plugin;
        $answers = self::vectorAnswers();
        $now = time() + self::SKEW;
        $signed = $c->signRequest(['method' => 'POST', 'path' => '/api/events?x=1', 'headers' => ['Content-Type' => 'application/json'], 'body' => '{"a":1}'], $now);

        // Valid: verified by the package, the nonce recorded in the shared store.
        $ok = self::send($signed);
        $this->assertSame(200, $ok['status'], $ok['body']);
        $this->assertSame(['install_id' => $c->installId(), 'nonce' => self::nonceOf($signed)], json_decode($ok['body'], true));

        // The same request again: the store answers 'seen'.
        $this->assertAnswer($answers['replayed'], self::send($signed));

        // Tampered body, tampered path, an unknown installation.
        $this->assertAnswer($answers['digest_mismatch'], self::send(array_replace($signed, ['body' => '{"a":2}'])));
        $this->assertAnswer($answers['signature_invalid'], self::send(array_replace($signed, ['url' => BROKER . '/api/other?x=1'])));
        $stranger = connected()[0]->signRequest(['method' => 'GET', 'path' => '/api/x'], $now);
        $this->assertAnswer($answers['unknown_installation'], self::send($stranger));

        // Expired: the answer carries the broker's Date (its clock, not the server's, as an IMF-fixdate).
        $old = $c->signRequest(['method' => 'GET', 'path' => '/api/x'], $now - 1000);
        $r = self::send($old);
        $expired = $answers['signature_expired'];
        $this->assertSame($expired['status'], $r['status']);
        $this->assertSame($expired['body'], $r['body']);
        $this->assertSame(array_keys($expired['headers']), array_keys(array_intersect_key($r['headers'], $expired['headers'])));
        $this->assertSame('application/json', $r['headers']['content-type']);
        $this->assertSame('no-store', $r['headers']['cache-control']);
        $this->assertCount(1, $r['all']['date'], 'one Date header');
        $this->assertMatchesRegularExpression('/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/', $r['headers']['date']);
        $this->assertLessThanOrEqual(5, abs(strtotime($r['headers']['date']) - (time() + self::SKEW)));

        // A new valid request while the installation's share is used up: 503 from the core.
        $second = $c->signRequest(['method' => 'GET', 'path' => '/api/x'], $now);
        $this->assertAnswer($answers['replay_store_full'], self::send($second));
        $this->assertSame(503, $answers['replay_store_full']['status']);
    }

    /** The wire answer the server sent matches the vectors' answer for that code. */
    private function assertAnswer(array $want, array $got): void
    {
        $this->assertSame($want['status'], $got['status'], $got['body']);
        $this->assertSame($want['body'], $got['body']);
        foreach ($want['headers'] as $name => $value) {
            $this->assertSame([$value], $got['all'][$name] ?? [], $name);
        }
        $this->assertArrayNotHasKey('date', $want['headers']);
    }

    /**
     * The answer of every refusal in the shared vectors (verify.json,
     * verify_links.json), by code; signature_expired's Date is that vector's.
     *
     * @return array<string, array{status: int, code: string, headers: array<string, string>, body: string}>
     */
    private static function vectorAnswers(): array
    {
        $answers = [];
        foreach (['verify.json', 'verify_links.json'] as $file) {
            foreach (vector_cases($file) as [$case]) {
                foreach (array_is_list($case['expected']) ? $case['expected'] : [$case['expected']] as $e) {
                    if (isset($e['answer'])) {
                        $answers[$e['answer']['code']] ??= $e['answer'];
                    }
                }
            }
        }
        return $answers;
    }

    /**
     * Sends a signed request (as signRequest returns it) to the server over
     * HTTP/1.0.
     *
     * @return array{status: int, headers: array<string, string>, all: array<string, list<string>>, body: string}
     */
    private static function send(array $req): array
    {
        $url = parse_url($req['url']);
        $target = ($url['path'] ?? '/') . (isset($url['query']) ? '?' . $url['query'] : '');
        $body = $req['body'] ?? '';
        $head = "{$req['method']} $target HTTP/1.0\r\nHost: {$url['host']}\r\n";
        foreach ($req['headers'] as $name => $value) {
            $head .= "$name: $value\r\n";
        }
        $head .= 'Content-Length: ' . strlen($body) . "\r\nConnection: close\r\n\r\n";
        $s = stream_socket_client('tcp://127.0.0.1:' . self::$port, $errno, $errstr, 5);
        if ($s === false) {
            throw new \RuntimeException("connect: $errstr");
        }
        stream_set_timeout($s, 10);
        fwrite($s, $head . $body);
        $raw = stream_get_contents($s);
        fclose($s);
        [$headText, $respBody] = explode("\r\n\r\n", (string) $raw, 2) + [1 => ''];
        $lines = explode("\r\n", $headText);
        $status = (int) explode(' ', array_shift($lines))[1];
        $headers = [];
        $all = [];
        foreach ($lines as $line) {
            [$k, $v] = array_map('trim', explode(':', $line, 2));
            $k = strtolower($k);
            $headers[$k] = $v;
            $all[$k][] = $v;
        }
        return ['status' => $status, 'headers' => $headers, 'all' => $all, 'body' => $respBody];
    }

    private static function nonceOf(array $signed): string
    {
        preg_match('/nonce="([^"]+)"/', $signed['headers']['signature-input'] ?? $signed['headers']['Signature-Input'], $m);
        return $m[1];
    }

    private static function freePort(): int
    {
        $s = stream_socket_server('tcp://127.0.0.1:0', $errno, $errstr);
        if ($s === false) {
            throw new \RuntimeException("no free port: $errstr");
        }
        $port = (int) substr(strrchr((string) stream_socket_get_name($s, false), ':'), 1);
        fclose($s);
        return $port;
    }

    /** The file of the loaded tessera extension (from this process's memory map). */
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

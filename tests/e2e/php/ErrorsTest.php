<?php

declare(strict_types=1);

namespace Tessera\E2E;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\ServerUnavailableException;
use Tessera\Exception\TransportException;

/**
 * issue 17, item 5, over a real socket: a port on 127.0.0.1 that was bound
 * and closed refuses the connection; PHP's stream transport (this suite's
 * http_send, made leaky: its message quotes what it sent, as careless hosts'
 * do) throws a TransportException; the ServerUnavailableException keeps it as
 * getPrevious(), with the installation secret and the broker token redacted.
 * Needs no tessera-e2e-env.
 */
final class ErrorsTest extends TestCase
{
    private const TOKEN = 'btk_e2e_php_errors_0123456789abcdef';

    /** A URL on 127.0.0.1 whose port was just bound and closed: nothing listens. */
    private static function closedBroker(): string
    {
        $server = stream_socket_server('tcp://127.0.0.1:0', $errno, $error);
        self::assertNotFalse($server, $error);
        $port = (int) substr(strrchr(stream_socket_get_name($server, false), ':'), 1);
        fclose($server);
        return "http://127.0.0.1:{$port}";
    }

    /** http_send, but its failure quotes the request (headers and body) in the message. */
    private static function leaky(): \Closure
    {
        return static function (array $req): array {
            try {
                return http_send($req);
            } catch (TransportException $e) {
                $error = error_get_last()['message'] ?? 'unknown';
                throw new TransportException("{$e->getMessage()} ({$error}); sent " . json_encode($req), 0, $e);
            }
        };
    }

    /** Asserts the previous is the cleaned refusal and that no secret shows anywhere. */
    private function assertCleanedRefusal(ServerUnavailableException $e, array $secrets): void
    {
        $this->assertNull($e->getStatus());
        $p = $e->getPrevious();
        $this->assertInstanceOf(TransportException::class, $p);
        $this->assertStringContainsString('could not reach 127.0.0.1', $p->getMessage());
        $this->assertMatchesRegularExpression('/refused/i', $p->getMessage());
        $this->assertStringContainsString('[redacted]', $p->getMessage());
        $this->assertNull($p->getPrevious());
        $all = (string) $e . $e->getTraceAsString() . $p->getTraceAsString() . print_r($p->getTrace(), true);
        foreach ($secrets as $s) {
            $this->assertStringNotContainsString($s, $all);
        }
    }

    public function testRegisterAgainstAClosedPortKeepsTheCleanedRefusal(): void
    {
        $c = Companion::create(['broker_url' => self::closedBroker(), 'retry' => ['max_attempts' => 2, 'base_delay_ms' => 1]]);
        $registration = ['site_url' => 'https://shop.example', 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1.0.0'];
        try {
            $c->register($registration, self::leaky(), static fn (int $ms) => null);
            $this->fail('expected ServerUnavailableException');
        } catch (ServerUnavailableException $e) {
            $secret = json_decode($c->exportState(), true)['installation']['secret'];
            $this->assertCleanedRefusal($e, [$secret]);
        }
    }

    public function testACallAgainstAClosedPortKeepsTheCleanedRefusal(): void
    {
        $c = Companion::create(['broker_url' => self::closedBroker(), 'retry' => ['max_attempts' => 2, 'base_delay_ms' => 1]]);
        $registration = ['site_url' => 'https://shop.example', 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1.0.0'];
        $c->registrationRequest($registration);
        $c->handleRegistrationResponse(['status' => 201, 'headers' => [], 'body' => '']);
        $this->assertSame('registered', $c->status());
        // Connected through a scripted broker answer, then every send goes to the closed port.
        $return = 'https://shop.example/wp-admin/admin.php?page=tessera';
        parse_str((string) parse_url($c->connectUrl($return), PHP_URL_QUERY), $q);
        $answer = ['status' => 200, 'headers' => ['content-type' => 'application/json'], 'body' => json_encode(['broker_token' => self::TOKEN, 'account' => ['id' => 'acct_1', 'name' => 'Shop']])];
        $c->completeConnect("{$return}&state={$q['state']}&code=cc_e2e0123456789abcdef", static fn (array $r) => $answer);
        $this->assertSame('connected', $c->status());
        $secret = json_decode($c->exportState(), true)['installation']['secret'];
        try {
            $c->call(['method' => 'GET', 'path' => '/api/orders'], self::leaky(), static fn (int $ms) => null);
            $this->fail('expected ServerUnavailableException');
        } catch (ServerUnavailableException $e) {
            $this->assertCleanedRefusal($e, [self::TOKEN, $secret]);
        }
    }
}

<?php

declare(strict_types=1);

namespace Tessera\E2E;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\CallbackException;
use Tessera\Exception\RateLimitedException;
use Tessera\Exception\ReconnectRequiredException;
use Tessera\Exception\ClientErrorException;
use Tessera\Exception\ServerUnavailableException;

/** Attacks and failures, from PHP, against the real broker. */
final class EdgeCasesTest extends TestCase
{
    /** Faults are queued per path in the shared fake Stora: never leak one into the next test. */
    protected function tearDown(): void
    {
        Env::get()->storaControl('clear_faults');
    }

    private function connected(string $operator, ?string $scope = null): Companion
    {
        $env = Env::get();
        $c = $env->companion();
        $env->register($c);
        $out = $env->connect($c, $operator, $scope);
        // The account is the fake Stora operator that consented (GET /2025-09/account).
        $this->assertSame(['account' => self::account($operator)], $out);
        $this->assertSame(self::account($operator), $c->account());
        return $c;
    }

    /** The fake Stora's account of $operator (examples/fake-stora: `operator_name`). */
    private static function account(string $operator): array
    {
        return ['id' => $operator, 'name' => "Operator $operator"];
    }

    private static function send(): \Closure
    {
        return fn (array $req): array => http_send($req);
    }

    /**
     * The callback carries `state` and a single-use connect `code`, never a
     * broker token; completeConnect() exchanges the code with a signed
     * request, and the companion then names the Stora account that consented.
     */
    public function testTheCallbackCarriesACodeAndTheAccountIsShown(): void
    {
        $env = Env::get();
        $c = $env->companion();
        $env->register($c);
        $this->assertNull($c->account());
        $landing = $env->browseConnect($c, null, 'opr_php_account');
        $this->assertStringStartsWith($env->returnUrl, $landing);
        $this->assertStringContainsString('code=', $landing);
        $this->assertStringNotContainsString('broker_token', $landing);
        parse_str((string) parse_url($landing, PHP_URL_QUERY), $q);
        $this->assertMatchesRegularExpression('/^[A-Za-z0-9._~-]{16,256}$/', $q['code']);
        $sent = [];
        $out = $c->completeConnect($landing, function (array $req) use (&$sent): array {
            $sent[] = $req;
            return http_send($req);
        });
        $this->assertSame(['account' => self::account('opr_php_account')], $out);
        $this->assertSame('connected', $c->status());
        $this->assertSame(self::account('opr_php_account'), $c->account());
        $this->assertSame(self::account('opr_php_account'), Companion::importState($c->exportState())->account());
        $this->assertCount(1, $sent);
        $this->assertSame('POST', $sent[0]['method']);
        $this->assertSame($env->broker . '/connect/complete', $sent[0]['url']);
        $this->assertArrayNotHasKey('authorization', array_change_key_case($sent[0]['headers']));
        // The token it got works, for that operator.
        $this->assertSame('opr_php_account', (new Host())->getJson($c, '/api/account')['id']);
        // The code was single use: the same callback again is refused (nothing pending here).
        $this->expectException(\Tessera\Exception\InvalidStateException::class);
        $c->completeConnect($landing, self::send());
    }

    /** A reconnect as another operator replaces the account; a failed one keeps the old token and account. */
    public function testReconnectShowsTheNewAccountAndAFailedOneKeepsTheOld(): void
    {
        $env = Env::get();
        $c = $this->connected('opr_php_re_a');
        $env->connect($c, 'opr_php_re_b');
        $this->assertSame(self::account('opr_php_re_b'), $c->account());
        $this->assertSame('opr_php_re_b', (new Host())->getJson($c, '/api/account')['id']);
        $token = json_decode($c->exportState(), true)['broker_token'];
        // A code the broker refuses (tampered): the previous token and account are kept.
        $landing = $env->browseConnect($c, null, 'opr_php_re_c');
        parse_str((string) parse_url($landing, PHP_URL_QUERY), $q);
        $tampered = str_replace('code=' . rawurlencode($q['code']), 'code=' . rawurlencode(strrev($q['code'])), $landing);
        try {
            $c->completeConnect($tampered, self::send());
            $this->fail('expected the broker to refuse the code');
        } catch (\Tessera\Exception\ClientErrorException $e) {
            $this->assertSame('connect_code_invalid', $e->getReason());
        }
        $this->assertSame('connected', $c->status());
        $this->assertSame($token, json_decode($c->exportState(), true)['broker_token']);
        $this->assertSame(self::account('opr_php_re_b'), $c->account());
        $this->assertSame('opr_php_re_b', (new Host())->getJson($c, '/api/account')['id']);
        // A transport that fails during the completion: the same.
        $landing = $env->browseConnect($c, null, 'opr_php_re_c');
        try {
            $c->completeConnect($landing, static fn (array $req) => throw new \Tessera\Exception\TransportException('down'), fn (int $ms) => null);
            $this->fail('expected server unavailable');
        } catch (ServerUnavailableException $e) {
            $this->assertSame('server_unavailable', $e->getErrorCode());
        }
        $this->assertSame($token, json_decode($c->exportState(), true)['broker_token']);
        $this->assertSame(self::account('opr_php_re_b'), $c->account());
        $this->assertSame('opr_php_re_b', (new Host())->getJson($c, '/api/account')['id']);
    }

    private static function code(array $response): ?string
    {
        return json_decode($response['body'], true)['error'] ?? null;
    }

    /**
     * A host that cannot serve the proof now (a WordPress plugin inside its
     * activation request) defers it; a later register() resumes the round
     * with the same installation and the broker accepts it.
     */
    public function testADeferredProofIsFinishedByALaterRegister(): void
    {
        $env = Env::get();
        $c = $env->companion();
        $send = fn (array $req): array => http_send($req);
        $out = $c->register($env->registration(), $send, null, null, fn (array $proof) => false);
        $this->assertSame('ownership_challenge', $out['outcome']);
        $this->assertSame('awaiting_ownership', $c->status());
        $id = $c->installId();
        $this->assertSame($env->site . "/.well-known/tessera/$id", $out['proof']['url']);
        $this->assertSame($out['proof'], $c->ownershipProof());
        // Later, the proof can be served: the resumed round asks for it again
        // (the same proof), then sends the registration with the same id.
        $served = [];
        $outcome = $c->register($env->registration(), $send, null, null, function (array $proof) use ($env, &$served): bool {
            $served[] = $proof;
            return http_send(['method' => 'PUT', 'url' => $env->site . $proof['path'], 'headers' => [], 'body' => $proof['body']])['status'] === 204;
        });
        $this->assertSame(['outcome' => 'registered'], $outcome);
        $this->assertSame([$out['proof']], $served);
        $this->assertSame($id, $c->installId());
        $this->assertSame('active', json_decode($env->admin('GET', "/admin/installations/$id")['body'], true)['status']);
    }

    public function testReplayedRequestIsRefused(): void
    {
        $c = $this->connected('opr_php_replay');
        $signed = $c->signRequest(['method' => 'GET', 'path' => '/api/orders']);
        $this->assertSame(200, http_send($signed)['status']);
        $again = http_send($signed);
        $this->assertSame(401, $again['status']);
        $this->assertSame('replayed', self::code($again));
    }

    public function testTamperedBodyIsRefused(): void
    {
        $env = Env::get();
        $c = $this->connected('opr_php_tamper', 'public.contact:write');
        $signed = $c->signRequest(['method' => 'POST', 'path' => '/api/contacts', 'headers' => ['content-type' => 'application/json'], 'body' => '{"name":"Grace"}']);
        $signed['body'] = '{"name":"Mallory"}';
        $before = count($env->storaRequests('/2025-09/contacts'));
        $r = http_send($signed);
        $this->assertSame(401, $r['status']);
        $this->assertSame('digest_mismatch', self::code($r));
        $this->assertCount($before, $env->storaRequests('/2025-09/contacts'), 'nothing reached Stora');
    }

    public function testCallbackWithWrongOrExpiredState(): void
    {
        $env = Env::get();
        $c = $env->companion();
        $env->register($c);
        $landing = $env->browseConnect($c, null, 'opr_php_state');
        try {
            $c->completeConnect(str_replace('state=', 'state=x', $landing), self::send());
            $this->fail('expected a state mismatch');
        } catch (CallbackException $e) {
            $this->assertSame('callback_state_mismatch', $e->getErrorCode());
        }
        $landing = $env->browseConnect($c, null, 'opr_php_state');
        // The attempt started more than 10 minutes ago (as stored).
        $state = json_decode($c->exportState(), true);
        $state['pending_connect']['created'] -= 601;
        $c = Companion::importState(json_encode($state));
        try {
            $c->completeConnect($landing, self::send());
            $this->fail('expected an expired callback');
        } catch (CallbackException $e) {
            $this->assertSame('callback_expired', $e->getErrorCode());
        }
        $this->assertSame('registered', $c->status(), 'no token stored');
        // Denied consent.
        try {
            $c->completeConnect($env->browseConnect($c, null, null), self::send());
            $this->fail('expected a denied callback');
        } catch (CallbackException $e) {
            $this->assertSame('callback_denied', $e->getErrorCode());
            $this->assertSame('access_denied', $e->getReason());
        }
        // A state the broker never issued, straight at its callback.
        $r = http_send(['method' => 'GET', 'url' => $env->broker . '/callback?code=x&state=forged', 'headers' => [], 'body' => '']);
        $this->assertSame(400, $r['status']);
        // Still connects afterwards.
        $this->assertNull($c->account());
        $env->connect($c, 'opr_php_state');
        $this->assertSame('connected', $c->status());
        $this->assertSame(self::account('opr_php_state'), $c->account());
    }

    public function testBrokerTokenOfAnotherInstallationIsRefused(): void
    {
        $a = $this->connected('opr_php_tok_a');
        $b = $this->connected('opr_php_tok_b');
        $state = json_decode($b->exportState(), true);
        $state['broker_token'] = json_decode($a->exportState(), true)['broker_token'];
        $thief = Companion::importState(json_encode($state));
        try {
            (new Host())->getJson($thief, '/api/orders');
            $this->fail('expected reconnect required');
        } catch (ReconnectRequiredException $e) {
            $this->assertSame('broker_token_invalid', $e->getReason());
        }
        $this->assertSame('opr_php_tok_a', (new Host())->getJson($a, '/api/account')['id']);
    }

    public function testSkewedClockIsCorrected(): void
    {
        $c = $this->connected('opr_php_skew');
        // A host whose clock runs 15 minutes slow signs with created = now - 900.
        $state = json_decode($c->exportState(), true);
        $state['clock_offset'] = -900;
        $skewed = Companion::importState(json_encode($state));
        $host = new Host();
        $this->assertCount(3, $host->getJson($skewed, '/api/orders')['data']);
        $this->assertSame([401, 200], $host->statuses, 'one signature_expired, then success');
        $this->assertLessThanOrEqual(5, abs($skewed->clockOffset()), 'offset learned from the broker Date');
        $this->assertStringContainsString('"clock_offset":', (string) $host->persisted);
    }

    public function testStoraRateLimitBacksOffWithoutStorm(): void
    {
        $env = Env::get();
        $c = $this->connected('opr_php_429');
        $env->storaControl('faults', ['status' => 429, 'retry_after' => 1, 'count' => 10, 'path_prefix' => '/2025-09/orders']);
        $before = count($env->storaRequests('/2025-09/orders'));
        $host = new Host();
        try {
            $host->getJson($c, '/api/orders');
            $this->fail('expected rate limited');
        } catch (RateLimitedException $e) {
            $this->assertSame(1000, $e->getRetryAfterMs());
        }
        $this->assertSame([429, 429, 429], $host->statuses, 'bounded attempts');
        $this->assertSame([1000, 1000], $host->sleeps, 'Retry-After honoured');
        $this->assertSame($before + 3, count($env->storaRequests('/2025-09/orders')), 'no storm at Stora');
    }

    public function testStoraErrorsKeepTheirCodeAndStoredFailuresReplay(): void
    {
        $env = Env::get();
        $c = $this->connected('opr_php_5xx', 'public.order:read public.contact:write');
        $post = fn (string $key, string $body) => ['method' => 'POST', 'path' => '/api/contacts',
            'headers' => ['content-type' => 'application/json', 'idempotency-key' => $key], 'body' => $body];
        $host = new Host();
        // A documented 4xx in Stora's nested shape: never retried, request id kept.
        try {
            $c->call($post('php-bad-1', '{"name":"Ada","metadata":{"Bad Key":"x"}}'), $host->transport(), $host->sleep(), $host->persist());
            $this->fail('expected a client error');
        } catch (ClientErrorException $e) {
            $this->assertSame([422, 'invalid_content'], [$e->getStatus(), $e->getReason()]);
            $logged = $env->storaRequests('/2025-09/contacts');
            $this->assertSame(end($logged)['request_id'], $e->getRequestId(), 'the request id Stora logged');
        }

        // Stora's own 503 to a POST is stored under the key: sent once...
        $env->storaControl('faults', ['status' => 503, 'count' => 1, 'path_prefix' => '/2025-09/contacts']);
        $host = new Host();
        try {
            $c->call($post('php-5xx-1', '{"name":"Grace Hopper"}'), $host->transport(), $host->sleep(), $host->persist());
            $this->fail('expected upstream_failed');
        } catch (ServerUnavailableException $e) {
            $this->assertSame(['upstream_failed', 503], [$e->getErrorCode(), $e->getStatus()]);
            $first = $e->getRequestId();
        }
        $this->assertSame([503], $host->statuses, 'sent once');
        // ...and the same key later gets exactly that answer again.
        try {
            $c->call($post('php-5xx-1', '{"name":"Grace Hopper"}'), $host->transport(), $host->sleep(), $host->persist());
            $this->fail('expected the replayed failure');
        } catch (ServerUnavailableException $e) {
            $this->assertSame(['upstream_failed', $first], [$e->getErrorCode(), $e->getRequestId()]);
        }
        $records = $env->storaRequests('/2025-09/contacts');
        $this->assertTrue(end($records)['idempotent_replayed']);
        $r = $c->call($post('php-5xx-2', '{"name":"Grace Hopper"}'), $host->transport(), $host->sleep(), $host->persist());
        $this->assertSame(201, $r['status']);

        // A GET is not replayed by key: Stora's 5xx is retried, bounded.
        $env->storaControl('faults', ['status' => 502, 'count' => 10, 'path_prefix' => '/2025-09/orders']);
        $host = new Host();
        try {
            $host->getJson($c, '/api/orders');
            $this->fail('expected upstream_failed');
        } catch (ServerUnavailableException $e) {
            $this->assertSame('upstream_failed', $e->getErrorCode());
        }
        $this->assertCount(3, $host->statuses, 'bounded retries');
        $env->storaControl('clear_faults');
    }

    public function testAnActionAndItsRetryRecordOneTimelineEvent(): void
    {
        $env = Env::get();
        $c = $this->connected('opr_php_timeline', 'public.contact:write public.timeline_event:write');
        $request = ['method' => 'POST', 'path' => '/api/contacts',
            'headers' => ['content-type' => 'application/json', 'idempotency-key' => 'php-enquiry-1'],
            'body' => '{"name":"Ada","metadata":{"plugin.enquiry":"enq-1"}}'];
        $this->assertSame('{"metadata":{"plugin.enquiry":"enq-1"}}', Companion::metadataPatch(['plugin.enquiry' => 'enq-1']));
        $event = ['source_id' => 'storefront_sync', 'template_id' => 'website_enquiry', 'description' => 'Website enquiry via Storefront Sync',
            'external_url' => 'https://shop.example/enquiries/enq-1', 'variables' => ['name' => 'Ada']];
        $host = new Host();
        for ($round = 0; $round < 2; $round++) {
            // The second round is a host retrying the same action (same key).
            $out = $c->callAndRecord($request, $event, $host->transport(), $host->sleep(), $host->persist());
            $this->assertSame(201, $out['response']['status']);
            $this->assertSame(['ok' => true], $out['event']);
        }
        $timeline = $env->storaTimeline('opr_php_timeline');
        $this->assertCount(1, $timeline, 'one event for the action and its retry');
        $this->assertSame(['php-enquiry-1', 'https://shop.example/enquiries/enq-1'], [$timeline[0]['external']['id'], $timeline[0]['external']['url']]);
        $this->assertSame('enq-1', json_decode($out['response']['body'], true)['metadata']['plugin.enquiry']);
        $events = $env->storaRequests('/2025-09/timeline/events');
        $this->assertSame(['tle-php-enquiry-1', true], [end($events)['idempotency_key'], end($events)['idempotent_replayed']]);
    }

    public function testABurstIsPacedByTheBroker(): void
    {
        $env = Env::get();
        $c = $this->connected('opr_php_burst');
        $before = $env->storaCounters()['rate_limited'];
        $host = new Host();
        $started = microtime(true);
        for ($i = 0; $i < 13; $i++) {
            $host->getJson($c, '/api/orders');
            $this->assertSame([200], $host->statuses);
        }
        $this->assertGreaterThan(0.2, microtime(true) - $started, 'queued under 10 requests/s');
        $this->assertSame($before, $env->storaCounters()['rate_limited'], 'Stora never answered 429');
    }

    public function testConcurrentCallsRefreshOnce(): void
    {
        if (!function_exists('pcntl_fork')) {
            $this->markTestSkipped('pcntl is not available');
        }
        $env = Env::get();
        $c = $this->connected('opr_php_race');
        $state = $c->exportState();
        $env->storaControl('expire_tokens', ['operator' => 'opr_php_race']);
        $env->storaControl('faults', ['latency_ms' => 400, 'count' => 1, 'path_prefix' => '/oauth2/token']);
        $before = $env->storaCounters()['refreshes'];
        // Two PHP requests of the same site at the same moment (two forks
        // from the same stored state), as two WordPress page loads would be.
        $start = microtime(true) + 0.3;
        $files = [];
        $pids = [];
        for ($i = 0; $i < 2; $i++) {
            $files[$i] = tempnam(sys_get_temp_dir(), 'tessera-e2e');
            $pid = pcntl_fork();
            if ($pid === 0) {
                time_sleep_until($start);
                try {
                    $orders = (new Host())->getJson(Companion::importState($state), '/api/orders');
                    file_put_contents($files[$i], (string) count($orders['data']));
                } catch (\Throwable $e) {
                    file_put_contents($files[$i], get_class($e) . ': ' . $e->getMessage());
                }
                // Leave without running the parent's shutdown code (or the rest
                // of its suite): posix is not loaded under `php -n`, pcntl is.
                if (function_exists('posix_kill')) {
                    posix_kill(getmypid(), SIGKILL);
                }
                pcntl_exec('/bin/true');
            }
            $pids[] = $pid;
        }
        foreach ($pids as $pid) {
            pcntl_waitpid($pid, $status);
        }
        foreach ($files as $file) {
            $this->assertSame('3', file_get_contents($file));
            unlink($file);
        }
        $this->assertSame($before + 1, $env->storaCounters()['refreshes'], 'exactly one refresh reached Stora');
    }

    public function testKillSwitch(): void
    {
        $env = Env::get();
        $c = $this->connected('opr_php_kill');
        $id = $c->installId();
        $host = new Host();
        $host->getJson($c, '/api/orders');
        $this->assertSame(200, $env->admin('POST', "/admin/installations/$id/disable")['status']);
        try {
            $host->getJson($c, '/api/orders');
            $this->fail('expected reconnect required');
        } catch (ReconnectRequiredException $e) {
            $this->assertSame('installation_disabled', $e->getReason());
        }
        $this->assertSame('reconnect_required', $c->status());
        $env->admin('POST', "/admin/installations/$id/enable");
        $env->connect($c, 'opr_php_kill');
        $this->assertCount(3, $host->getJson($c, '/api/orders')['data']);
    }

    public function testUninstallTicket(): void
    {
        $env = Env::get();
        $c = $this->connected('opr_php_ticket');
        $id = $c->installId();
        $page = browse($c->uninstallUrl(), 'never://');
        $this->assertSame(200, $page['status']);
        $this->assertSame(404, $env->admin('GET', "/admin/installations/$id")['status']);
    }
}

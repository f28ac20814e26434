<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\Action;
use Tessera\Pure\Internal\ApiRequest;
use Tessera\Pure\Internal\CompanionCore;
use Tessera\Pure\Internal\Completion;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\Event;
use Tessera\Pure\Internal\HttpDate;
use Tessera\Pure\Internal\Machine;
use Tessera\Pure\Internal\Registration;
use Tessera\Pure\Internal\Request;
use Tessera\Pure\Internal\Response;
use Tessera\Pure\Internal\SeededEntropy;
use Tessera\Pure\Internal\ProxyMachine;
use Tessera\Pure\Internal\State;
use Tessera\Pure\Internal\StoraTokens;

/**
 * Proxy mode against the races and malformed answers the issue-18 security
 * review found, each reproduced (port of core/tests/proxy_races.rs): a
 * worker writing back a pair it loaded earlier, a disconnect or reconnect
 * racing a refresh, Stora refusing a token another worker already replaced,
 * a 2xx refresh answer that cannot be read, a skewed clock at the proxy, a
 * `WWW-Authenticate`-only refusal, dot segments, and state blobs that
 * contradict themselves.
 */
final class ProxyRacesTest extends ProxyHost
{
    /** Another worker of the same installation, loaded from the same state. */
    private static function worker(CompanionCore $c): CompanionCore
    {
        return CompanionCore::fromJson($c->toJson());
    }

    /** The store as another worker left it after refreshing `$c`'s pair to `at_2`/`rt_2` (generation 2, `rt_1` retired). */
    private function refreshedByAnotherWorker(CompanionCore $c): string
    {
        $other = self::worker($c);
        $this->drive($other, Machine::startCall($other, new ApiRequest('GET', '/api/units')), self::NOW + 3590, self::okAfterRefresh('at_2', 'rt_2'));
        self::assertSame(2, $other->state->tokenGeneration);
        $this->reset();
        return $this->stored;
    }

    private static function refusedUnlessFresh(string $fresh): \Closure
    {
        return fn (Request $r): Response => $r->header('authorization') === "Bearer {$fresh}"
            ? new Response(200, [], '[]')
            : new Response(401, [], '{"error":{"type":"authentication_error","code":"invalid_token"}}');
    }

    /** @return int how many refreshes the trace shows */
    private function refreshes(): int
    {
        return \count(array_filter($this->trace, fn (string $t): bool => str_contains($t, '/refresh')));
    }

    public function testADisconnectByAStaleWorkerRevokesTheStoredPairNotItsOwn(): void
    {
        // Review finding 3: the revoke went out with the worker's own (rotated)
        // refresh token, leaving the live grant orphaned at Stora.
        $stale = $this->connected();
        $this->stored = $this->refreshedByAnotherWorker($stale);
        $this->drive($stale, Machine::startDisconnect($stale), self::NOW + 3595, fn () => new Response(200, [], '{}'));
        self::assertSame('{"token":"rt_2"}', $this->sent[0]->body, 'the live refresh token is the one revoked');
        self::assertStringStartsWith('lock ', $this->trace());
        self::assertStringEndsWith('unlock, done ok', $this->trace());
        self::assertSame(3, $stale->state->tokenGeneration, 'the disconnect is a later generation than the refresh');
    }

    public function testARefresherWaitingBehindADisconnectDoesNotBringThePairBack(): void
    {
        // Review finding 3, second half: the stored "no pair" was ignored by a
        // worker that then refreshed and stored a pair again.
        $a = $this->connected();
        $refresher = self::worker($a);
        $this->drive($a, Machine::startDisconnect($a), self::NOW + 10, fn () => new Response(200, [], '{}'));
        $err = $this->drive($refresher, Machine::startCall($refresher, new ApiRequest('GET', '/api/units')), self::NOW + 3590, fn (Request $r) => self::fail("nothing is sent: {$r->url}"));
        self::assertSame('not_connected', $err->code());
        self::assertNull($refresher->state->tokens);
        self::assertStringNotContainsString('refresh_token', $this->stored);
    }

    public function testAReconnectIsNotRevertedByARefreshOfTheOldGrant(): void
    {
        // Review finding 5: a refresher holding the old grant stored its
        // rotation over the new connection.
        $a = $this->connected();
        $refresher = self::worker($a);
        $a->connectUrlWithState(self::RETURN, null, self::NOW + 20, self::STATE);
        $callback = '?state=' . self::STATE . '&code=' . self::CODE . '&code_context=' . self::CONTEXT;
        $this->drive($a, Machine::startCompleteConnect($a, $callback, self::NOW + 20), self::NOW + 20, fn () => self::tokensAnswer('at_new', 'rt_new', 7200));
        $this->reset();
        $done = $this->drive($refresher, Machine::startCall($refresher, new ApiRequest('GET', '/api/units')), self::NOW + 3590, function (Request $r): Response {
            self::assertStringEndsNotWith('/refresh', $r->url, 'the new pair is fresh: no refresh of the old grant');
            return new Response(200, [], '[]');
        });
        self::assertInstanceOf(Completion::class, $done);
        self::assertSame('Bearer at_new', $this->sent[0]->header('authorization'));
        self::assertStringContainsString('at_new', $this->stored, 'the store keeps the new connection');
    }

    public function testStoraRefusingATokenAnotherWorkerReplacedUsesTheNewPair(): void
    {
        // Review finding 2: the refused pair was dropped without the lock,
        // over the newer pair another worker had stored.
        $a = $this->connected();
        $this->stored = $this->refreshedByAnotherWorker($a);
        $done = $this->drive($a, Machine::startCall($a, new ApiRequest('GET', '/api/units')), self::NOW + 100, self::refusedUnlessFresh('at_2'));
        self::assertInstanceOf(Completion::class, $done, $this->trace());
        self::assertSame(0, $this->refreshes(), "no second refresh: {$this->trace()}");
        self::assertStringContainsString('rt_2', $this->stored);
        self::assertSame(2, $a->state->tokenGeneration);
    }

    public function testAPairStoraRefusesAgainAfterItsRefreshIsDroppedUnderTheLock(): void
    {
        $a = $this->connected();
        $this->reset();
        $err = $this->drive($a, Machine::startCall($a, new ApiRequest('GET', '/api/units')), self::NOW + 100, fn (Request $r): Response => str_ends_with($r->url, '/refresh')
            ? self::tokensAnswer('at_2', 'rt_2', 3600)
            : new Response(401, [], '{"error":{"code":"invalid_token"}}'));
        self::assertSame(['reconnect_required', 'invalid_token'], [$err->code(), $err->reason()]);
        self::assertStringEndsWith('persist, unlock, done reconnect_required', $this->trace());
        self::assertSame(State::RECONNECT_REQUIRED, $a->status());
        self::assertSame(1, $this->refreshes());
    }

    public function testAnUnreadableRefreshAnswerRetiresTheOldTokenAndAsksForAReconnect(): void
    {
        // Review finding 6: Stora had rotated, the plugin kept the dead token.
        $a = $this->connected();
        $this->reset();
        $err = $this->drive($a, Machine::startCall($a, new ApiRequest('GET', '/api/units')), self::NOW + 3590, fn () => new Response(200, [], '{"access_token":"a b","refresh_token":"rt_2","expires_in":3600}'));
        self::assertSame(['reconnect_required', 'invalid_refresh_answer'], [$err->code(), $err->reason()]);
        self::assertStringContainsString('retired_refresh', $this->stored);
        self::assertStringNotContainsString('"refresh_token":"rt_1"', $this->stored);
    }

    public function testASkewedClockAtTheProxyIsLearnedAndTheRefreshSignedAgainOnce(): void
    {
        // Review finding 13.
        $a = $this->connected();
        $this->reset();
        $date = HttpDate::format(self::NOW + 3590 + 900);
        $first = true;
        $this->drive($a, Machine::startCall($a, new ApiRequest('GET', '/api/units')), self::NOW + 3590, function (Request $r) use (&$first, $date): Response {
            if (str_ends_with($r->url, '/refresh') && $first) {
                $first = false;
                return (new Response(401, [], '{"error":"signature_expired"}'))->withHeader('date', $date);
            }
            return str_ends_with($r->url, '/refresh') ? self::tokensAnswer('at_2', 'rt_2', 3600) : new Response(200, [], '[]');
        });
        self::assertSame(2, $this->refreshes());
        self::assertSame(900, $a->clockOffset());
        // A proxy that keeps saying so is not asked a third time.
        $a = $this->connected();
        $this->reset();
        $err = $this->drive($a, Machine::startCall($a, new ApiRequest('GET', '/api/units')), self::NOW + 3590, fn () => (new Response(401, [], '{"error":"signature_expired"}'))->withHeader('date', $date));
        self::assertSame(['client_error', 'signature_expired', 2], [$err->code(), $err->reason(), $this->refreshes()]);
        self::assertStringEndsWith('persist, send POST https://proxy.example/refresh, unlock, done client_error', $this->trace());
    }

    public function testARefusalNamedOnlyInWwwAuthenticateRefreshes(): void
    {
        // Review finding 14.
        $a = $this->connected();
        $this->reset();
        $refused = false;
        $this->drive($a, Machine::startCall($a, new ApiRequest('GET', '/api/units')), self::NOW + 10, function (Request $r) use (&$refused): Response {
            if (str_ends_with($r->url, '/refresh')) {
                return self::tokensAnswer('at_2', 'rt_2', 3600);
            }
            if (!$refused) {
                $refused = true;
                return (new Response(401, [], ''))->withHeader('www-authenticate', 'Bearer error="invalid_token"');
            }
            return new Response(200, [], '[]');
        });
        self::assertSame(1, $this->refreshes());
        // Any other 401 is no refusal of the token: no refresh.
        $this->reset();
        $err = $this->drive($a, Machine::startCall($a, new ApiRequest('GET', '/api/units')), self::NOW + 10, fn () => (new Response(401, [], ''))->withHeader('www-authenticate', 'Bearer error="insufficient_scope"'));
        self::assertInstanceOf(CoreError::class, $err);
        self::assertSame(0, $this->refreshes());
    }

    public function testAtMostThreeRefusalsOfTheAccessTokenPerCall(): void
    {
        // Every refusal finds another worker's newer pair: the call gives up after three.
        $a = $this->connected();
        $this->reset();
        $n = 0;
        $err = $this->drive($a, Machine::startCall($a, new ApiRequest('GET', '/api/units')), self::NOW + 10, function () use (&$n): Response {
            $n++;
            $other = CompanionCore::fromJson($this->stored);
            ProxyMachine::setPair($other, StoraTokens::new("at_x{$n}", "rt_x{$n}", self::NOW + 3600, 'units:read'));
            $this->stored = $other->toJson();
            return new Response(401, [], '{"error":{"code":"invalid_token"}}');
        });
        self::assertSame(['reconnect_required', 'invalid_token'], [$err->code(), $err->reason()]);
        self::assertSame(4, \count($this->sent), $this->trace());
        self::assertSame(0, $this->refreshes());
        self::assertSame('Bearer at_x3', $this->sent[3]->header('authorization'));
        self::assertStringEndsWith('unlock, send GET https://api.stora.example/2025-09/units, done reconnect_required', $this->trace());
    }

    public function testDotSegmentsNeverLeaveTheVersionedApi(): void
    {
        // Review finding 16.
        $a = $this->connected();
        foreach (['/api/../oauth2/revoke', '/api/units/%2e%2e/%2E%2E/x', '/api/./units', '/api/units/%2E'] as $path) {
            self::assertCoreError('invalid_input', fn () => Machine::startCall($a, new ApiRequest('GET', $path)), 'invalid `path`: must not have . or .. segments');
        }
        Machine::startCall($a, new ApiRequest('GET', '/api/units?q=../x'));
        Machine::startCall($a, new ApiRequest('GET', '/api/units/...x/.x./%2e%2e%2e'));
    }

    public function testAStateThatContradictsItselfIsRefused(): void
    {
        // Review finding 15.
        $json = $this->connected()->toJson();
        $brokerMode = str_replace(',"proxy":{"stora_api_url":"https://api.stora.example/2025-09","refresh_margin_secs":120,"token":"/token","refresh":"/refresh","revoke":"/revoke"}', '', $json);
        self::assertNotSame($json, $brokerMode);
        foreach ([
            'tokens in broker mode' => [$brokerMode, '`tokens` belong to proxy mode only, without a broker token'],
            'tokens and a broker token' => [str_replace('"broker_token":null', '"broker_token":"btk_x"', $json), '`tokens` belong to proxy mode only, without a broker token'],
            'no generation' => [str_replace(',"token_generation":1', '', $json), '`token_generation` must count the pair it holds'],
            'generation 0' => [str_replace('"token_generation":1', '"token_generation":0', $json), '`token_generation` must count the pair it holds'],
            'a bad fingerprint' => [str_replace('"token_generation"', '"retired_refresh":"x","token_generation"', $json), '`retired_refresh` must be a SHA-256 fingerprint'],
            'a fingerprint of 44' => [str_replace('"token_generation"', '"retired_refresh":"' . str_repeat('a', 44) . '","token_generation"', $json), '`retired_refresh` must be a SHA-256 fingerprint'],
        ] as $name => [$bad, $message]) {
            self::assertCoreError('state_corrupt', fn () => CompanionCore::fromJson($bad), "state is corrupt: {$message}");
        }
        $fine = str_replace('"token_generation"', '"retired_refresh":"' . str_repeat('a', 43) . '","token_generation"', $json);
        self::assertSame($fine, CompanionCore::fromJson($fine)->toJson());
    }

    public function testPrintRNeverShowsATokenOfACallOrAnAnswer(): void
    {
        // Review finding 11.
        $a = $this->connected();
        $answer = self::tokensAnswer('at_secret', 'rt_secret', 3600);
        $text = print_r(Machine::startDisconnect($a), true) . print_r($answer, true) . print_r(Event::response($answer), true)
            . print_r(ApiRequest::json('POST', '/revoke', '{"token":"rt_secret"}'), true);
        foreach (['rt_1', 'at_secret', 'rt_secret'] as $secret) {
            self::assertStringNotContainsString($secret, $text);
        }
    }

    public function testASealingHostStoresAndTheLockReadsSealedStates(): void
    {
        $key = str_repeat("\x09", 32);
        $c = CompanionCore::create(self::config());
        $c->setSealKey($key);
        $c->registrationRequest(new Registration('https://shop.example', 'owner@shop.example', 'wordpress', '1.0.0'), new SeededEntropy(str_repeat("\x01", 32)));
        $c->handleRegistrationResponseAt(new Response(201, [], '{}'), self::NOW);
        $this->stored = $c->sealState($key, new SeededEntropy(str_repeat("\x02", 32)));
        $c->connectUrlWithState(self::RETURN, null, self::NOW, self::STATE);
        $callback = '?state=' . self::STATE . '&code=' . self::CODE . '&code_context=' . self::CONTEXT;
        $this->drive($c, Machine::startCompleteConnect($c, $callback, self::NOW), self::NOW, fn () => self::tokensAnswer('at_1', 'rt_1', 3600));
        self::assertStringStartsWith('tsv1.', $this->stored);
        self::assertStringNotContainsString('rt_1', $this->stored);
        self::assertSame(State::CONNECTED, $c->status());
        // And a refresh reads it back under the lock.
        $this->reset();
        $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), self::NOW + 3590, self::okAfterRefresh('at_2', 'rt_2'));
        self::assertSame([1, 'Bearer at_2'], [$this->refreshes(), $this->sent[1]->header('authorization')]);
    }

    public function testTheLockReleasedIsTheLockTakenEvenAfterTheInstallationIsGone(): void
    {
        // Found by the PHP end-to-end test: the uninstall released a lock named
        // for "no installation" (the state was wiped by then).
        $c = $this->connected();
        $id = $c->installId();
        $call = Machine::startUninstall($c);
        $names = [];
        $event = Event::start();
        $rng = new SeededEntropy(str_repeat("\x03", 32));
        for ($i = 0; $i < 20; $i++) {
            $action = Machine::step($c, $call, $event, self::NOW, $rng);
            $event = match ($action->type) {
                Action::LOCK => Event::locked($c->toJson()),
                Action::UNLOCK => Event::unlocked(),
                Action::SEND => Event::response(new Response(200, [], '{}')),
                Action::PERSIST => Event::persisted(),
                default => null,
            };
            if ($action->type === Action::LOCK || $action->type === Action::UNLOCK) {
                $names[] = "{$action->type} {$action->name}";
            }
            if ($event === null) {
                self::assertSame(Action::DONE, $action->type);
                self::assertInstanceOf(Completion::class, $action->result);
                break;
            }
        }
        self::assertSame(["lock tessera-refresh-{$id}", "unlock tessera-refresh-{$id}"], $names);
    }
}

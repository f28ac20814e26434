<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\Action;
use Tessera\Pure\Internal\ApiRequest;
use Tessera\Pure\Internal\Call;
use Tessera\Pure\Internal\CompanionCore;
use Tessera\Pure\Internal\Completion;
use Tessera\Pure\Internal\Config;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\Event;
use Tessera\Pure\Internal\Machine;
use Tessera\Pure\Internal\PendingConnect;
use Tessera\Pure\Internal\ProxyConfig;
use Tessera\Pure\Internal\ProxyMachine;
use Tessera\Pure\Internal\Registration;
use Tessera\Pure\Internal\Request;
use Tessera\Pure\Internal\Response;
use Tessera\Pure\Internal\SeededEntropy;
use Tessera\Pure\Internal\State;
use Tessera\Pure\Internal\StoraTokens;
use Tessera\Pure\Internal\U64;
use Tessera\Pure\Internal\BrokerToken;

/**
 * Authorization-proxy mode on the sans-IO layer: the cases of
 * core/tests/proxy_plugin.rs (each as the exact actions the machine asks
 * for), plus the state JSON, configuration and callback checks the scripts
 * of tests/vectors/machine-proxy.json do not reach.
 */
final class ProxyMachineTest extends ProxyHost
{
    public function testTheCodeExchangeIsSignedKeylessAndCarriesTheContext(): void
    {
        $c = $this->connected();
        $id = $c->installId();
        self::assertSame("lock tessera-refresh-{$id}, persist, send POST https://proxy.example/token, persist, unlock, done ok", $this->trace(), 'the whole exchange holds the lock');
        $exchange = $this->sent[0];
        self::assertSame(
            '{"code":"' . self::CODE . '","code_context":"' . self::CONTEXT . '","state":"' . self::STATE . '","return_url":"' . self::RETURN . '"}',
            $exchange->body,
        );
        self::assertNotNull($exchange->header('signature'));
        self::assertNull($exchange->header('authorization'));
        self::assertSame(State::CONNECTED, $c->status());
        $t = $c->state->tokens;
        self::assertSame([self::NOW + 3600, 1, 'units:read'], [$t->expiresAt, $c->state->tokenGeneration, $t->scope]);
        self::assertStringNotContainsString('at_1', print_r($c, true) . var_export($t, true) . json_encode($t));
        self::assertStringContainsString('"refresh_token":"rt_1"', $this->stored);
        self::assertSame($c->toJson(), CompanionCore::fromJson($c->toJson())->toJson());
        // A Stora code is single use: a lost answer is never retried blindly.
        $c2 = self::registered();
        $c2->state->pendingConnect = new PendingConnect(self::STATE, self::NOW, self::RETURN);
        $this->stored = $c2->toJson();
        $this->reset();
        $err = $this->drive($c2, Machine::startCompleteConnect($c2, '?state=' . self::STATE . '&code=' . self::CODE . '&code_context=' . self::CONTEXT, self::NOW), self::NOW, fn () => new Response(503, [], ''));
        self::assertSame(['server_unavailable', 1], [$err->code(), \count($this->sent)]);
    }

    public function testACallbackWithoutOrWithABadCodeContextIsRefused(): void
    {
        foreach (['' => 'missing code_context', '&code_context=a%2Bb' => 'code_context is not a valid code context',
            '&code_context=' => 'code_context is not a valid code context'] as $tail => $detail) {
            $c = self::registered();
            $c->state->pendingConnect = new PendingConnect(self::STATE, self::NOW, self::RETURN);
            $this->stored = $c->toJson();
            $this->reset();
            $err = $this->drive($c, Machine::startCompleteConnect($c, '?state=' . self::STATE . '&code=' . self::CODE . $tail, self::NOW), self::NOW, fn () => self::fail('nothing is sent'));
            self::assertSame('callback_invalid', $err->code());
            self::assertSame("the callback is malformed: {$detail}", $err->getMessage());
            self::assertNull($c->state->tokens);
            self::assertNull($c->state->pendingConnect, 'the attempt is used up');
        }
        ProxyMachine::checkCodeContext(str_repeat('a', ProxyMachine::MAX_CODE_CONTEXT));
        self::assertCoreError('callback_invalid', fn () => ProxyMachine::checkCodeContext(str_repeat('a', ProxyMachine::MAX_CODE_CONTEXT + 1)));
    }

    public function testCallsGoStraightToStoraWithTheAccessToken(): void
    {
        $c = $this->connected();
        $this->reset();
        $call = Machine::startCall($c, ApiRequest::json('POST', '/api/units/u_1/notes', '{"text":"hi"}'));
        $done = $this->drive($c, $call, self::NOW + 60, fn () => new Response(201, [], '{}'));
        self::assertSame(201, $done->response->status);
        self::assertSame('send POST https://api.stora.example/2025-09/units/u_1/notes, done ok', $this->trace());
        $req = $this->sent[0];
        self::assertSame('Bearer at_1', $req->header('authorization'));
        self::assertSame('application/json', $req->header('accept'));
        self::assertNotNull($req->header('idempotency-key'));
        self::assertNull($req->header('signature'));
        self::assertStringNotContainsString('at_1', print_r($req, true));
        self::assertCoreError('invalid_input', fn () => Machine::startCall($c, new ApiRequest('GET', '/units')));
        self::assertCoreError('invalid_input', fn () => Machine::startCall($c, new ApiRequest('GET', '/api/units', [['Authorization', 'Bearer x']])));
    }

    public function testAnExpiringTokenIsRefreshedUnderTheLockAndPersistedBeforeUse(): void
    {
        $c = $this->connected();
        $this->reset();
        $done = $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), self::NOW + 3540, self::okAfterRefresh('at_2', 'rt_2'));
        self::assertInstanceOf(Completion::class, $done);
        $id = $c->installId();
        self::assertSame("lock tessera-refresh-{$id}, send POST https://proxy.example/refresh, persist, unlock, send GET https://api.stora.example/2025-09/units, done ok", $this->trace());
        self::assertSame('{"refresh_token":"rt_1"}', $this->sent[0]->body);
        self::assertNotNull($this->sent[0]->header('signature'));
        self::assertStringContainsString('"refresh_token":"rt_2"', $this->stored);
        self::assertStringNotContainsString('rt_1', $this->stored, 'only the fingerprint of the rotated token');
        self::assertSame('Bearer at_2', $this->sent[1]->header('authorization'));
        self::assertSame(2, $c->state->tokenGeneration);
    }

    public function testAPairAnotherWorkerStoredIsUsedWithoutASecondRefresh(): void
    {
        $a = $this->connected();
        $b = CompanionCore::fromJson($a->toJson());
        $later = self::NOW + 3570;
        $this->drive($a, Machine::startCall($a, new ApiRequest('GET', '/api/units')), $later, self::okAfterRefresh('at_2', 'rt_2'));
        $this->reset();
        $this->drive($b, Machine::startCall($b, new ApiRequest('GET', '/api/units')), $later, fn () => new Response(200, [], '[]'));
        self::assertStringNotContainsString('/refresh', $this->trace());
        self::assertSame('Bearer at_2', end($this->sent)->header('authorization'));
        self::assertSame(2, $b->state->tokenGeneration);
    }

    public function testAStoreThatLostTheRotationIsRepairedNotBelieved(): void
    {
        $c = $this->connected();
        $before = $this->stored;
        $later = self::NOW + 3570;
        $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), $later, self::okAfterRefresh('at_2', 'rt_2', 60));
        $this->stored = $before; // the store lost the write; this worker's pair is newer
        $this->reset();
        $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), $later + 30, self::okAfterRefresh('at_3', 'rt_3'));
        self::assertSame('{"refresh_token":"rt_2"}', $this->sent[0]->body, 'the rotated rt_1 is never sent');
        self::assertStringContainsString('rt_3', $this->stored);
    }

    public function testARefreshTokenKnownToBeRotatedIsNeverSent(): void
    {
        $c = $this->connected();
        $fingerprint = rtrim(strtr(base64_encode(hash('sha256', 'rt_1', true)), '+/', '-_'), '=');
        $this->stored = substr_replace($this->stored, '{"retired_refresh":"' . $fingerprint . '",', 0, 1);
        $this->reset();
        $err = $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), self::NOW + 3600, fn (Request $r) => self::fail("nothing is sent: {$r->url}"));
        self::assertSame(['reconnect_required', 'invalid_grant'], [$err->code(), $err->reason()]);
        self::assertStringEndsWith('persist, unlock, done reconnect_required', $this->trace());
        self::assertSame($fingerprint, StoraTokens::fingerprint(\Tessera\Pure\Internal\BrokerToken::new('rt_1')));
    }

    public function testInvalidGrantAsksForAReconnectAndReleasesTheLock(): void
    {
        $c = $this->connected();
        $this->reset();
        $err = $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), self::NOW + 3600, fn () => new Response(400, [], '{"error":{"code":"invalid_grant","message":"revoked"}}'));
        self::assertSame(['reconnect_required', 'invalid_grant'], [$err->code(), $err->reason()]);
        self::assertStringEndsWith('send POST https://proxy.example/refresh, persist, unlock, done reconnect_required', $this->trace());
        self::assertSame(State::RECONNECT_REQUIRED, $c->status());
        self::assertStringNotContainsString('refresh_token', $this->stored);
        // A call now fails before any action, naming the reason.
        $e = self::assertCoreError('reconnect_required', fn () => Machine::startCall($c, new ApiRequest('GET', '/api/units')));
        self::assertSame('invalid_grant', $e->reason());
    }

    public function testStoraRefusingTheTokenRefreshesOnceThenGivesUp(): void
    {
        $c = $this->connected();
        $this->reset();
        $refused = 0;
        $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), self::NOW + 10, function (Request $r) use (&$refused): Response {
            if (str_ends_with($r->url, '/refresh')) {
                return self::tokensAnswer('at_2', 'rt_2', 3600);
            }
            return $refused++ === 0 ? new Response(401, [], '{"error":{"type":"authentication_error","code":"invalid_token"}}') : new Response(200, [], '[]');
        });
        self::assertCount(1, array_filter($this->trace, fn ($t) => str_contains($t, '/refresh')));
        self::assertStringEndsWith('unlock, send GET https://api.stora.example/2025-09/units, done ok', $this->trace());
        // Refused again after the refresh: reconnect_required (invalid_token), the pair dropped and persisted under the lock.
        $this->reset();
        $err = $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), self::NOW + 10, fn (Request $r) => str_ends_with($r->url, '/refresh')
            ? self::tokensAnswer('at_3', 'rt_3', 3600)
            : new Response(401, [], '{"error":{"type":"authentication_error","code":"invalid_token"}}'));
        self::assertSame(['reconnect_required', 'invalid_token'], [$err->code(), $err->reason()]);
        self::assertCount(1, array_filter($this->trace, fn ($t) => str_contains($t, '/refresh')));
        self::assertStringEndsWith('lock tessera-refresh-' . $c->installId() . ', persist, unlock, done reconnect_required', $this->trace());
        self::assertNull($c->state->tokens);
        self::assertSame(4, $c->state->tokenGeneration, 'connect, two refreshes, the drop');
    }

    public function testNoLockNoRefreshAndALostAnswerKeepsThePair(): void
    {
        $c = $this->connected();
        $this->lockFree = false;
        $err = $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), self::NOW + 3600, fn () => self::fail('nothing is sent without the lock'));
        self::assertSame('lock_unavailable', $err->code());
        self::assertSame(["could not take the installation's refresh lock", 'server_unavailable'], [$err->getMessage(), $err->kind()]);
        $this->lockFree = true;
        $this->reset();
        $err = $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), self::NOW + 3600, fn () => null);
        self::assertSame('server_unavailable', $err->code());
        self::assertStringEndsWith('send POST https://proxy.example/refresh, unlock, done server_unavailable', $this->trace());
        self::assertSame(1, $c->state->tokenGeneration, 'not retried, not dropped');
    }

    public function testAStoredStateOfAnotherInstallationOrOneThatDoesNotOpenIsRefused(): void
    {
        $c = $this->connected();
        $this->stored = str_replace((string) $c->installId(), 'ins_AAAAAAAAAAAAAAAAAAAAAA', $this->stored);
        $this->reset();
        $err = $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), self::NOW + 3600, fn () => self::fail('nothing is sent'));
        self::assertSame(['invalid_state', 'unlock, done invalid_state'], [$err->code(), implode(', ', \array_slice($this->trace, 1))]);
        // Sealed: what the host hands back must open with the seal key.
        $c->setSealKey('0123456789abcdef-key');
        $this->stored = $c->toJson();
        $this->reset();
        $err = $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), self::NOW + 3600, fn () => self::fail('nothing is sent'));
        self::assertSame('state_undecryptable', $err->code());
        // Another worker disconnected meanwhile: the loss is adopted.
        $c = $this->connected();
        $other = CompanionCore::fromJson($c->toJson());
        ProxyMachine::setPair($other, null);
        $other->state->reconnectReason = 'invalid_grant';
        $this->stored = $other->toJson();
        $this->reset();
        $err = $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), self::NOW + 3600, fn () => self::fail('nothing is sent'));
        self::assertSame(['reconnect_required', 'invalid_grant'], [$err->code(), $err->reason()]);
        self::assertNull($c->state->tokens);
    }

    public function testMalformedTokenAnswersAreRefused(): void
    {
        $retired = StoraTokens::fingerprint(BrokerToken::new('rt_1'));
        foreach ([
            '{"access_token":"at_2","refresh_token":"rt_2","expires_in":0}' => "the proxy's token answer is malformed",
            '{"access_token":"at_2","refresh_token":"rt_2","expires_in":31536001}' => "the proxy's token answer is malformed",
            '{"access_token":"at_2","refresh_token":"rt_2","expires_in":60,"scope":7}' => "the proxy's token answer is malformed",
            '{"access_token":"at 2","refresh_token":"rt_2","expires_in":60}' => "the proxy's answer has a malformed access_token",
            '{"access_token":"at_2","refresh_token":"","expires_in":60}' => "the proxy's answer has a malformed refresh_token",
            '{"access_token":"at_2","refresh_token":"rt_2","expires_in":60,"scope":"a\u0007"}' => "the proxy's answer has a malformed scope",
            '{"access_token":"at_2","access_token":"at_3","refresh_token":"rt_2","expires_in":60}' => "the proxy's token answer is malformed",
            'not json' => "the proxy's token answer is malformed",
        ] as $body => $detail) {
            // A 2xx refresh answer that cannot be read: Stora has rotated, so
            // the old pair is dead too — dropped, its refresh token retired.
            $c = $this->connected();
            $err = $this->drive($c, Machine::startCall($c, new ApiRequest('GET', '/api/units')), self::NOW + 3600, fn () => new Response(200, [], $body));
            self::assertSame(['reconnect_required', 'invalid_refresh_answer'], [$err->code(), $err->reason()], $body);
            self::assertSame([null, $retired, 2], [$c->state->tokens, $c->state->retiredRefresh, $c->state->tokenGeneration]);
            // The same answer to the code exchange: callback_invalid, naming what is wrong.
            $c = self::registered();
            $c->state->pendingConnect = new PendingConnect(self::STATE, self::NOW, self::RETURN);
            $this->stored = $c->toJson();
            $err = $this->drive($c, Machine::startCompleteConnect($c, '?state=' . self::STATE . '&code=' . self::CODE . '&code_context=' . self::CONTEXT, self::NOW), self::NOW, fn () => new Response(200, [], $body));
            self::assertSame(['callback_invalid', "the callback is malformed: {$detail}"], [$err->code(), $err->getMessage()], $body);
            self::assertNull($c->state->tokens);
        }
        // The code exchange needs the account too.
        $c = self::registered();
        $c->state->pendingConnect = new PendingConnect(self::STATE, self::NOW, self::RETURN);
        $this->stored = $c->toJson();
        $err = $this->drive($c, Machine::startCompleteConnect($c, '?state=' . self::STATE . '&code=' . self::CODE . '&code_context=' . self::CONTEXT, self::NOW), self::NOW, fn () => new Response(200, [], '{"access_token":"a","refresh_token":"r","expires_in":60}'));
        self::assertSame('callback_invalid', $err->code());
        self::assertNull($c->state->tokens);
    }

    public function testDisconnectAndUninstallRevokeThroughTheProxy(): void
    {
        $c = $this->connected();
        $this->reset();
        $this->drive($c, Machine::startDisconnect($c), self::NOW, fn () => new Response(200, [], '{}'));
        $id = $c->installId();
        self::assertSame("lock tessera-refresh-{$id}, send POST https://proxy.example/revoke, persist, unlock, done ok", $this->trace());
        self::assertSame('{"token":"rt_1"}', $this->sent[0]->body);
        self::assertSame([null, State::REGISTERED], [$c->state->tokens, $c->status()]);
        self::assertCoreError('not_connected', fn () => Machine::startDisconnect($c));
        // Uninstalling while connected revokes first; while not, it deregisters only.
        $c = $this->connected();
        $this->reset();
        $done = $this->drive($c, Machine::startUninstall($c), self::NOW, fn () => new Response(200, [], '{}'));
        self::assertSame(Completion::UNINSTALLED, $done->type);
        self::assertStringContainsString('send POST https://proxy.example/revoke, persist, send DELETE', $this->trace());
        self::assertStringEndsWith('unlock, done ok', $this->trace());
        self::assertSame(State::NOT_REGISTERED, $c->status());
        $c = self::registered();
        $this->reset();
        $this->stored = $c->toJson();
        $id = $c->installId();
        $this->drive($c, Machine::startUninstall($c), self::NOW, fn () => new Response(204, [], ''));
        self::assertSame("lock tessera-refresh-{$id}, send DELETE https://proxy.example/installations/{$id}, persist, unlock, done ok", $this->trace(), 'the lock released is the lock taken');
    }

    public function testProxyConfigurationIsChecked(): void
    {
        self::assertCoreError('insecure_broker_url', fn () => CompanionCore::create(self::config('http://stora.example/2025-09')));
        CompanionCore::create(self::config('http://127.0.0.1:9/2025-09'));
        self::assertCoreError('invalid_url', fn () => CompanionCore::create(self::config('https://s.example/?x=1')), 'invalid URL in `stora_api_url`: must not have a query');
        self::assertCoreError('invalid_url', fn () => CompanionCore::create(new Config(self::PROXY, proxy: new ProxyConfig(self::STORA, 120, '/t?x'))));
        self::assertCoreError('invalid_input', fn () => CompanionCore::create(new Config(self::PROXY, proxy: new ProxyConfig(self::STORA, 3601))), 'invalid `proxy`: refresh_margin_secs is at most 3600');
        CompanionCore::create(new Config(self::PROXY, proxy: new ProxyConfig(self::STORA, 3600)));
    }

    /** What a lock callable returns goes through `String::from_utf8_lossy`, as in the extension. */
    public function testLossyUtf8IsRustsFromUtf8Lossy(): void
    {
        $r = "\u{FFFD}";
        foreach ([
            "a\xffb" => "a{$r}b", "\xe0\x80\x80" => "{$r}{$r}{$r}", "\xed\xa0\x80x" => "{$r}{$r}{$r}x", "\xf0\x9f\x98" => $r,
            "\xf4\x90\x80\x80" => str_repeat($r, 4), "\xc0\xaf" => "{$r}{$r}", "\xf0\x9f\x98\x80\xff" => "\u{1F600}{$r}", "ok\u{e9}" => "ok\u{e9}",
        ] as $in => $want) {
            self::assertSame(bin2hex($want), bin2hex(\Tessera\Pure\Internal\Text::lossyUtf8($in)), bin2hex($in));
        }
    }

    public function testTheStateJsonOfProxyMode(): void
    {
        $c = $this->connected();
        $json = $c->toJson();
        self::assertStringContainsString('"proxy":{"stora_api_url":"https://api.stora.example/2025-09","refresh_margin_secs":120,"token":"/token","refresh":"/refresh","revoke":"/revoke"}}', $json);
        self::assertStringEndsWith(',"tokens":{"access_token":"at_1","refresh_token":"rt_1","expires_at":1700003600,"scope":"units:read"},"token_generation":1}', $json);
        // Defaults for the members a state may omit; a member twice or a bad pair is corrupt.
        $short = str_replace(',"refresh_margin_secs":120,"token":"/token","refresh":"/refresh","revoke":"/revoke"', '', $json);
        self::assertSame($json, CompanionCore::fromJson($short)->toJson());
        // A pair's generation of an older state (per pair) is ignored, not written back.
        self::assertSame($json, CompanionCore::fromJson(str_replace('"scope":"units:read"}', '"scope":"units:read","generation":1}', $json))->toJson());
        self::assertCoreError('state_corrupt', fn () => State::fromJson(str_replace('"access_token":"at_1"', '"access_token":"at 1"', $json)), 'state is corrupt: `tokens` must be a token pair');
        self::assertCoreError('state_corrupt', fn () => State::fromJson(str_replace('"scope":"units:read"', '"scope":7', $json)), 'state is corrupt: `tokens.scope` must be a string');
        self::assertCoreError('state_corrupt', fn () => State::fromJson(str_replace('{"stora_api_url"', '{"token":"/x","stora_api_url"', $json)), 'state is corrupt: `config.proxy.token` appears more than once');
        self::assertCoreError('state_corrupt', fn () => State::fromJson(str_replace('"stora_api_url":"https://api.stora.example/2025-09",', '', $json)), 'state is corrupt: `config.proxy.stora_api_url` is missing');
        // Broker-mode JSON is unchanged: no proxy, no tokens, no retired_refresh.
        $broker = CompanionCore::create(new Config(self::PROXY))->toJson();
        self::assertStringNotContainsString('proxy"', $broker);
        self::assertStringNotContainsString('tokens', $broker);
        // token_generation is a u64, written only when it is not 0.
        $big = CompanionCore::fromJson(str_replace('"token_generation":1', '"token_generation":18446744073709551614', $json));
        ProxyMachine::setPair($big, null);
        self::assertSame('18446744073709551615', $big->state->tokenGeneration);
        ProxyMachine::setPair($big, null);
        self::assertStringEndsWith('"token_generation":18446744073709551615}', $big->toJson(), 'saturating');
        self::assertSame(2, U64::saturatingInc(1));
        self::assertSame('9223372036854775808', U64::saturatingInc(\PHP_INT_MAX));
        self::assertStringNotContainsString('token_generation', CompanionCore::fromJson(str_replace([',"tokens":{"access_token":"at_1","refresh_token":"rt_1","expires_at":1700003600,"scope":"units:read"}', ',"token_generation":1', '"status":"connected"'], ['', '', '"status":"registered"'], $json))->toJson());
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * Authorization-proxy mode on the step machine (port of
 * `core/src/machine/proxy.rs`, docs/PROTOCOL.md §13): API calls go straight
 * to Stora with the installation's own access token; a refresh goes through
 * the proxy, one at a time per installation, under a host lock.
 *
 * The refresh round: Lock → the host feeds the stored state (Locked) → a
 * newer pair another worker stored is adopted, and used if it is fresh →
 * else the signed `POST {refresh}` → the new pair is persisted **before** it
 * is used → Unlock → the call goes on. A refresh token seen rotated away is
 * never sent again. ({@see LockMachine}: what else runs under the lock.)
 */
final class ProxyMachine
{
    /** Longest `code_context` accepted in a callback. */
    public const MAX_CODE_CONTEXT = 4096;

    /** The reconnect reason after the proxy answered `invalid_grant`. */
    private const INVALID_GRANT = 'invalid_grant';
    /** The reconnect reason after Stora refused a just-refreshed access token. */
    private const INVALID_TOKEN = 'invalid_token';
    /** The reconnect reason after a refresh answered 2xx with an unreadable pair. */
    private const INVALID_ANSWER = 'invalid_refresh_answer';
    /** Refusals of the access token (`401 invalid_token`) one call handles. */
    private const MAX_REFUSALS = 3;

    /** The refresh request is out: its answer is the next response. */
    public static function refreshing(CompanionCore $c, Call $call): bool
    {
        return $c->state->config->proxy !== null && $call->refresh?->sending === true;
    }

    /**
     * Proxy mode: the Stora URL of an API path (`/api/<rest>`; no dot
     * segment may climb out of the versioned base). @throws CoreError
     */
    public static function storaUrl(CompanionCore $c, string $path): Url
    {
        $proxy = $c->state->config->proxy ?? throw CoreError::internal('not in proxy mode');
        if (!str_starts_with($path, '/api/')) {
            throw CoreError::invalidInput('path', 'must start with /api/ in proxy mode');
        }
        $route = preg_split('/[?#]/', substr($path, 5), 2)[0];
        foreach (explode('/', $route) as $seg) {
            $lower = str_replace('%2e', '.', strtolower($seg));
            if ($lower === '.' || $lower === '..') {
                throw CoreError::invalidInput('path', 'must not have . or .. segments');
            }
        }
        $base = Url::parse($proxy->storaApiUrl, 'stora_api_url');
        return $base->appendPath('/' . substr($path, 5), 'path');
    }

    /** The error of a call without tokens: reconnect required (with its reason) or not connected. */
    private static function notConnected(CompanionCore $c): CoreError
    {
        $reason = $c->state->reconnectReason;
        return $reason !== null ? CoreError::reconnectRequired($reason) : CoreError::notConnected();
    }

    /**
     * Proxy mode: the checks of `Machine::startCall` — the path maps to Stora
     * and there is a token pair. @throws CoreError
     */
    public static function callPreflight(CompanionCore $c, ApiRequest $req): void
    {
        Http::normalizeMethod($req->method);
        Http::checkBody($req->body);
        Http::normalizeHeaders($req->headers);
        foreach ($req->headers as [$k]) {
            if (strcasecmp($k, 'authorization') === 0) {
                throw CoreError::invalidInput('headers', "authorization is the companion's to set");
            }
        }
        self::storaUrl($c, $req->path);
        $c->usableInstallation();
        if ($c->state->tokens === null) {
            throw self::notConnected($c);
        }
    }

    /**
     * An API call's next attempt in proxy mode: the refresh round first when
     * the access token expires within the margin, else the request to Stora.
     */
    public static function sendDirect(CompanionCore $c, Call $call, int $now): Action
    {
        $margin = $c->state->config->proxy?->margin() ?? 0;
        $tokens = $c->state->tokens;
        if ($tokens === null) {
            return Machine::fail($c, $call, self::notConnected($c));
        }
        if (!$call->tokenRefreshed && $tokens->expiring($now, $margin)) {
            return self::beginRefresh($c, $call);
        }
        try {
            $request = self::directRequest($c, $call, $tokens);
        } catch (CoreError $e) {
            return Machine::fail($c, $call, $e);
        }
        $call->attempts++;
        $call->awaitingResponse = true;
        return Action::send($request);
    }

    /** @throws CoreError */
    private static function directRequest(CompanionCore $c, Call $call, StoraTokens $tokens): Request
    {
        $url = self::storaUrl($c, $call->req->path);
        $headers = array_values(array_filter(
            Http::normalizeHeaders($call->req->headers),
            static fn (array $h): bool => $h[0] !== 'idempotency-key' && $h[0] !== 'accept',
        ));
        $headers[] = ['authorization', 'Bearer ' . $tokens->access->expose()];
        $headers[] = ['accept', 'application/json'];
        if ($call->idempotencyKey !== null) {
            $headers[] = ['idempotency-key', $call->idempotencyKey];
        }
        return new Request(Http::normalizeMethod($call->req->method), $url->asString(), $headers, $call->req->body);
    }

    /**
     * Starts the refresh round (or its check after Stora refused the token):
     * take the installation's lock first.
     */
    public static function beginRefresh(CompanionCore $c, Call $call): Action
    {
        $tokens = $c->state->tokens;
        if ($tokens === null) {
            return Machine::fail($c, $call, CoreError::notConnected());
        }
        $call->refresh = new RefreshRound(StoraTokens::fingerprint($tokens->access));
        return LockMachine::takeLock($c, $call, LockMachine::PURPOSE_REFRESH);
    }

    /** The lock is held and `$stored` is what the host has stored now. */
    public static function onLocked(CompanionCore $c, Call $call, #[\SensitiveParameter] string $stored, int $now, Entropy $entropy): Action
    {
        try {
            LockMachine::mergeStored($c, $stored, true);
        } catch (CoreError $e) {
            return Machine::fail($c, $call, $e);
        }
        $margin = $c->state->config->proxy?->margin() ?? 0;
        $stale = $call->refresh?->staleAccess ?? '';
        $tokens = $c->state->tokens;
        if ($tokens === null) {
            return Machine::fail($c, $call, self::notConnected($c));
        }
        if (!hash_equals($stale, StoraTokens::fingerprint($tokens->access)) && !$tokens->expiring($now, $margin)) {
            // Another worker refreshed (or reconnected) while this one
            // waited: use its pair, once more at most.
            $call->tokenRefreshed = true;
            $call->refresh = null;
            $call->pending[] = null;
            return LockMachine::release($c, $call);
        }
        if ($call->tokenRefreshed) {
            // Stora refused the pair this call already refreshed or adopted,
            // and it is still the stored one: it is no good.
            return self::dropPair($c, $call, self::INVALID_TOKEN);
        }
        if ($c->state->retiredRefresh === StoraTokens::fingerprint($tokens->refresh)) {
            // The store lost the rotation's write: this refresh token is dead
            // at Stora, and sending it could only get the grant revoked.
            return self::dropPair($c, $call, self::INVALID_GRANT);
        }
        return self::sendRefresh($c, $call, $now, $entropy);
    }

    /** The signed `POST {refresh}` with the held refresh token. */
    public static function sendRefresh(CompanionCore $c, Call $call, int $now, Entropy $entropy): Action
    {
        $tokens = $c->state->tokens;
        if ($tokens === null) {
            return Machine::fail($c, $call, CoreError::notConnected());
        }
        $body = '{"refresh_token":' . Json::writeStr($tokens->refresh->expose()) . '}';
        $route = $c->state->config->proxy->refresh ?? '';
        try {
            $request = $c->signAs(
                ApiRequest::json('POST', $route, $body),
                new SignOptions($now, null, null),
                $entropy,
                CompanionCore::PURPOSE_INSTALLATION,
            );
        } catch (CoreError $e) {
            return Machine::fail($c, $call, $e);
        } finally {
            sodium_memzero($body);
        }
        if ($call->refresh !== null) {
            $call->refresh->sending = true;
        }
        $call->awaitingResponse = true;
        return Action::send($request);
    }

    /** The proxy's answer to the refresh. */
    public static function onRefreshAnswer(CompanionCore $c, Call $call, Response $resp, int $now): Action
    {
        if ($call->refresh !== null) {
            $call->refresh->sending = false;
        }
        $outcome = Classify::classify($resp, Ints::saturatingAdd($now, $c->state->clockOffset));
        if ($outcome->kind === Outcome::OK) {
            try {
                [$tokens] = self::parseTokens($resp->body, $now);
            } catch (CoreError) {
                // Stora has rotated already: the old refresh token is dead
                // and the new one unreadable. Only a reconnect helps.
                return self::dropPair($c, $call, self::INVALID_ANSWER);
            }
            $old = $c->state->tokens;
            if ($old !== null && !hash_equals($old->refresh->expose(), $tokens->refresh->expose())) {
                $c->state->retiredRefresh = StoraTokens::fingerprint($old->refresh);
            }
            self::setPair($c, $tokens);
            $call->tokenRefreshed = true;
            $call->refresh = null;
            $call->pending[] = Call::UNLOCK;
            $call->pending[] = null;
            return Action::persist($c->state->toJson());
        }
        if ($outcome->kind === Outcome::SIGNATURE_EXPIRED && !$call->skewRetried && $outcome->serverDate !== null) {
            // Refused before Stora was asked: learn the offset, sign again once.
            $call->skewRetried = true;
            $c->state->clockOffset = Clock::offsetFrom($outcome->serverDate, $now);
            $call->pending[] = Call::REFRESH;
            return Action::persist($c->state->toJson());
        }
        $call->refresh = null;
        if ($outcome->code === self::INVALID_GRANT) {
            return self::dropPair($c, $call, self::INVALID_GRANT);
        }
        // Anything else: the pair is kept (the refresh may not have happened)
        // and not retried (a refresh token is single use: a blind second
        // try could only be refused, and Stora revokes a grant on reuse).
        $err = $outcome->toError($call->attempts) ?? CoreError::internal('outcome');
        return Machine::fail($c, $call, $err);
    }

    /** The refresh request got no readable answer. */
    public static function onRefreshLost(CompanionCore $c, Call $call): Action
    {
        $call->refresh = null;
        return Machine::fail($c, $call, CoreError::serverUnavailable(null, $call->attempts));
    }

    /** Replaces the pair (null: drops it) as a new token generation. */
    public static function setPair(CompanionCore $c, ?StoraTokens $tokens): void
    {
        $c->state->tokens = $tokens;
        $c->state->tokenGeneration = U64::saturatingInc($c->state->tokenGeneration);
        $c->state->refresh();
    }

    /**
     * The pair is no good (`invalid_grant`, a refresh token already rotated
     * away, Stora refusing a fresh token, an unreadable refresh answer): it is
     * dropped, its refresh token recorded as retired, and the call ends with
     * `reconnect_required` once that is stored (under the lock).
     */
    private static function dropPair(CompanionCore $c, Call $call, string $reason): Action
    {
        $call->refresh = null;
        $old = $c->state->tokens;
        if ($old !== null) {
            $c->state->retiredRefresh = StoraTokens::fingerprint($old->refresh);
        }
        self::setPair($c, null);
        $c->state->reconnectReason = $reason;
        $c->state->refresh();
        $call->pending[] = CoreError::reconnectRequired($reason);
        return Action::persist($c->state->toJson());
    }

    /**
     * Stora refused the access token (`401 invalid_token`): check under the
     * lock — another worker's newer pair is used, else the pair is refreshed
     * once; a pair refused after that is dropped.
     */
    public static function onTokenRefused(CompanionCore $c, Call $call): Action
    {
        $call->refusals++;
        if ($call->refusals > self::MAX_REFUSALS) {
            return Machine::fail($c, $call, CoreError::reconnectRequired(self::INVALID_TOKEN));
        }
        return self::beginRefresh($c, $call);
    }

    /**
     * Stora refused the access token: `401` with `invalid_token` as its code
     * or in its `WWW-Authenticate` challenge (RFC 6750 §3).
     */
    public static function tokenRefused(Outcome $outcome, Response $resp): bool
    {
        if ($outcome->status !== 401) {
            return false;
        }
        if ($outcome->code === 'invalid_token') {
            return true;
        }
        $challenge = $resp->header('www-authenticate');
        return $challenge !== null && str_contains($challenge, 'error="invalid_token"');
    }

    /** The proxy's answer to the code exchange: the first pair and the account. */
    public static function connectAnswer(CompanionCore $c, Call $call, Response $resp, int $now): Action
    {
        try {
            [$tokens, $account] = self::parseTokens($resp->body, $now);
        } catch (CoreError $e) {
            return Machine::fail($c, $call, $e);
        }
        if ($account === null) {
            return Machine::fail($c, $call, self::malformed());
        }
        self::setPair($c, $tokens);
        $c->state->retiredRefresh = null;
        $c->state->account = $account;
        $c->state->reconnectReason = null;
        return Machine::persistThenDone($c, $call, Completion::connected($account));
    }

    /** The body of `POST {token}`. */
    public static function tokenBody(
        #[\SensitiveParameter] string $code,
        #[\SensitiveParameter] string $codeContext,
        string $state,
        string $returnUrl,
    ): string {
        return '{"code":' . Json::writeStr($code)
            . ',"code_context":' . Json::writeStr($codeContext)
            . ',"state":' . Json::writeStr($state)
            . ',"return_url":' . Json::writeStr($returnUrl) . '}';
    }

    /** The request of `POST {revoke}` for the held refresh token, in proxy mode while connected. */
    public static function revokeRequest(CompanionCore $c): ?ApiRequest
    {
        $proxy = $c->state->config->proxy;
        $tokens = $c->state->tokens;
        if ($proxy === null || $tokens === null) {
            return null;
        }
        return ApiRequest::json('POST', $proxy->revoke, '{"token":' . Json::writeStr($tokens->refresh->expose()) . '}');
    }

    /** Whether this operation's requests go to the proxy without an `Idempotency-Key`. */
    public static function keyless(CompanionCore $c, string $op): bool
    {
        return $c->state->config->proxy !== null && $op === Call::OP_CONNECT_COMPLETE;
    }

    /** A `code_context` as the proxy issues it: 1-4096 characters of base64url and `.`. @throws CoreError */
    public static function checkCodeContext(string $ctx): void
    {
        $len = \strlen($ctx);
        if ($len === 0 || $len > self::MAX_CODE_CONTEXT || preg_match('/\A[A-Za-z0-9_.-]+\z/', $ctx) !== 1) {
            throw CoreError::callbackInvalid('code_context is not a valid code context');
        }
    }

    /**
     * `{"access_token","refresh_token","expires_in","scope"[,"account"]}`.
     *
     * @return array{StoraTokens, ?Account}
     * @throws CoreError callback_invalid
     */
    private static function parseTokens(#[\SensitiveParameter] string $body, int $now): array
    {
        try {
            $value = Json::parse($body);
            $expiresIn = self::member($value, 'expires_in')->asI64();
            if ($expiresIn === null || $expiresIn < 1 || $expiresIn > 31_536_000) {
                throw self::malformed();
            }
            $scope = $value->get('scope');
            $scope = match (true) {
                $scope === null, $scope->kind === JsonValue::NULL => '',
                default => $scope->asStr() ?? throw self::malformed(),
            };
            $access = self::member($value, 'access_token')->asStr() ?? throw self::malformed();
            $refresh = self::member($value, 'refresh_token')->asStr() ?? throw self::malformed();
            $tokens = StoraTokens::new($access, $refresh, Ints::saturatingAdd($now, $expiresIn), $scope);
            sodium_memzero($access);
            sodium_memzero($refresh);
            $a = $value->get('account');
            $account = null;
            if ($a !== null && $a->kind !== JsonValue::NULL) {
                $id = self::member($a, 'id')->asStr() ?? throw self::malformed();
                $name = self::member($a, 'name')->asStr() ?? throw self::malformed();
                $account = Account::new($id, $name);
            }
        } catch (JsonParseError | JsonDuplicateKey) {
            throw self::malformed();
        }
        return [$tokens, $account];
    }

    private static function malformed(): CoreError
    {
        return CoreError::callbackInvalid("the proxy's token answer is malformed");
    }

    /** @throws CoreError|JsonDuplicateKey */
    private static function member(JsonValue $v, string $key): JsonValue
    {
        return $v->get($key) ?? throw self::malformed();
    }
}

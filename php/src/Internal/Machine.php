<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * The step machine that drives every multi-step operation (sans-IO):
 * registration, API calls, connect completion, disconnect, uninstall, reset
 * and "the site moved" (port of `core/src/machine/mod.rs`, `register.rs`,
 * `connect.rs` and `leave.rs`; proxy mode is {@see ProxyMachine}; the Rust
 * `impl Companion` methods are static functions taking the companion first).
 *
 * The host loop: feed Start, then perform each Action and feed back what
 * happened, until Done (docs/HOST-CONTRACT.md).
 */
final class Machine
{
    /** At most this many ownership proofs are served in one registration. */
    public const MAX_PROOF_ROUNDS = 2;
    /** Attempts per remote step of the uninstall plan. */
    public const UNINSTALL_MAX_ATTEMPTS = 2;

    // ---- starting operations -------------------------------------------------------

    /** Starts a signed API call through the broker (needs a broker token). @throws CoreError */
    public static function startCall(CompanionCore $c, ApiRequest $req): Call
    {
        if ($c->state->config->proxy !== null) {
            ProxyMachine::callPreflight($c, $req);
            return new Call(Call::OP_API, $req);
        }
        self::signPreflight($c, $req, CompanionCore::PURPOSE_API);
        if ($c->state->brokerToken === null) {
            throw $c->state->reconnectReason !== null
                ? CoreError::reconnectRequired($c->state->reconnectReason)
                : CoreError::notConnected();
        }
        return new Call(Call::OP_API, $req);
    }

    /** Checks everything signing will check, before any I/O. @throws CoreError */
    private static function signPreflight(CompanionCore $c, ApiRequest $req, string $purpose): void
    {
        Http::normalizeMethod($req->method);
        Http::checkBody($req->body);
        Http::normalizeHeaders($req->headers);
        $c->broker->appendPath($req->path, 'path');
        $c->signingInstallation($purpose);
    }

    /**
     * Starts registering this installation with the broker (new, pending,
     * invalid, or the ownership round of a site move). @throws CoreError
     */
    public static function startRegistration(CompanionCore $c, Registration $reg): Call
    {
        $c->registrationReuses(Registration::checkRegistration($reg));
        $i = $c->state->installation;
        if ($c->state->siteMismatch !== null && $i !== null && $i->confirmed) {
            throw CoreError::invalidState('resolve the site mismatch first (a copy, or the site moved)');
        }
        $call = new Call(Call::OP_REGISTER, new ApiRequest('POST', $c->state->config->routes->installations));
        $call->registration = $reg;
        return $call;
    }

    /**
     * Starts completing a connect from the callback (the full return URL,
     * `?query` or the bare query), at local time `$now` (`start_complete_connect`).
     *
     * Checked here, before any I/O: size and syntax (`too_large`,
     * `callback_invalid`), a pending connect (`invalid_state`), `state` in
     * constant time (`callback_state_mismatch`); the pending connect is kept
     * on these. Then it is consumed — the returned call persists that first —
     * and the call ends `callback_expired` after 10 minutes,
     * `callback_denied` for an `error=` callback, `callback_invalid` without
     * a well-formed `code`, or else sends the signed exchange and ends
     * Connected with the Stora account. On any failure a previously held
     * broker token is kept.
     *
     * @throws CoreError
     */
    public static function startCompleteConnect(CompanionCore $c, #[\SensitiveParameter] string $callback, int $now): Call
    {
        $cb = Connect::parseCallback($callback);
        $pending = $c->state->pendingConnect ?? throw CoreError::invalidState('no connect is pending');
        if (!hash_equals($pending->state, $cb->state)) {
            throw CoreError::callbackStateMismatch();
        }
        // Rust `now.abs_diff(created)`: a difference beyond PHP_INT_MAX becomes a (large) float.
        $expired = abs($now - $pending->created) > Connect::CONNECT_TTL_SECS;
        $proxyToken = $c->state->config->proxy?->token;
        $failure = null;
        if ($expired) {
            $failure = CoreError::callbackExpired();
        } elseif ($cb->error !== null) {
            $failure = CoreError::callbackDenied(CoreError::sanitizeCode($cb->error));
        } elseif ($cb->code === null) {
            $failure = CoreError::callbackInvalid('missing code');
        } elseif ($proxyToken !== null && $cb->codeContext === null) {
            $failure = CoreError::callbackInvalid('missing code_context');
        } else {
            try {
                Connect::checkConnectCode($cb->code);
                if ($proxyToken !== null) {
                    ProxyMachine::checkCodeContext((string) $cb->codeContext);
                }
            } catch (CoreError $e) {
                $failure = $e;
            }
        }
        // Checked before the pending connect is consumed: the exchange is
        // signed with a usable registration (else nothing is consumed).
        if ($failure === null) {
            $c->usableInstallation();
        }
        // The state matched: this attempt is used up whatever happens next.
        $returnUrl = $pending->returnUrl;
        $c->state->pendingConnect = null;
        $c->state->refresh();
        $body = '';
        if ($failure === null && $cb->code !== null) {
            $body = $proxyToken !== null && $cb->codeContext !== null
                ? ProxyMachine::tokenBody($cb->code, $cb->codeContext, $cb->state, $returnUrl)
                : '{"code":"' . $cb->code . '","state":"' . $cb->state . '"}';
        }
        $call = new Call(
            Call::OP_CONNECT_COMPLETE,
            ApiRequest::json('POST', $proxyToken ?? $c->state->config->routes->connectComplete, $body),
        );
        $call->localFailure = $failure;
        return $call;
    }

    /**
     * Starts revoking the previous installation `$installId` of this site
     * (docs/PROTOCOL.md §5.11; machine/previous.rs): a signed POST without the
     * broker token; ends PreviousRevoked (`revoked` false on `404
     * previous_installation_not_found`).
     *
     * @throws CoreError
     */
    public static function startRevokePrevious(CompanionCore $c, string $installId): Call
    {
        if (!Sign::isProfileToken($installId)) {
            throw CoreError::invalidInput('install_id', 'must be an install id');
        }
        $inst = $c->usableInstallation();
        if ($inst->id === $installId) {
            throw CoreError::invalidInput('install_id', "is this installation's own id");
        }
        $path = $c->state->config->routes->installations . '/' . $inst->id . '/revoke-previous';
        $c->broker->appendPath($path, 'routes');
        $body = '{"install_id":"' . $installId . '"}';
        return new Call(Call::OP_REVOKE_PREVIOUS, ApiRequest::json('POST', $path, $body));
    }

    /** A `404 previous_installation_not_found` also ends a revoke-previous well. */
    private static function previousGone(Outcome $outcome): bool
    {
        return $outcome->status === 404 && $outcome->code === 'previous_installation_not_found';
    }

    /** Starts a disconnect: `POST /disconnect` (proxy mode: `POST {revoke}`). @throws CoreError */
    public static function startDisconnect(CompanionCore $c): Call
    {
        if ($c->state->config->proxy !== null) {
            // Proxy mode: `POST {revoke}` with the refresh token; the tokens
            // are dropped locally whatever the proxy says.
            $c->signingInstallation(CompanionCore::PURPOSE_LEAVE);
            return new Call(Call::OP_DISCONNECT, ProxyMachine::revokeRequest($c) ?? throw CoreError::notConnected());
        }
        $req = new ApiRequest('POST', $c->state->config->routes->disconnect);
        self::signPreflight($c, $req, CompanionCore::PURPOSE_LEAVE);
        if ($c->state->brokerToken === null) {
            throw CoreError::notConnected();
        }
        return new Call(Call::OP_DISCONNECT, $req);
    }

    /** Starts the uninstall plan (never fails). */
    public static function startUninstall(CompanionCore $c): Call
    {
        $plan = self::uninstallPlan($c);
        if ($plan !== null) {
            return new Call($plan[0], $plan[1]);
        }
        return new Call(Call::OP_UNINSTALL_LOCAL, new ApiRequest('DELETE', $c->state->config->routes->installations));
    }

    /**
     * Starts "reset this installation": the uninstall plan's remote steps with
     * the old secret (best effort), then the local state is wiped and a new
     * installation registers as startRegistration() does. @throws CoreError
     */
    public static function startReset(CompanionCore $c, Registration $reg): Call
    {
        Registration::checkRegistration($reg);
        $call = self::startUninstall($c);
        $call->registration = $reg;
        $call->reset = true;
        return $call;
    }

    /** Starts "the site moved": `PATCH /installations/{id}` with the new URL. @throws CoreError */
    public static function startSiteMoved(CompanionCore $c): Call
    {
        $inst = $c->state->installation;
        if ($inst === null || !$inst->confirmed) {
            throw CoreError::notRegistered();
        }
        $current = $c->state->siteMismatch ?? throw CoreError::invalidState('no site mismatch to resolve');
        $body = '{"site_url":' . Json::writeStr($current) . '}';
        $path = $c->state->config->routes->installations . '/' . $inst->id;
        return new Call(Call::OP_SITE_MOVED, new ApiRequest('PATCH', $path, [['content-type', 'application/json']], $body));
    }

    /** @return array{string, ApiRequest}|null */
    private static function uninstallPlan(CompanionCore $c): ?array
    {
        $state = $c->state;
        $inst = $state->installation;
        if ($inst === null) {
            return null;
        }
        // A copy must never touch the original; an unconfirmed registration has
        // nothing at the broker worth a signed request.
        if ($state->siteMismatch !== null || $inst->invalidReason !== null || !$inst->confirmed) {
            return null;
        }
        $revoke = ProxyMachine::revokeRequest($c);
        if ($revoke !== null) {
            return [Call::OP_UNINSTALL_DISCONNECT, $revoke];
        }
        if ($state->brokerToken !== null) {
            return [Call::OP_UNINSTALL_DISCONNECT, new ApiRequest('POST', $state->config->routes->disconnect)];
        }
        return [Call::OP_UNINSTALL_DEREGISTER, self::deregisterRequest($c, $inst->id)];
    }

    private static function deregisterRequest(CompanionCore $c, string $id): ApiRequest
    {
        return new ApiRequest('DELETE', $c->state->config->routes->installations . '/' . $id);
    }

    // ---- the step --------------------------------------------------------------------

    /** Advances `$call` with `$event` at local time `$now` (unix seconds). */
    public static function step(CompanionCore $c, Call $call, Event $event, int $now, Entropy $entropy): Action
    {
        if ($call->finished) {
            return Action::done(CoreError::invalidState('the call is already finished'));
        }
        $lockAction = LockMachine::onLockEvent($c, $call, $event, $now, $entropy);
        if ($lockAction !== null) {
            return self::handOut($c, $call, $lockAction, $entropy);
        }
        $type = $event->type;
        if ($type === Event::START && !$call->started && LockMachine::wholeOpLock($c, $call)) {
            $call->started = true;
            $action = LockMachine::takeLock($c, $call, LockMachine::PURPOSE_WHOLE_OP);
        } elseif ($type === Event::START && !$call->started) {
            $call->started = true;
            $action = match ($call->op) {
                Call::OP_REGISTER => self::beginRegistration($c, $call, $entropy),
                Call::OP_UNINSTALL_LOCAL => self::finishUninstall($c, $call, RemoteStep::skipped()),
                Call::OP_CONNECT_COMPLETE => self::beginConnectCompletion($c, $call),
                default => self::send($c, $call, $now, $entropy),
            };
        } elseif ($type === Event::RESPONSE && $call->awaitingResponse && ProxyMachine::refreshing($c, $call)) {
            $call->awaitingResponse = false;
            $action = ProxyMachine::onRefreshAnswer($c, $call, $event->response, $now);
        } elseif ($type === Event::TRANSPORT_ERROR && $call->awaitingResponse && ProxyMachine::refreshing($c, $call)) {
            $call->awaitingResponse = false;
            $action = ProxyMachine::onRefreshLost($c, $call);
        } elseif ($type === Event::RESPONSE && $call->awaitingResponse) {
            $call->awaitingResponse = false;
            // Times the answer names are the server side's: read against its
            // Date, else against the clock corrected by the offset.
            $outcome = Classify::classify($event->response, Ints::saturatingAdd($now, $c->state->clockOffset));
            $action = self::onOutcome($c, $call, $outcome, $event->response, $now, $entropy);
        } elseif ($type === Event::TRANSPORT_ERROR && $call->awaitingResponse) {
            $call->awaitingResponse = false;
            $action = $event->transportError === Event::REDIRECT
                ? self::fail($c, $call, CoreError::redirected(null))
                : self::retryOrFail($c, $call, CoreError::serverUnavailable(null, $call->attempts), $entropy);
        } elseif ($type === Event::PROOF_SERVED && $call->awaitingProof) {
            $call->awaitingProof = false;
            $action = self::resendRegistration($c, $call, $now, $entropy);
        } elseif ($type === Event::PROOF_DEFERRED && $call->awaitingProof) {
            $call->awaitingProof = false;
            $action = self::proofDeferred($c, $call);
        } elseif (($type === Event::SLEPT || $type === Event::PERSISTED || $type === Event::UNLOCKED) && $call->pending !== []) {
            $action = self::nextPending($c, $call, $now, $entropy);
        } else {
            $call->finished = true;
            return Action::done(CoreError::invalidState('unexpected event for this call'));
        }
        return self::handOut($c, $call, $action, $entropy);
    }

    /** What every action goes through before the host sees it. */
    private static function handOut(CompanionCore $c, Call $call, Action $action, Entropy $entropy): Action
    {
        // The installation's lock (proxy mode): writes wrapped, released before the end.
        $action = LockMachine::guardLock($c, $call, $action);
        // Hosts get what they store: sealed when the companion has a seal key
        // (persistedForm returns the JSON as it is when there is none).
        if ($action->type === Action::PERSIST) {
            try {
                $action = Action::persist($c->persistedForm((string) $action->state, $entropy));
            } catch (CoreError $e) {
                $action = LockMachine::guardLock($c, $call, Action::done($e));
            }
        }
        if ($action->type === Action::DONE) {
            $call->finished = true;
        }
        if ($action->type === Action::SERVE_PROOF) {
            $call->awaitingProof = true;
        }
        return $action;
    }

    /** The next queued step of `$call` (after Slept, Persisted, Unlocked). */
    public static function nextPending(CompanionCore $c, Call $call, int $now, Entropy $entropy): Action
    {
        if ($call->pending === []) {
            return Action::done(CoreError::internal('no pending action'));
        }
        $next = array_shift($call->pending);
        if ($next === Call::BEGIN_REGISTRATION) {
            return self::beginRegistration($c, $call, $entropy);
        }
        if ($next instanceof CoreError) {
            return self::fail($c, $call, $next);
        }
        if ($next === Call::UNLOCK) {
            return LockMachine::release($c, $call);
        }
        if ($next === Call::REFRESH) {
            return $c->state->config->proxy !== null
                ? ProxyMachine::sendRefresh($c, $call, $now, $entropy)
                : Action::done(CoreError::internal('no proxy mode'));
        }
        return $next ?? self::send($c, $call, $now, $entropy);
    }

    /** `send` for Record (record.rs calls the machine's `send`). */
    public static function sendRequest(CompanionCore $c, Call $call, int $now, Entropy $entropy): Action
    {
        return self::send($c, $call, $now, $entropy);
    }

    private static function send(CompanionCore $c, Call $call, int $now, Entropy $entropy): Action
    {
        if ($call->op === Call::OP_REGISTER) {
            try {
                $request = $c->registrationPost();
            } catch (CoreError $e) {
                return self::fail($c, $call, $e);
            }
            $call->attempts++;
            $call->awaitingResponse = true;
            return Action::send($request);
        }
        $method = self::asciiUpper($call->req->method);
        if ($call->idempotencyKey === null) {
            $caller = null;
            foreach ($call->req->headers as [$k, $v]) {
                if (strcasecmp($k, 'idempotency-key') === 0) {
                    $caller = Text::trim($v);
                    break;
                }
            }
            $keyless = ProxyMachine::keyless($c, $call->op);
            $call->idempotencyKey = $caller
                ?? (!$keyless && ($method === 'POST' || $method === 'PATCH') ? Sign::uuidV4($entropy->fill(16)) : null);
        }
        if ($c->state->config->proxy !== null && ($call->op === Call::OP_API || $call->op === Call::OP_RECORD)) {
            return ProxyMachine::sendDirect($c, $call, $now);
        }
        $opts = new SignOptions($now, null, $call->idempotencyKey);
        $purpose = match ($call->op) {
            Call::OP_SITE_MOVED => CompanionCore::PURPOSE_SITE_MOVE,
            Call::OP_API, Call::OP_RECORD => CompanionCore::PURPOSE_API,
            Call::OP_CONNECT_COMPLETE, Call::OP_REVOKE_PREVIOUS => CompanionCore::PURPOSE_INSTALLATION,
            default => CompanionCore::PURPOSE_LEAVE,
        };
        try {
            $request = $c->signAs($call->req, $opts, $entropy, $purpose);
        } catch (CoreError $e) {
            return self::fail($c, $call, $e);
        }
        $call->attempts++;
        $call->awaitingResponse = true;
        return Action::send($request);
    }

    /** Whether this operation's request may be sent again after an answer that did not show whether the broker acted. */
    private static function safeToRepeat(Call $call): bool
    {
        return $call->op === Call::OP_REGISTER
            || Sign::isIdempotent(self::asciiUpper($call->req->method))
            || $call->idempotencyKey !== null;
    }

    /**
     * Whether Stora keeps its answer to this request under the request's
     * `Idempotency-Key` (a POST with a key): sending it again within 24 hours
     * replays that answer, a failure included.
     */
    private static function replaysStoredAnswer(Call $call): bool
    {
        return $call->idempotencyKey !== null && self::asciiUpper($call->req->method) === 'POST';
    }

    /** The retry budget of this operation. */
    private static function policy(CompanionCore $c, Call $call): RetryPolicy
    {
        $policy = clone $c->state->config->retry;
        if ($call->op === Call::OP_UNINSTALL_DISCONNECT || $call->op === Call::OP_UNINSTALL_DEREGISTER) {
            // Uninstall is best effort and often runs inside one web request.
            $policy->maxAttempts = min($policy->maxAttempts, self::UNINSTALL_MAX_ATTEMPTS);
        }
        return $policy;
    }

    /**
     * 5xx, 408, Stora's `api_error` or a network failure: back off and send
     * again when that is safe and within budget, else end with `$err`.
     */
    private static function retryOrFail(CompanionCore $c, Call $call, CoreError $err, Entropy $entropy): Action
    {
        $policy = self::policy($c, $call);
        $shift = min(max($call->attempts - 1, 0), 20);
        // ≤ max_delay_ms, which the configuration bounds to 600 000.
        $ceiling = (int) U64::min(U64::saturatingMul($policy->baseDelayMs, 1 << $shift), $policy->maxDelayMs);
        $delay = self::u64LeMod($entropy->fill(8), $ceiling + 1);
        if (self::safeToRepeat($call)
            && $call->attempts < $policy->maxAttempts
            && U64::le($call->delaySpentMs + $delay, $policy->maxTotalDelayMs)
        ) {
            return self::sleepThenResend($call, $delay);
        }
        return self::fail($c, $call, $err);
    }

    /** `u64::from_le_bytes(bytes) % m` for 0 < m ≤ 2^31. */
    private static function u64LeMod(string $bytes8, int $m): int
    {
        $w = unpack('Vlo/Vhi', $bytes8);
        return ((($w['hi'] % $m) * ((1 << 32) % $m)) % $m + $w['lo'] % $m) % $m;
    }

    /** Decides what a classified response leads to. */
    private static function onOutcome(CompanionCore $c, Call $call, Outcome $outcome, Response $resp, int $now, Entropy $entropy): Action
    {
        if ($call->op === Call::OP_REGISTER
            && $outcome->kind !== Outcome::SERVER_UNAVAILABLE
            && $outcome->kind !== Outcome::RATE_LIMITED
            && $outcome->kind !== Outcome::REDIRECTED
        ) {
            return self::onRegistrationAnswer($c, $call, $resp, $now, $entropy);
        }
        if ($c->state->config->proxy !== null
            && ($call->op === Call::OP_API || $call->op === Call::OP_RECORD)
            && ProxyMachine::tokenRefused($outcome, $resp)
        ) {
            return ProxyMachine::onTokenRefused($c, $call);
        }
        if (self::isSuccess($call, $outcome)) {
            if ($call->recordingEvent !== null) {
                return Record::recordedSuccess($c, $call, $resp, $now, $entropy);
            }
            return self::succeed($c, $call, $outcome, $resp, $now);
        }
        $policy = self::policy($c, $call);
        switch ($outcome->kind) {
            case Outcome::SERVER_UNAVAILABLE:
            case Outcome::UPSTREAM_FAILED:
                $err = $outcome->toError($call->attempts) ?? CoreError::internal('outcome');
                // Stora's own failure to a POST with a key is stored under the
                // key: a retry would only replay it, so say so at once.
                if ($err->code() === 'upstream_failed' && self::replaysStoredAnswer($call)) {
                    return self::fail($c, $call, $err);
                }
                return self::retryOrFail($c, $call, $err, $entropy);
            case Outcome::RATE_LIMITED:
                $wait = $outcome->retryAfterMs ?? $policy->baseDelayMs;
                if ($call->attempts < $policy->maxAttempts
                    && U64::le($wait, $policy->maxRetryAfterMs)
                    && U64::le($call->delaySpentMs + (int) $wait, $policy->maxTotalDelayMs)
                ) {
                    return self::sleepThenResend($call, (int) $wait);
                }
                return self::fail($c, $call, CoreError::rateLimited($wait));
            case Outcome::SIGNATURE_EXPIRED:
                if (!$call->skewRetried && $outcome->serverDate !== null) {
                    $call->skewRetried = true;
                    $c->state->clockOffset = Clock::offsetFrom($outcome->serverDate, $now);
                    $call->pending[] = null;
                    return Action::persist($c->state->toJson());
                }
                break;
            case Outcome::RECONNECT_REQUIRED:
                if ($call->op === Call::OP_API || $call->op === Call::OP_RECORD) {
                    $err = $outcome->toError($call->attempts) ?? CoreError::internal('outcome');
                    $c->state->brokerToken = null;
                    $c->state->reconnectReason = $err->reason();
                    return self::persistThenDone($c, $call, $err);
                }
                break;
            case Outcome::REGISTRATION_INVALID:
                if ($call->op === Call::OP_API || $call->op === Call::OP_RECORD || $call->op === Call::OP_SITE_MOVED || $call->op === Call::OP_CONNECT_COMPLETE) {
                    $err = $outcome->toError($call->attempts) ?? CoreError::internal('outcome');
                    if ($c->state->installation !== null) {
                        $c->state->installation->invalidReason = $err->reason();
                    }
                    $c->state->brokerToken = null;
                    return self::persistThenDone($c, $call, $err);
                }
                break;
        }
        $err = $outcome->toError($call->attempts) ?? CoreError::internal('outcome');
        return self::fail($c, $call, $err);
    }

    /** Operation-specific successes. */
    private static function isSuccess(Call $call, Outcome $outcome): bool
    {
        $status = $outcome->status;
        switch ($call->op) {
            case Call::OP_DISCONNECT:
            case Call::OP_UNINSTALL_DISCONNECT:
                // A 401 saying the connection is gone means there is nothing left to revoke.
                return $outcome->kind === Outcome::OK
                    || ($status === 401
                        && ($outcome->kind === Outcome::RECONNECT_REQUIRED
                            || $outcome->code === null || $outcome->code === 'unknown_installation'));
            case Call::OP_UNINSTALL_DEREGISTER:
                return $outcome->kind === Outcome::OK || $status === 404 || $outcome->kind === Outcome::REGISTRATION_INVALID;
            case Call::OP_REVOKE_PREVIOUS:
                return $outcome->kind === Outcome::OK || self::previousGone($outcome);
            default: // Api, SiteMoved, Register, ConnectComplete, UninstallLocal
                return $outcome->kind === Outcome::OK;
        }
    }

    private static function sleepThenResend(Call $call, int $delay): Action
    {
        $call->delaySpentMs += $delay;
        $call->pending[] = null;
        return Action::sleep($delay);
    }

    /** Ends the call with `$result` once the state is persisted. */
    public static function persistThenDone(CompanionCore $c, Call $call, Completion|CoreError $result): Action
    {
        $c->state->refresh();
        $result = Record::recordedResult($call, $result);
        $call->pending[] = Action::done($result);
        return Action::persist($c->state->toJson());
    }

    /**
     * Forgets the connection locally: the broker token, or the Stora tokens
     * in proxy mode, and the account.
     */
    private static function dropConnection(CompanionCore $c): void
    {
        $c->state->brokerToken = null;
        if ($c->state->tokens !== null) {
            ProxyMachine::setPair($c, null);
        }
        $c->state->retiredRefresh = null;
        $c->state->account = null;
    }

    private static function succeed(CompanionCore $c, Call $call, Outcome $outcome, Response $resp, int $now): Action
    {
        switch ($call->op) {
            case Call::OP_API:
                return Events::pulled($call, $resp);
            case Call::OP_DISCONNECT:
                self::dropConnection($c);
                return self::persistThenDone($c, $call, Completion::disconnected(RemoteStep::ok()));
            case Call::OP_UNINSTALL_DISCONNECT:
                return self::nextUninstallStage($c, $call, RemoteStep::ok());
            case Call::OP_UNINSTALL_DEREGISTER:
                return self::finishUninstall($c, $call, RemoteStep::ok());
            case Call::OP_SITE_MOVED:
                return self::siteMovedAnswer($c, $call, $resp);
            case Call::OP_CONNECT_COMPLETE:
                return $c->state->config->proxy !== null
                    ? ProxyMachine::connectAnswer($c, $call, $resp, $now)
                    : self::connectAnswer($c, $call, $resp);
            case Call::OP_REVOKE_PREVIOUS:
                return Action::done(Completion::previousRevoked(!self::previousGone($outcome)));
            default: // Register, UninstallLocal
                return Action::done(CoreError::internal('handled elsewhere'));
        }
    }

    /** Ends the call with `$err` as the operation ends failures. */
    public static function fail(CompanionCore $c, Call $call, CoreError $err): Action
    {
        switch ($call->op) {
            case Call::OP_DISCONNECT:
                self::dropConnection($c);
                return self::persistThenDone($c, $call, Completion::disconnected(RemoteStep::failed($err)));
            case Call::OP_UNINSTALL_DISCONNECT:
                return self::nextUninstallStage($c, $call, RemoteStep::failed($err));
            case Call::OP_UNINSTALL_DEREGISTER:
            case Call::OP_UNINSTALL_LOCAL:
                return self::finishUninstall($c, $call, RemoteStep::failed($err));
            case Call::OP_RECORD:
                return Record::recorded($c, $call, RemoteStep::failed($err));
            default: // Api, SiteMoved, Register, ConnectComplete
                $c->state->refresh();
                return Action::done($err);
        }
    }

    // ---- registration (register.rs) ---------------------------------------------------

    /** First step: create or refresh the installation, persist it, then send. */
    private static function beginRegistration(CompanionCore $c, Call $call, Entropy $entropy): Action
    {
        $reg = $call->registration;
        if ($reg === null) {
            return self::fail($c, $call, CoreError::internal('registration without its input'));
        }
        try {
            $c->prepareRegistration($reg, $entropy);
        } catch (CoreError $e) {
            return self::fail($c, $call, $e);
        }
        // Resuming a round whose proof was deferred: the host serves it again
        // before the POST that makes the broker fetch it.
        try {
            $proof = $c->ownershipProof();
            $call->proofRounds++;
            $call->pending[] = Action::serveProof($proof);
        } catch (CoreError) {
            $call->pending[] = null;
        }
        return Action::persist($c->state->toJson());
    }

    /** A 2xx or 4xx answer to the registration POST. */
    private static function onRegistrationAnswer(CompanionCore $c, Call $call, Response $resp, int $now, Entropy $entropy): Action
    {
        $before = $c->state->toJson();
        try {
            $proof = $c->handleRegistrationResponseAt($resp, $now);
        } catch (CoreError $e) {
            if ($c->state->installation === null && !$call->startedOver && $call->registration !== null) {
                // The broker challenged an id whose challenge never arrived (or
                // already holds it): start over once, with a fresh id and
                // secret, persisted before they are sent.
                sodium_memzero($before);
                $call->startedOver = true;
                $call->proofRounds = 0;
                $call->resetFor(Call::OP_REGISTER, new ApiRequest('POST', $call->req->path));
                return self::beginRegistration($c, $call, $entropy);
            }
            $changed = $c->state->toJson() !== $before;
            sodium_memzero($before);
            return $changed ? self::persistThenDone($c, $call, $e) : self::fail($c, $call, $e);
        }
        sodium_memzero($before);
        if ($proof === null) {
            return self::persistThenDone($c, $call, self::registrationCompletion($call, null));
        }
        return self::serveProof($c, $call, $proof);
    }

    /** Persist the challenge, then ask the host to serve its proof (bounded). */
    private static function serveProof(CompanionCore $c, Call $call, OwnershipProof $proof): Action
    {
        $c->state->refresh();
        if ($call->proofRounds >= self::MAX_PROOF_ROUNDS) {
            return self::persistThenDone($c, $call, self::awaitingCompletion($call, $proof));
        }
        $call->proofRounds++;
        $call->pending[] = Action::serveProof($proof);
        return Action::persist($c->state->toJson());
    }

    /** The proof is served: send the registration again so the broker fetches it. */
    private static function resendRegistration(CompanionCore $c, Call $call, int $now, Entropy $entropy): Action
    {
        $call->resetFor(Call::OP_REGISTER, $call->req);
        return self::send($c, $call, $now, $entropy);
    }

    /** The host cannot serve the proof now: end with the challenge kept (already persisted). */
    private static function proofDeferred(CompanionCore $c, Call $call): Action
    {
        try {
            $proof = $c->ownershipProof();
        } catch (CoreError $e) {
            return self::fail($c, $call, $e);
        }
        return Action::done(self::awaitingCompletion($call, $proof));
    }

    private static function awaitingCompletion(Call $call, OwnershipProof $proof): Completion
    {
        return self::registrationCompletion($call, $proof);
    }

    /** How a registration round ends: as itself, as a site move, or as a reset. */
    private static function registrationCompletion(Call $call, ?OwnershipProof $proof): Completion
    {
        if ($call->siteMove) {
            return Completion::siteMoved();
        }
        $steps = $call->resetSteps;
        $call->resetSteps = null;
        return $steps !== null ? Completion::reset($steps[0], $steps[1], $proof) : Completion::registration($proof);
    }

    /**
     * The broker's 2xx to `PATCH /installations/{id}`: 200 moved; 202 the new
     * address must prove ownership, which continues as a registration round.
     */
    private static function siteMovedAnswer(CompanionCore $c, Call $call, Response $resp): Action
    {
        $challenge = null;
        if ($resp->status === 202) {
            try {
                $challenge = Registration::parseChallenge($resp->body);
            } catch (CoreError $e) {
                return self::fail($c, $call, $e);
            }
        }
        $movedTo = $c->state->siteMismatch;
        $c->state->siteMismatch = null;
        if ($c->state->installation !== null && $movedTo !== null) {
            $c->state->installation->siteUrl = $movedTo;
            $c->state->installation->challenge = $challenge;
        }
        if ($challenge === null) {
            return self::persistThenDone($c, $call, Completion::siteMoved());
        }
        $call->resetFor(Call::OP_REGISTER, new ApiRequest('POST', $c->state->config->routes->installations));
        $call->siteMove = true;
        try {
            $proof = $c->ownershipProof();
        } catch (CoreError $e) {
            return self::fail($c, $call, $e);
        }
        return self::serveProof($c, $call, $proof);
    }

    // ---- connect completion (connect.rs) ----------------------------------------------

    /** The first step: persist the consumed pending connect, then send the exchange (or end with the local failure). */
    public static function beginConnectCompletion(CompanionCore $c, Call $call): Action
    {
        $err = $call->localFailure;
        $call->localFailure = null;
        $call->pending[] = $err !== null ? Action::done($err) : null;
        return Action::persist($c->state->toJson());
    }

    /** A 2xx answer to the exchange: the broker token and the account. */
    private static function connectAnswer(CompanionCore $c, Call $call, Response $resp): Action
    {
        try {
            [$token, $account] = self::parseConnectAnswer($resp->body);
        } catch (CoreError $e) {
            return self::fail($c, $call, $e);
        }
        $c->state->brokerToken = $token;
        $c->state->account = $account;
        $c->state->reconnectReason = null;
        return self::persistThenDone($c, $call, Completion::connected($account));
    }

    /**
     * `{"broker_token":"…","account":{"id":"…","name":"…"}}` (a duplicate
     * member makes the answer malformed).
     *
     * @return array{BrokerToken, Account}
     * @throws CoreError
     */
    private static function parseConnectAnswer(#[\SensitiveParameter] string $body): array
    {
        try {
            $value = Json::parse($body);
        } catch (JsonParseError) {
            throw self::malformedAnswer();
        }
        $text = self::answerText($value, 'broker_token');
        try {
            $token = BrokerToken::new($text);
        } finally {
            sodium_memzero($text);
        }
        $account = self::answerMember($value, 'account');
        return [$token, Account::new(self::answerText($account, 'id'), self::answerText($account, 'name'))];
    }

    private static function malformedAnswer(): CoreError
    {
        return CoreError::callbackInvalid("the broker's answer to the connect completion is malformed");
    }

    /** @throws CoreError */
    private static function answerMember(JsonValue $v, string $key): JsonValue
    {
        try {
            return $v->get($key) ?? throw self::malformedAnswer();
        } catch (JsonDuplicateKey) {
            throw self::malformedAnswer();
        }
    }

    /** @throws CoreError */
    private static function answerText(JsonValue $v, string $key): string
    {
        return self::answerMember($v, $key)->asStr() ?? throw self::malformedAnswer();
    }

    // ---- leaving (leave.rs) -----------------------------------------------------------

    /** The uninstall plan's disconnect step ended: drop the connection, persist, then deregister. */
    public static function nextUninstallStage(CompanionCore $c, Call $call, RemoteStep $disconnect): Action
    {
        $call->disconnectStep = $disconnect;
        self::dropConnection($c);
        $inst = $c->state->installation;
        if ($inst === null) {
            return self::finishUninstall($c, $call, RemoteStep::skipped());
        }
        $call->resetFor(Call::OP_UNINSTALL_DEREGISTER, self::deregisterRequest($c, $inst->id));
        $call->pending[] = null;
        // Persist the dropped token before going on, so a crash here cannot resurrect it.
        $c->state->refresh();
        return Action::persist($c->state->toJson());
    }

    /** The uninstall plan's last step ended: wipe the state (a reset registers afresh). */
    public static function finishUninstall(CompanionCore $c, Call $call, RemoteStep $deregister): Action
    {
        $disconnect = $call->disconnectStep;
        $call->disconnectStep = RemoteStep::skipped();
        $c->state = new State($c->state->config);
        if ($call->reset) {
            // The old installation is gone locally: persist that, then
            // register afresh on the same call.
            $call->resetSteps = [$disconnect, $deregister];
            $call->resetFor(Call::OP_REGISTER, new ApiRequest('POST', $c->state->config->routes->installations));
            $call->pending[] = Call::BEGIN_REGISTRATION;
            $c->state->refresh();
            return Action::persist($c->state->toJson());
        }
        return self::persistThenDone($c, $call, Completion::uninstalled($disconnect, $deregister));
    }

    /** Rust `to_ascii_uppercase` (locale-independent). */
    public static function asciiUpper(string $s): string
    {
        return strtr($s, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ');
    }
}

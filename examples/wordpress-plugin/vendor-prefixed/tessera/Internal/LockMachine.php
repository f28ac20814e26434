<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * The installation's lock in authorization-proxy mode (port of
 * `core/src/machine/lock.rs`; docs/HOST-CONTRACT.md Lock/Unlock): every
 * change of the token pair, and every state write of a companion that has
 * held one, happens while the lock is held, on top of the state as stored
 * then. Stora rotates the refresh token on every use, so a worker that wrote
 * back a pair it loaded earlier would resurrect a dead refresh token and
 * lose the installation.
 *
 * - A refresh takes it ({@see ProxyMachine}).
 * - Connect completion, disconnect and the uninstall plan (reset included)
 *   hold it from start to end ("whole operation").
 * - Any other write while a pair exists or existed (`token_generation > 0`)
 *   is wrapped: Lock → the stored state's token fields are taken when newer
 *   → Persist → Unlock.
 *
 * Whatever holds it, the call asks for Unlock before it ends.
 */
final class LockMachine
{
    /** `LockPurpose::Refresh`: a token refresh (or its check after Stora refused a token). */
    public const PURPOSE_REFRESH = 'refresh';
    /** `LockPurpose::WholeOp`: connect completion, disconnect, uninstall, reset. */
    public const PURPOSE_WHOLE_OP = 'whole_op';
    /** `LockPurpose::Persist`: one state write, merged onto the stored state. */
    public const PURPOSE_PERSIST = 'persist';

    /** `PersistPhase::Storing`: the merged state is out to be stored. */
    public const PHASE_STORING = 'storing';
    /** `PersistPhase::Releasing`: stored; the lock is being released. */
    public const PHASE_RELEASING = 'releasing';

    /** The host lock of this installation. */
    public static function lockName(CompanionCore $c): string
    {
        return 'tessera-refresh-' . ($c->state->installation?->id ?? 'none');
    }

    /** Asks for the lock for `$purpose` (its name remembered: the installation may be gone by the release). */
    public static function takeLock(CompanionCore $c, Call $call, string $purpose): Action
    {
        $call->lock = $purpose;
        $call->awaitingLock = true;
        $name = self::lockName($c);
        $call->lockName = $name;
        return Action::lock($name);
    }

    /** Whether this operation runs entirely under the lock. */
    public static function wholeOpLock(CompanionCore $c, Call $call): bool
    {
        return $c->state->config->proxy !== null
            && $c->state->installation !== null
            && \in_array($call->op, [
                Call::OP_CONNECT_COMPLETE,
                Call::OP_DISCONNECT,
                Call::OP_UNINSTALL_DISCONNECT,
                Call::OP_UNINSTALL_DEREGISTER,
                Call::OP_UNINSTALL_LOCAL,
            ], true);
    }

    /** Whether a state write outside the lock must be wrapped in it. */
    private static function wrapsPersist(CompanionCore $c, Call $call): bool
    {
        return $c->state->config->proxy !== null
            && !$call->holdsLock
            && $c->state->installation !== null
            && $c->state->tokenGeneration !== 0;
    }

    /** The lock events, and the events of a wrapped write; null when `$event` is not one of them. */
    public static function onLockEvent(CompanionCore $c, Call $call, Event $event, int $now, Entropy $entropy): ?Action
    {
        if ($c->state->config->proxy === null) {
            return null;
        }
        $type = $event->type;
        if ($type === Event::LOCKED && $call->awaitingLock) {
            $call->awaitingLock = false;
            $call->holdsLock = true;
            $stored = (string) $event->stored;
            if ($call->lock === self::PURPOSE_REFRESH) {
                return ProxyMachine::onLocked($c, $call, $stored, $now, $entropy);
            }
            try {
                self::mergeStored($c, $stored, false);
            } catch (CoreError $e) {
                return Action::done($e);
            }
            if ($call->lock === self::PURPOSE_WHOLE_OP) {
                return self::beginLockedOp($c, $call, $now, $entropy);
            }
            $call->persistPhase = self::PHASE_STORING;
            $c->state->refresh();
            return Action::persist($c->state->toJson());
        }
        if ($type === Event::LOCK_UNAVAILABLE && $call->awaitingLock) {
            $call->awaitingLock = false;
            $call->refresh = null;
            // Nothing of this operation is stored: without the lock no write
            // is safe, so none is asked for.
            return Action::done(CoreError::lockUnavailable());
        }
        if ($type === Event::PERSISTED && $call->persistPhase === self::PHASE_STORING) {
            $call->persistPhase = self::PHASE_RELEASING;
            return self::release($c, $call);
        }
        if ($type === Event::UNLOCKED && $call->persistPhase === self::PHASE_RELEASING) {
            $call->persistPhase = null;
            // The wrapped write is done: go on as after any Persisted.
            return Machine::nextPending($c, $call, $now, $entropy);
        }
        return null;
    }

    /**
     * The first step of a whole-operation lock's operation, once it holds the
     * lock and has taken the stored pair: the request is rebuilt from it.
     */
    private static function beginLockedOp(CompanionCore $c, Call $call, int $now, Entropy $entropy): Action
    {
        switch ($call->op) {
            case Call::OP_CONNECT_COMPLETE:
                return Machine::beginConnectCompletion($c, $call);
            case Call::OP_UNINSTALL_LOCAL:
                return Machine::finishUninstall($c, $call, RemoteStep::skipped());
            case Call::OP_DISCONNECT:
                $req = ProxyMachine::revokeRequest($c);
                if ($req === null) {
                    // Another worker disconnected (or lost the grant) meanwhile.
                    return Machine::fail($c, $call, CoreError::notConnected());
                }
                $call->req = $req;
                return Machine::sendRequest($c, $call, $now, $entropy);
            case Call::OP_UNINSTALL_DISCONNECT:
                $req = ProxyMachine::revokeRequest($c);
                if ($req === null) {
                    return Machine::nextUninstallStage($c, $call, RemoteStep::skipped());
                }
                $call->req = $req;
                return Machine::sendRequest($c, $call, $now, $entropy);
            default:
                return Machine::sendRequest($c, $call, $now, $entropy);
        }
    }

    /**
     * What `step` does with every action before handing it out: a write
     * outside the lock is wrapped in it, and a call that holds it releases it
     * before it ends.
     */
    public static function guardLock(CompanionCore $c, Call $call, Action $action): Action
    {
        if ($action->type === Action::PERSIST && self::wrapsPersist($c, $call)) {
            return self::takeLock($c, $call, self::PURPOSE_PERSIST);
        }
        if ($action->type === Action::DONE && $call->holdsLock) {
            array_unshift($call->pending, $action);
            return self::release($c, $call);
        }
        return $action;
    }

    /** Unlock (the lock taken); the call no longer holds it. */
    public static function release(CompanionCore $c, Call $call): Action
    {
        $call->holdsLock = false;
        $call->lock = null;
        $name = $call->lockName ?? self::lockName($c);
        $call->lockName = null;
        return Action::unlock($name);
    }

    /**
     * Takes from `$stored` (the state as the host stores it now, sealed or
     * not) what another worker may have changed since this companion loaded
     * it: the token fields, when they are of a later generation (a refresh, a
     * new connect, a disconnect, a lost grant); the record of a rotated
     * refresh token of the same generation. `$strict`: a stored state of
     * another installation is an error (else it is ignored: a reset).
     *
     * @throws CoreError
     */
    public static function mergeStored(CompanionCore $c, #[\SensitiveParameter] string $stored, bool $strict): void
    {
        if ($c->sealKey === null) {
            $other = State::fromJson($stored);
        } else {
            $json = Seal::open($stored, $c->sealKey->expose());
            try {
                if (!Text::isUtf8($json)) {
                    throw CoreError::stateCorrupt('sealed state is not UTF-8');
                }
                $other = State::fromJson($json);
            } finally {
                sodium_memzero($json);
            }
        }
        $a = $other->installation;
        $b = $c->state->installation;
        if ($a === null || $b === null || $a->id !== $b->id) {
            if ($strict) {
                throw CoreError::invalidState('the stored state belongs to another installation');
            }
            return;
        }
        $order = U64::cmp($other->tokenGeneration, $c->state->tokenGeneration);
        if ($order > 0) {
            $c->state->tokens = $other->tokens;
            $c->state->retiredRefresh = $other->retiredRefresh;
            $c->state->tokenGeneration = $other->tokenGeneration;
            $c->state->account = $other->account;
            $c->state->reconnectReason = $other->reconnectReason;
        } elseif ($order === 0 && $c->state->retiredRefresh === null) {
            $c->state->retiredRefresh = $other->retiredRefresh;
        }
        $c->state->refresh();
    }
}

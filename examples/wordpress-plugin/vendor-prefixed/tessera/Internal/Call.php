<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * One operation in progress (`machine::Call`). Create it with a
 * `Machine::start*` function, drive it with {@see Machine::step()}.
 */
final class Call
{
    // `Op`
    public const OP_API = 'api';
    public const OP_REGISTER = 'register';
    public const OP_CONNECT_COMPLETE = 'connect_complete';
    public const OP_REVOKE_PREVIOUS = 'revoke_previous';
    public const OP_DISCONNECT = 'disconnect';
    public const OP_UNINSTALL_DISCONNECT = 'uninstall_disconnect';
    public const OP_UNINSTALL_DEREGISTER = 'uninstall_deregister';
    public const OP_UNINSTALL_LOCAL = 'uninstall_local';
    public const OP_SITE_MOVED = 'site_moved';
    /** The Timeline Event after a recorded call's action (Record). */
    public const OP_RECORD = 'record';

    public ?Registration $registration = null;
    /** The registration round continues a site move (completes as SiteMoved). */
    public bool $siteMove = false;
    public int $proofRounds = 0;
    public bool $awaitingProof = false;
    /** A registration already started over with a fresh id once. */
    public bool $startedOver = false;
    public ?string $idempotencyKey = null;
    public int $attempts = 0;
    public int $delaySpentMs = 0;
    public bool $skewRetried = false;
    public bool $awaitingResponse = false;
    public bool $started = false;
    public bool $finished = false;
    /**
     * @var list<Action|CoreError|string|null> queued actions; null is `Pending::Resend`, BEGIN_REGISTRATION
     *      `Pending::BeginRegistration`, a CoreError `Pending::Fail` (end as the operation ends failures),
     *      UNLOCK `Pending::Unlock`, REFRESH `Pending::Refresh` (proxy mode)
     */
    public array $pending = [];
    public RemoteStep $disconnectStep;
    /** "Reset this installation": the uninstall plan's remote steps, then a fresh registration. */
    public bool $reset = false;
    /** @var array{RemoteStep, RemoteStep}|null how the reset's old-installation steps ended (disconnect, deregister) */
    public ?array $resetSteps = null;
    /**
     * Connect completion: the callback failed locally after the pending
     * connect was consumed (ends the call once that is persisted).
     */
    public ?CoreError $localFailure = null;
    /** A recorded call: the event to send once the action succeeded (Rust `recording`). */
    public ?TimelineEvent $recordingEvent = null;
    /** A recorded call: the action's 2xx response, once it came. */
    public ?Response $recordingResponse = null;
    /**
     * A pull of Stora's events (Rust `pull`): the cursor value it was sent
     * after (null: from the start) and the limit it asked for; its 2xx
     * answer is read as a page ({@see Events::pulled()}).
     *
     * @var array{0: ?int, 1: int}|null
     */
    public ?array $pull = null;
    /** Proxy mode: the token refresh in progress. */
    public ?RefreshRound $refresh = null;
    /** Proxy mode: this call refreshed (or adopted a refreshed pair) once. */
    public bool $tokenRefreshed = false;
    /** Proxy mode: `401 invalid_token` answers this call had. */
    public int $refusals = 0;
    /** Why the lock is asked for or held: a {@see LockMachine} `PURPOSE_*`, or null. */
    public ?string $lock = null;
    /** A Lock action is out. */
    public bool $awaitingLock = false;
    /** The installation's lock is held. */
    public bool $holdsLock = false;
    /** The name of the lock asked for or held. */
    public ?string $lockName = null;
    /** A state write wrapped in the lock is in progress: a {@see LockMachine} `PHASE_*`, or null. */
    public ?string $persistPhase = null;

    /** `Pending::BeginRegistration`: the old installation is wiped; register afresh. */
    public const BEGIN_REGISTRATION = 'begin_registration';
    /** `Pending::Unlock`: release the installation's lock (proxy mode). */
    public const UNLOCK = 'unlock';
    /** `Pending::Refresh`: send the refresh again (proxy mode, after learning the clock offset). */
    public const REFRESH = 'refresh';

    public function __construct(public string $op, public ApiRequest $req)
    {
        $this->disconnectStep = RemoteStep::skipped();
    }

    /** Attempts sent so far for the current request. */
    public function attempts(): int
    {
        return $this->attempts;
    }

    /** Whether Done was returned. */
    public function isFinished(): bool
    {
        return $this->finished;
    }

    /** The `Idempotency-Key` used on every attempt, once the first is signed. */
    public function idempotencyKey(): ?string
    {
        return $this->idempotencyKey;
    }

    public function resetFor(string $op, ApiRequest $req): void
    {
        $this->op = $op;
        $this->req = $req;
        $this->idempotencyKey = null;
        $this->attempts = 0;
        $this->delaySpentMs = 0;
        $this->skewRetried = false;
    }
}

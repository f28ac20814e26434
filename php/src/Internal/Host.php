<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * The host side of the step machine: {@see drive()}, a literal transcription
 * of docs/HOST-CONTRACT.md §2–4 with PHP callables (transport, sleep,
 * persist, serveProof; in proxy mode the refresh lock's lock and unlock),
 * as `php-ext/src/host.rs`. All policy (retries,
 * backoff, skew, redirects, what to persist, when to register again) is the
 * core's; this only does what each action says and feeds back what happened.
 */
final class Host
{
    /**
     * The host's exception of the last send when that send threw a
     * `TransportException`, cleaned ({@see cleanTransportException()}); null
     * after a response.
     */
    private ?\RuntimeException $lastFailure = null;

    /** The companion being driven (for the secrets a failure's message must not show). */
    private ?CompanionCore $core = null;

    /** The refresh lock the operation holds now (taken by a Lock, not yet released by an Unlock). */
    private ?string $heldLock = null;

    /** The companion's refresh lock (`setRefreshLock()`), in proxy mode. */
    private ?RefreshLock $refreshLock = null;

    /**
     * @param callable $transport `function (array $request): array $response`; throws
     *        `TransportException` when no response could be read
     * @param callable|null $sleep `function (int $ms): void`; the process sleeps when absent
     * @param callable|null $persist `function (string $stateJson): void`; nothing is stored when absent
     * @param callable|null $serveProof `function (array $proof): mixed`; `false` (or absent) defers the proof
     */
    public function __construct(
        private $transport,
        private $sleep = null,
        private $persist = null,
        private $serveProof = null,
    ) {
    }

    /** The lock and unlock callables the driver uses for Lock and Unlock (proxy mode). */
    public function withRefreshLock(?RefreshLock $lock): self
    {
        $this->refreshLock = $lock;
        return $this;
    }

    /**
     * `Lock(name)`: `$lock($name)` returns the stored state once the lock is
     * held (`Locked`), or `null` when it could not be taken in time
     * (`LockUnavailable`).
     *
     * @throws CoreError when the lock callable returns something else
     */
    private function lock(string $name): Event
    {
        if ($this->refreshLock === null) {
            // Without setRefreshLock() a refresh cannot be serialised: not taken.
            return Event::lockUnavailable();
        }
        $stored = ($this->refreshLock->lock)($name);
        if ($stored === null) {
            return Event::lockUnavailable();
        }
        // Anything but null: the callable holds the lock now, released in drive()'s finally if need be.
        $this->heldLock = $name;
        if (!\is_string($stored)) {
            throw CoreError::invalidInput('lock', 'must return the stored state (a string), or null when the lock was not taken');
        }
        // A stored state is JSON or a sealed blob (ASCII): other bytes fail
        // in the core like any corrupt state (the extension's lossy UTF-8).
        return Event::locked(Text::lossyUtf8($stored));
    }

    /** `Unlock(name)`: `$unlock($name)`, then `Unlocked`. */
    private function unlock(string $name): Event
    {
        $this->heldLock = null;
        if ($this->refreshLock !== null) {
            ($this->refreshLock->unlock)($name);
        }
        return Event::unlocked();
    }

    /**
     * Releases a lock the operation still holds when it is abandoned between
     * Lock and Unlock (an exception); a failure to release does not replace
     * the exception that abandoned it.
     */
    private function releaseHeldLock(): void
    {
        $name = $this->heldLock;
        $this->heldLock = null;
        if ($name === null || $this->refreshLock === null) {
            return;
        }
        try {
            ($this->refreshLock->unlock)($name);
        } catch (\Throwable) {
            // The operation already failed with its own exception.
        }
    }

    /** Local time, unix seconds (the system clock). */
    public static function unixNow(): int
    {
        return time();
    }

    /**
     * `Send(request)`: sent once, exactly as given; every response is fed
     * back as it is (a 3xx too); a `TransportException` is
     * `TransportError(network)`; any other exception propagates and abandons
     * the operation.
     *
     * @throws CoreError when the transport returns something that is not a response
     */
    private function send(#[\SensitiveParameter] Request $request): Event
    {
        $arr = Convert::requestToPhp($request);
        $this->lastFailure = null;
        try {
            $z = ($this->transport)($arr);
        } catch (\Throwable $e) {
            if (self::isTransportException($e)) {
                $this->lastFailure = self::cleanTransportException($e, $this->core, $request);
                return Event::transportError(Event::NETWORK);
            }
            throw $e;
        }
        return Event::response(Convert::responseFromPhp(Convert::expectArray($z, 'transport')));
    }

    /** The cleaned exception of the last send, if it threw a `TransportException` (the `getPrevious()` of a `server_unavailable`). */
    public function lastFailure(): ?\RuntimeException
    {
        return $this->lastFailure;
    }

    /**
     * A new `TransportException` for the host's `$e`, safe to hand to the
     * caller as `getPrevious()`: the same class when it is Tessera's own (else
     * Tessera's, with the host's class named in the message), the message
     * redacted as the core does ({@see Redact::text()}: the secrets of `$core`
     * and the credentials of `$sent`), no previous (the host's chain may hold
     * the signed request), and a trace without arguments that starts at the
     * caller's call into Tessera.
     */
    public static function cleanTransportException(
        #[\SensitiveParameter] \Throwable $e,
        #[\SensitiveParameter] ?CompanionCore $core,
        #[\SensitiveParameter] Request $sent,
    ): \RuntimeException {
        $class = $e::class;
        $own = $class === \Tessera\Pure\Exception\TransportException::class
            || $class === 'Tessera\\Exception\\TransportException';
        $message = Redact::text($core, $own ? $e->getMessage() : "{$class}: {$e->getMessage()}", $sent);
        $clean = $own ? new $class($message) : new \Tessera\Pure\Exception\TransportException($message);
        PhpErrors::rebase($clean);
        return $clean;
    }

    /**
     * The transport's "no response could be read": this package's
     * `TransportException` (which is `Tessera\Exception\TransportException`
     * when the extension is absent), or the extension's when it is loaded.
     */
    private static function isTransportException(\Throwable $e): bool
    {
        static $ext = null;
        $ext ??= (extension_loaded('tessera') && class_exists('Tessera\\Exception\\TransportException', false))
            ? 'Tessera\\Exception\\TransportException'
            : '';
        return $e instanceof \Tessera\Pure\Exception\TransportException || ($ext !== '' && $e instanceof $ext);
    }

    /** `Sleep(ms)`: sleep exactly that long. */
    private function sleep(int $ms): Event
    {
        if ($this->sleep !== null) {
            ($this->sleep)($ms);
        } else {
            usleep($ms * 1000);
        }
        return Event::slept();
    }

    /** `Persist(state)`: store it before feeding `Persisted`. */
    private function persist(#[\SensitiveParameter] string $state): Event
    {
        if ($this->persist !== null) {
            ($this->persist)($state);
        }
        return Event::persisted();
    }

    /** `ServeProof(proof)`: `ProofServed`, unless the callable returns `false` or there is none. */
    private function serveProof(#[\SensitiveParameter] OwnershipProof $proof): Event
    {
        if ($this->serveProof === null) {
            return Event::proofDeferred();
        }
        $served = ($this->serveProof)(Convert::proofToPhp($proof));
        return $served === false ? Event::proofDeferred() : Event::proofServed();
    }

    /**
     * Drives `$call` to completion (docs/HOST-CONTRACT.md §2). The companion
     * is used only inside each step, never while a PHP callable runs, so
     * callables may use the same `Companion` object.
     *
     * @throws CoreError the error the operation ended with (or a bad value from a callable)
     */
    public function drive(
        #[\SensitiveParameter] CompanionCore $core,
        #[\SensitiveParameter] TestHooks $hooks,
        #[\SensitiveParameter] Call $call,
    ): Completion
    {
        $event = Event::start();
        $this->core = $core;
        $this->heldLock = null;
        try {
            while (true) {
                // The host clock, read once per event, just before feeding it.
                $now = $hooks->now();
                $action = Machine::step($core, $call, $event, $now, $hooks->entropy());
                $event = match ($action->type) {
                    Action::SEND => $this->send($action->request),
                    Action::SLEEP => $this->sleep($action->ms),
                    Action::PERSIST => $this->persist($action->state),
                    Action::SERVE_PROOF => $this->serveProof($action->proof),
                    Action::LOCK => $this->lock((string) $action->name),
                    Action::UNLOCK => $this->unlock((string) $action->name),
                    default => $action->result instanceof CoreError ? throw $action->result : $action->result,
                };
                if ($event instanceof Completion) {
                    return $event;
                }
            }
        } finally {
            $this->releaseHeldLock();
        }
    }
}

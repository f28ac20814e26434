<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * What the host must do next (`machine::Action`). `__debugInfo` never shows
 * the state JSON of a Persist (it holds the secret) nor the request of a Send.
 */
final class Action
{
    public const SEND = 'send';
    public const SLEEP = 'sleep';
    public const PERSIST = 'persist';
    public const SERVE_PROOF = 'serve_proof';
    /** Proxy mode: take the named lock, then feed the stored state (Locked) or LockUnavailable. */
    public const LOCK = 'lock';
    /** Proxy mode: release the named lock, then feed Unlocked. */
    public const UNLOCK = 'unlock';
    public const DONE = 'done';

    private function __construct(
        public readonly string $type,
        public readonly ?Request $request = null,
        public readonly int $ms = 0,
        public readonly ?string $state = null,
        public readonly ?OwnershipProof $proof = null,
        /** For DONE: the completion, or the error that ended the operation. */
        public readonly Completion|CoreError|null $result = null,
        /** For LOCK and UNLOCK: the lock's name (`tessera-refresh-<install id>`). */
        public readonly ?string $name = null,
    ) {
    }

    /** Send this request exactly as given, without following redirects. */
    public static function send(Request $request): self
    {
        return new self(self::SEND, $request);
    }

    /** Sleep this many milliseconds. */
    public static function sleep(int $ms): self
    {
        return new self(self::SLEEP, null, $ms);
    }

    /** Store this state JSON before anything else. */
    public static function persist(#[\SensitiveParameter] string $state): self
    {
        return new self(self::PERSIST, null, 0, $state);
    }

    /** Serve this ownership proof at its URL. */
    public static function serveProof(OwnershipProof $proof): self
    {
        return new self(self::SERVE_PROOF, null, 0, null, $proof);
    }

    /**
     * Proxy mode, around a token refresh, a whole connect completion,
     * disconnect, uninstall or reset, and any other state write once a pair
     * existed ({@see LockMachine}): take the lock of this name (one per
     * installation, shared by every worker and process of the host), waiting
     * a bounded time, then read the stored state and feed it (Locked), or
     * feed LockUnavailable.
     */
    public static function lock(string $name): self
    {
        return new self(self::LOCK, null, 0, null, null, null, $name);
    }

    /** Release the lock of this name (taken by the last Lock, the same name even once the installation is gone); feed Unlocked. */
    public static function unlock(string $name): self
    {
        return new self(self::UNLOCK, null, 0, null, null, null, $name);
    }

    /** The operation is over. */
    public static function done(Completion|CoreError $result): self
    {
        return new self(self::DONE, null, 0, null, null, $result);
    }

    public function __debugInfo(): array
    {
        return match ($this->type) {
            self::SEND => ['type' => 'send', 'url' => $this->request?->url],
            self::SLEEP => ['type' => 'sleep', 'ms' => $this->ms],
            self::PERSIST => ['type' => 'persist', 'state' => '<state, ' . strlen((string) $this->state) . ' bytes>'],
            self::SERVE_PROOF => ['type' => 'serve_proof', 'url' => $this->proof?->url],
            self::LOCK, self::UNLOCK => ['type' => $this->type, 'name' => $this->name],
            default => ['type' => 'done', 'result' => $this->result instanceof CoreError ? $this->result->code() : $this->result?->type],
        };
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * What happened since the last action (`machine::Event`). `__debugInfo`
 * never shows the stored state of a Locked (it holds the secret and the tokens).
 */
final class Event
{
    public const START = 'start';
    public const RESPONSE = 'response';
    public const TRANSPORT_ERROR = 'transport_error';
    public const SLEPT = 'slept';
    public const PERSISTED = 'persisted';
    public const PROOF_SERVED = 'proof_served';
    public const PROOF_DEFERRED = 'proof_deferred';
    public const LOCKED = 'locked';
    public const LOCK_UNAVAILABLE = 'lock_unavailable';
    public const UNLOCKED = 'unlocked';

    // `TransportError::as_str`
    public const NETWORK = 'network';
    public const REDIRECT = 'redirect';

    private function __construct(
        public readonly string $type,
        public readonly ?Response $response = null,
        /** For TRANSPORT_ERROR: `network` or `redirect`. */
        public readonly ?string $transportError = null,
        /** For LOCKED: the state the host has stored now (sealed or not). */
        public readonly ?string $stored = null,
    ) {
    }

    public static function start(): self
    {
        return new self(self::START);
    }

    /** The response to the last Send, whatever its status. */
    public static function response(Response $response): self
    {
        return new self(self::RESPONSE, $response);
    }

    /** The last Send got no readable response: `network` or `redirect`. */
    public static function transportError(string $kind): self
    {
        return new self(self::TRANSPORT_ERROR, null, $kind);
    }

    public static function slept(): self
    {
        return new self(self::SLEPT);
    }

    public static function persisted(): self
    {
        return new self(self::PERSISTED);
    }

    public static function proofServed(): self
    {
        return new self(self::PROOF_SERVED);
    }

    public static function proofDeferred(): self
    {
        return new self(self::PROOF_DEFERRED);
    }

    /**
     * The lock of the last Lock is held; `$stored` is the state the host has
     * stored now (what it last persisted, sealed or not), read after taking the lock.
     */
    public static function locked(#[\SensitiveParameter] string $stored): self
    {
        return new self(self::LOCKED, null, null, $stored);
    }

    /** The host could not take the lock of the last Lock in time: the operation ends `lock_unavailable`. */
    public static function lockUnavailable(): self
    {
        return new self(self::LOCK_UNAVAILABLE);
    }

    /** The lock of the last Unlock is released. */
    public static function unlocked(): self
    {
        return new self(self::UNLOCKED);
    }

    /** @return array<string, mixed> what `var_dump` shows: never the stored state */
    public function __debugInfo(): array
    {
        return match ($this->type) {
            self::RESPONSE => ['type' => $this->type, 'status' => $this->response?->status],
            self::TRANSPORT_ERROR => ['type' => $this->type, 'kind' => $this->transportError],
            self::LOCKED => ['type' => $this->type, 'stored' => '<state, ' . \strlen((string) $this->stored) . ' bytes>'],
            default => ['type' => $this->type],
        };
    }

    /** The kind named by `$name` (`TransportError::parse`), or null. */
    public static function parseTransportError(string $name): ?string
    {
        return $name === self::NETWORK || $name === self::REDIRECT ? $name : null;
    }
}

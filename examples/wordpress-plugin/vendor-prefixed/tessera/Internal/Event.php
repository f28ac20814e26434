<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** What happened since the last action (`machine::Event`). */
final class Event
{
    public const START = 'start';
    public const RESPONSE = 'response';
    public const TRANSPORT_ERROR = 'transport_error';
    public const SLEPT = 'slept';
    public const PERSISTED = 'persisted';
    public const PROOF_SERVED = 'proof_served';
    public const PROOF_DEFERRED = 'proof_deferred';

    // `TransportError::as_str`
    public const NETWORK = 'network';
    public const REDIRECT = 'redirect';

    private function __construct(
        public readonly string $type,
        public readonly ?Response $response = null,
        /** For TRANSPORT_ERROR: `network` or `redirect`. */
        public readonly ?string $transportError = null,
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

    /** The kind named by `$name` (`TransportError::parse`), or null. */
    public static function parseTransportError(string $name): ?string
    {
        return $name === self::NETWORK || $name === self::REDIRECT ? $name : null;
    }
}

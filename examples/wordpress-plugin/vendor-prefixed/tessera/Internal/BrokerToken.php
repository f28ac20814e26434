<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * The opaque bearer token the broker gives the plugin after a connect (Rust
 * `secret::BrokerToken`): printed as `[redacted]`, compared in constant time,
 * zeroised when dropped.
 */
final class BrokerToken
{
    use RedactedValue;

    /** Maximum accepted length. */
    public const MAX_LEN = 512;

    private const CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=';

    private function __construct(#[\SensitiveParameter] string $token)
    {
        $this->storeValue($token);
    }

    /**
     * Wraps a token: 1-512 RFC 6750 `b64token` characters, so it is safe in
     * an `Authorization` header.
     *
     * @throws CoreError callback_invalid
     */
    public static function new(#[\SensitiveParameter] string $token): self
    {
        $len = \strlen($token);
        if ($len === 0 || $len > self::MAX_LEN || strspn($token, self::CHARS) !== $len) {
            throw CoreError::callbackInvalid('broker_token is not a valid token');
        }
        return new self($token);
    }

    /** The token text (for the `Authorization` header only). */
    public function expose(): string
    {
        return $this->value();
    }

    /** Constant-time equality by value. */
    public function equals(self $other): bool
    {
        return hash_equals($this->value(), $other->value());
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** Caller-controlled inputs of one signature (Rust `sign::SignOptions`); fixing them makes output reproducible. */
final class SignOptions
{
    /**
     * @param int $now unix seconds used as `created` (the caller adds the learned clock offset)
     * @param string|null $nonce `nonce` parameter; 16 random bytes (base64url) when null
     * @param string|null $idempotencyKey `Idempotency-Key`; for POST/PATCH a UUIDv4 is generated when
     *        neither this nor a caller `idempotency-key` header is given
     */
    public function __construct(
        public readonly int $now = 0,
        public readonly ?string $nonce = null,
        public readonly ?string $idempotencyKey = null,
    ) {
    }
}

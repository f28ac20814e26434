<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** What a successful verification established (Rust `verify::Verified`). */
final class Verified
{
    /**
     * @param string $installId the installation (`keyid`)
     * @param int $created `created`
     * @param int $expires `expires`
     * @param string $nonce `nonce`
     * @param string|null $idempotencyKey the covered `Idempotency-Key`, if any
     * @param string|null $bearer the covered bearer token (`Authorization: Bearer …`), if any
     */
    public function __construct(
        public readonly string $installId,
        public readonly int $created,
        public readonly int $expires,
        public readonly string $nonce,
        public readonly ?string $idempotencyKey,
        #[\SensitiveParameter] public readonly ?string $bearer,
    ) {
    }

    /**
     * What `var_dump` shows: the bearer token redacted.
     *
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return [
            'installId' => $this->installId,
            'created' => $this->created,
            'expires' => $this->expires,
            'nonce' => $this->nonce,
            'idempotencyKey' => $this->idempotencyKey,
            'bearer' => $this->bearer === null ? null : '[redacted]',
        ];
    }
}

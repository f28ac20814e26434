<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** The registration this installation holds (`state::Installation`). */
final class Installation
{
    public function __construct(
        /** `ins_` + base64url(16 random bytes). */
        public string $id,
        /** Site URL, normalised (no trailing slash). */
        public string $siteUrl,
        public string $adminEmail,
        /** Per-installation secret (never cloned: replaced, not mutated). */
        public Secret $secret,
        public string $platform,
        public string $pluginVersion,
        /** Whether the broker confirmed (201). */
        public bool $confirmed = false,
        /** Ownership challenge from a 202, while one is outstanding. */
        public ?string $challenge = null,
        /** Set when the broker rejected the registration (re-register). */
        public ?string $invalidReason = null,
    ) {
    }

    public function __debugInfo(): array
    {
        return ['id' => $this->id, 'siteUrl' => $this->siteUrl, 'secret' => '[redacted]'];
    }

    public function __serialize(): array
    {
        throw new \LogicException('Serialization of ' . self::class . ' is not allowed');
    }

    /** @param array<mixed> $data */
    public function __unserialize(array $data): void
    {
        throw new \LogicException('Unserialization of ' . self::class . ' is not allowed');
    }
}

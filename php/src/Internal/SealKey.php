<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * Host key material a companion seals its persisted state with
 * (`seal::SealKey`; {@see CompanionCore::setSealKey()}). Zeroised when
 * dropped; prints as `[redacted]`; never serialised, cloned or dumped.
 */
final class SealKey
{
    use RedactedValue;

    private function __construct(#[\SensitiveParameter] string $keyMaterial)
    {
        $this->storeValue($keyMaterial);
    }

    /**
     * Checks and keeps `$keyMaterial` (at least 16 bytes).
     *
     * @throws CoreError invalid_input (field `key`) when it is shorter
     */
    public static function new(#[\SensitiveParameter] string $keyMaterial): self
    {
        Seal::checkKeyMaterial($keyMaterial);
        return new self($keyMaterial);
    }

    /** The key material. */
    public function expose(): string
    {
        return $this->value();
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * A request whose signature is well formed and in time and whose body
 * matches its digest, waiting for the secret of its {@see keyid()} (Rust
 * `verify::AwaitingSecret`).
 */
final class AwaitingSecret
{
    /**
     * @param Verified $verified what the request claims
     * @param string $mac the 32-byte MAC it carries
     * @param string|null $base the signature base, or null when it cannot be built (a covered header is missing,
     *        a value holds CR/LF): `signature_invalid`, decided after the installation is known; it holds the bearer
     * @param int $now broker time of the verification
     */
    public function __construct(
        private readonly Verified $verified,
        private readonly string $mac,
        #[\SensitiveParameter] private readonly ?string $base,
        private readonly int $now,
    ) {
    }

    /** The installation whose secret the broker must look up (the signature's `keyid`). */
    public function keyid(): string
    {
        return $this->verified->installId;
    }

    /**
     * Step 2: checks the MAC with the installation's `secret` (null when the
     * broker knows no such installation: `unknown_installation`).
     *
     * @throws Refusal
     */
    public function check(?Secret $secret): AwaitingReplay
    {
        if ($secret === null) {
            throw new Refusal(CoreError::unknownInstallation(), $this->now);
        }
        if ($this->base === null || !Verifier::macMatches($secret, $this->base, $this->mac)) {
            throw new Refusal(CoreError::signatureInvalid(), $this->now);
        }
        $key = $this->verified->installId . ':' . $this->verified->nonce;
        return new AwaitingReplay($this->verified, $key, $this->now);
    }

    /**
     * What `var_dump` shows: no signature base (it holds the bearer token).
     *
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return ['verified' => $this->verified->__debugInfo()];
    }
}

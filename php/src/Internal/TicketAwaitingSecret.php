<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * An uninstall ticket whose parameters are well formed and in time, waiting
 * for the secret of its {@see installId()} (Rust `verify::TicketAwaitingSecret`).
 */
final class TicketAwaitingSecret
{
    /**
     * @param string $installId the installation (from the path)
     * @param int $ts the ticket's `ts`
     * @param string $sig its `sig`
     * @param int $now broker time of the verification
     */
    public function __construct(
        private readonly string $installId,
        private readonly int $ts,
        private readonly string $sig,
        private readonly int $now,
    ) {
    }

    /** The installation whose secret the broker must look up. */
    public function installId(): string
    {
        return $this->installId;
    }

    /**
     * Step 2: checks `sig` with the installation's `secret` (null when the
     * broker knows no such installation). Returns the ticket's `ts`.
     *
     * @throws Refusal
     */
    public function check(?Secret $secret): int
    {
        if ($secret === null) {
            throw new Refusal(CoreError::unknownInstallation(), $this->now);
        }
        Verifier::countMac();
        $want = Connect::linkSignature($secret, Connect::UNINSTALL_CONTEXT, [['install_id', $this->installId], ['ts', (string) $this->ts]]);
        if (!hash_equals($want, $this->sig)) {
            throw new Refusal(CoreError::signatureInvalid(), $this->now);
        }
        return $this->ts;
    }

    /**
     * What `var_dump` shows: never the link's `sig` (an uninstall ticket is a
     * bearer capability for days, a connect URL one until it is used).
     *
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return ['installId' => $this->installId, 'ts' => $this->ts, 'sig' => '[redacted]'];
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Stands in when there is no store: any request that reaches the replay
 * check (that is, would otherwise verify) is refused.
 */
final class NoReplayStore implements ReplayStore
{
    /** Why `verify()` refuses to succeed without a replay store: a PHP object does not outlive its request. */
    public const REASON = 'pass a shared replay store ($replay), or construct the Verifier with $replayCapacity '
        . 'in a long-running process: a per-request in-memory store would not stop replays';

    public function checkAndInsert(string $key, int $expiresAt, int $now): void
    {
        throw CoreError::invalidInput('replay', self::REASON);
    }
}

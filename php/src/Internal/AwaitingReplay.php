<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/** A request whose MAC verified, waiting for the replay store's answer (Rust `verify::AwaitingReplay`). */
final class AwaitingReplay
{
    /**
     * @param Verified $verified what the request established
     * @param string $key `install_id:nonce`
     * @param int $now broker time of the verification
     */
    public function __construct(
        private readonly Verified $verified,
        private readonly string $key,
        private readonly int $now,
    ) {
    }

    /**
     * The key to record: `install_id . ':' . nonce` (an install id never
     * contains `:`). A store bounds each installation — the part before the
     * first `:` — on its own (docs/PROTOCOL.md §7.2).
     */
    public function replayKey(): string
    {
        return $this->key;
    }

    /** The installation the request is from. */
    public function installId(): string
    {
        return $this->verified->installId;
    }

    /** Until when (unix seconds, inclusive) the key must be kept: the signature's `expires`. */
    public function expiresAt(): int
    {
        return $this->verified->expires;
    }

    /** Broker time of the verification, as given to {@see Verifier::begin()}. */
    public function now(): int
    {
        return $this->now;
    }

    /**
     * Step 3: the replay store's answer for {@see replayKey()}.
     *
     * @throws Refusal
     */
    public function finish(ReplayAnswer $answer): Verified
    {
        return match ($answer) {
            ReplayAnswer::Fresh => $this->verified,
            ReplayAnswer::Seen => throw new Refusal(CoreError::replayed(), $this->now),
            ReplayAnswer::Full => throw new Refusal(CoreError::replayStoreFull(), $this->now),
        };
    }

    /**
     * Step 3 with a {@see ReplayStore}: records the key in `store` and finishes.
     *
     * @throws Refusal
     */
    public function recordIn(ReplayStore $store): Verified
    {
        try {
            $answer = ReplayAnswer::fromStore(fn () => $store->checkAndInsert($this->key, $this->verified->expires, $this->now));
        } catch (CoreError $e) {
            throw new Refusal($e, $this->now);
        }
        return $this->finish($answer);
    }
}

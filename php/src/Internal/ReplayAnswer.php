<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/** What a replay store answers when asked to record a nonce (Rust `verify::ReplayAnswer`). */
enum ReplayAnswer
{
    /** The nonce was not live: it is recorded now, the request verifies. */
    case Fresh;
    /** The nonce is live already: the request is a replay (`replayed`). */
    case Seen;
    /** The installation's share of the store is full (`replay_store_full`, fail closed). */
    case Full;

    /**
     * The answer a {@see ReplayStore::checkAndInsert()} call stands for: it
     * returning is Fresh, `replayed` Seen, `replay_store_full` Full; any other
     * error is thrown as is.
     *
     * @param \Closure(): void $checkAndInsert
     * @throws CoreError
     */
    public static function fromStore(\Closure $checkAndInsert): self
    {
        try {
            $checkAndInsert();
            return self::Fresh;
        } catch (CoreError $e) {
            return match ($e->code()) {
                'replayed' => self::Seen,
                'replay_store_full' => self::Full,
                default => throw $e,
            };
        }
    }
}

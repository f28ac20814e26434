<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Times the core accepts: unix seconds that every format it writes can carry
 * (core/src/clock.rs).
 */
final class Clock
{
    /** Latest time accepted: 9999-12-31T23:59:59Z (also the last HTTP-date). */
    public const MAX_UNIX_SECS = 253_402_300_799;

    /** Largest clock offset learned or restored: about a century either way. */
    public const MAX_CLOCK_OFFSET_SECS = 100 * 365 * 86_400;

    /**
     * `now` as a timestamp to put on the wire: 1970 to 9999.
     *
     * @throws CoreError invalid_input (field `now`)
     */
    public static function wireTime(int $now): int
    {
        if ($now >= 0 && $now <= self::MAX_UNIX_SECS) {
            return $now;
        }
        throw CoreError::invalidInput('now', 'must be unix seconds from 1970 to 9999');
    }

    /**
     * The local time corrected by the learned offset, as a wire timestamp.
     *
     * @throws CoreError invalid_input (field `now`)
     */
    public static function corrected(int $now, int $offset): int
    {
        return self::wireTime(Ints::saturatingAdd($now, $offset));
    }

    /** The offset to learn from a server's `Date`, bounded. */
    public static function offsetFrom(int $server, int $now): int
    {
        return Ints::clamp(Ints::saturatingSub($server, $now), -self::MAX_CLOCK_OFFSET_SECS, self::MAX_CLOCK_OFFSET_SECS);
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Integer arithmetic with Rust's `i64` semantics: `saturating_*` saturates and
 * plain `-` wraps as it does in the release build (overflow checks off), where
 * PHP would silently turn an overflow into a float.
 */
final class Ints
{
    /** `a.saturating_add(b)`. */
    public static function saturatingAdd(int $a, int $b): int
    {
        $r = $a + $b;
        if (\is_int($r)) {
            return $r;
        }
        return $b > 0 ? \PHP_INT_MAX : \PHP_INT_MIN;
    }

    /** `a.saturating_sub(b)`. */
    public static function saturatingSub(int $a, int $b): int
    {
        $r = $a - $b;
        if (\is_int($r)) {
            return $r;
        }
        return $b < 0 ? \PHP_INT_MAX : \PHP_INT_MIN;
    }

    /** `a.wrapping_sub(b)` (what `a - b` computes in the Rust release build). */
    public static function wrappingSub(int $a, int $b): int
    {
        $r = $a - $b;
        if (\is_int($r)) {
            return $r;
        }
        if ($b > 0) {
            // a - b < MIN: the result is a - b + 2^64, in [1, MAX].
            return ($a - \PHP_INT_MIN) + (\PHP_INT_MAX - $b + 1);
        }
        // a - b > MAX: the result is a - b - 2^64, in [MIN, -1].
        return ($a + \PHP_INT_MIN) + (\PHP_INT_MIN - $b);
    }

    /** `v.clamp(lo, hi)`. */
    public static function clamp(int $v, int $lo, int $hi): int
    {
        return $v < $lo ? $lo : ($v > $hi ? $hi : $v);
    }
}

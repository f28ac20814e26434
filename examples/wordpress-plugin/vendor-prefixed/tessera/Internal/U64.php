<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Rust `u64` values in PHP: an `int` up to PHP_INT_MAX, above it the
 * canonical decimal string (only a stored state blob can carry one).
 */
final class U64
{
    /** A canonical u64 from its decimal text (digits only, as JSON writes it). */
    public static function fromText(string $digits): int|string
    {
        $digits = ltrim($digits, '0');
        if ($digits === '') {
            return 0;
        }
        if (strlen($digits) < 19 || (strlen($digits) === 19 && strcmp($digits, (string) PHP_INT_MAX) <= 0)) {
            return (int) $digits;
        }
        return $digits;
    }

    /** -1, 0 or 1 (`Ord::cmp`). */
    public static function cmp(int|string $a, int|string $b): int
    {
        if (is_int($a) && is_int($b)) {
            return $a <=> $b;
        }
        if (is_int($a)) {
            return -1; // a string is above PHP_INT_MAX
        }
        if (is_int($b)) {
            return 1;
        }
        return strlen($a) <=> strlen($b) ?: strcmp($a, $b) <=> 0;
    }

    public static function le(int|string $a, int|string $b): bool
    {
        return self::cmp($a, $b) <= 0;
    }

    public static function min(int|string $a, int|string $b): int|string
    {
        return self::cmp($a, $b) <= 0 ? $a : $b;
    }

    /** `a.saturating_add(1)`: the next value, the u64 maximum staying as it is. */
    public static function saturatingInc(int|string $a): int|string
    {
        if (is_int($a) && $a < PHP_INT_MAX) {
            return $a + 1;
        }
        $digits = (string) $a;
        // Decimal increment of the text form (above PHP_INT_MAX).
        $i = strlen($digits) - 1;
        while ($i >= 0 && $digits[$i] === '9') {
            $digits[$i] = '0';
            $i--;
        }
        $digits = $i < 0 ? '1' . $digits : substr_replace($digits, (string) ((int) $digits[$i] + 1), $i, 1);
        return self::cmp($digits, '18446744073709551615') > 0 ? $a : $digits;
    }

    /** `a.saturating_mul(b)` for a small non-negative `b`. */
    public static function saturatingMul(int|string $a, int $b): int|string
    {
        if ($b === 0) {
            return 0;
        }
        if (is_int($a)) {
            if ($a <= intdiv(PHP_INT_MAX, $b)) {
                return $a * $b;
            }
        }
        // Beyond PHP_INT_MAX: exact product with bcmath-free long multiplication, capped at u64::MAX.
        $product = self::mulText((string) $a, $b);
        return self::cmp($product, '18446744073709551615') > 0 ? '18446744073709551615' : self::fromText($product);
    }

    private static function mulText(string $digits, int $by): string
    {
        $out = '';
        $carry = 0;
        for ($i = strlen($digits) - 1; $i >= 0; $i--) {
            $v = ((int) $digits[$i]) * $by + $carry;
            $out = ($v % 10) . $out;
            $carry = intdiv($v, 10);
        }
        while ($carry > 0) {
            $out = ($carry % 10) . $out;
            $carry = intdiv($carry, 10);
        }
        return $out;
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * String helpers with Rust `str` semantics, independent of the locale and of
 * mbstring (not every PHP build has it).
 */
final class Text
{
    /** Rust `char::is_whitespace` (Unicode White_Space) as UTF-8 byte sequences. */
    private const WS = '(?:[\t-\r ]|\xC2[\x85\xA0]|\xE1\x9A\x80|\xE2\x80[\x80-\x8A\xA8\xA9\xAF]|\xE2\x81\x9F|\xE3\x80\x80)';

    /** Whether `s` is valid UTF-8 (what Rust requires of a `&str`). */
    public static function isUtf8(string $s): bool
    {
        return preg_match('//u', $s) === 1;
    }

    /**
     * Rust `String::from_utf8_lossy`: every maximal subpart of an ill-formed
     * sequence becomes U+FFFD (Unicode §3.9), valid text is kept as it is.
     */
    public static function lossyUtf8(#[\SensitiveParameter] string $s): string
    {
        if (self::isUtf8($s)) {
            return $s;
        }
        $out = '';
        $n = \strlen($s);
        $i = 0;
        while ($i < $n) {
            $b = \ord($s[$i]);
            [$len, $lo, $hi] = match (true) {
                $b < 0x80 => [1, 0x80, 0xBF],
                $b >= 0xC2 && $b <= 0xDF => [2, 0x80, 0xBF],
                $b === 0xE0 => [3, 0xA0, 0xBF],
                $b === 0xED => [3, 0x80, 0x9F],
                $b >= 0xE1 && $b <= 0xEF => [3, 0x80, 0xBF],
                $b === 0xF0 => [4, 0x90, 0xBF],
                $b >= 0xF1 && $b <= 0xF3 => [4, 0x80, 0xBF],
                $b === 0xF4 => [4, 0x80, 0x8F],
                default => [0, 0, 0],
            };
            if ($len === 0) {
                $out .= "\u{FFFD}";
                $i++;
                continue;
            }
            $j = 1;
            while ($j < $len && $i + $j < $n) {
                $c = \ord($s[$i + $j]);
                if ($c < ($j === 1 ? $lo : 0x80) || $c > ($j === 1 ? $hi : 0xBF)) {
                    break;
                }
                $j++;
            }
            $out .= $j === $len ? substr($s, $i, $len) : "\u{FFFD}";
            $i += $j;
        }
        return $out;
    }

    /**
     * Rust `str::trim`: removes Unicode White_Space at both ends (the input is
     * valid UTF-8).
     */
    public static function trim(#[\SensitiveParameter] string $s): string
    {
        if ($s === '') {
            return $s;
        }
        $first = \ord($s[0]);
        $last = \ord($s[-1]);
        if ($first > 0x20 && $first < 0x80 && $last > 0x20 && $last < 0x80) {
            return $s;
        }
        return (string) preg_replace('/^' . self::WS . '+|' . self::WS . '+\z/', '', $s);
    }

    /** Rust `trim()` of a string known to be ASCII: removes `\t \n \x0B \x0C \r` and spaces. */
    public static function trimAscii(#[\SensitiveParameter] string $s): string
    {
        return trim($s, " \t\n\x0B\x0C\r");
    }

    /** Whether every byte is visible ASCII (0x21..=0x7E); true for the empty string. */
    public static function isAsciiGraphic(string $s): bool
    {
        return preg_match('/[^\x21-\x7E]/', $s) === 0;
    }

    /** ASCII lowercase (`to_ascii_lowercase`), whatever the locale. */
    public static function asciiLower(string $s): string
    {
        return strtr($s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');
    }

    /** ASCII uppercase (`to_ascii_uppercase`), whatever the locale. */
    public static function asciiUpper(string $s): string
    {
        return strtr($s, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ');
    }

    /** Whether every byte of `s` is one of `chars` (true for the empty string). */
    public static function allIn(string $s, string $chars): bool
    {
        return strspn($s, $chars) === \strlen($s);
    }

    /** Whether any White_Space or control (Cc) character occurs (Rust `is_whitespace() || is_control()`). */
    public static function hasSpaceOrControl(string $s): bool
    {
        return preg_match('/[\x00-\x20\x7F]|\xC2[\x80-\xA0]|\xE1\x9A\x80|\xE2\x80[\x80-\x8A\xA8\xA9\xAF]|\xE2\x81\x9F|\xE3\x80\x80/', $s) === 1;
    }

    /** The UTF-8 encoding of one Unicode scalar value. */
    public static function utf8Chr(int $cp): string
    {
        if ($cp < 0x80) {
            return \chr($cp);
        }
        if ($cp < 0x800) {
            return \chr(0xC0 | $cp >> 6) . \chr(0x80 | $cp & 0x3F);
        }
        if ($cp < 0x10000) {
            return \chr(0xE0 | $cp >> 12) . \chr(0x80 | $cp >> 6 & 0x3F) . \chr(0x80 | $cp & 0x3F);
        }
        return \chr(0xF0 | $cp >> 18) . \chr(0x80 | $cp >> 12 & 0x3F) . \chr(0x80 | $cp >> 6 & 0x3F)
            . \chr(0x80 | $cp & 0x3F);
    }
}

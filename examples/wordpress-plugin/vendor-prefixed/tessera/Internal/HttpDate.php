<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * HTTP-dates (RFC 9110 §5.6.7): the IMF-fixdate a server sends and the two
 * obsolete forms a recipient must still accept (core/src/httpdate.rs). A date
 * is accepted only when every field is in range, the day exists in its month
 * and the weekday is right; years 1970–9999.
 */
final class HttpDate
{
    private const WDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
    private const SHORT_WDAYS = ['Sun' => 0, 'Mon' => 1, 'Tue' => 2, 'Wed' => 3, 'Thu' => 4, 'Fri' => 5, 'Sat' => 6];
    private const LONG_WDAYS = [
        'Sunday' => 0, 'Monday' => 1, 'Tuesday' => 2, 'Wednesday' => 3, 'Thursday' => 4, 'Friday' => 5, 'Saturday' => 6,
    ];
    private const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    private const MONTH_NUM = [
        'Jan' => 1, 'Feb' => 2, 'Mar' => 3, 'Apr' => 4, 'May' => 5, 'Jun' => 6,
        'Jul' => 7, 'Aug' => 8, 'Sep' => 9, 'Oct' => 10, 'Nov' => 11, 'Dec' => 12,
    ];

    /** Parses an HTTP-date to unix seconds (surrounding Unicode whitespace allowed); null when invalid. */
    public static function parse(string $text): ?int
    {
        $s = Text::trim($text);
        $d = self::imfFixdate($s) ?? self::rfc850($s) ?? self::asctime($s);
        return $d === null ? null : self::toUnix($d);
    }

    /** Formats unix seconds as an IMF-fixdate, clamped to 1970–9999. */
    public static function format(int $unixSecs): string
    {
        $t = Ints::clamp($unixSecs, 0, Clock::MAX_UNIX_SECS);
        $days = intdiv($t, 86_400);
        $secs = $t % 86_400;
        [$year, $mon, $day] = self::civilFromDays($days);
        $wday = ($days + 4) % 7;
        return \sprintf(
            '%s, %02d %s %04d %02d:%02d:%02d GMT',
            substr(self::WDAYS[$wday], 0, 3),
            $day,
            self::MONTHS[$mon - 1],
            $year,
            intdiv($secs, 3600),
            intdiv($secs, 60) % 60,
            $secs % 60,
        );
    }

    /**
     * @param array{0: int, 1: int, 2: int, 3: int, 4: int, 5: int, 6: int} $p year, mon, day, hour, min, sec, wday
     */
    private static function toUnix(array $p): ?int
    {
        [$year, $mon, $day, $hour, $min, $sec, $wday] = $p;
        $ok = $year >= 1970 && $year <= 9999 && $mon >= 1 && $mon <= 12 && $day >= 1
            && $day <= self::daysInMonth($year, $mon) && $hour < 24 && $min < 60 && $sec < 60;
        if (!$ok) {
            return null;
        }
        $days = self::daysFromCivil($year, $mon, $day);
        if (($days + 4) % 7 !== $wday) {
            return null;
        }
        return $days * 86_400 + $hour * 3600 + $min * 60 + $sec;
    }

    private static function isLeap(int $y): bool
    {
        return $y % 4 === 0 && ($y % 100 !== 0 || $y % 400 === 0);
    }

    private static function daysInMonth(int $y, int $m): int
    {
        return match ($m) {
            2 => self::isLeap($y) ? 29 : 28,
            4, 6, 9, 11 => 30,
            default => 31,
        };
    }

    /** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm; years >= 1970 here). */
    private static function daysFromCivil(int $y, int $m, int $d): int
    {
        $y = $m <= 2 ? $y - 1 : $y;
        $era = intdiv($y, 400);
        $yoe = $y - $era * 400;
        $mp = ($m + 9) % 12;
        $doy = intdiv(153 * $mp + 2, 5) + $d - 1;
        $doe = $yoe * 365 + intdiv($yoe, 4) - intdiv($yoe, 100) + $doy;
        return $era * 146_097 + $doe - 719_468;
    }

    /**
     * @return array{0: int, 1: int, 2: int}
     */
    private static function civilFromDays(int $z): array
    {
        $z += 719_468;
        $era = intdiv($z, 146_097);
        $doe = $z - $era * 146_097;
        $yoe = intdiv($doe - intdiv($doe, 1460) + intdiv($doe, 36_524) - intdiv($doe, 146_096), 365);
        $doy = $doe - (365 * $yoe + intdiv($yoe, 4) - intdiv($yoe, 100));
        $mp = intdiv(5 * $doy + 2, 153);
        $d = $doy - intdiv(153 * $mp + 2, 5) + 1;
        $m = $mp < 10 ? $mp + 3 : $mp - 9;
        return [$yoe + $era * 400 + ($m <= 2 ? 1 : 0), $m, $d];
    }

    /** Digits only, no sign, no spaces. */
    private static function num(string $s): ?int
    {
        if ($s === '' || strspn($s, '0123456789') !== \strlen($s)) {
            return null;
        }
        return (int) $s;
    }

    /**
     * `hh:mm:ss`.
     *
     * @return array{0: int, 1: int, 2: int}|null
     */
    private static function time(string $s): ?array
    {
        if (\strlen($s) !== 8 || $s[2] !== ':' || $s[5] !== ':') {
            return null;
        }
        $h = self::num(substr($s, 0, 2));
        $m = self::num(substr($s, 3, 2));
        $sec = self::num(substr($s, 6, 2));
        return $h === null || $m === null || $sec === null ? null : [$h, $m, $sec];
    }

    /**
     * @param array{0: int, 1: int, 2: int}|null $time
     * @return array{0: int, 1: int, 2: int, 3: int, 4: int, 5: int, 6: int}|null
     */
    private static function parts(?int $year, ?int $mon, ?int $day, ?array $time, ?int $wday): ?array
    {
        if ($year === null || $mon === null || $day === null || $time === null || $wday === null) {
            return null;
        }
        return [$year, $mon, $day, $time[0], $time[1], $time[2], $wday];
    }

    /** `Sun, 06 Nov 1994 08:49:37 GMT` */
    private static function imfFixdate(string $s): ?array
    {
        if (\strlen($s) !== 29 || substr($s, 3, 2) !== ', ' || $s[7] !== ' ' || $s[11] !== ' ' || $s[16] !== ' '
            || substr($s, 25) !== ' GMT') {
            return null;
        }
        return self::parts(
            self::num(substr($s, 12, 4)),
            self::MONTH_NUM[substr($s, 8, 3)] ?? null,
            self::num(substr($s, 5, 2)),
            self::time(substr($s, 17, 8)),
            self::SHORT_WDAYS[substr($s, 0, 3)] ?? null,
        );
    }

    /** `Sunday, 06-Nov-94 08:49:37 GMT` (two-digit years: 70–99 are 19xx, the rest 20xx). */
    private static function rfc850(string $s): ?array
    {
        $comma = strpos($s, ',');
        if ($comma === false) {
            return null;
        }
        $wday = self::LONG_WDAYS[substr($s, 0, $comma)] ?? null;
        if ($wday === null) {
            return null;
        }
        $r = substr($s, $comma);
        if (\strlen($r) !== 24 || $r[1] !== ' ' || $r[4] !== '-' || $r[8] !== '-' || $r[11] !== ' '
            || substr($r, 20) !== ' GMT') {
            return null;
        }
        $yy = self::num(substr($r, 9, 2));
        if ($yy === null) {
            return null;
        }
        $time = self::time(substr($r, 12, 8));
        if ($time === null) {
            return null;
        }
        return self::parts(
            $yy < 70 ? 2000 + $yy : 1900 + $yy,
            self::MONTH_NUM[substr($r, 5, 3)] ?? null,
            self::num(substr($r, 2, 2)),
            $time,
            $wday,
        );
    }

    /** `Sun Nov  6 08:49:37 1994` */
    private static function asctime(string $s): ?array
    {
        if (\strlen($s) !== 24 || $s[3] !== ' ' || $s[7] !== ' ' || $s[10] !== ' ' || $s[19] !== ' ') {
            return null;
        }
        $day = $s[8] === ' ' ? self::num($s[9]) : self::num(substr($s, 8, 2));
        return self::parts(
            self::num(substr($s, 20, 4)),
            self::MONTH_NUM[substr($s, 4, 3)] ?? null,
            $day,
            self::time(substr($s, 11, 8)),
            self::SHORT_WDAYS[substr($s, 0, 3)] ?? null,
        );
    }
}

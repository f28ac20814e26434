//! HTTP-dates (RFC 9110 §5.6.7): the IMF-fixdate a server sends, and the two
//! obsolete forms a recipient must still accept, for `Date` and `Retry-After`.
//!
//! A date is accepted only when every field is in range, the day exists in its
//! month, and the weekday is the right one for the date; years 1970–9999.

/// Parses an HTTP-date to unix seconds (surrounding whitespace allowed).
///
/// ```
/// use tessera_core::internals::httpdate::parse;
/// assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
/// assert_eq!(parse("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777));
/// assert_eq!(parse("Sun Nov  6 08:49:37 1994"), Some(784_111_777));
/// assert_eq!(parse("Mon, 06 Nov 1994 08:49:37 GMT"), None); // wrong weekday
/// ```
pub fn parse(text: &str) -> Option<i64> {
    let s = text.trim().as_bytes();
    let d = imf_fixdate(s).or_else(|| rfc850(s)).or_else(|| asctime(s))?;
    d.to_unix()
}

/// Formats unix seconds as an IMF-fixdate, clamped to 1970–9999.
///
/// ```
/// assert_eq!(tessera_core::internals::httpdate::format(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn format(unix_secs: i64) -> String {
    // 253402300799 is 9999-12-31T23:59:59Z.
    let t = unix_secs.clamp(0, 253_402_300_799);
    let (days, secs) = (t / 86_400, t % 86_400);
    let (year, mon, day) = civil_from_days(days);
    let wday = ((days + 4) % 7) as usize; // 1970-01-01 was a Thursday
    let mut out = String::with_capacity(29);
    out.push_str(&WDAYS[wday][..3]);
    out.push_str(", ");
    push2(&mut out, day as u32);
    out.push(' ');
    out.push_str(MONTHS[mon as usize - 1]);
    out.push(' ');
    push2(&mut out, (year / 100) as u32);
    push2(&mut out, (year % 100) as u32);
    out.push(' ');
    push2(&mut out, (secs / 3600) as u32);
    out.push(':');
    push2(&mut out, (secs / 60 % 60) as u32);
    out.push(':');
    push2(&mut out, (secs % 60) as u32);
    out.push_str(" GMT");
    out
}

fn push2(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Weekday names from Sunday (index 0), full form; the short form is the first three letters.
const WDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

struct Parts {
    year: i64,
    mon: i64,
    day: i64,
    hour: i64,
    min: i64,
    sec: i64,
    /// 0 = Sunday.
    wday: usize,
}

impl Parts {
    fn to_unix(&self) -> Option<i64> {
        let ok = (1970..=9999).contains(&self.year)
            && (1..=12).contains(&self.mon)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.mon)
            && self.hour < 24
            && self.min < 60
            && self.sec < 60;
        if !ok {
            return None;
        }
        let days = days_from_civil(self.year, self.mon, self.day);
        if (days + 4).rem_euclid(7) as usize != self.wday {
            return None;
        }
        Some(days * 86_400 + self.hour * 3600 + self.min * 60 + self.sec)
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: `(year, month, day)` of a day count
/// since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Digits only, no sign, no spaces.
fn num(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

fn month(s: &[u8]) -> Option<i64> {
    MONTHS.iter().position(|m| m.as_bytes() == s).map(|i| i as i64 + 1)
}

fn short_wday(s: &[u8]) -> Option<usize> {
    WDAYS.iter().position(|w| &w.as_bytes()[..3] == s)
}

/// `hh:mm:ss` at `s[..8]`.
fn time(s: &[u8]) -> Option<(i64, i64, i64)> {
    if s.len() != 8 || s[2] != b':' || s[5] != b':' {
        return None;
    }
    Some((num(&s[0..2])?, num(&s[3..5])?, num(&s[6..8])?))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn imf_fixdate(s: &[u8]) -> Option<Parts> {
    if s.len() != 29 || &s[3..5] != b", " || s[7] != b' ' || s[11] != b' ' || s[16] != b' ' || &s[25..] != b" GMT" {
        return None;
    }
    let (hour, min, sec) = time(&s[17..25])?;
    Some(Parts {
        wday: short_wday(&s[..3])?,
        day: num(&s[5..7])?,
        mon: month(&s[8..11])?,
        year: num(&s[12..16])?,
        hour,
        min,
        sec,
    })
}

/// `Sunday, 06-Nov-94 08:49:37 GMT` (two-digit years: 70–99 are 19xx, the rest 20xx).
fn rfc850(s: &[u8]) -> Option<Parts> {
    let comma = s.iter().position(|&b| b == b',')?;
    let wday = WDAYS.iter().position(|w| w.as_bytes() == &s[..comma])?;
    let r = &s[comma..];
    if r.len() != 24 || r[1] != b' ' || r[4] != b'-' || r[8] != b'-' || r[11] != b' ' || &r[20..] != b" GMT" {
        return None;
    }
    let yy = num(&r[9..11])?;
    let (hour, min, sec) = time(&r[12..20])?;
    Some(Parts {
        wday,
        day: num(&r[2..4])?,
        mon: month(&r[5..8])?,
        year: if yy < 70 { 2000 + yy } else { 1900 + yy },
        hour,
        min,
        sec,
    })
}

/// `Sun Nov  6 08:49:37 1994`
fn asctime(s: &[u8]) -> Option<Parts> {
    if s.len() != 24 || s[3] != b' ' || s[7] != b' ' || s[10] != b' ' || s[19] != b' ' {
        return None;
    }
    let day = if s[8] == b' ' { num(&s[9..10])? } else { num(&s[8..10])? };
    let (hour, min, sec) = time(&s[11..19])?;
    Some(Parts { wday: short_wday(&s[..3])?, mon: month(&s[4..7])?, day, year: num(&s[20..24])?, hour, min, sec })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_across_the_range() {
        // Every day boundary from 1970 to 2100 and a few far dates.
        let mut t = 0;
        while t < 4_102_444_800 {
            assert_eq!(parse(&format(t)), Some(t), "{t} {}", format(t));
            t += 86_400 - 1;
        }
        for t in [951_782_400, 951_868_799, 4_107_542_400, 253_402_300_799] {
            assert_eq!(parse(&format(t)), Some(t), "{}", format(t));
        }
        assert_eq!(format(-5), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(format(i64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn obsolete_forms() {
        assert_eq!(parse("Thursday, 01-Jan-70 00:00:00 GMT"), Some(0));
        assert_eq!(parse("Saturday, 01-Jan-00 00:00:00 GMT"), Some(946_684_800));
        assert_eq!(parse("Thu Jan  1 00:00:00 1970"), Some(0));
        assert_eq!(parse("Sat Jan 01 00:00:00 2000"), Some(946_684_800));
        assert_eq!(parse("  Sun, 06 Nov 1994 08:49:37 GMT\t"), Some(784_111_777));
    }

    #[test]
    fn rejects_impossible_and_malformed_dates() {
        for s in [
            "",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Sun,  6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:37 GMT",
            "Sun, 06 Nov 1994 08:49:60 GMT",
            "Thu, 29 Feb 2001 00:00:00 GMT",
            "Mon, 31 Apr 2000 00:00:00 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 GMTé",
            "Sonntag, 06-Nov-94 08:49:37 GMT",
            "1994-11-06T08:49:37Z",
        ] {
            assert_eq!(parse(s), None, "{s:?}");
        }
        assert_eq!(parse("Tue, 29 Feb 2000 00:00:00 GMT"), Some(951_782_400));
    }
}

//! `Retry-After` and `Date` parsing: the first line is `<now>`, the rest the
//! header value, for `parse_http_date` and `parse_retry_after`. Asserts: no
//! panic; a parsed date is at or after the epoch and formats back to a date
//! that parses to the same second; a `Retry-After` is at most a day, equals
//! the delay-seconds (×1000, capped) when it is digits, and the distance from
//! `now` to the date (never negative) when it is a date.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::internals::classify::{fmt_http_date, parse_http_date, parse_retry_after};
use tessera_fuzz::parse_now;

const DAY_MS: u64 = 86_400_000;

fuzz_target!(|data: &[u8]| {
    let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let now = parse_now(&String::from_utf8_lossy(&data[..end]));
    let value = String::from_utf8_lossy(&data[(end + 1).min(data.len())..]);

    let date = parse_http_date(&value);
    if let Some(t) = date {
        assert!(t >= 0);
        assert_eq!(parse_http_date(&fmt_http_date(t)), Some(t), "{value:?}");
    }
    let Some(ms) = parse_retry_after(&value, now) else { return };
    assert!(ms <= DAY_MS);
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = v.parse().expect("at most 10 digits");
        assert_eq!(ms, secs.saturating_mul(1000).min(DAY_MS));
    } else {
        let t = date.expect("a Retry-After that is not digits is a date");
        assert_eq!(ms, ((t - now).max(0) as u64).saturating_mul(1000).min(DAY_MS));
    }
});

//! Feeds a framed response (start line `<now> <status>`, header lines, blank
//! line, body; see `src/lib.rs`) to `classify`. Asserts the documented table
//! as invariants: 2xx is `ok` with no code; 429 and only 429 is
//! `rate_limited`, and only it carries a `Retry-After`, capped at a day; 5xx
//! and 408 are `server_unavailable`; codes are sanitised (1-64 of
//! `[A-Za-z0-9_.-]`); a `Date` read back formats and parses to itself; only
//! `ok` maps to no error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::internals::classify::{fmt_http_date, parse_http_date};
use tessera_core::{OutcomeKind, Response, classify};
use tessera_fuzz::{Message, parse_now};

fuzz_target!(|data: &[u8]| {
    let m = Message::parse(data);
    let now = parse_now(m.field(0));
    let status = m.field(1).parse::<u16>().unwrap_or(0);
    let resp = Response { status, headers: m.headers, body: m.body };
    let o = classify(&resp, now);
    assert_eq!(o.status, status);
    match status {
        200..=299 => assert!(o.kind == OutcomeKind::Ok && o.code.is_none()),
        429 => assert_eq!(o.kind, OutcomeKind::RateLimited),
        408 | 500..=599 => assert_eq!(o.kind, OutcomeKind::ServerUnavailable),
        _ => assert!(!matches!(o.kind, OutcomeKind::Ok | OutcomeKind::RateLimited | OutcomeKind::ServerUnavailable)),
    }
    if let Some(ms) = o.retry_after_ms {
        assert!(status == 429 && ms <= 86_400_000);
    }
    if let Some(code) = &o.code {
        assert!(!code.is_empty() && code.len() <= 64);
        assert!(code.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')), "{code:?}");
    }
    if let Some(d) = o.server_date {
        assert_eq!(parse_http_date(&fmt_http_date(d)), Some(d));
    }
    assert_eq!(o.to_error(1).is_none(), o.kind == OutcomeKind::Ok);
});

//! `classify.rs`: how much of an error body is read for its code.

use tessera_core::Response;
use tessera_core::internals::classify::error_code;
use tessera_core::{OutcomeKind, classify};

/// Largest error body whose code is read (64 KiB).
const LIMIT: usize = 64 * 1024;

/// `{"error":"stora_reconnect_required"   …   }`, padded with JSON
/// whitespace to exactly `len` bytes.
fn reconnect_body(len: usize) -> Vec<u8> {
    let head = br#"{"error":"stora_reconnect_required""#;
    let mut body = head.to_vec();
    body.resize(len - 1, b' ');
    body.push(b'}');
    body
}

#[test]
fn error_body_at_the_limit_keeps_its_code() {
    let body = reconnect_body(LIMIT);
    assert_eq!(error_code(&body).as_deref(), Some("stora_reconnect_required"));
    let outcome = classify(&Response::new(401, body), 0);
    assert_eq!(outcome.kind, OutcomeKind::ReconnectRequired);
    assert_eq!(outcome.to_error(1).unwrap().code(), "reconnect_required");
}

#[test]
fn error_body_one_byte_over_the_limit_is_not_read() {
    // Too big to inspect: a plain 401 client error, not a reconnect.
    let body = reconnect_body(LIMIT + 1);
    assert_eq!(error_code(&body), None);
    let outcome = classify(&Response::new(401, body), 0);
    assert_eq!(outcome.kind, OutcomeKind::ClientError);
    assert_eq!(outcome.code, None);
    assert_eq!(outcome.to_error(1).unwrap().code(), "client_error");
}

#[test]
fn error_body_far_over_the_limit_is_not_read() {
    let body = reconnect_body(2 * LIMIT);
    assert_eq!(error_code(&body), None);
    assert_eq!(classify(&Response::new(401, body), 0).kind, OutcomeKind::ClientError);
}

#[test]
fn empty_error_body_has_no_code() {
    assert_eq!(error_code(b""), None);
    assert_eq!(classify(&Response::new(401, Vec::new()), 0).kind, OutcomeKind::ClientError);
}

// ---- Stora's answers: RateLimit-Reset, the nested error body, Tessera-Origin -----------------

fn reset(value: &str, now: i64) -> Option<u64> {
    tessera_core::internals::classify::parse_ratelimit_reset(value, now)
}

#[test]
fn ratelimit_reset_of_twelve_digits_is_read() {
    // 999_999_999_999 is absolute: far beyond now, capped at a day.
    assert_eq!(reset("999999999999", 1_700_000_000), Some(86_400_000));
    assert_eq!(reset("001700000005", 1_700_000_000), Some(5000), "leading zeros count toward the twelve");
}

#[test]
fn ratelimit_reset_of_thirteen_digits_is_refused() {
    assert_eq!(reset("1700000000000", 0), None);
    assert_eq!(reset("0000000000004", 0), None);
}

#[test]
fn ratelimit_reset_refuses_empty_signed_and_spaced_values() {
    for bad in ["", " ", "-4", "+4", "4 5", "4s", "1e9"] {
        assert_eq!(reset(bad, 0), None, "{bad:?}");
    }
    assert_eq!(reset(" 4 ", 0), Some(4000), "surrounding space is trimmed");
}

#[test]
fn ratelimit_reset_switches_to_absolute_at_one_billion() {
    // 999_999_999 s is a delay (capped at a day); 1_000_000_000 is a time.
    assert_eq!(reset("999999999", 1_000_000_000), Some(86_400_000));
    assert_eq!(reset("1000000000", 1_000_000_000), Some(0));
    assert_eq!(reset("1000000005", 1_000_000_000), Some(5000));
    assert_eq!(reset("1000000005", 1_000_000_010), Some(0), "a past reset means now");
}

#[test]
fn nested_error_reads_code_and_request_id_only_from_the_object() {
    let r = Response::new(409, br#"{"error":{"code":"conflict","request_id":"req_1"},"code":"top"}"#.to_vec());
    let o = classify(&r, 0);
    assert_eq!((o.code.as_deref(), o.request_id.as_deref()), (Some("conflict"), Some("req_1")));
    let r = Response::new(409, br#"{"error":{"request_id":"req_1"},"code":"top"}"#.to_vec());
    assert_eq!(classify(&r, 0).code, None, "an object error without code is not the top-level code");
    let r = Response::new(409, br#"{"error":5,"code":"top"}"#.to_vec());
    assert_eq!(classify(&r, 0).code.as_deref(), Some("top"));
    assert_eq!(classify(&r, 0).request_id, None);
}

#[test]
fn api_error_is_upstream_failed_only_for_a_4xx() {
    let body = br#"{"error":{"code":"api_error"}}"#.to_vec();
    assert_eq!(classify(&Response::new(400, body.clone()), 0).kind, OutcomeKind::UpstreamFailed);
    assert_eq!(classify(&Response::new(499, body.clone()), 0).kind, OutcomeKind::UpstreamFailed);
    assert_eq!(classify(&Response::new(500, body.clone()), 0).kind, OutcomeKind::ServerUnavailable);
    assert_eq!(classify(&Response::new(200, body), 0).kind, OutcomeKind::Ok);
}

#[test]
fn only_tessera_origin_stora_marks_stora() {
    for (value, stora) in [("stora", true), (" STORA ", true), ("broker", false), ("storax", false), ("", false)] {
        let r = Response::new(500, vec![]).with_header("Tessera-Origin", value);
        assert_eq!(classify(&r, 0).from_stora, stora, "{value:?}");
    }
    assert!(!classify(&Response::new(500, vec![]), 0).from_stora);
}

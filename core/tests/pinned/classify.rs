//! `classify.rs`: how much of an error body is read for its code.

use tessera_core::Response;
use tessera_core::classify::{OutcomeKind, classify, error_code};

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

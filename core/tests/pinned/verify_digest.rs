//! `core/src/verify.rs`: the body bound and the Content-Digest check, both
//! the direct `sha-256=:…:` path and the general structured-field path.

use tessera_core::internals::encoding::b64_encode;
use tessera_core::internals::http::MAX_BODY;
use tessera_core::internals::sfv::MAX_FIELD_LEN;
use tessera_core::internals::signature::content_digest;
use tessera_core::{Error, MemoryReplayStore, Request, Verifier};

use super::verify::{NOW, REQUIRED, check, input, sign, unsigned, verify_with};

/// `content_digest(b"")` without its `sha-256=` prefix: `:…:`.
fn empty_sha256() -> String {
    content_digest(b"").strip_prefix("sha-256=").unwrap().to_owned()
}

/// An empty-body request whose Content-Digest field lines are `lines`, signed.
fn with_digest(lines: &[&str]) -> Request {
    let mut req = unsigned();
    req.headers.clear();
    for line in lines {
        req.headers.push(("content-digest".into(), (*line).into()));
    }
    sign(req, &input(REQUIRED, NOW, "n1", "ins_a"))
}

fn malformed(req: &Request) -> Error {
    verify_with(&Verifier::default(), req, NOW, &mut MemoryReplayStore::new(1)).unwrap_err()
}

#[test]
fn body_of_exactly_max_body_passes_the_bound_one_more_byte_is_refused() {
    // The bound comes before everything else (even before hashing): the
    // unsigned request at the limit gets as far as the missing signature.
    for (len, want) in [(MAX_BODY, "signature_missing"), (MAX_BODY + 1, "too_large")] {
        let req = Request {
            method: "POST".into(),
            url: "https://broker.example/api/orders".into(),
            headers: vec![("content-digest".into(), content_digest(b""))],
            body: vec![b'x'; len],
        };
        assert_eq!(check(&req, NOW), want, "{len} bytes");
    }
}

#[test]
fn body_must_match_the_digest() {
    let mut req = sign(unsigned(), &input(REQUIRED, NOW, "n1", "ins_a"));
    req.body = b"x".to_vec();
    assert_eq!(check(&req, NOW), "digest_mismatch");
}

#[test]
fn sha256_is_found_among_several_algorithms_and_parameters() {
    let sha256 = empty_sha256();
    let other = format!(":{}:", b64_encode(&[9; 64]));
    for lines in [
        vec![format!("sha-512={other}, sha-256={sha256}")],
        vec![format!("sha-256={sha256}, sha-512={other}")],
        vec![format!("sha-256={sha256};p=1")],
        // Two field lines are one field.
        vec![format!("sha-512={other}"), format!("sha-256={sha256}")],
    ] {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(check(&with_digest(&lines), NOW), "ok", "{lines:?}");
    }
}

#[test]
fn a_wrong_sha256_among_several_algorithms_is_a_mismatch() {
    let wrong = b64_encode(&[0; 32]);
    let req = with_digest(&[&format!("sha-512={}, sha-256=:{wrong}:", empty_sha256())]);
    assert_eq!(check(&req, NOW), "digest_mismatch");
}

#[test]
fn content_digest_without_a_sha256_byte_sequence_is_malformed() {
    let sha256 = empty_sha256();
    let b64 = sha256.trim_matches(':');
    for (line, want) in [
        (format!("sha-256=\"{b64}\""), "content-digest sha-256 must be a byte sequence"),
        (format!("sha-256=?1, sha-512={sha256}"), "content-digest sha-256 must be a byte sequence"),
        (format!("sha-256=({sha256})"), "content-digest lacks sha-256"),
        (format!("sha-512={sha256}"), "content-digest lacks sha-256"),
    ] {
        assert_eq!(malformed(&with_digest(&[&line])), Error::SignatureMalformed(want), "{line}");
    }
    assert_eq!(malformed(&with_digest(&["sha-256=:not base64:"])).code(), "signature_malformed");
}

#[test]
fn a_missing_content_digest_is_malformed() {
    let mut req = sign(unsigned(), &input(REQUIRED, NOW, "n1", "ins_a"));
    req.headers.retain(|(k, _)| k != "content-digest");
    assert_eq!(malformed(&req), Error::SignatureMalformed("content-digest is missing"));
}

#[test]
fn a_lone_sha256_byte_sequence_is_read_without_the_parser_length_bound() {
    // `sha-256=:…:` alone is decoded directly, at any length (then it is
    // simply not the body's digest); the same bytes in any other shape go
    // through the parser, which refuses a field over 8 KiB.
    let long = format!("sha-256=:{}:", b64_encode(&[1; 6_200]));
    assert!(long.len() > MAX_FIELD_LEN);
    assert_eq!(check(&with_digest(&[&long]), NOW), "digest_mismatch");
    assert_eq!(malformed(&with_digest(&[&format!("{long};p=1")])), Error::SignatureMalformed("field too long"));
}

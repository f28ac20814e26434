//! `core/src/verify.rs`: the broker-side checks of the signature profile and
//! the per-installation replay store. The Content-Digest and body checks are
//! in `verify_digest.rs`.

use tessera_core::internals::encoding::b64_encode;
use tessera_core::internals::signature::{content_digest, hmac_sign_generic};
use tessera_core::{Error, MemoryReplayStore, ReplayStore, Request, Result, Secret, Verified, Verifier};

pub const NOW: i64 = 1_700_000_000;
pub const SECRET: [u8; 32] = [7; 32];
/// The components the profile requires, in order.
pub const REQUIRED: &str = r#""@method" "@authority" "@path" "@query" "content-digest""#;

/// A `tessera` signature-input member covering `components`, with the
/// profile's parameters (`expires = created + 300`).
pub fn input(components: &str, created: i64, nonce: &str, keyid: &str) -> String {
    format!(
        r#"tessera=({components});created={created};expires={};nonce="{nonce}";alg="hmac-sha256";keyid="{keyid}";tag="tessera-v1""#,
        created + 300
    )
}

/// A GET with an empty body and its Content-Digest, not yet signed.
pub fn unsigned() -> Request {
    Request {
        method: "GET".into(),
        url: "https://broker.example/api/orders?page=2".into(),
        headers: vec![("content-digest".into(), content_digest(b""))],
        body: Vec::new(),
    }
}

/// `req` signed with [`SECRET`] as any RFC 9421 signer would, for `input`.
pub fn sign(mut req: Request, input: &str) -> Request {
    let (_, sig) = hmac_sign_generic(&req, input, &SECRET).unwrap();
    req.headers.push(("signature-input".into(), input.into()));
    req.headers.push(("signature".into(), sig));
    req
}

/// A profile-conforming request created at `created`.
pub fn signed(created: i64, nonce: &str) -> Request {
    sign(unsigned(), &input(REQUIRED, created, nonce, "ins_a"))
}

pub fn verify_with(v: &Verifier, req: &Request, now: i64, store: &mut MemoryReplayStore) -> Result<Verified> {
    v.verify(req, now, &mut |_| Some(Secret::from_bytes(&SECRET).unwrap()), store)
}

/// The outcome's error code, or `"ok"`.
pub fn code(r: Result<Verified>) -> &'static str {
    r.map_or_else(|e| e.code(), |_| "ok")
}

/// Verifies `req` at `now` with the default verifier and a fresh store.
pub fn check(req: &Request, now: i64) -> &'static str {
    code(verify_with(&Verifier::default(), req, now, &mut MemoryReplayStore::new(10)))
}

/// `req` with its `signature` field replaced by `value`.
fn with_signature(mut req: Request, value: &str) -> Request {
    req.headers.retain(|(k, _)| k != "signature");
    req.headers.push(("signature".into(), value.into()));
    req
}

/// The base64 MAC of a signed request (between the colons of `tessera=:…:`).
fn mac_of(req: &Request) -> String {
    let sig = req.header("signature").unwrap();
    sig.strip_prefix("tessera=:").unwrap().strip_suffix(':').unwrap().to_owned()
}

// --- Replay store ---

#[test]
fn replay_store_counts_live_entries_per_installation() {
    let mut s = MemoryReplayStore::new(5);
    assert!(s.is_empty());
    assert_eq!(s.len(), 0);
    s.check_and_insert("ins_a:1", 100, 0).unwrap();
    assert!(!s.is_empty());
    s.check_and_insert("ins_a:2", 200, 0).unwrap();
    s.check_and_insert("ins_b:1", 100, 0).unwrap();
    assert_eq!((s.len(), s.len_for("ins_a"), s.len_for("ins_b"), s.len_for("ins_c")), (3, 2, 1, 0));
    // One of ins_a's two entries expires: it keeps the other.
    s.check_and_insert("ins_c:1", 300, 101).unwrap();
    assert_eq!((s.len(), s.len_for("ins_a"), s.len_for("ins_b"), s.len_for("ins_c")), (2, 1, 0, 1));
}

#[test]
fn replay_store_share_is_per_installation_not_shared() {
    let mut s = MemoryReplayStore::new(1);
    s.check_and_insert("ins_a:n", 100, 0).unwrap();
    s.check_and_insert("ins_b:n", 100, 0).unwrap();
    assert_eq!(s.check_and_insert("ins_a:m", 100, 0), Err(Error::ReplayStoreFull));
    assert_eq!((s.len_for("ins_a"), s.len_for("ins_b")), (1, 1));
}

#[test]
fn replay_store_entry_lives_until_its_expiry_inclusive() {
    let mut s = MemoryReplayStore::new(1);
    s.check_and_insert("ins_a:n", 100, 0).unwrap();
    assert_eq!(s.check_and_insert("ins_a:n", 100, 100), Err(Error::Replayed));
    assert_eq!(s.check_and_insert("ins_a:m", 200, 100), Err(Error::ReplayStoreFull));
    // At expiry + 1 the nonce is forgotten and the share is free again.
    s.check_and_insert("ins_a:m", 200, 101).unwrap();
    assert_eq!((s.len(), s.len_for("ins_a")), (1, 1));
    s.check_and_insert("ins_a:n", 300, 201).unwrap();
    assert_eq!((s.len(), s.len_for("ins_a")), (1, 1));
}

// --- Profile parameters ---

#[test]
fn a_conforming_request_verifies_and_reports_what_it_established() {
    let v = verify_with(&Verifier::default(), &signed(NOW, "n1"), NOW, &mut MemoryReplayStore::new(1)).unwrap();
    assert_eq!((v.install_id.as_str(), v.nonce.as_str(), v.created, v.expires), ("ins_a", "n1", NOW, NOW + 300));
    assert_eq!((v.idempotency_key, v.bearer.is_none()), (None, true));
}

#[test]
fn header_names_are_matched_case_insensitively() {
    let mut req = signed(NOW, "n1");
    for (k, _) in &mut req.headers {
        *k = k.to_ascii_uppercase();
    }
    assert_eq!(check(&req, NOW), "ok");
}

#[test]
fn a_header_as_long_as_a_profile_header_is_not_mistaken_for_it() {
    // `content-length` has the length of `content-digest`.
    let mut req = unsigned();
    req.headers.push(("content-length".into(), "0".into()));
    assert_eq!(check(&sign(req, &input(REQUIRED, NOW, "n1", "ins_a")), NOW), "ok");
}

#[test]
fn nonce_must_be_a_profile_token_whatever_the_keyid() {
    for nonce in ["n!", "n n", "n".repeat(129).as_str()] {
        let req = sign(unsigned(), &input(REQUIRED, NOW, nonce, "ins_a"));
        assert_eq!(
            verify_with(&Verifier::default(), &req, NOW, &mut MemoryReplayStore::new(1)),
            Err(Error::SignatureMalformed("nonce and keyid must be [A-Za-z0-9._~-]")),
            "nonce {nonce:?}"
        );
    }
    let longest = sign(unsigned(), &input(REQUIRED, NOW, &"n".repeat(128), "ins_a"));
    assert_eq!(check(&longest, NOW), "ok");
}

#[test]
fn keyid_must_be_a_profile_token_whatever_the_nonce() {
    let req = sign(unsigned(), &input(REQUIRED, NOW, "n1", "ins a"));
    assert_eq!(
        verify_with(&Verifier::default(), &req, NOW, &mut MemoryReplayStore::new(1)),
        Err(Error::SignatureMalformed("nonce and keyid must be [A-Za-z0-9._~-]"))
    );
}

#[test]
fn unknown_mistyped_or_missing_parameters_are_refused() {
    let good = input(REQUIRED, NOW, "n1", "ins_a");
    for bad in [
        good.replace(";tag=", ";extra=1;tag="),
        good.replace(&format!("created={NOW}"), &format!("created=\"{NOW}\"")),
        good.replace(r#"alg="hmac-sha256""#, "alg=hmac-sha256"),
        good.replace(r#";tag="tessera-v1""#, ""),
        good.replace(r#""hmac-sha256""#, r#""hmac-sha512""#),
        good.replace(r#""tessera-v1""#, r#""tessera-v2""#),
    ] {
        assert_eq!(check(&sign(unsigned(), &bad), NOW), "signature_malformed", "{bad}");
    }
}

// --- Covered components ---

#[test]
fn every_derived_component_must_be_covered() {
    // Covering content-digest alone is not enough: each of @method,
    // @authority, @path and @query left out is refused.
    for left_out in ["\"@method\" ", "\"@authority\" ", "\"@path\" ", "\"@query\" "] {
        let components = REQUIRED.replace(left_out, "");
        let req = sign(unsigned(), &input(&components, NOW, "n1", "ins_a"));
        assert_eq!(
            verify_with(&Verifier::default(), &req, NOW, &mut MemoryReplayStore::new(1)),
            Err(Error::SignatureMalformed("a required component is not covered")),
            "{components}"
        );
    }
}

#[test]
fn a_component_outside_the_profile_is_refused() {
    let mut req = unsigned();
    req.headers.push(("date".into(), "Tue, 14 Nov 2023 22:13:20 GMT".into()));
    for extra in [" \"date\"", " \"@scheme\""] {
        let signed = sign(req.clone(), &input(&format!("{REQUIRED}{extra}"), NOW, "n1", "ins_a"));
        assert_eq!(
            verify_with(&Verifier::default(), &signed, NOW, &mut MemoryReplayStore::new(1)),
            Err(Error::SignatureMalformed("covers a component outside the profile")),
            "{extra}"
        );
    }
}

#[test]
fn a_present_profile_header_must_be_covered() {
    for (name, value) in
        [("content-type", "application/json"), ("idempotency-key", "k1"), ("authorization", "Bearer t")]
    {
        let mut req = unsigned();
        req.headers.push((name.into(), value.into()));
        let uncovered = sign(req.clone(), &input(REQUIRED, NOW, "n1", "ins_a"));
        assert_eq!(
            verify_with(&Verifier::default(), &uncovered, NOW, &mut MemoryReplayStore::new(1)),
            Err(Error::SignatureMalformed("a present profile header is not covered")),
            "{name}"
        );
        let covered = sign(req, &input(&format!("{REQUIRED} \"{name}\""), NOW, "n1", "ins_a"));
        assert_eq!(check(&covered, NOW), "ok", "{name}");
    }
}

// --- The signature field ---

#[test]
fn signature_must_be_exactly_32_bytes() {
    let req = signed(NOW, "n1");
    for len in [31, 33, 0] {
        let short = with_signature(req.clone(), &format!("tessera=:{}:", b64_encode(&vec![1; len])));
        assert_eq!(
            verify_with(&Verifier::default(), &short, NOW, &mut MemoryReplayStore::new(1)),
            Err(Error::SignatureMalformed("signature must be a 32-byte byte sequence")),
            "{len} bytes"
        );
    }
}

#[test]
fn signature_in_another_shape_goes_through_the_parser() {
    let req = signed(NOW, "n1");
    let mac = mac_of(&req);
    // The right MAC with a parameter, or among other members, verifies.
    for ok in [format!("tessera=:{mac}:;p=1"), format!("other=:AAAA:, tessera=:{mac}:")] {
        assert_eq!(check(&with_signature(req.clone(), &ok), NOW), "ok", "{ok}");
    }
    let wrong = b64_encode(&[1; 32]);
    assert_eq!(check(&with_signature(req.clone(), &format!("tessera=:{wrong}:;p=1")), NOW), "signature_invalid");
    for (value, want) in [
        (format!("tessera=:{}:;p=1", b64_encode(&[1; 31])), "signature must be a 32-byte byte sequence"),
        (format!("tessera=:{}:;p=1", b64_encode(&[1; 33])), "signature must be a 32-byte byte sequence"),
        ("tessera=\"abc\"".to_owned(), "signature must be a 32-byte byte sequence"),
        (format!("tessera=(:{mac}:)"), "signature must be a byte sequence"),
    ] {
        assert_eq!(
            verify_with(
                &Verifier::default(),
                &with_signature(req.clone(), &value),
                NOW,
                &mut MemoryReplayStore::new(1)
            ),
            Err(Error::SignatureMalformed(want)),
            "{value}"
        );
    }
    assert_eq!(check(&with_signature(req, &format!("other=:{mac}:")), NOW), "signature_missing");
}

// --- Time ---

#[test]
fn window_secs_must_be_0_to_a_day() {
    let req = signed(NOW, "n1");
    for window_secs in [-1, 86_401] {
        let r = verify_with(&Verifier { window_secs }, &req, NOW, &mut MemoryReplayStore::new(1));
        assert_eq!(code(r), "invalid_input", "{window_secs}");
    }
    for window_secs in [0, 86_400] {
        let r = verify_with(&Verifier { window_secs }, &req, NOW, &mut MemoryReplayStore::new(1));
        assert_eq!(code(r), "ok", "{window_secs}");
    }
}

#[test]
fn created_must_be_within_the_window_on_both_sides() {
    let v = Verifier { window_secs: 100 };
    let at = |created: i64| code(verify_with(&v, &signed(created, "n1"), NOW, &mut MemoryReplayStore::new(1)));
    assert_eq!(at(NOW - 100), "ok");
    assert_eq!(at(NOW - 101), "signature_expired");
    assert_eq!(at(NOW + 100), "ok");
    // From the future: `expires` is still ahead, the window alone refuses it.
    assert_eq!(at(NOW + 101), "signature_expired");
}

#[test]
fn a_request_past_expires_is_refused_whatever_the_window() {
    let v = Verifier { window_secs: 3600 };
    let at = |now: i64| code(verify_with(&v, &signed(NOW, "n1"), now, &mut MemoryReplayStore::new(1)));
    assert_eq!(at(NOW + 300), "ok", "now == expires");
    assert_eq!(at(NOW + 301), "signature_expired");
    assert_eq!(at(NOW - 3600), "ok");
}

//! Pins core/src/sign.rs: the profile token rule, UUIDv4, idempotent
//! methods, and what the signer puts on the wire.

use tessera_core::internals::sign::{is_idempotent, is_profile_token, uuid_v4};
use tessera_core::{ApiRequest, Companion, MemoryReplayStore, Request, SeededEntropy, SignOptions, Verifier};

const NOW: i64 = 1_700_000_000;

/// A registered companion (the machine module's fixture, seed 4).
fn registered() -> Companion {
    super::machine::registered(4)
}

fn sign(c: &Companion, req: &ApiRequest, opts: SignOptions) -> tessera_core::Result<Request> {
    c.sign_request(req, &SignOptions { now: NOW, ..opts }, &mut SeededEntropy::new([8; 32]))
}

fn with_headers(method: &str, headers: &[(&str, &str)]) -> ApiRequest {
    let mut req = ApiRequest::new(method, "/api/x");
    req.headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    req
}

fn values<'a>(req: &'a Request, name: &str) -> Vec<&'a str> {
    req.headers.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
}

/// The broker accepts `req`, signed by `c`.
fn verifies(c: &Companion, req: &Request) -> bool {
    let secret = c.state().installation().unwrap().secret.clone();
    Verifier::default().verify(req, NOW, &mut |_| Some(secret.clone()), &mut MemoryReplayStore::new(8)).is_ok()
}

#[test]
fn profile_token_is_1_to_128_safe_characters() {
    assert!(is_profile_token("a"));
    assert!(is_profile_token("Az09._~-"));
    assert!(is_profile_token(&"t".repeat(128)), "exactly 128");
    assert!(!is_profile_token(&"t".repeat(129)), "129");
    assert!(!is_profile_token(""));
    for bad in ["a b", "a/b", "a+b", "a=b", "\u{e9}", "a\"b"] {
        assert!(!is_profile_token(bad), "{bad:?}");
    }
}

#[test]
fn uuid_v4_sets_version_and_variant_bits() {
    // Version nibble 4 and variant 10xx whatever the random bytes were.
    assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
    assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    let mixed: [u8; 16] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xa5);
    let u = uuid_v4(mixed);
    assert_eq!(&u[14..15], "4");
    assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
    assert_eq!(uuid_v4([0xb5; 16]), "b5b5b5b5-b5b5-45b5-b5b5-b5b5b5b5b5b5");
    assert_eq!(uuid_v4([0x4a; 16]), "4a4a4a4a-4a4a-4a4a-8a4a-4a4a4a4a4a4a");
}

#[test]
fn idempotent_methods_are_rfc_9110s() {
    for m in ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"] {
        assert!(is_idempotent(m), "{m}");
    }
    for m in ["POST", "PATCH", "CONNECT", "get"] {
        assert!(!is_idempotent(m), "{m}");
    }
}

#[test]
fn signer_replaces_caller_owned_headers_and_keeps_the_rest() {
    let c = registered();
    let req = with_headers(
        "GET",
        &[("Signature", "tessera=:Zm9yZ2Vk:"), ("authorization", "Bearer stolen"), ("x-custom", "1")],
    );
    let signed = sign(&c, &req, SignOptions::default()).unwrap();
    assert_eq!(values(&signed, "x-custom"), ["1"]);
    assert_eq!(values(&signed, "signature").len(), 1);
    assert_ne!(values(&signed, "signature"), ["tessera=:Zm9yZ2Vk:"]);
    assert!(values(&signed, "authorization").is_empty(), "no token held, so no authorization");
    assert!(verifies(&c, &signed));
}

#[test]
fn caller_idempotency_key_header_is_used_once() {
    let c = registered();
    let req = with_headers("POST", &[("x-first", "1"), ("Idempotency-Key", "caller-key.1")]);
    let signed = sign(&c, &req, SignOptions::default()).unwrap();
    assert_eq!(values(&signed, "idempotency-key"), ["caller-key.1"]);
    assert_eq!(values(&signed, "x-first"), ["1"]);
    assert!(verifies(&c, &signed));
}

#[test]
fn idempotency_key_option_must_be_a_profile_token() {
    let c = registered();
    let opts = |k: &str| SignOptions { idempotency_key: Some(k.into()), ..Default::default() };
    let signed = sign(&c, &ApiRequest::new("POST", "/api/x"), opts("opt-key")).unwrap();
    assert_eq!(values(&signed, "idempotency-key"), ["opt-key"]);
    let err = sign(&c, &ApiRequest::new("POST", "/api/x"), opts("a b")).unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    let err = sign(&c, &with_headers("PUT", &[("idempotency-key", "a/b")]), SignOptions::default()).unwrap_err();
    assert_eq!(err.code(), "invalid_input");
}

#[test]
fn nonce_option_must_be_a_profile_token() {
    let c = registered();
    let opts = |n: &str| SignOptions { nonce: Some(n.into()), ..Default::default() };
    let signed = sign(&c, &ApiRequest::new("GET", "/api/x"), opts("my-nonce")).unwrap();
    assert!(values(&signed, "signature-input")[0].contains(";nonce=\"my-nonce\";"));
    for bad in ["", "a b"] {
        assert_eq!(sign(&c, &ApiRequest::new("GET", "/api/x"), opts(bad)).unwrap_err().code(), "invalid_input");
    }
}

#[test]
fn caller_content_type_is_kept_once_and_covered() {
    let c = registered();
    let mut req = ApiRequest::json("POST", "/api/x", b"{}".to_vec());
    req.headers.push(("x-other".into(), "2".into()));
    let signed = sign(&c, &req, SignOptions::default()).unwrap();
    assert_eq!(values(&signed, "content-type"), ["application/json"]);
    assert_eq!(signed.headers[0].0, "content-type", "covered headers come first");
    assert!(values(&signed, "signature-input")[0].starts_with("tessera=(\"@method\" \"@authority\" \"@path\" \"@query\" \"content-type\" \"content-digest\" \"idempotency-key\");"));
    assert!(verifies(&c, &signed));
}

#[test]
fn post_without_content_type_gets_the_default_one() {
    let c = registered();
    let signed = sign(&c, &ApiRequest::new("PUT", "/api/x"), SignOptions::default()).unwrap();
    assert_eq!(values(&signed, "content-type"), ["application/octet-stream"]);
    let get = sign(&c, &ApiRequest::new("GET", "/api/x"), SignOptions::default()).unwrap();
    assert!(values(&get, "content-type").is_empty());
}

#[test]
fn signature_input_lists_exactly_the_present_headers() {
    let c = registered();
    let id = c.install_id().unwrap().to_owned();
    let opts = SignOptions { nonce: Some("n0nce".into()), ..Default::default() };
    let signed = sign(&c, &ApiRequest::new("GET", "/api/x?a=1"), opts).unwrap();
    let want = format!(
        "tessera=(\"@method\" \"@authority\" \"@path\" \"@query\" \"content-digest\");created={NOW};expires={};nonce=\"n0nce\";alg=\"hmac-sha256\";keyid=\"{id}\";tag=\"tessera-v1\"",
        NOW + 300
    );
    assert_eq!(values(&signed, "signature-input"), [want.as_str()]);
    assert!(verifies(&c, &signed));
}

//! Signs an arbitrary `ApiRequest` (method, path, headers, body, clock, nonce,
//! idempotency key; structured with `arbitrary`) with a connected companion
//! and verifies the result with the broker-side `Verifier`. Asserts: whatever
//! signs verifies, for the right installation, nonce, idempotency key and
//! bearer token; the URL sent is already normalised; the same request again is
//! `replayed`; a changed body or method never verifies.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tessera_core::internals::url::Url;
use tessera_core::{ApiRequest, Companion, Error, MemoryReplayStore, SeededEntropy, SignOptions, Verifier};
use tessera_fuzz::{NOW, fixture, secret_of};

#[derive(Arbitrary, Debug)]
enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Other(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    now_offset: u32,
    nonce: Option<String>,
    idempotency_key: Option<String>,
    seed: [u8; 4],
}

const TOKEN: &str = "btk_fuzz-token.0123456789";

fn companion() -> &'static Companion {
    static C: OnceLock<Companion> = OnceLock::new();
    C.get_or_init(|| fixture("https://broker.example/base", 9, Some(TOKEN)))
}

fuzz_target!(|input: Input| {
    let c = companion();
    let method = match input.method {
        Method::Get => "get".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "Put".to_owned(),
        Method::Patch => "PATCH".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Other(m) => m,
    };
    let path = if input.path.starts_with('/') { input.path } else { format!("/{}", input.path) };
    let req = ApiRequest { method, path, headers: input.headers, body: input.body };
    let now = NOW + i64::from(input.now_offset);
    let opts = SignOptions { now, nonce: input.nonce.clone(), idempotency_key: input.idempotency_key.clone() };
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&input.seed);
    let Ok(signed) = c.sign_request(&req, &opts, &mut SeededEntropy::new(seed)) else { return };

    assert_eq!(Url::parse(&signed.url, "url").map(|u| u.as_string()).as_deref(), Ok(signed.url.as_str()));
    let secret = secret_of(c);
    let mut secret_for = |_: &str| Some(secret.clone());
    let mut replay = MemoryReplayStore::new(16);
    let verified = Verifier::default()
        .verify(&signed, now, &mut secret_for, &mut replay)
        .unwrap_or_else(|e| panic!("a request the core signed does not verify: {e:?}\n{signed:?}"));
    assert_eq!(Some(verified.install_id.as_str()), c.install_id());
    assert_eq!(verified.created, now);
    if let Some(n) = &input.nonce {
        assert_eq!(&verified.nonce, n);
    }
    if let Some(k) = &input.idempotency_key {
        assert_eq!(verified.idempotency_key.as_ref(), Some(k));
    }
    if matches!(signed.method.as_str(), "POST" | "PATCH") {
        assert!(verified.idempotency_key.is_some(), "a POST/PATCH without an Idempotency-Key");
    }
    assert_eq!(verified.bearer.as_ref().map(tessera_core::BrokerToken::expose), Some(TOKEN));
    assert_eq!(Verifier::default().verify(&signed, now, &mut secret_for, &mut replay), Err(Error::Replayed));

    let mut changed = signed.clone();
    changed.body.push(b'!');
    let r = Verifier::default().verify(&changed, now, &mut secret_for, &mut MemoryReplayStore::new(16));
    assert_eq!(r, Err(Error::DigestMismatch));
    let mut changed = signed.clone();
    changed.method = if signed.method == "GET" { "HEAD".into() } else { "GET".into() };
    let r = Verifier::default().verify(&changed, now, &mut secret_for, &mut MemoryReplayStore::new(16));
    assert_eq!(r, Err(Error::SignatureInvalid));
});

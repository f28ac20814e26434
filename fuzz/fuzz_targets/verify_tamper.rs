//! Signs a request, then changes it with an arbitrary list of edits (structured
//! with `arbitrary`: header name case, dropped, duplicated, replaced or added
//! header lines, whitespace around values, another method, URL or body) and
//! verifies the result. Asserts: an edited request verifies only if the broker
//! would act on the same thing — same method and normalised URL, same body,
//! same bearer token and idempotency key, same installation and nonce.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tessera_core::internals::url::Url;
use tessera_core::{ApiRequest, Companion, MemoryReplayStore, Request, SeededEntropy, SignOptions, Verifier};
use tessera_fuzz::{NOW, fixture, secret_of};

#[derive(Arbitrary, Debug)]
enum Edit {
    FlipNameCase(u8),
    Drop(u8),
    Duplicate(u8),
    SetValue(u8, String),
    Pad(u8, bool, char),
    Add(String, String),
    Method(String),
    Url(String),
    UrlSuffix(String),
    Body(Vec<u8>),
    Swap(u8, u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    post: bool,
    path: String,
    body: Vec<u8>,
    content_type: Option<String>,
    edits: Vec<Edit>,
}

fn companion() -> &'static Companion {
    static C: OnceLock<Companion> = OnceLock::new();
    C.get_or_init(|| fixture("https://broker.example", 11, Some("btk_tamper-0123")))
}

fn edit(req: &mut Request, e: Edit) {
    let n = req.headers.len().max(1);
    match e {
        Edit::FlipNameCase(i) => {
            if let Some((k, _)) = req.headers.get_mut(usize::from(i) % n) {
                *k = k
                    .chars()
                    .map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                    .collect();
            }
        }
        Edit::Drop(i) => {
            if !req.headers.is_empty() {
                req.headers.remove(usize::from(i) % n);
            }
        }
        Edit::Duplicate(i) => {
            if let Some(h) = req.headers.get(usize::from(i) % n).cloned() {
                req.headers.push(h);
            }
        }
        Edit::SetValue(i, v) => {
            if let Some((_, old)) = req.headers.get_mut(usize::from(i) % n) {
                *old = v;
            }
        }
        Edit::Pad(i, front, c) => {
            if let Some((_, v)) = req.headers.get_mut(usize::from(i) % n) {
                if front { v.insert(0, c) } else { v.push(c) }
            }
        }
        Edit::Add(k, v) => req.headers.push((k, v)),
        Edit::Method(m) => req.method = m,
        Edit::Url(u) => req.url = u,
        Edit::UrlSuffix(s) => req.url.push_str(&s),
        Edit::Body(b) => req.body = b,
        Edit::Swap(i, j) => {
            if !req.headers.is_empty() {
                req.headers.swap(usize::from(i) % n, usize::from(j) % n);
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let c = companion();
    let path = if input.path.starts_with('/') { input.path } else { format!("/{}", input.path) };
    let mut api = ApiRequest::new(if input.post { "POST" } else { "GET" }, &path);
    api.body = input.body;
    if let Some(ct) = input.content_type {
        api.headers.push(("content-type".into(), ct));
    }
    let mut rng = SeededEntropy::new([0; 32]);
    let Ok(signed) = c.sign_request(&api, &SignOptions { now: NOW, ..Default::default() }, &mut rng) else { return };
    let secret = secret_of(c);
    let mut secret_for = |_: &str| Some(secret.clone());
    let original = Verifier::default().verify(&signed, NOW, &mut secret_for, &mut MemoryReplayStore::new(4)).unwrap();

    let mut tampered = signed.clone();
    for e in input.edits.into_iter().take(8) {
        edit(&mut tampered, e);
    }
    let Ok(v) = Verifier::default().verify(&tampered, NOW, &mut secret_for, &mut MemoryReplayStore::new(4)) else {
        return;
    };
    assert_eq!(v, original, "an edited request verified with other parameters");
    assert_eq!(tampered.method.to_ascii_uppercase(), signed.method, "another method verified");
    assert_eq!(
        Url::parse(&tampered.url, "url").unwrap(),
        Url::parse(&signed.url, "url").unwrap(),
        "another URL verified"
    );
    assert_eq!(tampered.body, signed.body, "another body verified");
});

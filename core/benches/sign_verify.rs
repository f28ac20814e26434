//! Sign and verify cost of the Tessera profile, side by side with baselines:
//! - `floor`: only the cryptography (SHA-256 of the body + HMAC-SHA256 of the
//!   same signature base) — what no implementation can beat;
//! - `httpsig`: the crates.io RFC 9421 implementation signing the same base
//!   from prepared component lines.
//!
//! Targets (this machine, issue 16): sign POST 1 KiB ≤ 2.5 µs, verify POST 1 KiB ≤ 3.5 µs.
//! `TESSERA_SIGN_LOOP=N` runs N signs instead (see `main`), to count instructions.

use criterion::{BenchmarkId, Criterion, criterion_group};
use httpsig::prelude::message_component::HttpMessageComponent;
use httpsig::prelude::*;
use sha2::{Digest, Sha256};
use std::hint::black_box;
use tessera_core::internals::encoding::b64_encode;
use tessera_core::internals::signature::hmac_sha256;
use tessera_core::{
    ApiRequest, Companion, Config, MemoryReplayStore, Registration, Request, Response, SeededEntropy, SignOptions,
    Verifier,
};

const NOW: i64 = 1_700_000_000;

fn companion() -> Companion {
    let mut rng = SeededEntropy::new([1; 32]);
    let mut c = Companion::create(Config::new("https://broker.example")).unwrap();
    c.registration_request(
        &Registration {
            site_url: "https://shop.example".into(),
            admin_email: "owner@shop.example".into(),
            platform: "wordpress".into(),
            plugin_version: "1.0.0".into(),
        },
        &mut rng,
    )
    .unwrap();
    c.handle_registration_response_at(&Response::new(201, vec![]), 1_700_000_000).unwrap();
    c.connect_url_with_state("https://shop.example/cb", None, NOW, "bench-state-0123456").unwrap();
    complete_connect(&mut c, "state=bench-state-0123456&code=cc_YmVuY2gtY29ubmVjdA", "btk_bench", &mut rng);
    c
}

/// Completes a connect whose exchange the broker answers with `token`.
fn complete_connect(c: &mut tessera_core::Companion, callback: &str, token: &str, rng: &mut SeededEntropy) {
    use tessera_core::{Action, Event};
    let mut call = c.start_complete_connect(callback, NOW).unwrap();
    let answer = format!(r#"{{"broker_token":"{token}","account":{{"id":"op_1","name":"Acme"}}}}"#);
    let mut event = Event::Start;
    loop {
        event = match c.step(&mut call, event, NOW, rng) {
            Action::Send(_) => Event::Response(Response::new(200, answer.clone().into_bytes())),
            Action::Done(result) => return drop(result.unwrap()),
            _ => Event::Persisted,
        };
    }
}

fn requests() -> Vec<(&'static str, ApiRequest)> {
    let body = format!("{{\"items\":\"{}\"}}", "x".repeat(1012));
    assert_eq!(body.len(), 1024);
    vec![
        ("GET", ApiRequest::new("GET", "/api/orders?limit=3")),
        ("POST 1KB", ApiRequest::json("POST", "/api/events", body.into_bytes())),
    ]
}

fn signature_base_of(signed: &Request) -> String {
    let input = signed.header("signature-input").unwrap().strip_prefix("tessera=").unwrap();
    let mut lines: Vec<String> = Vec::new();
    let url = tessera_core::internals::url::Url::parse(&signed.url, "u").unwrap();
    for comp in input.split(')').next().unwrap().trim_start_matches('(').split(' ') {
        let name = comp.trim_matches('"');
        let value = match name {
            "@method" => signed.method.clone(),
            "@authority" => url.authority(),
            "@path" => url.path().to_owned(),
            "@query" => format!("?{}", url.query().unwrap_or("")),
            h => signed.header(h).unwrap().to_owned(),
        };
        lines.push(format!("\"{name}\": {value}"));
    }
    lines.push(format!("\"@signature-params\": {input}"));
    lines.join("\n")
}

fn bench(c: &mut Criterion) {
    let comp = companion();
    let secret = comp.state().installation().unwrap().secret.clone();
    let mut group = c.benchmark_group("tessera");
    for (name, req) in requests() {
        let opts =
            SignOptions { now: NOW, nonce: Some("bench-nonce".into()), idempotency_key: Some("bench-key".into()) };
        let mut rng = SeededEntropy::new([2; 32]);
        group.bench_with_input(BenchmarkId::new("sign", name), &req, |b, req| {
            b.iter(|| comp.sign_request(black_box(req), &opts, &mut rng).unwrap())
        });
        let signed = comp.sign_request(&req, &opts, &mut rng).unwrap();
        let verifier = Verifier::default();
        group.bench_with_input(BenchmarkId::new("verify", name), &signed, |b, signed| {
            // The replay store is measured on its own below; here it accepts every nonce.
            b.iter(|| verifier.verify(black_box(signed), NOW, &mut |_| Some(secret.clone()), &mut NoStore).unwrap())
        });
        let base = signature_base_of(&signed);
        group.bench_with_input(
            BenchmarkId::new("floor (sha256+hmac)", name),
            &(base.clone(), req.body.clone()),
            |b, (base, body)| {
                b.iter(|| {
                    let d = Sha256::digest(black_box(body));
                    (d, hmac_sha256(secret.expose(), black_box(base.as_bytes())))
                })
            },
        );
        let lines: Vec<HttpMessageComponent> = base
            .lines()
            .filter(|l| !l.starts_with("\"@signature-params\""))
            .map(|l| HttpMessageComponent::try_from(l).unwrap())
            .collect();
        let params_text = base.lines().last().unwrap().strip_prefix("\"@signature-params\": ").unwrap().to_owned();
        let key = SharedKey::from_base64(&AlgorithmName::HmacSha256, &b64_encode(secret.expose())).unwrap();
        group.bench_with_input(BenchmarkId::new("httpsig (prepared lines)", name), &lines, |b, lines| {
            b.iter(|| {
                let params = HttpSignatureParams::try_from(params_text.as_str()).unwrap();
                let base = HttpSignatureBase::try_new(black_box(lines), &params).unwrap();
                base.build_signature_headers(&key, Some("tessera")).unwrap()
            })
        });
    }
    group.bench_function("replay-store insert (MemoryReplayStore)", |b| {
        let mut store = MemoryReplayStore::new(1 << 22);
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            tessera_core::ReplayStore::check_and_insert(
                &mut store,
                &format!("ins_x:{n}"),
                NOW + 300 + (n as i64 % 300),
                NOW,
            )
        })
    });
    group.finish();
}

struct NoStore;
impl tessera_core::ReplayStore for NoStore {
    fn check_and_insert(&mut self, _: &str, _: i64, _: i64) -> tessera_core::Result<()> {
        Ok(())
    }
}

criterion_group!(benches, bench);

/// `TESSERA_SIGN_LOOP=N`: instead of criterion, sign the POST 1 KiB request N
/// times and exit, for a load-independent count under
/// `perf stat -e instructions:u,cycles:u` (a shared machine's wall clock is
/// not). The setup (one companion) is the same for every N: compare two N.
fn main() {
    if let Some(n) = std::env::var("TESSERA_SIGN_LOOP").ok().and_then(|v| v.parse::<u64>().ok()) {
        let comp = companion();
        let (_, req) = requests().pop().unwrap();
        let opts =
            SignOptions { now: NOW, nonce: Some("bench-nonce".into()), idempotency_key: Some("bench-key".into()) };
        let mut rng = SeededEntropy::new([2; 32]);
        for _ in 0..n {
            black_box(comp.sign_request(black_box(&req), &opts, &mut rng).unwrap());
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

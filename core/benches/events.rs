//! Stora's events on the plugin side, side by side with baselines:
//! - `pull page`: a 2xx answer of 100 events (~25 KiB) read by the step
//!   machine into an `EventPage` (every check of PROTOCOL.md §14.3, `data`
//!   written back as compact JSON); baseline `serde_json`: the same body
//!   parsed into a `serde_json::Value` only (no checks, no copy out);
//! - `verify push`: a one-event push (`verify_push`: header, window, MAC,
//!   body); baseline `floor`: the HMAC-SHA256 alone over the same bytes.
//!
//! `cargo bench -p tessera-core --bench events`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera_core::internals::signature::hmac_sha256;
use tessera_core::{Action, Companion, Completion, Config, Event, Registration, Response, SeededEntropy, sign_push};

const NOW: i64 = 1_700_000_000;

fn connected() -> Companion {
    let mut rng = SeededEntropy::new([1; 32]);
    let mut c = Companion::create(Config::new("https://broker.example")).unwrap();
    let reg = Registration {
        site_url: "https://shop.example".into(),
        admin_email: "owner@shop.example".into(),
        platform: "wordpress".into(),
        plugin_version: "1.0.0".into(),
    };
    c.registration_request(&reg, &mut rng).unwrap();
    c.handle_registration_response_at(&Response::new(201, vec![]), NOW).unwrap();
    c.connect_url_with_state("https://shop.example/cb", None, NOW, "bench-state-0123456").unwrap();
    let mut call = c.start_complete_connect("state=bench-state-0123456&code=cc_YmVuY2gtY29ubmVjdA", NOW).unwrap();
    let answer = br#"{"broker_token":"btk_bench","account":{"id":"op_1","name":"Acme"}}"#.to_vec();
    let mut event = Event::Start;
    loop {
        event = match c.step(&mut call, event, NOW, &mut rng) {
            Action::Send(_) => Event::Response(Response::new(200, answer.clone())),
            Action::Done(result) => break drop(result.unwrap()),
            _ => Event::Persisted,
        };
    }
    c
}

fn event(i: usize) -> String {
    format!(
        r#"{{"id":"evt_{i:024}","type":"order.updated","api_version":"2025-09","created_at":{},"data":{{"object":{{"id":"ord_{i}","status":"paid","unit":"A-12","monthly_price":{{"amount":12900,"currency":"GBP"}},"metadata":{{"crm.id":"{i}"}}}}}}}}"#,
        NOW + i as i64
    )
}

fn bench(c: &mut Criterion) {
    let mut comp = connected();
    let events: Vec<String> = (0..100).map(event).collect();
    let page = format!(r#"{{"events":[{}],"cursor":"100","has_more":false}}"#, events.join(",")).into_bytes();
    let mut group = c.benchmark_group("events");
    let mut rng = SeededEntropy::new([2; 32]);
    group.bench_function("pull page (100 events, checked)", |b| {
        b.iter(|| {
            let mut call = comp.start_pull_events(100).unwrap();
            let _ = comp.step(&mut call, Event::Start, NOW, &mut rng);
            match comp.step(&mut call, Event::Response(Response::new(200, black_box(page.clone()))), NOW, &mut rng) {
                Action::Done(Ok(Completion::Events(p))) => p,
                other => panic!("{other:?}"),
            }
        })
    });
    group.bench_function("baseline serde_json::Value (same body)", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&page.clone())).unwrap())
    });
    let inst = comp.state().installation().unwrap().clone();
    let body = format!(r#"{{"events":[{}]}}"#, event(0)).into_bytes();
    let headers = vec![("tessera-push-signature".to_string(), sign_push(&inst.secret, &inst.id, &body, NOW))];
    group.bench_function("verify push (1 event)", |b| {
        b.iter(|| comp.verify_push(black_box(&headers), black_box(&body), NOW).unwrap())
    });
    group.bench_function("floor hmac-sha256 (same bytes)", |b| {
        b.iter(|| hmac_sha256(inst.secret.expose(), black_box(&body)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Fixtures shared by the integration tests: deterministic companions in
//! every interesting state.
#![allow(dead_code)]

pub mod proxy_host;

use tessera_core::{
    Action, Call, Companion, Completion, Config, Event, Registration, Request, Response, Secret, SeededEntropy,
};

/// A fixed "now" for vectors: 2023-11-14T22:13:20Z.
pub const NOW: i64 = 1_700_000_000;
/// Broker token used by connected fixtures.
pub const TOKEN: &str = "btk_Zm9yLXRlc3RzLW9ubHk";

pub fn rng(seed: u8) -> SeededEntropy {
    SeededEntropy::new([seed; 32])
}

pub fn registration(site: &str) -> Registration {
    Registration {
        site_url: site.into(),
        admin_email: "owner@shop.example".into(),
        platform: "wordpress".into(),
        plugin_version: "1.2.3".into(),
    }
}

/// Registered (201) against `broker`, seeded by `seed`.
pub fn registered(broker: &str, seed: u8) -> Companion {
    let mut c = Companion::create(Config::new(broker)).unwrap();
    c.registration_request(&registration("https://shop.example"), &mut rng(seed)).unwrap();
    c.handle_registration_response_at(&Response::new(201, b"{}".to_vec()), 1_700_000_000).unwrap();
    c
}

/// Registered and connected with [`TOKEN`].
pub fn connected(broker: &str, seed: u8) -> Companion {
    let mut c = registered(broker, seed);
    let state = "cccccccccccccccccccccc";
    c.connect_url_with_state("https://shop.example/wp-admin/options-general.php?page=tessera", None, NOW, state)
        .unwrap();
    complete_connect(&mut c, &format!("?state={state}&code=cc_Zm9yLXRlc3RzLW9ubHk"), NOW + 5, TOKEN).unwrap();
    c
}

/// The broker's answer to a connect completion (docs/PROTOCOL.md §5.4.1).
pub fn connect_answer(token: &str) -> Response {
    let body = format!(r#"{{"broker_token":"{token}","account":{{"id":"op_test","name":"Test Storage"}}}}"#);
    Response::new(200, body.into_bytes())
}

/// Runs `call` to its end at `now`: persists succeed, sleeps end, proofs
/// are served, and `answer` answers every request sent.
pub fn drive(
    c: &mut Companion,
    mut call: Call,
    now: i64,
    mut answer: impl FnMut(&Request) -> Response,
) -> tessera_core::Result<Completion> {
    let mut entropy = rng(99);
    let mut event = Event::Start;
    let mut stored = c.to_json();
    // Bounded: a machine that never ends fails here instead of hanging.
    for _ in 0..MAX_STEPS {
        event = match c.step(&mut call, event, now, &mut entropy) {
            Action::Send(request) => Event::Response(answer(&request)),
            Action::Sleep(_) => Event::Slept,
            Action::Persist(state) => {
                stored = state;
                Event::Persisted
            }
            Action::ServeProof(_) => Event::ProofServed,
            // One worker: the lock is free and the store holds what it persisted.
            Action::Lock(_) => Event::Locked(stored.clone()),
            Action::Unlock(_) => Event::Unlocked,
            Action::Done(result) => return result,
        };
    }
    panic!("the call did not finish in {MAX_STEPS} steps");
}

/// More steps than any operation takes (the longest, a reset with proof
/// rounds and retries, takes about 30).
pub const MAX_STEPS: usize = 200;

/// Completes a connect from `callback`; the broker answers with `token`.
pub fn complete_connect(c: &mut Companion, callback: &str, now: i64, token: &str) -> tessera_core::Result<Completion> {
    let call = c.start_complete_connect(callback, now)?;
    drive(c, call, now, |_| connect_answer(token))
}

pub fn secret_of(c: &Companion) -> Secret {
    c.state().installation().unwrap().secret.clone()
}

/// A Timeline Event as the vectors and machine scripts write it (snake_case
/// members, absent ones omitted, `variables` an ordered object).
pub fn timeline_event_in(v: &serde_json::Value) -> tessera_core::TimelineEvent {
    use serde_json::Value;
    let opt = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    tessera_core::TimelineEvent {
        source_id: v["source_id"].as_str().unwrap().into(),
        template_id: v["template_id"].as_str().unwrap().into(),
        contact_id: opt("contact_id"),
        site_id: opt("site_id"),
        description: opt("description"),
        external_url: opt("external_url"),
        variables: v
            .get("variables")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, x)| (k.clone(), x.as_str().unwrap().to_owned())).collect())
            .unwrap_or_default(),
    }
}

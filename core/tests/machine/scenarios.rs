//! The scenarios behind the machine scripts: a state, an operation, what the
//! broker and the host answer, and the policy trace they must produce.
//! `sleep *` in a trace is a full-jitter backoff (its value is in the script).

use tessera_core::internals::classify::fmt_http_date;
use tessera_core::{
    Action, ApiRequest, Companion, Config, Event, Registration, Response, RetryPolicy, SeededEntropy, TimelineEvent,
    TransportError,
};

use super::support::*;

/// What the operation is.
pub enum Op {
    Register(Registration),
    Call(ApiRequest),
    Disconnect,
    Uninstall,
    Reset(Registration),
    SiteMoved,
    /// Complete a connect from this callback.
    CompleteConnect(String),
    /// Revoke this previous installation.
    RevokePrevious(&'static str),
    /// Do this call, then record this Timeline Event.
    Record(ApiRequest, TimelineEvent),
    /// Pull Stora's events; acknowledge the page when it comes.
    PullEvents {
        limit: u32,
        acknowledge: bool,
    },
}

/// How the broker (for a send) or the host (for a proof) answers.
pub enum Answer {
    Event(Event),
    /// The host stops driving here (an abort, or an exception in a callback).
    Abort,
}

pub struct Scenario {
    pub group: &'static str,
    pub name: &'static str,
    pub covers: Vec<&'static str>,
    pub seed: u8,
    pub state: String,
    pub op: Op,
    pub answers: Vec<Answer>,
    pub now: i64,
    /// Seconds the clock advances between events.
    pub tick: i64,
    pub trace: &'static str,
}

const B: &str = "https://broker.example";

fn resp(status: u16, body: &str) -> Answer {
    Answer::Event(Event::Response(Response::new(status, body.as_bytes().to_vec())))
}

fn with(status: u16, body: &str, headers: &[(&str, &str)]) -> Answer {
    let mut r = Response::new(status, body.as_bytes().to_vec());
    for (k, v) in headers {
        r = r.with_header(k, v);
    }
    Answer::Event(Event::Response(r))
}

fn code(status: u16, code: &str) -> Answer {
    resp(status, &format!(r#"{{"error":"{code}","error_description":"scripted"}}"#))
}

fn net() -> Answer {
    Answer::Event(Event::TransportError(TransportError::Network))
}

fn hidden_redirect() -> Answer {
    Answer::Event(Event::TransportError(TransportError::Redirect))
}

fn served() -> Answer {
    Answer::Event(Event::ProofServed)
}

fn deferred() -> Answer {
    Answer::Event(Event::ProofDeferred)
}

const CHALLENGE: &str = r#"{"challenge":"chl_c2NyaXB0ZWQtY2hhbGxlbmdl"}"#;

fn reg() -> Registration {
    registration("https://shop.example")
}

fn get(path: &str) -> Op {
    Op::Call(ApiRequest::new("GET", path))
}

fn post(path: &str, body: &str) -> Op {
    Op::Call(ApiRequest::json("POST", path, body.to_owned()))
}

// ---- fixture states ---------------------------------------------------------------

/// Drives `call` with `answers` (sleeps and persists answered) and returns the companion.
fn after(mut c: Companion, call: tessera_core::Call, answers: Vec<Answer>) -> Companion {
    let mut call = call;
    let mut rng = SeededEntropy::new([200; 32]);
    let mut answers = answers.into_iter();
    let mut event = Event::Start;
    // Bounded: a machine that never ends fails here instead of hanging.
    for _ in 0..200 {
        event = match c.step(&mut call, event, NOW, &mut rng) {
            Action::Done(_) => return c,
            Action::Sleep(_) => Event::Slept,
            Action::Persist(_) => Event::Persisted,
            Action::Unlock(_) => Event::Unlocked,
            // A fixture is its own store: the lock is free, the state its own.
            Action::Lock(_) => Event::Locked(c.to_json()),
            Action::Send(_) | Action::ServeProof(_) => match answers.next() {
                Some(Answer::Event(e)) => e,
                _ => return c,
            },
        }
    }
    panic!("the fixture's call did not finish");
}

fn fresh() -> Companion {
    Companion::create(Config::new(B)).unwrap()
}

fn fresh_with(retry: RetryPolicy) -> Companion {
    let mut config = Config::new(B);
    config.retry = retry;
    Companion::create(config).unwrap()
}

fn awaiting_ownership() -> Companion {
    let c = fresh();
    let call = c.start_registration(&reg()).unwrap();
    after(c, call, vec![resp(202, CHALLENGE), deferred()])
}

fn invalid() -> Companion {
    let c = connected(B, 61);
    let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    after(c, call, vec![code(401, "signature_invalid")])
}

fn moving() -> Companion {
    let mut c = connected(B, 62);
    c.check_site("https://new-shop.example").unwrap();
    let call = c.start_site_moved().unwrap();
    after(c, call, vec![resp(202, CHALLENGE), deferred()])
}

fn mismatch() -> Companion {
    let mut c = connected(B, 63);
    c.check_site("https://staging.shop.example").unwrap();
    c
}

fn skewed() -> Companion {
    let c = connected(B, 64);
    let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let date = fmt_http_date(NOW + 600);
    after(c, call, vec![with(401, r#"{"error":"signature_expired"}"#, &[("Date", &date)]), resp(200, "[]")])
}

fn tight() -> RetryPolicy {
    RetryPolicy { max_attempts: 2, ..RetryPolicy::default() }
}

#[allow(clippy::too_many_arguments)]
fn s(
    group: &'static str,
    name: &'static str,
    covers: &[&'static str],
    seed: u8,
    state: Companion,
    op: Op,
    answers: Vec<Answer>,
    trace: &'static str,
) -> Scenario {
    Scenario {
        group,
        name,
        covers: covers.to_vec(),
        seed,
        state: state.to_json(),
        op,
        answers,
        now: NOW,
        tick: 0,
        trace,
    }
}

pub fn all() -> Vec<Scenario> {
    let mut v = register();
    v.extend(calls());
    v.extend(stora_answers());
    v.extend(leave());
    v.extend(connect());
    v.extend(recorded());
    v.extend(pulls());
    v.extend(proxy::scenarios());
    v
}

#[path = "proxy.rs"]
mod proxy;

fn register() -> Vec<Scenario> {
    let g = "register";
    let date_ahead = fmt_http_date(NOW + 3_600);
    let retry_at = fmt_http_date(NOW + 2);
    vec![
        s(
            g,
            "register: 201",
            &["persist the secret before the first send", "registered"],
            1,
            fresh(),
            Op::Register(reg()),
            vec![resp(201, "{}")],
            "persist, send POST, persist, done registration",
        ),
        s(
            g,
            "register: 202 challenge, proof served, 201",
            &["ownership challenge", "ServeProof continuation"],
            2,
            fresh(),
            Op::Register(reg()),
            vec![resp(202, CHALLENGE), served(), resp(201, "{}")],
            "persist, send POST, persist, serve_proof, send POST, persist, done registration",
        ),
        s(
            g,
            "register: 202 challenge, proof deferred",
            &["ProofDeferred ends with the challenge kept"],
            3,
            fresh(),
            Op::Register(reg()),
            vec![resp(202, CHALLENGE), deferred()],
            "persist, send POST, persist, serve_proof, done registration",
        ),
        s(
            g,
            "register: resume after a deferred proof",
            &["same id and secret", "the proof is served again before the POST"],
            4,
            awaiting_ownership(),
            Op::Register(reg()),
            vec![served(), resp(201, "{}")],
            "persist, serve_proof, send POST, persist, done registration",
        ),
        s(
            g,
            "register: resume, proof deferred again",
            &["a resumed round can be deferred again"],
            29,
            awaiting_ownership(),
            Op::Register(reg()),
            vec![deferred()],
            "persist, serve_proof, done registration",
        ),
        s(
            g,
            "register: lost answer, retried",
            &["transport error retried (POST idempotent by install id)"],
            5,
            fresh(),
            Op::Register(reg()),
            vec![net(), resp(201, "{}")],
            "persist, send POST, sleep *, send POST, persist, done registration",
        ),
        s(
            g,
            "register: broker down then up",
            &["5xx retried with backoff"],
            6,
            fresh(),
            Op::Register(reg()),
            vec![resp(503, ""), resp(502, "<html>"), resp(201, "{}")],
            "persist, send POST, sleep *, send POST, sleep *, send POST, persist, done registration",
        ),
        s(
            g,
            "register: broker down",
            &["retry budget exhausted", "state kept for the next attempt"],
            7,
            fresh(),
            Op::Register(reg()),
            vec![resp(503, ""), net(), resp(500, "")],
            "persist, send POST, sleep *, send POST, sleep *, send POST, done server_unavailable",
        ),
        s(
            g,
            "register: 408 retried",
            &["408 retried"],
            8,
            fresh(),
            Op::Register(reg()),
            vec![resp(408, ""), resp(201, "{}")],
            "persist, send POST, sleep *, send POST, persist, done registration",
        ),
        s(
            g,
            "register: 429 with Retry-After",
            &["429 honours Retry-After seconds"],
            9,
            fresh(),
            Op::Register(reg()),
            vec![with(429, "", &[("Retry-After", "1")]), resp(201, "{}")],
            "persist, send POST, sleep 1000, send POST, persist, done registration",
        ),
        s(
            g,
            "register: 429 with an HTTP-date Retry-After",
            &["429 honours Retry-After dates against the answer's Date"],
            10,
            fresh(),
            Op::Register(reg()),
            vec![with(429, "", &[("Retry-After", &retry_at), ("Date", &fmt_http_date(NOW))]), resp(201, "{}")],
            "persist, send POST, sleep 2000, send POST, persist, done registration",
        ),
        s(
            g,
            "register: 409 conflict",
            &["409 drops the id and starts over once with a fresh one, persisted before it is sent"],
            11,
            fresh(),
            Op::Register(reg()),
            vec![code(409, "installation_exists"), resp(201, "{}")],
            "persist, send POST, persist, send POST, persist, done registration",
        ),
        s(
            g,
            "register: 409 twice",
            &["starting over happens once per operation"],
            92,
            fresh(),
            Op::Register(reg()),
            vec![code(409, "installation_exists"), code(409, "installation_exists")],
            "persist, send POST, persist, send POST, persist, done registration_conflict",
        ),
        s(
            g,
            "register: 400 rejected",
            &["other 4xx is registration_rejected", "never retried"],
            12,
            fresh(),
            Op::Register(reg()),
            vec![code(400, "invalid_request")],
            "persist, send POST, done registration_rejected",
        ),
        s(
            g,
            "register: 302",
            &["a 3xx is redirected, never followed or retried"],
            13,
            fresh(),
            Op::Register(reg()),
            vec![with(302, "", &[("Location", "https://elsewhere.example/installations")])],
            "persist, send POST, done redirected",
        ),
        s(
            g,
            "register: hidden redirect",
            &["an opaque redirect is redirected"],
            14,
            fresh(),
            Op::Register(reg()),
            vec![hidden_redirect()],
            "persist, send POST, done redirected",
        ),
        s(
            g,
            "register: proof refused for a lost challenge",
            &["403 ownership_proof_invalid without a known challenge (its 202 was lost) starts over with a fresh id"],
            15,
            fresh(),
            Op::Register(reg()),
            vec![code(403, "ownership_proof_invalid"), resp(202, CHALLENGE), served(), resp(201, "{}")],
            "persist, send POST, persist, send POST, persist, serve_proof, send POST, persist, done registration",
        ),
        s(
            g,
            "register: proof refused",
            &["403 ownership_proof_invalid with the challenge known keeps it"],
            16,
            fresh(),
            Op::Register(reg()),
            vec![resp(202, CHALLENGE), served(), code(403, "ownership_proof_invalid")],
            "persist, send POST, persist, serve_proof, send POST, done registration_rejected",
        ),
        s(
            g,
            "register: challenged again and again",
            &["at most two proof rounds"],
            17,
            fresh(),
            Op::Register(reg()),
            vec![resp(202, CHALLENGE), served(), resp(202, CHALLENGE), served(), resp(202, CHALLENGE)],
            "persist, send POST, persist, serve_proof, send POST, persist, serve_proof, send POST, persist, done registration",
        ),
        s(
            g,
            "register: clock skew learned",
            &["Date on 201 teaches the clock offset"],
            18,
            fresh(),
            Op::Register(reg()),
            vec![with(201, "{}", &[("Date", &date_ahead)])],
            "persist, send POST, persist, done registration",
        ),
        s(
            g,
            "register: after registration_invalid",
            &["a fresh id and secret", "the dead token is dropped"],
            19,
            invalid(),
            Op::Register(reg()),
            vec![resp(201, "{}")],
            "persist, send POST, persist, done registration",
        ),
        s(
            g,
            "register: already registered",
            &["refused before any action"],
            20,
            registered(B, 20),
            Op::Register(reg()),
            vec![],
            "start_error invalid_state",
        ),
        s(
            g,
            "register: bad email",
            &["input checked before any action"],
            21,
            fresh(),
            Op::Register(tessera_core::Registration { admin_email: "not an email".into(), ..reg() }),
            vec![],
            "start_error invalid_input",
        ),
        s(
            g,
            "register: abort while a retry is in flight",
            &["the secret persisted before the send survives an abort"],
            22,
            fresh(),
            Op::Register(reg()),
            vec![resp(503, ""), Answer::Abort],
            "persist, send POST, sleep *, send POST, abort",
        ),
        s(
            g,
            "site moved: 200",
            &["site moved without a proof"],
            23,
            mismatch(),
            Op::SiteMoved,
            vec![resp(200, r#"{"site_url":"https://staging.shop.example"}"#)],
            "send PATCH, persist, done site_moved",
        ),
        s(
            g,
            "site moved: 202, proof served, 201",
            &["the move's proof round in the same operation", "same id and secret"],
            24,
            {
                let mut c = connected(B, 24);
                c.check_site("https://new-shop.example").unwrap();
                c
            },
            Op::SiteMoved,
            vec![resp(202, CHALLENGE), served(), resp(201, "{}")],
            "send PATCH, persist, serve_proof, send POST, persist, done site_moved",
        ),
        s(
            g,
            "site moved: 202, proof deferred",
            &["pending move kept"],
            25,
            {
                let mut c = connected(B, 25);
                c.check_site("https://new-shop.example").unwrap();
                c
            },
            Op::SiteMoved,
            vec![resp(202, CHALLENGE), deferred()],
            "send PATCH, persist, serve_proof, done site_moved",
        ),
        s(
            g,
            "site moved: resume the proof round",
            &["a pending move finishes through register"],
            26,
            moving(),
            Op::Register(registration("https://new-shop.example")),
            vec![served(), resp(201, "{}")],
            "persist, serve_proof, send POST, persist, done registration",
        ),
        s(
            g,
            "site moved: resume with another address",
            &["a pending move proves only the address it moved to"],
            90,
            moving(),
            Op::Register(registration("https://third-shop.example")),
            vec![],
            "start_error site_mismatch",
        ),
        s(
            g,
            "site moved: 409 while resuming",
            &["a conflict never discards a confirmed registration"],
            91,
            moving(),
            Op::Register(registration("https://new-shop.example")),
            vec![served(), code(409, "installation_exists")],
            "persist, serve_proof, send POST, done registration_conflict",
        ),
        s(
            g,
            "site moved: signature_invalid",
            &["registration invalid during a move"],
            27,
            mismatch(),
            Op::SiteMoved,
            vec![code(401, "signature_invalid")],
            "send PATCH, persist, done registration_invalid",
        ),
        {
            let mut sc = s(
                g,
                "register: with a tight budget",
                &["max_attempts bounds the registration"],
                28,
                fresh_with(tight()),
                Op::Register(reg()),
                vec![resp(500, ""), resp(500, "")],
                "persist, send POST, sleep *, send POST, done server_unavailable",
            );
            sc.tick = 1;
            sc
        },
    ]
}

fn calls() -> Vec<Scenario> {
    let g = "call";
    let date_ahead = fmt_http_date(NOW + 900);
    let retry_date = fmt_http_date(NOW + 3);
    vec![
        s(
            g,
            "call: 200",
            &["one send"],
            30,
            connected(B, 30),
            get("/api/orders?limit=3"),
            vec![resp(200, "[]")],
            "send GET, done response",
        ),
        s(
            g,
            "call: 503 retried, then 200",
            &["5xx retried for GET", "full-jitter backoff"],
            31,
            connected(B, 31),
            get("/api/orders"),
            vec![resp(503, ""), resp(200, "[]")],
            "send GET, sleep *, send GET, done response",
        ),
        s(
            g,
            "call: 5xx exhausted",
            &["bounded attempts", "server_unavailable"],
            32,
            connected(B, 32),
            get("/api/orders"),
            vec![resp(500, ""), resp(502, ""), resp(503, "")],
            "send GET, sleep *, send GET, sleep *, send GET, done server_unavailable",
        ),
        s(
            g,
            "call: POST with the core's Idempotency-Key, 503 retried",
            &["Idempotency-Key on every POST", "same key on every attempt"],
            33,
            connected(B, 33),
            post("/api/contacts", r#"{"name":"Ada"}"#),
            vec![resp(503, ""), resp(201, r#"{"id":"con_1"}"#)],
            "send POST, sleep *, send POST, done response",
        ),
        s(
            g,
            "call: POST with the caller's Idempotency-Key",
            &["a caller's key is kept"],
            34,
            connected(B, 34),
            Op::Call({
                let mut r = ApiRequest::json("POST", "/api/contacts", r#"{"name":"Bo"}"#.to_owned());
                r.headers.push(("Idempotency-Key".into(), "order-7-contact".into()));
                r
            }),
            vec![resp(500, ""), resp(201, "{}")],
            "send POST, sleep *, send POST, done response",
        ),
        s(
            g,
            "call: a method neither idempotent nor keyed is sent once",
            &["no retry when repeating is unsafe"],
            35,
            connected(B, 35),
            Op::Call(ApiRequest::new("LOCK", "/api/units/u1")),
            vec![resp(503, "")],
            "send LOCK, done server_unavailable",
        ),
        s(
            g,
            "call: 408 retried",
            &["408 retried"],
            36,
            connected(B, 36),
            get("/api/orders"),
            vec![resp(408, ""), resp(200, "[]")],
            "send GET, sleep *, send GET, done response",
        ),
        s(
            g,
            "call: 429 with Retry-After seconds",
            &["429 honours Retry-After"],
            37,
            connected(B, 37),
            get("/api/orders"),
            vec![with(429, "", &[("Retry-After", "2")]), resp(200, "[]")],
            "send GET, sleep 2000, send GET, done response",
        ),
        s(
            g,
            "call: 429 with an HTTP-date Retry-After",
            &["Retry-After as a date"],
            38,
            connected(B, 38),
            get("/api/orders"),
            vec![with(429, "", &[("Retry-After", &retry_date), ("Date", &fmt_http_date(NOW))]), resp(200, "[]")],
            "send GET, sleep 3000, send GET, done response",
        ),
        s(
            g,
            "call: 429 beyond the cap",
            &["Retry-After above max_retry_after_ms ends as rate_limited"],
            39,
            connected(B, 39),
            get("/api/orders"),
            vec![with(429, "", &[("Retry-After", "60")])],
            "send GET, done rate_limited",
        ),
        s(
            g,
            "call: 429 without Retry-After",
            &["base delay when the broker gives none"],
            40,
            connected(B, 40),
            get("/api/orders"),
            vec![resp(429, ""), resp(200, "[]")],
            "send GET, sleep 250, send GET, done response",
        ),
        s(
            g,
            "call: transport error retried",
            &["network failure retried"],
            41,
            connected(B, 41),
            get("/api/orders"),
            vec![net(), resp(200, "[]")],
            "send GET, sleep *, send GET, done response",
        ),
        s(
            g,
            "call: 302",
            &["a 3xx is never followed nor retried"],
            42,
            connected(B, 42),
            get("/api/orders"),
            vec![with(302, "", &[("Location", "https://attacker.example/api/orders")])],
            "send GET, done redirected",
        ),
        s(
            g,
            "call: hidden redirect",
            &["opaque redirect"],
            43,
            connected(B, 43),
            post("/api/contacts", "{}"),
            vec![hidden_redirect()],
            "send POST, done redirected",
        ),
        s(
            g,
            "call: clock skew learned",
            &["signature_expired + Date: offset persisted, re-signed once"],
            44,
            connected(B, 44),
            get("/api/orders"),
            vec![with(401, r#"{"error":"signature_expired"}"#, &[("Date", &date_ahead)]), resp(200, "[]")],
            "send GET, persist, send GET, done response",
        ),
        s(
            g,
            "call: clock skew re-learned",
            &["a learned offset is replaced"],
            45,
            skewed(),
            get("/api/orders"),
            vec![
                with(401, r#"{"error":"signature_expired"}"#, &[("Date", &fmt_http_date(NOW - 300))]),
                resp(200, "[]"),
            ],
            "send GET, persist, send GET, done response",
        ),
        s(
            g,
            "call: clock skew twice",
            &["the skew retry happens once"],
            46,
            connected(B, 46),
            get("/api/orders"),
            vec![
                with(401, r#"{"error":"signature_expired"}"#, &[("Date", &date_ahead)]),
                with(401, r#"{"error":"signature_expired"}"#, &[("Date", &date_ahead)]),
            ],
            "send GET, persist, send GET, done client_error",
        ),
        s(
            g,
            "call: signature_expired without Date",
            &["no Date, nothing to learn"],
            47,
            connected(B, 47),
            get("/api/orders"),
            vec![code(401, "signature_expired")],
            "send GET, done client_error",
        ),
        s(
            g,
            "call: stora_reconnect_required",
            &["reconnect required: grant gone", "token dropped and persisted"],
            48,
            connected(B, 48),
            get("/api/orders"),
            vec![code(401, "stora_reconnect_required")],
            "send GET, persist, done reconnect_required",
        ),
        s(
            g,
            "call: broker_token_invalid",
            &["reconnect required: kill switch on the token"],
            49,
            connected(B, 49),
            get("/api/orders"),
            vec![code(401, "broker_token_invalid")],
            "send GET, persist, done reconnect_required",
        ),
        s(
            g,
            "call: installation_disabled",
            &["kill switch"],
            50,
            connected(B, 50),
            get("/api/orders"),
            vec![resp(401, r#"{"type":"about:blank","code":"installation_disabled"}"#)],
            "send GET, persist, done reconnect_required",
        ),
        s(
            g,
            "call: signature_invalid",
            &["registration invalid"],
            51,
            connected(B, 51),
            get("/api/orders"),
            vec![code(401, "signature_invalid")],
            "send GET, persist, done registration_invalid",
        ),
        s(
            g,
            "call: unknown_installation",
            &["registration invalid"],
            52,
            connected(B, 52),
            get("/api/orders"),
            vec![code(401, "unknown_installation")],
            "send GET, persist, done registration_invalid",
        ),
        s(
            g,
            "call: 404",
            &["other 4xx never retried"],
            53,
            connected(B, 53),
            get("/api/nothing"),
            vec![code(404, "resource_not_found")],
            "send GET, done client_error",
        ),
        s(
            g,
            "call: not connected",
            &["refused before any action"],
            54,
            registered(B, 54),
            get("/api/orders"),
            vec![],
            "start_error not_connected",
        ),
        s(
            g,
            "call: after reconnect required",
            &["the reason is kept"],
            55,
            {
                let c = connected(B, 55);
                let call = c.start_call(ApiRequest::new("GET", "/api/x")).unwrap();
                after(c, call, vec![code(401, "stora_reconnect_required")])
            },
            get("/api/orders"),
            vec![],
            "start_error reconnect_required",
        ),
        s(
            g,
            "call: abort mid-call",
            &["an abort after a persisted offset keeps it"],
            56,
            connected(B, 56),
            get("/api/orders"),
            vec![with(401, r#"{"error":"signature_expired"}"#, &[("Date", &date_ahead)]), Answer::Abort],
            "send GET, persist, send GET, abort",
        ),
        s(
            g,
            "call: during a pending site move",
            &["calls wait for the move's proof"],
            57,
            moving(),
            get("/api/orders"),
            vec![],
            "start_error invalid_state",
        ),
        s(
            g,
            "call: site mismatch",
            &["no signing until the host resolves a mismatch"],
            58,
            mismatch(),
            get("/api/orders"),
            vec![],
            "start_error site_mismatch",
        ),
    ]
}

/// Stora's error body as the broker passes it through (`Tessera-Origin: stora`).
fn stora(status: u16, code: &str) -> Answer {
    let body = format!(
        r#"{{"error":{{"code":"{code}","type":"api_error","message":"scripted","details":[],"links":[],"request_id":"req_{status}"}}}}"#
    );
    with(status, &body, &[("Tessera-Origin", "stora")])
}

/// Stora's answers through the broker: its own failures versus the
/// broker's, `api_error`, `RateLimit-Reset` (PROTOCOL.md "Stora's answers").
fn stora_answers() -> Vec<Scenario> {
    let g = "call";
    let date = fmt_http_date(NOW);
    let reset_in_3 = (NOW + 3).to_string();
    let reset_far = (NOW + 7_200).to_string();
    vec![
        s(
            g,
            "call: POST answered 500 by Stora ends at once",
            &["Stora's stored failure is not retried", "upstream_failed"],
            140,
            connected(B, 140),
            post("/api/contacts", r#"{"name":"Ada"}"#),
            vec![stora(500, "internal_server_error")],
            "send POST, done upstream_failed",
        ),
        s(
            g,
            "call: POST answered 502 by the broker (Stora not reached) is retried",
            &["broker 5xx retried with the same key"],
            141,
            connected(B, 141),
            post("/api/contacts", r#"{"name":"Ada"}"#),
            vec![
                with(502, r#"{"error":"stora_unavailable"}"#, &[("Tessera-Origin", "broker")]),
                resp(503, "<html>proxy</html>"),
                resp(201, r#"{"id":"con_1"}"#),
            ],
            "send POST, sleep *, send POST, sleep *, send POST, done response",
        ),
        s(
            g,
            "call: GET answered 500 by Stora is retried, then upstream_failed",
            &["GET is not replayed by key: retried", "upstream_failed"],
            142,
            connected(B, 142),
            get("/api/orders"),
            vec![
                stora(500, "internal_server_error"),
                stora(503, "internal_server_error"),
                stora(500, "internal_server_error"),
            ],
            "send GET, sleep *, send GET, sleep *, send GET, done upstream_failed",
        ),
        s(
            g,
            "call: PATCH answered 500 by Stora is retried (Stora replays POSTs only)",
            &["only a keyed POST is replayed by Stora"],
            148,
            connected(B, 148),
            Op::Call(ApiRequest::json("PATCH", "/api/contacts/con_1", r#"{"name":"Ada"}"#.to_owned())),
            vec![stora(500, "internal_server_error"), resp(200, "{}")],
            "send PATCH, sleep *, send PATCH, done response",
        ),
        s(
            g,
            "call: POST answered api_error ends at once",
            &["api_error", "Stora's stored failure is not retried"],
            143,
            connected(B, 143),
            post("/api/contacts", r#"{"name":"Ada"}"#),
            vec![stora(400, "api_error")],
            "send POST, done upstream_failed",
        ),
        s(
            g,
            "call: GET answered api_error is retried, then succeeds",
            &["api_error", "GET is not replayed by key: retried"],
            144,
            connected(B, 144),
            get("/api/orders"),
            vec![stora(400, "api_error"), resp(200, "[]")],
            "send GET, sleep *, send GET, done response",
        ),
        s(
            g,
            "call: Stora's conflict is a client error, not retried",
            &["documented 4xx never retried", "request_id on the error"],
            145,
            connected(B, 145),
            post("/api/contacts", r#"{"name":"Ada"}"#),
            vec![stora(409, "conflict")],
            "send POST, done client_error",
        ),
        s(
            g,
            "call: Stora's 429 waits until RateLimit-Reset by the broker's Date",
            &["RateLimit-Reset", "the broker's clock"],
            146,
            connected(B, 146),
            post("/api/contacts", r#"{"name":"Ada"}"#),
            vec![
                with(
                    429,
                    "",
                    &[
                        ("Tessera-Origin", "stora"),
                        ("RateLimit-Limit", "10"),
                        ("RateLimit-Reset", &reset_in_3),
                        ("Date", &date),
                    ],
                ),
                resp(201, "{}"),
            ],
            "send POST, sleep 3000, send POST, done response",
        ),
        s(
            g,
            "call: RateLimit-Reset beyond the cap ends as rate_limited",
            &["RateLimit-Reset", "bounded wait"],
            147,
            connected(B, 147),
            get("/api/orders"),
            vec![with(429, "", &[("RateLimit-Reset", &reset_far), ("Date", &date)])],
            "send GET, done rate_limited",
        ),
    ]
}

fn leave() -> Vec<Scenario> {
    let g = "leave";
    vec![
        s(
            g,
            "disconnect: 204",
            &["token dropped, persisted"],
            70,
            connected(B, 70),
            Op::Disconnect,
            vec![resp(204, "")],
            "send POST, persist, done disconnected",
        ),
        s(
            g,
            "disconnect: already gone (401 stora_reconnect_required)",
            &["a gone connection is success"],
            71,
            connected(B, 71),
            Op::Disconnect,
            vec![code(401, "stora_reconnect_required")],
            "send POST, persist, done disconnected",
        ),
        s(
            g,
            "disconnect: 401 without a code",
            &["a gone connection is success"],
            72,
            connected(B, 72),
            Op::Disconnect,
            vec![resp(401, "")],
            "send POST, persist, done disconnected",
        ),
        s(
            g,
            "disconnect: other 401",
            &["a 401 about the request is a failure", "token dropped anyway"],
            73,
            connected(B, 73),
            Op::Disconnect,
            vec![code(401, "replayed")],
            "send POST, persist, done disconnected",
        ),
        s(
            g,
            "disconnect: broker down",
            &["bounded retries (keyed POST)", "token dropped anyway"],
            74,
            connected(B, 74),
            Op::Disconnect,
            vec![resp(503, ""), net(), resp(500, "")],
            "send POST, sleep *, send POST, sleep *, send POST, persist, done disconnected",
        ),
        s(
            g,
            "disconnect: not connected",
            &["refused before any action"],
            75,
            registered(B, 75),
            Op::Disconnect,
            vec![],
            "start_error not_connected",
        ),
        s(
            g,
            "uninstall: all ok",
            &["disconnect then deregister then wipe"],
            76,
            connected(B, 76),
            Op::Uninstall,
            vec![resp(204, ""), resp(204, "")],
            "send POST, persist, send DELETE, persist, done uninstalled",
        ),
        s(
            g,
            "uninstall: partial failure",
            &["two attempts per remote step", "local state wiped anyway"],
            77,
            connected(B, 77),
            Op::Uninstall,
            vec![resp(500, ""), resp(500, ""), resp(204, "")],
            "send POST, sleep *, send POST, persist, send DELETE, persist, done uninstalled",
        ),
        s(
            g,
            "uninstall: broker unreachable",
            &["both remote steps fail", "state wiped"],
            78,
            connected(B, 78),
            Op::Uninstall,
            vec![net(), net(), net(), net()],
            "send POST, sleep *, send POST, persist, send DELETE, sleep *, send DELETE, persist, done uninstalled",
        ),
        s(
            g,
            "uninstall: registered, not connected",
            &["deregister only"],
            79,
            registered(B, 79),
            Op::Uninstall,
            vec![resp(404, "")],
            "send DELETE, persist, done uninstalled",
        ),
        s(
            g,
            "uninstall: nothing to do",
            &["no sentinel request", "state wiped"],
            80,
            fresh(),
            Op::Uninstall,
            vec![],
            "persist, done uninstalled",
        ),
        s(
            g,
            "uninstall: a site copy",
            &["a copy never touches the original"],
            81,
            mismatch(),
            Op::Uninstall,
            vec![],
            "persist, done uninstalled",
        ),
        s(
            g,
            "uninstall: pending site move",
            &["a pending move still disconnects and deregisters"],
            82,
            moving(),
            Op::Uninstall,
            vec![resp(204, ""), resp(204, "")],
            "send POST, persist, send DELETE, persist, done uninstalled",
        ),
        s(
            g,
            "disconnect: pending site move",
            &["a pending move still disconnects"],
            83,
            moving(),
            Op::Disconnect,
            vec![resp(204, "")],
            "send POST, persist, done disconnected",
        ),
        s(
            g,
            "uninstall: redirect",
            &["a 3xx fails the step, never followed"],
            84,
            connected(B, 84),
            Op::Uninstall,
            vec![with(307, "", &[("Location", "https://elsewhere.example/disconnect")]), resp(204, "")],
            "send POST, persist, send DELETE, persist, done uninstalled",
        ),
        s(
            g,
            "uninstall: registration invalid",
            &["nothing the broker would accept"],
            85,
            invalid(),
            Op::Uninstall,
            vec![],
            "persist, done uninstalled",
        ),
        s(
            g,
            "reset: connected, all ok",
            &[
                "old installation disconnected and deregistered with the old secret",
                "wiped, then a new id and secret persisted before the POST",
            ],
            86,
            connected(B, 86),
            Op::Reset(reg()),
            vec![resp(204, ""), resp(204, ""), resp(201, "")],
            "send POST, persist, send DELETE, persist, persist, send POST, persist, done reset",
        ),
        s(
            g,
            "reset: broker down for the old steps, registration ok",
            &["two attempts per old step, best effort", "registers afresh anyway"],
            87,
            connected(B, 87),
            Op::Reset(reg()),
            vec![net(), net(), resp(503, ""), resp(503, ""), resp(201, "")],
            "send POST, sleep *, send POST, persist, send DELETE, sleep *, send DELETE, persist, persist, send POST, persist, done reset",
        ),
        s(
            g,
            "reset: proof deferred",
            &["the ownership round of the new installation", "a deferred proof completes the reset awaiting ownership"],
            88,
            registered(B, 88),
            Op::Reset(reg()),
            vec![resp(204, ""), resp(202, CHALLENGE), deferred()],
            "send DELETE, persist, persist, send POST, persist, serve_proof, done reset",
        ),
        s(
            g,
            "reset: proof served",
            &["the same registration sub-machine, ServeProof included"],
            89,
            registered(B, 89),
            Op::Reset(reg()),
            vec![resp(204, ""), resp(202, CHALLENGE), served(), resp(201, "")],
            "send DELETE, persist, persist, send POST, persist, serve_proof, send POST, persist, done reset",
        ),
        s(
            g,
            "reset: a site copy",
            &["a copy never touches the original", "the copy registers as its own installation"],
            90,
            mismatch(),
            Op::Reset(registration("https://copy.example")),
            vec![resp(201, "")],
            "persist, persist, send POST, persist, done reset",
        ),
        s(
            g,
            "reset: registration refused",
            &["a refused registration ends in its error, the old installation already gone"],
            91,
            connected(B, 91),
            Op::Reset(reg()),
            vec![resp(204, ""), resp(204, ""), code(400, "invalid_request")],
            "send POST, persist, send DELETE, persist, persist, send POST, done registration_rejected",
        ),
        s(
            g,
            "revoke previous: 204",
            &["a signed POST without a bearer, nothing persisted", "revoked"],
            92,
            registered(B, 92),
            Op::RevokePrevious(PREVIOUS),
            vec![resp(204, "")],
            "send POST, done previous_revoked",
        ),
        s(
            g,
            "revoke previous: already gone",
            &["404 previous_installation_not_found ends well: nothing is left"],
            93,
            registered(B, 93),
            Op::RevokePrevious(PREVIOUS),
            vec![code(404, "previous_installation_not_found")],
            "send POST, done previous_revoked",
        ),
        s(
            g,
            "revoke previous: no proof",
            &["ownership_proof_required is a client error, never retried"],
            94,
            connected(B, 94),
            Op::RevokePrevious(PREVIOUS),
            vec![code(403, "ownership_proof_required")],
            "send POST, done client_error",
        ),
        s(
            g,
            "revoke previous: 503 then 204",
            &["retried with the same Idempotency-Key"],
            95,
            registered(B, 95),
            Op::RevokePrevious(PREVIOUS),
            vec![code(503, "unavailable"), resp(204, "")],
            "send POST, sleep *, send POST, done previous_revoked",
        ),
        s(
            g,
            "revoke previous: not registered",
            &["a new registration must exist first: refused before anything is sent"],
            96,
            fresh(),
            Op::RevokePrevious(PREVIOUS),
            vec![],
            "start_error not_registered",
        ),
    ]
}

const PREVIOUS: &str = "ins_cHJldmlvdXMtaW5zdGFsbA";

// ---- connect completion -------------------------------------------------------------

const STATE: &str = "c2NyaXB0ZWQtY29ubmVjdA";
const CODE: &str = "cc_c2NyaXB0ZWQtY29ubmVjdC1jb2Rl";
const RETURN: &str = "https://shop.example/wp-admin/admin.php?page=tessera";
const ANSWER: &str = r#"{"broker_token":"btk_c2NyaXB0ZWQ","account":{"id":"op_7","name":"Acme Self Storage"}}"#;

/// `c` with a pending connect created at `created`.
fn pending_at(mut c: Companion, created: i64) -> Companion {
    c.connect_url_with_state(RETURN, None, created, STATE).unwrap();
    c
}

fn callback(extra: &str) -> Op {
    Op::CompleteConnect(format!("{RETURN}&state={STATE}{extra}"))
}

fn connect() -> Vec<Scenario> {
    let g = "connect";
    let date_ahead = fmt_http_date(NOW + 900);
    vec![
        s(
            g,
            "connect: completed",
            &[
                "the consumed pending connect is persisted before the send",
                "signed POST without a bearer",
                "token and account stored, persisted",
            ],
            110,
            pending_at(registered(B, 110), NOW - 30),
            callback(&format!("&code={CODE}")),
            vec![resp(200, ANSWER)],
            "persist, send POST, persist, done connected",
        ),
        s(
            g,
            "connect: 503 then 200",
            &["retried with the same Idempotency-Key"],
            111,
            pending_at(registered(B, 111), NOW - 30),
            callback(&format!("&code={CODE}")),
            vec![code(503, "unavailable"), resp(200, ANSWER)],
            "persist, send POST, sleep *, send POST, persist, done connected",
        ),
        s(
            g,
            "connect: network error then 200",
            &["a lost answer is retried: the broker answers a retry of the same key with a new token"],
            112,
            pending_at(registered(B, 112), NOW - 30),
            callback(&format!("&code={CODE}")),
            vec![net(), resp(200, ANSWER)],
            "persist, send POST, sleep *, send POST, persist, done connected",
        ),
        s(
            g,
            "connect: 429 Retry-After",
            &["Retry-After honoured"],
            113,
            pending_at(registered(B, 113), NOW - 30),
            callback(&format!("&code={CODE}")),
            vec![with(429, r#"{"error":"rate_limited"}"#, &[("Retry-After", "2")]), resp(200, ANSWER)],
            "persist, send POST, sleep 2000, send POST, persist, done connected",
        ),
        s(
            g,
            "connect: clock skew",
            &["signature_expired with Date teaches the offset, persisted, retried once"],
            114,
            pending_at(registered(B, 114), NOW - 30),
            callback(&format!("&code={CODE}")),
            vec![with(401, r#"{"error":"signature_expired"}"#, &[("Date", &date_ahead)]), resp(200, ANSWER)],
            "persist, send POST, persist, send POST, persist, done connected",
        ),
        s(
            g,
            "connect: code refused",
            &["connect_code_invalid is a client error, never retried"],
            115,
            pending_at(registered(B, 115), NOW - 30),
            callback(&format!("&code={CODE}")),
            vec![code(400, "connect_code_invalid")],
            "persist, send POST, done client_error",
        ),
        s(
            g,
            "connect: reconnect refused keeps the old token",
            &["a failed reconnect keeps the broker token and account held before"],
            116,
            pending_at(connected(B, 116), NOW - 30),
            callback(&format!("&code={CODE}")),
            vec![code(400, "connect_code_invalid")],
            "persist, send POST, done client_error",
        ),
        s(
            g,
            "connect: reconnect replaces the token",
            &["the new token and account replace the old ones"],
            117,
            pending_at(connected(B, 117), NOW - 30),
            callback(&format!("&code={CODE}")),
            vec![resp(200, ANSWER)],
            "persist, send POST, persist, done connected",
        ),
        s(
            g,
            "connect: registration gone",
            &["unknown_installation marks the registration invalid"],
            118,
            pending_at(registered(B, 118), NOW - 30),
            callback(&format!("&code={CODE}")),
            vec![code(401, "unknown_installation")],
            "persist, send POST, persist, done registration_invalid",
        ),
        s(
            g,
            "connect: redirect",
            &["a 3xx is never followed"],
            119,
            pending_at(registered(B, 119), NOW - 30),
            callback(&format!("&code={CODE}")),
            vec![with(302, "", &[("Location", "https://elsewhere.example/")])],
            "persist, send POST, done redirected",
        ),
        s(
            g,
            "connect: malformed answer",
            &["a 200 without an account is callback_invalid; nothing stored"],
            120,
            pending_at(registered(B, 120), NOW - 30),
            callback(&format!("&code={CODE}")),
            vec![resp(200, r#"{"broker_token":"btk_x"}"#)],
            "persist, send POST, done callback_invalid",
        ),
        s(
            g,
            "connect: expired",
            &["after 10 minutes the consumed attempt ends callback_expired, nothing sent"],
            121,
            pending_at(registered(B, 121), NOW - 601),
            callback(&format!("&code={CODE}")),
            vec![],
            "persist, done callback_expired",
        ),
        s(
            g,
            "connect: denied",
            &["error= ends callback_denied once the attempt is consumed"],
            122,
            pending_at(registered(B, 122), NOW - 30),
            callback("&error=access_denied"),
            vec![],
            "persist, done callback_denied",
        ),
        s(
            g,
            "connect: no code",
            &["a callback without a code ends callback_invalid; the attempt is consumed"],
            123,
            pending_at(registered(B, 123), NOW - 30),
            callback("&broker_token=btk_from_an_old_broker"),
            vec![],
            "persist, done callback_invalid",
        ),
        s(
            g,
            "connect: state mismatch",
            &["a wrong state fails before anything changes"],
            124,
            pending_at(registered(B, 124), NOW - 30),
            Op::CompleteConnect(format!("{RETURN}&state=d3Jvbmctc3RhdGUtMDE&code={CODE}")),
            vec![],
            "start_error callback_state_mismatch",
        ),
        s(
            g,
            "connect: nothing pending",
            &["no pending connect: invalid_state, nothing changes"],
            125,
            registered(B, 125),
            callback(&format!("&code={CODE}")),
            vec![],
            "start_error invalid_state",
        ),
    ]
}

// ---- do the action, then record it (Timeline Events) ------------------------------

fn event() -> TimelineEvent {
    TimelineEvent {
        source_id: "src_tessera".into(),
        template_id: "tpl_contact_created".into(),
        contact_id: Some("con_1".into()),
        site_id: None,
        description: Some("Contact created from the \"Rent\" form".into()),
        external_url: Some("https://shop.example/wp-admin/admin.php?page=rentals&id=7".into()),
        variables: vec![("form".into(), "rent".into()), ("unit".into(), "A-12".into())],
    }
}

fn record(req: ApiRequest) -> Op {
    Op::Record(req, event())
}

const STORED: &str = r#"{"id":"tle_1","created_at":1700000000}"#;
const INVALID_CONTENT: &str = r#"{"error":{"code":"invalid_content","type":"invalid_request_error","message":"template variable missing","details":[],"links":[],"request_id":"req_0123456789abcdef01234567"}}"#;
const CONFLICT: &str = r#"{"error":{"code":"conflict","type":"invalid_request_error","message":"already exists","details":[],"links":[],"request_id":"req_0123456789abcdef01234568"}}"#;

fn recorded() -> Vec<Scenario> {
    let g = "call";
    let contact = || ApiRequest::json("POST", "/api/contacts", r#"{"name":"Ada"}"#.to_owned());
    vec![
        s(
            g,
            "record: action ok, event recorded",
            &[
                "the event is sent after the action succeeded",
                "external.id is the action's key",
                "event key tle-<action key>",
            ],
            130,
            connected(B, 130),
            record(contact()),
            vec![resp(201, r#"{"id":"con_1"}"#), resp(201, STORED)],
            "send POST, send POST, done recorded",
        ),
        s(
            g,
            "record: event refused 422, the action's response still returned",
            &["a failed event ends Recorded with event failed", "the action is not undone"],
            131,
            connected(B, 131),
            record(contact()),
            vec![resp(201, r#"{"id":"con_1"}"#), resp(422, INVALID_CONTENT)],
            "send POST, send POST, done recorded",
        ),
        s(
            g,
            "record: action 409, no event sent",
            &["a failed action ends with its error and sends no event"],
            132,
            connected(B, 132),
            record(contact()),
            vec![resp(409, CONFLICT)],
            "send POST, done client_error",
        ),
        s(
            g,
            "record: the caller's key ties the event",
            &["a caller's key is kept", "event key derived from the caller's key"],
            133,
            connected(B, 133),
            record({
                let mut r = contact();
                r.headers.push(("Idempotency-Key".into(), "order-7-contact".into()));
                r
            }),
            vec![resp(201, r#"{"id":"con_1"}"#), resp(201, STORED)],
            "send POST, send POST, done recorded",
        ),
        s(
            g,
            "record: event 503 retried with the same key",
            &["the event follows the normal retry policy"],
            134,
            connected(B, 134),
            record(contact()),
            vec![resp(201, r#"{"id":"con_1"}"#), resp(503, ""), resp(201, STORED)],
            "send POST, send POST, sleep *, send POST, done recorded",
        ),
        s(
            g,
            "record: a GET action gets a key drawn for the event",
            &["an action without a key: a UUID drawn on success ties the event"],
            135,
            connected(B, 135),
            record(ApiRequest::new("GET", "/api/orders/ord_1")),
            vec![resp(200, r#"{"id":"ord_1"}"#), resp(201, STORED)],
            "send GET, send POST, done recorded",
        ),
        s(
            g,
            "record: an invalid event is refused before anything is sent",
            &["the event is validated up front"],
            136,
            connected(B, 136),
            Op::Record(contact(), TimelineEvent { template_id: String::new(), ..event() }),
            vec![],
            "start_error invalid_input",
        ),
    ]
}

// ---- pulling Stora's events (docs/PROTOCOL.md §14.3) ------------------------------

const PAGE: &str = r#"{"events":[{"id":"evt_1","type":"order.updated","api_version":"2025-09","created_at":1700000000,"data":{"object":{"id":"ord_1","status":"paid","total":12.5e1}}},{"id":"evt_2","type":"contact.created","api_version":"2025-09","created_at":1700000001,"data":{"object":{"id":"con_1","name":"Zo\u00eb"}},"extra":true}],"cursor":"42","has_more":true}"#;

fn pull(limit: u32, acknowledge: bool) -> Op {
    Op::PullEvents { limit, acknowledge }
}

/// Connected, with the cursor of an earlier page acknowledged.
fn pulled_to(seed: u8, cursor: &str) -> Companion {
    let mut c = connected(B, seed);
    c.acknowledge_events(cursor).unwrap();
    c
}

/// Answers a pull must refuse (`response_invalid`), each with the state unchanged.
const BAD_PAGES: [(&str, &str); 8] = [
    ("not JSON", "{"),
    ("events not an array", r#"{"events":{},"cursor":"1","has_more":false}"#),
    ("cursor a number", r#"{"events":[],"cursor":1,"has_more":false}"#),
    ("cursor of 19 digits", r#"{"events":[],"cursor":"1234567890123456789","has_more":false}"#),
    ("has_more on an empty page", r#"{"events":[],"cursor":"0","has_more":true}"#),
    (
        "an event without data",
        r#"{"events":[{"id":"evt_1","type":"t","api_version":"2025-09","created_at":1}],"cursor":"1","has_more":false}"#,
    ),
    (
        "created_at not an integer",
        r#"{"events":[{"id":"evt_1","type":"t","api_version":"2025-09","created_at":1.5,"data":{}}],"cursor":"1","has_more":false}"#,
    ),
    (
        "the same event twice",
        r#"{"events":[{"id":"evt_1","type":"t","api_version":"","created_at":1,"data":{}},{"id":"evt_1","type":"t","api_version":"","created_at":1,"data":{}}],"cursor":"1","has_more":false}"#,
    ),
];

fn pulls() -> Vec<Scenario> {
    let g = "call";
    let bad = BAD_PAGES.iter().enumerate().map(|(i, (what, body))| {
        let name: &'static str = Box::leak(format!("events: refused, {what}").into_boxed_str());
        s(
            g,
            name,
            &["response_invalid"],
            150 + i as u8,
            connected(B, 150),
            pull(2, true),
            vec![resp(200, body)],
            "send GET, done response_invalid",
        )
    });
    bad.chain(vec![
        s(
            g,
            "events: first pull, page acknowledged",
            &["GET /events?limit=n with no cursor", "the page is read", "acknowledging stores the cursor"],
            140,
            connected(B, 140),
            pull(2, true),
            vec![resp(200, PAGE)],
            "send GET, done events",
        ),
        s(
            g,
            "events: a pull after the stored cursor, not acknowledged",
            &["after=<stored cursor>", "the cursor stays until the host acknowledges"],
            141,
            pulled_to(141, "41"),
            pull(50, false),
            vec![resp(200, PAGE)],
            "send GET, done events",
        ),
        s(
            g,
            "events: a member twice in data is kept as sent",
            &["data_json keeps both members; every binding's decoder keeps the last"],
            149,
            connected(B, 149),
            pull(2, true),
            vec![resp(
                200,
                r#"{"events":[{"id":"evt_1","type":"t","api_version":"2025-09","created_at":1,"data":{"a":1,"a":2}}],"cursor":"1","has_more":false}"#,
            )],
            "send GET, done events",
        ),
        s(
            g,
            "events: an empty page",
            &["an empty page keeps the cursor"],
            142,
            pulled_to(142, "42"),
            pull(50, true),
            vec![resp(200, r#"{"events":[],"cursor":"42","has_more":false}"#)],
            "send GET, done events",
        ),
        s(
            g,
            "events: a cursor going backwards is refused",
            &["response_invalid", "the state is unchanged"],
            143,
            pulled_to(143, "43"),
            pull(50, true),
            vec![resp(200, PAGE)],
            "send GET, done response_invalid",
        ),
        s(
            g,
            "events: more events than asked for are refused",
            &["response_invalid on a page over the limit"],
            144,
            connected(B, 144),
            pull(1, true),
            vec![resp(200, PAGE)],
            "send GET, done response_invalid",
        ),
        s(
            g,
            "events: 503 retried, then the page",
            &["a pull is a GET: retried like any call"],
            145,
            connected(B, 145),
            pull(2, true),
            vec![resp(503, ""), resp(200, PAGE)],
            "send GET, sleep *, send GET, done events",
        ),
        s(
            g,
            "events: broker_token_invalid means reconnect",
            &["reconnect mapping as for any call"],
            146,
            pulled_to(146, "7"),
            pull(50, true),
            vec![code(401, "broker_token_invalid")],
            "send GET, persist, done reconnect_required",
        ),
        s(
            g,
            "events: a limit over 100 is refused before anything is sent",
            &["limit 1..100"],
            147,
            connected(B, 147),
            pull(101, true),
            vec![],
            "start_error invalid_input",
        ),
        s(
            g,
            "events: not connected",
            &["a pull needs the broker token"],
            148,
            registered(B, 148),
            pull(50, true),
            vec![],
            "start_error not_connected",
        ),
    ])
    .collect()
}

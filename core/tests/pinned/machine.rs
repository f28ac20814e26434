//! The step machine's loop and retry policy (core/src/machine/mod.rs):
//! events out of turn, the call's accessors, the retry and Retry-After
//! budgets at their limits, and which operations a broker answer affects.
//! Fixtures shared with `machine_leave.rs` live here.

use tessera_core::{
    Action, ApiRequest, Call, Companion, Completion, Config, Error, Event, Request, Response, RetryPolicy,
    SeededEntropy, TransportError,
};

pub const NOW: i64 = 1_700_000_000;
pub const BROKER: &str = "https://broker.example";
pub const CHALLENGE: &str = r#"{"challenge":"chl_c2NyaXB0ZWQtY2hhbGxlbmdl"}"#;
const STATE: &str = "cccccccccccccccccccccc";
const RETURN_URL: &str = "https://shop.example/wp-admin/options-general.php?page=tessera";

pub fn rng(seed: u8) -> SeededEntropy {
    SeededEntropy::new([seed; 32])
}

pub fn registration(site: &str) -> tessera_core::Registration {
    tessera_core::Registration {
        site_url: site.into(),
        admin_email: "owner@shop.example".into(),
        platform: "wordpress".into(),
        plugin_version: "1.2.3".into(),
    }
}

pub fn registered_with(config: Config, seed: u8) -> Companion {
    let mut c = Companion::create(config).unwrap();
    c.registration_request(&registration("https://shop.example"), &mut rng(seed)).unwrap();
    c.handle_registration_response_at(&Response::new(201, b"{}".to_vec()), NOW).unwrap();
    c
}

pub fn registered(seed: u8) -> Companion {
    registered_with(Config::new(BROKER), seed)
}

/// Records a pending connect created at `created`; returns its callback.
pub fn pending_connect(c: &mut Companion, created: i64) -> String {
    c.connect_url_with_state(RETURN_URL, None, created, STATE).unwrap();
    format!("?state={STATE}&code=cc_Zm9yLXRlc3RzLW9ubHk")
}

pub fn connect_answer(token: &str) -> Event {
    let body = format!(r#"{{"broker_token":"{token}","account":{{"id":"op_test","name":"Test Storage"}}}}"#);
    Event::Response(Response::new(200, body.into_bytes()))
}

pub fn connected_with(config: Config, seed: u8) -> Companion {
    let mut c = registered_with(config, seed);
    let callback = pending_connect(&mut c, NOW);
    let call = c.start_complete_connect(&callback, NOW).unwrap();
    let run = run(&mut c, call, vec![connect_answer("btk_Zm9yLXRlc3RzLW9ubHk")]);
    assert_eq!(run.trace, "persist, send POST, persist, done connected");
    c
}

pub fn connected(seed: u8) -> Companion {
    connected_with(Config::new(BROKER), seed)
}

pub fn status(code: u16) -> Event {
    Event::Response(Response::new(code, Vec::new()))
}

pub fn error(code: u16, name: &str) -> Event {
    Event::Response(Response::new(code, format!(r#"{{"error":"{name}"}}"#).into_bytes()))
}

fn retry_after(secs: &str) -> Event {
    Event::Response(Response::new(429, Vec::new()).with_header("Retry-After", secs))
}

pub struct Run {
    /// `send GET, sleep 250, persist, serve_proof, done response` (as the machine scripts write it).
    pub trace: String,
    pub sent: Vec<Request>,
    pub result: tessera_core::Result<Completion>,
}

/// Drives `call` at `NOW`: sleeps and persists succeed, and each send or
/// proof takes the next of `answers`.
pub fn run(c: &mut Companion, mut call: Call, answers: Vec<Event>) -> Run {
    let mut answers = answers.into_iter();
    let mut entropy = rng(99);
    let (mut trace, mut sent) = (Vec::new(), Vec::new());
    let mut event = Event::Start;
    for _ in 0..40 {
        let action = c.step(&mut call, event, NOW, &mut entropy);
        event = match action {
            Action::Send(request) => {
                trace.push(format!("send {}", request.method));
                sent.push(request);
                answers.next().expect("an answer for every send")
            }
            Action::Sleep(ms) => {
                trace.push(format!("sleep {ms}"));
                Event::Slept
            }
            Action::Persist(_) => {
                trace.push("persist".into());
                Event::Persisted
            }
            Action::ServeProof(_) => {
                trace.push("serve_proof".into());
                answers.next().expect("an answer for every proof")
            }
            Action::Lock(_) | Action::Unlock(_) => unreachable!("broker mode takes no lock"),
            Action::Done(result) => {
                trace.push(match &result {
                    Ok(done) => format!("done {}", completion_name(done)),
                    Err(e) => format!("done {}", e.code()),
                });
                assert!(answers.next().is_none(), "answers left over: {}", trace.join(", "));
                return Run { trace: trace.join(", "), sent, result };
            }
        };
    }
    panic!("the call did not finish: {}", trace.join(", "));
}

fn completion_name(c: &Completion) -> &'static str {
    match c {
        Completion::Response(_) => "response",
        Completion::Registration(_) => "registration",
        Completion::Connected { .. } => "connected",
        Completion::PreviousRevoked { .. } => "previous_revoked",
        Completion::Disconnected { .. } => "disconnected",
        Completion::Uninstalled(_) => "uninstalled",
        Completion::Reset { .. } => "reset",
        Completion::SiteMoved => "site_moved",
        Completion::Recorded { .. } => "recorded",
        Completion::Events(_) => "events",
    }
}

fn with_retry(retry: RetryPolicy) -> Config {
    let mut config = Config::new(BROKER);
    config.retry = retry;
    config
}

fn get() -> ApiRequest {
    ApiRequest::new("GET", "/api/orders")
}

fn unexpected(action: Action) -> bool {
    matches!(action, Action::Done(Err(Error::InvalidState("unexpected event for this call"))))
}

// ---- the loop ---------------------------------------------------------------------

#[test]
fn every_event_but_start_is_refused_before_the_call_started() {
    let events = [
        status(200),
        Event::TransportError(TransportError::Redirect),
        Event::TransportError(TransportError::Network),
        Event::ProofServed,
        Event::ProofDeferred,
        Event::Slept,
        Event::Persisted,
    ];
    for event in events {
        let mut c = connected(1);
        let mut call = c.start_call(get()).unwrap();
        let action = c.step(&mut call, event.clone(), NOW, &mut rng(2));
        assert!(unexpected(action), "{event:?}");
        assert!(call.is_finished() && call.attempts() == 0, "{event:?}");
    }
}

#[test]
fn a_second_start_is_refused() {
    let mut c = connected(1);
    let mut call = c.start_call(get()).unwrap();
    assert!(matches!(c.step(&mut call, Event::Start, NOW, &mut rng(2)), Action::Send(_)));
    assert!(unexpected(c.step(&mut call, Event::Start, NOW, &mut rng(2))));
}

#[test]
fn a_response_while_a_sleep_is_owed_is_refused() {
    let mut c = connected(1);
    let mut call = c.start_call(get()).unwrap();
    let mut r = rng(2);
    assert!(matches!(c.step(&mut call, Event::Start, NOW, &mut r), Action::Send(_)));
    assert!(matches!(c.step(&mut call, status(503), NOW, &mut r), Action::Sleep(_)));
    assert!(unexpected(c.step(&mut call, status(200), NOW, &mut r)));
}

#[test]
fn the_call_counts_its_attempts_and_says_when_it_is_finished() {
    let mut c = connected(1);
    let mut call = c.start_call(get()).unwrap();
    let mut r = rng(2);
    assert_eq!((call.attempts(), call.is_finished()), (0, false));
    assert!(matches!(c.step(&mut call, Event::Start, NOW, &mut r), Action::Send(_)));
    assert_eq!((call.attempts(), call.is_finished()), (1, false));
    assert!(matches!(c.step(&mut call, status(503), NOW, &mut r), Action::Sleep(_)));
    assert!(matches!(c.step(&mut call, Event::Slept, NOW, &mut r), Action::Send(_)));
    assert_eq!((call.attempts(), call.is_finished()), (2, false));
    assert!(matches!(c.step(&mut call, status(200), NOW, &mut r), Action::Done(Ok(_))));
    assert_eq!((call.attempts(), call.is_finished()), (2, true));
}

#[test]
fn the_idempotency_key_is_the_one_sent() {
    let mut c = connected(1);
    let mut call = c.start_call(ApiRequest::json("POST", "/api/orders", b"{}".to_vec())).unwrap();
    assert_eq!(call.idempotency_key(), None);
    let Action::Send(request) = c.step(&mut call, Event::Start, NOW, &mut rng(2)) else { panic!("a send") };
    let sent = request.header("idempotency-key").unwrap();
    assert_eq!(sent.len(), 36);
    assert_eq!(call.idempotency_key(), Some(sent));
}

// An API call started before a site move began is not signed while the move
// waits for its ownership proof (only leaving is).
#[test]
fn an_api_call_is_not_signed_while_a_site_move_awaits_its_proof() {
    let mut c = connected(1);
    let mut call = c.start_call(get()).unwrap();
    c.check_site("https://new-shop.example").unwrap();
    let moving = c.start_site_moved().unwrap();
    let moved = run(&mut c, moving, vec![Event::Response(Response::new(202, CHALLENGE)), Event::ProofDeferred]);
    assert_eq!(moved.trace, "send PATCH, persist, serve_proof, done site_moved");
    let action = c.step(&mut call, Event::Start, NOW, &mut rng(2));
    assert!(matches!(action, Action::Done(Err(Error::InvalidState(_)))), "{action:?}");
}

// ---- 5xx: attempts and the total delay budget ---------------------------------------

fn backoff(max_total_delay_ms: u64) -> Config {
    with_retry(RetryPolicy {
        max_attempts: 3,
        base_delay_ms: 1_000,
        max_delay_ms: 1_000,
        max_total_delay_ms,
        max_retry_after_ms: 10_000,
    })
}

/// The two full-jitter delays the seeded entropy draws for two 503s.
fn drawn_delays() -> (u64, u64) {
    let mut c = connected_with(backoff(3_600_000), 1);
    let call = c.start_call(get()).unwrap();
    let done = run(&mut c, call, vec![status(503), status(503), status(503)]);
    let sleeps: Vec<u64> = done.trace.split(", ").filter_map(|s| s.strip_prefix("sleep ")?.parse().ok()).collect();
    assert_eq!(sleeps.len(), 2, "{}", done.trace);
    assert!(matches!(done.result, Err(Error::ServerUnavailable { status: Some(503), attempts: 3 })));
    assert!(sleeps.iter().all(|&ms| (1..=1_000).contains(&ms)), "pick another seed: {sleeps:?}");
    (sleeps[0], sleeps[1])
}

/// A GET answered 503 `sends` times, under a total delay budget of `total`.
fn with_budget(total: u64, sends: usize) -> Run {
    let mut c = connected_with(backoff(total), 1);
    let call = c.start_call(get()).unwrap();
    run(&mut c, call, (0..sends).map(|_| status(503)).collect())
}

#[test]
fn backoff_sleeps_within_the_total_delay_budget_at_its_limit() {
    let (d1, d2) = drawn_delays();
    let exact = with_budget(d1 + d2, 3);
    assert_eq!(exact.trace, format!("send GET, sleep {d1}, send GET, sleep {d2}, send GET, done server_unavailable"));
    // The sleeps add up: one millisecond short, the second retry is refused.
    let short = with_budget(d1 + d2 - 1, 2);
    assert_eq!(short.trace, format!("send GET, sleep {d1}, send GET, done server_unavailable"));
    assert!(matches!(short.result, Err(Error::ServerUnavailable { status: Some(503), attempts: 2 })));
    let none = with_budget(d1 - 1, 1);
    assert_eq!(none.trace, "send GET, done server_unavailable");
}

// ---- 429: attempts, the Retry-After cap and the total budget ------------------------

fn rate_limited(retry: RetryPolicy, answers: Vec<Event>) -> Run {
    let mut c = connected_with(with_retry(retry), 1);
    let call = c.start_call(get()).unwrap();
    run(&mut c, call, answers)
}

#[test]
fn retry_after_is_honoured_only_within_the_attempts() {
    let retry = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
    let done = rate_limited(retry, vec![retry_after("1"), retry_after("1")]);
    assert_eq!(done.trace, "send GET, sleep 1000, send GET, done rate_limited");
    assert!(matches!(done.result, Err(Error::RateLimited { retry_after_ms: 1_000 })));
}

#[test]
fn retry_after_is_honoured_up_to_its_cap() {
    let retry = RetryPolicy { max_retry_after_ms: 2_000, ..RetryPolicy::default() };
    let at_cap = rate_limited(retry.clone(), vec![retry_after("2"), status(200)]);
    assert_eq!(at_cap.trace, "send GET, sleep 2000, send GET, done response");
    let over = rate_limited(retry, vec![retry_after("3")]);
    assert_eq!(over.trace, "send GET, done rate_limited");
    assert!(matches!(over.result, Err(Error::RateLimited { retry_after_ms: 3_000 })));
}

#[test]
fn retry_after_is_honoured_within_the_total_delay_budget() {
    let retry = RetryPolicy { max_total_delay_ms: 2_000, ..RetryPolicy::default() };
    let at_budget = rate_limited(retry.clone(), vec![retry_after("2"), retry_after("1")]);
    assert_eq!(at_budget.trace, "send GET, sleep 2000, send GET, done rate_limited");
    let over = rate_limited(RetryPolicy { max_total_delay_ms: 1_999, ..retry }, vec![retry_after("2")]);
    assert_eq!(over.trace, "send GET, done rate_limited");
}

// ---- which operations an answer affects ---------------------------------------------

// Only an API call drops the broker token on reconnect_required: a failed
// reconnect keeps the token held before.
#[test]
fn a_reconnect_refused_as_reconnect_required_keeps_the_old_token() {
    let mut c = connected(1);
    let callback = pending_connect(&mut c, NOW);
    let call = c.start_complete_connect(&callback, NOW).unwrap();
    let done = run(&mut c, call, vec![error(401, "stora_reconnect_required")]);
    assert_eq!(done.trace, "persist, send POST, done reconnect_required");
    assert!(c.state().broker_token().is_some());
    assert_eq!(c.reconnect_reason(), None);
}

// A leave step refused as signature_invalid fails that step; it does not mark
// the registration invalid.
#[test]
fn a_disconnect_refused_as_signature_invalid_is_a_failed_step() {
    let mut c = connected(1);
    let call = c.start_disconnect().unwrap();
    let done = run(&mut c, call, vec![error(401, "signature_invalid")]);
    assert_eq!(done.trace, "send POST, persist, done disconnected");
    let Ok(Completion::Disconnected { remote }) = done.result else { panic!("disconnected") };
    assert_eq!(remote.error().map(Error::code), Some("registration_invalid"));
    assert_eq!(c.state().installation().unwrap().invalid_reason, None);
}

// A 401 of the broker's own about the connection means it is gone; the same
// code on a 403 is not a confirmation.
#[test]
fn a_disconnect_answered_403_reconnect_required_is_a_failed_step() {
    let mut c = connected(1);
    let call = c.start_disconnect().unwrap();
    let done = run(&mut c, call, vec![error(403, "stora_reconnect_required")]);
    let Ok(Completion::Disconnected { remote }) = done.result else { panic!("disconnected") };
    assert_eq!(remote.error().map(Error::code), Some("reconnect_required"));
    assert_eq!(c.state().broker_token(), None);
}

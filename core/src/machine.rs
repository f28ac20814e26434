//! The step machine that drives a whole logical call (sans-IO).
//!
//! The host loop is a few lines: feed [`Event::Start`], then perform each
//! [`Action`] and feed back what happened, until [`Action::Done`]:
//!
//! ```
//! use tessera_core::{Action, ApiRequest, Companion, Completion, Event, Response, SeededEntropy};
//! # use tessera_core::{Config, Registration};
//! # let mut rng = SeededEntropy::new([1; 32]);
//! # let mut companion = Companion::create(Config::new("https://broker.example"))?;
//! # companion.registration_request(&Registration { site_url: "https://s.example".into(), admin_email: "a@s.example".into(), platform: "wordpress".into(), plugin_version: "1".into() }, &mut rng)?;
//! # companion.handle_registration_response(&Response::new(201, vec![]))?;
//! # let url = companion.connect_url("https://s.example/cb", None, 1_700_000_000, &mut rng)?;
//! # let state = url.split("state=").nth(1).unwrap().split('&').next().unwrap().to_string();
//! # companion.complete_connect(&format!("state={state}&broker_token=btk_1"), 1_700_000_000)?;
//! let now = 1_700_000_000; // the host's clock, unix seconds
//! let mut call = companion.start_call(ApiRequest::new("GET", "/api/orders"))?;
//! let mut event = Event::Start;
//! let response = loop {
//!     match companion.step(&mut call, event, now, &mut rng) {
//!         Action::Send(request) => {
//!             // the host sends `request` with its HTTP stack:
//!             # let _ = request;
//!             event = Event::Response(Response::new(200, b"[]".to_vec()));
//!         }
//!         Action::Sleep(_ms) => event = Event::Slept,          // after sleeping `_ms`
//!         Action::Persist(_json) => event = Event::Persisted,  // after storing `_json`
//!         Action::Done(result) => break result?,
//!     }
//! };
//! assert!(matches!(response, Completion::Response(r) if r.status == 200));
//! # Ok::<(), tessera_core::Error>(())
//! ```
//!
//! Policy (DESIGN.md): 5xx, 408 and transport errors are retried with
//! full-jitter exponential backoff, bounded in attempts and total delay, only
//! for idempotent methods or requests with an `Idempotency-Key` (the same key
//! on every attempt); 429 honours `Retry-After` up to a cap; `signature_expired`
//! with a `Date` header teaches the clock offset and is retried once; other
//! 4xx are never retried. State changes are persisted before `Done`.

use std::collections::VecDeque;

use crate::classify::{Outcome, OutcomeKind, classify};
use crate::companion::Companion;
use crate::entropy::{Entropy, random};
use crate::error::{Error, Result};
use crate::http::{ApiRequest, Request, Response, check_body, normalize_headers, normalize_method};
use crate::sign::{SignOptions, is_idempotent, uuid_v4};

/// What happened since the last action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Begin the call.
    Start,
    /// The response to the last [`Action::Send`].
    Response(Response),
    /// The last [`Action::Send`] failed in transport (DNS, TLS, timeout, …).
    TransportError(String),
    /// The last [`Action::Sleep`] is over.
    Slept,
    /// The last [`Action::Persist`] is stored.
    Persisted,
}

/// What the host must do next.
///
/// `Debug` never prints the state JSON of [`Action::Persist`] (it holds the
/// secret) nor credentials of [`Action::Send`].
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this request; feed back [`Event::Response`] or [`Event::TransportError`].
    Send(Request),
    /// Sleep this many milliseconds; feed back [`Event::Slept`].
    Sleep(u64),
    /// Store this state JSON (the companion's [`Companion::to_json`]); feed back [`Event::Persisted`].
    Persist(String),
    /// The call is over.
    Done(Result<Completion>),
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Send(r) => f.debug_tuple("Send").field(r).finish(),
            Action::Sleep(ms) => f.debug_tuple("Sleep").field(ms).finish(),
            Action::Persist(json) => write!(f, "Persist(<state, {} bytes>)", json.len()),
            Action::Done(r) => f.debug_tuple("Done").field(r).finish(),
        }
    }
}

/// How a remote step of disconnect/uninstall ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteStep {
    /// The broker confirmed it (or it was already done).
    Ok,
    /// Not attempted (nothing to do, or the site is a copy that must not touch the original).
    Skipped,
    /// It failed; the local side went ahead anyway.
    Failed(Error),
}

impl RemoteStep {
    /// `ok`, `skipped` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RemoteStep::Ok => "ok",
            RemoteStep::Skipped => "skipped",
            RemoteStep::Failed(_) => "failed",
        }
    }

    /// The failure, if any.
    pub fn error(&self) -> Option<&Error> {
        match self {
            RemoteStep::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// What the uninstall plan did remotely. Local state is wiped whatever it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UninstallReport {
    /// `POST /disconnect`.
    pub disconnect: RemoteStep,
    /// `DELETE /installations/{id}`.
    pub deregister: RemoteStep,
}

/// How a call ended successfully.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// [`Companion::start_call`]: the broker's 2xx response.
    Response(Response),
    /// [`Companion::start_disconnect`]: the broker token is gone locally.
    Disconnected {
        /// How the broker call ended.
        remote: RemoteStep,
    },
    /// [`Companion::start_uninstall`]: local state is wiped.
    Uninstalled(UninstallReport),
    /// [`Companion::start_site_moved`]: the registration now carries the new URL.
    /// When the broker asked for an ownership proof of the new address, the
    /// status is `awaiting_ownership`: serve [`Companion::ownership_proof`] and
    /// send the registration request again, as for a new registration.
    SiteMoved,
}

/// Attempts per remote step of the uninstall plan.
pub const UNINSTALL_MAX_ATTEMPTS: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Api,
    Disconnect,
    UninstallDisconnect,
    UninstallDeregister,
    SiteMoved,
}

#[derive(Clone, Debug)]
enum Pending {
    Emit(Action),
    Resend,
}

/// One logical call in progress. Create with a `Companion::start_*` method,
/// drive with [`Companion::step`].
#[derive(Clone, Debug)]
pub struct Call {
    op: Op,
    req: ApiRequest,
    idempotency_key: Option<String>,
    attempts: u32,
    delay_spent_ms: u64,
    skew_retried: bool,
    awaiting_response: bool,
    started: bool,
    finished: bool,
    pending: VecDeque<Pending>,
    disconnect_step: RemoteStep,
}

impl Call {
    fn new(op: Op, req: ApiRequest) -> Call {
        Call {
            op,
            req,
            idempotency_key: None,
            attempts: 0,
            delay_spent_ms: 0,
            skew_retried: false,
            awaiting_response: false,
            started: false,
            finished: false,
            pending: VecDeque::new(),
            disconnect_step: RemoteStep::Skipped,
        }
    }

    /// Attempts sent so far for the current request.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether [`Action::Done`] was returned.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The `Idempotency-Key` used on every attempt, once the first is signed.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }

    fn reset_for(&mut self, op: Op, req: ApiRequest) {
        self.op = op;
        self.req = req;
        self.idempotency_key = None;
        self.attempts = 0;
        self.delay_spent_ms = 0;
        self.skew_retried = false;
    }
}

fn uninstall_plan(companion: &Companion) -> Option<(Op, ApiRequest)> {
    let state = &companion.state;
    let inst = state.installation.as_ref()?;
    if state.site_mismatch.is_some() || inst.invalid_reason.is_some() || !inst.confirmed {
        return None;
    }
    if state.broker_token.is_some() {
        Some((Op::UninstallDisconnect, ApiRequest::new("POST", &state.config.routes.disconnect)))
    } else {
        Some((Op::UninstallDeregister, deregister_request(companion, &inst.id)))
    }
}

fn deregister_request(companion: &Companion, id: &str) -> ApiRequest {
    ApiRequest::new("DELETE", &format!("{}/{id}", companion.state.config.routes.installations))
}

impl Companion {
    /// Starts a signed API call through the broker (needs a broker token).
    pub fn start_call(&self, req: ApiRequest) -> Result<Call> {
        self.sign_preflight(&req)?;
        if self.state.broker_token.is_none() {
            return Err(match &self.state.reconnect_reason {
                Some(reason) => Error::ReconnectRequired { reason: reason.clone() },
                None => Error::NotConnected,
            });
        }
        Ok(Call::new(Op::Api, req))
    }

    /// Starts a disconnect: `POST /disconnect`; the broker token is dropped
    /// locally whatever the broker says.
    pub fn start_disconnect(&self) -> Result<Call> {
        let req = ApiRequest::new("POST", &self.state.config.routes.disconnect);
        self.sign_preflight(&req)?;
        if self.state.broker_token.is_none() {
            return Err(Error::NotConnected);
        }
        Ok(Call::new(Op::Disconnect, req))
    }

    /// Starts the uninstall plan: disconnect, deregister, then wipe local state
    /// whatever happened, reporting which remote steps failed. A site copy
    /// (mismatch) skips the remote steps: it must never deregister the original.
    pub fn start_uninstall(&self) -> Call {
        match uninstall_plan(self) {
            Some((op, req)) => Call::new(op, req),
            None => Call::new(Op::UninstallDeregister, ApiRequest::new("DELETE", "/")),
        }
    }

    /// Starts "the site moved": `PATCH /installations/{id}` with the new URL.
    /// Only while a site mismatch is recorded.
    pub fn start_site_moved(&self) -> Result<Call> {
        let inst = self.state.installation.as_ref().filter(|i| i.confirmed).ok_or(Error::NotRegistered)?;
        let current = self.state.site_mismatch.as_ref().ok_or(Error::InvalidState("no site mismatch to resolve"))?;
        let mut body = String::new();
        let mut o = crate::json::ObjectWriter::new(&mut body);
        o.str("site_url", current);
        o.end();
        let path = format!("{}/{}", self.state.config.routes.installations, inst.id);
        Ok(Call::new(Op::SiteMoved, ApiRequest::json("PATCH", &path, body)))
    }

    /// Checks everything signing will check, before any I/O.
    fn sign_preflight(&self, req: &ApiRequest) -> Result<()> {
        normalize_method(&req.method)?;
        check_body(&req.body)?;
        normalize_headers(&req.headers)?;
        self.broker.join(&req.path, "path")?;
        self.usable_installation().map(|_| ())
    }

    /// Advances `call` with `event` at local time `now` (unix seconds).
    pub fn step(&mut self, call: &mut Call, event: Event, now: i64, entropy: &mut dyn Entropy) -> Action {
        if call.finished {
            return Action::Done(Err(Error::InvalidState("the call is already finished")));
        }
        let action = match event {
            Event::Start if !call.started => {
                call.started = true;
                if call.op == Op::UninstallDeregister && call.req.path == "/" {
                    self.finish_uninstall(call, RemoteStep::Skipped)
                } else {
                    self.send(call, now, entropy)
                }
            }
            Event::Response(resp) if call.awaiting_response => {
                call.awaiting_response = false;
                let outcome = classify(&resp, now);
                self.on_outcome(call, outcome, Some(resp), now, entropy)
            }
            Event::TransportError(_) if call.awaiting_response => {
                call.awaiting_response = false;
                let outcome = Outcome {
                    kind: OutcomeKind::ServerUnavailable,
                    status: 0,
                    code: None,
                    retry_after_ms: None,
                    server_date: None,
                };
                self.on_outcome(call, outcome, None, now, entropy)
            }
            Event::Slept | Event::Persisted if !call.pending.is_empty() => self.next_pending(call, now, entropy),
            _ => {
                call.finished = true;
                return Action::Done(Err(Error::InvalidState("unexpected event for this call")));
            }
        };
        if matches!(action, Action::Done(_)) {
            call.finished = true;
        }
        action
    }

    fn next_pending(&mut self, call: &mut Call, now: i64, entropy: &mut dyn Entropy) -> Action {
        match call.pending.pop_front() {
            Some(Pending::Emit(action)) => action,
            Some(Pending::Resend) => self.send(call, now, entropy),
            None => Action::Done(Err(Error::Internal("no pending action"))),
        }
    }

    fn send(&mut self, call: &mut Call, now: i64, entropy: &mut dyn Entropy) -> Action {
        let method = call.req.method.to_ascii_uppercase();
        if call.idempotency_key.is_none() {
            let caller = call
                .req
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("idempotency-key"))
                .map(|(_, v)| v.trim().to_owned());
            call.idempotency_key =
                caller.or_else(|| matches!(method.as_str(), "POST" | "PATCH").then(|| uuid_v4(random::<16>(entropy))));
        }
        let opts = SignOptions { now, nonce: None, idempotency_key: call.idempotency_key.clone() };
        let allow_mismatch = call.op == Op::SiteMoved;
        match self.sign_as(&call.req, &opts, entropy, allow_mismatch) {
            Ok(request) => {
                call.attempts += 1;
                call.awaiting_response = true;
                Action::Send(request)
            }
            Err(e) => self.fail(call, e),
        }
    }

    /// Decides what a classified response (or transport failure) leads to.
    fn on_outcome(
        &mut self,
        call: &mut Call,
        outcome: Outcome,
        resp: Option<Response>,
        now: i64,
        entropy: &mut dyn Entropy,
    ) -> Action {
        let status = outcome.status;
        // Operation-specific successes.
        let success = match call.op {
            Op::Api | Op::SiteMoved => outcome.kind == OutcomeKind::Ok,
            // A 401 saying the connection is gone means there is nothing left to
            // revoke. A 401 about the request itself (signature, digest, replay,
            // clock) means the broker did not process it: not success.
            // (the reconnect codes are classify's; no code, or an unknown
            // installation, also means there is nothing left to revoke).
            Op::Disconnect | Op::UninstallDisconnect => {
                outcome.kind == OutcomeKind::Ok
                    || (status == 401
                        && (outcome.kind == OutcomeKind::ReconnectRequired
                            || matches!(outcome.code.as_deref(), None | Some("unknown_installation"))))
            }
            Op::UninstallDeregister => {
                outcome.kind == OutcomeKind::Ok || status == 404 || outcome.kind == OutcomeKind::RegistrationInvalid
            }
        };
        if success {
            return self.succeed(call, resp);
        }
        let mut policy = self.state.config.retry.clone();
        if matches!(call.op, Op::UninstallDisconnect | Op::UninstallDeregister) {
            // Uninstall is best effort and often runs inside one web request:
            // at most two attempts per remote step.
            policy.max_attempts = policy.max_attempts.min(UNINSTALL_MAX_ATTEMPTS);
        }
        match outcome.kind {
            OutcomeKind::ServerUnavailable => {
                let safe = is_idempotent(&call.req.method.to_ascii_uppercase()) || call.idempotency_key.is_some();
                let ceiling = policy
                    .base_delay_ms
                    .saturating_mul(1u64 << (call.attempts.saturating_sub(1)).min(20))
                    .min(policy.max_delay_ms);
                let delay = u64::from_le_bytes(random::<8>(entropy)) % (ceiling + 1);
                if safe
                    && call.attempts < policy.max_attempts
                    && call.delay_spent_ms + delay <= policy.max_total_delay_ms
                {
                    return self.sleep_then_resend(call, delay);
                }
                let status = (status != 0).then_some(status);
                self.fail(call, Error::ServerUnavailable { status, attempts: call.attempts })
            }
            OutcomeKind::RateLimited => {
                let wait = outcome.retry_after_ms.unwrap_or(policy.base_delay_ms);
                if call.attempts < policy.max_attempts
                    && wait <= policy.max_retry_after_ms
                    && call.delay_spent_ms + wait <= policy.max_total_delay_ms
                {
                    return self.sleep_then_resend(call, wait);
                }
                self.fail(call, Error::RateLimited { retry_after_ms: wait })
            }
            OutcomeKind::SignatureExpired if !call.skew_retried && outcome.server_date.is_some() => {
                call.skew_retried = true;
                let server = outcome.server_date.unwrap_or(now);
                self.state.clock_offset = crate::clock::offset_from(server, now);
                call.pending.push_back(Pending::Resend);
                Action::Persist(self.state.to_json())
            }
            OutcomeKind::ReconnectRequired if call.op == Op::Api => {
                let err = outcome.to_error(call.attempts).unwrap_or(Error::Internal("outcome"));
                self.state.broker_token = None;
                self.state.reconnect_reason = err.reason().map(str::to_owned);
                self.persist_then_done(call, Err(err))
            }
            OutcomeKind::RegistrationInvalid if matches!(call.op, Op::Api | Op::SiteMoved) => {
                let err = outcome.to_error(call.attempts).unwrap_or(Error::Internal("outcome"));
                if let Some(inst) = &mut self.state.installation {
                    inst.invalid_reason = err.reason().map(str::to_owned);
                }
                self.state.broker_token = None;
                self.persist_then_done(call, Err(err))
            }
            _ => {
                let err = outcome.to_error(call.attempts).unwrap_or(Error::Internal("outcome"));
                self.fail(call, err)
            }
        }
    }

    fn sleep_then_resend(&mut self, call: &mut Call, delay: u64) -> Action {
        call.delay_spent_ms += delay;
        call.pending.push_back(Pending::Resend);
        Action::Sleep(delay)
    }

    fn persist_then_done(&mut self, call: &mut Call, result: Result<Completion>) -> Action {
        self.state.refresh();
        call.pending.push_back(Pending::Emit(Action::Done(result)));
        Action::Persist(self.state.to_json())
    }

    fn succeed(&mut self, call: &mut Call, resp: Option<Response>) -> Action {
        match call.op {
            Op::Api => {
                let resp = resp.unwrap_or_else(|| Response::new(0, Vec::new()));
                Action::Done(Ok(Completion::Response(resp)))
            }
            Op::Disconnect => {
                self.state.broker_token = None;
                self.persist_then_done(call, Ok(Completion::Disconnected { remote: RemoteStep::Ok }))
            }
            Op::UninstallDisconnect => self.next_uninstall_stage(call, RemoteStep::Ok),
            Op::UninstallDeregister => self.finish_uninstall(call, RemoteStep::Ok),
            Op::SiteMoved => {
                // A broker that requires ownership proofs answers 202 with a
                // challenge: the new address must prove itself like a new
                // registration (serve the proof, send the registration again).
                let challenge = match resp.as_ref().filter(|r| r.status == 202) {
                    None => None,
                    Some(r) => match crate::registration::parse_challenge(&r.body) {
                        Ok(c) => Some(c),
                        Err(e) => return self.fail(call, e),
                    },
                };
                if let (Some(inst), Some(current)) = (&mut self.state.installation, self.state.site_mismatch.take()) {
                    inst.site_url = current;
                    if let Some(c) = challenge {
                        inst.challenge = Some(c);
                        inst.confirmed = false;
                    }
                }
                self.persist_then_done(call, Ok(Completion::SiteMoved))
            }
        }
    }

    fn fail(&mut self, call: &mut Call, err: Error) -> Action {
        match call.op {
            Op::Api | Op::SiteMoved => {
                self.state.refresh();
                Action::Done(Err(err))
            }
            Op::Disconnect => {
                self.state.broker_token = None;
                self.persist_then_done(call, Ok(Completion::Disconnected { remote: RemoteStep::Failed(err) }))
            }
            Op::UninstallDisconnect => self.next_uninstall_stage(call, RemoteStep::Failed(err)),
            Op::UninstallDeregister => self.finish_uninstall(call, RemoteStep::Failed(err)),
        }
    }

    fn next_uninstall_stage(&mut self, call: &mut Call, disconnect: RemoteStep) -> Action {
        call.disconnect_step = disconnect;
        self.state.broker_token = None;
        let id = match &self.state.installation {
            Some(inst) => inst.id.clone(),
            None => return self.finish_uninstall(call, RemoteStep::Skipped),
        };
        let req = deregister_request(self, &id);
        call.reset_for(Op::UninstallDeregister, req);
        call.pending.push_back(Pending::Resend);
        // Persist the dropped token before going on, so a crash here cannot resurrect it.
        self.state.refresh();
        Action::Persist(self.state.to_json())
    }

    fn finish_uninstall(&mut self, call: &mut Call, deregister: RemoteStep) -> Action {
        let report = UninstallReport {
            disconnect: std::mem::replace(&mut call.disconnect_step, RemoteStep::Skipped),
            deregister,
        };
        let config = self.state.config.clone();
        self.state = crate::state::State::new(config);
        self.persist_then_done(call, Ok(Completion::Uninstalled(report)))
    }
}

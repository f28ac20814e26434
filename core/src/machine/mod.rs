//! The step machine that drives every multi-step operation (sans-IO):
//! registration, API calls (a pull of Stora's events among them), disconnect,
//! uninstall, reset and "the site moved".
//!
//! The host loop is a few lines: feed [`Event::Start`], then perform each
//! [`Action`] and feed back what happened, until [`Action::Done`]. The
//! contract a host follows is written in `docs/HOST-CONTRACT.md` and checked
//! by the machine scripts in `tests/vectors/machine*.json`.
//!
//! ```
//! use tessera_core::{Action, ApiRequest, Companion, Completion, Event, Response, SeededEntropy};
//! # use tessera_core::{Config, Registration};
//! # let mut rng = SeededEntropy::new([1; 32]);
//! # let mut companion = Companion::create(Config::new("https://broker.example"))?;
//! # companion.registration_request(&Registration { site_url: "https://s.example".into(), admin_email: "a@s.example".into(), platform: "wordpress".into(), plugin_version: "1".into() }, &mut rng)?;
//! # companion.handle_registration_response_at(&Response::new(201, vec![]), 1_700_000_000)?;
//! # let url = companion.connect_url("https://s.example/cb", None, 1_700_000_000, &mut rng)?;
//! # let state = url.split("state=").nth(1).unwrap().split('&').next().unwrap().to_string();
//! # let mut connect = companion.start_complete_connect(&format!("state={state}&code=cc_0123456789abcdef"), 1_700_000_000)?;
//! # let mut ev = Event::Start;
//! # loop {
//! #     match companion.step(&mut connect, ev, 1_700_000_000, &mut rng) {
//! #         Action::Send(_) => ev = Event::Response(Response::new(200, br#"{"broker_token":"btk_1","account":{"id":"op_1","name":"Acme"}}"#.to_vec())),
//! #         Action::Done(r) => { r?; break }
//! #         _ => ev = Event::Persisted,
//! #     }
//! # }
//! let now = 1_700_000_000; // the host's clock, unix seconds
//! let mut call = companion.start_call(ApiRequest::new("GET", "/api/orders"))?;
//! let mut event = Event::Start;
//! let response = loop {
//!     match companion.step(&mut call, event, now, &mut rng) {
//!         Action::Send(request) => {
//!             // the host sends `request` with its HTTP stack, never following a redirect:
//!             # let _ = request;
//!             event = Event::Response(Response::new(200, b"[]".to_vec()));
//!         }
//!         Action::Sleep(_ms) => event = Event::Slept,          // after sleeping `_ms`
//!         Action::Persist(_json) => event = Event::Persisted,  // after storing `_json`
//!         Action::ServeProof(_proof) => event = Event::ProofServed, // registration only
//!         Action::Lock(_name) => event = Event::Locked(companion.to_json()), // proxy mode: the stored state
//!         Action::Unlock(_name) => event = Event::Unlocked,                  // proxy mode
//!         Action::Done(result) => break result?,
//!     }
//! };
//! assert!(matches!(response, Completion::Response(r) if r.status == 200));
//! # Ok::<(), tessera_core::Error>(())
//! ```
//!
//! Policy (docs/PROTOCOL.md §8.5): 5xx, 408 and transport errors are retried with
//! full-jitter exponential backoff, bounded in attempts and total delay, only
//! for idempotent methods, requests with an `Idempotency-Key` (the same key on
//! every attempt) and the registration POST (idempotent by install id); 429
//! honours `Retry-After` up to a cap; `signature_expired` with a `Date` header
//! teaches the clock offset and is retried once; a 3xx is never followed;
//! other 4xx are never retried. State changes are persisted before `Done`.

mod answer;
mod connect;
mod leave;
mod lock;
mod previous;
mod proxy;
mod pull;
mod record;
mod register;
mod types;

use std::collections::VecDeque;

use crate::classify::classify;
use crate::companion::{Companion, Purpose};
use crate::entropy::{Entropy, random};
use crate::error::{Error, Result};
use crate::http::{ApiRequest, check_body, normalize_headers, normalize_method};
use crate::registration::Registration;
use crate::sign::{SignOptions, is_idempotent, uuid_v4};

pub use leave::UNINSTALL_MAX_ATTEMPTS;
pub use types::{Action, Completion, Event, RemoteStep, TransportError, UninstallReport};

/// At most this many ownership proofs are served in one registration.
pub const MAX_PROOF_ROUNDS: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Api,
    Register,
    ConnectComplete,
    RevokePrevious,
    Disconnect,
    UninstallDisconnect,
    UninstallDeregister,
    UninstallLocal,
    SiteMoved,
    /// The Timeline Event after a recorded call's action (record.rs).
    Record,
}

#[derive(Clone, Debug)]
enum Pending {
    Emit(Action),
    Resend,
    /// Reset: the old installation is wiped; register afresh.
    BeginRegistration,
    /// End the operation with this error, as the operation ends failures.
    Fail(Error),
    /// Release the installation's lock (proxy mode).
    Unlock,
    /// Send the refresh again (proxy mode, after learning the clock offset).
    Refresh,
}

/// One operation in progress. Create with a `Companion::start_*` method,
/// drive with [`Companion::step`].
#[derive(Clone, Debug)]
pub struct Call {
    op: Op,
    req: ApiRequest,
    registration: Option<Registration>,
    /// The registration round continues a site move (completes as `SiteMoved`).
    site_move: bool,
    proof_rounds: u32,
    awaiting_proof: bool,
    /// A registration already started over with a fresh id once.
    started_over: bool,
    idempotency_key: Option<String>,
    attempts: u32,
    delay_spent_ms: u64,
    skew_retried: bool,
    awaiting_response: bool,
    started: bool,
    finished: bool,
    pending: VecDeque<Pending>,
    disconnect_step: RemoteStep,
    /// "Reset this installation": the uninstall plan's remote steps, then a
    /// fresh registration (`registration` holds its input).
    reset: bool,
    /// How the reset's old-installation steps ended (disconnect, deregister).
    reset_steps: Option<(RemoteStep, RemoteStep)>,
    /// Connect completion: the callback failed locally after the pending
    /// connect was consumed (ends the call once that is persisted).
    local_failure: Option<Error>,
    /// A recorded call: the event to send once the action succeeded.
    recording: Option<Box<record::Recording>>,
    /// A pull of Stora's events: its answer is read as a page.
    pull: Option<pull::Pull>,
    /// Proxy mode: the token refresh in progress.
    refresh: Option<proxy::RefreshRound>,
    /// Proxy mode: this call refreshed (or adopted a refreshed pair) once.
    token_refreshed: bool,
    /// Proxy mode: `401 invalid_token` answers this call had.
    refusals: u32,
    /// Why the lock is asked for or held.
    lock: Option<lock::LockPurpose>,
    /// An [`Action::Lock`] is out.
    awaiting_lock: bool,
    /// The installation's lock is held.
    holds_lock: bool,
    /// The name of the lock asked for or held.
    lock_name: Option<String>,
    /// A state write wrapped in the lock is in progress.
    persist_phase: Option<lock::PersistPhase>,
}

impl Call {
    fn new(op: Op, req: ApiRequest) -> Call {
        Call {
            op,
            req,
            registration: None,
            site_move: false,
            proof_rounds: 0,
            awaiting_proof: false,
            started_over: false,
            idempotency_key: None,
            attempts: 0,
            delay_spent_ms: 0,
            skew_retried: false,
            awaiting_response: false,
            started: false,
            finished: false,
            pending: VecDeque::new(),
            disconnect_step: RemoteStep::Skipped,
            reset: false,
            reset_steps: None,
            local_failure: None,
            recording: None,
            pull: None,
            refresh: None,
            token_refreshed: false,
            refusals: 0,
            lock: None,
            awaiting_lock: false,
            holds_lock: false,
            lock_name: None,
            persist_phase: None,
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

impl Companion {
    /// Starts a signed API call through the broker (needs a broker token).
    pub fn start_call(&self, req: ApiRequest) -> Result<Call> {
        if self.proxy_config().is_some() {
            self.proxy_call_preflight(&req)?;
            return Ok(Call::new(Op::Api, req));
        }
        self.sign_preflight(&req, Purpose::Api)?;
        if self.state.broker_token.is_none() {
            return Err(match &self.state.reconnect_reason {
                Some(reason) => Error::ReconnectRequired { reason: reason.clone() },
                None => Error::NotConnected,
            });
        }
        Ok(Call::new(Op::Api, req))
    }

    /// Checks everything signing will check, before any I/O.
    fn sign_preflight(&self, req: &ApiRequest, purpose: Purpose) -> Result<()> {
        normalize_method(&req.method)?;
        check_body(&req.body)?;
        normalize_headers(&req.headers)?;
        self.broker.append_path(&req.path, "path")?;
        self.signing_installation(purpose).map(|_| ())
    }

    /// Advances `call` with `event` at local time `now` (unix seconds).
    pub fn step(&mut self, call: &mut Call, event: Event, now: i64, entropy: &mut dyn Entropy) -> Action {
        if call.finished {
            return Action::Done(Err(Error::InvalidState("the call is already finished")));
        }
        if let Some(action) = self.on_lock_event(call, &event, now, entropy) {
            return self.hand_out(call, action, entropy);
        }
        let action = match event {
            Event::Start if !call.started && self.whole_op_lock(call) => {
                call.started = true;
                self.take_lock(call, lock::LockPurpose::WholeOp)
            }
            Event::Start if !call.started => {
                call.started = true;
                match call.op {
                    Op::Register => self.begin_registration(call, entropy),
                    Op::UninstallLocal => self.finish_uninstall(call, RemoteStep::Skipped),
                    Op::ConnectComplete => self.begin_connect_completion(call),
                    _ => self.send(call, now, entropy),
                }
            }
            Event::Response(resp) if call.awaiting_response && self.refreshing(call) => {
                call.awaiting_response = false;
                self.on_refresh_answer(call, &resp, now)
            }
            Event::TransportError(_) if call.awaiting_response && self.refreshing(call) => {
                call.awaiting_response = false;
                self.on_refresh_lost(call)
            }
            Event::Response(resp) if call.awaiting_response => {
                call.awaiting_response = false;
                // Times the answer names are the server side's: read against
                // its Date, else against the clock corrected by the offset.
                let outcome = classify(&resp, now.saturating_add(self.state.clock_offset));
                self.on_outcome(call, outcome, resp, now, entropy)
            }
            Event::TransportError(kind) if call.awaiting_response => {
                call.awaiting_response = false;
                match kind {
                    TransportError::Redirect => self.fail(call, Error::Redirected { status: None }),
                    TransportError::Network => {
                        let err = Error::ServerUnavailable { status: None, attempts: call.attempts };
                        self.retry_or_fail(call, err, entropy)
                    }
                }
            }
            Event::ProofServed if call.awaiting_proof => {
                call.awaiting_proof = false;
                self.resend_registration(call, now, entropy)
            }
            Event::ProofDeferred if call.awaiting_proof => {
                call.awaiting_proof = false;
                self.proof_deferred(call)
            }
            Event::Slept | Event::Persisted | Event::Unlocked if !call.pending.is_empty() => {
                self.next_pending(call, now, entropy)
            }
            _ => {
                call.finished = true;
                return Action::Done(Err(Error::InvalidState("unexpected event for this call")));
            }
        };
        self.hand_out(call, action, entropy)
    }

    /// What every action goes through before the host sees it.
    fn hand_out(&mut self, call: &mut Call, action: Action, entropy: &mut dyn Entropy) -> Action {
        // The installation's lock (proxy mode): writes wrapped, released before the end.
        let action = self.guard_lock(call, action);
        // Hosts get what they store: sealed when the companion has a seal key
        // (persisted_form returns the JSON as it is when there is none).
        let action = match action {
            Action::Persist(json) => match self.persisted_form(json, entropy) {
                Ok(sealed) => Action::Persist(sealed),
                Err(e) => self.guard_lock(call, Action::Done(Err(e))),
            },
            other => other,
        };
        if matches!(action, Action::Done(_)) {
            call.finished = true;
        }
        if matches!(action, Action::ServeProof(_)) {
            call.awaiting_proof = true;
        }
        action
    }

    fn next_pending(&mut self, call: &mut Call, now: i64, entropy: &mut dyn Entropy) -> Action {
        match call.pending.pop_front() {
            Some(Pending::Emit(action)) => action,
            Some(Pending::Resend) => self.send(call, now, entropy),
            Some(Pending::BeginRegistration) => self.begin_registration(call, entropy),
            Some(Pending::Fail(err)) => self.fail(call, err),
            Some(Pending::Unlock) => self.release(call),
            Some(Pending::Refresh) if self.proxy_config().is_some() => self.send_refresh(call, now, entropy),
            Some(Pending::Refresh) => Action::Done(Err(Error::Internal("no proxy mode"))),
            None => Action::Done(Err(Error::Internal("no pending action"))),
        }
    }

    fn send(&mut self, call: &mut Call, now: i64, entropy: &mut dyn Entropy) -> Action {
        if call.op == Op::Register {
            return match self.registration_post() {
                Ok(request) => {
                    call.attempts += 1;
                    call.awaiting_response = true;
                    Action::Send(request)
                }
                Err(e) => self.fail(call, e),
            };
        }
        let method = call.req.method.to_ascii_uppercase();
        if call.idempotency_key.is_none() {
            let caller = call
                .req
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("idempotency-key"))
                .map(|(_, v)| v.trim().to_owned());
            let keyless = proxy::keyless(self, call.op);
            call.idempotency_key = caller.or_else(|| {
                (!keyless && matches!(method.as_str(), "POST" | "PATCH")).then(|| uuid_v4(random::<16>(entropy)))
            });
        }
        if self.proxy_config().is_some() && matches!(call.op, Op::Api | Op::Record) {
            return self.send_direct(call, now);
        }
        let opts = SignOptions { now, nonce: None, idempotency_key: call.idempotency_key.clone() };
        let purpose = match call.op {
            Op::SiteMoved => Purpose::SiteMove,
            Op::Api | Op::Record => Purpose::Api,
            Op::ConnectComplete | Op::RevokePrevious => Purpose::Installation,
            _ => Purpose::Leave,
        };
        match self.sign_as(&call.req, &opts, entropy, purpose) {
            Ok(request) => {
                call.attempts += 1;
                call.awaiting_response = true;
                Action::Send(request)
            }
            Err(e) => self.fail(call, e),
        }
    }

    /// Whether this operation's request may be sent again after an answer
    /// that did not show whether the broker acted on it.
    fn safe_to_repeat(call: &Call) -> bool {
        call.op == Op::Register
            || is_idempotent(&call.req.method.to_ascii_uppercase())
            || call.idempotency_key.is_some()
    }

    /// Whether Stora keeps its answer to this request under the request's
    /// `Idempotency-Key` (a POST with a key): sending it again within 24
    /// hours replays that answer, a failure included.
    fn replays_stored_answer(call: &Call) -> bool {
        call.idempotency_key.is_some() && call.req.method.eq_ignore_ascii_case("POST")
    }

    /// The retry budget of this operation.
    fn policy(&self, call: &Call) -> crate::config::RetryPolicy {
        let mut policy = self.state.config.retry.clone();
        if matches!(call.op, Op::UninstallDisconnect | Op::UninstallDeregister) {
            // Uninstall is best effort and often runs inside one web request:
            // at most two attempts per remote step.
            policy.max_attempts = policy.max_attempts.min(UNINSTALL_MAX_ATTEMPTS);
        }
        policy
    }

    /// 5xx, 408, Stora's `api_error` or a network failure: back off and send
    /// again when that is safe and within budget, else end with `err`.
    fn retry_or_fail(&mut self, call: &mut Call, err: Error, entropy: &mut dyn Entropy) -> Action {
        let policy = self.policy(call);
        let ceiling = policy
            .base_delay_ms
            .saturating_mul(1u64 << (call.attempts.saturating_sub(1)).min(20))
            .min(policy.max_delay_ms);
        let delay = u64::from_le_bytes(random::<8>(entropy)) % (ceiling + 1);
        if Self::safe_to_repeat(call)
            && call.attempts < policy.max_attempts
            && call.delay_spent_ms + delay <= policy.max_total_delay_ms
        {
            return self.sleep_then_resend(call, delay);
        }
        self.fail(call, err)
    }

    /// Forgets the connection locally: the broker token, or the Stora tokens
    /// in proxy mode, and the account.
    fn drop_connection(&mut self) {
        self.state.broker_token = None;
        if self.state.tokens.is_some() {
            self.set_pair(None);
        }
        self.state.retired_refresh = None;
        self.state.account = None;
    }

    fn sleep_then_resend(&mut self, call: &mut Call, delay: u64) -> Action {
        call.delay_spent_ms += delay;
        call.pending.push_back(Pending::Resend);
        Action::Sleep(delay)
    }

    fn persist_then_done(&mut self, call: &mut Call, result: Result<Completion>) -> Action {
        self.state.refresh();
        let result = Self::recorded_result(call, result);
        call.pending.push_back(Pending::Emit(Action::Done(result)));
        Action::Persist(self.state.to_json())
    }
}

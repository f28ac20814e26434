//! What an answer leads to: a classified response becomes success, a
//! retry, a persisted state change or the operation's error
//! (docs/PROTOCOL.md §8.3–§8.5).

use super::{Action, Call, Completion, Op, Pending, RemoteStep, proxy};
use crate::classify::{Outcome, OutcomeKind};
use crate::companion::Companion;
use crate::entropy::Entropy;
use crate::error::Error;
use crate::http::Response;

impl Companion {
    /// Decides what a classified response leads to.
    pub(super) fn on_outcome(
        &mut self,
        call: &mut Call,
        outcome: Outcome,
        resp: Response,
        now: i64,
        entropy: &mut dyn Entropy,
    ) -> Action {
        if call.op == Op::Register
            && !matches!(
                outcome.kind,
                OutcomeKind::ServerUnavailable | OutcomeKind::RateLimited | OutcomeKind::Redirected
            )
        {
            return self.on_registration_answer(call, &resp, now, entropy);
        }
        if self.proxy_config().is_some()
            && matches!(call.op, Op::Api | Op::Record)
            && proxy::token_refused(&outcome, &resp)
        {
            return self.on_token_refused(call);
        }
        if self.is_success(call, &outcome) {
            if call.recording.is_some() {
                return self.recorded_success(call, resp, now, entropy);
            }
            return self.succeed(call, &outcome, resp, now);
        }
        let policy = self.policy(call);
        match outcome.kind {
            OutcomeKind::ServerUnavailable | OutcomeKind::UpstreamFailed => {
                let err = outcome.to_error(call.attempts).unwrap_or(Error::Internal("outcome"));
                // Stora's own failure to a POST with a key is stored under the
                // key: a retry would only replay it, so say so at once. A 5xx
                // the broker or a proxy produced (Stora not reached) is retried.
                if matches!(err, Error::UpstreamFailed { .. }) && Self::replays_stored_answer(call) {
                    return self.fail(call, err);
                }
                self.retry_or_fail(call, err, entropy)
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
            OutcomeKind::ReconnectRequired if matches!(call.op, Op::Api | Op::Record) => {
                let err = outcome.to_error(call.attempts).unwrap_or(Error::Internal("outcome"));
                self.state.broker_token = None;
                self.state.reconnect_reason = err.reason().map(str::to_owned);
                self.persist_then_done(call, Err(err))
            }
            OutcomeKind::RegistrationInvalid
                if matches!(call.op, Op::Api | Op::Record | Op::SiteMoved | Op::ConnectComplete) =>
            {
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

    /// Operation-specific successes.
    fn is_success(&self, call: &Call, outcome: &Outcome) -> bool {
        let status = outcome.status;
        match call.op {
            Op::Api | Op::Record | Op::SiteMoved | Op::Register | Op::ConnectComplete | Op::UninstallLocal => {
                outcome.kind == OutcomeKind::Ok
            }
            Op::RevokePrevious => outcome.kind == OutcomeKind::Ok || Self::previous_gone(outcome),
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
        }
    }

    fn succeed(&mut self, call: &mut Call, outcome: &Outcome, resp: Response, now: i64) -> Action {
        match call.op {
            Op::Api => Self::pulled(call, resp),
            Op::Register | Op::UninstallLocal | Op::Record => Action::Done(Err(Error::Internal("handled elsewhere"))),
            Op::Disconnect => {
                self.drop_connection();
                self.persist_then_done(call, Ok(Completion::Disconnected { remote: RemoteStep::Ok }))
            }
            Op::UninstallDisconnect => self.next_uninstall_stage(call, RemoteStep::Ok),
            Op::UninstallDeregister => self.finish_uninstall(call, RemoteStep::Ok),
            Op::SiteMoved => self.site_moved_answer(call, &resp),
            Op::ConnectComplete if self.proxy_config().is_some() => self.proxy_connect_answer(call, &resp, now),
            Op::ConnectComplete => self.connect_answer(call, &resp),
            Op::RevokePrevious => Self::previous_revoked(outcome),
        }
    }

    pub(super) fn fail(&mut self, call: &mut Call, err: Error) -> Action {
        match call.op {
            Op::Api | Op::SiteMoved | Op::Register | Op::ConnectComplete | Op::RevokePrevious => {
                self.state.refresh();
                Action::Done(Err(err))
            }
            Op::Disconnect => {
                self.drop_connection();
                self.persist_then_done(call, Ok(Completion::Disconnected { remote: RemoteStep::Failed(err) }))
            }
            Op::UninstallDisconnect => self.next_uninstall_stage(call, RemoteStep::Failed(err)),
            Op::UninstallDeregister | Op::UninstallLocal => self.finish_uninstall(call, RemoteStep::Failed(err)),
            Op::Record => self.recorded(call, RemoteStep::Failed(err)),
        }
    }
}

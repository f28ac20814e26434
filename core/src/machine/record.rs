//! "Do the action, then record it": an API call followed, when it succeeded,
//! by the Timeline Event that records it on the operator's timeline.
//!
//! The action runs exactly as [`Companion::start_call`] runs it. Its
//! `Idempotency-Key` (the caller's, or the one the core generates for a
//! POST/PATCH; for an action without one, e.g. a GET, a fresh UUID drawn
//! when it succeeds) becomes the event's `external.id`, and the event's own
//! key is [`timeline_key`] of it: a retried action (same key) replays the
//! event at Stora instead of recording a second one.

use super::{Action, Call, Completion, Op, RemoteStep};
use crate::companion::Companion;
use crate::entropy::{Entropy, random};
use crate::error::{Error, Result};
use crate::http::{ApiRequest, Response, find_header};
use crate::sign::uuid_v4;
use crate::timeline::{TimelineEvent, check_external_id};

/// What a recorded call carries besides the action.
#[derive(Clone, Debug)]
pub(super) struct Recording {
    event: TimelineEvent,
    /// The action's 2xx response, once it came.
    response: Option<Response>,
}

impl Companion {
    /// Starts `action` as [`Companion::start_call`] does and, once it
    /// succeeded, records `event` (`POST /api/timeline/events`, with the
    /// normal retry policy). Ends with [`Completion::Recorded`]: the action's
    /// response and how recording ended (`Failed` does not undo the action).
    /// A failed action ends with its error and no event is sent.
    ///
    /// Checked before any I/O: everything `start_call` checks, the event
    /// ([`TimelineEvent::validate`]) and a caller-supplied `Idempotency-Key`
    /// header, which must also be a valid `external.id` (at most 124
    /// characters of `[A-Za-z0-9._~-]`).
    pub fn start_recorded_call(&self, action: ApiRequest, event: TimelineEvent) -> Result<Call> {
        event.validate()?;
        if let Some(key) = find_header(&action.headers, "idempotency-key") {
            check_external_id(key.trim())?;
        }
        let mut call = self.start_call(action)?;
        call.recording = Some(Box::new(Recording { event, response: None }));
        Ok(call)
    }

    /// A 2xx on a recorded call: after the action, send the event; after
    /// the event, complete.
    pub(super) fn recorded_success(
        &mut self,
        call: &mut Call,
        resp: Response,
        now: i64,
        entropy: &mut dyn Entropy,
    ) -> Action {
        if call.op == Op::Record {
            return self.recorded(call, RemoteStep::Ok);
        }
        let key = match &call.idempotency_key {
            Some(key) => key.clone(),
            None => uuid_v4(random::<16>(entropy)),
        };
        let Some(recording) = call.recording.as_mut() else {
            return Action::Done(Err(Error::Internal("not a recorded call")));
        };
        recording.response = Some(resp);
        match recording.event.to_request(&key) {
            Ok(req) => {
                call.reset_for(Op::Record, req);
                self.send(call, now, entropy)
            }
            Err(e) => self.recorded(call, RemoteStep::Failed(e)),
        }
    }

    /// Ends a recorded call whose action succeeded.
    pub(super) fn recorded(&mut self, call: &mut Call, event: RemoteStep) -> Action {
        self.state.refresh();
        Action::Done(Self::recorded_completion(call, event))
    }

    fn recorded_completion(call: &mut Call, event: RemoteStep) -> Result<Completion> {
        match call.recording.as_mut().and_then(|r| r.response.take()) {
            Some(response) => Ok(Completion::Recorded { response, event }),
            None => Err(Error::Internal("no action response")),
        }
    }

    /// An error while recording (after the action succeeded) still ends the
    /// call with the action's response, the event `Failed`.
    pub(super) fn recorded_result(call: &mut Call, result: Result<Completion>) -> Result<Completion> {
        match result {
            Err(e) if call.op == Op::Record => Self::recorded_completion(call, RemoteStep::Failed(e)),
            other => other,
        }
    }
}

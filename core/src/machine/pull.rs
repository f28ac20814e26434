//! Pulling Stora's events from the broker (docs/PROTOCOL.md §14.3): a signed
//! `GET {base}/events` run as an API call, whose 2xx answer is read as an
//! [`crate::EventPage`], and the cursor the host moves once it handled a page.

use super::{Action, Call, Completion};
use crate::companion::Companion;
use crate::error::{Error, Result};
use crate::events::{cursor_value, parse_page, pull_path};
use crate::http::{ApiRequest, Response};

/// What a pull remembers to read its answer: the cursor it was sent after
/// and the limit it asked for.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pull {
    after: Option<u64>,
    limit: u32,
}

impl Companion {
    /// Starts a pull of at most `limit` (1 to 100) of Stora's events after
    /// the stored cursor ([`Companion::events_cursor`]; none: from the
    /// start), run exactly as [`Companion::start_call`] runs a `GET`: signed,
    /// retried, reconnect mapped. Ends with [`Completion::Events`]; a 2xx
    /// whose body breaks the documented shape ends with
    /// [`Error::ResponseInvalid`].
    ///
    /// The cursor does not move: once the host handled the page (stored or
    /// shown its events), it calls [`Companion::acknowledge_events`] and
    /// persists the state. Broker mode only: in proxy mode there is no broker
    /// to queue events (`invalid_state`).
    pub fn start_pull_events(&self, limit: u32) -> Result<Call> {
        if self.proxy_config().is_some() {
            return Err(Error::InvalidState("events are pulled from a broker; proxy mode has none"));
        }
        let after = self.state.events_cursor.as_deref();
        let path = pull_path(after, limit)?;
        let mut call = self.start_call(ApiRequest::new("GET", &path))?;
        call.pull = Some(Pull { after: after.and_then(cursor_value), limit });
        Ok(call)
    }

    /// Where the next pull starts: the cursor of the last page acknowledged.
    pub fn events_cursor(&self) -> Option<&str> {
        self.state.events_cursor.as_deref()
    }

    /// Moves the cursor to `cursor` ([`crate::EventPage::cursor`]) once the host
    /// handled that page; the host then persists the state
    /// ([`Companion::persisted_state`]). Returns whether it moved: a cursor
    /// not past the stored one (a page acknowledged twice, or late) leaves
    /// it where it is, since positions only grow. A cursor that is not 1 to
    /// 18 decimal digits is `invalid_input`; without an installation,
    /// `not_registered`.
    pub fn acknowledge_events(&mut self, cursor: &str) -> Result<bool> {
        let Some(position) = cursor_value(cursor) else {
            return Err(Error::InvalidInput { field: "cursor", reason: "must be 1 to 18 decimal digits" });
        };
        if self.state.installation.is_none() {
            return Err(Error::NotRegistered);
        }
        let stored = self.state.events_cursor.as_deref().and_then(cursor_value);
        if stored.is_some_and(|s| s >= position) {
            return Ok(false);
        }
        self.state.events_cursor = Some(position.to_string());
        Ok(true)
    }

    /// A 2xx answer to a pull: the page, or why it is refused.
    pub(super) fn pulled(call: &Call, resp: Response) -> Action {
        let result = match call.pull {
            Some(p) => parse_page(&resp.body, p.after, p.limit).map(Completion::Events),
            None => Ok(Completion::Response(resp)),
        };
        Action::Done(result)
    }
}

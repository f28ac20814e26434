//! The host contract's vocabulary: what the host feeds in ([`Event`]), what
//! the machine asks for ([`Action`]) and how an operation ends ([`Completion`]).

use crate::error::{Error, Result};
use crate::http::{Request, Response};
use crate::registration::{OwnershipProof, RegistrationOutcome};

/// Why the last [`Action::Send`] produced no response the host could read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// The request could not be sent or its answer not read (DNS, connect,
    /// TLS, timeout, reset). Retried where the operation is safe to repeat.
    Network,
    /// The HTTP stack stopped at a redirect it did not follow but hides its
    /// status (a browser `fetch` with `redirect: "manual"` returns an
    /// `opaqueredirect`). Ends the operation with [`Error::Redirected`]; a
    /// 3xx the host can see is fed as [`Event::Response`] instead.
    Redirect,
}

impl TransportError {
    /// `network` or `redirect` (the machine vectors' spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportError::Network => "network",
            TransportError::Redirect => "redirect",
        }
    }

    /// The kind named by [`TransportError::as_str`].
    pub fn parse(name: &str) -> Option<TransportError> {
        [TransportError::Network, TransportError::Redirect].into_iter().find(|k| k.as_str() == name)
    }
}

/// What happened since the last action.
///
/// `Debug` never prints the stored state of [`Event::Locked`] (it holds the
/// secret and the tokens).
#[derive(Clone, PartialEq, Eq)]
pub enum Event {
    /// Begin the operation.
    Start,
    /// The response to the last [`Action::Send`], whatever its status (a 3xx
    /// included: the host never follows redirects).
    Response(Response),
    /// The last [`Action::Send`] got no readable response.
    TransportError(TransportError),
    /// The last [`Action::Sleep`] is over.
    Slept,
    /// The last [`Action::Persist`] is stored durably.
    Persisted,
    /// The proof of the last [`Action::ServeProof`] is now served at its URL.
    ProofServed,
    /// The host cannot serve the proof now (e.g. a WordPress plugin inside its
    /// activation request): the operation ends with the challenge kept, and a
    /// later registration resumes it.
    ProofDeferred,
    /// The lock of the last [`Action::Lock`] is held; this is the state the
    /// host has stored now (what it last persisted, sealed or not), read
    /// after taking the lock.
    Locked(String),
    /// The host could not take the lock of the last [`Action::Lock`] in
    /// time: the operation ends with [`crate::Error::LockUnavailable`].
    LockUnavailable,
    /// The lock of the last [`Action::Unlock`] is released.
    Unlocked,
}

/// What the host must do next.
///
/// `Debug` never prints the state JSON of [`Action::Persist`] (it holds the
/// secret) nor credentials of [`Action::Send`].
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this request exactly as given, without following redirects; feed
    /// back [`Event::Response`] or [`Event::TransportError`].
    Send(Request),
    /// Sleep this many milliseconds; feed back [`Event::Slept`].
    Sleep(u64),
    /// Store this state JSON (what [`crate::Companion::to_json`] returns now)
    /// before anything else; feed back [`Event::Persisted`].
    Persist(String),
    /// Serve this ownership proof at its URL (the state holding its challenge
    /// was persisted just before); feed back [`Event::ProofServed`] or
    /// [`Event::ProofDeferred`].
    ServeProof(OwnershipProof),
    /// Proxy mode, around a token refresh: take the lock of this name (one
    /// per installation, shared by every worker and process of the host:
    /// WordPress `GET_LOCK` or an atomic option insert, the Web Locks API in
    /// an extension), waiting a bounded time, then read the stored state and
    /// feed [`Event::Locked`] with it, or [`Event::LockUnavailable`].
    Lock(String),
    /// Release the lock of this name (taken by the last [`Action::Lock`]);
    /// feed [`Event::Unlocked`]. Asked on every path out of a refresh.
    Unlock(String),
    /// The operation is over.
    Done(Result<Completion>),
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Send(r) => f.debug_tuple("Send").field(r).finish(),
            Action::Sleep(ms) => f.debug_tuple("Sleep").field(ms).finish(),
            Action::Persist(json) => write!(f, "Persist(<state, {} bytes>)", json.len()),
            Action::ServeProof(p) => write!(f, "ServeProof({})", p.url),
            Action::Lock(name) => f.debug_tuple("Lock").field(name).finish(),
            Action::Unlock(name) => f.debug_tuple("Unlock").field(name).finish(),
            Action::Done(r) => f.debug_tuple("Done").field(r).finish(),
        }
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Start => f.write_str("Start"),
            Event::Response(r) => f.debug_tuple("Response").field(r).finish(),
            Event::TransportError(k) => f.debug_tuple("TransportError").field(k).finish(),
            Event::Slept => f.write_str("Slept"),
            Event::Persisted => f.write_str("Persisted"),
            Event::ProofServed => f.write_str("ProofServed"),
            Event::ProofDeferred => f.write_str("ProofDeferred"),
            Event::Locked(stored) => write!(f, "Locked(<state, {} bytes>)", stored.len()),
            Event::LockUnavailable => f.write_str("LockUnavailable"),
            Event::Unlocked => f.write_str("Unlocked"),
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

/// How an operation ended successfully; one variant per `Companion::start_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// [`crate::Companion::start_call`]: the broker's 2xx response.
    Response(Response),
    /// [`crate::Companion::start_registration`]: registered, or an ownership
    /// proof is still owed (the host deferred serving it; start the
    /// registration again once it can).
    Registration(RegistrationOutcome),
    /// [`crate::Companion::start_complete_connect`]: connected; the broker
    /// token is stored and this is the Stora account to show the operator.
    Connected {
        /// The account the operator consented with.
        account: crate::state::Account,
    },
    /// [`crate::Companion::start_revoke_previous`]: nothing of the previous
    /// installation is left at the broker.
    PreviousRevoked {
        /// `false` when the broker had nothing left of it (`404
        /// previous_installation_not_found`).
        revoked: bool,
    },
    /// [`crate::Companion::start_disconnect`]: the broker token is gone locally.
    Disconnected {
        /// How the broker call ended.
        remote: RemoteStep,
    },
    /// [`crate::Companion::start_uninstall`]: local state is wiped.
    Uninstalled(UninstallReport),
    /// [`crate::Companion::start_reset`]: the old installation's remote steps
    /// (best effort, with the old secret), local state wiped, and a new
    /// installation registered (or its ownership proof still owed).
    Reset {
        /// `POST /disconnect` for the old installation.
        disconnect: RemoteStep,
        /// `DELETE /installations/{old id}`.
        deregister: RemoteStep,
        /// The new installation's registration.
        registration: RegistrationOutcome,
    },
    /// [`crate::Companion::start_site_moved`]: the registration carries the new
    /// URL. When the broker asked for an ownership proof of the new address
    /// and the host deferred serving it, the status is `awaiting_ownership`:
    /// finish with [`crate::Companion::start_registration`].
    SiteMoved,
    /// [`crate::Companion::start_pull_events`]: a page of Stora's events (the
    /// cursor moves when the host acknowledges it).
    Events(crate::events::EventPage),
    /// [`crate::Companion::start_recorded_call`]: the action succeeded; its
    /// Timeline Event was recorded or not.
    Recorded {
        /// The broker's 2xx response to the action.
        response: Response,
        /// How recording the event ended: `Ok`, or `Failed` (the action
        /// stands; nothing is undone).
        event: RemoteStep,
    },
}

//! The installation's state: a versioned value the host persists.

mod json;
mod tokens;

pub use tokens::StoraTokens;
pub(crate) use tokens::fingerprint;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::secret::{BrokerToken, Secret};

/// Version written by this build.
pub const STATE_VERSION: u64 = 1;
/// Largest state JSON accepted.
pub const MAX_STATE_JSON: usize = 64 * 1024;

const ALL_STATUSES: [Status; 8] = [
    Status::NotRegistered,
    Status::RegistrationPending,
    Status::AwaitingOwnership,
    Status::Registered,
    Status::Connected,
    Status::ReconnectRequired,
    Status::RegistrationInvalid,
    Status::SiteMismatch,
];

/// Where the installation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// No registration yet (or it was forgotten).
    NotRegistered,
    /// Registration sent; waiting for 201.
    RegistrationPending,
    /// The broker asked for an ownership proof.
    AwaitingOwnership,
    /// Registered, not connected.
    Registered,
    /// Holding a broker token.
    Connected,
    /// The grant or token is gone; run connect again.
    ReconnectRequired,
    /// The broker no longer accepts the registration; register again.
    RegistrationInvalid,
    /// The site URL changed; the host must resolve it.
    SiteMismatch,
}

impl Status {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotRegistered => "not_registered",
            Status::RegistrationPending => "registration_pending",
            Status::AwaitingOwnership => "awaiting_ownership",
            Status::Registered => "registered",
            Status::Connected => "connected",
            Status::ReconnectRequired => "reconnect_required",
            Status::RegistrationInvalid => "registration_invalid",
            Status::SiteMismatch => "site_mismatch",
        }
    }

    /// The status named by [`Status::as_str`].
    pub fn parse(name: &str) -> Option<Status> {
        ALL_STATUSES.into_iter().find(|s| s.as_str() == name)
    }
}

/// The registration this installation holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installation {
    /// `ins_` + base64url(16 random bytes).
    pub id: String,
    /// Site URL, normalised (no trailing slash).
    pub site_url: String,
    /// Admin email given at registration.
    pub admin_email: String,
    /// Per-installation secret.
    pub secret: Secret,
    /// Host platform (`wordpress`, `chrome-extension`, …).
    pub platform: String,
    /// Plugin version at registration.
    pub plugin_version: String,
    /// Whether the broker confirmed (201).
    pub confirmed: bool,
    /// Ownership challenge from a 202, while one is outstanding.
    pub challenge: Option<String>,
    /// Set when the broker rejected the registration (re-register).
    pub invalid_reason: Option<String>,
}

/// A connect attempt waiting for its callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingConnect {
    /// The `state` value (base64url of 16 random bytes).
    pub state: String,
    /// Unix seconds when the URL was built.
    pub created: i64,
    /// Where the broker sends the browser back.
    pub return_url: String,
}

/// The Stora account a connect completed with (docs/PROTOCOL.md §5.4.1):
/// hosts show it, so that a round completed with someone else's account is
/// seen at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Stora's account id: 1-128 characters, no control character.
    pub id: String,
    /// Display name: 0-200 characters, no control character.
    pub name: String,
}

impl Account {
    /// Longest account id accepted, in characters.
    pub const MAX_ID: usize = 128;
    /// Longest account name accepted, in characters.
    pub const MAX_NAME: usize = 200;

    /// An account as the broker reported it, checked against the profile.
    pub fn new(id: &str, name: &str) -> Result<Account> {
        check_account(id, name)?;
        Ok(Account { id: id.to_owned(), name: name.to_owned() })
    }
}

/// The account profile. (Outside `new`, which cargo-mutants leaves alone, so
/// scripts/mutants.sh checks it.)
fn check_account(id: &str, name: &str) -> Result<()> {
    let clean = |s: &str| !s.chars().any(char::is_control);
    let id_len = id.chars().count();
    if id_len == 0 || id_len > Account::MAX_ID || !clean(id) {
        return Err(Error::CallbackInvalid("account.id must be 1-128 characters without control characters"));
    }
    if name.chars().count() > Account::MAX_NAME || !clean(name) {
        return Err(Error::CallbackInvalid("account.name must be 0-200 characters without control characters"));
    }
    Ok(())
}

/// Everything the plugin side keeps. Serialise with [`State::to_json`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Format version.
    pub(crate) v: u64,
    /// Host configuration (so one blob restores everything).
    pub(crate) config: Config,
    /// Derived status, written for hosts that read the blob.
    pub(crate) status: Status,
    /// The registration.
    pub(crate) installation: Option<Installation>,
    /// Broker token after a successful connect.
    pub(crate) broker_token: Option<BrokerToken>,
    /// The Stora account of the last completed connect.
    pub(crate) account: Option<Account>,
    /// Outstanding connect.
    pub(crate) pending_connect: Option<PendingConnect>,
    /// Learned broker-minus-local clock offset, seconds.
    pub(crate) clock_offset: i64,
    /// Why a reconnect is required, when it is.
    pub(crate) reconnect_reason: Option<String>,
    /// The site URL the host reported that differs from the registered one.
    pub(crate) site_mismatch: Option<String>,
    /// Proxy mode: the operator's Stora tokens while connected.
    pub(crate) tokens: Option<StoraTokens>,
    /// Proxy mode: the fingerprint of the last refresh token rotated away,
    /// which is never sent again.
    pub(crate) retired_refresh: Option<String>,
    /// Proxy mode: counts the changes of the token pair (a connect, a
    /// refresh, a disconnect, a lost grant), never going back, so a worker
    /// that reads the stored state can tell a newer pair (or its loss) from
    /// a stale one.
    pub(crate) token_generation: u64,
    /// Broker mode: where the next pull of Stora's events starts (the cursor
    /// of the last page the host acknowledged; docs/PROTOCOL.md §14.3).
    pub(crate) events_cursor: Option<String>,
}

impl State {
    /// A fresh, unregistered state.
    pub fn new(config: Config) -> State {
        State {
            v: STATE_VERSION,
            config,
            status: Status::NotRegistered,
            installation: None,
            broker_token: None,
            account: None,
            pending_connect: None,
            clock_offset: 0,
            reconnect_reason: None,
            site_mismatch: None,
            tokens: None,
            retired_refresh: None,
            token_generation: 0,
            events_cursor: None,
        }
    }

    /// Format version of the state (the blob's `v`).
    pub fn version(&self) -> u64 {
        self.v
    }

    /// Host configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Status derived from the fields.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The registration, once there is one.
    pub fn installation(&self) -> Option<&Installation> {
        self.installation.as_ref()
    }

    /// The broker token, while connected.
    pub fn broker_token(&self) -> Option<&BrokerToken> {
        self.broker_token.as_ref()
    }

    /// Proxy mode: the operator's Stora tokens, while connected.
    pub fn tokens(&self) -> Option<&StoraTokens> {
        self.tokens.as_ref()
    }

    /// Proxy mode: how many times the token pair changed (connects,
    /// refreshes, disconnects, lost grants); 0 before the first connect.
    pub fn token_generation(&self) -> u64 {
        self.token_generation
    }

    /// Broker mode: where the next pull of Stora's events starts, once a
    /// page was acknowledged ([`crate::Companion::acknowledge_events`]).
    pub fn events_cursor(&self) -> Option<&str> {
        self.events_cursor.as_deref()
    }

    /// The Stora account of the last completed connect.
    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }

    /// The outstanding connect, if any.
    pub fn pending_connect(&self) -> Option<&PendingConnect> {
        self.pending_connect.as_ref()
    }

    /// Learned broker-minus-local clock offset, seconds.
    pub fn clock_offset(&self) -> i64 {
        self.clock_offset
    }

    /// Why a reconnect is required, when it is.
    pub fn reconnect_reason(&self) -> Option<&str> {
        self.reconnect_reason.as_deref()
    }

    /// The site URL the host reported that differs from the registered one.
    pub fn site_mismatch(&self) -> Option<&str> {
        self.site_mismatch.as_deref()
    }

    /// The status implied by the fields.
    pub fn derive_status(&self) -> Status {
        let Some(inst) = &self.installation else { return Status::NotRegistered };
        if self.site_mismatch.is_some() {
            Status::SiteMismatch
        } else if inst.invalid_reason.is_some() {
            Status::RegistrationInvalid
        } else if inst.challenge.is_some() {
            Status::AwaitingOwnership
        } else if !inst.confirmed {
            Status::RegistrationPending
        } else if self.broker_token.is_some() || self.tokens.is_some() {
            Status::Connected
        } else if self.reconnect_reason.is_some() {
            Status::ReconnectRequired
        } else {
            Status::Registered
        }
    }

    /// Recomputes [`State::status`]; call after every mutation.
    pub(crate) fn refresh(&mut self) {
        self.status = self.derive_status();
    }
}

#[cfg(test)]
mod pinned;

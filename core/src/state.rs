//! The installation's state: a versioned value the host persists.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::secret::{BrokerToken, Secret};

/// Version written by this build.
pub const STATE_VERSION: u64 = 1;
/// Largest state JSON accepted.
pub const MAX_STATE_JSON: usize = 64 * 1024;

/// Where the installation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
}

/// The registration this installation holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// Set when the broker rejected the registration (re-register).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_reason: Option<String>,
}

/// A connect attempt waiting for its callback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingConnect {
    /// The `state` value (base64url of 16 random bytes).
    pub state: String,
    /// Unix seconds when the URL was built.
    pub created: i64,
    /// Where the broker sends the browser back.
    pub return_url: String,
}

/// Everything the plugin side keeps. Serialise with [`State::to_json`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Format version.
    pub v: u64,
    /// Host configuration (so one blob restores everything).
    pub config: Config,
    /// Derived status, written for hosts that read the blob.
    pub status: Status,
    /// The registration.
    pub installation: Option<Installation>,
    /// Broker token after a successful connect.
    pub broker_token: Option<BrokerToken>,
    /// Outstanding connect.
    pub pending_connect: Option<PendingConnect>,
    /// Learned broker-minus-local clock offset, seconds.
    pub clock_offset: i64,
    /// Why a reconnect is required, when it is.
    pub reconnect_reason: Option<String>,
    /// The site URL the host reported that differs from the registered one.
    pub site_mismatch: Option<String>,
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
            pending_connect: None,
            clock_offset: 0,
            reconnect_reason: None,
            site_mismatch: None,
        }
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
        } else if self.broker_token.is_some() {
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

    /// The JSON the host persists. It contains the secret: store it sealed
    /// ([`crate::seal`]) or in storage only the plugin reads.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// Reads a state blob, refusing unknown future versions.
    pub fn from_json(json: &str) -> Result<State> {
        if json.len() > MAX_STATE_JSON {
            return Err(Error::TooLarge { field: "state", limit: MAX_STATE_JSON });
        }
        #[derive(Deserialize)]
        struct Version {
            v: Option<u64>,
        }
        let version: Version = serde_json::from_str(json).map_err(|e| Error::StateCorrupt(redact_serde(&e)))?;
        match version.v {
            None => return Err(Error::StateCorrupt("missing version `v`".into())),
            Some(v) if v > STATE_VERSION => {
                return Err(Error::StateVersionUnsupported { found: v, supported: STATE_VERSION });
            }
            Some(0) => return Err(Error::StateCorrupt("version 0 is not a state".into())),
            Some(_) => {}
        }
        let mut state: State = serde_json::from_str(json).map_err(|e| Error::StateCorrupt(redact_serde(&e)))?;
        state.refresh();
        Ok(state)
    }
}

/// serde_json errors quote nothing from the input, but keep only the category
/// and position to be certain no secret text is echoed.
fn redact_serde(e: &serde_json::Error) -> String {
    format!("{:?} error at line {} column {}", e.classify(), e.line(), e.column())
}

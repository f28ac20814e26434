//! The installation's state: a versioned value the host persists.

use zeroize::Zeroizing;

use crate::config::{Config, RetryPolicy, Routes};
use crate::error::{Error, Result};
use crate::json::{self, ObjectWriter, Value};
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

/// Everything the plugin side keeps. Serialise with [`State::to_json`].
#[derive(Clone, Debug, PartialEq, Eq)]
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
        let mut out = String::with_capacity(640);
        let mut o = ObjectWriter::new(&mut out);
        o.u64("v", self.v);
        let c = &self.config;
        let mut config = ObjectWriter::new(o.key("config"));
        config.str("broker_url", &c.broker_url);
        let mut routes = ObjectWriter::new(config.key("routes"));
        routes.str("installations", &c.routes.installations);
        routes.str("connect", &c.routes.connect);
        routes.str("disconnect", &c.routes.disconnect);
        routes.end();
        let mut retry = ObjectWriter::new(config.key("retry"));
        retry.u64("max_attempts", u64::from(c.retry.max_attempts));
        retry.u64("base_delay_ms", c.retry.base_delay_ms);
        retry.u64("max_delay_ms", c.retry.max_delay_ms);
        retry.u64("max_total_delay_ms", c.retry.max_total_delay_ms);
        retry.u64("max_retry_after_ms", c.retry.max_retry_after_ms);
        retry.end();
        config.end();
        o.str("status", self.status.as_str());
        match &self.installation {
            None => o.key("installation").push_str("null"),
            Some(inst) => {
                let mut i = ObjectWriter::new(o.key("installation"));
                i.str("id", &inst.id);
                i.str("site_url", &inst.site_url);
                i.str("admin_email", &inst.admin_email);
                i.str("secret", &Zeroizing::new(inst.secret.to_base64url()));
                i.str("platform", &inst.platform);
                i.str("plugin_version", &inst.plugin_version);
                i.bool("confirmed", inst.confirmed);
                if let Some(challenge) = &inst.challenge {
                    i.str("challenge", challenge);
                }
                if let Some(reason) = &inst.invalid_reason {
                    i.str("invalid_reason", reason);
                }
                i.end();
            }
        }
        o.opt_str("broker_token", self.broker_token.as_ref().map(BrokerToken::expose));
        match &self.pending_connect {
            None => o.key("pending_connect").push_str("null"),
            Some(p) => {
                let mut pc = ObjectWriter::new(o.key("pending_connect"));
                pc.str("state", &p.state);
                pc.i64("created", p.created);
                pc.str("return_url", &p.return_url);
                pc.end();
            }
        }
        o.i64("clock_offset", self.clock_offset);
        o.opt_str("reconnect_reason", self.reconnect_reason.as_deref());
        o.opt_str("site_mismatch", self.site_mismatch.as_deref());
        o.end();
        out
    }

    /// Reads a state blob, refusing unknown future versions.
    ///
    /// Members this version does not know are ignored (a newer build may add
    /// some); a member given twice makes the blob ambiguous and is refused.
    /// Error messages name the member and never quote its value.
    pub fn from_json(json: &str) -> Result<State> {
        if json.len() > MAX_STATE_JSON {
            return Err(Error::TooLarge { field: "state", limit: MAX_STATE_JSON });
        }
        let root = json::parse(json.as_bytes()).map_err(|e| Error::StateCorrupt(format!("not JSON: {e}")))?;
        if !root.is_object() {
            return Err(corrupt("state", "must be an object"));
        }
        let top = Fields { obj: &root, path: String::new() };
        match top.opt("v", Value::as_u64, "an unsigned integer")? {
            None => return Err(Error::StateCorrupt("missing version `v`".into())),
            Some(v) if v > STATE_VERSION => {
                return Err(Error::StateVersionUnsupported { found: v, supported: STATE_VERSION });
            }
            Some(0) => return Err(Error::StateCorrupt("version 0 is not a state".into())),
            Some(_) => {}
        }
        let config = top.req_obj("config")?;
        let routes = config.opt_obj("routes")?;
        let retry = config.opt_obj("retry")?;
        let (dr, dp) = (Routes::default(), RetryPolicy::default());
        let route = |f: &Option<Fields>, name: &'static str, default: &str| -> Result<String> {
            Ok(match f {
                Some(f) => f.opt_string(name)?.unwrap_or_else(|| default.to_owned()),
                None => default.to_owned(),
            })
        };
        let policy = |name: &'static str, default: u64| -> Result<u64> {
            Ok(match &retry {
                Some(f) => f.opt(name, Value::as_u64, "an unsigned integer")?.unwrap_or(default),
                None => default,
            })
        };
        let config = Config {
            broker_url: config.req_string("broker_url")?,
            routes: Routes {
                installations: route(&routes, "installations", &dr.installations)?,
                connect: route(&routes, "connect", &dr.connect)?,
                disconnect: route(&routes, "disconnect", &dr.disconnect)?,
            },
            retry: RetryPolicy {
                max_attempts: u32::try_from(policy("max_attempts", u64::from(dp.max_attempts))?)
                    .map_err(|_| corrupt("config.retry.max_attempts", "is out of range"))?,
                base_delay_ms: policy("base_delay_ms", dp.base_delay_ms)?,
                max_delay_ms: policy("max_delay_ms", dp.max_delay_ms)?,
                max_total_delay_ms: policy("max_total_delay_ms", dp.max_total_delay_ms)?,
                max_retry_after_ms: policy("max_retry_after_ms", dp.max_retry_after_ms)?,
            },
        };
        let status = top.req("status", |v| v.as_str().and_then(Status::parse), "a status name")?;
        let installation = match top.opt_obj("installation")? {
            None => None,
            Some(i) => Some(Installation {
                id: i.req_string("id")?,
                site_url: i.req_string("site_url")?,
                admin_email: i.req_string("admin_email")?,
                secret: i.req("secret", |v| v.as_str().and_then(|t| Secret::from_base64url(t).ok()), "a secret")?,
                platform: i.req_string("platform")?,
                plugin_version: i.req_string("plugin_version")?,
                confirmed: i.req("confirmed", Value::as_bool, "a boolean")?,
                challenge: i.opt_string("challenge")?,
                invalid_reason: i.opt_string("invalid_reason")?,
            }),
        };
        let broker_token = top.opt("broker_token", |v| v.as_str().and_then(|t| BrokerToken::new(t).ok()), "a token")?;
        let pending_connect = match top.opt_obj("pending_connect")? {
            None => None,
            Some(p) => Some(PendingConnect {
                state: p.req_string("state")?,
                created: p.req("created", Value::as_i64, "an integer")?,
                return_url: p.req_string("return_url")?,
            }),
        };
        let mut state = State {
            v: STATE_VERSION,
            config,
            status,
            installation,
            broker_token,
            pending_connect,
            clock_offset: top.req("clock_offset", Value::as_i64, "an integer")?,
            reconnect_reason: top.opt_string("reconnect_reason")?,
            site_mismatch: top.opt_string("site_mismatch")?,
        };
        state.refresh();
        Ok(state)
    }
}

fn corrupt(path: &str, what: &str) -> Error {
    Error::StateCorrupt(format!("`{path}` {what}"))
}

/// Typed member access on one object of the state blob; errors name the
/// member's path (`installation.secret`) and never its value.
struct Fields<'a> {
    obj: &'a Value,
    path: String,
}

impl<'a> Fields<'a> {
    fn name(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }

    /// `None` when absent or `null`.
    fn raw(&self, key: &str) -> Result<Option<&'a Value>> {
        match self.obj.get(key) {
            Err(_) => Err(corrupt(&self.name(key), "appears more than once")),
            Ok(None | Some(Value::Null)) => Ok(None),
            Ok(Some(v)) => Ok(Some(v)),
        }
    }

    fn opt<T>(&self, key: &str, read: impl Fn(&'a Value) -> Option<T>, what: &str) -> Result<Option<T>> {
        match self.raw(key)? {
            None => Ok(None),
            Some(v) => read(v).map(Some).ok_or_else(|| corrupt(&self.name(key), &format!("must be {what}"))),
        }
    }

    fn req<T>(&self, key: &str, read: impl Fn(&'a Value) -> Option<T>, what: &str) -> Result<T> {
        self.opt(key, read, what)?.ok_or_else(|| corrupt(&self.name(key), "is missing"))
    }

    fn opt_string(&self, key: &str) -> Result<Option<String>> {
        self.opt(key, |v| v.as_str().map(str::to_owned), "a string")
    }

    fn req_string(&self, key: &str) -> Result<String> {
        self.req(key, |v| v.as_str().map(str::to_owned), "a string")
    }

    fn opt_obj(&self, key: &str) -> Result<Option<Fields<'a>>> {
        let v = self.opt(key, |v| v.is_object().then_some(v), "an object")?;
        Ok(v.map(|obj| Fields { obj, path: self.name(key) }))
    }

    fn req_obj(&self, key: &str) -> Result<Fields<'a>> {
        self.opt_obj(key)?.ok_or_else(|| corrupt(&self.name(key), "is missing"))
    }
}

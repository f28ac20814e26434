//! The state's JSON form: what the host persists ([`State::to_json`]) and
//! reads back ([`State::from_json`]), with a named error for every member.

use zeroize::Zeroizing;

use super::{Account, Installation, MAX_STATE_JSON, PendingConnect, STATE_VERSION, State, Status, StoraTokens};
use crate::config::{Config, ProxyConfig, RetryPolicy, Routes};
use crate::error::{Error, Result};
use crate::json::{self, ObjectWriter, Value};
use crate::secret::{BrokerToken, Secret};

impl State {
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
        routes.str("connect_complete", &c.routes.connect_complete);
        routes.end();
        let mut retry = ObjectWriter::new(config.key("retry"));
        retry.u64("max_attempts", u64::from(c.retry.max_attempts));
        retry.u64("base_delay_ms", c.retry.base_delay_ms);
        retry.u64("max_delay_ms", c.retry.max_delay_ms);
        retry.u64("max_total_delay_ms", c.retry.max_total_delay_ms);
        retry.u64("max_retry_after_ms", c.retry.max_retry_after_ms);
        retry.end();
        if let Some(p) = &c.proxy {
            let mut proxy = ObjectWriter::new(config.key("proxy"));
            proxy.str("stora_api_url", &p.stora_api_url);
            proxy.u64("refresh_margin_secs", p.refresh_margin_secs);
            proxy.str("token", &p.token);
            proxy.str("refresh", &p.refresh);
            proxy.str("revoke", &p.revoke);
            proxy.end();
        }
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
        match &self.account {
            None => o.key("account").push_str("null"),
            Some(a) => {
                let mut acc = ObjectWriter::new(o.key("account"));
                acc.str("id", &a.id);
                acc.str("name", &a.name);
                acc.end();
            }
        }
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
        if let Some(t) = &self.tokens {
            let mut tokens = ObjectWriter::new(o.key("tokens"));
            tokens.str("access_token", t.access.expose());
            tokens.str("refresh_token", t.refresh.expose());
            tokens.i64("expires_at", t.expires_at);
            tokens.str("scope", &t.scope);
            tokens.end();
        }
        if let Some(retired) = &self.retired_refresh {
            o.str("retired_refresh", retired);
        }
        if self.token_generation > 0 {
            o.u64("token_generation", self.token_generation);
        }
        if let Some(cursor) = &self.events_cursor {
            o.str("events_cursor", cursor);
        }
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
        match top.opt("v", Want::U64)?.and_then(Value::as_u64) {
            None => return Err(Error::StateCorrupt("missing version `v`".into())),
            Some(v) if v > STATE_VERSION => {
                return Err(Error::StateVersionUnsupported { found: v, supported: STATE_VERSION });
            }
            Some(0) => return Err(Error::StateCorrupt("version 0 is not a state".into())),
            Some(_) => {}
        }
        let config = top.req_obj("config")?;
        let routes = config.opt_obj("routes")?.unwrap_or(Fields::EMPTY);
        let retry = config.opt_obj("retry")?.unwrap_or(Fields::EMPTY);
        let (dr, dp) = (Routes::default(), RetryPolicy::default());
        let config = Config {
            broker_url: config.req_string("broker_url")?,
            routes: Routes {
                installations: routes.opt_string("installations")?.unwrap_or(dr.installations),
                connect: routes.opt_string("connect")?.unwrap_or(dr.connect),
                disconnect: routes.opt_string("disconnect")?.unwrap_or(dr.disconnect),
                connect_complete: routes.opt_string("connect_complete")?.unwrap_or(dr.connect_complete),
            },
            retry: RetryPolicy {
                max_attempts: u32::try_from(retry.u64_or("max_attempts", u64::from(dp.max_attempts))?)
                    .map_err(|_| corrupt("config.retry.max_attempts", "is out of range"))?,
                base_delay_ms: retry.u64_or("base_delay_ms", dp.base_delay_ms)?,
                max_delay_ms: retry.u64_or("max_delay_ms", dp.max_delay_ms)?,
                max_total_delay_ms: retry.u64_or("max_total_delay_ms", dp.max_total_delay_ms)?,
                max_retry_after_ms: retry.u64_or("max_retry_after_ms", dp.max_retry_after_ms)?,
            },
            proxy: read_proxy(&config)?,
        };
        let status = Status::parse(top.req_str("status")?).ok_or_else(|| corrupt("status", "must be a status name"))?;
        let installation = match top.opt_obj("installation")? {
            None => None,
            Some(i) => Some(Installation {
                id: i.req_string("id")?,
                site_url: i.req_string("site_url")?,
                admin_email: i.req_string("admin_email")?,
                secret: Secret::from_base64url(i.req_str("secret")?)
                    .map_err(|_| corrupt("installation.secret", "must be a secret"))?,
                platform: i.req_string("platform")?,
                plugin_version: i.req_string("plugin_version")?,
                confirmed: i.req("confirmed", Want::Bool)?.as_bool().unwrap_or_default(),
                challenge: i.opt_string("challenge")?,
                invalid_reason: i.opt_string("invalid_reason")?,
            }),
        };
        let broker_token = match top.opt("broker_token", Want::Str)?.and_then(Value::as_str) {
            None => None,
            Some(t) => Some(BrokerToken::new(t).map_err(|_| corrupt("broker_token", "must be a token"))?),
        };
        let account = match top.opt_obj("account")? {
            None => None,
            Some(a) => Some(
                Account::new(a.req_str("id")?, a.req_str("name")?)
                    .map_err(|_| corrupt("account", "must be an account"))?,
            ),
        };
        let pending_connect = match top.opt_obj("pending_connect")? {
            None => None,
            Some(p) => Some(PendingConnect {
                state: p.req_string("state")?,
                created: p.req_i64("created")?,
                return_url: p.req_string("return_url")?,
            }),
        };
        let mut state = State {
            v: STATE_VERSION,
            config,
            status,
            installation,
            broker_token,
            account,
            pending_connect,
            clock_offset: match top.req_i64("clock_offset")? {
                o if o.unsigned_abs() <= crate::clock::MAX_CLOCK_OFFSET_SECS as u64 => o,
                _ => return Err(corrupt("clock_offset", "is out of range")),
            },
            reconnect_reason: top.opt_string("reconnect_reason")?,
            site_mismatch: top.opt_string("site_mismatch")?,
            tokens: read_tokens(&top)?,
            retired_refresh: match top.opt_string("retired_refresh")? {
                Some(f) if f.len() != 43 || !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
                    return Err(corrupt("retired_refresh", "must be a SHA-256 fingerprint"));
                }
                other => other,
            },
            token_generation: top.u64_or("token_generation", 0)?,
            events_cursor: match top.opt_string("events_cursor")? {
                Some(c) if crate::events::cursor_value(&c).is_none() => {
                    return Err(corrupt("events_cursor", "must be 1 to 18 decimal digits"));
                }
                other => other,
            },
        };
        if state.tokens.is_some() && (state.config.proxy.is_none() || state.broker_token.is_some()) {
            return Err(corrupt("tokens", "belong to proxy mode only, without a broker token"));
        }
        if state.tokens.is_some() && state.token_generation == 0 {
            return Err(corrupt("token_generation", "must count the pair it holds"));
        }
        state.refresh();
        Ok(state)
    }
}

/// `config.proxy` (proxy mode).
#[cfg(feature = "proxy")]
fn read_proxy(config: &Fields<'_>) -> Result<Option<ProxyConfig>> {
    Ok(match config.opt_obj("proxy")? {
        None => None,
        Some(p) => {
            let d = ProxyConfig::default();
            Some(ProxyConfig {
                stora_api_url: p.req_string("stora_api_url")?,
                refresh_margin_secs: p.u64_or("refresh_margin_secs", d.refresh_margin_secs)?,
                token: p.opt_string("token")?.unwrap_or(d.token),
                refresh: p.opt_string("refresh")?.unwrap_or(d.refresh),
                revoke: p.opt_string("revoke")?.unwrap_or(d.revoke),
            })
        }
    })
}

/// Without the `proxy` feature a proxy configuration is refused.
#[cfg(not(feature = "proxy"))]
fn read_proxy(config: &Fields<'_>) -> Result<Option<ProxyConfig>> {
    match config.opt_obj("proxy")? {
        None => Ok(None),
        Some(_) => Err(corrupt("config.proxy", "is authorization-proxy mode, which is not in this build")),
    }
}

/// `tokens` (proxy mode).
#[cfg(feature = "proxy")]
fn read_tokens(top: &Fields<'_>) -> Result<Option<StoraTokens>> {
    Ok(match top.opt_obj("tokens")? {
        None => None,
        Some(t) => Some(
            StoraTokens::new(
                &Zeroizing::new(t.req_string("access_token")?),
                &Zeroizing::new(t.req_string("refresh_token")?),
                t.req_i64("expires_at")?,
                t.req_str("scope")?,
            )
            .map_err(|_| corrupt("tokens", "must be a token pair"))?,
        ),
    })
}

/// Without the `proxy` feature a token pair is refused.
#[cfg(not(feature = "proxy"))]
fn read_tokens(top: &Fields<'_>) -> Result<Option<StoraTokens>> {
    match top.opt_obj("tokens")? {
        None => Ok(None),
        Some(_) => Err(corrupt("tokens", "belong to authorization-proxy mode, which is not in this build")),
    }
}

fn corrupt(path: &str, what: &str) -> Error {
    Error::StateCorrupt(format!("`{path}` {what}"))
}

/// The JSON type a state member must have.
#[derive(Clone, Copy)]
enum Want {
    Str,
    U64,
    I64,
    Bool,
    Obj,
}

impl Want {
    fn accepts(self, v: &Value) -> bool {
        match self {
            Want::Str => v.as_str().is_some(),
            Want::U64 => v.as_u64().is_some(),
            Want::I64 => v.as_i64().is_some(),
            Want::Bool => v.as_bool().is_some(),
            Want::Obj => v.is_object(),
        }
    }

    fn what(self) -> &'static str {
        match self {
            Want::Str => "must be a string",
            Want::U64 => "must be an unsigned integer",
            Want::I64 => "must be an integer",
            Want::Bool => "must be a boolean",
            Want::Obj => "must be an object",
        }
    }
}

/// Typed member access on one object of the state blob; errors name the
/// member's path (`installation.secret`) and never its value.
struct Fields<'a> {
    obj: &'a Value,
    path: String,
}

impl<'a> Fields<'a> {
    /// An object with no members (a missing optional object: every member takes its default).
    const EMPTY: Fields<'static> = Fields { obj: &Value::Null, path: String::new() };

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }

    /// The member, type-checked; `None` when absent or `null`.
    fn opt(&self, key: &str, want: Want) -> Result<Option<&'a Value>> {
        match self.obj.get(key) {
            Err(_) => Err(corrupt(&self.name(key), "appears more than once")),
            Ok(None | Some(Value::Null)) => Ok(None),
            Ok(Some(v)) if want.accepts(v) => Ok(Some(v)),
            Ok(Some(_)) => Err(corrupt(&self.name(key), want.what())),
        }
    }

    fn req(&self, key: &str, want: Want) -> Result<&'a Value> {
        self.opt(key, want)?.ok_or_else(|| corrupt(&self.name(key), "is missing"))
    }

    fn req_str(&self, key: &str) -> Result<&'a str> {
        Ok(self.req(key, Want::Str)?.as_str().unwrap_or_default())
    }

    fn opt_string(&self, key: &str) -> Result<Option<String>> {
        Ok(self.opt(key, Want::Str)?.and_then(Value::as_str).map(str::to_owned))
    }

    fn req_string(&self, key: &str) -> Result<String> {
        self.req_str(key).map(str::to_owned)
    }

    fn u64_or(&self, key: &str, default: u64) -> Result<u64> {
        Ok(self.opt(key, Want::U64)?.and_then(Value::as_u64).unwrap_or(default))
    }

    fn req_i64(&self, key: &str) -> Result<i64> {
        Ok(self.req(key, Want::I64)?.as_i64().unwrap_or_default())
    }

    fn opt_obj(&self, key: &str) -> Result<Option<Fields<'a>>> {
        Ok(self.opt(key, Want::Obj)?.map(|obj| Fields { obj, path: self.name(key) }))
    }

    fn req_obj(&self, key: &str) -> Result<Fields<'a>> {
        self.opt_obj(key)?.ok_or_else(|| corrupt(&self.name(key), "is missing"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob() -> String {
        let mut s = State::new(Config::new("https://broker.example"));
        s.pending_connect = Some(PendingConnect { state: "st".into(), created: -5, return_url: "https://r".into() });
        s.to_json()
    }

    fn err(json: &str) -> String {
        match State::from_json(json) {
            Err(Error::StateCorrupt(m)) => m,
            other => panic!("{json}: {other:?}"),
        }
    }

    #[test]
    fn round_trips_and_fills_defaults() {
        let json = blob();
        assert_eq!(State::from_json(&json).unwrap().to_json(), json);
        let minimal = r#"{"v":1,"config":{"broker_url":"https://b.example"},"status":"registered","clock_offset":0}"#;
        let s = State::from_json(minimal).unwrap();
        assert_eq!(s.config, Config::new("https://b.example"));
        assert_eq!(s.status, Status::NotRegistered, "status is derived, not trusted");
        // Members a newer build might add are ignored.
        assert!(State::from_json(&json.replacen("{\"v\":1,", "{\"v\":1,\"future\":[1,{}],", 1)).is_ok());
    }

    #[test]
    fn names_the_member_never_its_value() {
        let json = blob();
        assert_eq!(
            err(&json.replace("\"created\":-5", "\"created\":\"x\"")),
            "`pending_connect.created` must be an integer"
        );
        assert_eq!(err(&json.replace("\"clock_offset\":0,", "")), "`clock_offset` is missing");
        assert_eq!(
            err(&json.replace("\"status\":\"not_registered\"", "\"status\":\"hacked\"")),
            "`status` must be a status name"
        );
        assert_eq!(
            err(&json.replace("\"max_attempts\":3", "\"max_attempts\":3,\"max_attempts\":4")),
            "`config.retry.max_attempts` appears more than once"
        );
        assert_eq!(
            err(&json.replace("\"max_attempts\":3", "\"max_attempts\":1.5")),
            "`config.retry.max_attempts` must be an unsigned integer"
        );
        assert_eq!(
            err(&json.replace("\"max_attempts\":3", "\"max_attempts\":4294967296")),
            "`config.retry.max_attempts` is out of range"
        );
        assert_eq!(
            err(&json.replace("\"clock_offset\":0", "\"clock_offset\":-9223372036854775808")),
            "`clock_offset` is out of range"
        );
        assert_eq!(err("[]"), "`state` must be an object");
        assert_eq!(err("{\"v\":0}"), "version 0 is not a state");
        assert_eq!(err("{}"), "missing version `v`");
        assert!(err(&json[..json.len() - 1]).starts_with("not JSON: "));
        assert!(matches!(State::from_json("{\"v\":2}"), Err(Error::StateVersionUnsupported { found: 2, .. })));
    }
}

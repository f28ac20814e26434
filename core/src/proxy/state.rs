//! PROXY STATE: what the proxy sends Stora as the OAuth `state` and reads
//! back at `GET /callback` — the installation, its return URL, the plugin's
//! own `state`, the scope and the browser binding, signed with K_state and
//! valid for [`PROXY_STATE_TTL_SECS`].

use std::fmt;

use crate::error::{Error, Result};
use crate::json::ObjectWriter;
use crate::secret::ct_eq;
use crate::verify::Refusal;

use super::browser::binding_of;
use super::jws::{self, MAX_PROXY_TOKEN, STATE_HEADER};
use super::key::ProxyKey;
use super::{PROXY_STATE_TTL_SECS, fields, members};

/// The claims of a proxy state (design: `iid`, `ret`, `pst`, `scp`, `bnd`;
/// `exp` is added by [`ProxyState::seal`] and checked by [`ProxyState::open`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyState {
    /// The installation that started the connect (`iid`).
    pub install_id: String,
    /// Where the browser goes back to (`ret`).
    pub return_url: String,
    /// The plugin's `state` of the connect URL, echoed to `return_url` (`pst`).
    pub plugin_state: String,
    /// The scope asked for, if any (`scp`).
    pub scope: Option<String>,
    /// base64url(SHA-256(browser cookie value)) (`bnd`): [`ProxyState::binding_of`].
    pub browser_binding: String,
}

impl ProxyState {
    /// The `browser_binding` of the browser whose [`super::BROWSER_COOKIE`]
    /// value is `cookie`: base64url(SHA-256(cookie)).
    pub fn binding_of(cookie: &str) -> String {
        binding_of(cookie)
    }

    /// The token: JWS HS256 under K_state, `exp` = `now` + [`PROXY_STATE_TTL_SECS`].
    ///
    /// Refuses (`invalid_input`, answered `400 invalid_request`) claims a
    /// later step could not carry: an installation id or plugin state that is
    /// not 1-128 characters of `[A-Za-z0-9._~-]`, a return URL that is not
    /// 1-2048 visible ASCII characters, a malformed scope or binding; and
    /// `too_large` for a token over [`MAX_PROXY_TOKEN`] bytes.
    pub fn seal(&self, key: &ProxyKey, now: i64) -> Result<String> {
        fields::profile_token("install_id", &self.install_id)?;
        fields::return_url(&self.return_url)?;
        fields::profile_token("state", &self.plugin_state)?;
        if let Some(scope) = &self.scope {
            crate::connect::check_scope(scope)?;
        }
        if self.browser_binding.len() != 43 || crate::encoding::b64url_decode(&self.browser_binding).is_none() {
            return Err(Error::InvalidInput { field: "browser_binding", reason: "must be base64url of 32 bytes" });
        }
        let mut payload = String::with_capacity(256 + self.return_url.len());
        let mut o = ObjectWriter::new(&mut payload);
        o.str("iid", &self.install_id);
        o.str("ret", &self.return_url);
        o.str("pst", &self.plugin_state);
        o.opt_str("scp", self.scope.as_deref());
        o.str("bnd", &self.browser_binding);
        o.i64("exp", now.saturating_add(PROXY_STATE_TTL_SECS));
        o.end();
        let token = jws::sign(key.state_key(), STATE_HEADER, &payload);
        if token.len() > MAX_PROXY_TOKEN {
            return Err(Error::TooLarge { field: "proxy_state", limit: MAX_PROXY_TOKEN });
        }
        Ok(token)
    }

    /// Opens the `state` Stora sent back, at proxy time `now`, in the browser
    /// whose binding cookie is `cookie` (`None` when the request has none).
    ///
    /// In order: a token that is malformed or does not verify under K_state,
    /// or whose payload is not exactly the five claims and `exp`, is
    /// `proxy_state_invalid`; one past its `exp` is `proxy_state_expired` (a
    /// state is valid up to and including the second `exp`: it is refused
    /// from `exp + 1` on); a missing cookie, or one whose binding differs
    /// (compared in constant time), is `proxy_state_invalid`. Every refusal
    /// is answered with status 400 and its code.
    pub fn open(key: &ProxyKey, token: &str, cookie: Option<&str>, now: i64) -> Result<ProxyState, Refusal> {
        let refuse = |e| Refusal::new(e, now);
        let (state, exp) =
            Self::parse(key, token).ok_or_else(|| refuse(Error::ProxyStateInvalid("malformed or forged")))?;
        if now > exp {
            return Err(refuse(Error::ProxyStateExpired));
        }
        let cookie = cookie.ok_or_else(|| refuse(Error::ProxyStateInvalid("no browser binding cookie")))?;
        if !ct_eq(binding_of(cookie).as_bytes(), state.browser_binding.as_bytes()) {
            return Err(refuse(Error::ProxyStateInvalid("started in another browser")));
        }
        Ok(state)
    }

    /// The claims and `exp` of a token that verifies.
    fn parse(key: &ProxyKey, token: &str) -> Option<(ProxyState, i64)> {
        let payload = jws::open(key.state_key(), STATE_HEADER, token)?;
        let mut v = members::exact(&payload, &["iid", "ret", "pst", "scp", "bnd", "exp"])?.into_iter();
        let mut next = || v.next();
        let state = ProxyState {
            install_id: members::string(next()?)?,
            return_url: members::string(next()?)?,
            plugin_state: members::string(next()?)?,
            scope: members::opt_string(next()?)?,
            browser_binding: members::string(next()?)?,
        };
        let exp = next()?.as_i64()?;
        Some((state, exp))
    }
}

// The plugin's state is the connect's CSRF token: never in logs.
impl fmt::Debug for ProxyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyState")
            .field("install_id", &self.install_id)
            .field("return_url", &self.return_url)
            .field("plugin_state", &"[redacted]")
            .field("scope", &self.scope)
            .field("browser_binding", &self.browser_binding)
            .finish()
    }
}

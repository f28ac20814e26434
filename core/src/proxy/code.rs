//! CODE CONTEXT: what the proxy hands the plugin with Stora's code at the
//! callback, and checks at `POST /token` — the code was issued for this
//! installation, return URL and plugin state, and is this code. Signed with
//! K_code, valid for [`CODE_CONTEXT_TTL_SECS`].

use sha2::{Digest, Sha256};

use crate::encoding::b64url_encode;
use crate::error::{Error, Result};
use crate::json::ObjectWriter;
use crate::secret::ct_eq;
use crate::verify::Refusal;

use super::jws::{self, CODE_HEADER, MAX_PROXY_TOKEN};
use super::key::ProxyKey;
use super::state::ProxyState;
use super::{CODE_CONTEXT_TTL_SECS, fields, members};

/// Issues and verifies code contexts. A namespace: there is no value of it.
#[derive(Debug)]
pub enum CodeContext {}

/// What a `POST /token` claims: the installation that signed it (the
/// signature's keyid) and the body's return URL, state and code.
#[derive(Clone, Copy)]
pub struct CodeExchange<'a> {
    /// The keyid of the request's verified signature.
    pub install_id: &'a str,
    /// The body's `return_url`.
    pub return_url: &'a str,
    /// The body's `state` (the plugin's).
    pub state: &'a str,
    /// The body's `code` (Stora's authorization code).
    pub code: &'a str,
}

impl std::fmt::Debug for CodeExchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeExchange")
            .field("install_id", &self.install_id)
            .field("return_url", &self.return_url)
            .field("state", &"[redacted]")
            .field("code", &"[redacted]")
            .finish()
    }
}

/// `chs`: base64url(SHA-256(code)).
fn code_hash(code: &str) -> String {
    b64url_encode(&Sha256::digest(code.as_bytes()))
}

impl CodeContext {
    /// The code context of Stora's `code` for the connect `state` (opened at
    /// the callback): JWS HS256 under K_code, payload `iid`, `ret`, `pst`
    /// (from `state`), `chs` = base64url(SHA-256(code)) and `exp` = `now` +
    /// [`CODE_CONTEXT_TTL_SECS`].
    ///
    /// Refuses (`invalid_input`) a code that is not 1-256 visible ASCII
    /// characters or claims [`ProxyState::seal`] would refuse; `too_large` for
    /// a token over [`MAX_PROXY_TOKEN`] bytes.
    pub fn issue(key: &ProxyKey, code: &str, state: &ProxyState, now: i64) -> Result<String> {
        fields::code(code)?;
        fields::profile_token("install_id", &state.install_id)?;
        fields::return_url(&state.return_url)?;
        fields::profile_token("state", &state.plugin_state)?;
        let mut payload = String::with_capacity(192 + state.return_url.len());
        let mut o = ObjectWriter::new(&mut payload);
        o.str("iid", &state.install_id);
        o.str("ret", &state.return_url);
        o.str("pst", &state.plugin_state);
        o.str("chs", &code_hash(code));
        o.i64("exp", now.saturating_add(CODE_CONTEXT_TTL_SECS));
        o.end();
        let token = jws::sign(key.code_key(), CODE_HEADER, &payload);
        if token.len() > MAX_PROXY_TOKEN {
            return Err(Error::TooLarge { field: "code_context", limit: MAX_PROXY_TOKEN });
        }
        Ok(token)
    }

    /// Checks the code context `token` of a `POST /token` against what the
    /// request claims, at proxy time `now`.
    ///
    /// In order: a token that is malformed or does not verify under K_code,
    /// or whose payload is not exactly `iid`, `ret`, `pst`, `chs` (strings)
    /// and `exp` (an integer), is `code_context_invalid`; one past its `exp`
    /// is `code_context_expired` (valid up to and including the second
    /// `exp`); then `iid` ≠ keyid, `ret` ≠ `return_url`, `pst` ≠ `state` or
    /// `chs` ≠ base64url(SHA-256(code)) — all four compared, each in constant
    /// time — is `code_context_mismatch`. Every refusal is answered with
    /// status 400 and its code.
    pub fn verify(key: &ProxyKey, token: &str, exchange: &CodeExchange<'_>, now: i64) -> Result<(), Refusal> {
        let refuse = |e| Refusal::new(e, now);
        let [iid, ret, pst, chs, exp] = Self::parse(key, token).ok_or_else(|| refuse(Error::CodeContextInvalid))?;
        let exp = exp.as_i64().ok_or_else(|| refuse(Error::CodeContextInvalid))?;
        let text = |v: crate::json::Value| members::string(v).ok_or_else(|| refuse(Error::CodeContextInvalid));
        let (iid, ret, pst, chs) = (text(iid)?, text(ret)?, text(pst)?, text(chs)?);
        if now > exp {
            return Err(refuse(Error::CodeContextExpired));
        }
        let same = ct_eq(iid.as_bytes(), exchange.install_id.as_bytes())
            & ct_eq(ret.as_bytes(), exchange.return_url.as_bytes())
            & ct_eq(pst.as_bytes(), exchange.state.as_bytes())
            & ct_eq(chs.as_bytes(), code_hash(exchange.code).as_bytes());
        if !same {
            return Err(refuse(Error::CodeContextMismatch));
        }
        Ok(())
    }

    /// The five members of a token that verifies, in claim order.
    fn parse(key: &ProxyKey, token: &str) -> Option<[crate::json::Value; 5]> {
        let payload = jws::open(key.code_key(), CODE_HEADER, token)?;
        members::exact(&payload, &["iid", "ret", "pst", "chs", "exp"])?.try_into().ok()
    }
}

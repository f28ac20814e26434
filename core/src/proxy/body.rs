//! The bodies of the proxy's signed routes (`POST /token`, `/refresh`,
//! `/revoke`): written by the plugin with the core's JSON writer, read by the
//! proxy strictly — a JSON object with exactly the route's members, strings
//! only, each within its bound. Anything else is refused `400 invalid_request`.

use crate::error::{Error, Result};
use crate::json::ObjectWriter;
use crate::verify::Refusal;

use super::code::CodeExchange;
use super::secret_text::SecretText;
use super::{fields, members};

/// Largest body of a proxy route, in bytes.
pub const MAX_PROXY_BODY: usize = 16 * 1024;

/// The strings of members `names` of `body`, in that order, or the refusal
/// (`too_large` / `invalid_input` for the field `body`: 400 `invalid_request`).
fn strings(body: &[u8], names: &[&str], reason: &'static str) -> Result<Vec<zeroize::Zeroizing<String>>, Refusal> {
    // `now` only dates a `signature_expired` answer; a body refusal has no date.
    let refuse = |e| Refusal::new(e, 0);
    if body.len() > MAX_PROXY_BODY {
        return Err(refuse(Error::TooLarge { field: "body", limit: MAX_PROXY_BODY }));
    }
    let malformed = || refuse(Error::InvalidInput { field: "body", reason });
    let values = members::exact(body, names).ok_or_else(malformed)?;
    values.into_iter().map(|v| members::secret_string(v).ok_or_else(malformed)).collect()
}

/// A field check's failure as a refusal.
fn checked(result: Result<()>) -> Result<(), Refusal> {
    result.map_err(|e| Refusal::new(e, 0))
}

/// The body of `POST /token`:
/// `{"code":…,"code_context":…,"state":…,"return_url":…}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// Stora's authorization code (1-256 visible ASCII characters).
    pub code: SecretText,
    /// The code context the callback carried (a compact JWS, at most 4096 bytes).
    pub code_context: String,
    /// The plugin's `state` of the connect (1-128 characters of `[A-Za-z0-9._~-]`).
    pub state: String,
    /// The return URL of the connect (1-2048 visible ASCII characters).
    pub return_url: String,
}

impl TokenRequest {
    /// Reads a `POST /token` body strictly. A refusal is answered with its
    /// status (400) and code (`invalid_request`).
    pub fn parse(body: &[u8]) -> Result<TokenRequest, Refusal> {
        let reason = "expected {\"code\", \"code_context\", \"state\", \"return_url\"}, strings";
        let v = strings(body, &["code", "code_context", "state", "return_url"], reason)?;
        checked(fields::code(&v[0]))?;
        checked(fields::code_context(&v[1]))?;
        checked(fields::profile_token("state", &v[2]))?;
        checked(fields::return_url(&v[3]))?;
        Ok(TokenRequest {
            code: SecretText::new(v[0].as_str()),
            code_context: v[1].to_string(),
            state: v[2].to_string(),
            return_url: v[3].to_string(),
        })
    }

    /// The body, members in wire order.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        let mut o = ObjectWriter::new(&mut out);
        o.str("code", self.code.expose());
        o.str("code_context", &self.code_context);
        o.str("state", &self.state);
        o.str("return_url", &self.return_url);
        o.end();
        out
    }

    /// What [`super::CodeContext::verify`] checks this request against, for
    /// the installation `install_id` that signed it (the verified keyid).
    pub fn exchange<'a>(&'a self, install_id: &'a str) -> CodeExchange<'a> {
        CodeExchange { install_id, return_url: &self.return_url, state: &self.state, code: self.code.expose() }
    }
}

/// The body of `POST /refresh`: `{"refresh_token":…}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshRequest {
    /// The installation's Stora refresh token (1-4096 visible ASCII characters).
    pub refresh_token: SecretText,
}

impl RefreshRequest {
    /// Reads a `POST /refresh` body strictly (400 `invalid_request` otherwise).
    pub fn parse(body: &[u8]) -> Result<RefreshRequest, Refusal> {
        let v = strings(body, &["refresh_token"], "expected {\"refresh_token\"}, a string")?;
        checked(fields::stora_token("refresh_token", &v[0]))?;
        Ok(RefreshRequest { refresh_token: SecretText::new(v[0].as_str()) })
    }

    /// The body.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        let mut o = ObjectWriter::new(&mut out);
        o.str("refresh_token", self.refresh_token.expose());
        o.end();
        out
    }
}

/// The body of `POST /revoke`: `{"token":…}` (the refresh token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokeRequest {
    /// The Stora refresh token to revoke (1-4096 visible ASCII characters).
    pub token: SecretText,
}

impl RevokeRequest {
    /// Reads a `POST /revoke` body strictly (400 `invalid_request` otherwise).
    pub fn parse(body: &[u8]) -> Result<RevokeRequest, Refusal> {
        let v = strings(body, &["token"], "expected {\"token\"}, a string")?;
        checked(fields::stora_token("token", &v[0]))?;
        Ok(RevokeRequest { token: SecretText::new(v[0].as_str()) })
    }

    /// The body.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        let mut o = ObjectWriter::new(&mut out);
        o.str("token", self.token.expose());
        o.end();
        out
    }
}

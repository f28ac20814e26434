//! Bounds and alphabets of the values the proxy's tokens and request bodies
//! carry. Each failure is `invalid_input` (answered `400 invalid_request`).

use crate::connect::MAX_CONNECT_CODE;
use crate::error::{Error, Result};
use crate::sign::is_profile_token;

use super::jws::MAX_PROXY_TOKEN;

/// Longest return URL, in bytes (as a connect URL's, docs/PROTOCOL.md §5.3).
pub const MAX_RETURN_URL: usize = 2048;
/// Longest Stora token (access or refresh) the proxy accepts or relays, in bytes.
pub const MAX_STORA_TOKEN: usize = 4096;

/// 1 to `max` visible ASCII characters (no space, no control).
fn visible(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(|b| b.is_ascii_graphic())
}

/// An installation id or a plugin `state`: 1-128 characters of `[A-Za-z0-9._~-]`.
pub(crate) fn profile_token(field: &'static str, text: &str) -> Result<()> {
    if !is_profile_token(text) {
        return Err(Error::InvalidInput { field, reason: "must be 1-128 characters of [A-Za-z0-9._~-]" });
    }
    Ok(())
}

/// A return URL: 1 to [`MAX_RETURN_URL`] visible ASCII characters. (Its
/// form and origin were checked when the connect URL was.)
pub(crate) fn return_url(text: &str) -> Result<()> {
    if !visible(text, MAX_RETURN_URL) {
        return Err(Error::InvalidInput { field: "return_url", reason: "must be 1-2048 visible ASCII characters" });
    }
    Ok(())
}

/// Stora's authorization code: 1 to [`MAX_CONNECT_CODE`] visible ASCII characters.
pub(crate) fn code(text: &str) -> Result<()> {
    if !visible(text, MAX_CONNECT_CODE) {
        return Err(Error::InvalidInput { field: "code", reason: "must be 1-256 visible ASCII characters" });
    }
    Ok(())
}

/// A code context as received: 1 to [`MAX_PROXY_TOKEN`] base64url
/// characters and dots (its own checks follow in `CodeContext::verify`).
pub(crate) fn code_context(text: &str) -> Result<()> {
    let alphabet = text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if text.is_empty() || text.len() > MAX_PROXY_TOKEN || !alphabet {
        return Err(Error::InvalidInput {
            field: "code_context",
            reason: "must be a compact JWS of at most 4096 bytes",
        });
    }
    Ok(())
}

/// A Stora token: 1 to [`MAX_STORA_TOKEN`] visible ASCII characters.
pub(crate) fn stora_token(field: &'static str, text: &str) -> Result<()> {
    if !visible(text, MAX_STORA_TOKEN) {
        return Err(Error::InvalidInput { field, reason: "must be 1-4096 visible ASCII characters" });
    }
    Ok(())
}

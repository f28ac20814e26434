//! The operator's Stora tokens, held by the installation itself in
//! authorization-proxy mode (docs/PROTOCOL.md §13).

use sha2::{Digest, Sha256};

use crate::encoding::b64url_encode;
use crate::error::{Error, Result};
use crate::secret::BrokerToken;

/// The access and refresh token of one grant, replaced together (Stora
/// rotates the refresh token on every use and revokes the previous one).
///
/// `Debug` prints neither token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoraTokens {
    pub(crate) access: BrokerToken,
    pub(crate) refresh: BrokerToken,
    /// When the access token expires, local unix seconds.
    pub(crate) expires_at: i64,
    /// The scope Stora granted.
    pub(crate) scope: String,
}

impl StoraTokens {
    /// Builds a pair from the proxy's answer, checking both tokens against
    /// RFC 6750's `b64token` characters (1 to [`crate::MAX_STORA_TOKEN`]).
    pub(crate) fn new(access: &str, refresh: &str, expires_at: i64, scope: &str) -> Result<Self> {
        let bearer = |token: &str, member| {
            let ok = !token.is_empty()
                && token.len() <= crate::MAX_STORA_TOKEN
                && token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b));
            if ok { Ok(BrokerToken::presented(token)) } else { Err(malformed(member)) }
        };
        let access = bearer(access, "access_token")?;
        let refresh = bearer(refresh, "refresh_token")?;
        if scope.len() > 1024 || scope.chars().any(char::is_control) {
            return Err(malformed("scope"));
        }
        Ok(StoraTokens { access, refresh, expires_at, scope: scope.to_owned() })
    }

    /// When the access token expires, local unix seconds.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The scope Stora granted.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Whether the access token expires within `margin` seconds of `now`.
    pub(crate) fn expiring(&self, now: i64, margin: u64) -> bool {
        now.saturating_add(i64::try_from(margin).unwrap_or(i64::MAX)) >= self.expires_at
    }
}

/// The fingerprint of a refresh token kept after it was rotated away:
/// base64url(SHA-256(token)). The token itself is never kept.
pub(crate) fn fingerprint(token: &BrokerToken) -> String {
    b64url_encode(&Sha256::digest(token.expose().as_bytes()))
}

fn malformed(member: &'static str) -> Error {
    Error::CallbackInvalid(match member {
        "access_token" => "the proxy's answer has a malformed access_token",
        "refresh_token" => "the proxy's answer has a malformed refresh_token",
        _ => "the proxy's answer has a malformed scope",
    })
}

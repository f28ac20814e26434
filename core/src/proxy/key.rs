//! The proxy's own key, and the two keys derived from it.

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::encoding::b64url_decode_secret;
use crate::error::{Error, Result};

/// HKDF `info` of the key that signs proxy states.
const STATE_INFO: &[u8] = b"tessera-proxy-state-v1";
/// HKDF `info` of the key that signs code contexts.
const CODE_INFO: &[u8] = b"tessera-code-context-v1";

/// The authorization proxy's secret (`PROXY_KEY`, 32 to 64 random bytes —
/// never the OAuth client secret), kept only as the two keys derived from it:
/// K_state = HKDF-SHA256(ikm = PROXY_KEY, salt = empty,
/// info = `tessera-proxy-state-v1`, L = 32) signs proxy states, K_code (info
/// `tessera-code-context-v1`) code contexts. Separate keys: a state never
/// verifies as a code context, nor the other way round.
///
/// Zeroised on drop; `Debug` prints `ProxyKey([redacted])`.
#[derive(Clone)]
pub struct ProxyKey {
    state: Zeroizing<[u8; 32]>,
    code: Zeroizing<[u8; 32]>,
}

impl ProxyKey {
    /// Shortest key accepted, in bytes.
    pub const MIN_LEN: usize = 32;
    /// Longest key accepted, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Derives the keys from `bytes` (32 to 64 bytes, else `invalid_input`).
    pub fn new(bytes: &[u8]) -> Result<ProxyKey> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            return Err(Error::InvalidInput { field: "proxy_key", reason: "must be 32 to 64 bytes" });
        }
        Ok(ProxyKey { state: derive(bytes, STATE_INFO)?, code: derive(bytes, CODE_INFO)? })
    }

    /// [`ProxyKey::new`] of the unpadded base64url text (how the proxy's
    /// configuration holds it), decoded in constant time.
    pub fn from_base64url(text: &str) -> Result<ProxyKey> {
        let bytes =
            b64url_decode_secret(text).ok_or(Error::InvalidInput { field: "proxy_key", reason: "not base64url" })?;
        ProxyKey::new(&bytes)
    }

    /// K_state.
    pub(crate) fn state_key(&self) -> &[u8; 32] {
        &self.state
    }

    /// K_code.
    pub(crate) fn code_key(&self) -> &[u8; 32] {
        &self.code
    }
}

/// HKDF-SHA256 with an empty salt, 32 bytes of output.
fn derive(ikm: &[u8], info: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&[]), ikm)
        .expand(info, out.as_mut())
        .map_err(|_| Error::Internal("hkdf output length"))?;
    Ok(out)
}

impl fmt::Debug for ProxyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProxyKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_encoding() {
        assert!(ProxyKey::new(&[1; 31]).is_err());
        assert!(ProxyKey::new(&[1; 32]).is_ok());
        assert!(ProxyKey::new(&[1; 64]).is_ok());
        assert!(ProxyKey::new(&[1; 65]).is_err());
        assert!(ProxyKey::from_base64url("not base64!").is_err());
        let text = crate::encoding::b64url_encode(&[7; 32]);
        let (a, b) = (ProxyKey::from_base64url(&text).unwrap(), ProxyKey::new(&[7; 32]).unwrap());
        assert_eq!(a.state_key(), b.state_key());
        assert_ne!(a.state_key(), a.code_key(), "two keys, not one");
        assert_eq!(format!("{a:?}"), "ProxyKey([redacted])");
    }
}

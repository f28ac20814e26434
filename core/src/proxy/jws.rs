//! The proxy's tokens: JWS compact serialisation (RFC 7515) with HS256 and a
//! fixed header — `b64(header) "." b64(payload) "." b64(HMAC-SHA256)`, all
//! unpadded base64url. No algorithm negotiation: a verifier compares the
//! header segment byte for byte with the one constant it expects.

use zeroize::Zeroizing;

use crate::encoding::{b64url_decode, b64url_encode};
use crate::secret::ct_eq;
use crate::signature::hmac_sha256;

/// Longest token accepted (and issued), in bytes.
pub const MAX_PROXY_TOKEN: usize = 4096;

/// Header of a proxy state, byte for byte.
pub(crate) const STATE_HEADER: &str = r#"{"alg":"HS256","typ":"tessera-proxy-state"}"#;
/// Header of a code context, byte for byte.
pub(crate) const CODE_HEADER: &str = r#"{"alg":"HS256","typ":"tessera-code-context"}"#;

/// Signs `payload` under `key` with `header`.
pub(crate) fn sign(key: &[u8; 32], header: &str, payload: &str) -> String {
    let mut out = b64url_encode(header.as_bytes());
    out.push('.');
    out.push_str(&b64url_encode(payload.as_bytes()));
    let mac = hmac_sha256(key, out.as_bytes());
    out.push('.');
    out.push_str(&b64url_encode(&mac));
    out
}

/// The payload of `token` if it is exactly three segments, at most
/// [`MAX_PROXY_TOKEN`] bytes, with `header` as its first segment and a MAC
/// that matches (checked in constant time before the payload is decoded).
pub(crate) fn open(key: &[u8; 32], header: &str, token: &str) -> Option<Zeroizing<Vec<u8>>> {
    if token.len() > MAX_PROXY_TOKEN {
        return None;
    }
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h != b64url_encode(header.as_bytes()) {
        return None;
    }
    let mac = b64url_decode(s)?;
    let signed = &token[..h.len() + 1 + p.len()];
    if !ct_eq(&hmac_sha256(key, signed.as_bytes()), &mac) {
        return None;
    }
    b64url_decode(p).map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_shape() {
        let key = [3u8; 32];
        let token = sign(&key, STATE_HEADER, "{}");
        assert!(token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6InRlc3NlcmEtcHJveHktc3RhdGUifQ."), "{token}");
        assert_eq!(open(&key, STATE_HEADER, &token).as_deref().map(Vec::as_slice), Some(&b"{}"[..]));
        assert_eq!(open(&key, CODE_HEADER, &token), None, "another header");
        assert_eq!(open(&[4u8; 32], STATE_HEADER, &token), None, "another key");
        assert_eq!(open(&key, STATE_HEADER, &format!("{token}.")), None, "four segments");
        assert_eq!(open(&key, STATE_HEADER, &"a".repeat(MAX_PROXY_TOKEN + 1)), None);
    }
}

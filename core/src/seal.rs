//! Sealed state: XChaCha20-Poly1305 under a key derived with HKDF-SHA256 from
//! host key material (WordPress passes its salts, an extension a key it keeps
//! apart from the state).
//!
//! Format: `tsv1.` + base64url(nonce[24] ‖ ciphertext ‖ tag[16]), with the
//! prefix as associated data. Any failure to open — wrong key, tampering,
//! truncation, not a blob — is [`Error::StateUndecryptable`], never "empty".

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::encoding::{b64url_decode, b64url_encode};
use crate::error::{Error, Result};

/// Prefix of sealed blobs (and their associated data).
pub const PREFIX: &str = "tsv1.";
/// Shortest key material accepted.
pub const MIN_KEY_MATERIAL: usize = 16;
/// Largest sealed blob accepted.
pub const MAX_SEALED: usize = 128 * 1024;
const SALT: &[u8] = b"tessera-seal-v1";
const INFO: &[u8] = b"tessera state key";

fn cipher(key_material: &[u8]) -> Result<XChaCha20Poly1305> {
    if key_material.len() < MIN_KEY_MATERIAL {
        return Err(Error::InvalidInput { field: "key", reason: "key material must be at least 16 bytes" });
    }
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(SALT), key_material)
        .expand(INFO, key.as_mut())
        .map_err(|_| Error::Internal("hkdf output length"))?;
    XChaCha20Poly1305::new_from_slice(key.as_ref()).map_err(|_| Error::Internal("aead key length"))
}

/// Host key material a companion seals its persisted state with
/// ([`crate::Companion::set_seal_key`]). Zeroised on drop; prints as
/// `[redacted]`.
#[derive(Clone)]
pub struct SealKey(Zeroizing<Vec<u8>>);

impl SealKey {
    /// Checks and keeps `key_material` (at least 16 bytes).
    pub fn new(key_material: &[u8]) -> Result<SealKey> {
        cipher(key_material)?;
        Ok(SealKey(Zeroizing::new(key_material.to_vec())))
    }

    /// The key material.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

/// Seals `plaintext` with a fresh 24-byte `nonce` (random: pass 24 random bytes).
pub fn seal(plaintext: &[u8], key_material: &[u8], nonce: [u8; 24]) -> Result<String> {
    let ct = cipher(key_material)?
        .encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad: PREFIX.as_bytes() })
        .map_err(|_| Error::Internal("aead encrypt"))?;
    let mut blob = Vec::with_capacity(24 + ct.len());
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&ct);
    Ok(format!("{PREFIX}{}", b64url_encode(&blob)))
}

/// Opens a blob made by [`seal`].
pub fn open(sealed: &str, key_material: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let cipher = cipher(key_material)?;
    if sealed.len() > MAX_SEALED {
        return Err(Error::StateUndecryptable);
    }
    let blob = sealed.trim().strip_prefix(PREFIX).and_then(b64url_decode).ok_or(Error::StateUndecryptable)?;
    if blob.len() < 24 + 16 {
        return Err(Error::StateUndecryptable);
    }
    let (nonce, ct) = blob.split_at(24);
    let nonce = XNonce::try_from(nonce).map_err(|_| Error::StateUndecryptable)?;
    cipher
        .decrypt(&nonce, Payload { msg: ct, aad: PREFIX.as_bytes() })
        .map(Zeroizing::new)
        .map_err(|_| Error::StateUndecryptable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_failures() {
        let key = b"wordpress-logged-in-key-and-salt";
        let blob = seal(b"{\"v\":1}", key, [7; 24]).unwrap();
        assert!(blob.starts_with(PREFIX));
        assert_eq!(open(&blob, key).unwrap().as_slice(), b"{\"v\":1}");
        assert_eq!(open(&blob, b"another-key-entirely-0000").unwrap_err(), Error::StateUndecryptable);
        let mut tampered = blob.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(open(std::str::from_utf8(&tampered).unwrap(), key).unwrap_err(), Error::StateUndecryptable);
        assert_eq!(open(&blob[..20], key).unwrap_err(), Error::StateUndecryptable);
        assert_eq!(open("{\"v\":1}", key).unwrap_err(), Error::StateUndecryptable);
        assert_eq!(seal(b"x", b"short", [0; 24]).unwrap_err().code(), "invalid_input");
    }
}

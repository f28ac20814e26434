//! Encryption at rest and token helpers.
//!
//! Everything secret the broker stores (each installation's signing secret,
//! Stora access and refresh tokens) is sealed with XChaCha20-Poly1305 under
//! the broker's storage key. The associated data names the row and the
//! column (`"refresh_token\0ins_…"`), so a ciphertext copied into another
//! row or column does not open. Broker tokens are not stored at all: only
//! their SHA-256 hash is, and lookups go by hash.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Length of the random nonce prefixed to every sealed value.
const NONCE_LEN: usize = 24;

/// Seals and opens column values under the storage key.
pub struct Vault {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([redacted])")
    }
}

impl Vault {
    /// A vault over a 32-byte storage key.
    pub fn new(key: &[u8; 32]) -> Vault {
        Vault { cipher: XChaCha20Poly1305::new(&Key::from(*key)) }
    }

    /// Encrypts `plaintext` for `column` of the row `row_id`:
    /// `nonce (24 bytes) || ciphertext+tag`.
    pub fn seal(&self, column: &str, row_id: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let aad = associated_data(column, row_id);
        let ciphertext = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad: &aad })
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts a value sealed by [`Vault::seal`] for the same column and
    /// row. `None` when it does not open (wrong key, wrong row, tampered).
    pub fn open(&self, column: &str, row_id: &str, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let aad = associated_data(column, row_id);
        self.cipher.decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: &aad }).ok().map(Zeroizing::new)
    }

    /// Opens a sealed UTF-8 string.
    pub fn open_string(&self, column: &str, row_id: &str, sealed: &[u8]) -> Option<Zeroizing<String>> {
        let bytes = self.open(column, row_id, sealed)?;
        String::from_utf8(bytes.to_vec()).ok().map(Zeroizing::new)
    }
}

fn associated_data(column: &str, row_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(column.len() + 1 + row_id.len());
    aad.extend_from_slice(column.as_bytes());
    aad.push(0);
    aad.extend_from_slice(row_id.as_bytes());
    aad
}

/// Fills `dest` from the operating system's CSPRNG.
pub fn fill_random(dest: &mut [u8]) {
    getrandom::fill(dest).expect("the OS random number generator is unavailable");
}

/// `prefix` + `len` random bytes, base64url without padding.
pub fn random_id(prefix: &str, len: usize) -> String {
    let mut bytes = vec![0u8; len];
    fill_random(&mut bytes);
    format!("{prefix}{}", b64url(&bytes))
}

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a broker token: what the database keeps instead of the token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_binding() {
        let vault = Vault::new(&[7u8; 32]);
        let sealed = vault.seal("refresh_token", "ins_a", b"srt_secret");
        assert_eq!(&vault.open("refresh_token", "ins_a", &sealed).unwrap()[..], b"srt_secret");
        assert!(vault.open("refresh_token", "ins_b", &sealed).is_none(), "bound to the row");
        assert!(vault.open("access_token", "ins_a", &sealed).is_none(), "bound to the column");
        let other = Vault::new(&[8u8; 32]);
        assert!(other.open("refresh_token", "ins_a", &sealed).is_none(), "bound to the key");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(vault.open("refresh_token", "ins_a", &tampered).is_none());
    }
}

//! A secret string of the proxy's exchanges.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string — Stora's authorization code, an access or refresh
/// token: prints as `[redacted]`, compares in constant time, zeroised on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretText(String);

impl SecretText {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> SecretText {
        SecretText(text.into())
    }

    /// The text (for the request to Stora only, never for a log or message).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for SecretText {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}
impl Eq for SecretText {}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText([redacted])")
    }
}
impl fmt::Display for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_compared_zeroised() {
        let s = SecretText::new("srt_SECRET");
        assert!(!format!("{s:?} {s}").contains("SECRET"));
        assert_eq!(s, SecretText::new("srt_SECRET"));
        assert_ne!(s, SecretText::new("srt_SECRET2"));
        let mut z = s.clone();
        z.zeroize();
        assert_eq!(z.expose(), "");
        assert_eq!(s.expose(), "srt_SECRET");
    }
}

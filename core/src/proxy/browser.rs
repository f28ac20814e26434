//! The browser-binding cookie of a connect through the proxy: set at
//! `GET /connect`, checked at `GET /callback`, so a proxy state only
//! completes in the browser that started it.

use sha2::{Digest, Sha256};

use crate::encoding::{b64url_decode, b64url_encode};
use crate::entropy::Entropy;

/// Name of the browser-binding cookie.
pub const BROWSER_COOKIE: &str = "tessera_proxy_browser";

/// Random bytes in a cookie value.
const COOKIE_BYTES: usize = 32;

/// A fresh cookie value: 32 random bytes, unpadded base64url (43 characters).
pub fn new_browser_cookie(entropy: &mut dyn Entropy) -> String {
    let mut bytes = [0u8; COOKIE_BYTES];
    entropy.fill(&mut bytes);
    b64url_encode(&bytes)
}

/// Whether `value` is a well-formed cookie value (base64url of exactly 32
/// bytes), which `GET /connect` reuses instead of setting a new one.
pub fn is_browser_cookie(value: &str) -> bool {
    value.len() == 43 && b64url_decode(value).is_some_and(|b| b.len() == COOKIE_BYTES)
}

/// The well-formed value of the first [`BROWSER_COOKIE`] in a `Cookie`
/// header (`a=1; tessera_proxy_browser=…`), if there is one.
pub fn browser_cookie_in(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BROWSER_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| is_browser_cookie(value))
}

/// The `Set-Cookie` value for `value`: `Path=/`, `Max-Age=600`, `HttpOnly`,
/// `SameSite=Lax` (the callback is a top-level GET from Stora), and `Secure`
/// when the proxy's URL is https.
pub fn browser_cookie_header(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{BROWSER_COOKIE}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}", super::PROXY_STATE_TTL_SECS)
}

/// `bnd` of a proxy state: base64url(SHA-256(cookie value)).
pub(crate) fn binding_of(cookie: &str) -> String {
    b64url_encode(&Sha256::digest(cookie.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_values_and_headers() {
        let mut rng = crate::entropy::SeededEntropy::new([1; 32]);
        let v = new_browser_cookie(&mut rng);
        assert!(is_browser_cookie(&v), "{v}");
        assert_ne!(v, new_browser_cookie(&mut rng));
        for bad in ["", "abc", &v[1..], &format!("{v}A"), &format!("{}=", &v[..42])] {
            assert!(!is_browser_cookie(bad), "{bad}");
        }
        assert_eq!(browser_cookie_in(&format!("a=1; {BROWSER_COOKIE}={v}; b=2")), Some(v.as_str()));
        assert_eq!(browser_cookie_in(&format!("x{BROWSER_COOKIE}={v}")), None);
        assert_eq!(browser_cookie_in(&format!("{BROWSER_COOKIE}=short")), None);
        assert_eq!(
            browser_cookie_header("v", true),
            "tessera_proxy_browser=v; Path=/; Max-Age=600; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(!browser_cookie_header("v", false).contains("Secure"));
        // SHA-256("abc"), RFC 6234.
        assert_eq!(binding_of("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    }
}

//! Redaction of host-produced text: what a binding may keep of a failure the
//! host reported (a transport exception's message) before handing it back to
//! the caller as the cause of a Tessera error.
//!
//! The host's own words may quote what it was given: the signed request (its
//! `Authorization` header carries the broker token, its `Signature` the MAC)
//! or, through a verbose HTTP client, the registration body with the
//! installation secret. Every binding keeps only the redacted text.

use zeroize::Zeroizing;

use crate::companion::Companion;
use crate::http::Request;

/// What replaces a secret in redacted text.
pub const REDACTED: &str = "[redacted]";

impl Companion {
    /// `text` with every secret this companion holds (the installation
    /// secret as it is sent, base64url; the broker token) and every
    /// credential of `sent` (its `Authorization` and `Signature` header
    /// values) replaced by `[redacted]`. Longer secrets are replaced first,
    /// so a header value that contains the token goes whole. Bytes that are
    /// not UTF-8 are kept as they are.
    pub fn redact(&self, text: &[u8], sent: Option<&Request>) -> Vec<u8> {
        let mut secrets: Vec<Zeroizing<String>> = Vec::new();
        if let Some(installation) = self.state().installation() {
            secrets.push(Zeroizing::new(installation.secret.to_base64url()));
        }
        if let Some(tokens) = &self.state.tokens {
            secrets.push(Zeroizing::new(tokens.access.expose().to_owned()));
            secrets.push(Zeroizing::new(tokens.refresh.expose().to_owned()));
        }
        if let Some(token) = self.state().broker_token() {
            secrets.push(Zeroizing::new(token.expose().to_owned()));
        }
        for name in ["authorization", "signature"] {
            if let Some(value) = sent.and_then(|r| r.header(name)) {
                secrets.push(Zeroizing::new(value.to_owned()));
            }
        }
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.iter().fold(text.to_vec(), |acc, secret| replace_all(&acc, secret.as_bytes()))
    }
}

/// `haystack` with every occurrence of `needle` (not empty) replaced by
/// [`REDACTED`], scanning left to right without overlap.
fn replace_all(haystack: &[u8], needle: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(REDACTED.as_bytes());
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    /// A connected installation (the PHP port, `RedactTest`, uses the same state).
    const CONNECTED: &str = r#"{"v":1,"config":{"broker_url":"https://broker.example"},"status":"connected","installation":{"id":"ins_4Z1om6of97j5zLLmoYPXlA","site_url":"https://shop.example","admin_email":"owner@shop.example","secret":"s1FW3nL0XCe7rGc1Zbj6XJd76wKLSmTxAQbSq1lJ2kA","platform":"wordpress","plugin_version":"1.2.3","confirmed":true},"broker_token":"tok_BROKER_TOKEN_1","clock_offset":0}"#;

    fn registered() -> (Companion, String) {
        let c = Companion::from_json(CONNECTED).unwrap();
        let secret = c.state().installation().unwrap().secret.to_base64url();
        assert_eq!(secret, "s1FW3nL0XCe7rGc1Zbj6XJd76wKLSmTxAQbSq1lJ2kA");
        (c, secret)
    }

    #[test]
    fn replaces_every_occurrence_without_overlap() {
        assert_eq!(replace_all(b"a tok b tok", b"tok"), b"a [redacted] b [redacted]");
        assert_eq!(replace_all(b"to", b"tok"), b"to");
        assert_eq!(replace_all(b"tototo", b"toto"), b"[redacted]to");
        assert_eq!(replace_all(b"\xff tok", b"tok"), b"\xff [redacted]");
        assert_eq!(replace_all(b"", b"tok"), b"");
    }

    #[test]
    fn the_secret_and_the_credentials_of_the_request_go() {
        let (c, secret) = registered();
        let sent = Request {
            method: "GET".into(),
            url: "https://broker.example/api/x".into(),
            headers: vec![
                ("authorization".into(), "Bearer tok_ABC".into()),
                ("signature".into(), "tessera=:c2ln:".into()),
                ("x-other".into(), "kept".into()),
            ],
            body: Vec::new(),
        };
        let text = format!("failed: {secret} / Bearer tok_ABC / tessera=:c2ln: / tok_BROKER_TOKEN_1 / kept / \u{e9}");
        let out = String::from_utf8(c.redact(text.as_bytes(), Some(&sent))).unwrap();
        assert_eq!(out, "failed: [redacted] / [redacted] / [redacted] / [redacted] / kept / \u{e9}");
        // Without the request only the companion's own secret goes.
        let out = String::from_utf8(c.redact(text.as_bytes(), None)).unwrap();
        assert_eq!(out, "failed: [redacted] / Bearer tok_ABC / tessera=:c2ln: / [redacted] / kept / \u{e9}");
    }

    #[test]
    fn the_longer_secret_goes_whole() {
        let (c, _) = registered();
        // The header value contains a shorter secret-like value ("tok"): the
        // longer one is replaced first, leaving no fragment behind.
        let sent = Request {
            method: "GET".into(),
            url: "https://broker.example/".into(),
            headers: vec![("signature".into(), "ab".into()), ("authorization".into(), "xxabxx".into())],
            body: Vec::new(),
        };
        assert_eq!(c.redact(b"<xxabxx>", Some(&sent)), b"<[redacted]>");
        assert_eq!(c.redact(b"<ab>", Some(&sent)), b"<[redacted]>");
    }

    #[test]
    fn an_empty_credential_removes_nothing() {
        let c = Companion::create(Config::new("https://broker.example")).unwrap();
        let sent = Request {
            method: "GET".into(),
            url: "https://broker.example/".into(),
            headers: vec![("authorization".into(), String::new())],
            body: Vec::new(),
        };
        assert_eq!(c.redact(b"nothing secret", Some(&sent)), b"nothing secret");
    }
}

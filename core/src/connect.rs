//! The browser connect flow and other URL-signed links (docs/PROTOCOL.md
//! §5.3 connect URL, §5.4 callback, §5.9 uninstall ticket), plugin side; the
//! broker's checks of them are in `verify/links.rs`.
//!
//! A URL-signed link carries `sig` = base64url(HMAC-SHA256(secret, canonical))
//! where canonical = `<context>\n<k1>=<v1>&<k2>=<v2>…` — the other parameters,
//! in the fixed order of the link type, each value percent-encoded with every
//! byte outside RFC 3986 unreserved escaped as uppercase `%XX`. The secret
//! never travels through the browser.

use crate::encoding::{b64url_encode, parse_query, pct_encode};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::signature::hmac_sha256;

/// Context string of connect URLs.
pub const CONNECT_CONTEXT: &str = "tessera-connect-v1";
/// Context string of uninstall tickets.
pub const UNINSTALL_CONTEXT: &str = "tessera-uninstall-v1";
/// Lifetime of a pending connect (and of a connect URL), seconds.
pub const CONNECT_TTL_SECS: i64 = 600;
/// Tolerated clock lead of a link's `ts`, seconds.
pub const FUTURE_SKEW_SECS: i64 = 300;
/// Default maximum age of an uninstall ticket (7 days). The ticket is a
/// reusable bearer capability until then, so it is short; hosts re-issue it
/// whenever they run (an extension: every service-worker start and a daily
/// alarm), well within this age (docs/PROTOCOL.md §5.9).
pub const UNINSTALL_TICKET_MAX_AGE_SECS: i64 = 7 * 24 * 3600;
/// Longest callback URL accepted.
pub const MAX_CALLBACK: usize = 8 * 1024;
/// Longest connect code accepted (docs/PROTOCOL.md §5.4).
pub const MAX_CONNECT_CODE: usize = 256;

/// `k=v&…` with canonical percent-encoding of the values.
pub fn canonical_query(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", pct_encode(v))).collect();
    parts.join("&")
}

/// The `sig` value for a URL-signed link.
pub fn link_signature(secret: &Secret, context: &str, pairs: &[(&str, &str)]) -> String {
    let canonical = format!("{context}\n{}", canonical_query(pairs));
    b64url_encode(&hmac_sha256(secret.expose(), canonical.as_bytes()))
}

/// The verified parameters of a connect URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectParams {
    /// The installation.
    pub install_id: String,
    /// The plugin's `state`, to echo back on the return URL.
    pub state: String,
    /// Where to send the browser back.
    pub return_url: String,
    /// Requested scope, if any.
    pub scope: Option<String>,
    /// Issue time, unix seconds.
    pub ts: i64,
}

/// Checks a return URL: an absolute URL (any scheme, so `chrome-extension://`
/// works), visible ASCII, no fragment, at most 2048 bytes.
pub(crate) fn check_return_url(url: &str) -> Result<()> {
    let bad = |reason| Err(Error::InvalidUrl { field: "return_url", reason });
    if url.len() > 2048 {
        return Err(Error::TooLarge { field: "return_url", limit: 2048 });
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("must be visible ASCII without spaces");
    }
    if url.contains('#') {
        return bad("must not contain a fragment");
    }
    let Some((scheme, rest)) = url.split_once("://") else { return bad("must be absolute") };
    let scheme_ok = scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b));
    if !scheme_ok || rest.is_empty() {
        return bad("must be absolute");
    }
    // The broker sends the operator's browser here with a connect code: an
    // http(s) URL the strict URL model accepts (a host, a valid port, no
    // userinfo or backslash), or a page of a browser extension.
    if crate::registration::EXTENSION_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
        let id = rest.split(['/', '?']).next().unwrap_or_default();
        if !crate::registration::is_extension_id(id) {
            return bad("an extension page must be scheme://<id>/path");
        }
    } else {
        crate::url::Url::parse(url, "return_url")?;
    }
    if url.contains('\\') {
        return bad("must not contain a backslash");
    }
    // The broker appends `state` and `code` (or `error`) to this URL,
    // and the plugin parses the result with `parse_callback`. A query that
    // does not percent-decode, repeats a key, or already carries one of those
    // keys would make every callback `callback_invalid` (or a false
    // `callback_denied`): refuse it here, before the operator is sent away.
    // (Found by fuzzing: fuzz/fuzz_targets/connect_roundtrip.rs.)
    if let Some((_, query)) = url.split_once('?') {
        let Some(pairs) = unique_pairs(query) else {
            return bad("has a query that does not percent-decode or repeats a key");
        };
        if pairs.iter().any(|(k, _)| matches!(k.as_str(), "state" | "code" | "error" | "code_context")) {
            return bad("must not carry state, code, error or code_context in its query");
        }
    }
    Ok(())
}

/// Checks a scope string: 1-256 visible ASCII characters or spaces.
pub(crate) fn check_scope(scope: &str) -> Result<()> {
    if scope.is_empty() || scope.len() > 256 || !scope.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Err(Error::InvalidInput { field: "scope", reason: "must be 1-256 visible ASCII characters" });
    }
    Ok(())
}

/// Ordered connect-URL parameters (without `sig`).
pub(crate) fn connect_pairs<'a>(
    install_id: &'a str,
    state: &'a str,
    return_url: &'a str,
    scope: Option<&'a str>,
    ts: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![("install_id", install_id), ("state", state), ("return_url", return_url)];
    if let Some(s) = scope {
        pairs.push(("scope", s));
    }
    pairs.push(("ts", ts));
    pairs
}

pub(crate) fn query_of(url: &str) -> &str {
    let no_frag = url.split('#').next().unwrap_or("");
    match no_frag.split_once('?') {
        Some((_, q)) => q,
        None if no_frag.contains("://") => "",
        None => no_frag,
    }
}

/// Decoded query pairs with each key at most once.
pub(crate) fn unique_pairs(query: &str) -> Option<Vec<(String, String)>> {
    let pairs = parse_query(query)?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(k2, _)| k2 == k) {
            return None;
        }
    }
    Some(pairs)
}

pub(crate) fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub(crate) fn check_ts(ts: Option<&str>, now: i64, max_age: i64) -> Result<i64> {
    let ts: i64 = ts
        .filter(|t| !t.is_empty() && t.len() <= 12 && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or(Error::SignatureMalformed("ts must be unix seconds"))?;
    if ts > now.saturating_add(FUTURE_SKEW_SECS) || now.saturating_sub(ts) > max_age {
        return Err(Error::SignatureExpired);
    }
    Ok(ts)
}

/// A parsed connect callback.
#[derive(Debug)]
pub(crate) struct Callback {
    pub state: String,
    pub code: Option<String>,
    pub error: Option<String>,
    /// Proxy mode: the proxy's signed context of `code` (docs/PROTOCOL.md §13).
    pub code_context: Option<String>,
}

/// Checks a connect code: 16-256 characters of `[A-Za-z0-9-._~]`.
pub(crate) fn check_connect_code(code: &str) -> Result<()> {
    let charset_ok = code.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if code.len() < 16 || code.len() > MAX_CONNECT_CODE || !charset_ok {
        return Err(Error::CallbackInvalid("code is not a valid connect code"));
    }
    Ok(())
}

/// Parses a callback given as a full return URL, `?query` or bare query.
pub(crate) fn parse_callback(input: &str) -> Result<Callback> {
    if input.len() > MAX_CALLBACK {
        return Err(Error::TooLarge { field: "callback", limit: MAX_CALLBACK });
    }
    let pairs = unique_pairs(query_of(input)).ok_or(Error::CallbackInvalid("malformed or repeated query parameter"))?;
    let state = get(&pairs, "state").ok_or(Error::CallbackInvalid("missing state"))?;
    Ok(Callback {
        state: state.to_owned(),
        code: get(&pairs, "code").map(str::to_owned),
        error: get(&pairs, "error").map(str::to_owned),
        code_context: get(&pairs, "code_context").map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::verify_uninstall_ticket;

    #[test]
    fn callback_forms() {
        for input in ["https://s.example/cb?state=abc&code=t", "?state=abc&code=t", "state=abc&code=t#x"] {
            let cb = parse_callback(input).unwrap();
            assert_eq!(cb.state, "abc");
            assert_eq!(cb.code.as_deref(), Some("t"));
        }
        assert!(parse_callback("https://s.example/cb").is_err());
        assert!(parse_callback("state=a&state=b").is_err());
        assert!(parse_callback("state=%ZZ").is_err());
    }

    #[test]
    fn uninstall_ticket_lives_seven_days() {
        // Issue 14 item 10: the ticket is a reusable bearer capability, so its
        // default lifetime is short (7 days, not 30); hosts re-issue it.
        assert_eq!(UNINSTALL_TICKET_MAX_AGE_SECS, 7 * 24 * 3600);
        let secret = Secret::from_bytes(&[5u8; 32]).unwrap();
        let id = "ins_BTrrnGcBGJrBvzfhg7XWVw";
        let ts = 1_700_000_000_i64;
        let ts_text = ts.to_string();
        let sig = link_signature(&secret, UNINSTALL_CONTEXT, &[("install_id", id), ("ts", &ts_text)]);
        let url = format!("https://b.example/installations/{id}/uninstall?ts={ts}&sig={sig}");
        let at = |now: i64| {
            verify_uninstall_ticket(id, &url, now, UNINSTALL_TICKET_MAX_AGE_SECS, &mut |_| Some(secret.clone()))
        };
        assert_eq!(at(ts + 7 * 24 * 3600), Ok(ts), "accepted on its last second");
        assert_eq!(at(ts + 7 * 24 * 3600 + 1), Err(Error::SignatureExpired), "refused one second later");
        assert_eq!(at(ts + 30 * 24 * 3600), Err(Error::SignatureExpired), "the old 30-day age is long gone");
        assert_eq!(at(ts - FUTURE_SKEW_SECS), Ok(ts));
        assert_eq!(at(ts - FUTURE_SKEW_SECS - 1), Err(Error::SignatureExpired));
    }

    #[test]
    fn return_urls() {
        assert!(check_return_url("chrome-extension://abcdef/options.html").is_ok());
        assert!(check_return_url("https://s.example/wp-admin/options-general.php?page=x").is_ok());
        assert!(check_return_url("https://s.example/cb?a=%2F&b").is_ok());
        assert!(check_return_url("moz-extension://0b1c-2d3e/connected.html?x=1").is_ok());
        assert!(check_return_url("http://127.0.0.1:8080/wp-admin/admin.php?page=tessera").is_ok());
        for bad in [
            "/relative",
            "https://x#f",
            "https://x y",
            "://x",
            "1http://x",
            "https://x/cb?a=%zz",
            "https://x/cb?a=%FF",
            "https://x/cb?state=1",
            "https://x/cb?a=1&%63ode=t",
            "https://x/cb?error",
            "https://x/cb?a=1&b&a=2",
            "file:///etc/passwd",
            "https://s.example:99999/cb",
            "https://[::1/cb",
            "https://evil.example\\@shop.example/",
            "https://user@shop.example/",
            "ftp://shop.example/",
            "chrome-extension:///page.html",
            "chrome-extension://ab_cd/page.html",
        ] {
            assert!(check_return_url(bad).is_err(), "{bad}");
        }
    }
}

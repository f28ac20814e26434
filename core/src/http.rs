//! Plain HTTP values the core builds and reads. The host sends and receives
//! them with its own HTTP stack (`fetch`, `wp_remote_request`, …).

use crate::error::{Error, Result};

/// Largest body the core signs, verifies or reads (1 MiB).
pub const MAX_BODY: usize = 1 << 20;
/// Largest single header value the core accepts (8 KiB).
pub const MAX_HEADER_VALUE: usize = 8 * 1024;
/// Most headers the core accepts on one message.
pub const MAX_HEADERS: usize = 100;

/// A request for the host to send.
///
/// `Debug` redacts credential headers and elides the body (a registration
/// body carries the secret), so logging a request never leaks one.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Request {
    /// Uppercase method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Header names in lowercase, in the order to send them.
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty for none).
    pub body: Vec<u8>,
}

/// Header names whose values are credentials.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers = debug_headers(&self.headers);
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

/// Header pairs for `Debug`, credential values redacted.
fn debug_headers(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| {
            let redact = CREDENTIAL_HEADERS.iter().any(|c| k.eq_ignore_ascii_case(c));
            (k.as_str(), if redact { "[redacted]" } else { v.as_str() })
        })
        .collect()
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &debug_headers(&self.headers))
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

impl std::fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &debug_headers(&self.headers))
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

impl Request {
    /// First value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A response the host received.
///
/// `Debug` elides the body: an answer may carry a token (a connect
/// completion's broker token, a proxy's Stora tokens).
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Headers as received (any case).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with no headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response { status, headers: Vec::new(), body: body.into() }
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// First value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// What the plugin asks to send to the broker: the path is relative to the
/// broker base URL (it may carry a query); headers are extra headers such as
/// `content-type`. Signing adds the rest.
///
/// `Debug` redacts credential headers and elides the body (a revoke carries
/// a refresh token, a code exchange the code).
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ApiRequest {
    /// Method, any case (normalised to uppercase).
    pub method: String,
    /// Path below the broker base URL, e.g. `/api/orders?limit=3`.
    pub path: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl ApiRequest {
    /// A request without headers or body.
    pub fn new(method: &str, path: &str) -> ApiRequest {
        ApiRequest { method: method.to_owned(), path: path.to_owned(), headers: Vec::new(), body: Vec::new() }
    }

    /// A JSON request: sets `content-type: application/json`.
    pub fn json(method: &str, path: &str, body: impl Into<Vec<u8>>) -> ApiRequest {
        ApiRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }
}

pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Checks a method token and returns it uppercased.
pub(crate) fn normalize_method(method: &str) -> Result<String> {
    let ok = !method.is_empty() && method.len() <= 16 && method.bytes().all(|b| b.is_ascii_alphabetic());
    if !ok {
        return Err(Error::InvalidInput { field: "method", reason: "must be an HTTP method token" });
    }
    Ok(method.to_ascii_uppercase())
}

/// Checks header names/values against RFC 9110 and the size bounds, and
/// returns them with lowercase names and trimmed values.
pub(crate) fn normalize_headers(headers: &[(String, String)]) -> Result<Vec<(String, String)>> {
    if headers.len() > MAX_HEADERS {
        return Err(Error::TooLarge { field: "headers", limit: MAX_HEADERS });
    }
    headers
        .iter()
        .map(|(k, v)| {
            let name_ok = !k.is_empty()
                && k.len() <= 64
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !name_ok {
                return Err(Error::InvalidInput { field: "headers", reason: "header name is not a token" });
            }
            if v.len() > MAX_HEADER_VALUE {
                return Err(Error::TooLarge { field: "headers", limit: MAX_HEADER_VALUE });
            }
            if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0 || b >= 0x80) {
                return Err(Error::InvalidInput { field: "headers", reason: "header value must be visible ASCII" });
            }
            Ok((k.to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect()
}

pub(crate) fn check_body(body: &[u8]) -> Result<()> {
    if body.len() > MAX_BODY {
        return Err(Error::TooLarge { field: "body", limit: MAX_BODY });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_debug_redacts_credentials_and_body() {
        let r = Request {
            method: "POST".into(),
            url: "https://b.example/installations".into(),
            headers: vec![("Authorization".into(), "Bearer btk_SECRET".into()), ("x-a".into(), "b".into())],
            body: b"{\"secret\":\"SECRET\"}".to_vec(),
        };
        let text = format!("{r:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("[redacted]") && text.contains("x-a") && text.contains("<19 bytes>"), "{text}");
    }

    #[test]
    fn headers_are_checked() {
        let ok = normalize_headers(&[("Content-Type".into(), " a/b ".into())]).unwrap();
        assert_eq!(ok[0], ("content-type".into(), "a/b".into()));
        assert!(normalize_headers(&[("bad name".into(), "x".into())]).is_err());
        assert!(normalize_headers(&[("x".into(), "a\r\nb".into())]).is_err());
        assert!(normalize_headers(&[("x".into(), "é".into())]).is_err());
        assert!(normalize_headers(&[("x".into(), "a".repeat(MAX_HEADER_VALUE + 1))]).is_err());
        assert_eq!(normalize_method("get").unwrap(), "GET");
        assert!(normalize_method("GE T").is_err());
        assert!(check_body(&vec![0; MAX_BODY + 1]).is_err());
    }
}

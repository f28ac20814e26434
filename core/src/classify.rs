//! Maps any broker response to one outcome (DESIGN.md "Error codes").

use crate::error::{Error, sanitize_code};
use crate::http::Response;

/// Largest body inspected for an error code.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Longest `Retry-After` taken at face value (one day).
const MAX_RETRY_AFTER_MS: u64 = 86_400_000;

/// The family of a broker response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "snake_case"))]
pub enum OutcomeKind {
    /// 2xx.
    Ok,
    /// 401 `stora_reconnect_required`, `broker_token_invalid`, `installation_disabled`.
    ReconnectRequired,
    /// 401 `signature_invalid`, `unknown_installation`.
    RegistrationInvalid,
    /// 401 `signature_expired` (clock skew; learn the offset from `Date`).
    SignatureExpired,
    /// 429.
    RateLimited,
    /// 3xx: a signed request is never redirected (the host's HTTP stack must
    /// not follow it, and the core does not either).
    Redirected,
    /// Other 1xx/4xx.
    ClientError,
    /// 5xx and 408.
    ServerUnavailable,
}

impl OutcomeKind {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Ok => "ok",
            OutcomeKind::ReconnectRequired => "reconnect_required",
            OutcomeKind::RegistrationInvalid => "registration_invalid",
            OutcomeKind::SignatureExpired => "signature_expired",
            OutcomeKind::RateLimited => "rate_limited",
            OutcomeKind::Redirected => "redirected",
            OutcomeKind::ClientError => "client_error",
            OutcomeKind::ServerUnavailable => "server_unavailable",
        }
    }
}

/// A classified response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Outcome {
    /// The family.
    pub kind: OutcomeKind,
    /// HTTP status.
    pub status: u16,
    /// The broker's error code (`error` member, or RFC 9457 `code`), sanitised.
    pub code: Option<String>,
    /// For 429: the `Retry-After` delay in milliseconds, when given.
    pub retry_after_ms: Option<u64>,
    /// The broker's `Date`, unix seconds, when given and valid.
    pub server_date: Option<i64>,
}

impl Outcome {
    /// The error this outcome surfaces as when it ends a call (`None` for Ok).
    pub fn to_error(&self, attempts: u32) -> Option<Error> {
        let reason = || self.code.clone().unwrap_or_else(|| format!("http_{}", self.status));
        Some(match self.kind {
            OutcomeKind::Ok => return None,
            OutcomeKind::ReconnectRequired => Error::ReconnectRequired { reason: reason() },
            OutcomeKind::RegistrationInvalid => Error::RegistrationInvalid { reason: reason() },
            OutcomeKind::RateLimited => Error::RateLimited { retry_after_ms: self.retry_after_ms.unwrap_or(0) },
            OutcomeKind::Redirected => Error::Redirected { status: Some(self.status) },
            OutcomeKind::ServerUnavailable => Error::ServerUnavailable { status: Some(self.status), attempts },
            OutcomeKind::SignatureExpired | OutcomeKind::ClientError => {
                Error::ClientError { status: self.status, reason: reason() }
            }
        })
    }
}

/// Reads `error` (or RFC 9457 `code`) from a JSON error body.
pub fn error_code(body: &[u8]) -> Option<String> {
    if body.is_empty() || body.len() > MAX_ERROR_BODY {
        return None;
    }
    let value = crate::json::parse(body).ok()?;
    let member = |name| value.get(name).ok().flatten().and_then(crate::json::Value::as_str);
    let code = member("error").or_else(|| member("code"))?;
    Some(sanitize_code(code))
}

/// Parses an HTTP-date (IMF-fixdate and the two obsolete forms) to unix seconds.
pub fn parse_http_date(text: &str) -> Option<i64> {
    crate::httpdate::parse(text)
}

/// Formats unix seconds as an IMF-fixdate (for a `Date` header).
pub fn fmt_http_date(unix_secs: i64) -> String {
    crate::httpdate::format(unix_secs)
}

/// `Retry-After` as delay-seconds or an HTTP-date, relative to `now`; capped at a day.
pub fn parse_retry_after(value: &str, now: i64) -> Option<u64> {
    let v = value.trim();
    if !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = v.parse().ok()?;
        return Some(secs.saturating_mul(1000).min(MAX_RETRY_AFTER_MS));
    }
    let at = parse_http_date(v)?;
    Some(((at - now).max(0) as u64).saturating_mul(1000).min(MAX_RETRY_AFTER_MS))
}

/// Classifies `resp` at local time `now` (unix seconds).
pub fn classify(resp: &Response, now: i64) -> Outcome {
    let status = resp.status;
    let code = if (200..300).contains(&status) { None } else { error_code(&resp.body) };
    let server_date = resp.header("date").and_then(parse_http_date);
    // An HTTP-date Retry-After is measured against the server's own Date when
    // there is one (both are the server's clock, so local skew cannot distort it).
    let retry_after_ms = if status == 429 {
        resp.header("retry-after").and_then(|v| parse_retry_after(v, server_date.unwrap_or(now)))
    } else {
        None
    };
    let kind = match (status, code.as_deref()) {
        (200..=299, _) => OutcomeKind::Ok,
        (401 | 403, Some("stora_reconnect_required" | "broker_token_invalid" | "installation_disabled")) => {
            OutcomeKind::ReconnectRequired
        }
        (401, Some("signature_invalid" | "unknown_installation")) => OutcomeKind::RegistrationInvalid,
        (401, Some("signature_expired")) => OutcomeKind::SignatureExpired,
        (429, _) => OutcomeKind::RateLimited,
        (300..=399, _) => OutcomeKind::Redirected,
        (408, _) | (500..=599, _) => OutcomeKind::ServerUnavailable,
        _ => OutcomeKind::ClientError,
    };
    Outcome { kind, status, code, retry_after_ms, server_date }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> Response {
        Response::new(status, body.as_bytes().to_vec())
    }

    #[test]
    fn table() {
        let cases = [
            (200, "", OutcomeKind::Ok),
            (204, "", OutcomeKind::Ok),
            (401, r#"{"error":"stora_reconnect_required"}"#, OutcomeKind::ReconnectRequired),
            (401, r#"{"error":"broker_token_invalid"}"#, OutcomeKind::ReconnectRequired),
            (401, r#"{"type":"about:blank","code":"installation_disabled"}"#, OutcomeKind::ReconnectRequired),
            (401, r#"{"error":"signature_invalid"}"#, OutcomeKind::RegistrationInvalid),
            (401, r#"{"error":"unknown_installation"}"#, OutcomeKind::RegistrationInvalid),
            (401, r#"{"error":"signature_expired"}"#, OutcomeKind::SignatureExpired),
            (401, "not json", OutcomeKind::ClientError),
            (429, "", OutcomeKind::RateLimited),
            (404, r#"{"error":"not_found"}"#, OutcomeKind::ClientError),
            (408, "", OutcomeKind::ServerUnavailable),
            (503, "<html>", OutcomeKind::ServerUnavailable),
            (302, "", OutcomeKind::Redirected),
            (307, r#"{"error":"moved"}"#, OutcomeKind::Redirected),
            (199, "", OutcomeKind::ClientError),
        ];
        for (status, body, kind) in cases {
            assert_eq!(classify(&resp(status, body), 0).kind, kind, "{status} {body}");
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3", 0), Some(3000));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770), Some(7000));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_800), Some(0));
        assert_eq!(parse_retry_after("99999999999", 0), None);
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("9999999999", 0), Some(MAX_RETRY_AFTER_MS));
        let r = Response::new(429, vec![]).with_header("Retry-After", "2");
        assert_eq!(classify(&r, 0).retry_after_ms, Some(2000));
        assert_eq!(fmt_http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        // Against the server's Date, whatever the local clock says.
        let r = Response::new(429, vec![])
            .with_header("Retry-After", "Sun, 06 Nov 1994 08:49:47 GMT")
            .with_header("Date", "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(classify(&r, 0).retry_after_ms, Some(10_000));
    }
}

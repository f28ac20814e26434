//! Maps any broker response to one outcome (docs/PROTOCOL.md §8.3).

use crate::error::{Error, Explanation, sanitize_code};
use crate::http::Response;
use crate::json::Value;

/// Largest body inspected for an error code.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Longest description kept, in characters (the mark `…` included).
pub const MAX_DESCRIPTION_CHARS: usize = 512;
/// Longest `details` text kept, in bytes (the mark `…` included).
pub const MAX_DETAILS_BYTES: usize = 2048;
/// Longest `Retry-After` taken at face value (one day).
const MAX_RETRY_AFTER_MS: u64 = 86_400_000;
/// A `RateLimit-Reset` at or above this is an absolute time (unix seconds,
/// as Stora documents it); below it, a delay in seconds (the IETF draft's
/// form). 1,000,000,000 is 2001-09-09: no delay is that long, and no reset
/// time that early.
const RESET_ABSOLUTE_FROM: i64 = 1_000_000_000;

/// The response header with which a broker says who produced its answer:
/// `stora` for Stora's own answer passed through, `broker` for the broker's.
pub const ORIGIN_HEADER: &str = "tessera-origin";

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
    /// Stora's `api_error` (documented as 400): an internal or third-party
    /// failure at Stora, not a fault of the request.
    UpstreamFailed,
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
            OutcomeKind::UpstreamFailed => "upstream_failed",
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
    /// The error code, sanitised: Stora's nested `error.code`, the broker's
    /// `error` member, or an RFC 9457 `code`.
    pub code: Option<String>,
    /// For 429: the delay in milliseconds from `Retry-After`, else from
    /// `RateLimit-Reset`, when given.
    pub retry_after_ms: Option<u64>,
    /// The broker's `Date`, unix seconds, when given and valid.
    pub server_date: Option<i64>,
    /// Stora's `error.request_id`, sanitised: what a plugin quotes to support.
    pub request_id: Option<String>,
    /// The broker marked the answer as Stora's own (`Tessera-Origin: stora`).
    pub from_stora: bool,
    /// The explanation: the broker's `error_description` or Stora's
    /// `error.message`; control characters dropped, at most
    /// [`MAX_DESCRIPTION_CHARS`] (a longer one ends in `…`).
    pub description: Option<String>,
    /// Stora's `error.details` as compact JSON text, control characters
    /// dropped from its strings; at most [`MAX_DETAILS_BYTES`] (a longer one
    /// is cut on a character boundary and ends in `…`, so is no longer JSON).
    pub details: Option<String>,
}

impl Outcome {
    /// Stora answered an error itself: [`Error::UpstreamFailed`].
    fn upstream_failed(&self, attempts: u32) -> Error {
        Error::UpstreamFailed {
            status: self.status,
            code: self.code.clone().unwrap_or_else(|| format!("http_{}", self.status)),
            request_id: self.request_id.clone(),
            attempts,
        }
    }

    /// The error this outcome surfaces as when it ends a call (`None` for Ok).
    pub fn to_error(&self, attempts: u32) -> Option<Error> {
        let reason = || self.code.clone().unwrap_or_else(|| format!("http_{}", self.status));
        Some(match self.kind {
            OutcomeKind::Ok => return None,
            OutcomeKind::ReconnectRequired => Error::ReconnectRequired { reason: reason() },
            OutcomeKind::RegistrationInvalid => Error::RegistrationInvalid { reason: reason() },
            OutcomeKind::RateLimited => Error::RateLimited { retry_after_ms: self.retry_after_ms.unwrap_or(0) },
            OutcomeKind::Redirected => Error::Redirected { status: Some(self.status) },
            OutcomeKind::ServerUnavailable if self.from_stora => self.upstream_failed(attempts),
            OutcomeKind::ServerUnavailable => Error::ServerUnavailable { status: Some(self.status), attempts },
            OutcomeKind::UpstreamFailed => self.upstream_failed(attempts),
            OutcomeKind::SignatureExpired | OutcomeKind::ClientError => Error::ClientError {
                status: self.status,
                reason: reason(),
                request_id: self.request_id.clone(),
                explanation: Explanation::boxed(self.description.clone(), self.details.clone()),
            },
        })
    }
}

/// Reads the error code from a JSON error body: Stora's nested
/// `{"error": {"code": …}}`, a broker's `{"error": "…"}`, or RFC 9457's
/// top-level `code`.
pub fn error_code(body: &[u8]) -> Option<String> {
    error_fields(body).code
}

/// What a JSON error body says, each part sanitised and bounded.
#[derive(Default)]
struct ErrorFields {
    code: Option<String>,
    request_id: Option<String>,
    description: Option<String>,
    details: Option<String>,
}

/// The error code, Stora's `error.request_id`, the explanation and Stora's
/// `error.details` of a JSON error body. An object `error` is Stora's nested
/// form (its members only); otherwise a string `error` (with the broker's
/// `error_description`), else a string top-level `code`. A body that is not
/// JSON gives nothing: it is never kept, as it may echo anything.
fn error_fields(body: &[u8]) -> ErrorFields {
    if body.is_empty() || body.len() > MAX_ERROR_BODY {
        return ErrorFields::default();
    }
    let Ok(value) = crate::json::parse(body) else {
        return ErrorFields::default();
    };
    fn member<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
        v.get(name).ok().flatten()
    }
    let text = |v: &Value, name: &str| member(v, name).and_then(Value::as_str).map(sanitize_code);
    let prose = |v: &Value, name: &str| member(v, name).and_then(Value::as_str).and_then(description);
    match value.get("error").ok().flatten() {
        Some(nested @ Value::Object(_)) => ErrorFields {
            code: text(nested, "code"),
            request_id: text(nested, "request_id").filter(|id| id.as_str() != "unknown"),
            description: prose(nested, "message"),
            details: member(nested, "details").and_then(details),
        },
        Some(Value::String(code)) => ErrorFields {
            code: Some(sanitize_code(code)),
            description: prose(&value, "error_description"),
            ..ErrorFields::default()
        },
        _ => ErrorFields { code: text(&value, "code"), ..ErrorFields::default() },
    }
}

/// A character an explanation never keeps: a control character (C0, DEL,
/// C1) or a bidirectional override or isolate (which could reorder what a
/// log or a terminal shows).
fn is_dropped(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A description without dropped characters, at most
/// [`MAX_DESCRIPTION_CHARS`]; `None` when nothing is left.
fn description(raw: &str) -> Option<String> {
    let clean: String = raw.chars().filter(|&c| !is_dropped(c)).collect();
    if clean.is_empty() {
        return None;
    }
    if clean.chars().count() <= MAX_DESCRIPTION_CHARS {
        return Some(clean);
    }
    let mut cut: String = clean.chars().take(MAX_DESCRIPTION_CHARS - 1).collect();
    cut.push('…');
    Some(cut)
}

/// `value` as compact JSON (numbers as their source text, members in
/// document order), control characters dropped from its strings and keys,
/// at most [`MAX_DETAILS_BYTES`]; `None` for `null`, `[]` and `{}` (Stora
/// sends `"details": []` when it has none).
fn details(value: &Value) -> Option<String> {
    match value {
        Value::Null => return None,
        Value::Array(items) if items.is_empty() => return None,
        Value::Object(members) if members.is_empty() => return None,
        _ => {}
    }
    let mut out = String::new();
    write_compact(&mut out, value);
    if out.len() <= MAX_DETAILS_BYTES {
        return Some(out);
    }
    let mut end = MAX_DETAILS_BYTES - '…'.len_utf8();
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    out.push('…');
    Some(out)
}

/// Appends `value` as compact JSON, dropping [`is_dropped`] characters from strings.
fn write_compact(out: &mut String, value: &Value) {
    let string = |out: &mut String, s: &str| {
        let clean: String = s.chars().filter(|&c| !is_dropped(c)).collect();
        crate::json::write_str(out, &clean);
    };
    crate::json::write_value_with(out, value, &string);
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

/// `RateLimit-Reset` as an absolute time (unix seconds, Stora's form) or,
/// below [`RESET_ABSOLUTE_FROM`], delay-seconds; relative to `now`, capped at a day.
pub fn parse_ratelimit_reset(value: &str, now: i64) -> Option<u64> {
    let v = value.trim();
    if v.len() > 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = v.parse().ok()?; // and an empty value is refused here
    let secs = if n >= RESET_ABSOLUTE_FROM { n.saturating_sub(now).max(0) } else { n };
    Some((secs as u64).saturating_mul(1000).min(MAX_RETRY_AFTER_MS))
}

/// Classifies `resp` at time `now` (unix seconds; the step machine passes
/// its clock corrected by the learned offset).
pub fn classify(resp: &Response, now: i64) -> Outcome {
    let status = resp.status;
    let fields = if (200..300).contains(&status) { ErrorFields::default() } else { error_fields(&resp.body) };
    let ErrorFields { code, request_id, description, details } = fields;
    let server_date = resp.header("date").and_then(parse_http_date);
    // Times in Retry-After and RateLimit-Reset are the server side's clock:
    // measured against the broker's own Date when there is one, so local
    // skew cannot distort them (Stora's and the broker's clocks are both
    // servers' clocks; the plugin's is the one that drifts).
    let clock = server_date.unwrap_or(now);
    let retry_after_ms = if status == 429 {
        resp.header("retry-after")
            .and_then(|v| parse_retry_after(v, clock))
            .or_else(|| resp.header("ratelimit-reset").and_then(|v| parse_ratelimit_reset(v, clock)))
    } else {
        None
    };
    let from_stora = resp.header(ORIGIN_HEADER).is_some_and(|v| v.trim().eq_ignore_ascii_case("stora"));
    let kind = match (status, code.as_deref()) {
        (200..=299, _) => OutcomeKind::Ok,
        (401 | 403, Some("stora_reconnect_required" | "broker_token_invalid" | "installation_disabled")) => {
            OutcomeKind::ReconnectRequired
        }
        (401, Some("signature_invalid" | "unknown_installation")) => OutcomeKind::RegistrationInvalid,
        (401, Some("signature_expired")) => OutcomeKind::SignatureExpired,
        (429, _) => OutcomeKind::RateLimited,
        // A timeout is one whatever its body says (found by fuzzing: a 408
        // carrying Stora's `api_error` body was `upstream_failed`).
        (408, _) | (500..=599, _) => OutcomeKind::ServerUnavailable,
        (400..=499, Some("api_error")) => OutcomeKind::UpstreamFailed,
        (300..=399, _) => OutcomeKind::Redirected,
        _ => OutcomeKind::ClientError,
    };
    Outcome { kind, status, code, retry_after_ms, server_date, request_id, from_stora, description, details }
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

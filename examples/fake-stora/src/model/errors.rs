//! Stora's documented API errors and the answer type of the API layer.
//!
//! Every error under `/2025-09/` has the nested body
//! `{"error":{"code","type","message","details","links","request_id"}}`.
//! The `type` member follows a fixed mapping chosen by the fake (Stora's
//! documentation names the member but not the full table): `api_error` for
//! the `api_error` code and for every 5xx, `invalid_request_error` otherwise.

use serde_json::{Value, json};

/// A documented Stora API error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// `invalid_request` (400): malformed request, e.g. a body that is not JSON.
    InvalidRequest,
    /// `api_error` (400): Stora could not process an otherwise valid request.
    ApiError,
    /// `invalid_token` (401): missing, unknown, revoked or expired token.
    InvalidToken,
    /// `forbidden` (403): the grant lacks the route's scope.
    Forbidden,
    /// `resource_not_found` (404): unknown order, contact or event.
    ResourceNotFound,
    /// `invalid_endpoint` (404): unknown route or method.
    InvalidEndpoint,
    /// `invalid_format` (406): the `Accept` header excludes JSON.
    InvalidFormat,
    /// `conflict` (409): an `Idempotency-Key` reused for another request.
    Conflict,
    /// `invalid_url_param` (422): a bad query parameter.
    InvalidUrlParam,
    /// `invalid_content` (422): a body field fails validation.
    InvalidContent,
    /// `too_many_requests` (429): rate limit reached.
    TooManyRequests,
    /// `internal_server_error` (500).
    InternalServerError,
}

impl ErrorCode {
    /// Every documented code.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::InvalidRequest,
        ErrorCode::ApiError,
        ErrorCode::InvalidToken,
        ErrorCode::Forbidden,
        ErrorCode::ResourceNotFound,
        ErrorCode::InvalidEndpoint,
        ErrorCode::InvalidFormat,
        ErrorCode::Conflict,
        ErrorCode::InvalidUrlParam,
        ErrorCode::InvalidContent,
        ErrorCode::TooManyRequests,
        ErrorCode::InternalServerError,
    ];

    /// The code as sent in `error.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::ApiError => "api_error",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::ResourceNotFound => "resource_not_found",
            ErrorCode::InvalidEndpoint => "invalid_endpoint",
            ErrorCode::InvalidFormat => "invalid_format",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InvalidUrlParam => "invalid_url_param",
            ErrorCode::InvalidContent => "invalid_content",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::InternalServerError => "internal_server_error",
        }
    }

    /// The documented HTTP status of the code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest | ErrorCode::ApiError => 400,
            ErrorCode::InvalidToken => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::ResourceNotFound | ErrorCode::InvalidEndpoint => 404,
            ErrorCode::InvalidFormat => 406,
            ErrorCode::Conflict => 409,
            ErrorCode::InvalidUrlParam | ErrorCode::InvalidContent => 422,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::InternalServerError => 500,
        }
    }

    /// Parses a code name (`"api_error"`, ...).
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// The code the fake uses for an injected status without a code: the
    /// documented code of that status (`invalid_request` for 400,
    /// `resource_not_found` for 404, `invalid_content` for 422), else
    /// `internal_server_error` for 5xx and `invalid_request` for anything else.
    pub fn for_status(status: u16) -> ErrorCode {
        match status {
            400 => ErrorCode::InvalidRequest,
            404 => ErrorCode::ResourceNotFound,
            422 => ErrorCode::InvalidContent,
            500..=599 => ErrorCode::InternalServerError,
            s => ErrorCode::ALL.into_iter().find(|c| c.status() == s).unwrap_or(ErrorCode::InvalidRequest),
        }
    }
}

/// `type` member for a code sent with `status` (see the module doc).
pub fn error_type(code: &str, status: u16) -> &'static str {
    if code == "api_error" || status >= 500 { "api_error" } else { "invalid_request_error" }
}

/// A fresh request id: `req_` and 24 lowercase hex digits.
pub fn request_id() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("OS randomness");
    let mut id = String::from("req_");
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// What the API layer answers.
#[derive(Clone, Debug)]
pub struct ApiAnswer {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// Extra headers (lowercase names).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiAnswer {
    /// A JSON answer.
    pub fn json(status: u16, body: Value) -> Self {
        ApiAnswer { status, body, headers: Vec::new() }
    }

    /// A documented error with its status. The `request_id` member stays
    /// `null` until [`ApiAnswer::finish`].
    pub fn error(code: ErrorCode, message: &str) -> Self {
        Self::coded(code.status(), code.as_str(), message)
    }

    /// An error with an explicit status and code name.
    pub fn coded(status: u16, code: &str, message: &str) -> Self {
        Self::json(
            status,
            json!({"error": {
                "code": code,
                "type": error_type(code, status),
                "message": message,
                "details": [],
                "links": [],
                "request_id": null,
            }}),
        )
    }

    /// Replaces the `details` list of an error body.
    pub fn with_details(mut self, details: Vec<Value>) -> Self {
        if let Some(error) = self.body.get_mut("error").and_then(Value::as_object_mut) {
            error.insert("details".into(), Value::Array(details));
        }
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The `error.code` of an error answer.
    pub fn code(&self) -> Option<&str> {
        self.body.get("error").and_then(|e| e.get("code")).and_then(Value::as_str)
    }

    /// Fills a `null` `error.request_id` (a stored body keeps its own).
    pub fn finish(mut self, request_id: &str) -> Self {
        if let Some(error) = self.body.get_mut("error").and_then(Value::as_object_mut)
            && error.get("request_id").is_some_and(Value::is_null)
        {
            error.insert("request_id".into(), Value::String(request_id.to_string()));
        }
        self
    }
}

/// One `details` entry: `{"field": .., "issue": ..}`.
pub fn detail(field: &str, issue: &str) -> Value {
    json!({"field": field, "issue": issue})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_map_types() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::for_status(503), ErrorCode::InternalServerError);
        assert_eq!(ErrorCode::for_status(409), ErrorCode::Conflict);
        assert_eq!(error_type("api_error", 400), "api_error");
        assert_eq!(error_type("internal_server_error", 500), "api_error");
        assert_eq!(error_type("conflict", 409), "invalid_request_error");
    }

    #[test]
    fn finish_fills_request_id_once() {
        let id = request_id();
        assert!(id.starts_with("req_") && id.len() == 28 && id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
        let a = ApiAnswer::error(ErrorCode::Conflict, "x").finish(&id);
        assert_eq!(a.body["error"]["request_id"], id.as_str());
        let again = a.finish("req_other");
        assert_eq!(again.body["error"]["request_id"], id.as_str(), "a stored body keeps its id");
    }
}

//! The one error type of Tessera, with a stable machine-readable code per variant.
//!
//! Every binding maps [`Error`] in one place: JavaScript gets a `TesseraError`
//! with `.code` = [`Error::code`], PHP gets the `Tessera\Exception\…` class for
//! [`Error::kind`]. Messages ([`std::fmt::Display`]) are for people and never
//! contain a secret, a broker token or a Stora token: variants only carry codes,
//! statuses, field names and URLs the host already knows.

use std::fmt;

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Coarse family of an [`Error`]; bindings map each family to exactly one
/// exception class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument is malformed: URL, email, header, method, size, encoding.
    InvalidInput,
    /// The operation does not fit the installation's state (not registered,
    /// not connected, corrupt or unsupported state JSON, …).
    InvalidState,
    /// A sealed state blob does not open with the given key.
    StateUndecryptable,
    /// The operator must run the connect flow again.
    ReconnectRequired,
    /// The broker no longer accepts this installation's registration.
    RegistrationInvalid,
    /// The broker (or Stora behind it) asked us to slow down.
    RateLimited,
    /// The broker refused the request with a 4xx that retrying will not fix.
    ClientError,
    /// The broker stayed unavailable (5xx, 408, transport errors) after
    /// retries, or Stora itself failed (`upstream_failed`).
    ServerUnavailable,
    /// The connect callback was refused (wrong/expired state, denied, malformed).
    Callback,
    /// The site URL no longer matches the registered one.
    SiteMismatch,
    /// Broker side: an incoming signature, URL signature or proof did not verify.
    Verification,
    /// A bug in Tessera; never expected.
    Internal,
}

impl ErrorKind {
    /// Stable snake_case name of the family.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::InvalidState => "invalid_state",
            ErrorKind::StateUndecryptable => "state_undecryptable",
            ErrorKind::ReconnectRequired => "reconnect_required",
            ErrorKind::RegistrationInvalid => "registration_invalid",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ClientError => "client_error",
            ErrorKind::ServerUnavailable => "server_unavailable",
            ErrorKind::Callback => "callback",
            ErrorKind::SiteMismatch => "site_mismatch",
            ErrorKind::Verification => "verification",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong, plugin side and broker side.
///
/// Match on [`Error::code`] (stable strings) or [`Error::kind`] rather than on
/// variants: the enum is `#[non_exhaustive]` and grows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- input ---------------------------------------------------------
    /// A URL is malformed or outside the profile (`field` names which one).
    #[error("invalid URL in `{field}`: {reason}")]
    InvalidUrl {
        /// The argument or field that held the URL.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The broker URL is plain HTTP to a non-loopback host.
    #[error("the broker URL must use https (plain http is allowed only for loopback hosts)")]
    InsecureBrokerUrl,
    /// Any other malformed argument.
    #[error("invalid `{field}`: {reason}")]
    InvalidInput {
        /// The argument or field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An input exceeds a fixed bound (body, header, URL, state blob, header count).
    #[error("`{field}` is too large (limit {limit})")]
    TooLarge {
        /// The argument or field.
        field: &'static str,
        /// The bound: bytes, or entries for `headers` counts.
        limit: usize,
    },

    // ---- state ---------------------------------------------------------
    /// The operation needs a registered installation.
    #[error("the installation is not registered")]
    NotRegistered,
    /// The operation needs a broker token (connect first).
    #[error("the installation is not connected")]
    NotConnected,
    /// The operation does not fit the current state.
    #[error("invalid state: {0}")]
    InvalidState(&'static str),
    /// State JSON could not be parsed.
    #[error("state is corrupt: {0}")]
    StateCorrupt(String),
    /// State JSON has a version this build does not know.
    #[error("state version {found} is not supported (this build reads up to {supported})")]
    StateVersionUnsupported {
        /// Version in the blob.
        found: u64,
        /// Highest version this build reads.
        supported: u64,
    },
    /// A sealed blob failed to open (wrong key, tampered, truncated, not a blob).
    #[error("the sealed state cannot be opened with this key")]
    StateUndecryptable,

    // ---- broker outcomes (plugin side) -----------------------------------
    /// The operator must reconnect; `reason` is the broker's code.
    #[error("reconnect required ({reason})")]
    ReconnectRequired {
        /// `stora_reconnect_required`, `broker_token_invalid` or `installation_disabled`.
        reason: String,
    },
    /// The broker does not accept this installation's registration any more.
    #[error("the registration is no longer valid ({reason}); register again")]
    RegistrationInvalid {
        /// The broker's code (`signature_invalid`, `unknown_installation`, …).
        reason: String,
    },
    /// The broker already knows this installation id (409).
    #[error("the broker already has this installation (409)")]
    RegistrationConflict,
    /// The broker refused the registration (other 4xx).
    #[error("the broker refused the registration (status {status}, {reason})")]
    RegistrationRejected {
        /// HTTP status.
        status: u16,
        /// The broker's code, or `http_<status>`.
        reason: String,
    },
    /// Too many requests; retry after the given delay.
    #[error("rate limited; retry after {retry_after_ms} ms")]
    RateLimited {
        /// Delay the broker asked for, in milliseconds (0 when it gave none).
        retry_after_ms: u64,
    },
    /// A 4xx the plugin must not retry (from the broker, or from Stora: relayed
    /// by the broker, or answered directly in proxy mode).
    #[error(
        "the request was refused (status {status}, {reason}{}){}",
        request_suffix(request_id),
        description_suffix(explanation)
    )]
    ClientError {
        /// HTTP status.
        status: u16,
        /// The error code (the broker's, or Stora's nested `error.code`), or `http_<status>`.
        reason: String,
        /// Stora's `request_id`, when Stora answered.
        request_id: Option<String>,
        /// The broker's or Stora's explanation, when the error body gave one
        /// (boxed: it is rare, and keeps every `Error` small).
        explanation: Option<Box<Explanation>>,
    },
    /// The broker answered with a redirect (3xx), or the host's HTTP stack
    /// stopped at one it did not follow. A signed request is never
    /// redirected: this ends the operation without a retry.
    #[error("the broker answered with a redirect{}; signed requests are never redirected", status.map(|s| format!(" (status {s})")).unwrap_or_default())]
    Redirected {
        /// The 3xx status, when the host's HTTP stack showed it.
        status: Option<u16>,
    },
    /// 5xx / 408 / transport failures persisted through the retry budget.
    #[error("the broker is unavailable after {attempts} attempt(s){}", status.map(|s| format!(" (last status {s})")).unwrap_or_default())]
    ServerUnavailable {
        /// Last HTTP status seen, if any.
        status: Option<u16>,
        /// Attempts made.
        attempts: u32,
    },

    /// Stora itself answered with a failure: its `api_error` (an internal or
    /// third-party failure), or a 5xx the broker marked as Stora's
    /// (`Tessera-Origin: stora`). A POST is not sent again: Stora stores the
    /// first answer to an `Idempotency-Key` for 24 hours, failures included,
    /// so a retry with the same key only replays this answer.
    #[error(
        "Stora could not complete the request (status {status}, {code}{}) after {attempts} attempt(s)",
        request_suffix(request_id)
    )]
    UpstreamFailed {
        /// HTTP status.
        status: u16,
        /// Stora's error code, or `http_<status>`.
        code: String,
        /// Stora's `request_id`, to quote to Stora's support.
        request_id: Option<String>,
        /// Attempts made.
        attempts: u32,
    },
    /// Proxy mode, plugin side: the host could not take the installation's
    /// refresh lock in time (another request is refreshing the tokens).
    #[error("could not take the installation's refresh lock")]
    LockUnavailable,
    /// The broker answered 2xx with a body that breaks the documented shape
    /// (an events page, docs/PROTOCOL.md §14.3): nothing of it is used and
    /// the installation's state is unchanged.
    #[error("the broker's answer is malformed: {0}")]
    ResponseInvalid(&'static str),

    // ---- connect callback --------------------------------------------------
    /// The callback's `state` does not match the pending connect.
    #[error("the callback state does not match the pending connect")]
    CallbackStateMismatch,
    /// The pending connect is older than its 10-minute lifetime.
    #[error("the connect attempt expired; start it again")]
    CallbackExpired,
    /// The broker reported an error (`error=` in the callback).
    #[error("the connect was not completed: {code}")]
    CallbackDenied {
        /// The `error` parameter (e.g. `access_denied`), sanitised.
        code: String,
    },
    /// The callback URL is malformed or lacks a field.
    #[error("the callback is malformed: {0}")]
    CallbackInvalid(&'static str),

    // ---- site identity -------------------------------------------------------
    /// The site URL changed since registration; the host must resolve it.
    #[error("the site URL changed from {registered} to {current}; choose \"this is a copy\" or \"the site moved\"")]
    SiteMismatch {
        /// URL at registration.
        registered: String,
        /// URL the host reports now.
        current: String,
    },

    // ---- verification (broker side) ------------------------------------------
    /// No `Signature-Input`/`Signature` with the `tessera` label.
    #[error("the request carries no tessera signature")]
    SignatureMissing,
    /// The signature fields are malformed or outside the profile.
    #[error("the signature is malformed: {0}")]
    SignatureMalformed(&'static str),
    /// The MAC does not match (wrong key, altered component).
    #[error("the signature does not verify")]
    SignatureInvalid,
    /// `created` outside the window or `expires` in the past.
    #[error("the signature is outside its time window")]
    SignatureExpired,
    /// The nonce was already used.
    #[error("the request was already seen (replay)")]
    Replayed,
    /// `Content-Digest` does not match the body.
    #[error("the content digest does not match the body")]
    DigestMismatch,
    /// The keyid names no installation the broker knows.
    #[error("unknown installation")]
    UnknownInstallation,
    /// The replay store is full of live entries; the request is refused (fail closed).
    #[error("the replay store is full")]
    ReplayStoreFull,
    /// An ownership proof did not match.
    #[error("the ownership proof does not match")]
    OwnershipProofInvalid,

    // ---- authorization proxy (docs/PROTOCOL.md §13) ---------------------------
    /// The proxy state of a callback is malformed, does not verify, or is not
    /// bound to this browser (`proxy_state_invalid`, 400).
    #[error("the proxy state is invalid: {0}")]
    ProxyStateInvalid(&'static str),
    /// The proxy state's lifetime (10 minutes) is over (`proxy_state_expired`, 400).
    #[error("the connect attempt expired at the proxy; start it again")]
    ProxyStateExpired,
    /// A code context is malformed or does not verify (`code_context_invalid`, 400).
    #[error("the code context is invalid")]
    CodeContextInvalid,
    /// A code context's lifetime (5 minutes) is over (`code_context_expired`, 400).
    #[error("the code context expired; start the connect again")]
    CodeContextExpired,
    /// A code context was issued for another installation, return URL, state
    /// or code (`code_context_mismatch`, 400).
    #[error("the code context does not match this code exchange")]
    CodeContextMismatch,

    /// A bug in Tessera.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl Error {
    /// Stable machine-readable code. Never changes for a given variant.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidUrl { .. } => "invalid_url",
            Error::InsecureBrokerUrl => "insecure_broker_url",
            Error::InvalidInput { .. } => "invalid_input",
            Error::TooLarge { .. } => "too_large",
            Error::NotRegistered => "not_registered",
            Error::NotConnected => "not_connected",
            Error::InvalidState(_) => "invalid_state",
            Error::StateCorrupt(_) => "state_corrupt",
            Error::StateVersionUnsupported { .. } => "state_version_unsupported",
            Error::StateUndecryptable => "state_undecryptable",
            Error::ReconnectRequired { .. } => "reconnect_required",
            Error::RegistrationInvalid { .. } => "registration_invalid",
            Error::RegistrationConflict => "registration_conflict",
            Error::RegistrationRejected { .. } => "registration_rejected",
            Error::RateLimited { .. } => "rate_limited",
            Error::ClientError { .. } => "client_error",
            Error::Redirected { .. } => "redirected",
            Error::ServerUnavailable { .. } => "server_unavailable",
            Error::UpstreamFailed { .. } => "upstream_failed",
            Error::LockUnavailable => "lock_unavailable",
            Error::ResponseInvalid(_) => "response_invalid",
            Error::CallbackStateMismatch => "callback_state_mismatch",
            Error::CallbackExpired => "callback_expired",
            Error::CallbackDenied { .. } => "callback_denied",
            Error::CallbackInvalid(_) => "callback_invalid",
            Error::SiteMismatch { .. } => "site_mismatch",
            Error::SignatureMissing => "signature_missing",
            Error::SignatureMalformed(_) => "signature_malformed",
            Error::SignatureInvalid => "signature_invalid",
            Error::SignatureExpired => "signature_expired",
            Error::Replayed => "replayed",
            Error::DigestMismatch => "digest_mismatch",
            Error::UnknownInstallation => "unknown_installation",
            Error::ReplayStoreFull => "replay_store_full",
            Error::OwnershipProofInvalid => "ownership_proof_invalid",
            Error::ProxyStateInvalid(_) => "proxy_state_invalid",
            Error::ProxyStateExpired => "proxy_state_expired",
            Error::CodeContextInvalid => "code_context_invalid",
            Error::CodeContextExpired => "code_context_expired",
            Error::CodeContextMismatch => "code_context_mismatch",
            Error::Internal(_) => "internal",
        }
    }

    /// The family this error belongs to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidUrl { .. }
            | Error::InsecureBrokerUrl
            | Error::InvalidInput { .. }
            | Error::TooLarge { .. } => ErrorKind::InvalidInput,
            Error::NotRegistered
            | Error::NotConnected
            | Error::InvalidState(_)
            | Error::StateCorrupt(_)
            | Error::StateVersionUnsupported { .. } => ErrorKind::InvalidState,
            Error::StateUndecryptable => ErrorKind::StateUndecryptable,
            Error::ReconnectRequired { .. } => ErrorKind::ReconnectRequired,
            Error::RegistrationInvalid { .. } | Error::RegistrationConflict | Error::RegistrationRejected { .. } => {
                ErrorKind::RegistrationInvalid
            }
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::ClientError { .. } | Error::Redirected { .. } => ErrorKind::ClientError,
            Error::ServerUnavailable { .. }
            | Error::UpstreamFailed { .. }
            | Error::LockUnavailable
            | Error::ResponseInvalid(_) => ErrorKind::ServerUnavailable,
            Error::CallbackStateMismatch
            | Error::CallbackExpired
            | Error::CallbackDenied { .. }
            | Error::CallbackInvalid(_) => ErrorKind::Callback,
            Error::SiteMismatch { .. } => ErrorKind::SiteMismatch,
            Error::SignatureMissing
            | Error::SignatureMalformed(_)
            | Error::SignatureInvalid
            | Error::SignatureExpired
            | Error::Replayed
            | Error::DigestMismatch
            | Error::UnknownInstallation
            | Error::ReplayStoreFull
            | Error::OwnershipProofInvalid
            | Error::ProxyStateInvalid(_)
            | Error::ProxyStateExpired
            | Error::CodeContextInvalid
            | Error::CodeContextExpired
            | Error::CodeContextMismatch => ErrorKind::Verification,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// For [`Error::RateLimited`]: how long to wait, in milliseconds.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Error::RateLimited { retry_after_ms } => Some(*retry_after_ms),
            _ => None,
        }
    }

    /// The HTTP status behind the error, when there is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::ClientError { status, .. }
            | Error::RegistrationRejected { status, .. }
            | Error::UpstreamFailed { status, .. } => Some(*status),
            Error::ServerUnavailable { status, .. } | Error::Redirected { status } => *status,
            Error::RegistrationConflict => Some(409),
            Error::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// The code behind the error (reconnect reason, 4xx code, callback error,
    /// Stora's code of an `upstream_failed`), if any.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Error::ReconnectRequired { reason }
            | Error::RegistrationInvalid { reason }
            | Error::RegistrationRejected { reason, .. }
            | Error::ClientError { reason, .. } => Some(reason),
            Error::CallbackDenied { code } | Error::UpstreamFailed { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The broker's or Stora's explanation of a [`Error::ClientError`]
    /// (sanitised and bounded), when the error body gave one.
    pub fn description(&self) -> Option<&str> {
        match self {
            Error::ClientError { explanation: Some(e), .. } => e.description.as_deref(),
            _ => None,
        }
    }

    /// Stora's `error.details` of a [`Error::ClientError`], as compact JSON
    /// text (bounded: a cut one ends in `…` and does not parse).
    pub fn details(&self) -> Option<&str> {
        match self {
            Error::ClientError { explanation: Some(e), .. } => e.details.as_deref(),
            _ => None,
        }
    }

    /// Stora's `request_id` behind the error, when Stora answered it: what a
    /// plugin quotes to Stora's support.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::ClientError { request_id, .. } | Error::UpstreamFailed { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// For broker-side verification errors: the HTTP status and `error` code a
    /// broker answers with (`signature_invalid`, `signature_expired`,
    /// `replayed`, `unknown_installation`, `signature_missing`,
    /// `signature_malformed`, `digest_mismatch`, …).
    pub fn wire_code(&self) -> (u16, &'static str) {
        match self {
            Error::SignatureExpired => (401, "signature_expired"),
            Error::Replayed => (401, "replayed"),
            Error::UnknownInstallation => (401, "unknown_installation"),
            Error::ReplayStoreFull => (503, "replay_store_full"),
            Error::OwnershipProofInvalid => (403, "ownership_proof_invalid"),
            // Only a MAC mismatch says "this registration's key is wrong" (the
            // plugin re-registers on it). A missing or malformed signature or a
            // body that no longer matches its digest is what a header-stripping
            // or body-rewriting proxy causes: distinct codes, no re-registration.
            Error::SignatureInvalid => (401, "signature_invalid"),
            Error::SignatureMissing => (401, "signature_missing"),
            Error::SignatureMalformed(_) => (401, "signature_malformed"),
            Error::DigestMismatch => (401, "digest_mismatch"),
            // The authorization proxy's own checks (docs/PROTOCOL.md §13): a
            // bad request, not a bad signature — no re-registration.
            Error::ProxyStateInvalid(_) => (400, "proxy_state_invalid"),
            Error::ProxyStateExpired => (400, "proxy_state_expired"),
            Error::CodeContextInvalid => (400, "code_context_invalid"),
            Error::CodeContextExpired => (400, "code_context_expired"),
            Error::CodeContextMismatch => (400, "code_context_mismatch"),
            e if e.kind() == ErrorKind::InvalidInput => (400, "invalid_request"),
            _ => (500, "internal"),
        }
    }
}

/// `, request <id>` for messages, when there is a request id.
fn request_suffix(request_id: &Option<String>) -> String {
    request_id.as_ref().map(|id| format!(", request {id}")).unwrap_or_default()
}

/// The explanation an error body gave with a client error, cleaned and
/// bounded by [`crate::classify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The broker's `error_description` or Stora's `error.message`, control
    /// and bidi characters dropped, at most 512 characters (a cut one ends in `…`).
    pub description: Option<String>,
    /// Stora's `error.details` as compact JSON text, at most 2048 bytes (a cut
    /// one ends in `…` and no longer parses).
    pub details: Option<String>,
}

impl Explanation {
    /// `Some` when there is a description or details.
    pub fn boxed(description: Option<String>, details: Option<String>) -> Option<Box<Explanation>> {
        (description.is_some() || details.is_some()).then(|| Box::new(Explanation { description, details }))
    }
}

/// Longest description a message quotes, in characters.
const MESSAGE_DESCRIPTION_CHARS: usize = 160;

/// `: <description>` for messages, cut to [`MESSAGE_DESCRIPTION_CHARS`]
/// (the whole one stays on the error).
fn description_suffix(explanation: &Option<Box<Explanation>>) -> String {
    let Some(text) = explanation.as_ref().and_then(|e| e.description.as_ref()) else { return String::new() };
    if text.chars().count() <= MESSAGE_DESCRIPTION_CHARS {
        return format!(": {text}");
    }
    let cut: String = text.chars().take(MESSAGE_DESCRIPTION_CHARS - 1).collect();
    format!(": {cut}…")
}

/// Keeps broker-supplied codes printable, short and free of anything odd.
pub(crate) fn sanitize_code(raw: &str) -> String {
    let s: String =
        raw.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')).take(64).collect();
    if s.is_empty() { "unknown".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_snake_case() {
        let samples = [
            Error::NotRegistered,
            Error::ReconnectRequired { reason: "x".into() },
            Error::RateLimited { retry_after_ms: 5 },
            Error::SignatureExpired,
            Error::StateUndecryptable,
        ];
        for e in samples {
            assert!(e.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
        assert_eq!(Error::Replayed.code(), "replayed");
        assert_eq!(Error::DigestMismatch.wire_code(), (401, "digest_mismatch"));
        assert_eq!(Error::SignatureInvalid.wire_code(), (401, "signature_invalid"));
    }

    #[test]
    fn client_error_message_quotes_a_bounded_description() {
        let e = |description: Option<String>| Error::ClientError {
            status: 400,
            reason: "bad".into(),
            request_id: Some("req_1".into()),
            explanation: Explanation::boxed(description, Some("[1]".into())),
        };
        assert_eq!(e(None).to_string(), "the request was refused (status 400, bad, request req_1)");
        assert_eq!(e(Some("why".into())).to_string(), "the request was refused (status 400, bad, request req_1): why");
        let long = e(Some("é".repeat(MESSAGE_DESCRIPTION_CHARS + 1))).to_string();
        assert!(long.ends_with(&format!(": {}…", "é".repeat(MESSAGE_DESCRIPTION_CHARS - 1))), "{long}");
        let exact = e(Some("é".repeat(MESSAGE_DESCRIPTION_CHARS))).to_string();
        assert!(exact.ends_with(&format!(": {}", "é".repeat(MESSAGE_DESCRIPTION_CHARS))), "{exact}");
        assert_eq!(e(Some("why".into())).description(), Some("why"));
        assert_eq!(e(None).details(), Some("[1]"));
        assert_eq!(Error::NotRegistered.description(), None);
        assert_eq!(Error::NotRegistered.details(), None);
    }

    #[test]
    fn sanitize_drops_markup() {
        assert_eq!(sanitize_code("access_denied<script>"), "access_deniedscript");
        assert_eq!(sanitize_code("\u{1F600}"), "unknown");
    }
}

//! One enumerable table of every error code: the code, its family and the
//! HTTP status and `error` code a broker answers with.
//!
//! [`CODES`] has one row per [`Error`] variant, in the enum's order. Bindings
//! and their declarations (the npm package's `ErrorCode`/`ErrorKind` unions,
//! the PHP exception tables and `tessera.stub.php`) are checked against it in
//! CI: `cargo run -q -p tessera-core --example codes` prints it as JSON.

#[cfg(doc)]
use crate::error::Error;
use crate::error::ErrorKind;

/// One row of [`CODES`]: what [`Error::code`], [`Error::kind`] and
/// [`Error::wire_code`] give for one variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodeInfo {
    /// The stable code ([`Error::code`]).
    pub code: &'static str,
    /// Its family ([`Error::kind`]).
    pub kind: ErrorKind,
    /// The HTTP status a broker answers with ([`Error::wire_code`]'s first half).
    pub wire_status: u16,
    /// The `error` code a broker answers with ([`Error::wire_code`]'s second half).
    pub wire_code: &'static str,
}

/// A row; `const` so [`CODES`] stays a plain table.
const fn row(code: &'static str, kind: ErrorKind, wire_status: u16, wire_code: &'static str) -> CodeInfo {
    CodeInfo { code, kind, wire_status, wire_code }
}

use ErrorKind as K;

/// Every [`Error::code`], exactly once, in the order of the [`Error`] enum.
pub const CODES: &[CodeInfo] = &[
    row("invalid_url", K::InvalidInput, 400, "invalid_request"),
    row("insecure_broker_url", K::InvalidInput, 400, "invalid_request"),
    row("invalid_input", K::InvalidInput, 400, "invalid_request"),
    row("too_large", K::InvalidInput, 400, "invalid_request"),
    row("not_registered", K::InvalidState, 500, "internal"),
    row("not_connected", K::InvalidState, 500, "internal"),
    row("invalid_state", K::InvalidState, 500, "internal"),
    row("state_corrupt", K::InvalidState, 500, "internal"),
    row("state_version_unsupported", K::InvalidState, 500, "internal"),
    row("state_undecryptable", K::StateUndecryptable, 500, "internal"),
    row("reconnect_required", K::ReconnectRequired, 500, "internal"),
    row("registration_invalid", K::RegistrationInvalid, 500, "internal"),
    row("registration_conflict", K::RegistrationInvalid, 500, "internal"),
    row("registration_rejected", K::RegistrationInvalid, 500, "internal"),
    row("rate_limited", K::RateLimited, 500, "internal"),
    row("client_error", K::ClientError, 500, "internal"),
    row("redirected", K::ClientError, 500, "internal"),
    row("server_unavailable", K::ServerUnavailable, 500, "internal"),
    row("upstream_failed", K::ServerUnavailable, 500, "internal"),
    row("lock_unavailable", K::ServerUnavailable, 500, "internal"),
    row("response_invalid", K::ServerUnavailable, 500, "internal"),
    row("callback_state_mismatch", K::Callback, 500, "internal"),
    row("callback_expired", K::Callback, 500, "internal"),
    row("callback_denied", K::Callback, 500, "internal"),
    row("callback_invalid", K::Callback, 500, "internal"),
    row("site_mismatch", K::SiteMismatch, 500, "internal"),
    row("signature_missing", K::Verification, 401, "signature_missing"),
    row("signature_malformed", K::Verification, 401, "signature_malformed"),
    row("signature_invalid", K::Verification, 401, "signature_invalid"),
    row("signature_expired", K::Verification, 401, "signature_expired"),
    row("replayed", K::Verification, 401, "replayed"),
    row("digest_mismatch", K::Verification, 401, "digest_mismatch"),
    row("unknown_installation", K::Verification, 401, "unknown_installation"),
    row("replay_store_full", K::Verification, 503, "replay_store_full"),
    row("ownership_proof_invalid", K::Verification, 403, "ownership_proof_invalid"),
    row("proxy_state_invalid", K::Verification, 400, "proxy_state_invalid"),
    row("proxy_state_expired", K::Verification, 400, "proxy_state_expired"),
    row("code_context_invalid", K::Verification, 400, "code_context_invalid"),
    row("code_context_expired", K::Verification, 400, "code_context_expired"),
    row("code_context_mismatch", K::Verification, 400, "code_context_mismatch"),
    row("internal", K::Internal, 500, "internal"),
];

/// The row of `code`, or `None` for a string that is no [`Error::code`].
pub fn code_info(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|info| info.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    /// The position of `e`'s variant in the enum. No wildcard arm: a new
    /// variant does not compile until it gets an index here, and then
    /// [`table_has_one_row_per_variant`] fails until [`samples`] and
    /// [`CODES`] have its entry at that index.
    fn index(e: &Error) -> usize {
        match e {
            Error::InvalidUrl { .. } => 0,
            Error::InsecureBrokerUrl => 1,
            Error::InvalidInput { .. } => 2,
            Error::TooLarge { .. } => 3,
            Error::NotRegistered => 4,
            Error::NotConnected => 5,
            Error::InvalidState(_) => 6,
            Error::StateCorrupt(_) => 7,
            Error::StateVersionUnsupported { .. } => 8,
            Error::StateUndecryptable => 9,
            Error::ReconnectRequired { .. } => 10,
            Error::RegistrationInvalid { .. } => 11,
            Error::RegistrationConflict => 12,
            Error::RegistrationRejected { .. } => 13,
            Error::RateLimited { .. } => 14,
            Error::ClientError { .. } => 15,
            Error::Redirected { .. } => 16,
            Error::ServerUnavailable { .. } => 17,
            Error::UpstreamFailed { .. } => 18,
            Error::LockUnavailable => 19,
            Error::ResponseInvalid(_) => 20,
            Error::CallbackStateMismatch => 21,
            Error::CallbackExpired => 22,
            Error::CallbackDenied { .. } => 23,
            Error::CallbackInvalid(_) => 24,
            Error::SiteMismatch { .. } => 25,
            Error::SignatureMissing => 26,
            Error::SignatureMalformed(_) => 27,
            Error::SignatureInvalid => 28,
            Error::SignatureExpired => 29,
            Error::Replayed => 30,
            Error::DigestMismatch => 31,
            Error::UnknownInstallation => 32,
            Error::ReplayStoreFull => 33,
            Error::OwnershipProofInvalid => 34,
            Error::ProxyStateInvalid(_) => 35,
            Error::ProxyStateExpired => 36,
            Error::CodeContextInvalid => 37,
            Error::CodeContextExpired => 38,
            Error::CodeContextMismatch => 39,
            Error::Internal(_) => 40,
        }
    }

    /// One value of every variant, in enum order.
    fn samples() -> Vec<Error> {
        let s = || "x".to_string();
        vec![
            Error::InvalidUrl { field: "f", reason: "r" },
            Error::InsecureBrokerUrl,
            Error::InvalidInput { field: "f", reason: "r" },
            Error::TooLarge { field: "f", limit: 1 },
            Error::NotRegistered,
            Error::NotConnected,
            Error::InvalidState("x"),
            Error::StateCorrupt(s()),
            Error::StateVersionUnsupported { found: 9, supported: 1 },
            Error::StateUndecryptable,
            Error::ReconnectRequired { reason: s() },
            Error::RegistrationInvalid { reason: s() },
            Error::RegistrationConflict,
            Error::RegistrationRejected { status: 400, reason: s() },
            Error::RateLimited { retry_after_ms: 1 },
            Error::ClientError { status: 400, reason: s(), request_id: None, explanation: None },
            Error::Redirected { status: Some(302) },
            Error::ServerUnavailable { status: Some(503), attempts: 3 },
            Error::UpstreamFailed { status: 500, code: s(), request_id: None, attempts: 1 },
            Error::LockUnavailable,
            Error::ResponseInvalid("x"),
            Error::CallbackStateMismatch,
            Error::CallbackExpired,
            Error::CallbackDenied { code: s() },
            Error::CallbackInvalid("x"),
            Error::SiteMismatch { registered: s(), current: s() },
            Error::SignatureMissing,
            Error::SignatureMalformed("x"),
            Error::SignatureInvalid,
            Error::SignatureExpired,
            Error::Replayed,
            Error::DigestMismatch,
            Error::UnknownInstallation,
            Error::ReplayStoreFull,
            Error::OwnershipProofInvalid,
            Error::ProxyStateInvalid("x"),
            Error::ProxyStateExpired,
            Error::CodeContextInvalid,
            Error::CodeContextExpired,
            Error::CodeContextMismatch,
            Error::Internal("x"),
        ]
    }

    #[test]
    fn table_has_one_row_per_variant() {
        let samples = samples();
        for (i, e) in samples.iter().enumerate() {
            assert_eq!(index(e), i, "samples()[{i}] ({}) is not the variant at index {i}", e.code());
        }
        assert_eq!(CODES.len(), samples.len(), "CODES has {} rows for {} variants", CODES.len(), samples.len());
        for (e, info) in samples.iter().zip(CODES) {
            let (wire_status, wire_code) = e.wire_code();
            let want = CodeInfo { code: e.code(), kind: e.kind(), wire_status, wire_code };
            assert_eq!(*info, want, "CODES row for variant {}", index(e));
        }
    }

    #[test]
    fn codes_are_unique_snake_case_and_found() {
        for (i, info) in CODES.iter().enumerate() {
            assert!(info.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", info.code);
            assert!(CODES[..i].iter().all(|other| other.code != info.code), "{} twice", info.code);
            assert_eq!(code_info(info.code), Some(info));
        }
        assert_eq!(code_info("no_such_code"), None);
        assert_eq!(code_info(""), None);
    }

    /// The position of `kind` in [`ErrorKind`]; no wildcard arm, as in [`index`].
    fn kind_index(kind: ErrorKind) -> usize {
        match kind {
            K::InvalidInput => 0,
            K::InvalidState => 1,
            K::StateUndecryptable => 2,
            K::ReconnectRequired => 3,
            K::RegistrationInvalid => 4,
            K::RateLimited => 5,
            K::ClientError => 6,
            K::ServerUnavailable => 7,
            K::Callback => 8,
            K::SiteMismatch => 9,
            K::Verification => 10,
            K::Internal => 11,
        }
    }

    #[test]
    fn every_kind_has_a_code() {
        let kinds = [
            K::InvalidInput,
            K::InvalidState,
            K::StateUndecryptable,
            K::ReconnectRequired,
            K::RegistrationInvalid,
            K::RateLimited,
            K::ClientError,
            K::ServerUnavailable,
            K::Callback,
            K::SiteMismatch,
            K::Verification,
            K::Internal,
        ];
        for (i, kind) in kinds.into_iter().enumerate() {
            assert_eq!(kind_index(kind), i, "kinds[{i}] is {kind}");
            assert!(CODES.iter().any(|info| info.kind == kind), "no code of kind {kind}");
        }
        // A verification failure is answered with its own code; anything else
        // as a bad request (invalid input) or an internal error.
        for info in CODES {
            let want = match info.kind {
                K::Verification => info.code,
                K::InvalidInput => "invalid_request",
                _ => "internal",
            };
            assert_eq!(info.wire_code, want, "{}", info.code);
        }
    }
}

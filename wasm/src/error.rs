//! Core [`Error`] → JavaScript `TesseraError` (constructed by `js/error.js`).

use tessera_core::{Error, ErrorKind};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(raw_module = "./error.js")]
extern "C" {
    /// `fromCore(code, kind, message, status, retryAfterMs, reason, requestId, registered, current,
    /// wireStatus, wireCode, description, details)`.
    #[wasm_bindgen(js_name = fromCore)]
    #[allow(clippy::too_many_arguments)]
    fn from_core(
        code: &str,
        kind: &str,
        message: &str,
        status: Option<u16>,
        retry_after_ms: Option<f64>,
        reason: Option<&str>,
        request_id: Option<&str>,
        registered: Option<&str>,
        current: Option<&str>,
        wire_status: Option<u16>,
        wire_code: Option<&str>,
        description: Option<&str>,
        details: Option<&str>,
    ) -> JsValue;
}

/// The `TesseraError` for a core error: code, kind, message and the typed extras.
/// A verification failure also carries the HTTP status and `error` code a
/// broker answers it with ([`Error::wire_code`]), like PHP's
/// `VerificationException::getHttpStatus()`/`getWireCode()`. A client error
/// carries the broker's or Stora's explanation ([`Error::description`]) and
/// Stora's `details` as JSON text ([`Error::details`], parsed by `error.js`).
pub(crate) fn to_js(e: &Error) -> JsValue {
    let (registered, current) = match e {
        Error::SiteMismatch { registered, current } => (Some(registered.as_str()), Some(current.as_str())),
        _ => (None, None),
    };
    let (wire_status, wire_code) = match e.kind() {
        ErrorKind::Verification => {
            let (status, code) = e.wire_code();
            (Some(status), Some(code))
        }
        _ => (None, None),
    };
    from_core(
        e.code(),
        e.kind().as_str(),
        &e.to_string(),
        e.status(),
        // Milliseconds fit an f64 exactly far beyond any real delay.
        e.retry_after_ms().map(|ms| ms as f64),
        e.reason(),
        e.request_id(),
        registered,
        current,
        wire_status,
        wire_code,
        e.description(),
        e.details(),
    )
}

/// `Result<T, Error>` → `Result<T, JsValue>` for `?` in the exports.
pub(crate) trait IntoJs<T> {
    /// Converts the error side to a `TesseraError`.
    fn js(self) -> Result<T, JsValue>;
}

impl<T> IntoJs<T> for Result<T, Error> {
    fn js(self) -> Result<T, JsValue> {
        self.map_err(|e| to_js(&e))
    }
}

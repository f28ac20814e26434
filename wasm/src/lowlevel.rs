//! Pure helpers: response classification, `Content-Digest`, and (broker
//! module only) generic RFC 9421 signing.

#[cfg(feature = "broker")]
use tessera_core::Request;
use tessera_core::classify as core_classify;
use tessera_core::internals::signature;
use wasm_bindgen::prelude::*;

#[cfg(feature = "broker")]
use crate::convert::headers_in;
use crate::convert::{Obj, response_in, secs};
#[cfg(feature = "broker")]
use crate::error::IntoJs;

/// `classify` → `{ kind, status, code?, retryAfterMs?, serverDate?, requestId?, fromStora,
/// description?, details? }` (`details`: Stora's `error.details` as compact JSON text).
#[wasm_bindgen(js_name = classifyCore)]
pub fn classify(status: u16, headers: Vec<String>, body: Vec<u8>, now: f64) -> JsValue {
    let o = core_classify(&response_in(status, headers, body), secs(now));
    Obj::new()
        .set("kind", o.kind.as_str())
        .set("status", o.status)
        .opt("code", o.code)
        .opt("retryAfterMs", o.retry_after_ms.map(|ms| ms as f64))
        .opt("serverDate", o.server_date.map(|d| d as f64))
        .opt("requestId", o.request_id)
        .set("fromStora", o.from_stora)
        .opt("description", o.description)
        .opt("details", o.details)
        .done()
}

/// Generic RFC 9421 HMAC-SHA256 signing of `req` for the one member of
/// `signature_input` (`signature::hmac_sign_generic`) → `{ signatureBase, signature }`.
/// Broker module only: it is the one user of a general structured-field
/// parser, which the plugin module does not need.
#[cfg(feature = "broker")]
#[wasm_bindgen(js_name = hmacSignGenericCore)]
pub fn hmac_sign_generic(
    method: String,
    url: String,
    headers: Vec<String>,
    body: Vec<u8>,
    signature_input: &str,
    key: &[u8],
) -> Result<JsValue, JsValue> {
    let req = Request { method, url, headers: headers_in(headers), body };
    let (base, sig) = signature::hmac_sign_generic(&req, signature_input, key).js()?;
    Ok(Obj::new().set("signatureBase", base).set("signature", sig).done())
}

/// The RFC 9530 `Content-Digest` value (`sha-256=:…:`) of `body`.
#[wasm_bindgen(js_name = contentDigest)]
pub fn content_digest(body: &[u8]) -> String {
    signature::content_digest(body)
}

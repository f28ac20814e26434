//! Pure helpers: response classification and the low-level RFC 9421 exports.

use tessera_core::classify as core_classify;
use tessera_core::error::Error;
use tessera_core::sfv::{Member, parse_dictionary};
use tessera_core::signature::{self, MessageView};
use tessera_core::url::Url;
use wasm_bindgen::prelude::*;

use crate::convert::{Obj, headers_in, response_in, secs};
use crate::error::{IntoJs, to_js};

/// `classify` → `{ kind, status, code?, retryAfterMs?, serverDate? }`.
#[wasm_bindgen(js_name = classifyCore)]
pub fn classify(status: u16, headers: Vec<String>, body: Vec<u8>, now: f64) -> JsValue {
    let o = core_classify(&response_in(status, headers, body), secs(now));
    Obj::new()
        .set("kind", o.kind.as_str())
        .set("status", o.status)
        .opt("code", o.code)
        .opt("retryAfterMs", o.retry_after_ms.map(|ms| ms as f64))
        .opt("serverDate", o.server_date.map(|d| d as f64))
        .done()
}

/// RFC 9421 §2.5 signature base of a request for the `label` member of a
/// `Signature-Input` field value (the core's generic builder).
#[wasm_bindgen(js_name = signatureBaseCore)]
pub fn signature_base(
    method: &str,
    url: &str,
    headers: Vec<String>,
    signature_input: &str,
    label: &str,
) -> Result<String, JsValue> {
    let url = Url::parse(url, "url").js()?;
    let headers = headers_in(headers);
    let dict = parse_dictionary(signature_input).map_err(Error::SignatureMalformed).js()?;
    let params = match dict.iter().find(|(k, _)| k == label) {
        Some((_, Member::InnerList(list))) => list,
        Some(_) => return Err(to_js(&Error::SignatureMalformed("signature-input member must be an inner list"))),
        None => return Err(to_js(&Error::SignatureMissing)),
    };
    let authority = url.authority();
    let msg = MessageView {
        method,
        scheme: url.scheme(),
        authority: &authority,
        path: url.path(),
        query: url.query(),
        headers: &headers,
    };
    signature::signature_base(&msg, params).js()
}

/// HMAC-SHA256 of `data` under `key`.
#[wasm_bindgen(js_name = hmacSha256)]
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    signature::hmac_sha256(key, data).to_vec()
}

/// The RFC 9530 `Content-Digest` value (`sha-256=:…:`) of `body`.
#[wasm_bindgen(js_name = contentDigest)]
pub fn content_digest(body: &[u8]) -> String {
    signature::content_digest(body)
}

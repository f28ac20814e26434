//! Pushed events (docs/PROTOCOL.md §14.4), broker module only: an extension
//! cannot receive a push, so none of this weighs on the browser modules.
//! The plugin side (`verifyPushCore`, `pushRegistrationRequestCore`) runs on
//! the state the JS `Companion` exports (`exportState()`), restored here with
//! `Companion::from_json`; the broker side is `signPushCore`. Conversion
//! only: the signature, the window, the body's shape and the URL's rules are
//! the core's.

use js_sys::Array;
use tessera_core::{Companion, Error, sign_push};
use wasm_bindgen::prelude::*;

use crate::broker::secret_in;
use crate::convert::{api_request_out, headers_in, secs};
use crate::error::IntoJs;
use crate::events::event_out;

/// `Companion::verify_push` on the companion whose state is `state_json`:
/// the push's headers (flat `[name, value, …]`), its raw body and the local
/// time `now` → its events, `[{ id, type, apiVersion, createdAt, dataJson }]`
/// (the JS glue adds `data`). A refusal is the core's error (a signature's
/// carries its wire answer, `wireStatus` / `wireCode`).
#[wasm_bindgen(js_name = verifyPushCore)]
pub fn verify_push_core(state_json: &str, headers: Vec<String>, body: &[u8], now: f64) -> Result<Array, JsValue> {
    let companion = Companion::from_json(state_json).js()?;
    let events = companion.verify_push(&headers_in(headers), body, secs(now)).js()?;
    Ok(events.iter().map(event_out).collect())
}

/// `Companion::push_registration_request` on the companion whose state is
/// `state_json` (`url` absent: stop the pushes) → `{ method, path, headers:
/// [[name, value]…], body }` (body a string), ready for `companion.call`.
#[wasm_bindgen(js_name = pushRegistrationRequestCore)]
pub fn push_registration_request_core(state_json: &str, url: Option<String>) -> Result<JsValue, JsValue> {
    let companion = Companion::from_json(state_json).js()?;
    Ok(api_request_out(companion.push_registration_request(url.as_deref()).js()?))
}

/// Broker side: `sign_push`, the `Tessera-Push-Signature` value of a push of
/// `body` to the installation `install_id` holding `secret` (base64url text
/// or bytes), signed at `now`.
#[wasm_bindgen(js_name = signPushCore)]
pub fn sign_push_core(secret: &JsValue, install_id: &str, body: &[u8], now: f64) -> Result<String, JsValue> {
    let Some(secret) = secret_in(secret)? else {
        return Err(Error::InvalidInput { field: "secret", reason: "must be base64url text or bytes" }).js();
    };
    Ok(sign_push(&secret, install_id, body, secs(now)))
}

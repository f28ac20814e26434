//! Plain JavaScript values ↔ core values. Shapes only: the JS wrapper has
//! already checked types, and every rule about the values is the core's.

use js_sys::{Array, Object, Reflect, Uint8Array};
use tessera_core::{Request, Response};
use wasm_bindgen::prelude::*;

/// Builds a plain JS object field by field.
pub(crate) struct Obj(Object);

impl Obj {
    /// An empty `{}`.
    pub(crate) fn new() -> Obj {
        Obj(Object::new())
    }

    /// Sets `key` (setting a data property on a fresh plain object cannot fail).
    pub(crate) fn set(self, key: &str, value: impl Into<JsValue>) -> Obj {
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), &value.into());
        self
    }

    /// Sets `key` only when `value` is present.
    pub(crate) fn opt(self, key: &str, value: Option<impl Into<JsValue>>) -> Obj {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    /// The finished object.
    pub(crate) fn done(self) -> JsValue {
        self.0.into()
    }
}

/// A flat `[name, value, name, value, …]` list (from `conv.js`) as header pairs.
pub(crate) fn headers_in(flat: Vec<String>) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(name), Some(value)) = (it.next(), it.next()) {
        out.push((name, value));
    }
    out
}

/// Header pairs as a JS array of `[name, value]` arrays.
pub(crate) fn headers_out(headers: &[(String, String)]) -> Array {
    headers.iter().map(|(k, v)| -> JsValue { Array::of2(&k.into(), &v.into()).into() }).collect()
}

/// An API request as `{ method, path, headers: [[name, value]…], body }`
/// (body a string), what `companion.call` takes.
pub(crate) fn api_request_out(req: tessera_core::ApiRequest) -> JsValue {
    Obj::new()
        .set("method", req.method)
        .set("path", req.path)
        .set("headers", headers_out(&req.headers))
        .set("body", String::from_utf8_lossy(&req.body).into_owned())
        .done()
}

/// Bytes as a fresh `Uint8Array` (a copy out of wasm memory).
pub(crate) fn bytes_out(bytes: &[u8]) -> Uint8Array {
    Uint8Array::from(bytes)
}

/// A request as `[packed, body]`: `packed` is method, URL, then each header
/// name and value, every field written as `<UTF-16 length>:<text>` so the JS
/// side splits it without assuming anything about the text. One string and
/// one byte array cross the boundary instead of one value per field (signing
/// is hot); `conv.js` turns it back into `{ method, url, headers, body }`.
pub(crate) fn request_out(req: &Request) -> JsValue {
    let mut packed = String::with_capacity(
        64 + req.url.len() + req.headers.iter().map(|(k, v)| k.len() + v.len() + 8).sum::<usize>(),
    );
    pack(&mut packed, &req.method);
    pack(&mut packed, &req.url);
    for (name, value) in &req.headers {
        pack(&mut packed, name);
        pack(&mut packed, value);
    }
    Array::of2(&packed.into(), &bytes_out(&req.body)).into()
}

fn pack(out: &mut String, field: &str) {
    let mut digits = [0u8; 20];
    let mut n = if field.is_ascii() { field.len() } else { field.encode_utf16().count() };
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
    out.push(':');
    out.push_str(field);
}

/// `{ status, headers, body }`.
pub(crate) fn response_out(resp: &Response) -> JsValue {
    Obj::new()
        .set("status", resp.status)
        .set("headers", headers_out(&resp.headers))
        .set("body", bytes_out(&resp.body))
        .done()
}

/// A response from its parts.
pub(crate) fn response_in(status: u16, headers: Vec<String>, body: Vec<u8>) -> Response {
    Response { status, headers: headers_in(headers), body }
}

/// Unix seconds from a JS number (already checked to be a safe integer; the
/// cast saturates rather than panicking on anything else).
pub(crate) fn secs(now: f64) -> i64 {
    now as i64
}

/// An unsigned count from a JS number (already checked to be a safe
/// integer; the cast saturates, so a negative value becomes 0).
pub(crate) fn unsigned(n: f64) -> u64 {
    n as u64
}

//! Broker side: request, connect-URL, uninstall-ticket and ownership-proof verification.

use std::cell::RefCell;

use js_sys::{Function, Uint8Array};
use tessera_core::connect::UNINSTALL_TICKET_MAX_AGE_SECS;
use tessera_core::error::{Error, Result as CoreResult};
use tessera_core::{
    MemoryReplayStore, ReplayStore, Request, Secret, Verifier, verify_connect_url,
    verify_ownership_proof as core_verify_ownership_proof, verify_uninstall_ticket,
};
use wasm_bindgen::prelude::*;

use crate::convert::{Obj, headers_in, secs, unsigned};
use crate::error::{IntoJs, to_js};

/// The core's in-memory replay store (`MemoryReplayStore`).
#[wasm_bindgen(js_name = ReplayStoreCore)]
pub struct WasmReplayStore(MemoryReplayStore);

#[wasm_bindgen(js_class = ReplayStoreCore)]
impl WasmReplayStore {
    /// A store holding at most `capacity` live nonces per installation (the
    /// core's default, 1,000, when `undefined`): an installation that fills
    /// its share is refused, no other is.
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: Option<f64>) -> WasmReplayStore {
        WasmReplayStore(match capacity {
            Some(c) => MemoryReplayStore::new(unsigned(c).try_into().unwrap_or(usize::MAX)),
            None => MemoryReplayStore::default(),
        })
    }

    /// Live entries.
    pub fn size(&self) -> u32 {
        self.0.len().try_into().unwrap_or(u32::MAX)
    }
}

/// Accepts every nonce and remembers the one it was asked about, so the JS
/// wrapper can consult a host-supplied (possibly async) store afterwards.
#[derive(Default)]
struct Recording(Option<(String, i64)>);

impl ReplayStore for Recording {
    fn check_and_insert(&mut self, key: &str, expires_at: i64, _now: i64) -> CoreResult<()> {
        self.0 = Some((key.to_owned(), expires_at));
        Ok(())
    }
}

/// What a JS secret lookup produced besides the secret: its own exception,
/// or a value that is not a usable secret.
enum LookupFailure {
    Thrown(JsValue),
    Core(Error),
}

/// Calls the wrapper's synchronous `lookup(keyid)`, which answers a base64url
/// string, a `Uint8Array` or `null`.
struct Lookup<'a> {
    f: &'a Function,
    failure: RefCell<Option<LookupFailure>>,
}

impl<'a> Lookup<'a> {
    fn new(f: &'a Function) -> Lookup<'a> {
        Lookup { f, failure: RefCell::new(None) }
    }

    fn secret_for(&self, keyid: &str) -> Option<Secret> {
        let value = match self.f.call1(&JsValue::NULL, &JsValue::from_str(keyid)) {
            Ok(v) => v,
            Err(thrown) => {
                self.failure.replace(Some(LookupFailure::Thrown(thrown)));
                return None;
            }
        };
        let secret = if let Some(text) = value.as_string() {
            Secret::from_base64url(&text)
        } else if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
            Secret::from_bytes(&bytes.to_vec())
        } else {
            return None;
        };
        secret.map_err(|e| self.failure.replace(Some(LookupFailure::Core(e)))).ok()
    }

    /// The lookup's own failure, if any, takes precedence over the core's
    /// resulting `unknown_installation`.
    fn finish<T>(self, result: CoreResult<T>) -> Result<T, JsValue> {
        match (result, self.failure.into_inner()) {
            (Ok(v), _) => Ok(v),
            (Err(_), Some(LookupFailure::Thrown(thrown))) => Err(thrown),
            (Err(_), Some(LookupFailure::Core(e))) => Err(to_js(&e)),
            (Err(e), None) => Err(to_js(&e)),
        }
    }
}

/// A request as the broker received it.
fn request_in(method: String, url: String, headers: Vec<String>, body: Vec<u8>) -> Request {
    Request { method, url, headers: headers_in(headers), body }
}

/// `Verifier::verify` with `store`, as
/// `{ installId, created, expires, nonce, idempotencyKey?, bearer?, replayKey?, replayExpiresAt? }`.
fn verify_with(
    req: &Request,
    now: f64,
    window_secs: Option<f64>,
    lookup: &Function,
    store: &mut dyn ReplayStore,
) -> Result<JsValue, JsValue> {
    let mut verifier = Verifier::default();
    if let Some(w) = window_secs {
        verifier.window_secs = secs(w);
    }
    let l = Lookup::new(lookup);
    let result = verifier.verify(req, secs(now), &mut |k| l.secret_for(k), store);
    let v = l.finish(result)?;
    Ok(Obj::new()
        .set("installId", v.install_id)
        .set("created", v.created as f64)
        .set("expires", v.expires as f64)
        .set("nonce", v.nonce)
        .opt("idempotencyKey", v.idempotency_key)
        .opt("bearer", v.bearer.as_ref().map(|t| t.expose().to_owned()))
        .done())
}

#[wasm_bindgen(js_class = ReplayStoreCore)]
impl WasmReplayStore {
    /// `Verifier::verify` with this store remembering nonces.
    #[allow(clippy::too_many_arguments)]
    pub fn verify(
        &mut self,
        method: String,
        url: String,
        headers: Vec<String>,
        body: Vec<u8>,
        now: f64,
        window_secs: Option<f64>,
        lookup: &Function,
    ) -> Result<JsValue, JsValue> {
        verify_with(&request_in(method, url, headers, body), now, window_secs, lookup, &mut self.0)
    }
}

/// `Verifier::verify` that only records the nonce it would store, returned as
/// `replayKey` / `replayExpiresAt` for the wrapper's host-supplied store.
#[allow(clippy::too_many_arguments)]
#[wasm_bindgen(js_name = verifyRequestRecording)]
pub fn verify_request_recording(
    method: String,
    url: String,
    headers: Vec<String>,
    body: Vec<u8>,
    now: f64,
    window_secs: Option<f64>,
    lookup: &Function,
) -> Result<JsValue, JsValue> {
    let mut recording = Recording::default();
    let out = verify_with(&request_in(method, url, headers, body), now, window_secs, lookup, &mut recording)?;
    if let Some((key, expires_at)) = recording.0 {
        let _ = js_sys::Reflect::set(&out, &"replayKey".into(), &key.into());
        let _ = js_sys::Reflect::set(&out, &"replayExpiresAt".into(), &(expires_at as f64).into());
    }
    Ok(out)
}

/// The core's `replayed` error, for a host replay store that saw the nonce.
#[wasm_bindgen(js_name = replayedError)]
pub fn replayed_error() -> JsValue {
    to_js(&Error::Replayed)
}

/// `verify_connect_url` → `{ installId, state, returnUrl, scope?, ts }`.
#[wasm_bindgen(js_name = verifyConnectUrlCore)]
pub fn verify_connect_url_core(url: &str, now: f64, lookup: &Function) -> Result<JsValue, JsValue> {
    let l = Lookup::new(lookup);
    let result = verify_connect_url(url, secs(now), &mut |k| l.secret_for(k));
    let p = l.finish(result)?;
    Ok(Obj::new()
        .set("installId", p.install_id)
        .set("state", p.state)
        .set("returnUrl", p.return_url)
        .opt("scope", p.scope)
        .set("ts", p.ts as f64)
        .done())
}

/// `verify_uninstall_ticket` → the ticket's `ts` (`max_age_secs` defaults to the core's `UNINSTALL_TICKET_MAX_AGE_SECS`, 7 days).
#[wasm_bindgen(js_name = verifyUninstallTicketCore)]
pub fn verify_uninstall_ticket_core(
    install_id: &str,
    url: &str,
    now: f64,
    max_age_secs: Option<f64>,
    lookup: &Function,
) -> Result<f64, JsValue> {
    let l = Lookup::new(lookup);
    let max_age = max_age_secs.map_or(UNINSTALL_TICKET_MAX_AGE_SECS, secs);
    let result = verify_uninstall_ticket(install_id, url, secs(now), max_age, &mut |k| l.secret_for(k));
    l.finish(result).map(|ts| ts as f64)
}

/// `verify_ownership_proof` with the secret as base64url text or bytes.
#[wasm_bindgen(js_name = verifyOwnershipProofCore)]
pub fn verify_ownership_proof(secret: &JsValue, install_id: &str, challenge: &str, proof: &str) -> Result<(), JsValue> {
    let secret = match (secret.as_string(), secret.dyn_ref::<Uint8Array>()) {
        (Some(text), _) => Secret::from_base64url(&text),
        (None, Some(bytes)) => Secret::from_bytes(&bytes.to_vec()),
        (None, None) => Err(Error::InvalidInput { field: "secret", reason: "must be base64url text or bytes" }),
    }
    .js()?;
    core_verify_ownership_proof(&secret, install_id, challenge, proof).js()
}

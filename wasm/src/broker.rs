//! Broker side: request, connect-URL, uninstall-ticket and ownership-proof
//! verification as the core's sans-IO steps. Each step is one short wasm call
//! that never calls back into JavaScript: the JS wrapper (`js/broker.js`)
//! looks the secret up and asks the replay store in between, awaiting either
//! as it likes, and every refusal reaches JavaScript as a `TesseraError`
//! carrying the core's wire answer (`wireStatus`, `wireCode`, `wireHeaders`,
//! `wireBody`).

use js_sys::{Object, Reflect, Uint8Array};
use tessera_core::Error;
use tessera_core::internals::connect::UNINSTALL_TICKET_MAX_AGE_SECS;
use tessera_core::{
    AwaitingReplay, AwaitingSecret, ConnectUrlAwaitingSecret, Refusal, ReplayAnswer, TicketAwaitingSecret, Verified,
    begin_connect_url, begin_uninstall_ticket, check_ownership_proof,
};
use tessera_core::{MemoryReplayStore, Request, Secret, Verifier};
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

/// The `TesseraError` of a refusal: the core error, plus the wire answer the
/// broker sends for it (`wireStatus`, `wireCode`, `wireHeaders` as a plain
/// object in the core's order, `wireBody` as text).
fn refused(refusal: Refusal) -> JsValue {
    let err = to_js(refusal.error());
    let headers = Object::new();
    for (name, value) in refusal.headers() {
        let _ = Reflect::set(&headers, &name.into(), &value.into());
    }
    let body = String::from_utf8_lossy(&refusal.body()).into_owned();
    for (key, value) in [
        ("wireStatus", JsValue::from(refusal.status())),
        ("wireCode", JsValue::from_str(refusal.code())),
        ("wireHeaders", headers.into()),
        ("wireBody", body.into()),
    ] {
        let _ = Reflect::set(&err, &key.into(), &value);
    }
    err
}

/// `Result<T, Refusal>` → `Result<T, JsValue>` with the wire answer attached.
fn wire<T>(result: Result<T, Refusal>) -> Result<T, JsValue> {
    result.map_err(refused)
}

/// The secret the wrapper looked up: `null`/`undefined` for an unknown
/// installation, base64url text or a `Uint8Array` (checked by `conv.js`).
/// A value that is no valid secret is the core's `invalid_input` (a host
/// bug, not a refusal: no wire answer).
pub(crate) fn secret_in(value: &JsValue) -> Result<Option<Secret>, JsValue> {
    let secret = if value.is_null() || value.is_undefined() {
        return Ok(None);
    } else if let Some(text) = value.as_string() {
        Secret::from_base64url(&text)
    } else if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        Secret::from_bytes(&bytes.to_vec())
    } else {
        Err(Error::InvalidInput { field: "secret", reason: "must be base64url text or bytes" })
    };
    secret.map(Some).js()
}

/// A verified request as `{ installId, created, expires, nonce, idempotencyKey?, bearer? }`.
fn verified_out(v: Verified) -> JsValue {
    Obj::new()
        .set("installId", v.install_id)
        .set("created", v.created as f64)
        .set("expires", v.expires as f64)
        .set("nonce", v.nonce)
        .opt("idempotencyKey", v.idempotency_key)
        .opt("bearer", v.bearer.as_ref().map(|t| t.expose().to_owned()))
        .done()
}

/// Step 1 of `Verifier`: a request (its URL absolute, as the broker's public
/// URL for it) checked for everything that needs no secret at broker time
/// `now` (`window_secs` defaults to the core's 300).
#[wasm_bindgen(js_name = beginRequest)]
pub fn begin_request(
    method: String,
    url: String,
    headers: Vec<String>,
    body: Vec<u8>,
    now: f64,
    window_secs: Option<f64>,
) -> Result<PendingVerification, JsValue> {
    let mut verifier = Verifier::default();
    if let Some(w) = window_secs {
        verifier.window_secs = secs(w);
    }
    let req = Request { method, url, headers: headers_in(headers), body };
    wire(verifier.begin(&req, secs(now))).map(PendingVerification)
}

/// A request waiting for the secret of its `keyid` (the core's `AwaitingSecret`).
#[wasm_bindgen]
pub struct PendingVerification(AwaitingSecret);

#[wasm_bindgen]
impl PendingVerification {
    /// The installation whose secret to look up.
    pub fn keyid(&self) -> String {
        self.0.keyid().to_owned()
    }

    /// Step 2: the MAC checked (once) with `secret` (`null` for an unknown installation).
    pub fn check(self, secret: JsValue) -> Result<PendingReplay, JsValue> {
        let secret = secret_in(&secret)?;
        wire(self.0.check(secret.as_ref())).map(PendingReplay)
    }
}

/// A request whose MAC verified, waiting for the replay store's answer (the
/// core's `AwaitingReplay`).
#[wasm_bindgen]
pub struct PendingReplay(AwaitingReplay);

#[wasm_bindgen]
impl PendingReplay {
    /// The key to record: `installId + ":" + nonce`.
    #[wasm_bindgen(js_name = replayKey)]
    pub fn replay_key(&self) -> String {
        self.0.replay_key().to_owned()
    }

    /// Until when (unix seconds, inclusive) the key must be kept.
    #[wasm_bindgen(js_name = expiresAt)]
    pub fn expires_at(&self) -> f64 {
        self.0.expires_at() as f64
    }

    /// Broker time of the verification (unix seconds).
    pub fn now(&self) -> f64 {
        self.0.now() as f64
    }

    /// Step 3 with a host store's answer, `"fresh"`, `"seen"` or `"full"`.
    pub fn finish(self, answer: &str) -> Result<JsValue, JsValue> {
        let answer = match answer {
            "fresh" => ReplayAnswer::Fresh,
            "seen" => ReplayAnswer::Seen,
            "full" => ReplayAnswer::Full,
            _ => {
                return Err(to_js(&Error::InvalidInput {
                    field: "replayStore",
                    reason: "must answer \"fresh\", \"seen\" or \"full\"",
                }));
            }
        };
        wire(self.0.finish(answer)).map(verified_out)
    }

    /// Step 3 with the core's in-memory store.
    #[wasm_bindgen(js_name = recordIn)]
    pub fn record_in(self, store: &mut WasmReplayStore) -> Result<JsValue, JsValue> {
        wire(self.0.record_in(&mut store.0)).map(verified_out)
    }
}

/// Step 1 of verifying a connect URL (absolute, or its query) at broker time `now`.
#[wasm_bindgen(js_name = beginConnectUrl)]
pub fn begin_connect_url_core(url: &str, now: f64) -> Result<PendingConnectUrl, JsValue> {
    wire(begin_connect_url(url, secs(now))).map(PendingConnectUrl)
}

/// A connect URL waiting for the secret of its installation.
#[wasm_bindgen]
pub struct PendingConnectUrl(ConnectUrlAwaitingSecret);

#[wasm_bindgen]
impl PendingConnectUrl {
    /// The installation whose secret to look up.
    #[wasm_bindgen(js_name = installId)]
    pub fn install_id(&self) -> String {
        self.0.install_id().to_owned()
    }

    /// Step 2: `sig` checked with `secret` → `{ installId, state, returnUrl, scope?, ts }`.
    pub fn check(self, secret: JsValue) -> Result<JsValue, JsValue> {
        let secret = secret_in(&secret)?;
        let p = wire(self.0.check(secret.as_ref()))?;
        Ok(Obj::new()
            .set("installId", p.install_id)
            .set("state", p.state)
            .set("returnUrl", p.return_url)
            .opt("scope", p.scope)
            .set("ts", p.ts as f64)
            .done())
    }
}

/// Step 1 of verifying an uninstall ticket for `install_id` (`max_age_secs`
/// defaults to the core's `UNINSTALL_TICKET_MAX_AGE_SECS`, 7 days).
#[wasm_bindgen(js_name = beginUninstallTicket)]
pub fn begin_uninstall_ticket_core(
    install_id: &str,
    url: &str,
    now: f64,
    max_age_secs: Option<f64>,
) -> Result<PendingTicket, JsValue> {
    let max_age = max_age_secs.map_or(UNINSTALL_TICKET_MAX_AGE_SECS, secs);
    wire(begin_uninstall_ticket(install_id, url, secs(now), max_age)).map(PendingTicket)
}

/// An uninstall ticket waiting for the secret of its installation.
#[wasm_bindgen]
pub struct PendingTicket(TicketAwaitingSecret);

#[wasm_bindgen]
impl PendingTicket {
    /// The installation whose secret to look up.
    #[wasm_bindgen(js_name = installId)]
    pub fn install_id(&self) -> String {
        self.0.install_id().to_owned()
    }

    /// Step 2: `sig` checked with `secret` → the ticket's `ts`.
    pub fn check(self, secret: JsValue) -> Result<f64, JsValue> {
        let secret = secret_in(&secret)?;
        wire(self.0.check(secret.as_ref())).map(|ts| ts as f64)
    }
}

/// `check_ownership_proof` with the secret as base64url text or bytes, at broker time `now`.
#[wasm_bindgen(js_name = checkOwnershipProofCore)]
pub fn check_ownership_proof_core(
    secret: &JsValue,
    install_id: &str,
    challenge: &str,
    proof: &str,
    now: f64,
) -> Result<(), JsValue> {
    let Some(secret) = secret_in(secret)? else {
        return Err(to_js(&Error::InvalidInput { field: "secret", reason: "must be base64url text or bytes" }));
    };
    wire(check_ownership_proof(&secret, install_id, challenge, proof, secs(now)))
}

/// How many MACs verification computed in this instance (test builds only).
#[cfg(feature = "test-hooks")]
#[wasm_bindgen(js_name = macChecks)]
pub fn mac_checks() -> f64 {
    tessera_core::internals::verify::mac_checks() as f64
}

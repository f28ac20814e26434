//! The plugin-side facade: `CompanionCore` (wrapped by the JS `Companion`)
//! and `CallCore`, one step-machine run.

use tessera_core::Entropy;
use tessera_core::Error;
use tessera_core::OsEntropy;
#[cfg(feature = "test-hooks")]
use tessera_core::SeededEntropy;
use tessera_core::{
    ApiRequest, Call, Companion, Config, Event, ProxyConfig, Registration, RetryPolicy, Routes, SignOptions, SiteCheck,
    TransportError,
};
use wasm_bindgen::prelude::*;

use crate::convert::{Obj, headers_in, request_out, response_in, secs, unsigned};
use crate::error::{IntoJs, to_js};
use crate::outcome::{account_out, action_out, proof_out, registration_out};

/// One installation (configuration + state); the JS `Companion` wraps it.
#[wasm_bindgen(js_name = CompanionCore)]
pub struct WasmCompanion {
    pub(crate) inner: Companion,
    /// A deterministic stream set by `useSeededEntropy` (test builds only);
    /// `None` means the platform CSPRNG.
    #[cfg(feature = "test-hooks")]
    seeded: Option<SeededEntropy>,
}

impl From<Companion> for WasmCompanion {
    fn from(inner: Companion) -> Self {
        WasmCompanion {
            inner,
            #[cfg(feature = "test-hooks")]
            seeded: None,
        }
    }
}

/// One logical call in progress (see `CompanionCore.step*`).
#[wasm_bindgen(js_name = CallCore)]
pub struct WasmCall(pub(crate) Call);

pub(crate) fn api_request(method: String, path: String, headers: Vec<String>, body: Vec<u8>) -> ApiRequest {
    ApiRequest { method, path, headers: headers_in(headers), body }
}

#[wasm_bindgen(js_class = CompanionCore)]
impl WasmCompanion {
    /// `Companion::create`: route, retry and proxy fields left `undefined`
    /// keep their defaults; a `stora_api_url` selects authorization-proxy mode.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        broker_url: String,
        installations: Option<String>,
        connect: Option<String>,
        disconnect: Option<String>,
        connect_complete: Option<String>,
        max_attempts: Option<f64>,
        base_delay_ms: Option<f64>,
        max_delay_ms: Option<f64>,
        max_total_delay_ms: Option<f64>,
        max_retry_after_ms: Option<f64>,
        stora_api_url: Option<String>,
        refresh_margin_secs: Option<f64>,
        token: Option<String>,
        refresh: Option<String>,
        revoke: Option<String>,
    ) -> Result<WasmCompanion, JsValue> {
        let d = Routes::default();
        let routes = Routes {
            installations: installations.unwrap_or(d.installations),
            connect: connect.unwrap_or(d.connect),
            disconnect: disconnect.unwrap_or(d.disconnect),
            connect_complete: connect_complete.unwrap_or(d.connect_complete),
        };
        let r = RetryPolicy::default();
        let retry = RetryPolicy {
            max_attempts: max_attempts.map_or(r.max_attempts, |n| n as u32),
            base_delay_ms: base_delay_ms.map_or(r.base_delay_ms, unsigned),
            max_delay_ms: max_delay_ms.map_or(r.max_delay_ms, unsigned),
            max_total_delay_ms: max_total_delay_ms.map_or(r.max_total_delay_ms, unsigned),
            max_retry_after_ms: max_retry_after_ms.map_or(r.max_retry_after_ms, unsigned),
        };
        let proxy = stora_api_url.map(|stora_api_url| {
            let p = ProxyConfig::default();
            ProxyConfig {
                stora_api_url,
                refresh_margin_secs: refresh_margin_secs.map_or(p.refresh_margin_secs, unsigned),
                token: token.unwrap_or(p.token),
                refresh: refresh.unwrap_or(p.refresh),
                revoke: revoke.unwrap_or(p.revoke),
            }
        });
        Companion::create(Config { broker_url, routes, retry, proxy }).js().map(WasmCompanion::from)
    }

    /// `Companion::from_json`.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(json: &str) -> Result<WasmCompanion, JsValue> {
        Companion::from_json(json).js().map(WasmCompanion::from)
    }

    /// `Companion::open_state`.
    #[wasm_bindgen(js_name = openState)]
    pub fn open_state(sealed: &str, key: &[u8]) -> Result<WasmCompanion, JsValue> {
        Companion::open_state(sealed, key).js().map(WasmCompanion::from)
    }

    /// `Companion::to_json` (contains the secret).
    #[wasm_bindgen(js_name = toJson)]
    pub fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// Whether the configuration is authorization-proxy mode.
    #[wasm_bindgen(js_name = proxyMode)]
    pub fn proxy_mode(&self) -> bool {
        self.inner.config().proxy.is_some()
    }

    /// `Companion::status` as its snake_case name.
    pub fn status(&self) -> String {
        self.inner.status().as_str().to_owned()
    }

    /// `Companion::install_id`.
    #[wasm_bindgen(js_name = installId)]
    pub fn install_id(&self) -> Option<String> {
        self.inner.install_id().map(str::to_owned)
    }

    /// `Companion::site_url`.
    #[wasm_bindgen(js_name = siteUrl)]
    pub fn site_url(&self) -> Option<String> {
        self.inner.site_url().map(str::to_owned)
    }

    /// `Companion::account` → `{ id, name }` while connected, else `null`.
    pub fn account(&self) -> JsValue {
        self.inner.account().map_or(JsValue::NULL, account_out)
    }

    /// `Companion::reconnect_reason`.
    #[wasm_bindgen(js_name = reconnectReason)]
    pub fn reconnect_reason(&self) -> Option<String> {
        self.inner.reconnect_reason().map(str::to_owned)
    }

    /// `Companion::clock_offset` (seconds).
    #[wasm_bindgen(js_name = clockOffset)]
    pub fn clock_offset(&self) -> f64 {
        self.inner.clock_offset() as f64
    }

    /// `Companion::registration_request` → `{ method, url, headers, body }`.
    #[wasm_bindgen(js_name = registrationRequest)]
    pub fn registration_request(
        &mut self,
        site_url: String,
        admin_email: String,
        platform: String,
        plugin_version: String,
    ) -> Result<JsValue, JsValue> {
        let reg = Registration { site_url, admin_email, platform, plugin_version };
        self.with_entropy(|c, e| c.registration_request(&reg, e)).js().map(|r| request_out(&r))
    }

    /// `Companion::handle_registration_response_at` → `{ outcome, proof? }`.
    #[wasm_bindgen(js_name = handleRegistrationResponse)]
    pub fn handle_registration_response(
        &mut self,
        status: u16,
        headers: Vec<String>,
        body: Vec<u8>,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        let resp = response_in(status, headers, body);
        self.inner.handle_registration_response_at(&resp, secs(now)).js().map(|o| registration_out(&o))
    }

    /// `Companion::ownership_proof` → `{ url, path, body }`.
    #[wasm_bindgen(js_name = ownershipProof)]
    pub fn ownership_proof(&self) -> Result<JsValue, JsValue> {
        self.inner.ownership_proof().js().map(|p| proof_out(&p))
    }

    /// `Companion::connect_url` (the state is always 16 random bytes).
    #[wasm_bindgen(js_name = connectUrl)]
    pub fn connect_url(&mut self, return_url: &str, scope: Option<String>, now: f64) -> Result<String, JsValue> {
        let (now, scope) = (secs(now), scope.as_deref());
        self.with_entropy(|c, e| c.connect_url(return_url, scope, now, e)).js()
    }

    /// `Companion::sign_request` → the packed request (see `request_out`); the
    /// body is `body_text` (UTF-8) when given, else `body`.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = signRequest)]
    pub fn sign_request(
        &mut self,
        method: String,
        path: String,
        headers: Vec<String>,
        body: Vec<u8>,
        body_text: Option<String>,
        now: f64,
        nonce: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<JsValue, JsValue> {
        // A string body crosses as UTF-8 straight into wasm memory (one copy).
        let body = body_text.map_or(body, String::into_bytes);
        let req = api_request(method, path, headers, body);
        let opts = SignOptions { now: secs(now), nonce, idempotency_key };
        self.with_entropy(|c, e| c.sign_request(&req, &opts, e)).js().map(|r| request_out(&r))
    }

    /// `Companion::start_registration`.
    #[wasm_bindgen(js_name = startRegistration)]
    pub fn start_registration(
        &self,
        site_url: String,
        admin_email: String,
        platform: String,
        plugin_version: String,
    ) -> Result<WasmCall, JsValue> {
        let reg = Registration { site_url, admin_email, platform, plugin_version };
        self.inner.start_registration(&reg).js().map(WasmCall)
    }

    /// `Companion::start_call`.
    #[wasm_bindgen(js_name = startCall)]
    pub fn start_call(
        &self,
        method: String,
        path: String,
        headers: Vec<String>,
        body: Vec<u8>,
    ) -> Result<WasmCall, JsValue> {
        self.inner.start_call(api_request(method, path, headers, body)).js().map(WasmCall)
    }

    /// `Companion::start_complete_connect`: the callback's local checks, then
    /// the signed exchange of its connect code.
    #[wasm_bindgen(js_name = startCompleteConnect)]
    pub fn start_complete_connect(&mut self, callback: &str, now: f64) -> Result<WasmCall, JsValue> {
        self.inner.start_complete_connect(callback, secs(now)).js().map(WasmCall)
    }

    /// `Companion::start_revoke_previous`.
    #[wasm_bindgen(js_name = startRevokePrevious)]
    pub fn start_revoke_previous(&self, install_id: &str) -> Result<WasmCall, JsValue> {
        self.inner.start_revoke_previous(install_id).js().map(WasmCall)
    }

    /// `Companion::start_disconnect`.
    #[wasm_bindgen(js_name = startDisconnect)]
    pub fn start_disconnect(&self) -> Result<WasmCall, JsValue> {
        self.inner.start_disconnect().js().map(WasmCall)
    }

    /// `Companion::start_uninstall`.
    #[wasm_bindgen(js_name = startUninstall)]
    pub fn start_uninstall(&self) -> WasmCall {
        WasmCall(self.inner.start_uninstall())
    }

    /// `Companion::start_reset`: "reset this installation".
    #[wasm_bindgen(js_name = startReset)]
    pub fn start_reset(
        &self,
        site_url: String,
        admin_email: String,
        platform: String,
        plugin_version: String,
    ) -> Result<WasmCall, JsValue> {
        let reg = Registration { site_url, admin_email, platform, plugin_version };
        self.inner.start_reset(&reg).js().map(WasmCall)
    }

    /// `Companion::start_site_moved`.
    #[wasm_bindgen(js_name = startSiteMoved)]
    pub fn start_site_moved(&self) -> Result<WasmCall, JsValue> {
        self.inner.start_site_moved().js().map(WasmCall)
    }

    /// `step(Event::Start)`.
    #[wasm_bindgen(js_name = stepStart)]
    pub fn step_start(&mut self, call: &mut WasmCall, now: f64) -> Result<JsValue, JsValue> {
        self.step(call, Event::Start, now)
    }

    /// `step(Event::Response)`.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = stepResponse)]
    pub fn step_response(
        &mut self,
        call: &mut WasmCall,
        status: u16,
        headers: Vec<String>,
        body: Vec<u8>,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        self.step(call, Event::Response(response_in(status, headers, body)), now)
    }

    /// `step(Event::TransportError)`; `kind` is `network` or `redirect`.
    #[wasm_bindgen(js_name = stepTransportError)]
    pub fn step_transport_error(&mut self, call: &mut WasmCall, kind: &str, now: f64) -> Result<JsValue, JsValue> {
        let kind = TransportError::parse(kind)
            .ok_or_else(|| to_js(&Error::InvalidInput { field: "kind", reason: "must be network or redirect" }))?;
        self.step(call, Event::TransportError(kind), now)
    }

    /// `step(Event::ProofServed)`.
    #[wasm_bindgen(js_name = stepProofServed)]
    pub fn step_proof_served(&mut self, call: &mut WasmCall, now: f64) -> Result<JsValue, JsValue> {
        self.step(call, Event::ProofServed, now)
    }

    /// `step(Event::ProofDeferred)`.
    #[wasm_bindgen(js_name = stepProofDeferred)]
    pub fn step_proof_deferred(&mut self, call: &mut WasmCall, now: f64) -> Result<JsValue, JsValue> {
        self.step(call, Event::ProofDeferred, now)
    }

    /// `step(Event::Slept)`.
    #[wasm_bindgen(js_name = stepSlept)]
    pub fn step_slept(&mut self, call: &mut WasmCall, now: f64) -> Result<JsValue, JsValue> {
        self.step(call, Event::Slept, now)
    }

    /// `step(Event::Persisted)`.
    #[wasm_bindgen(js_name = stepPersisted)]
    pub fn step_persisted(&mut self, call: &mut WasmCall, now: f64) -> Result<JsValue, JsValue> {
        self.step(call, Event::Persisted, now)
    }

    /// `step(Event::Locked)`: the refresh lock is held and `stored` is the
    /// state as stored now (sealed as it was persisted).
    #[wasm_bindgen(js_name = stepLocked)]
    pub fn step_locked(&mut self, call: &mut WasmCall, stored: String, now: f64) -> Result<JsValue, JsValue> {
        self.step(call, Event::Locked(stored), now)
    }

    /// `step(Event::LockUnavailable)`: the lock could not be taken in time.
    #[wasm_bindgen(js_name = stepLockUnavailable)]
    pub fn step_lock_unavailable(&mut self, call: &mut WasmCall, now: f64) -> Result<JsValue, JsValue> {
        self.step(call, Event::LockUnavailable, now)
    }

    /// `step(Event::Unlocked)`.
    #[wasm_bindgen(js_name = stepUnlocked)]
    pub fn step_unlocked(&mut self, call: &mut WasmCall, now: f64) -> Result<JsValue, JsValue> {
        self.step(call, Event::Unlocked, now)
    }

    /// `Companion::check_site` → `{ kind, registered?, current? }`.
    #[wasm_bindgen(js_name = checkSite)]
    pub fn check_site(&mut self, current_url: &str) -> Result<JsValue, JsValue> {
        Ok(match self.inner.check_site(current_url).js()? {
            SiteCheck::Same => Obj::new().set("kind", "same").done(),
            SiteCheck::NotRegistered => Obj::new().set("kind", "not_registered").done(),
            SiteCheck::Mismatch { registered, current } => {
                Obj::new().set("kind", "mismatch").set("registered", registered).set("current", current).done()
            }
        })
    }

    /// `Companion::resolve_site_as_copy`.
    #[wasm_bindgen(js_name = resolveSiteAsCopy)]
    pub fn resolve_site_as_copy(&mut self) {
        self.inner.resolve_site_as_copy()
    }

    /// `Companion::uninstall_url`.
    #[wasm_bindgen(js_name = uninstallUrl)]
    pub fn uninstall_url(&self, now: f64) -> Result<String, JsValue> {
        self.inner.uninstall_url(secs(now)).js()
    }

    /// `Companion::seal_state`.
    #[wasm_bindgen(js_name = sealState)]
    pub fn seal_state(&mut self, key: &[u8]) -> Result<String, JsValue> {
        self.with_entropy(|c, e| c.seal_state(key, e)).js()
    }

    /// `Companion::set_seal_key`: every persist action carries the state sealed with it.
    #[wasm_bindgen(js_name = setSealKey)]
    pub fn set_seal_key(&mut self, key: &[u8]) -> Result<(), JsValue> {
        self.inner.set_seal_key(key).js()
    }
}

impl WasmCompanion {
    fn step(&mut self, call: &mut WasmCall, event: Event, now: f64) -> Result<JsValue, JsValue> {
        action_out(self.with_entropy(|c, e| c.step(&mut call.0, event, secs(now), e)))
    }

    /// Runs `f` with the seeded stream if one is set (test builds), else the
    /// platform CSPRNG.
    pub(crate) fn with_entropy<T>(&mut self, f: impl FnOnce(&mut Companion, &mut dyn Entropy) -> T) -> T {
        #[cfg(feature = "test-hooks")]
        if let Some(s) = &mut self.seeded {
            return f(&mut self.inner, s);
        }
        f(&mut self.inner, &mut OsEntropy)
    }
}

/// Test hooks: only in test builds (feature `test-hooks`,
/// `scripts/build-wasm.sh --test-hooks`), never in the published package.
#[cfg(feature = "test-hooks")]
#[wasm_bindgen(js_class = CompanionCore)]
impl WasmCompanion {
    /// Draw randomness from `SeededEntropy::new(seed)` (32 bytes) from now on,
    /// one stream across calls; `undefined` returns to the platform CSPRNG.
    #[wasm_bindgen(js_name = useSeededEntropy)]
    pub fn use_seeded_entropy(&mut self, seed: Option<Vec<u8>>) -> Result<(), JsValue> {
        self.seeded = match seed {
            Some(seed) => Some(SeededEntropy::new(
                seed.as_slice()
                    .try_into()
                    .map_err(|_| to_js(&Error::InvalidInput { field: "seed", reason: "must be exactly 32 bytes" }))?,
            )),
            None => None,
        };
        Ok(())
    }

    /// `Companion::connect_url_with_state`: a caller-chosen `state` (vectors).
    #[wasm_bindgen(js_name = connectUrlWithState)]
    pub fn connect_url_with_state(
        &mut self,
        return_url: &str,
        scope: Option<String>,
        now: f64,
        state: &str,
    ) -> Result<String, JsValue> {
        self.inner.connect_url_with_state(return_url, scope.as_deref(), secs(now), state).js()
    }
}

#[wasm_bindgen(js_class = CallCore)]
impl WasmCall {
    /// Attempts sent so far for the current request.
    pub fn attempts(&self) -> u32 {
        self.0.attempts()
    }

    /// The `Idempotency-Key` used on every attempt, once the first is signed.
    #[wasm_bindgen(js_name = idempotencyKey)]
    pub fn idempotency_key(&self) -> Option<String> {
        self.0.idempotency_key().map(str::to_owned)
    }
}

//! The plugin-side facade: `CompanionCore` (wrapped by the JS `Companion`)
//! and `CallCore`, one step-machine run.

use tessera_core::Entropy;
use tessera_core::Error;
use tessera_core::OsEntropy;
use tessera_core::RemoteStep;
#[cfg(feature = "test-hooks")]
use tessera_core::SeededEntropy;
use tessera_core::{
    Action, ApiRequest, Call, Companion, Completion, Config, Event, OwnershipProof, Registration, RegistrationOutcome,
    RetryPolicy, Routes, SignOptions, SiteCheck, TransportError,
};
use wasm_bindgen::prelude::*;

use crate::convert::{Obj, headers_in, request_out, response_in, response_out, secs, unsigned};
use crate::error::{IntoJs, to_js};

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

/// `{ result, error }`: `error` is the step's TesseraError, or `null`.
pub(crate) fn remote_step(step: &RemoteStep) -> JsValue {
    Obj::new().set("result", step.as_str()).set("error", step.error().map_or(JsValue::NULL, to_js)).done()
}

/// `{ outcome: "registered" }` or `{ outcome: "ownership_challenge", proof }`.
fn registration_out(outcome: &RegistrationOutcome) -> JsValue {
    let out = Obj::new().set("outcome", outcome.as_str());
    match outcome {
        RegistrationOutcome::Registered => out.done(),
        RegistrationOutcome::OwnershipChallenge(proof) => out.set("proof", proof_out(proof)).done(),
    }
}

/// What an operation completes with, as the JS API returns it.
fn completion_out(completion: &Completion) -> JsValue {
    match completion {
        Completion::Response(resp) => response_out(resp),
        Completion::Registration(outcome) => registration_out(outcome),
        Completion::Disconnected { remote } => Obj::new().set("remote", remote_step(remote)).done(),
        Completion::Uninstalled(report) => Obj::new()
            .set("disconnect", remote_step(&report.disconnect))
            .set("deregister", remote_step(&report.deregister))
            .done(),
        Completion::Reset { disconnect, deregister, registration } => Obj::new()
            .set("disconnect", remote_step(disconnect))
            .set("deregister", remote_step(deregister))
            .set("registration", registration_out(registration))
            .done(),
        Completion::SiteMoved => JsValue::UNDEFINED,
        Completion::Connected { account } => Obj::new().set("account", account_out(account)).done(),
        Completion::PreviousRevoked { revoked } => Obj::new().set("revoked", *revoked).done(),
        Completion::Recorded { response, event } => crate::records::recorded_out(response, event),
    }
}

/// `{ id, name }`: the Stora account a connect completed with.
fn account_out(account: &tessera_core::Account) -> JsValue {
    Obj::new().set("id", account.id.as_str()).set("name", account.name.as_str()).done()
}

/// An action as `{ type, ... }`; a failed `Done` is thrown as its TesseraError.
fn action_out(action: Action) -> Result<JsValue, JsValue> {
    Ok(match action {
        Action::Send(req) => Obj::new().set("type", "send").set("request", request_out(&req)).done(),
        Action::Sleep(ms) => Obj::new().set("type", "sleep").set("ms", ms as f64).done(),
        Action::Persist(state) => Obj::new().set("type", "persist").set("state", state).done(),
        Action::ServeProof(proof) => Obj::new().set("type", "serve_proof").set("proof", proof_out(&proof)).done(),
        Action::Done(Err(e)) => return Err(to_js(&e)),
        Action::Done(Ok(completion)) => Obj::new().set("type", "done").set("value", completion_out(&completion)).done(),
    })
}

#[wasm_bindgen(js_class = CompanionCore)]
impl WasmCompanion {
    /// `Companion::create`: route and retry fields left `undefined` keep their defaults.
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
        Companion::create(Config { broker_url, routes, retry }).js().map(WasmCompanion::from)
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
    fn with_entropy<T>(&mut self, f: impl FnOnce(&mut Companion, &mut dyn Entropy) -> T) -> T {
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

fn proof_out(p: &OwnershipProof) -> JsValue {
    Obj::new().set("url", p.url.as_str()).set("path", p.path.as_str()).set("body", p.body.as_str()).done()
}

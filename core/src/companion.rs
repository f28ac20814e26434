//! [`Companion`]: the plugin-side facade over configuration and state.
//!
//! Every method is pure with respect to I/O: it reads and updates the state
//! value and returns requests to send, URLs to open, or outcomes. The host
//! persists [`Companion::to_json`] (preferably [`Companion::seal_state`]) after
//! any method that takes `&mut self`.

use crate::classify::classify;
use crate::clock;
use crate::config::Config;
use crate::connect::{
    CONNECT_CONTEXT, UNINSTALL_CONTEXT, canonical_query, check_return_url, check_scope, connect_pairs, link_signature,
};
use crate::encoding::b64url_encode;
use crate::entropy::{Entropy, random};
use crate::error::{Error, Result};
use crate::http::{ApiRequest, Request, Response};
use crate::registration::{
    OwnershipProof, Registration, RegistrationOutcome, check_registration, ownership_path, ownership_proof,
    registration_body, site_identity,
};
use crate::seal;
use crate::secret::Secret;
use crate::sign::{SignInput, SignOptions, sign};
use crate::state::{Installation, PendingConnect, State, Status};
use crate::url::Url;

/// A registration answer whose `Date` differs from the local clock by more
/// than this many seconds sets the clock offset.
pub const SKEW_LEARN_THRESHOLD_SECS: i64 = 60;

/// What a signed request is for: which registration states may sign it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// API calls, connect links: a confirmed, proven, matching registration.
    Api,
    /// Disconnect and deregister: also while a site move awaits its proof.
    Leave,
    /// `PATCH /installations/{id}`: while the site mismatch is recorded.
    SiteMove,
    /// Signed as the installation itself, never with the broker token: the
    /// connect completion (§5.4.1), revoking a previous installation (§5.11).
    Installation,
}

/// Result of [`Companion::check_site`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(tag = "kind", rename_all = "snake_case"))]
pub enum SiteCheck {
    /// The site URL matches the registration.
    Same,
    /// Nothing is registered yet.
    NotRegistered,
    /// The site URL differs: signing stops until the host resolves it with
    /// [`Companion::resolve_site_as_copy`] or [`Companion::start_site_moved`].
    Mismatch {
        /// URL at registration.
        registered: String,
        /// URL now.
        current: String,
    },
}

/// The plugin side of one installation: configuration plus state.
///
/// ```
/// use tessera_core::{Companion, Config, Registration, SeededEntropy, Response};
///
/// let mut rng = SeededEntropy::new([7; 32]); // use OsEntropy (feature `getrandom`) in production
/// let mut companion = Companion::create(Config::new("https://broker.example"))?;
/// let request = companion.registration_request(
///     &Registration {
///         site_url: "https://shop.example".into(),
///         admin_email: "owner@shop.example".into(),
///         platform: "wordpress".into(),
///         plugin_version: "1.0.0".into(),
///     },
///     &mut rng,
/// )?;
/// assert_eq!(request.url, "https://broker.example/installations");
/// // ... the host POSTs `request` and hands back the response:
/// companion.handle_registration_response_at(&Response::new(201, b"{}".to_vec()), 1_700_000_000)?;
/// assert_eq!(companion.status().as_str(), "registered");
/// let state_json = companion.to_json(); // persist this (sealed)
/// # let _ = state_json;
/// # Ok::<(), tessera_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Companion {
    pub(crate) state: State,
    pub(crate) broker: Url,
    /// When set, every [`crate::Action::Persist`] carries the state sealed
    /// with it: hosts get exactly what they store.
    pub(crate) seal_key: Option<seal::SealKey>,
}

fn validate_config(config: &Config) -> Result<Url> {
    let url = Url::parse(&config.broker_url, "broker_url")?;
    if url.scheme() == "http" && !url.is_loopback() {
        return Err(Error::InsecureBrokerUrl);
    }
    if url.query().is_some() {
        return Err(Error::InvalidUrl { field: "broker_url", reason: "must not have a query" });
    }
    let r = &config.routes;
    for route in [&r.installations, &r.connect, &r.disconnect, &r.connect_complete] {
        let joined = url.append_path(route, "routes")?;
        if joined.query().is_some() {
            return Err(Error::InvalidUrl { field: "routes", reason: "must not have a query" });
        }
    }
    #[cfg(not(feature = "proxy"))]
    if config.proxy.is_some() {
        return Err(Error::InvalidInput { field: "proxy", reason: "authorization-proxy mode is not in this build" });
    }
    if let Some(proxy) = &config.proxy {
        let stora = Url::parse(&proxy.stora_api_url, "stora_api_url")?;
        if stora.scheme() == "http" && !stora.is_loopback() {
            return Err(Error::InsecureBrokerUrl);
        }
        if stora.query().is_some() {
            return Err(Error::InvalidUrl { field: "stora_api_url", reason: "must not have a query" });
        }
        for route in [&proxy.token, &proxy.refresh, &proxy.revoke] {
            if url.append_path(route, "routes")?.query().is_some() {
                return Err(Error::InvalidUrl { field: "routes", reason: "must not have a query" });
            }
        }
        if proxy.refresh_margin_secs > 3_600 {
            return Err(Error::InvalidInput { field: "proxy", reason: "refresh_margin_secs is at most 3600" });
        }
    }
    let r = &config.retry;
    if !(1..=10).contains(&r.max_attempts)
        || r.max_delay_ms > 600_000
        || r.max_total_delay_ms > 3_600_000
        || r.max_retry_after_ms > 3_600_000
    {
        return Err(Error::InvalidInput {
            field: "retry",
            reason: "out of range (1-10 attempts, delays up to an hour)",
        });
    }
    Ok(url)
}

impl Companion {
    /// A fresh companion for the broker in `config`.
    ///
    /// The broker URL must be `https`, or `http` to a loopback host (tests).
    pub fn create(config: Config) -> Result<Companion> {
        let broker = validate_config(&config)?;
        Ok(Companion { state: State::new(config), broker, seal_key: None })
    }

    /// Restores a companion from [`Companion::to_json`] output.
    pub fn from_json(json: &str) -> Result<Companion> {
        let state = State::from_json(json)?;
        let broker = validate_config(&state.config)?;
        Ok(Companion { state, broker, seal_key: None })
    }

    /// The state as JSON. It contains the secret and the broker token: store
    /// it sealed or where only the plugin can read it.
    pub fn to_json(&self) -> String {
        self.state.to_json()
    }

    /// The state value.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// Where the installation stands.
    pub fn status(&self) -> Status {
        self.state.status
    }

    /// The install id, once one exists.
    pub fn install_id(&self) -> Option<&str> {
        self.state.installation.as_ref().map(|i| i.id.as_str())
    }

    /// The registered site URL.
    pub fn site_url(&self) -> Option<&str> {
        self.state.installation.as_ref().map(|i| i.site_url.as_str())
    }

    /// Why a reconnect is required, when it is.
    pub fn reconnect_reason(&self) -> Option<&str> {
        self.state.reconnect_reason.as_deref()
    }

    /// The learned clock offset (broker minus local), seconds.
    pub fn clock_offset(&self) -> i64 {
        self.state.clock_offset
    }

    // ---- registration -------------------------------------------------------

    /// Builds the unsigned `POST /installations` request (low level: hosts use
    /// [`Companion::start_registration`], which also persists the secret
    /// before sending, retries and serves the ownership proof). A new install
    /// id and secret are generated unless a registration is still pending
    /// (then the same ones are sent again, e.g. after serving a proof).
    pub fn registration_request(&mut self, reg: &Registration, entropy: &mut dyn Entropy) -> Result<Request> {
        self.prepare_registration(reg, entropy)?;
        self.registration_post()
    }

    /// Creates (or refreshes, when pending) the installation for `reg`.
    pub(crate) fn prepare_registration(&mut self, reg: &Registration, entropy: &mut dyn Entropy) -> Result<()> {
        let site = check_registration(reg)?;
        if !self.registration_reuses(&site)? {
            let id = format!("ins_{}", b64url_encode(&random::<16>(entropy)));
            let raw = zeroize::Zeroizing::new(random::<32>(entropy));
            let secret = Secret::from_bytes(raw.as_slice())?;
            self.state.installation = Some(Installation {
                id,
                site_url: String::new(),
                admin_email: String::new(),
                secret,
                platform: String::new(),
                plugin_version: String::new(),
                confirmed: false,
                challenge: None,
                invalid_reason: None,
            });
            self.state.broker_token = None;
            self.state.tokens = None;
            self.state.retired_refresh = None;
            self.state.token_generation = 0;
            self.state.account = None;
            self.state.pending_connect = None;
            self.state.reconnect_reason = None;
            self.state.site_mismatch = None;
        }
        let inst = self.state.installation.as_mut().ok_or(Error::Internal("installation just set"))?;
        inst.site_url = site;
        inst.admin_email = reg.admin_email.clone();
        inst.platform = reg.platform.clone();
        inst.plugin_version = reg.plugin_version.clone();
        self.state.refresh();
        Ok(())
    }

    /// Whether a registration for the normalised `site` may proceed, and if
    /// so whether it reuses the installation in the state (pending, awaiting
    /// its proof, or a site move's proof round) rather than drawing a new one.
    pub(crate) fn registration_reuses(&self, site: &str) -> Result<bool> {
        match &self.state.installation {
            None => Ok(false),
            Some(i) if i.invalid_reason.is_some() => Ok(false),
            Some(i) if i.confirmed && i.challenge.is_none() => {
                Err(Error::InvalidState("already registered; uninstall or reset first to register again"))
            }
            // A pending site move proves the address it moved to, nothing else.
            Some(i) if i.confirmed && i.site_url != site => {
                Err(Error::SiteMismatch { registered: i.site_url.clone(), current: site.to_owned() })
            }
            Some(_) => Ok(true),
        }
    }

    /// The registration POST for the installation in the state.
    pub(crate) fn registration_post(&self) -> Result<Request> {
        let inst = self.state.installation.as_ref().ok_or(Error::NotRegistered)?;
        let body = registration_body(inst).into_bytes();
        let url = self.broker.append_path(&self.state.config.routes.installations, "routes")?;
        Ok(Request {
            method: "POST".into(),
            url: url.to_string(),
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        })
    }

    /// Interprets the broker's answer to the registration request at local
    /// time `now` (unix seconds).
    pub fn handle_registration_response_at(&mut self, resp: &Response, now: i64) -> Result<RegistrationOutcome> {
        if !matches!(&self.state.installation, Some(i) if !i.confirmed || i.invalid_reason.is_some() || i.challenge.is_some())
        {
            return Err(Error::InvalidState("no registration is pending"));
        }
        let outcome = classify(resp, now);
        let reason = || outcome.code.clone().unwrap_or_else(|| format!("http_{}", resp.status));
        // Learn a large clock skew from the broker's Date already here: the
        // connect URL is signed before any API call could teach it, and a
        // skewed plugin could otherwise never connect.
        if let (200..=202, Some(server)) = (resp.status, outcome.server_date)
            && server.abs_diff(now) > SKEW_LEARN_THRESHOLD_SECS as u64
        {
            self.state.clock_offset = clock::offset_from(server, now);
        }
        let inst = self.state.installation.as_mut().ok_or(Error::Internal("installation checked above"))?;
        let result = match resp.status {
            200 | 201 => {
                inst.confirmed = true;
                inst.challenge = None;
                inst.invalid_reason = None;
                Ok(RegistrationOutcome::Registered)
            }
            202 => {
                inst.challenge = Some(crate::registration::parse_challenge(&resp.body)?);
                self.state.refresh();
                return self.ownership_proof().map(RegistrationOutcome::OwnershipChallenge);
            }
            409 if inst.confirmed => Err(Error::RegistrationConflict),
            409 => {
                // A fresh id is generated on the next attempt; nothing confirmed is lost.
                self.state.installation = None;
                Err(Error::RegistrationConflict)
            }
            403 if !inst.confirmed
                && inst.challenge.is_none()
                && outcome.code.as_deref() == Some("ownership_proof_invalid") =>
            {
                // The broker issued a challenge this installation never saw (its
                // 202 was lost): every repeat with this id would fail the proof
                // again. Start over with a fresh id next time; nothing confirmed
                // is lost, and the broker's pending record expires.
                self.state.installation = None;
                Err(Error::RegistrationRejected { status: 403, reason: reason() })
            }
            429 => Err(Error::RateLimited { retry_after_ms: outcome.retry_after_ms.unwrap_or(0) }),
            408 | 500..=599 => Err(Error::ServerUnavailable { status: Some(resp.status), attempts: 1 }),
            status => Err(Error::RegistrationRejected { status, reason: reason() }),
        };
        self.state.refresh();
        result
    }

    /// The ownership proof to serve while a challenge is outstanding.
    pub fn ownership_proof(&self) -> Result<OwnershipProof> {
        let inst = self.state.installation.as_ref().ok_or(Error::NotRegistered)?;
        let challenge = inst.challenge.as_ref().ok_or(Error::InvalidState("no ownership challenge is outstanding"))?;
        let path = ownership_path(&inst.id);
        Ok(OwnershipProof {
            url: format!("{}{path}", inst.site_url),
            path,
            body: ownership_proof(&inst.secret, &inst.id, challenge),
        })
    }

    /// The registration, if it is confirmed, valid and the site matches.
    pub(crate) fn usable_installation(&self) -> Result<&Installation> {
        let inst = self.state.installation.as_ref().ok_or(Error::NotRegistered)?;
        if let Some(current) = &self.state.site_mismatch {
            return Err(Error::SiteMismatch { registered: inst.site_url.clone(), current: current.clone() });
        }
        if let Some(reason) = &inst.invalid_reason {
            return Err(Error::RegistrationInvalid { reason: reason.clone() });
        }
        if !inst.confirmed {
            return Err(Error::NotRegistered);
        }
        if inst.challenge.is_some() {
            return Err(Error::InvalidState("the site move waits for its ownership proof; finish the registration"));
        }
        Ok(inst)
    }

    /// The registration a signed request for `purpose` may use.
    pub(crate) fn signing_installation(&self, purpose: Purpose) -> Result<&Installation> {
        match purpose {
            Purpose::Api | Purpose::Installation => self.usable_installation(),
            // Leaving must stay possible while a site move waits for its
            // proof: the broker still holds the unchanged secret and the grant.
            Purpose::Leave => {
                let inst = self.state.installation.as_ref().ok_or(Error::NotRegistered)?;
                if inst.challenge.is_some()
                    && inst.confirmed
                    && inst.invalid_reason.is_none()
                    && self.state.site_mismatch.is_none()
                {
                    return Ok(inst);
                }
                self.usable_installation()
            }
            Purpose::SiteMove => self.state.installation.as_ref().filter(|i| i.confirmed).ok_or(Error::NotRegistered),
        }
    }

    // ---- connect ------------------------------------------------------------

    /// Builds the broker connect URL to open in the browser and records the
    /// pending connect (persist the state afterwards). Allowed while connected:
    /// that is a reconnect, and the current token stays until
    /// [`Companion::start_complete_connect`] succeeds.
    pub fn connect_url(
        &mut self,
        return_url: &str,
        scope: Option<&str>,
        now: i64,
        entropy: &mut dyn Entropy,
    ) -> Result<String> {
        let state = b64url_encode(&random::<16>(entropy));
        self.connect_url_with_state(return_url, scope, now, &state)
    }

    /// [`Companion::connect_url`] with a caller-chosen `state` (16-128
    /// characters of `[A-Za-z0-9._~-]`), for reproducible test vectors.
    /// Production code uses [`Companion::connect_url`], which draws `state`
    /// from 16 random bytes.
    pub fn connect_url_with_state(
        &mut self,
        return_url: &str,
        scope: Option<&str>,
        now: i64,
        state: &str,
    ) -> Result<String> {
        if state.len() < 16 || !crate::sign::is_profile_token(state) {
            return Err(Error::InvalidInput { field: "state", reason: "must be 16-128 characters of [A-Za-z0-9._~-]" });
        }
        let state = state.to_owned();
        check_return_url(return_url)?;
        if let Some(s) = scope {
            check_scope(s)?;
        }
        let inst = self.usable_installation()?;
        let ts = clock::corrected(now, self.state.clock_offset)?.to_string();
        let pairs = connect_pairs(&inst.id, &state, return_url, scope, &ts);
        let sig = link_signature(&inst.secret, CONNECT_CONTEXT, &pairs);
        let base = self.broker.append_path(&self.state.config.routes.connect, "routes")?;
        let url = format!("{base}?{}&sig={sig}", canonical_query(&pairs));
        self.state.pending_connect = Some(PendingConnect { state, created: now, return_url: return_url.to_owned() });
        self.state.refresh();
        Ok(url)
    }

    // ---- signing ------------------------------------------------------------

    /// Signs `req` for the broker. `opts.now` is local unix seconds; the
    /// learned clock offset is added. Missing nonce / idempotency key are drawn
    /// from `entropy`. The broker token, when held, is sent as a bearer token.
    pub fn sign_request(&self, req: &ApiRequest, opts: &SignOptions, entropy: &mut dyn Entropy) -> Result<Request> {
        self.sign_as(req, opts, entropy, Purpose::Api)
    }

    pub(crate) fn sign_as(
        &self,
        req: &ApiRequest,
        opts: &SignOptions,
        entropy: &mut dyn Entropy,
        purpose: Purpose,
    ) -> Result<Request> {
        let inst = self.signing_installation(purpose)?;
        let url = self.broker.append_path(&req.path, "path")?;
        let opts = SignOptions { now: clock::corrected(opts.now, self.state.clock_offset)?, ..opts.clone() };
        sign(
            &SignInput {
                secret: &inst.secret,
                keyid: &inst.id,
                method: &req.method,
                url: &url,
                headers: &req.headers,
                body: &req.body,
                token: if purpose == Purpose::Installation { None } else { self.state.broker_token.as_ref() },
            },
            &opts,
            entropy,
        )
    }

    // ---- site identity ------------------------------------------------------

    /// Compares the site URL the host reports now with the registered one.
    /// A mismatch is recorded (persist afterwards) and blocks signing until
    /// resolved; a match clears an earlier mismatch.
    pub fn check_site(&mut self, current_url: &str) -> Result<SiteCheck> {
        let current = site_identity(current_url, "current_url")?;
        let Some(inst) = &self.state.installation else { return Ok(SiteCheck::NotRegistered) };
        let registered = inst.site_url.clone();
        let check = if registered == current {
            self.state.site_mismatch = None;
            SiteCheck::Same
        } else {
            self.state.site_mismatch = Some(current.clone());
            SiteCheck::Mismatch { registered, current }
        };
        self.state.refresh();
        Ok(check)
    }

    /// "This is a copy": forget the registration copied from the original so
    /// this site registers afresh. Nothing is sent: a copy must never
    /// disconnect or deregister the original.
    pub fn resolve_site_as_copy(&mut self) {
        self.state.installation = None;
        self.state.broker_token = None;
        // A copy never uses (nor revokes) the original's Stora tokens.
        self.state.tokens = None;
        self.state.retired_refresh = None;
        self.state.token_generation = 0;
        self.state.account = None;
        self.state.pending_connect = None;
        self.state.reconnect_reason = None;
        self.state.site_mismatch = None;
        self.state.refresh();
    }

    // ---- links ----------------------------------------------------------------

    /// A signed, expiring deregistration link for `chrome.runtime.setUninstallURL`
    /// (`GET {broker}/installations/{id}/uninstall?ts&sig`); it never carries the secret.
    pub fn uninstall_url(&self, now: i64) -> Result<String> {
        let inst = self.usable_installation()?;
        let ts = clock::corrected(now, self.state.clock_offset)?.to_string();
        let pairs = [("install_id", inst.id.as_str()), ("ts", ts.as_str())];
        let sig = link_signature(&inst.secret, UNINSTALL_CONTEXT, &pairs);
        let path = format!("{}/{}/uninstall", self.state.config.routes.installations, inst.id);
        let base = self.broker.append_path(&path, "routes")?;
        Ok(format!("{base}?ts={ts}&sig={sig}"))
    }

    // ---- sealed state -----------------------------------------------------------

    /// The state sealed under `key_material` (≥ 16 bytes) with a fresh nonce.
    pub fn seal_state(&self, key_material: &[u8], entropy: &mut dyn Entropy) -> Result<String> {
        let json = zeroize::Zeroizing::new(self.to_json());
        seal::seal(json.as_bytes(), key_material, random::<24>(entropy))
    }

    /// Opens a sealed state. Any failure to open is [`Error::StateUndecryptable`].
    /// The companion keeps `key_material` as its seal key
    /// ([`Companion::set_seal_key`]): what it asks the host to persist is
    /// sealed the same way.
    pub fn open_state(sealed: &str, key_material: &[u8]) -> Result<Companion> {
        let plain = seal::open(sealed, key_material)?;
        let json = std::str::from_utf8(&plain).map_err(|_| Error::StateCorrupt("sealed state is not UTF-8".into()))?;
        let mut companion = Companion::from_json(json)?;
        companion.set_seal_key(key_material)?;
        Ok(companion)
    }

    /// From now on every [`crate::Action::Persist`] carries the state sealed
    /// under `key_material` (≥ 16 bytes; [`Companion::seal_state`]'s format,
    /// a fresh nonce each time) instead of its JSON: the host stores what it
    /// is given and reopens it with [`Companion::open_state`].
    pub fn set_seal_key(&mut self, key_material: &[u8]) -> Result<()> {
        self.seal_key = Some(seal::SealKey::new(key_material)?);
        Ok(())
    }

    /// What the host stores now, after a method that changed the state
    /// outside the step machine (`connect_url`, `check_site`, …): the state
    /// sealed with the seal key when one was set (as every
    /// [`crate::Action::Persist`] carries it), else its JSON.
    pub fn persisted_state(&self, entropy: &mut dyn Entropy) -> Result<String> {
        self.persisted_form(self.to_json(), entropy)
    }

    /// What the host persists for the state `json` (already serialised by
    /// the step that asks to persist it): sealed with the seal key when one
    /// was given (a fresh 24-byte nonce from `entropy`), else `json` itself.
    pub(crate) fn persisted_form(&self, json: String, entropy: &mut dyn Entropy) -> Result<String> {
        match &self.seal_key {
            Some(key) => {
                let json = zeroize::Zeroizing::new(json);
                seal::seal(json.as_bytes(), key.expose(), random::<24>(entropy))
            }
            None => Ok(json),
        }
    }
}

//! `Tessera\Companion`: the plugin side of one installation.
// PHP parameter names are camelCase (they are the named-argument names), so
// the Rust parameters that become them are too.
#![allow(non_snake_case)]

use std::cell::RefCell;

use ext_php_rs::boxed::ZBox;
use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendHashTable;
use tessera_core::classify;
use tessera_core::{Call, Completion, Registration};
use tessera_core::{Companion as CoreCompanion, SiteCheck};
use tessera_core::{Config, SignOptions};

use crate::convert::{
    ArrayArg, Assoc, CallableArg, Completed, OptArrayArg, OptCallableArg, OptIntArg, OptStrArg, StrArg,
    api_request_from_php, completion_to_php, from_php, header_map_from_php, json_to_zval, proof_to_php, request_to_php,
    response_from_php,
};
use crate::errors::{Failure, Res, busy, guard, invalid};
use crate::events::{Limit, events_to_php};
use crate::host::{Host, TestHooks, call_php, drive, now, unix_now, with_entropy};
use crate::records;
use crate::refresh_lock::RefreshLock;

/// The plugin side of one installation: configuration plus state. Give it a
/// seal key and store what `$persist` receives; after a method without a
/// `$persist` that changes the state, store `sealState()` (or `exportState()`,
/// which holds the secret).
#[php_class]
#[php(name = "Tessera\\Companion")]
#[php(flags = ext_php_rs::flags::ClassFlags::Final)]
pub struct Companion {
    inner: RefCell<CoreCompanion>,
    /// Where randomness and `now` come from: the system, or in test builds
    /// what `Tessera\Testing\useSeededEntropy()` / `useClock()` set.
    hooks: RefCell<TestHooks>,
    /// `setRefreshLock()`'s callables (authorization-proxy mode).
    refresh_lock: RefCell<Option<RefreshLock>>,
}

impl Companion {
    fn wrap(inner: CoreCompanion) -> Companion {
        Companion { inner: RefCell::new(inner), hooks: RefCell::default(), refresh_lock: RefCell::default() }
    }

    fn with<T>(&self, f: impl FnOnce(&CoreCompanion) -> T) -> Res<T> {
        Ok(f(&*self.inner.try_borrow().map_err(|_| busy())?))
    }

    fn with_mut<T>(&self, f: impl FnOnce(&mut CoreCompanion) -> T) -> Res<T> {
        Ok(f(&mut *self.inner.try_borrow_mut().map_err(|_| busy())?))
    }

    /// Runs `f` on the companion with its entropy (OS, or the seeded test stream).
    fn with_entropy<T>(&self, f: impl FnOnce(&mut CoreCompanion, &mut dyn tessera_core::Entropy) -> T) -> Res<T> {
        let mut inner = self.inner.try_borrow_mut().map_err(|_| busy())?;
        with_entropy(&self.hooks, |entropy| f(&mut inner, entropy))
    }

    /// `$now` when given, else the host clock (`useClock()`, or the system's).
    fn now_or(&self, given: &OptIntArg<'_>) -> Res<i64> {
        match given.get("now")? {
            Some(now) => Ok(now),
            None => now(&self.hooks),
        }
    }

    /// The host's callables for one operation, `setRefreshLock()`'s included.
    fn host<'a>(
        &self,
        transport: &CallableArg<'a>,
        sleep: &OptCallableArg<'a>,
        persist: &OptCallableArg<'a>,
        serve_proof: Option<&OptCallableArg<'a>>,
    ) -> Res<Host<'a>> {
        let locks = self.refresh_lock.try_borrow().map_err(|_| busy())?;
        Ok(Host {
            transport: transport.get("transport")?,
            sleep: sleep.get("sleep")?,
            persist: persist.get("persist")?,
            serve_proof: serve_proof.map(|f| f.get("serveProof")).transpose()?.flatten(),
            locks: locks.as_ref().map(RefreshLock::callables).transpose()?,
        })
    }

    /// Authorization-proxy mode refuses `call()` and `callAndRecord()` before
    /// any action when the host gave no refresh lock: a refresh would need it.
    fn require_refresh_lock(&self) -> Res<()> {
        let proxy = self.with(|c| c.config().proxy.is_some())?;
        if proxy && self.refresh_lock.try_borrow().map_err(|_| busy())?.is_none() {
            return Err(invalid(
                "setRefreshLock",
                "authorization-proxy mode needs the host's refresh lock before call() and callAndRecord()",
            ));
        }
        Ok(())
    }

    /// Runs an operation on the step machine with the host's callables and
    /// returns its completion as PHP.
    fn run(&self, start: impl FnOnce(&CoreCompanion) -> tessera_core::Result<Call>, host: &Host<'_>) -> Res<Completed> {
        let call = self.with(start)??;
        Ok(Completed(completion_to_php(&drive(&self.inner, &self.hooks, call, host)?)?))
    }
}

/// For `crate::testing` (test builds only: feature `test-hooks`).
#[cfg(feature = "test-hooks")]
impl Companion {
    pub(crate) fn test_hooks(&self) -> &RefCell<TestHooks> {
        &self.hooks
    }

    /// `connectUrl()` with a caller-chosen `state` (vectors, machine scripts).
    pub(crate) fn connect_url_with_state(
        &self,
        return_url: &str,
        scope: Option<&str>,
        now: &OptIntArg<'_>,
        state: &StrArg<'_>,
    ) -> Res<String> {
        let now = self.now_or(now)?;
        let state = state.utf8("state")?;
        Ok(self.with_mut(|c| c.connect_url_with_state(return_url, scope, now, state))??)
    }
}

/// A core value with a serde form that is a JSON object, as a PHP array.
fn to_php_array<T: serde::Serialize>(value: &T) -> Res<ZBox<ZendHashTable>> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => {
            Ok(map.iter().fold(Assoc::new(), |a, (k, v)| a.with(k, json_to_zval(v))).build())
        }
        _ => Err(Failure::Core(tessera_core::Error::Internal("serialising a result"))),
    }
}

#[php_impl]
impl Companion {
    /// Not constructible with `new`: use `create()`, `importState()` or
    /// `openState()`. (PHP classes backed by Rust always have a constructor.)
    ///
    /// @throws \Tessera\Exception\InvalidStateException always
    pub fn __construct() -> Res<Companion> {
        Err(Failure::Core(tessera_core::Error::InvalidState(
            "create a Companion with Companion::create(), importState() or openState()",
        )))
    }

    /// A fresh, unregistered companion. `$config`: `broker_url` (https, or
    /// http to a loopback host), optional `routes` (`installations`,
    /// `connect`, `disconnect`, `connect_complete`) and `retry` (`max_attempts`, `base_delay_ms`,
    /// `max_delay_ms`, `max_total_delay_ms`, `max_retry_after_ms`) and `proxy`
    /// (authorization-proxy mode: `stora_api_url`, optional
    /// `refresh_margin_secs`, `token`, `refresh`, `revoke`; then give it
    /// `setRefreshLock()`).
    ///
    /// With `$sealKey` (at least 16 bytes, e.g. WordPress' salts) every
    /// `$persist` callable is handed the state sealed under it (as
    /// `sealState()` makes it; reopen with `openState()`) instead of its JSON.
    ///
    /// @throws \Tessera\Exception\InvalidInputException also when `$sealKey` is shorter than 16 bytes
    pub fn create(config: ArrayArg, sealKey: OptStrArg) -> Res<Companion> {
        guard(|| {
            config.get("config")?;
            let config: Config = from_php(config.0, "config")?;
            let key = sealKey.bytes("sealKey")?;
            let mut companion = CoreCompanion::create(config)?;
            if let Some(key) = key {
                companion.set_seal_key(key)?;
            }
            Ok(Companion::wrap(companion))
        })
    }

    /// Restores a companion from `exportState()` output. With `$sealKey` (at
    /// least 16 bytes) every `$persist` callable is handed the state sealed
    /// under it, as for `create()`.
    ///
    /// @throws \Tessera\Exception\InvalidStateException when the JSON is corrupt or from a newer version
    /// @throws \Tessera\Exception\InvalidInputException when `$sealKey` is shorter than 16 bytes
    pub fn import_state(json: StrArg, sealKey: OptStrArg) -> Res<Companion> {
        guard(|| {
            let json = json.utf8("json")?;
            let key = sealKey.bytes("sealKey")?;
            let mut companion = CoreCompanion::from_json(json)?;
            if let Some(key) = key {
                companion.set_seal_key(key)?;
            }
            Ok(Companion::wrap(companion))
        })
    }

    /// The state as JSON, for `importState()`. It contains the secret and the
    /// broker token: whoever reads it can act as this installation. Prefer a
    /// seal key (`create()`, `importState()`, `openState()`) and store what
    /// `$persist` receives, or `sealState()`; never log or display this.
    pub fn export_state(&self) -> Res<String> {
        guard(|| self.with(CoreCompanion::to_json))
    }

    /// Where the installation stands: `not_registered`, `registration_pending`,
    /// `awaiting_ownership`, `registered`, `connected`, `reconnect_required`,
    /// `registration_invalid` or `site_mismatch`.
    pub fn status(&self) -> Res<String> {
        guard(|| self.with(|c| c.status().as_str().to_owned()))
    }

    /// The install id, once one exists.
    pub fn install_id(&self) -> Res<Option<String>> {
        guard(|| self.with(|c| c.install_id().map(str::to_owned)))
    }

    /// The registered site URL.
    pub fn site_url(&self) -> Res<Option<String>> {
        guard(|| self.with(|c| c.site_url().map(str::to_owned)))
    }

    /// Why a reconnect is required, when it is.
    pub fn reconnect_reason(&self) -> Res<Option<String>> {
        guard(|| self.with(|c| c.reconnect_reason().map(str::to_owned)))
    }

    /// The learned clock offset (broker minus local), seconds.
    pub fn clock_offset(&self) -> Res<i64> {
        guard(|| self.with(CoreCompanion::clock_offset))
    }

    /// Registers this installation with the broker on the core's step
    /// machine (docs/HOST-CONTRACT.md): a new installation, one still
    /// pending, one the broker no longer accepts, the copy of a site, or the
    /// ownership round of a site move. `$registration`: `site_url`,
    /// `admin_email`, `platform`, `plugin_version`.
    ///
    /// The new secret is handed to `$persist` before anything is sent; 5xx,
    /// 408 and transport failures are retried (the POST is idempotent by
    /// install id). When the broker asks for an ownership proof,
    /// `$serveProof(array $proof)` must make `proof['body']` (`text/plain`)
    /// available at `proof['url']` and return anything but `false`; the
    /// registration is then sent again. Returning `false`, or passing no
    /// `$serveProof`, defers the proof: the result is `['outcome' =>
    /// 'ownership_challenge', 'proof' => ['url', 'path', 'body']]` and a later
    /// `register()` resumes the round (asking `$serveProof` again).
    /// Otherwise `['outcome' => 'registered']`. Transport, sleep and persist
    /// as for `call()`.
    ///
    /// @throws \Tessera\Exception\InvalidInputException
    /// @throws \Tessera\Exception\InvalidStateException when already registered
    /// @throws \Tessera\Exception\RegistrationInvalidException
    /// @throws \Tessera\Exception\RateLimitedException
    /// @throws \Tessera\Exception\ClientErrorException on a redirect (`redirected`)
    /// @throws \Tessera\Exception\ServerUnavailableException
    pub fn register(
        &self,
        registration: ArrayArg,
        transport: CallableArg,
        sleep: OptCallableArg,
        persist: OptCallableArg,
        serveProof: OptCallableArg,
    ) -> Res<Completed> {
        guard(|| {
            registration.get("registration")?;
            let reg: Registration = from_php(registration.0, "registration")?;
            let host = self.host(&transport, &sleep, &persist, Some(&serveProof))?;
            self.run(|c| c.start_registration(&reg), &host)
        })
    }

    /// Low level (hosts use `register()`, which also persists the secret
    /// before sending, retries and serves the ownership proof): the unsigned
    /// registration request to send (`method, url, headers, body`).
    /// `$registration`: `site_url`, `admin_email`, `platform`,
    /// `plugin_version`.
    ///
    /// @throws \Tessera\Exception\InvalidInputException
    /// @throws \Tessera\Exception\InvalidStateException when already registered
    pub fn registration_request(&self, registration: ArrayArg) -> Res<ZBox<ZendHashTable>> {
        guard(|| {
            registration.get("registration")?;
            let reg: Registration = from_php(registration.0, "registration")?;
            let req = self.with_entropy(|c, e| c.registration_request(&reg, e))??;
            Ok(request_to_php(&req))
        })
    }

    /// Low level (see `registrationRequest()`): interprets the broker's answer
    /// to the registration request: `['outcome' => 'registered']`, or
    /// `['outcome' => 'ownership_challenge', 'proof' => ['url', 'path',
    /// 'body']]` (serve `body` at `url`, then send `registrationRequest()`
    /// again).
    ///
    /// @throws \Tessera\Exception\RegistrationInvalidException
    /// @throws \Tessera\Exception\RateLimitedException
    /// @throws \Tessera\Exception\ClientErrorException on a redirect (`redirected`)
    /// @throws \Tessera\Exception\ServerUnavailableException
    pub fn handle_registration_response(&self, response: ArrayArg) -> Res<Completed> {
        guard(|| {
            let resp = response_from_php(response.get("response")?)?;
            let now = now(&self.hooks)?;
            let outcome = self.with_mut(|c| c.handle_registration_response_at(&resp, now))??;
            Ok(Completed(completion_to_php(&Completion::Registration(outcome))?))
        })
    }

    /// The ownership proof to serve while a challenge is outstanding:
    /// `['url', 'path', 'body']`.
    ///
    /// @throws \Tessera\Exception\InvalidStateException
    pub fn ownership_proof(&self) -> Res<ZBox<ZendHashTable>> {
        guard(|| Ok(proof_to_php(&self.with(CoreCompanion::ownership_proof)??).build()))
    }

    /// The broker connect URL to send the browser to; records the pending
    /// connect (persist afterwards) with a fresh random `state`. `$now`
    /// defaults to the clock.
    ///
    /// @throws \Tessera\Exception\InvalidInputException
    /// @throws \Tessera\Exception\InvalidStateException
    pub fn connect_url(&self, returnUrl: StrArg, scope: OptStrArg, now: OptIntArg) -> Res<String> {
        guard(|| {
            let return_url = returnUrl.utf8("returnUrl")?;
            let scope = scope.utf8("scope")?;
            let now = self.now_or(&now)?;
            Ok(self.with_entropy(|c, e| c.connect_url(return_url, scope, now, e))??)
        })
    }

    /// Completes the connect from the callback (the full return URL, or its
    /// query): checks it (`state`, once, within 10 minutes), then exchanges
    /// its single-use connect code for the broker token with a signed request
    /// (docs/PROTOCOL.md §5.4.1). Returns `['account' => ['id' => …, 'name'
    /// => …]]`: the Stora account the site is now connected to — show it to
    /// the operator. On any failure a previously held broker token is kept.
    /// Callables as for `call()`.
    ///
    /// @throws \Tessera\Exception\CallbackException
    /// @throws \Tessera\Exception\InvalidStateException when no connect is pending
    /// @throws \Tessera\Exception\ClientErrorException when the broker refuses the code
    /// @throws \Tessera\Exception\ServerUnavailableException
    pub fn complete_connect(
        &self,
        callback: StrArg,
        transport: CallableArg,
        sleep: OptCallableArg,
        persist: OptCallableArg,
    ) -> Res<Completed> {
        guard(|| {
            let callback = callback.utf8("callback")?;
            let host = self.host(&transport, &sleep, &persist, None)?;
            let now = now(&self.hooks)?;
            let call = self.with_mut(|c| c.start_complete_connect(callback, now))??;
            Ok(Completed(completion_to_php(&drive(&self.inner, &self.hooks, call, &host)?)?))
        })
    }

    /// The Stora account this site is connected to, `['id' => …, 'name' =>
    /// …]`, or `null` while not connected.
    pub fn account(&self) -> Res<Option<ZBox<ZendHashTable>>> {
        guard(|| self.with(|c| c.account().map(|a| Assoc::new().str("id", &a.id).str("name", &a.name).build())))
    }

    /// Signs an API request (`method`, `path` below the broker URL with an
    /// optional query, `headers`, `body`) and returns the request to send
    /// (`method, url, headers, body`). `$now`, `$nonce` and
    /// `$idempotencyKey` default to the clock and fresh random values; fix
    /// them for reproducible output.
    ///
    /// @throws \Tessera\Exception\InvalidInputException
    /// @throws \Tessera\Exception\InvalidStateException when not registered
    /// @throws \Tessera\Exception\SiteMismatchException
    pub fn sign_request(
        &self,
        request: ArrayArg,
        now: OptIntArg,
        nonce: OptStrArg,
        idempotencyKey: OptStrArg,
    ) -> Res<ZBox<ZendHashTable>> {
        guard(|| {
            let req = api_request_from_php(request.get("request")?)?;
            let opts = SignOptions {
                now: self.now_or(&now)?,
                nonce: nonce.utf8("nonce")?.map(str::to_owned),
                idempotency_key: idempotencyKey.utf8("idempotencyKey")?.map(str::to_owned),
            };
            let signed = self.with_entropy(|c, e| c.sign_request(&req, &opts, e))??;
            Ok(request_to_php(&signed))
        })
    }

    /// Classifies a broker response: `kind` (`ok`, `reconnect_required`,
    /// `registration_invalid`, `signature_expired`, `rate_limited`,
    /// `client_error`, `redirected`, `server_unavailable`), `status`, `code`,
    /// `retry_after_ms`, `server_date`. `$now` (for an HTTP-date
    /// `Retry-After`) defaults to the system clock.
    ///
    /// @throws \Tessera\Exception\InvalidInputException
    pub fn classify(response: ArrayArg, now: OptIntArg) -> Res<ZBox<ZendHashTable>> {
        guard(|| {
            let resp = response_from_php(response.get("response")?)?;
            let now = now.get("now")?.unwrap_or_else(unix_now);
            to_php_array(&classify(&resp, now))
        })
    }

    /// Sends a signed API call through the broker on the core's step machine
    /// (retries, backoff, clock skew, what to persist) and returns the
    /// broker's 2xx response (`status, headers, body`).
    ///
    /// `$transport(array $request): array` sends `method, url, headers, body`
    /// once, exactly as given and without following redirects, and returns
    /// `status, headers, body` whatever the status; it throws
    /// `Tessera\Exception\TransportException` when no response could be read.
    /// `$sleep(int $ms)` defaults to sleeping; `$persist(string $state)`
    /// must store what it is given before it returns: the state sealed under
    /// the seal key when the companion has one, else the state JSON.
    ///
    /// @throws \Tessera\Exception\ReconnectRequiredException
    /// @throws \Tessera\Exception\RegistrationInvalidException
    /// @throws \Tessera\Exception\RateLimitedException
    /// @throws \Tessera\Exception\ClientErrorException
    /// @throws \Tessera\Exception\ServerUnavailableException
    /// @throws \Tessera\Exception\SiteMismatchException
    pub fn call(
        &self,
        request: ArrayArg,
        transport: CallableArg,
        sleep: OptCallableArg,
        persist: OptCallableArg,
    ) -> Res<Completed> {
        guard(|| {
            let req = api_request_from_php(request.get("request")?)?;
            let host = self.host(&transport, &sleep, &persist, None)?;
            self.require_refresh_lock()?;
            self.run(|c| c.start_call(req), &host)
        })
    }

    /// Does `$request` as `call()` does, then records the Stora Timeline
    /// Event `$event` (`source_id`, `template_id`, optional `contact_id`,
    /// `site_id`, `description`, `external_url`, `variables`): `POST
    /// /api/timeline/events` with `external.id` = the call's Idempotency-Key
    /// and its own key `tle-<that key>`. Returns `['response' => [...],
    /// 'event' => ['ok' => true] | ['ok' => false, 'error' =>
    /// TesseraException]]`; a failed call throws and records nothing. The
    /// event is checked before anything is sent.
    ///
    /// @throws \Tessera\Exception\InvalidInputException for an invalid event
    /// @throws \Tessera\Exception\ClientErrorException and the other exceptions of `call()`
    pub fn call_and_record(
        &self,
        request: ArrayArg,
        event: ArrayArg,
        transport: CallableArg,
        sleep: OptCallableArg,
        persist: OptCallableArg,
    ) -> Res<Completed> {
        guard(|| {
            let req = api_request_from_php(request.get("request")?)?;
            let event = records::event_from_php(event.get("event")?)?;
            let host = self.host(&transport, &sleep, &persist, None)?;
            self.require_refresh_lock()?;
            self.run(|c| c.start_recorded_call(req, event), &host)
        })
    }

    /// Pulls Stora's events from the broker (docs/PROTOCOL.md §14.3): a
    /// signed `GET /events?after=<cursor>&limit=<n>` after the stored cursor,
    /// run as `call()` runs a `GET`. Returns `['events' => [['id' => …,
    /// 'type' => …, 'api_version' => …, 'created_at' => int, 'data' =>
    /// array, 'data_json' => string], …], 'cursor' => string, 'has_more' =>
    /// bool]` (`data`: `data_json` through `json_decode($json, true, 512,
    /// JSON_BIGINT_AS_STRING)`). The cursor moves only with
    /// `acknowledgeEvents()`. `$limit`: 1 to 100 (`null`: 50). Callables as
    /// for `call()`.
    ///
    /// @throws \Tessera\Exception\InvalidInputException for a limit outside 1 to 100
    /// @throws \Tessera\Exception\InvalidStateException when not connected, or in authorization-proxy mode
    /// @throws \Tessera\Exception\ServerUnavailableException also `response_invalid` for a malformed page
    #[php(defaults(limit = 50))]
    pub fn pull_events(
        &self,
        transport: CallableArg,
        sleep: OptCallableArg,
        persist: OptCallableArg,
        limit: Limit,
    ) -> Res<Completed> {
        guard(|| {
            let host = self.host(&transport, &sleep, &persist, None)?;
            let limit = limit.get()?;
            self.run(|c| c.start_pull_events(limit), &host)
        })
    }

    /// Moves the events cursor to a page's `cursor` once the host handled
    /// the page; returns whether it moved (a cursor not past the stored one
    /// leaves it). When it moved, `$persist` (if given) is called with the
    /// state as the drivers persist it (sealed under the seal key when there
    /// is one).
    ///
    /// @throws \Tessera\Exception\InvalidInputException for a cursor that is not 1 to 18 decimal digits
    /// @throws \Tessera\Exception\InvalidStateException when not registered
    pub fn acknowledge_events(&self, cursor: StrArg, persist: OptCallableArg) -> Res<bool> {
        guard(|| {
            let cursor = cursor.utf8("cursor")?;
            let persist = persist.get("persist")?;
            let moved = self.with_mut(|c| c.acknowledge_events(cursor))??;
            if let (true, Some(persist)) = (moved, persist) {
                let state = self.with_entropy(|c, e| c.persisted_state(e))??;
                call_php(&persist, vec![&state.as_str()], "persist")?;
            }
            Ok(moved)
        })
    }

    /// Where the next `pullEvents()` starts: the cursor of the last page
    /// acknowledged, or `null`.
    pub fn events_cursor(&self) -> Res<Option<String>> {
        guard(|| self.with(|c| c.events_cursor().map(str::to_owned)))
    }

    /// Verifies a push the broker sent to the site (docs/PROTOCOL.md §14.4):
    /// `$headers` the request's headers (`name => value` or `name => [values]`,
    /// names in any case), `$body` the raw body exactly as received, `$now`
    /// the clock when null. Returns its events (1 to 10), each as in
    /// `pullEvents()`; nothing of the body is read before the signature
    /// (`Tessera-Push-Signature`, within 300 s, the learned clock offset
    /// counted) verified. A push never moves the events cursor: keep events
    /// by `id`, the next pull brings them again.
    ///
    /// @throws \Tessera\Exception\VerificationException `signature_missing`, `signature_malformed`, `signature_expired`, `signature_invalid`
    /// @throws \Tessera\Exception\InvalidInputException `too_large` (a body over 320 KiB)
    /// @throws \Tessera\Exception\InvalidStateException `not_registered`
    /// @throws \Tessera\Exception\ServerUnavailableException `response_invalid` (signed, but not 1 to 10 events)
    pub fn verify_push(&self, headers: ArrayArg, body: StrArg, now: OptIntArg) -> Res<ZBox<ZendHashTable>> {
        guard(|| {
            let headers = header_map_from_php(headers.get("headers")?, "headers")?;
            let body = body.bytes("body")?;
            let now = self.now_or(&now)?;
            let events = self.with(|c| c.verify_push(&headers, body, now))??;
            events_to_php(&events)
        })
    }

    /// The request registering `$url` (on the site's own origin) as the URL
    /// the broker pushes this installation's events to (`PUT /events/push`),
    /// or with `null` stopping the pushes (`DELETE /events/push`): `method,
    /// path, headers, body`, ready for `call()`.
    ///
    /// @throws \Tessera\Exception\InvalidInputException `invalid_url` (not an http(s) URL on the site's origin), `too_large`
    /// @throws \Tessera\Exception\InvalidStateException `not_registered`
    /// @throws \Tessera\Exception\RegistrationInvalidException
    /// @throws \Tessera\Exception\SiteMismatchException
    pub fn push_registration_request(&self, url: OptStrArg) -> Res<ZBox<ZendHashTable>> {
        guard(|| {
            let url = url.utf8("url")?;
            let req = self.with(|c| c.push_registration_request(url))??;
            Ok(records::api_request_to_php(&req))
        })
    }

    /// Authorization-proxy mode (`proxy` in the configuration): the lock that
    /// lets one worker at a time refresh this installation's Stora tokens,
    /// shared by every PHP process of the site (e.g. MySQL `GET_LOCK`).
    /// `$lock(string $name): ?string` waits a bounded time for the lock
    /// `$name` and returns the state as stored now (what `$persist` last
    /// stored, sealed as it was), or `null` when it could not be taken in
    /// time (the call fails with `lock_unavailable`); `$unlock(string $name):
    /// void` releases it. A driver abandoned while it holds the lock (an
    /// exception) calls `$unlock` before the exception goes on. In proxy mode
    /// `call()` and `callAndRecord()` refuse to start without it.
    ///
    /// @throws \Tessera\Exception\InvalidInputException when either is not callable
    pub fn set_refresh_lock(&self, lock: CallableArg, unlock: CallableArg) -> Res<()> {
        guard(|| {
            lock.get("lock")?;
            unlock.get("unlock")?;
            let kept = RefreshLock::new(lock.0, unlock.0);
            *self.refresh_lock.try_borrow_mut().map_err(|_| busy())? = Some(kept);
            Ok(())
        })
    }

    /// The request recording `$event` for the action `$externalId`: `POST
    /// /api/timeline/events` (`method, path, headers, body`), `Idempotency-Key:
    /// tle-<externalId>`, ready for `call()`.
    ///
    /// @throws \Tessera\Exception\InvalidInputException
    pub fn timeline_event_request(event: ArrayArg, externalId: StrArg) -> Res<ZBox<ZendHashTable>> {
        guard(|| {
            let event = records::event_from_php(event.get("event")?)?;
            let req = event.to_request(externalId.utf8("externalId")?)?;
            Ok(records::api_request_to_php(&req))
        })
    }

    /// Checks Stora metadata (`key => string`): at most 20 keys of
    /// `[a-z0-9._:-]{1,40}`, values at most 500 characters.
    ///
    /// @throws \Tessera\Exception\InvalidInputException
    pub fn validate_metadata(metadata: ArrayArg) -> Res<()> {
        guard(|| {
            Ok(tessera_core::metadata::validate(&records::metadata_from_php(metadata.get("metadata")?, "metadata")?)?)
        })
    }

    /// The JSON merge-patch body `{"metadata":{…}}` for `$changes` (`null`
    /// deletes a key; keys sorted). With `$current`, the merged result is checked too.
    ///
    /// @throws \Tessera\Exception\InvalidInputException
    pub fn metadata_patch(changes: ArrayArg, current: OptArrayArg) -> Res<String> {
        guard(|| {
            let changes = records::patch_from_php(changes.get("changes")?)?;
            let current = current.get("current")?.map(|c| records::metadata_from_php(c, "current")).transpose()?;
            Ok(tessera_core::metadata::merge_patch_body(&changes, current.as_ref())?)
        })
    }

    /// Disconnects: a signed call to the broker's disconnect route, then the
    /// broker token is dropped locally whatever the broker said. Returns
    /// `['remote' => ['result' => 'ok'|'skipped'|'failed', 'error' =>
    /// ?TesseraException]]`. Callables as for `call()`.
    ///
    /// @throws \Tessera\Exception\InvalidStateException when not connected
    pub fn disconnect(&self, transport: CallableArg, sleep: OptCallableArg, persist: OptCallableArg) -> Res<Completed> {
        guard(|| {
            let host = self.host(&transport, &sleep, &persist, None)?;
            self.run(CoreCompanion::start_disconnect, &host)
        })
    }

    /// Revokes a previous installation of this site (after "Register again":
    /// a state that no longer opened, or a registration the broker refused):
    /// a signed request asking the broker to revoke its Stora grant and
    /// forget it (docs/PROTOCOL.md §5.11). Keep the install id outside the
    /// sealed state to have it here (it is not a secret). Returns
    /// `['revoked' => bool]` (`false`: nothing of it was left). Callables as
    /// for `call()`.
    ///
    /// @throws \Tessera\Exception\InvalidInputException for a malformed id, or this installation's own
    /// @throws \Tessera\Exception\ClientErrorException `ownership_proof_required` when the broker did not see this site proved
    pub fn revoke_previous(
        &self,
        installId: StrArg,
        transport: CallableArg,
        sleep: OptCallableArg,
        persist: OptCallableArg,
    ) -> Res<Completed> {
        guard(|| {
            let id = installId.utf8("installId")?.to_owned();
            let host = self.host(&transport, &sleep, &persist, None)?;
            self.run(|c| c.start_revoke_previous(&id), &host)
        })
    }

    /// Uninstalls: disconnect and deregister at the broker (best effort), then
    /// wipe the local state whatever happened. Returns `['disconnect' =>
    /// [...], 'deregister' => [...]]`, each `['result' =>
    /// 'ok'|'skipped'|'failed', 'error' => ?TesseraException]`. Callables as
    /// for `call()`.
    pub fn uninstall(&self, transport: CallableArg, sleep: OptCallableArg, persist: OptCallableArg) -> Res<Completed> {
        guard(|| {
            let host = self.host(&transport, &sleep, &persist, None)?;
            self.run(|c| Ok(c.start_uninstall()), &host)
        })
    }

    /// "Reset this installation" (a secret that may have leaked): with the old
    /// secret, best effort (two attempts each), disconnect and deregister the
    /// old installation (its grant is revoked), wipe the local state, then
    /// register afresh (a new install id and secret, persisted before the
    /// POST; `$serveProof` as for `register()`). Returns `['disconnect' =>
    /// [...], 'deregister' => [...], 'registration' => [...]]` (the steps as
    /// for `uninstall()`, the registration outcome as for `register()`).
    ///
    /// @throws \Tessera\Exception\InvalidInputException
    /// @throws \Tessera\Exception\RateLimitedException
    /// @throws \Tessera\Exception\ClientErrorException
    /// @throws \Tessera\Exception\ServerUnavailableException
    pub fn reset(
        &self,
        registration: ArrayArg,
        transport: CallableArg,
        sleep: OptCallableArg,
        persist: OptCallableArg,
        serveProof: OptCallableArg,
    ) -> Res<Completed> {
        guard(|| {
            registration.get("registration")?;
            let reg: Registration = from_php(registration.0, "registration")?;
            let host = self.host(&transport, &sleep, &persist, Some(&serveProof))?;
            self.run(|c| c.start_reset(&reg), &host)
        })
    }

    /// "The site moved": tells the broker the new site URL (signed), after
    /// `checkSite()` reported a mismatch. When the broker asks the new
    /// address for an ownership proof, `$serveProof` is called as for
    /// `register()` (absent or `false`: the status stays
    /// `awaiting_ownership` until `register()` finishes the round). Callables
    /// as for `call()`.
    ///
    /// @throws \Tessera\Exception\InvalidStateException when no mismatch is recorded
    pub fn site_moved(
        &self,
        transport: CallableArg,
        sleep: OptCallableArg,
        persist: OptCallableArg,
        serveProof: OptCallableArg,
    ) -> Res<()> {
        guard(|| {
            let host = self.host(&transport, &sleep, &persist, Some(&serveProof))?;
            self.run(CoreCompanion::start_site_moved, &host).map(drop)
        })
    }

    /// Compares the site URL the host reports now with the registered one:
    /// `['kind' => 'same']`, `['kind' => 'not_registered']` or `['kind' =>
    /// 'mismatch', 'registered' => …, 'current' => …]`. A mismatch blocks
    /// signing until `resolveSiteAsCopy()` or `siteMoved()`.
    ///
    /// @throws \Tessera\Exception\InvalidInputException
    pub fn check_site(&self, currentUrl: StrArg) -> Res<ZBox<ZendHashTable>> {
        guard(|| {
            let url = currentUrl.utf8("currentUrl")?;
            let check: SiteCheck = self.with_mut(|c| c.check_site(url))??;
            to_php_array(&check)
        })
    }

    /// "This is a copy": forget the copied registration so this site registers
    /// afresh. Nothing is sent to the broker.
    pub fn resolve_site_as_copy(&self) -> Res<()> {
        guard(|| self.with_mut(CoreCompanion::resolve_site_as_copy))
    }

    /// A signed, expiring deregistration link (for browser extensions'
    /// uninstall URL). `$now` defaults to the clock.
    ///
    /// @throws \Tessera\Exception\InvalidStateException when not registered
    pub fn uninstall_url(&self, now: OptIntArg) -> Res<String> {
        guard(|| {
            let now = self.now_or(&now)?;
            Ok(self.with(|c| c.uninstall_url(now))??)
        })
    }

    /// The state sealed (XChaCha20-Poly1305, HKDF-derived key) under
    /// `$keyMaterial` (at least 16 bytes, e.g. WordPress' salts).
    ///
    /// @throws \Tessera\Exception\InvalidInputException when the key material is too short
    pub fn seal_state(&self, keyMaterial: StrArg) -> Res<String> {
        guard(|| {
            let key = keyMaterial.bytes("keyMaterial")?;
            Ok(self.with_entropy(|c, e| c.seal_state(key, e))??)
        })
    }

    /// Opens a sealed state. The companion keeps `$keyMaterial` as its seal
    /// key: every `$persist` callable is handed the state sealed under it.
    ///
    /// @throws \Tessera\Exception\StateUndecryptableException when it does not open with this key
    pub fn open_state(sealed: StrArg, keyMaterial: StrArg) -> Res<Companion> {
        guard(|| {
            // Not UTF-8 cannot be a sealed blob: it fails to open like any other.
            let sealed = String::from_utf8_lossy(sealed.bytes("sealed")?);
            let key = keyMaterial.bytes("keyMaterial")?;
            Ok(Companion::wrap(CoreCompanion::open_state(&sealed, key)?))
        })
    }
}

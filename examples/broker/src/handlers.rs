//! The protocol, one function per route. Each handler is plain synchronous
//! code (it runs on tokio's blocking pool): verify, load, decide, store,
//! answer. Read them top to bottom.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use tessera_core::Error as CoreError;
use tessera_core::Request as CoreRequest;
use tessera_core::Verified;
use tessera_core::internals::secret::ct_eq;
use tessera_core::{BrokerToken, Secret};
use zeroize::Zeroizing;

use crate::crypto::{random_id, token_hash};
use crate::refresh::{Access, fresh_access_token, lock_grant, reconnect_required, refresh_conflict};
use crate::site_fetch;
use crate::store::{InstallStatus, Installation, NewInstallation};
use crate::{App, Incoming, Reply};

/// Shorthand: handlers return `Err(reply)` to answer early.
pub type Step<T> = Result<T, Reply>;

pub(crate) fn internal(what: &str) -> Reply {
    Reply::error(500, "internal", what)
}

pub(crate) fn db<T>(result: crate::store::Result<T>) -> Step<T> {
    result.map_err(|_| internal("storage error"))
}

// ---- verification ------------------------------------------------------------

/// Whether the installation that signed may make this request: its status
/// checked against what the request asks (`check_status`).
pub type Admit<'a> = &'a dyn Fn(&Installation) -> Step<()>;

/// Verifies a signed plugin request against the broker's public URL, and
/// refuses it — before its nonce is recorded — unless `admit` accepts the
/// signer's installation. Returns what the signature established and the
/// installation row, which `admit` has accepted (a verified request always
/// passed the gate: the replay store is the verifier's last step), so the
/// handlers do not check its status again.
pub fn verify_signed(app: &App, req: &Incoming, admit: Admit<'_>) -> Step<(Verified, Installation)> {
    verify_signed_url(app, req, admit).map(|(verified, installation, _)| (verified, installation))
}

/// [`verify_signed`], plus the URL the signature covers: the request's URL
/// as the verifier normalised it (`tessera_core::internals::url::Url::parse`, the very
/// parse `Verifier::verify` signs over). Anything the broker passes on must
/// come from this value, never from the raw request line: two raw forms
/// (`%7c` / `%7C`, `;` / `%3B`, `/` / `%2F` in a query) verify with the same
/// signature, and the one the plugin signed is the normalised one.
fn verify_signed_url(
    app: &App,
    req: &Incoming,
    admit: Admit<'_>,
) -> Step<(Verified, Installation, tessera_core::internals::url::Url)> {
    let core_req = CoreRequest {
        method: req.method.clone(),
        url: format!("{}{}", app.public_url, req.path_and_query()),
        headers: req.headers.clone(),
        body: req.body.clone(),
    };
    let started = Instant::now();
    let mut lookup = Duration::ZERO;
    let result = verify_steps(app, &core_req, admit, &mut lookup);
    app.observer.verification(started.elapsed(), lookup);
    let (verified, installation) = result?;
    match tessera_core::internals::url::Url::parse(&core_req.url, "url") {
        Ok(url) => {
            seen(app, &installation);
            Ok((verified, installation, url))
        }
        Err(_) => Err(internal("verified a URL that does not parse")),
    }
}

/// The core's verification steps (docs/PROTOCOL.md §7.2): what needs no
/// secret; the signer's row and secret (timed into `lookup`) and the MAC;
/// then `admit` — before the nonce is recorded, so a disabled or pending
/// installation cannot fill even its own share of the replay store (an
/// unknown one already stopped at the MAC) — and the replay store, whose
/// lock is held only for the nonce check. A refusal is answered as the core
/// words it.
fn verify_steps(
    app: &App,
    core_req: &CoreRequest,
    admit: Admit<'_>,
    lookup: &mut Duration,
) -> Step<(Verified, Installation)> {
    match verify_with(app, core_req, admit, lookup, true) {
        Some(result) => result,
        // The cached row may be out of date: once more, read afresh.
        None => verify_with(app, core_req, admit, lookup, false)
            .unwrap_or_else(|| Err(internal("the installation keeps changing"))),
    }
}

/// The outcome of one pass of [`verify_steps`]: `None` when it was decided
/// on a cached row another instance may have changed (only with a shared
/// store); nothing was recorded then.
type Attempt = Option<Step<(Verified, Installation)>>;

/// One pass of the verification, with the installation from the cache
/// (`cached`) or read afresh. On SQLite the cache is never stale. On
/// PostgreSQL a row from the cache is confirmed when the nonce is recorded
/// (its version, in the same statement); any refusal decided on a cached
/// row, and a version that no longer matches, send the caller round again
/// with a fresh read — so a kill switch, a deregistration or a site move at
/// another instance holds at once, not when its notification arrives.
fn verify_with(app: &App, core_req: &CoreRequest, admit: Admit<'_>, lookup: &mut Duration, cached: bool) -> Attempt {
    let shared = app.shared_store();
    let pending = match app.verifier.begin(core_req, app.now()) {
        Ok(pending) => pending,
        Err(r) => return Some(Err(Reply::refusal(&r))),
    };
    let t = Instant::now();
    let read = if cached {
        app.store.cached_installation(pending.keyid())
    } else {
        app.store.installation(pending.keyid()).map(|row| row.map(|i| (i, false)))
    };
    let (installation, from_cache) = match read.ok().flatten() {
        Some((installation, from_cache)) => (Some(installation), from_cache),
        None => (None, false),
    };
    let secret = installation.as_ref().and_then(|i| Secret::from_bytes(&i.secret).ok());
    *lookup = t.elapsed();
    // A refusal decided on a row from the cache is decided again afresh
    // when another instance may have changed the row.
    let recheck = from_cache && shared.is_some();
    let done = |result: Step<(Verified, Installation)>| match result {
        Err(_) if recheck => None,
        result => Some(result),
    };
    let refused = |r: tessera_core::Refusal| match &installation {
        Some(i) => Reply::refusal(&r).for_install(&i.install_id),
        None => Reply::refusal(&r),
    };
    let checked = match pending.check(secret.as_ref()) {
        Ok(checked) => checked,
        Err(r) => return done(Err(refused(r))),
    };
    let Some(installation) = installation else {
        return Some(Err(internal("verified without an installation")));
    };
    if let Err(reply) = admit(&installation) {
        return done(Err(reply.for_install(&installation.install_id)));
    }
    let refused = |r: tessera_core::Refusal| {
        if r.code() == "replayed" {
            app.observer.replay_refused(&installation.install_id);
        }
        Reply::refusal(&r).for_install(&installation.install_id)
    };
    let verified = match shared {
        // Several instances: the nonce goes to the store they share, if the
        // row is still the one the checks used.
        Some(store) => {
            let answer = store.record_nonce(
                checked.install_id(),
                checked.replay_key().split_once(':').map_or("", |(_, nonce)| nonce),
                checked.expires_at(),
                checked.now(),
                app.config.replay_capacity,
                installation.version,
            );
            match answer {
                Err(_) => Err(internal("storage error").for_install(&installation.install_id)),
                Ok(None) => {
                    app.store.cache().invalidate(&installation.install_id);
                    return None;
                }
                Ok(Some(answer)) => checked.finish(answer).map_err(refused),
            }
        }
        None => checked.record_in(&mut *app.replay.lock().unwrap_or_else(|e| e.into_inner())).map_err(refused),
    };
    Some(verified.map(|verified| (verified, installation)))
}

// ---- idle installations ------------------------------------------------------------------

/// `last_seen` is written only when the stored value is older than this
/// (seconds): one write an hour per active installation, not one per call.
pub const LAST_SEEN_EVERY_SECS: i64 = 3600;

/// The idle sweep runs at most this often (seconds).
pub const IDLE_SWEEP_EVERY_SECS: i64 = 3600;

/// Records that `installation` just proved it holds its secret (a verified
/// signed request, a URL-signed link, a registration), throttled to
/// [`LAST_SEEN_EVERY_SECS`]. Best effort: a failed write costs nothing but
/// an hour of idle time.
pub fn seen(app: &App, installation: &Installation) {
    let now = app.now();
    if now - installation.last_seen > LAST_SEEN_EVERY_SECS {
        let _ = app.store.touch_last_seen(&installation.install_id, now);
    }
}

/// Forgets the installations that have not been seen for longer than the
/// idle limit (`installation_idle_days`), revoking their grants at Stora
/// (best effort) exactly as a deregistration does; each is logged as
/// `installation_expired`. Runs at most every [`IDLE_SWEEP_EVERY_SECS`]
/// (one caller wins the slot), lazily, before a request is handled.
pub fn sweep_idle(app: &App) {
    let Some(limit) = app.config.idle_limit_secs() else {
        return;
    };
    let now = app.now();
    let last = app.last_idle_sweep.load(std::sync::atomic::Ordering::Relaxed);
    // A clock set back (tests) sweeps again at once.
    if (0..IDLE_SWEEP_EVERY_SECS).contains(&now.saturating_sub(last)) {
        return;
    }
    let claimed = app.last_idle_sweep.compare_exchange(
        last,
        now,
        std::sync::atomic::Ordering::AcqRel,
        std::sync::atomic::Ordering::Relaxed,
    );
    if claimed.is_err() {
        return;
    }
    let Ok(idle) = app.store.idle_installations(now - limit) else {
        return;
    };
    for id in idle {
        // Seen since the list was read (a request that raced the sweep): kept.
        if !matches!(app.store.last_seen(&id), Ok(Some(seen)) if seen < now - limit) {
            continue;
        }
        if remove_installation(app, &id).is_ok() {
            app.observer.event("installation_expired", &id, None);
        }
    }
}

/// What a signed request asks of an installation, which decides the
/// statuses that may make it (the broker side of the core's signing purposes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Use {
    /// Connect links, API calls, a site move: only an active installation.
    Serve,
    /// `POST /disconnect` and `DELETE /installations/{id}`: leaving. The
    /// holder of the secret may always revoke its grant and forget its
    /// installation, whatever the status — in particular while a site move
    /// waits for the new address's ownership proof (the installation is
    /// `pending_ownership` at the new URL, still holds its grant, and the
    /// plugin signs with the unchanged secret), and when it is disabled.
    Leave,
}

/// Refuses a use the installation's status does not allow:
/// `401 installation_disabled` for a killed installation,
/// `403 ownership_pending` while it waits for its ownership proof (a new
/// registration, or a site move to an address that has not proven itself).
fn check_status(installation: &Installation, purpose: Use) -> Step<()> {
    match (installation.status, purpose) {
        (_, Use::Leave) | (InstallStatus::Active, Use::Serve) => Ok(()),
        (InstallStatus::Disabled, Use::Serve) => Err(Reply::error(
            401,
            "installation_disabled",
            "this installation was disabled by the broker operator; register again",
        )),
        (InstallStatus::PendingOwnership, Use::Serve) => {
            Err(Reply::error(403, "ownership_pending", "the installation has not completed the ownership proof"))
        }
    }
}

/// `check_status` for everything but leaving: `Ok` only for an active
/// installation (`401 installation_disabled`, `403 ownership_pending`).
pub fn check_enabled(installation: &Installation) -> Step<()> {
    check_status(installation, Use::Serve)
}

/// The path id must be the installation that signed.
fn check_path_id(req: &Incoming, verified: &Verified) -> Step<()> {
    if req.segment(1) == Some(verified.install_id.as_str()) {
        Ok(())
    } else {
        Err(Reply::error(403, "installation_mismatch", "the signature is not from the installation in the path"))
    }
}

/// The broker token must exist and belong to the installation that signed.
pub(crate) fn check_broker_token(app: &App, verified: &Verified) -> Step<()> {
    let Some(bearer) = verified.bearer.as_ref().map(BrokerToken::expose) else {
        return Err(Reply::error(401, "broker_token_invalid", "missing broker token"));
    };
    let owner = db(app.store.install_for_token(&token_hash(bearer)))?;
    match owner {
        // Compared in constant time out of habit; both are public ids.
        Some(owner) if ct_eq(owner.as_bytes(), verified.install_id.as_bytes()) => Ok(()),
        _ => Err(Reply::error(
            401,
            "broker_token_invalid",
            "the broker token is unknown or belongs to another installation",
        )),
    }
}

// ---- registration ----------------------------------------------------------------

#[derive(Deserialize)]
struct RegistrationBody {
    install_id: String,
    site_url: String,
    admin_email: String,
    secret: String,
    platform: String,
    plugin_version: String,
}

fn valid_install_id(id: &str) -> bool {
    id.strip_prefix("ins_").is_some_and(|rest| {
        (16..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// `scheme://authority` of an absolute URL.
fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = &url[..scheme.len() + 3 + end];
    (!scheme.is_empty() && end > 0).then_some(origin)
}

/// Checks a site URL and returns the identity to store and compare (what the
/// core sends: no query, no trailing slash). The broker fetches ownership
/// proofs from this URL, so it must not be a way into the broker's own
/// network: no query (the proof path is appended to it), `https` (plain
/// `http` only for loopback hosts with `allow_loopback_sites`), and a literal
/// address must be a public one. Names are resolved and checked only where
/// the broker connects — in the proof fetch, which resolves once, checks
/// every address and pins the connection to them ([`site_fetch`]): a check
/// here would be a second resolution an attacker's DNS can answer differently.
fn check_site_url(app: &App, site_url: &str) -> Step<String> {
    // A browser extension has no web site: its origin (`chrome-extension://<id>`,
    // `moz-extension://<uuid>`) stands in for one. It cannot serve an ownership
    // proof, so it is never challenged; instead only the extensions the
    // operator listed may register (`allowed_extension_ids`).
    if site_url.starts_with("chrome-extension://") || site_url.starts_with("moz-extension://") {
        let identity = tessera_core::internals::registration::site_identity(site_url, "site_url")
            .map_err(|e| Reply::error(400, "invalid_request", &e.to_string()))?;
        let id = extension_id(&identity).unwrap_or_default();
        if !app.config.extension_allowed(id) {
            return Err(Reply::error(
                403,
                "extension_not_allowed",
                "this broker does not serve this browser extension (its id is not on the broker's allow-list)",
            ));
        }
        return Ok(identity);
    }
    let url = tessera_core::internals::url::Url::parse(site_url, "site_url")
        .map_err(|e| Reply::error(400, "invalid_request", &e.to_string()))?;
    if url.query().is_some() {
        return Err(Reply::error(400, "invalid_request", "site_url must not have a query"));
    }
    let allowed =
        url.scheme() == "https" || (url.scheme() == "http" && url.is_loopback() && app.config.allow_loopback_sites);
    if !allowed {
        return Err(Reply::error(400, "invalid_request", "site_url must use https"));
    }
    refuse_internal_literal(&url, app.config.allow_loopback_sites)?;
    Ok(url.site_identity())
}

/// The `<id>` of an extension site identity (`chrome-extension://<id>`,
/// `moz-extension://<id>`); `None` for a web site.
fn extension_id(identity: &str) -> Option<&str> {
    ["chrome-extension://", "moz-extension://"].iter().find_map(|scheme| identity.strip_prefix(scheme))
}

/// Whether a registration (or site move) of `platform` at `site` (its
/// identity) owes an ownership proof: never for a browser extension, else as
/// the broker's per-platform policy says (`require_ownership_proof_for`).
fn proof_required(app: &App, platform: &str, site: &str) -> bool {
    extension_id(site).is_none() && app.config.proof_required_for(platform)
}

/// Whether `return_url` may receive the callback of `installation`: the same
/// origin as its registered site; for a Chromium extension
/// (`chrome-extension://<id>`) also `https://<id>.chromiumapp.org`, the
/// origin of `chrome.identity.getRedirectURL()` (`launchWebAuthFlow`), for
/// that same id only.
pub fn return_url_allowed(installation: &Installation, return_url: &str) -> bool {
    let Some(to) = origin(return_url) else { return false };
    if Some(to) == origin(&installation.site_url) {
        return true;
    }
    match installation.site_url.strip_prefix("chrome-extension://") {
        Some(id) => to.eq_ignore_ascii_case(&format!("https://{id}.chromiumapp.org")),
        None => false,
    }
}

/// Refuses a site whose host is a literal internal address (no DNS here).
fn refuse_internal_literal(url: &tessera_core::internals::url::Url, allow_loopback: bool) -> Step<()> {
    let host = url.host().trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) if !site_fetch::address_allowed(&ip, allow_loopback) => {
            Err(Reply::error(400, "invalid_request", "site_url must be a public address"))
        }
        _ => Ok(()),
    }
}

/// `POST /installations` (unsigned): store the installation and its secret.
/// When the platform owes an ownership proof (never an extension: its id must
/// be allow-listed instead), the first POST answers `202 {challenge}` and
/// the second fetches `{site_url}/.well-known/tessera/{install_id}`.
pub fn register(app: &App, req: &Incoming) -> Reply {
    register_inner(app, req).unwrap_or_else(|reply| reply)
}

fn register_inner(app: &App, req: &Incoming) -> Step<Reply> {
    let body: RegistrationBody = serde_json::from_slice(&req.body)
        .map_err(|_| Reply::error(400, "invalid_request", "expected the registration JSON"))?;
    if !valid_install_id(&body.install_id) {
        return Err(Reply::error(400, "invalid_request", "install_id must be ins_ + base64url"));
    }
    let id = body.install_id.as_str();
    let site_url = check_site_url(app, &body.site_url).map_err(|r| r.for_install(id))?;
    tessera_core::internals::registration::check_email(&body.admin_email)
        .map_err(|e| Reply::error(400, "invalid_request", &e.to_string()).for_install(id))?;
    let secret = Secret::from_base64url(&body.secret)
        .map_err(|e| Reply::error(400, "invalid_request", &e.to_string()).for_install(id))?;
    let platform_ok = !body.platform.is_empty() && body.platform.len() <= 32;
    let version_ok = !body.plugin_version.is_empty() && body.plugin_version.len() <= 32;
    if !platform_ok || !version_ok {
        return Err(
            Reply::error(400, "invalid_request", "platform and plugin_version: 1-32 characters").for_install(id)
        );
    }
    let now = app.now();

    let Some(existing) = db(app.store.installation(id))? else {
        // A new installation.
        let new = NewInstallation {
            install_id: id.to_string(),
            site_url: site_url.clone(),
            admin_email: body.admin_email.clone(),
            platform: body.platform.clone(),
            plugin_version: body.plugin_version.clone(),
            secret: Zeroizing::new(secret.expose().to_vec()),
        };
        // Per platform; an extension installation is never challenged.
        if proof_required(app, &body.platform, &site_url) {
            let challenge = random_id("chl_", 24);
            if app.store.insert_installation(&new, InstallStatus::PendingOwnership, Some(&challenge), now).is_err() {
                return Err(
                    Reply::error(409, "registration_conflict", "installation id already registered").for_install(id)
                );
            }
            return Ok(Reply::json(202, json!({"challenge": challenge})).for_install(id));
        }
        if app.store.insert_installation(&new, InstallStatus::Active, None, now).is_err() {
            return Err(
                Reply::error(409, "registration_conflict", "installation id already registered").for_install(id)
            );
        }
        return Ok(registered(id));
    };

    // The id exists: only the same installation (same secret, same site) may
    // repeat its registration (a lost 201, or the second POST of a proof).
    if !ct_eq(&existing.secret, secret.expose()) || existing.site_url != site_url {
        return Err(Reply::error(409, "registration_conflict", "installation id already registered").for_install(id));
    }
    // The holder of the secret is alive.
    seen(app, &existing);
    match existing.status {
        InstallStatus::Active => Ok(registered(id)),
        InstallStatus::Disabled => {
            Err(Reply::error(401, "installation_disabled", "this installation was disabled by the broker operator")
                .for_install(id))
        }
        // A new registration's POST after its proof was served, or the
        // registration round of a site move (same id and secret, the new
        // site URL): either way the proof decides, and a move keeps its grant.
        InstallStatus::PendingOwnership => {
            let challenge = existing.challenge.clone().unwrap_or_default();
            // One answer for every failure — the core's for a proof that does
            // not match: the broker must not tell a registrant what it found
            // at an address (no scanning through it).
            let refused = || Reply::refusal(&tessera_core::Refusal::new(CoreError::OwnershipProofInvalid, now));
            let proof = site_fetch::fetch_ownership_proof(
                &app.config.resolver,
                app.config.allow_loopback_sites,
                &existing.site_url,
                id,
            )
            .map_err(|_| refused().for_install(id))?;
            tessera_core::check_ownership_proof(&secret, id, &challenge, &proof, now)
                .map_err(|_| refused().for_install(id))?;
            // Proven: this installation may now end its site's previous
            // installations (revoke-previous).
            db(app.store.set_proven(id, now))?;
            Ok(registered(id))
        }
    }
}

fn registered(install_id: &str) -> Reply {
    Reply::json(201, json!({"install_id": install_id, "status": "registered"})).for_install(install_id)
}

/// The path of the broker's public URL (empty unless it is mounted below a
/// prefix): browser links are built on it.
pub(crate) fn public_path(app: &App) -> &str {
    origin(&app.public_url).map_or("", |o| &app.public_url[o.len()..]).trim_end_matches('/')
}

// ---- API proxy ---------------------------------------------------------------------------

/// Takes a slot from `operator`'s budget before a call to Stora, waiting
/// for it when it is near ([`crate::pacing`]); refused: `429 rate_limited`
/// with `Retry-After`, Stora not called.
fn pace(app: &App, operator: &str) -> Step<()> {
    db(app.pacer.acquire(operator, app.shared_store()))?.map(|_| ()).map_err(|next| {
        Reply::error(429, "rate_limited", "the operator's Stora rate limit is used up; retry later")
            .with_header("retry-after", &crate::pacing::retry_after_secs(next).to_string())
    })
}

/// Only plain paths are forwarded: no dot segments and no encoded slash,
/// backslash or dot, so `/api/../oauth2/…` can never reach another part of
/// Stora with the operator's token.
fn check_proxy_path(path: &str) -> Step<()> {
    let lower = path.to_ascii_lowercase();
    let bad = path.split('/').any(|seg| seg == "." || seg == "..")
        || ["%2f", "%5c", "%2e", "\\"].iter().any(|p| lower.contains(p));
    if bad {
        return Err(Reply::error(
            400,
            "invalid_request",
            "the API path must not contain dot segments or encoded separators",
        ));
    }
    Ok(())
}

/// `* /api/{path}` (signed, with the broker token): forward to Stora
/// `/2025-09/{path}` with a fresh access token, once the operator's pacing
/// budget has a slot. Stora's answer (status, body, the
/// [`crate::stora::PASSTHROUGH_HEADERS`]) goes back to the plugin as is,
/// marked `Tessera-Origin: stora`, except that a dead grant becomes
/// `401 stora_reconnect_required`; the broker's own answers (that one,
/// `502 stora_unavailable`, its pacing `429 rate_limited`) are marked
/// `broker`.
pub fn api(app: &App, req: &Incoming) -> Reply {
    let (verified, installation, url) = match verify_signed_url(app, req, &check_enabled) {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    let id = installation.install_id.clone();
    api_inner(app, req, &verified, &installation, &url).unwrap_or_else(|r| r).for_install(&id)
}

/// The Stora path and query to forward: exactly the verified (normalised)
/// URL's, below the broker's `/api/`.
fn proxy_target(app: &App, url: &tessera_core::internals::url::Url) -> Step<String> {
    // The public URL is `scheme://authority`, possibly with a path prefix
    // (a broker mounted below one): the signed path starts with it.
    let path = url.path().strip_prefix(public_path(app)).unwrap_or(url.path());
    check_proxy_path(path)?;
    let Some(rest) = path.strip_prefix("/api/") else {
        return Err(Reply::error(400, "invalid_request", "not an API path"));
    };
    Ok(match url.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_string(),
    })
}

fn api_inner(
    app: &App,
    req: &Incoming,
    verified: &Verified,
    installation: &Installation,
    url: &tessera_core::internals::url::Url,
) -> Step<Reply> {
    check_enabled(installation)?;
    check_broker_token(app, verified)?;
    let id = installation.install_id.as_str();
    // Forward what was verified, not the raw request line.
    let target = proxy_target(app, url)?;

    // Every call to Stora takes a slot of the operator's budget first
    // (the refreshes in between are OAuth calls, not paced).
    let forward = |access: &Access| {
        pace(app, &access.operator)?;
        app.stora
            .forward(&req.method, &target, &req.headers, &req.body, &access.token)
            .map_err(|_| Reply::error(502, "stora_unavailable", "Stora could not be reached"))
    };
    let access = fresh_access_token(app, id, None)?;
    let mut answer = forward(&access)?;
    if answer.is_invalid_token() {
        // Stora refused a token we thought valid (revoked, or expired
        // early): refresh once and try again. A grant that is gone
        // surfaces from the refresh as stora_reconnect_required.
        let access = fresh_access_token(app, id, Some(&access.token))?;
        answer = forward(&access)?;
        if answer.is_invalid_token() {
            // Stora refused the token it has just issued: the grant is
            // gone. Marked under the refresh lock, and only if it is still
            // the grant that token belongs to: a reconnect (or another
            // refresh) that landed while this call was at Stora replaced it,
            // and this answer says nothing about the new one. Any other 401
            // is passed through below and never marks anything.
            let _lock = lock_grant(app, id)?;
            if db(app.store.mark_grant_revoked(id, access.generation))? {
                return Err(reconnect_required());
            }
            return Err(refresh_conflict());
        }
    }
    let error =
        (answer.status >= 400).then(|| answer.error_code().unwrap_or_else(|| format!("stora_{}", answer.status)));
    // Stora's answer, passed through: marked `Tessera-Origin: stora`.
    Ok(Reply {
        status: answer.status,
        headers: answer.headers,
        body: answer.body,
        install_id: None,
        error,
        origin: crate::Origin::Stora,
    })
}

// ---- disconnect, deregister, uninstall ------------------------------------------------------

/// Revokes the installation's grant at Stora (best effort) and deletes it
/// locally, under the refresh lock so no refresh races the wipe; its webhook
/// endpoint and queued events go first ([`crate::webhooks::forget`]).
fn revoke_and_wipe(app: &App, install_id: &str) -> Step<bool> {
    // The webhook endpoint first, while the grant's token still works
    // (best effort; before the lock, which a refresh for it would take).
    crate::webhooks::forget(app, install_id);
    let _lock = lock_grant(app, install_id)?;
    let live = match db(app.store.grant(install_id))? {
        Some(grant) if !grant.revoked && !grant.refresh_token.is_empty() => {
            // Revoking the refresh token revokes the pair. If Stora cannot be
            // reached the local copy is wiped anyway: nobody holds the tokens.
            let _ = app.stora.revoke(&grant.refresh_token);
            true
        }
        _ => false,
    };
    db(app.store.delete_grant(install_id))?;
    Ok(live)
}

/// `POST /disconnect` (signed, with the broker token): revoke at Stora, wipe
/// the tokens and the broker token, `204`. Accepted in every status (see
/// `Use::Leave`), a pending site move included.
pub fn disconnect(app: &App, req: &Incoming) -> Reply {
    let (verified, installation) = match verify_signed(app, req, &|i| check_status(i, Use::Leave)) {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    let id = installation.install_id.clone();
    let result = (|| {
        check_broker_token(app, &verified)?;
        revoke_and_wipe(app, &id)?;
        Ok(Reply::no_content())
    })();
    result.unwrap_or_else(|r| r).for_install(&id)
}

/// Revokes and forgets everything of the installation → whether it held a
/// live Stora grant here (an authorization proxy never does: the tokens were
/// the plugin's).
fn remove_installation(app: &App, install_id: &str) -> Step<bool> {
    let held_grant = revoke_and_wipe(app, install_id)?;
    // Rounds not completed yet may hold a Stora grant: revoke those too.
    crate::connect::revoke_forgotten(app, db(app.store.forget_connect_attempts_of(install_id))?);
    db(app.store.delete_installation(install_id))?;
    Ok(held_grant)
}

/// `DELETE /installations/{id}` (signed by that installation): disconnect if
/// connected, then forget the installation. `204`; `404` if unknown.
/// Accepted in every status (see `Use::Leave`), a pending site move included.
pub fn deregister(app: &App, req: &Incoming) -> Reply {
    let (verified, installation) = match verify_signed(app, req, &|i| check_status(i, Use::Leave)) {
        Ok(v) => v,
        Err(reply) if reply.error.as_deref() == Some("unknown_installation") => {
            return Reply::error(404, "unknown_installation", "no such installation");
        }
        Err(reply) => return reply,
    };
    let id = installation.install_id.clone();
    let result = (|| {
        check_path_id(req, &verified)?;
        remove_installation(app, &id)?;
        Ok(Reply::no_content())
    })();
    result.unwrap_or_else(|r| r).for_install(&id)
}

/// `GET /installations/{id}/uninstall?ts&sig` (browser, opened after an
/// extension was removed): the URL-signed ticket deregisters.
pub fn uninstall_ticket(app: &App, req: &Incoming) -> Reply {
    let Some(id) = req.segment(1).map(str::to_string) else {
        return not_found(app, req);
    };
    // The ticket's own checks, then the installation's secret (a missing
    // row is "already removed", below).
    let verified = tessera_core::begin_uninstall_ticket(
        &id,
        req.query.as_deref().unwrap_or(""),
        app.now(),
        app.config.uninstall_ticket_max_age_secs,
    )
    .and_then(|pending| {
        let row = app.store.installation(pending.install_id()).ok().flatten();
        pending.check(row.and_then(|i| Secret::from_bytes(&i.secret).ok()).as_ref())
    });
    match verified {
        Ok(_) => match remove_installation(app, &id) {
            Ok(true) => Reply::page(
                200,
                "Tessera companion removed",
                "The connection to your Stora account was revoked and this installation was removed.",
                None,
            )
            .for_install(&id),
            // Never connected here, or (an authorization proxy) the tokens
            // were the plugin's own: the page must not claim a revocation.
            Ok(false) => Reply::page(
                200,
                "Tessera companion removed",
                "This installation was removed. No connection to your Stora account was held here; \
                 if it was connected, you can revoke its access in your Stora account's settings.",
                None,
            )
            .for_install(&id),
            Err(reply) => reply.for_install(&id),
        },
        Err(refusal) if refusal.error() == &CoreError::UnknownInstallation => Reply::page(
            404,
            "Already removed",
            "This installation is not registered (any more).",
            Some("unknown_installation"),
        ),
        Err(refusal) => Reply::page(
            refusal.status(),
            "This link is not valid",
            "The uninstall link did not verify.",
            Some(refusal.code()),
        )
        .for_install(&id),
    }
}

/// `POST /installations/{id}/revoke-previous` `{"install_id": <previous>}`
/// (signed by `{id}`, `docs/PROTOCOL.md` §5.11): after "Register again" the
/// plugin is a new installation; this ends the old one it can no longer sign
/// for. Only an installation that **proved** its site (§5.2) may do it, and
/// only to a web installation of the same (normalised) site URL: its grant
/// is revoked at Stora (best effort) and it is forgotten like a
/// deregistration. `204`; `403 ownership_proof_required` for an unproven
/// signer (proofs not required for its platform, or an extension); `404
/// previous_installation_not_found` for an unknown id, the signer's own, or
/// another site's (one answer: a proven site learns nothing about others).
pub fn revoke_previous(app: &App, req: &Incoming) -> Reply {
    let (verified, installation) = match verify_signed(app, req, &check_enabled) {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    let id = installation.install_id.clone();
    let result = (|| {
        check_path_id(req, &verified)?;
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let Some(previous) = body.get("install_id").and_then(|v| v.as_str()) else {
            return Err(Reply::error(400, "invalid_request", "expected {\"install_id\": …}"));
        };
        if !installation.proven || extension_id(&installation.site_url).is_some() {
            return Err(Reply::error(
                403,
                "ownership_proof_required",
                "only an installation that proved ownership of its site may revoke a previous one",
            ));
        }
        let not_found = || {
            Reply::error(404, "previous_installation_not_found", "no previous installation of this site has that id")
        };
        if previous == id {
            return Err(not_found());
        }
        match db(app.store.site_of(previous))? {
            Some(site) if extension_id(&site).is_none() && site == installation.site_url => {}
            _ => return Err(not_found()),
        }
        remove_installation(app, previous)?;
        app.observer.event("previous_installation_revoked", previous, Some(&id));
        Ok(Reply::no_content())
    })();
    result.unwrap_or_else(|r| r).for_install(&id)
}

#[derive(Deserialize)]
struct SiteMovedBody {
    site_url: String,
}

/// `PATCH /installations/{id}` `{site_url}` (signed): the site moved. With
/// ownership proofs required, a new address answers `202 {challenge}` and
/// stays pending (`pending_ownership` at the new URL, the grant kept) until
/// the plugin's registration round (`POST /installations`, same id and
/// secret) proves it. Meanwhile disconnect and deregister are accepted and
/// every other signed call answers `403 ownership_pending`.
pub fn site_moved(app: &App, req: &Incoming) -> Reply {
    // A move already waiting for its proof may be asked for again: the
    // plugin lost the 202 (its challenge) and repeats the signed PATCH.
    // It starts a new proof round (a new challenge replaces the old); the
    // installation stays refused everywhere else until the proof.
    let proving = |i: &Installation| {
        matches!(i.status, InstallStatus::PendingOwnership) && proof_required(app, &i.platform, &i.site_url)
    };
    let admit = |i: &Installation| if proving(i) { Ok(()) } else { check_enabled(i) };
    let (verified, installation) = match verify_signed(app, req, &admit) {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    let id = installation.install_id.clone();
    let result = (|| {
        check_path_id(req, &verified)?;
        let proving = proving(&installation);
        let body: SiteMovedBody = serde_json::from_slice(&req.body)
            .map_err(|_| Reply::error(400, "invalid_request", "expected {\"site_url\": …}"))?;
        let site_url = check_site_url(app, &body.site_url)?;
        if proof_required(app, &installation.platform, &site_url) && (site_url != installation.site_url || proving) {
            // The new address must prove ownership like a new registration:
            // otherwise an installation that proved its own site could move
            // to a victim's and phish its operator with signed connect links.
            let challenge = random_id("chl_", 24);
            db(app.store.begin_site_move(&id, &site_url, &challenge, app.now()))?;
            return Ok(Reply::json(202, json!({"challenge": challenge})));
        }
        db(app.store.update_site_url(&id, &site_url, app.now()))?;
        Ok(Reply::json(200, json!({"install_id": id, "site_url": site_url})))
    })();
    result.unwrap_or_else(|r| r).for_install(&id)
}

// ---- admin -------------------------------------------------------------------------------

/// The admin bearer token, compared in constant time: `401 unauthorized`
/// otherwise (every `/admin/…` route and `/metrics`).
pub(crate) fn check_admin(app: &App, req: &Incoming) -> Step<()> {
    let presented = req.header("authorization").and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    if ct_eq(presented.as_bytes(), app.config.admin_token.as_bytes()) {
        Ok(())
    } else {
        Err(Reply::error(401, "unauthorized", "admin token required"))
    }
}

/// `POST /admin/installations/{id}/disable` and `…/enable`: the kill
/// switch. A disabled installation's next call answers
/// `401 installation_disabled`.
pub fn admin_set_disabled(app: &App, req: &Incoming) -> Reply {
    if let Err(reply) = check_admin(app, req) {
        return reply;
    }
    let id = req.segment(2).unwrap_or("").to_string();
    let status = if req.path.ends_with("/disable") { InstallStatus::Disabled } else { InstallStatus::Active };
    match app.store.set_installation_status(&id, status, app.now()) {
        Ok(true) => Reply::json(200, json!({"install_id": id, "status": status.as_str()})).for_install(&id),
        Ok(false) => Reply::error(404, "unknown_installation", "no such installation"),
        Err(_) => internal("storage error"),
    }
}

/// `GET /admin/installations/{id}`: status, connection and counters.
pub fn admin_installation(app: &App, req: &Incoming) -> Reply {
    if let Err(reply) = check_admin(app, req) {
        return reply;
    }
    let id = req.segment(2).unwrap_or("");
    let installation = match app.store.installation(id) {
        Ok(Some(i)) => i,
        Ok(None) => return Reply::error(404, "unknown_installation", "no such installation"),
        Err(_) => return internal("storage error"),
    };
    let grant = app.store.grant(id).ok().flatten();
    Reply::json(
        200,
        json!({
            "install_id": id,
            "site_url": installation.site_url,
            "admin_email": installation.admin_email,
            "platform": installation.platform,
            "plugin_version": installation.plugin_version,
            "status": installation.status.as_str(),
            "grant": grant.map(|g| json!({
                "status": if g.revoked { "revoked" } else { "active" },
                "scope": g.scope,
                "access_expires_at": g.access_expires_at,
                "generation": g.generation,
            })),
            "counters": app.observer.install(id),
        }),
    )
}

/// `GET /admin/metrics`: broker-wide and per-installation counters.
pub fn admin_metrics(app: &App, req: &Incoming) -> Reply {
    if let Err(reply) = check_admin(app, req) {
        return reply;
    }
    let counts: serde_json::Map<String, serde_json::Value> =
        app.store.installation_counts().unwrap_or_default().into_iter().map(|(status, n)| (status, json!(n))).collect();
    Reply::json(
        200,
        json!({
            "totals": app.observer.totals(),
            "installations": counts,
            "per_installation": app.observer.installs(),
            "pacing": {
                "per_sec": app.pacer.config().per_sec,
                "per_min": app.pacer.config().per_min,
                "max_queue_ms": app.pacer.config().max_queue_ms,
                "per_operator": app.pacer.stats(),
            },
        }),
    )
}

/// Anything else: `404 not_found`.
pub fn not_found(_app: &App, _req: &Incoming) -> Reply {
    Reply::error(404, "not_found", "no such route")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_as_sites() {
        for url in [
            "https://127.0.0.1",
            "https://[::1]:8443",
            "https://10.0.0.7/wp",
            "https://169.254.169.254",
            "https://198.18.0.1",
            "https://192.0.0.8",
            "https://240.0.0.1",
            "https://[64:ff9b::a9fe:a9fe]",
            "https://[2002:a9fe:a9fe::1]",
            "https://[fec0::1]",
        ] {
            let parsed = tessera_core::internals::url::Url::parse(url, "site_url").unwrap();
            assert!(refuse_internal_literal(&parsed, false).is_err(), "{url}");
        }
        let loopback = tessera_core::internals::url::Url::parse("http://127.0.0.1:8080", "site_url").unwrap();
        assert!(refuse_internal_literal(&loopback, true).is_ok(), "the test configuration admits loopback");
        let private = tessera_core::internals::url::Url::parse("http://10.0.0.1:8080", "site_url").unwrap();
        assert!(refuse_internal_literal(&private, true).is_err(), "and nothing else");
        let public = tessera_core::internals::url::Url::parse("https://93.184.216.34", "site_url").unwrap();
        assert!(refuse_internal_literal(&public, false).is_ok());
    }

    #[test]
    fn proxy_paths_are_plain() {
        assert!(check_proxy_path("/api/orders/ord_1").is_ok());
        for bad in ["/api/../oauth2/token", "/api/./orders", "/api/%2e%2e/oauth2/token", "/api/a%2Fb", "/api/a\\b"] {
            assert!(check_proxy_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins() {
        assert_eq!(origin("https://shop.example/wp-admin?x"), Some("https://shop.example"));
        assert_eq!(origin("http://127.0.0.1:8080"), Some("http://127.0.0.1:8080"));
        assert_eq!(origin("chrome-extension://abc/options.html"), Some("chrome-extension://abc"));
        assert_eq!(origin("/relative"), None);
        assert_ne!(origin("https://shop.example.evil.com/x"), origin("https://shop.example/x"));
    }

    #[test]
    fn install_ids() {
        assert!(valid_install_id("ins_rF4a41bjdzDyDhx9__Gicw"));
        assert!(!valid_install_id("ins_short"));
        assert!(!valid_install_id("xyz_rF4a41bjdzDyDhx9__Gicw"));
        assert!(!valid_install_id("ins_rF4a41bjdzDyDhx9__Gi.w"));
    }
}

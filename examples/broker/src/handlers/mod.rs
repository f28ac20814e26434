//! The protocol, one function per route. Each handler is plain synchronous
//! code (it runs on tokio's blocking pool): verify, load, decide, store,
//! answer. Read them top to bottom: this file verifies and gates; each
//! route family is a submodule.

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

mod admin;
mod api;
mod idle;
mod leave;
mod register;

pub use admin::*;
pub use api::*;
pub use idle::*;
pub use leave::*;
pub use register::*;

//! Stora access tokens for the API proxy: refreshed once per expiry, by one
//! instance at a time, never losing the rotated pair.
//!
//! Stora rotates the refresh token on every use and revokes the one
//! presented, so the refresh is the one place where a broker can lose a
//! connection for good. [`fresh_access_token`] keeps these rules:
//!
//! 1. **One refresh per grant at a time, across every instance**: the
//!    grant's lock ([`crate::store::lock`]) is held from reading the grant
//!    to writing what Stora answered.
//! 2. **Re-read after the lock**: whoever waited finds the pair the holder
//!    wrote, still fresh, and uses it instead of refreshing again. (A call
//!    whose token needs nothing takes no lock at all.)
//! 3. **Check the database takes writes before spending the refresh
//!    token**, and that the grant is still at the generation read
//!    ([`crate::store::Store::begin_refresh`], which also marks a refresh
//!    under way).
//! 4. **Write the rotated pair before the new access token is used or
//!    returned**, compare-and-set on the generation (the fencing number); a
//!    failed write is retried ([`SAVE_ATTEMPTS`]) and, if the pair cannot be
//!    saved, reported loudly (`rotation_lost`: a metric and an error log
//!    line) — the grant is then lost and the operator must reconnect.
//! 5. **Re-read on `invalid_grant`** before declaring the grant dead: a
//!    rotation by another instance makes the old refresh token look
//!    revoked. A grant still marked as being refreshed when Stora refuses
//!    it lost its rotation to a crash between Stora's answer and the write
//!    (reported as `rotation_lost` too).
//!
//! The window that cannot be closed: an instance that dies after Stora
//! rotated and before the write (or whose database stays unwritable through
//! every retry) has spent the only valid refresh token; the grant is gone
//! and the next call answers `stora_reconnect_required`.

use std::time::Duration;

use tessera_core::internals::secret::ct_eq;
use zeroize::Zeroizing;

use crate::handlers::{Step, db};
use crate::stora::StoraError;
use crate::store::{Grant, NewTokens};
use crate::{App, Reply};

/// Attempts at writing a rotated pair (with a growing pause between them).
pub const SAVE_ATTEMPTS: u32 = 4;

/// An access token and the generation of the grant it belongs to: what
/// Stora's answer to a call made with it can be about.
pub struct Access {
    /// The Stora access token.
    pub token: Zeroizing<String>,
    /// The grant's generation when this token was read or written.
    pub generation: i64,
    /// Whose budget a call with it comes from ([`operator_key`]).
    pub operator: String,
}

/// The key of the pacing budget a grant's calls come from: its Stora
/// account; an installation of its own for a grant stored before the broker
/// remembered accounts (schema version 3), until it reconnects.
pub fn operator_key(grant: &Grant) -> String {
    match &grant.account_id {
        Some(account) => account.clone(),
        None => format!("installation:{}", grant.install_id),
    }
}

/// `503 refresh_conflict`: the grant changed during the call; the plugin retries.
pub fn refresh_conflict() -> Reply {
    Reply::error(503, "refresh_conflict", "the grant changed during the call; retry")
}

/// `401 stora_reconnect_required`: the operator's grant is gone.
pub fn reconnect_required() -> Reply {
    Reply::error(401, "stora_reconnect_required", "the operator's Stora grant is gone; reconnect")
}

/// Takes the grant's lock; a lock that cannot be had in time (another
/// instance holds it past the database's `lock_timeout`) is a conflict.
pub fn lock_grant<'a>(app: &'a App, install_id: &str) -> Step<crate::store::GrantLock<'a>> {
    app.store.lock_grant(install_id).map_err(|_| refresh_conflict())
}

/// A Stora access token valid for at least the refresh margin (see the
/// module documentation for the rules). `stale` forces a refresh when Stora
/// has just refused that access token, unless another caller already
/// replaced it.
pub fn fresh_access_token(app: &App, install_id: &str, stale: Option<&str>) -> Step<Access> {
    // Most calls find a token that needs nothing: no lock for them.
    let grant = usable_grant(app, install_id)?;
    if !needs_refresh(app, &grant, stale) {
        return Ok(access(grant));
    }
    let _lock = lock_grant(app, install_id)?;
    // Re-read under the lock: the holder before us may have refreshed.
    let grant = usable_grant(app, install_id)?;
    if !needs_refresh(app, &grant, stale) {
        return Ok(access(grant));
    }
    let now = app.now();
    // The database must take this write before the refresh token is spent.
    match app.store.begin_refresh(install_id, grant.generation, now) {
        Ok(true) => {}
        Ok(false) => return Err(refresh_conflict()),
        Err(_) => {
            app.observer.refresh_failed(install_id, "storage");
            return Err(Reply::error(503, "storage_unavailable", "the broker cannot save a refresh now; retry"));
        }
    }
    crate::crash::point("before_stora");
    let operator = operator_key(&grant);
    match app.stora.refresh(&grant.refresh_token, now) {
        Ok(tokens) => {
            crate::crash::point("after_stora");
            save_rotation(app, install_id, grant.generation, &tokens, now)?;
            crate::crash::point("after_write");
            app.observer.refreshed(install_id);
            // rotate_tokens moved the grant to the next generation.
            Ok(Access { token: tokens.access_token, generation: grant.generation + 1, operator })
        }
        Err(StoraError::InvalidGrant) => invalid_grant(app, &grant),
        Err(StoraError::Status(429, _)) => {
            // Stora answered without rotating: nothing is under way any more.
            let _ = app.store.end_refresh(install_id, grant.generation);
            app.observer.refresh_failed(install_id, "rate_limited");
            Err(Reply::error(429, "rate_limited", "Stora rate limit").with_header("retry-after", "1"))
        }
        Err(_) => {
            // No answer (or an error answer): whether Stora rotated is not
            // known, so the mark stays — should Stora refuse the old token
            // next time, that is reported as the lost rotation it was.
            app.observer.refresh_failed(install_id, "stora_unavailable");
            Err(Reply::error(502, "stora_unavailable", "the token refresh failed; retry"))
        }
    }
}

/// The installation's grant, unless it has none (`401
/// broker_token_invalid`) or it is revoked (`401 stora_reconnect_required`).
fn usable_grant(app: &App, install_id: &str) -> Step<Grant> {
    match db(app.store.grant(install_id))? {
        None => Err(Reply::error(401, "broker_token_invalid", "the installation is not connected")),
        Some(grant) if grant.revoked => Err(reconnect_required()),
        Some(grant) => Ok(grant),
    }
}

/// Whether `grant`'s access token must be refreshed: it is `stale` (Stora
/// has just refused it), or it expires within the refresh margin.
fn needs_refresh(app: &App, grant: &Grant, stale: Option<&str>) -> bool {
    match stale {
        Some(refused) => ct_eq(grant.access_token.as_bytes(), refused.as_bytes()),
        None => grant.access_expires_at - app.now() <= app.config.refresh_margin_secs,
    }
}

fn access(grant: Grant) -> Access {
    let operator = operator_key(&grant);
    Access { token: grant.access_token, generation: grant.generation, operator }
}

/// Writes the rotated pair (compare-and-set on `generation`), retrying a
/// failed write; a pair that cannot be saved is reported loudly.
fn save_rotation(app: &App, install_id: &str, generation: i64, tokens: &NewTokens, now: i64) -> Step<()> {
    crate::crash::point("before_write");
    let mut pause = Duration::from_millis(50);
    for attempt in 1..=SAVE_ATTEMPTS {
        match app.store.rotate_tokens(install_id, generation, tokens, now) {
            Ok(true) => return Ok(()),
            // The grant moved on although its lock was held (a lock lost
            // with its connection): the pair Stora just issued is the only
            // valid one, and the database holds another.
            Ok(false) => break,
            Err(_) if attempt < SAVE_ATTEMPTS => {
                std::thread::sleep(pause);
                pause *= 4;
            }
            Err(_) => {
                app.observer.refresh_failed(install_id, "storage");
                break;
            }
        }
    }
    app.observer.rotation_lost(install_id);
    Err(Reply::error(503, "storage_unavailable", "the refreshed Stora tokens could not be saved"))
}

/// Stora refused the refresh token. Unless the grant moved on meanwhile (a
/// rotation elsewhere, a reconnect: then that is the grant to use), it is
/// gone: marked revoked (compare-and-set), `stora_reconnect_required`.
fn invalid_grant(app: &App, refused: &Grant) -> Step<Access> {
    let install_id = refused.install_id.as_str();
    let current = db(app.store.grant(install_id))?;
    if let Some(current) = current.filter(|g| g.generation != refused.generation) {
        if current.revoked {
            return Err(reconnect_required());
        }
        return Ok(access(current));
    }
    if refused.refresh_started_at.is_some() {
        // A refresh of this very generation was begun earlier and never
        // finished: Stora rotated then, and the pair it issued was lost.
        app.observer.rotation_lost(install_id);
    }
    app.observer.refresh_failed(install_id, "invalid_grant");
    db(app.store.mark_grant_revoked(install_id, refused.generation))?;
    Err(reconnect_required())
}

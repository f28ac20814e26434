//! Idle installations: `last_seen`, and the sweep that forgets the silent ones.

use super::*;

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

//! Pushed events (docs/PROTOCOL.md §14.4), optional: an installation whose
//! site accepts inbound requests registers a URL on its own origin (`PUT
//! /events/push`, signed, with its broker token; `DELETE` stops), and each
//! event queued for it from then on is POSTed there at once, signed with
//! the installation's secret ([`tessera_core::sign_push`]).
//!
//! The pull stays the source of truth: a push is best effort (three
//! attempts, 1 s then 4 s apart, in the background so Stora's webhook is
//! answered at once), never moves the cursor, and the event stays queued
//! for the next pull. The POST goes through [`site_fetch`]'s pinned client:
//! resolved once, internal addresses refused, no redirects, 5 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tessera_core::{Secret, check_push_url, sign_push};

use crate::handlers::{Step, check_broker_token, check_enabled, db, verify_signed};
use crate::site_fetch;
use crate::store::NewEvent;
use crate::{App, Incoming, Reply};

/// Attempts per push, and the pause before each retry.
pub const RETRY_PAUSES: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(4)];

/// Most pushes in flight per process; beyond, a push is skipped (counted as
/// failed: the pull brings the event anyway).
pub const MAX_IN_FLIGHT: usize = 64;

/// This process's pushes, shared with the delivery threads.
#[derive(Debug, Default)]
pub struct Pushes {
    in_flight: AtomicUsize,
    /// Pushes the site answered with a 2xx.
    pub delivered: AtomicU64,
    /// Pushes given up (no 2xx after every attempt, or skipped while
    /// [`MAX_IN_FLIGHT`] were under way).
    pub failed: AtomicU64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PushBody {
    url: String,
}

/// `PUT /events/push {"url"}` / `DELETE /events/push` (signed, broker
/// token): sets or removes the installation's push URL. The URL must be on
/// the registered site's origin ([`check_push_url`]); else `400
/// invalid_request`. Answers `200 {"push_url"}` or `204`.
pub fn register(app: &App, req: &Incoming) -> Reply {
    if !matches!(req.method.as_str(), "PUT" | "DELETE") {
        return Reply::error(405, "method_not_allowed", "this route takes PUT or DELETE");
    }
    let (verified, installation) = match verify_signed(app, req, &check_enabled) {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    let id = installation.install_id.clone();
    let result = (|| -> Step<Reply> {
        check_broker_token(app, &verified)?;
        if req.method == "DELETE" {
            db(app.store.set_event_push(&id, None, app.now()))?;
            return Ok(Reply::no_content());
        }
        let bad = |what: &str| Reply::error(400, "invalid_request", what);
        let body: PushBody = serde_json::from_slice(&req.body).map_err(|_| bad("expected {\"url\": \"…\"}"))?;
        let url = check_push_url(&installation.site_url, &body.url)
            .map_err(|_| bad("the push URL must be an http(s) URL on the site's own origin"))?;
        db(app.store.set_event_push(&id, Some(&url), app.now()))?;
        Ok(Reply::json(200, json!({ "push_url": url })))
    })();
    result.unwrap_or_else(|r| r).for_install(&id)
}

/// After `event` was queued for `install_id`: pushes it in the background
/// when the installation registered a push URL. `data` is the event's
/// `data` as received (`event.data` is its text). Never fails the caller.
pub fn after_queued(app: &App, install_id: &str, event: &NewEvent<'_>, data: &serde_json::Value) {
    let Ok(Some(url)) = app.store.event_push(install_id) else { return };
    let Ok(Some(installation)) = app.store.installation(install_id) else { return };
    let Ok(secret) = Secret::from_bytes(&installation.secret) else { return };
    let body = json!({ "events": [{
        "id": event.event_id, "type": event.event_type, "api_version": event.api_version,
        "created_at": event.created_at, "data": data,
    }]})
    .to_string()
    .into_bytes();
    let pushes = Arc::clone(&app.pushes);
    if pushes.in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
        pushes.in_flight.fetch_sub(1, Ordering::AcqRel);
        pushes.failed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let resolver = Arc::clone(&app.config.resolver);
    let allow_loopback = app.config.allow_loopback_sites;
    let id = install_id.to_string();
    let clock = app.now() - wall_now();
    std::thread::spawn(move || {
        let mut pauses = RETRY_PAUSES.iter();
        let delivered = loop {
            // Signed afresh for each attempt: a retry is not a stale replay.
            let signature = sign_push(&secret, &id, &body, wall_now() + clock);
            let ok = matches!(site_fetch::post_push(&resolver, allow_loopback, &url, &signature, &body), Ok(200..=299));
            match pauses.next() {
                _ if ok => break true,
                Some(pause) => std::thread::sleep(*pause),
                None => break false,
            }
        };
        let counter = if delivered { &pushes.delivered } else { &pushes.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        pushes.in_flight.fetch_sub(1, Ordering::AcqRel);
    });
}

fn wall_now() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

//! Operations routes behind the admin bearer token, next to the kill switch
//! and the per-installation view in [`crate::handlers`]: the installation
//! listing (what `tessera-broker-admin list` pages through) and the
//! Prometheus exposition.

use serde_json::json;

use crate::handlers::check_admin;
use crate::store::InstallStatus;
use crate::{App, Incoming, Reply};

/// Page size when the caller names none.
pub const DEFAULT_PAGE: usize = 100;

/// Largest page answered.
pub const MAX_PAGE: usize = 1000;

/// `GET /admin/installations?status=&limit=&after=`: installations ordered
/// by id, `limit` at a time (default [`DEFAULT_PAGE`], at most
/// [`MAX_PAGE`]), those after the id `after`, only those of `status`
/// (`active`, `pending_ownership`, `disabled`) when given. Answers
/// `{"installations": [{install_id, site_url, platform, plugin_version,
/// status, proven, last_seen, connected}], "next_after": <id or null>}`:
/// `next_after` is the `after` of the next page, `null` on the last one.
/// No secret and no email.
pub fn list_installations(app: &App, req: &Incoming) -> Reply {
    if let Err(reply) = check_admin(app, req) {
        return reply;
    }
    let bad = |what: &str| Reply::error(400, "invalid_request", what);
    let status = match req.param("status").as_deref() {
        None | Some("") => None,
        Some("active") => Some(InstallStatus::Active),
        Some("pending_ownership") => Some(InstallStatus::PendingOwnership),
        Some("disabled") => Some(InstallStatus::Disabled),
        Some(_) => return bad("status must be active, pending_ownership or disabled"),
    };
    let limit = match req.param("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => return bad("limit must be 1 to 1000"),
    };
    let after = req.param("after").filter(|a| !a.is_empty());
    // One row more than asked tells whether another page follows.
    let mut rows = match app.store.list_installations(status, after.as_deref(), limit + 1) {
        Ok(rows) => rows,
        Err(_) => return crate::handlers::internal("storage error"),
    };
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_after = if more { rows.last().map(|r| r.install_id.clone()) } else { None };
    let installations: Vec<_> = rows
        .into_iter()
        .map(|r| {
            json!({
                "install_id": r.install_id,
                "site_url": r.site_url,
                "platform": r.platform,
                "plugin_version": r.plugin_version,
                "status": r.status.as_str(),
                "proven": r.proven,
                "last_seen": r.last_seen,
                "connected": r.connected,
            })
        })
        .collect();
    Reply::json(200, json!({"installations": installations, "next_after": next_after}))
}

/// `GET /metrics`: this process's counters in the Prometheus text format
/// ([`crate::metrics`]). Behind the admin token like `/admin/…`: per
/// installation counts tell who is connected and how busy they are.
pub fn prometheus(app: &App, req: &Incoming) -> Reply {
    if let Err(reply) = check_admin(app, req) {
        return reply;
    }
    Reply {
        status: 200,
        headers: vec![
            ("content-type".into(), crate::metrics::CONTENT_TYPE.into()),
            ("cache-control".into(), "no-store".into()),
        ],
        body: crate::metrics::render(app).into_bytes(),
        install_id: None,
        error: None,
        origin: crate::Origin::Broker,
    }
}

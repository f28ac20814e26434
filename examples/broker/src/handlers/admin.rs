//! The operator-facing admin routes: the kill switch, one installation, the metrics; and the fallback 404.

use super::*;

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

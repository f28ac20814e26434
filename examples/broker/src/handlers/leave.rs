//! Leaving: disconnect, deregister, the uninstall ticket, revoking a previous installation, a site move.

use super::*;

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
pub(super) fn remove_installation(app: &App, install_id: &str) -> Step<bool> {
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

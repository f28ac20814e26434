//! The API proxy (docs/PROTOCOL.md §5.5): a signed call, paced per operator, forwarded to Stora with the grant's access token.

use super::*;

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
pub(super) fn check_proxy_path(path: &str) -> Step<()> {
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

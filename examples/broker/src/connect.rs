//! The connect flow (`docs/PROTOCOL.md` §5.3–§5.4.1), one function per route:
//!
//! 1. [`connect`] — `GET /connect` (browser): the signed link, opened **once**
//!    (a second opening answers `409 connect_link_used` and cancels the round
//!    the first one started); the round is bound to the browser by the
//!    `tessera_browser` cookie; the interstitial.
//! 2. [`connect_continue`] / [`connect_cancel`] — the interstitial's
//!    "Continue" (same browser only → Stora's consent) and "This is not me".
//! 3. [`callback`] — `GET /callback` (browser, from Stora; same browser
//!    only): exchange Stora's code, read the account, keep both **with the
//!    round** (the installation's grant is untouched), send the browser back
//!    with a single-use connect code, never a broker token.
//! 4. [`connect_complete`] — `POST /connect/complete` (signed by the
//!    installation): the code becomes the installation's grant and a broker
//!    token, in the answer body.
//!
//! Rounds whose time ran out are swept lazily (on every connect route); a
//! round that obtained a Stora grant and was never completed has that grant
//! revoked at Stora.

use tessera_core::Secret;
use tessera_core::internals::secret::ct_eq;
use zeroize::Zeroizing;

use crate::crypto::{random_id, token_hash};
use crate::handlers::{Step, check_enabled, internal, public_path, return_url_allowed, seen};
use crate::stora::StoraError;
use crate::store::{AttemptStage, ConnectAttempt, Forgotten, InstallStatus, Installation, LinkClaim, Obtained};
use crate::{App, Incoming, Reply};

mod complete;

pub use complete::connect_complete;

/// The cookie that binds a connect round to the browser that opened the link.
pub const BROWSER_COOKIE: &str = "tessera_browser";

/// How long a connect link is remembered after its `ts` (its validity window).
pub const LINK_TTL_SECS: i64 = 600;

/// How long a connect code exchanges (and how long a completed exchange can
/// be repeated with the same `Idempotency-Key`).
pub const CODE_TTL_SECS: i64 = 300;

// ---- rounds: sweeping, cancelling, the browser binding ----------------------------------

/// Revokes at Stora (best effort) the grants forgotten rounds held.
pub(crate) fn revoke_forgotten(app: &App, forgotten: Vec<Forgotten>) {
    for round in forgotten {
        if let Some(refresh) = round.refresh_token.filter(|_| round.stage != AttemptStage::Completed) {
            let _ = app.stora.revoke(&refresh);
        }
    }
}

/// Forgets the rounds whose time is up; revokes the Stora grants of those
/// that obtained one and were never completed.
fn sweep(app: &App) {
    if let Ok(forgotten) = app.store.sweep_connect_attempts(app.now()) {
        revoke_forgotten(app, forgotten);
    }
}

/// Ends a round that is not completed (cancelled, refused or failed): its
/// connect code no longer exchanges and a grant it obtained is revoked.
fn end_round(app: &App, broker_state: &str) {
    if let Ok(Some(round)) = app.store.cancel_connect_attempt(broker_state) {
        revoke_forgotten(app, vec![round]);
    }
}

/// The `tessera_browser` cookie of the request, when well formed (43
/// base64url characters: 32 bytes).
fn browser_cookie(req: &Incoming) -> Option<String> {
    let well_formed = |v: &str| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    req.headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, value)| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == BROWSER_COOKIE && well_formed(value))
        .map(|(_, value)| value.to_string())
}

/// Whether the request comes from the browser the round is bound to
/// (its cookie's SHA-256, compared in constant time).
fn same_browser(req: &Incoming, attempt: &ConnectAttempt) -> bool {
    browser_cookie(req).is_some_and(|cookie| ct_eq(&token_hash(&cookie), &attempt.browser_hash))
}

/// `Set-Cookie` for the browser binding: `HttpOnly; SameSite=Lax` (it
/// travels with Stora's top-level redirect back), on the broker's public
/// path, `Secure` behind an `https` public URL, for the round's 10 minutes.
fn set_browser_cookie(app: &App, value: &str) -> String {
    let path = match public_path(app) {
        "" => "/",
        prefix => prefix,
    };
    let secure = if app.public_url.starts_with("https://") { "; Secure" } else { "" };
    format!("{BROWSER_COOKIE}={value}; Path={path}; Max-Age={LINK_TTL_SECS}; HttpOnly; SameSite=Lax{secure}")
}

/// The round was continued from another browser: it ends, nothing is sent
/// to the return URL.
fn browser_mismatch(app: &App, broker_state: &str, install_id: &str) -> Reply {
    end_round(app, broker_state);
    Reply::page(
        403,
        "Continue in the browser you started in",
        "This connection was started in another browser, so it was stopped and nothing was connected. \
         Start again from your plugin's settings page, in this browser.",
        Some("connect_browser_mismatch"),
    )
    .for_install(install_id)
}

// ---- GET /connect --------------------------------------------------------------------------

/// `GET /connect?install_id&state&return_url&scope&ts&sig` (browser): verify
/// the signed URL, use the link up (a second opening: `409
/// connect_link_used`, and the first opening's round is cancelled), bind a
/// new round to the browser's cookie, show the interstitial.
pub fn connect(app: &App, req: &Incoming) -> Reply {
    let (params, installation) = match verify_link(app, req) {
        Ok(verified) => verified,
        Err(reply) => return reply,
    };
    let id = params.install_id.as_str();

    // The callback goes to return_url: it must be on the registered site
    // (for an extension: its own pages or its own chromiumapp.org address).
    if !return_url_allowed(&installation, &params.return_url) {
        return return_url_mismatch().for_install(id);
    }
    sweep(app);

    // One use: whoever opens a link second (its owner after a leak, or the
    // holder of a leaked copy after its owner) kills the first round.
    let claim = app.store.claim_connect_link(id, &params.state, params.ts + LINK_TTL_SECS, app.now());
    match claim {
        Ok(LinkClaim::Fresh) => {}
        Ok(LinkClaim::Used { broker_state }) => {
            if let Some(broker_state) = broker_state {
                end_round(app, &broker_state);
            }
            return Reply::page(
                409,
                "This connect link was already used",
                "A connect link works once. Whatever it started was stopped and nothing was connected. \
                 Start again from your plugin's settings page.",
                Some("connect_link_used"),
            )
            .for_install(id);
        }
        Err(_) => return internal("storage error").for_install(id),
    }

    // From here on the return URL is trusted: report errors there.
    if let Err(reply) = check_enabled(&installation) {
        let code = reply.error.clone().unwrap_or_default();
        let mut r = Reply::redirect(&append_query(&params.return_url, &[("state", &params.state), ("error", &code)]))
            .for_install(id);
        r.error = Some(code);
        return r;
    }
    // Only scopes this broker's operator allows: a connect link is signed
    // by whoever registered, and may ask for anything.
    let requested = params.scope.clone().unwrap_or_else(|| app.config.default_scope.clone());
    let scope = match allowed_scope(app, &requested) {
        Ok(scope) => scope,
        Err(refused) => return scope_not_allowed(&refused).for_install(id),
    };
    // The browser binding: an existing cookie is reused (one browser, two rounds).
    let cookie = browser_cookie(req).unwrap_or_else(|| random_id("", 32));
    let broker_state = random_id("", 24);
    let attempt = ConnectAttempt {
        install_id: id.to_string(),
        plugin_state: params.state.clone(),
        return_url: params.return_url.clone(),
        scope: scope.clone(),
        expires_at: app.now() + app.config.connect_ttl_secs,
        browser_hash: token_hash(&cookie),
        stage: AttemptStage::Consent,
    };
    if app.store.insert_connect_attempt(&broker_state, &attempt).is_err()
        || app.store.set_link_round(id, &params.state, &broker_state).is_err()
    {
        return internal("storage error").for_install(id);
    }
    interstitial(app, &installation, &scope, &broker_state)
        .with_header("set-cookie", &set_browser_cookie(app, &cookie))
        .for_install(id)
}

/// Verifies the URL-signed connect link of a `GET /connect` (§5.3) with
/// the installation's secret, against the public URL: its parameters and the
/// installation. A refusal is its error page ([`link_refused`]). A verified
/// link keeps the installation from expiring as idle.
pub fn verify_link(app: &App, req: &Incoming) -> Step<(tessera_core::ConnectParams, Installation)> {
    let url = format!("{}{}", app.public_url, req.path_and_query());
    let mut installation = None;
    let verified = tessera_core::begin_connect_url(&url, app.now()).and_then(|pending| {
        installation = app.store.installation(pending.install_id()).ok().flatten();
        pending.check(installation.as_ref().and_then(|i| Secret::from_bytes(&i.secret).ok()).as_ref())
    });
    let params = verified.map_err(|refusal| link_refused(&refusal))?;
    let Some(installation) = installation else {
        return Err(internal("verified without an installation"));
    };
    seen(app, &installation);
    Ok((params, installation))
}

/// The error page of a connect link that did not verify: the refusal's
/// status and code.
pub fn link_refused(refusal: &tessera_core::Refusal) -> Reply {
    Reply::page(
        refusal.status(),
        "This connect link is not valid",
        "Start again from your plugin's settings page.",
        Some(refusal.code()),
    )
}

/// The error page of a connect link whose `return_url` is not the
/// installation's ([`return_url_allowed`]): `400 return_url_mismatch`.
pub fn return_url_mismatch() -> Reply {
    Reply::page(
        400,
        "This connect link is not valid",
        "The return address is not on the registered site.",
        Some("return_url_mismatch"),
    )
}

/// The error page of a connect link asking for scopes off the allow-list
/// ([`allowed_scope`]): `400 scope_not_allowed`, naming the `refused` parts.
pub fn scope_not_allowed(refused: &[String]) -> Reply {
    Reply::page(
        400,
        "This access is not allowed",
        &format!(
            "The link asks for access that this service does not offer ({}). Nothing was sent to Stora. \
             Error: scope_not_allowed.",
            refused.join(" ")
        ),
        Some("scope_not_allowed"),
    )
}

/// The requested scope, its parts deduplicated, if every part is on the
/// broker's allow-list (`allowed_scopes`); otherwise the parts that are not
/// (`(none)` for an empty scope).
pub fn allowed_scope(app: &App, requested: &str) -> Result<String, Vec<String>> {
    let mut parts: Vec<&str> = Vec::new();
    for part in requested.split(' ').filter(|p| !p.is_empty()) {
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    let refused: Vec<String> =
        parts.iter().filter(|p| !app.config.allowed_scopes.iter().any(|a| a == *p)).map(|p| p.to_string()).collect();
    if parts.is_empty() {
        return Err(vec![String::from("(none)")]);
    }
    if !refused.is_empty() {
        return Err(refused);
    }
    Ok(parts.join(" "))
}

/// HTML-escapes text for element content and attribute values.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The page shown before the operator is sent to Stora: which site asks,
/// registered by whom (the admin email's domain), for what access, and two
/// ways on — "Continue" (to Stora's consent) and "This is not me" (nothing is
/// connected). A link mailed by a stranger who registered their own site
/// shows *their* site here, not the operator's. Never framed.
fn interstitial(app: &App, installation: &Installation, scope: &str, broker_state: &str) -> Reply {
    let domain = installation.admin_email.rsplit_once('@').map_or("", |(_, d)| d);
    let scopes: String = scope.split(' ').map(|s| format!("<li><code>{}</code></li>", esc(s))).collect();
    let attempt = form_urlencoded::byte_serialize(broker_state.as_bytes()).collect::<String>();
    let base = public_path(app);
    let body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Connect to Stora?</title></head>\n<body>\n\
         <h1>Connect a site to your Stora account?</h1>\n\
         <p>A site is asking for access to your Stora account. Continue only if this is your own site and you \
         started this from its settings page.</p>\n\
         <dl>\n<dt>Site</dt><dd id=\"site\">{site}</dd>\n\
         <dt>Registered by an administrator at</dt><dd id=\"admin-domain\">{domain}</dd>\n\
         <dt>Access requested</dt><dd><ul id=\"scopes\">{scopes}</ul></dd>\n</dl>\n\
         <p><a id=\"continue\" href=\"{base}/connect/continue?attempt={attempt}\">Continue</a>\n\
         <a id=\"not-me\" href=\"{base}/connect/cancel?attempt={attempt}\">This is not me</a></p>\n\
         </body></html>\n",
        site = esc(&installation.site_url),
        domain = esc(domain),
        base = esc(base),
    );
    Reply {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/html; charset=utf-8".into()),
            ("cache-control".into(), "no-store".into()),
            ("referrer-policy".into(), "no-referrer".into()),
            ("x-frame-options".into(), "DENY".into()),
            ("content-security-policy".into(), "default-src 'none'; frame-ancestors 'none'; base-uri 'none'".into()),
        ],
        body: body.into_bytes(),
        install_id: None,
        error: None,
        origin: crate::Origin::Broker,
    }
}

// ---- the interstitial's two links ------------------------------------------------------------

/// `GET /connect/continue?attempt=…` (browser, the interstitial's
/// "Continue"): from the browser the round is bound to only, send it to
/// Stora's consent page.
pub fn connect_continue(app: &App, req: &Incoming) -> Reply {
    let gone = || {
        Reply::page(
            400,
            "This connect link is no longer valid",
            "It expired, was cancelled or was already used. Start again from your plugin's settings page.",
            Some("invalid_state"),
        )
    };
    let Some(broker_state) = req.param("attempt") else {
        return gone();
    };
    let attempt = match app.store.connect_attempt(&broker_state) {
        Ok(Some(a)) if a.stage == AttemptStage::Consent => a,
        Ok(_) => return gone(),
        Err(_) => return internal("storage error"),
    };
    if !same_browser(req, &attempt) {
        return browser_mismatch(app, &broker_state, &attempt.install_id);
    }
    if attempt.expires_at < app.now() {
        return gone().for_install(&attempt.install_id);
    }
    Reply::redirect(&app.stora.authorize_url(&callback_url(app), &attempt.scope, &broker_state))
        .for_install(&attempt.install_id)
}

/// `GET /connect/cancel?attempt=…` (browser, the interstitial's "This is
/// not me"): forget the attempt, connect nothing, send the browser nowhere
/// (least of all to the return URL of a site the operator does not know).
/// Logged with the code `connect_not_me`, so the broker's operator can see
/// who sends such links.
pub fn connect_cancel(app: &App, req: &Incoming) -> Reply {
    let taken = req.param("attempt").and_then(|state| app.store.cancel_connect_attempt(&state).ok().flatten());
    let reply = Reply::page(
        200,
        "Nothing was connected",
        "Nothing was connected and nothing was shared with that site. If you did not start this, someone may \
         be trying to get access to your Stora account: do not use that link again. You can close this page.",
        Some("connect_not_me"),
    );
    match taken {
        Some(round) => {
            let id = round.install_id.clone();
            revoke_forgotten(app, vec![round]);
            reply.for_install(&id)
        }
        None => reply,
    }
}

fn callback_url(app: &App) -> String {
    format!("{}/callback", app.public_url)
}

/// Appends form-encoded parameters to a URL.
pub fn append_query(url: &str, params: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish().replace('+', "%20");
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

// ---- GET /callback -----------------------------------------------------------------------------

/// `GET /callback?code&state` (browser, from Stora): check the broker state
/// (one callback per round, 10 minutes) and the browser binding, exchange
/// the code with the client secret, read the account, keep the tokens with
/// the round (sealed), and send the browser back to the plugin with `state`
/// and a single-use connect code. The installation's grant is untouched.
pub fn callback(app: &App, req: &Incoming) -> Reply {
    let unknown = || {
        Reply::page(
            400,
            "Connection failed",
            "This connection attempt is unknown, was cancelled or was already used. Start again from your plugin.",
            Some("invalid_state"),
        )
    };
    let Some(broker_state) = req.param("state") else {
        return Reply::page(400, "Connection failed", "The answer from Stora has no state.", Some("invalid_state"));
    };
    sweep(app);
    let attempt = match app.store.connect_attempt(&broker_state) {
        Ok(Some(a)) => a,
        Ok(None) => return unknown(),
        Err(_) => return internal("storage error"),
    };
    let id = attempt.install_id.clone();
    if !same_browser(req, &attempt) {
        return browser_mismatch(app, &broker_state, &id);
    }
    match app.store.begin_exchange(&broker_state) {
        Ok(true) => {}
        Ok(false) => return unknown().for_install(&id),
        Err(_) => return internal("storage error").for_install(&id),
    }
    let back = |params: &[(&str, &str)]| {
        let mut all = vec![("state", attempt.plugin_state.as_str())];
        all.extend_from_slice(params);
        Reply::redirect(&append_query(&attempt.return_url, &all)).for_install(&id)
    };
    // Every failure from here ends the round, and says so on the return URL.
    let back_with_error = |code: &str| {
        end_round(app, &broker_state);
        let mut r = back(&[("error", code)]);
        r.error = Some(code.to_string());
        r
    };
    let now = app.now();
    if attempt.expires_at < now {
        return back_with_error("connect_expired");
    }
    if let Some(error) = req.param("error") {
        // e.g. access_denied: the operator said no.
        let code: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        return back_with_error(if code.is_empty() { "stora_error" } else { &code });
    }
    let Some(code) = req.param("code") else {
        return back_with_error("invalid_callback");
    };
    match app.store.installation(&id) {
        Ok(Some(i)) if i.status == InstallStatus::Active => {}
        Ok(Some(_)) => return back_with_error("installation_disabled"),
        Ok(None) => {
            return Reply::page(
                400,
                "Connection failed",
                "The installation no longer exists.",
                Some("unknown_installation"),
            );
        }
        Err(_) => return internal("storage error"),
    }

    let tokens = match app.stora.exchange_code(&code, &callback_url(app), now) {
        Ok(t) => t,
        Err(StoraError::InvalidGrant) => return back_with_error("invalid_grant"),
        Err(_) => return back_with_error("stora_unavailable"),
    };
    // Which Stora account consented: the plugin shows it to the operator.
    let account = match app.stora.account(&tokens.access_token) {
        Ok(account) => {
            // An API call Stora counts against the operator, made before
            // the operator was known: the calls after it count it.
            app.pacer.note(&account.id, app.shared_store());
            account
        }
        Err(_) => {
            let _ = app.stora.revoke(&tokens.refresh_token);
            return back_with_error("stora_unavailable");
        }
    };
    let connect_code = Zeroizing::new(random_id("cc_", 32));
    let obtained = Obtained {
        tokens,
        account_id: account.id,
        account_name: account.name,
        code_hash: token_hash(&connect_code),
        code_expires_at: now + CODE_TTL_SECS,
    };
    match app.store.authorize_attempt(&broker_state, &obtained) {
        Ok(true) => back(&[("code", connect_code.as_str())]),
        // Cancelled while Stora was asked (the link was opened again).
        Ok(false) => {
            let _ = app.stora.revoke(&obtained.tokens.refresh_token);
            unknown().for_install(&id)
        }
        Err(_) => {
            let _ = app.stora.revoke(&obtained.tokens.refresh_token);
            back_with_error("broker_storage_error")
        }
    }
}

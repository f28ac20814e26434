//! Registration (docs/PROTOCOL.md §5.1–§5.2): site URL checks, the ownership proof, the new installation.

use super::*;

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
pub(super) fn check_site_url(app: &App, site_url: &str) -> Step<String> {
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
pub(super) fn extension_id(identity: &str) -> Option<&str> {
    ["chrome-extension://", "moz-extension://"].iter().find_map(|scheme| identity.strip_prefix(scheme))
}

/// Whether a registration (or site move) of `platform` at `site` (its
/// identity) owes an ownership proof: never for a browser extension, else as
/// the broker's per-platform policy says (`require_ownership_proof_for`).
pub(super) fn proof_required(app: &App, platform: &str, site: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::super::api::check_proxy_path;
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

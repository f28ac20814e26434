//! The browser's half of a connect through the proxy (design items 1–4):
//!
//! 1. [`connect`] — `GET /connect`: the signed link of docs/PROTOCOL.md §5.3,
//!    the return URL and scope allow-lists, the browser-binding cookie, then
//!    straight to Stora's consent with a signed [`ProxyState`] as OAuth
//!    `state` (no interstitial: nothing is stored, and the plugin exchanges
//!    the code itself).
//! 2. [`callback`] — `GET /callback`: the proxy state opened in the browser
//!    that started (its cookie), then back to the return URL with the
//!    plugin's `state`, Stora's `code` and a [`CodeContext`] binding that code
//!    to the installation, return URL and state.
//!
//! Nothing is written anywhere: both tokens are signed with the proxy key.

use tessera_broker::connect::{allowed_scope, return_url_mismatch, scope_not_allowed, verify_link};
use tessera_broker::handlers::{check_enabled, return_url_allowed};
use tessera_broker::store::Installation;
use tessera_broker::{Incoming, Reply};
use tessera_core::internals::encoding::pct_encode;
use tessera_core::{CodeContext, OsEntropy, ProxyState, browser_cookie_header, browser_cookie_in, new_browser_cookie};

use crate::ProxyApp;

/// Longest `error` code from Stora relayed to the return URL.
const MAX_ERROR_CODE: usize = 64;

/// `GET /connect?install_id&state&return_url[&scope]&ts&sig` (browser).
///
/// Verifies the signed link with the installation's secret (an error page
/// with the core's status and code otherwise), checks the return URL
/// ([`return_url_acceptable`], else `400 return_url_mismatch`) and the scope
/// (`400 scope_not_allowed`), then sets (or keeps) the `tessera_proxy_browser`
/// cookie and sends the browser to Stora's authorize URL, the proxy state as
/// OAuth `state`. A disabled or unproven installation goes back to the return
/// URL with `error`.
pub fn connect(p: &ProxyApp, req: &Incoming) -> Reply {
    let app = &p.registry;
    let (params, installation) = match verify_link(app, req) {
        Ok(verified) => verified,
        Err(reply) => return reply,
    };
    let id = params.install_id.as_str();
    if !return_url_acceptable(app.config.allow_loopback_sites, &installation, &params.return_url) {
        return return_url_mismatch().for_install(id);
    }
    // From here on the return URL is the installation's: errors go there.
    if let Err(refused) = check_enabled(&installation) {
        let code = refused.error.unwrap_or_default();
        return back(&params.return_url, &[("state", &params.state), ("error", &code)], &code).for_install(id);
    }
    let requested = params.scope.clone().unwrap_or_else(|| app.config.default_scope.clone());
    let scope = match allowed_scope(app, &requested) {
        Ok(scope) => scope,
        Err(refused) => return scope_not_allowed(&refused).for_install(id),
    };
    // One browser may run two rounds: a well-formed cookie is kept.
    let cookie = cookie_of(req).unwrap_or_else(|| new_browser_cookie(&mut OsEntropy));
    let state = ProxyState {
        install_id: params.install_id.clone(),
        return_url: params.return_url.clone(),
        plugin_state: params.state.clone(),
        scope: params.scope.clone(),
        browser_binding: ProxyState::binding_of(&cookie),
    };
    let sealed = match state.seal(p.key(), p.now()) {
        Ok(sealed) => sealed,
        Err(e) => {
            let (status, code) = e.wire_code();
            return Reply::page(status, "This connect link is not valid", &e.to_string(), Some(code)).for_install(id);
        }
    };
    let secure = app.public_url.starts_with("https://");
    Reply::redirect(&app.stora.authorize_url(&p.callback_url(), &scope, &sealed))
        .with_header("set-cookie", &browser_cookie_header(&cookie, secure))
        .for_install(id)
}

/// Whether the browser may be sent back to `return_url` for `installation`:
/// the broker's allow-list ([`return_url_allowed`]: the registered site's
/// origin; an extension's own pages, and a Chromium extension's own
/// `https://<id>.chromiumapp.org`), and a secure scheme — `https`, an
/// extension page, or plain `http` to a loopback host only when the proxy is
/// configured for local development (`dev`).
pub fn return_url_acceptable(dev: bool, installation: &Installation, return_url: &str) -> bool {
    if !return_url_allowed(installation, return_url) {
        return false;
    }
    let scheme = return_url.split_once("://").map_or("", |(scheme, _)| scheme);
    match scheme.to_ascii_lowercase().as_str() {
        "https" | "chrome-extension" | "moz-extension" => true,
        "http" => {
            dev && tessera_core::internals::url::Url::parse(return_url, "return_url").is_ok_and(|u| u.is_loopback())
        }
        _ => false,
    }
}

/// The request's well-formed `tessera_proxy_browser` cookie, if any.
fn cookie_of(req: &Incoming) -> Option<String> {
    req.headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("cookie"))
        .find_map(|(_, value)| browser_cookie_in(value).map(str::to_string))
}

/// `302` to `return_url` with `params` appended (`&` when it already has a
/// query), each value percent-encoded as docs/PROTOCOL.md §1 `pct()`;
/// `error` (when not empty) is the code logged for it.
fn back(return_url: &str, params: &[(&str, &str)], error: &str) -> Reply {
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", pct_encode(v))).collect();
    let sep = if return_url.contains('?') { '&' } else { '?' };
    let mut reply = Reply::redirect(&format!("{return_url}{sep}{}", query.join("&")));
    reply.error = (!error.is_empty()).then(|| error.to_string());
    reply
}

/// `GET /callback?code&state` or `?error&state` (browser, from Stora).
///
/// Opens the proxy state with the request's binding cookie (an error page,
/// `400 proxy_state_invalid` / `proxy_state_expired`, otherwise: nothing is
/// sent to the return URL). Stora's `error` goes back as
/// `{ret}?state=<pst>&error=<error>`; a code as
/// `{ret}?state=<pst>&code=<code>&code_context=<context>`.
pub fn callback(p: &ProxyApp, req: &Incoming) -> Reply {
    let failed = |status: u16, code: &str| {
        Reply::page(status, "Connection failed", "Start again from your plugin's settings page.", Some(code))
    };
    let cookie = cookie_of(req);
    let now = p.now();
    let state = match req.param("state").map(|token| ProxyState::open(p.key(), &token, cookie.as_deref(), now)) {
        Some(Ok(state)) => state,
        Some(Err(refusal)) => return failed(refusal.status(), refusal.code()),
        None => return failed(400, "proxy_state_invalid"),
    };
    let id = state.install_id.as_str();
    let pst = state.plugin_state.as_str();
    if let Some(error) = req.param("error") {
        // e.g. access_denied: the operator said no.
        let code: String =
            error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(MAX_ERROR_CODE).collect();
        let code = if code.is_empty() { "stora_error".to_string() } else { code };
        return back(&state.return_url, &[("state", pst), ("error", &code)], &code).for_install(id);
    }
    // No code, or one the code context cannot carry (not 1-256 visible ASCII).
    let issued = req.param("code").and_then(|code| Some((CodeContext::issue(p.key(), &code, &state, now).ok()?, code)));
    let Some((context, code)) = issued else {
        return back(&state.return_url, &[("state", pst), ("error", "invalid_callback")], "invalid_callback")
            .for_install(id);
    };
    back(&state.return_url, &[("state", pst), ("code", &code), ("code_context", &context)], "").for_install(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_broker::store::InstallStatus;

    fn installation(site_url: &str) -> Installation {
        Installation {
            install_id: "ins_AAAAAAAAAAAAAAAAAAAAAA".into(),
            site_url: site_url.into(),
            admin_email: "owner@shop.example".into(),
            platform: "wordpress".into(),
            plugin_version: "1.0.0".into(),
            secret: Default::default(),
            status: InstallStatus::Active,
            challenge: None,
            proven: false,
            last_seen: 0,
            version: 0,
        }
    }

    #[test]
    fn return_urls() {
        let web = installation("https://shop.example");
        assert!(return_url_acceptable(false, &web, "https://shop.example/wp-admin?page=tessera"));
        assert!(!return_url_acceptable(false, &web, "https://evil.example/wp-admin"));
        assert!(!return_url_acceptable(false, &web, "http://shop.example/wp-admin"));
        let local = installation("http://127.0.0.1:8080");
        assert!(return_url_acceptable(true, &local, "http://127.0.0.1:8080/wp-admin"));
        assert!(!return_url_acceptable(false, &local, "http://127.0.0.1:8080/wp-admin"), "local development only");
        let plain = installation("http://shop.example");
        assert!(!return_url_acceptable(true, &plain, "http://shop.example/wp-admin"), "loopback hosts only");
        let ext = installation("chrome-extension://abcdefghijklmnop");
        assert!(return_url_acceptable(false, &ext, "chrome-extension://abcdefghijklmnop/options.html"));
        assert!(return_url_acceptable(false, &ext, "https://abcdefghijklmnop.chromiumapp.org/cb"));
        assert!(!return_url_acceptable(false, &ext, "https://otherextension.chromiumapp.org/cb"));
        assert!(!return_url_acceptable(false, &ext, "chrome-extension://otherextension/options.html"));
    }

    #[test]
    fn back_appends_percent_encoded() {
        let r = back("https://shop.example/cb?page=t", &[("state", "a b"), ("code", "x~y*z")], "");
        assert_eq!(r.status, 302);
        let location = r.headers.iter().find(|(k, _)| k == "location").map(|(_, v)| v.as_str());
        assert_eq!(location, Some("https://shop.example/cb?page=t&state=a%20b&code=x~y%2Az"));
        assert_eq!(r.error, None);
        let r = back("https://shop.example/cb", &[("state", "s"), ("error", "access_denied")], "access_denied");
        let location = r.headers.iter().find(|(k, _)| k == "location").map(|(_, v)| v.as_str());
        assert_eq!(location, Some("https://shop.example/cb?state=s&error=access_denied"));
        assert_eq!(r.error.as_deref(), Some("access_denied"));
    }
}

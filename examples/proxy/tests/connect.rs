//! `GET /connect` and `GET /callback` (design items 1–3): the redirect to
//! Stora with a signed proxy state and the browser-binding cookie; a
//! callback without that cookie, with another browser's, with a tampered or
//! an expired state is refused (and nothing reaches the return URL); a
//! return URL that is not `https` or not on the registered site, or a scope
//! off the allow-list, is refused before Stora.

mod common;

use common::*;
use tessera_broker::plugin_host::{Browser, Landing, PluginHost, find_link, registration};
use tessera_core::internals::encoding::b64url_encode;
use tessera_core::{BROWSER_COOKIE, OsEntropy, Request, Response};
use tessera_proxy::harness::{ProxyEnv, ProxyEnvOptions};

/// The connect URL `plugin` signs for `return_url` and `scope`.
fn link(plugin: &mut PluginHost, return_url: &str, scope: Option<&str>) -> String {
    let now = plugin.now();
    plugin.companion.connect_url(return_url, scope, now, &mut OsEntropy).expect("signs a connect URL")
}

/// A `GET` with an optional `Cookie` header.
fn get(env: &ProxyEnv, url: &str, cookie: Option<&str>) -> Response {
    let headers = cookie.map(|c| vec![("cookie".to_string(), c.to_string())]).unwrap_or_default();
    env.client.http(Request { method: "GET".into(), url: url.into(), headers, body: Vec::new() })
}

/// The error code of an error page (`Reply::page` prints it nowhere but
/// the status and title; the log line has it).
fn last_logged_error(env: &ProxyEnv) -> Option<String> {
    let logs = env.logs.lock().expect("logs");
    let line: serde_json::Value = serde_json::from_str(logs.last()?).ok()?;
    line["error"].as_str().map(str::to_string)
}

/// Stora's approve link of the consent page `browser` reached from `link`,
/// for `operator`.
fn approve_link(env: &ProxyEnv, browser: &Browser, link: &str) -> String {
    match browser.open(link, &env.return_url()).expect("opens") {
        Landing::Page { status: 200, body, .. } => {
            let href = find_link(&body, "approve").expect("Stora's consent page");
            format!("{}{href}&operator={OPERATOR}", env.stora.url())
        }
        other => panic!("expected Stora's consent page: {other:?}"),
    }
}

#[test]
fn connect_redirects_to_stora_with_a_signed_state_and_the_cookie() {
    let env = env();
    let mut plugin = env.registered_plugin().expect("registers");
    let resp = get(&env, &link(&mut plugin, &env.return_url(), Some("public.order:read")), None);
    assert_eq!(resp.status, 302, "{}", text(&resp));
    let location = resp.header("location").expect("a redirect").to_string();
    assert!(location.starts_with(&format!("{}/oauth2/authorize?", env.stora.url())), "{location}");
    assert_eq!(param(&location, "redirect_uri"), Some(format!("{}/callback", env.proxy_url())));
    assert_eq!(param(&location, "response_type").as_deref(), Some("code"));
    assert_eq!(param(&location, "client_id").as_deref(), Some("tessera-demo-client"));
    assert_eq!(param(&location, "scope").as_deref(), Some("public.order:read"));
    let state = param(&location, "state").expect("a state");
    let header = b64url_encode(br#"{"alg":"HS256","typ":"tessera-proxy-state"}"#);
    assert_eq!(state.split('.').next(), Some(header.as_str()), "{state}");

    let set_cookie = resp.header("set-cookie").expect("the binding cookie").to_string();
    let value = set_cookie.split(';').next().and_then(|p| p.strip_prefix(&format!("{BROWSER_COOKIE}="))).unwrap_or("");
    assert!(tessera_core::is_browser_cookie(value), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Max-Age=600", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{attribute} in {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain http proxy: {set_cookie}");

    // A browser that has one keeps it.
    let again = get(&env, &link(&mut plugin, &env.return_url(), None), Some(&format!("{BROWSER_COOKIE}={value}")));
    assert_eq!(again.status, 302);
    assert!(again.header("set-cookie").is_some_and(|c| c.starts_with(&format!("{BROWSER_COOKIE}={value};"))));
}

#[test]
fn a_callback_without_the_connect_cookie_is_refused() {
    let env = env();
    let mut plugin = env.registered_plugin().expect("registers");
    for stranger in [None, Some("other")] {
        let approve = approve_link(&env, &Browser::default(), &link(&mut plugin, &env.return_url(), None));
        // The consent is approved and Stora's callback opened in another
        // browser: none of the cookie, or its own.
        let other = Browser::default();
        if stranger.is_some() {
            let cookie = b64url_encode(&[7; 32]);
            other.set_cookie(env.proxy_url(), BROWSER_COOKIE, &cookie);
        }
        match other.open(&approve, &env.return_url()).expect("opens") {
            Landing::Page { status, url, .. } => {
                assert_eq!(status, 400);
                assert!(url.starts_with(&format!("{}/callback?", env.proxy_url())), "{url}");
                assert_eq!(last_logged_error(&env).as_deref(), Some("proxy_state_invalid"));
            }
            Landing::Returned(url) => panic!("reached the return URL: {url}"),
        }
    }
}

#[test]
fn a_tampered_or_expired_proxy_state_is_refused() {
    let env = env();
    let mut plugin = env.registered_plugin().expect("registers");
    let browser = Browser::default();
    let approve = approve_link(&env, &browser, &link(&mut plugin, &env.return_url(), None));
    let callback = match browser.open(&approve, &format!("{}/callback", env.proxy_url())).expect("opens") {
        Landing::Returned(url) => url,
        other => panic!("expected Stora's redirect to the callback: {other:?}"),
    };
    let state = param(&callback, "state").expect("state");
    let cookie = browser.cookie(env.proxy_url(), BROWSER_COOKIE).map(|c| format!("{BROWSER_COOKIE}={c}"));
    let (head, rest) = state.split_at(state.len() - 3);
    let tampered =
        callback.replace(&state, &format!("{head}{}{}", if rest.starts_with('A') { 'B' } else { 'A' }, &rest[1..]));
    assert_eq!(get(&env, &tampered, cookie.as_deref()).status, 400);
    assert_eq!(last_logged_error(&env).as_deref(), Some("proxy_state_invalid"));

    env.proxy.app().registry.set_clock_offset(601);
    assert_eq!(get(&env, &callback, cookie.as_deref()).status, 400);
    assert_eq!(last_logged_error(&env).as_deref(), Some("proxy_state_expired"));

    env.proxy.app().registry.set_clock_offset(599);
    let resp = get(&env, &callback, cookie.as_deref());
    assert_eq!(resp.status, 302, "{}", text(&resp));
    assert!(resp.header("location").is_some_and(|l| l.starts_with(&env.return_url())));
}

#[test]
fn a_return_url_off_the_site_is_refused() {
    let env = env();
    let mut plugin = env.registered_plugin().expect("registers");
    // Another origin: another port of the same loopback host.
    let elsewhere = "http://127.0.0.1:9/wp-admin/options-general.php";
    let resp = get(&env, &link(&mut plugin, elsewhere, None), None);
    assert_eq!(resp.status, 400);
    assert_eq!(last_logged_error(&env).as_deref(), Some("return_url_mismatch"));
    assert!(resp.header("set-cookie").is_none());
    assert_eq!(env.client.stora_view("counters")["authorize_requests"], 0);
}

#[test]
fn a_plain_http_return_url_is_refused_outside_local_development() {
    let options = ProxyEnvOptions { local_development: false, require_ownership_proof: false, ..Default::default() };
    let env = ProxyEnv::start(options).expect("environment starts");
    let mut plugin = env.plugin();
    plugin.register(&registration("https://shop.example", "wordpress")).expect("registers");
    let resp = get(&env, &link(&mut plugin, "http://shop.example/wp-admin/options-general.php", None), None);
    assert_eq!(resp.status, 400);
    assert_eq!(last_logged_error(&env).as_deref(), Some("return_url_mismatch"));
    let resp = get(&env, &link(&mut plugin, "https://shop.example/wp-admin/options-general.php", None), None);
    assert_eq!(resp.status, 302, "the https page of the registered site is accepted: {}", text(&resp));
}

#[test]
fn a_scope_off_the_allow_list_is_refused_before_stora() {
    let env = env();
    let mut plugin = env.registered_plugin().expect("registers");
    let resp = get(&env, &link(&mut plugin, &env.return_url(), Some("public.order:read public.admin:write")), None);
    assert_eq!(resp.status, 400);
    assert_eq!(last_logged_error(&env).as_deref(), Some("scope_not_allowed"));
    assert!(text(&resp).contains("public.admin:write"));
    assert_eq!(env.client.stora_view("counters")["authorize_requests"], 0);
}

#[test]
fn a_tampered_connect_link_is_refused() {
    let env = env();
    let mut plugin = env.registered_plugin().expect("registers");
    let url = link(&mut plugin, &env.return_url(), None).replace("scope=", "x=");
    let tampered = format!("{url}&scope=public.order%3Awrite");
    let resp = get(&env, &tampered, None);
    assert_eq!(resp.status, 401, "{}", text(&resp));
    assert_eq!(last_logged_error(&env).as_deref(), Some("signature_invalid"));
}

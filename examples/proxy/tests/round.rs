//! The full browser round through the proxy (design items 1–6): register,
//! `/connect` → Stora consent → `/callback` → the return URL with `state`,
//! `code` and `code_context`, then the signed `POST /token` → tokens and
//! account. And what the proxy keeps of it: nothing but the registry.

mod common;

use common::*;
use serde_json::Value;
use tessera_broker::plugin_host::Browser;
use tessera_core::BROWSER_COOKIE;

#[test]
fn a_browser_round_yields_tokens_and_the_account() {
    let env = env();
    let mut plugin = env.registered_plugin().expect("registers");
    let browser = Browser::default();
    let landing = env.connect_until_return(&mut plugin, &browser, OPERATOR).expect("lands");

    // Back on the return URL, its own query kept, then exactly these three.
    let pending = plugin.companion.state().pending_connect().cloned().expect("a connect is pending");
    assert!(landing.starts_with(&format!("{}&state=", env.return_url())), "{landing}");
    let keys: Vec<String> = tessera_proxy::harness::landing_params(&landing).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["page", "state", "code", "code_context"]);
    assert_eq!(param(&landing, "state").as_deref(), Some(pending.state.as_str()));
    let context = param(&landing, "code_context").unwrap_or_default();
    assert_eq!(context.split('.').count(), 3, "a compact JWS: {context}");
    // The browser holds the binding cookie the proxy set.
    let cookie = browser.cookie(env.proxy_url(), BROWSER_COOKIE).expect("binding cookie");
    assert!(tessera_core::is_browser_cookie(&cookie));

    let resp = env.post_token(&mut plugin, &landing);
    assert_eq!(resp.status, 200, "{}", text(&resp));
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let answer = json(&resp);
    let members: Vec<&str> = answer.as_object().expect("an object").keys().map(String::as_str).collect();
    assert_eq!(members.len(), 5, "{answer}");
    for member in ["access_token", "refresh_token", "expires_in", "scope", "account"] {
        assert!(answer.get(member).is_some(), "{member} in {answer}");
    }
    let expires_in = answer["expires_in"].as_i64().expect("an integer");
    assert!((7190..=7200).contains(&expires_in), "the fake's 7200 s: {expires_in}");
    assert_eq!(s(&answer, "scope"), "public.order:read");
    assert_eq!(answer["account"]["id"], OPERATOR);
    assert!(answer["account"]["name"].is_string());

    // The tokens are the operator's, usable at Stora directly.
    let account = stora_get(&env, "account", s(&answer, "access_token"));
    assert_eq!(account.status, 200, "{}", text(&account));
    assert_eq!(json(&account)["id"], OPERATOR);
    let counters = env.client.stora_view("counters");
    assert_eq!(counters["code_exchanges"], 1);
    assert_eq!(counters["revokes"], 0, "the account was read: nothing to undo");
}

#[test]
fn the_proxy_keeps_no_token_no_code_and_logs_none() {
    let env = env();
    let (plugin, landing) = landed(&env);
    let mut plugin = plugin;
    let resp = env.post_token(&mut plugin, &landing);
    assert_eq!(resp.status, 200, "{}", text(&resp));
    let answer = json(&resp);
    let id = plugin.companion.install_id().expect("registered").to_string();

    // The registry has the installation and no grant.
    let store = &env.proxy.app().registry.store;
    assert!(store.installation(&id).expect("reads").is_some());
    assert!(store.grant(&id).expect("reads").is_none(), "no Stora grant is stored");

    let secrets: Vec<String> = vec![
        s(&answer, "access_token").into(),
        s(&answer, "refresh_token").into(),
        param(&landing, "code").unwrap_or_default(),
        param(&landing, "code_context").unwrap_or_default(),
        param(&landing, "state").unwrap_or_default(),
    ];
    assert!(secrets.iter().all(|v| v.len() >= 16), "{secrets:?}");
    // Not in the database files (the SQLite file and its journal)...
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(env.dir()).expect("lists") {
        stored.extend(std::fs::read(entry.expect("entry").path()).unwrap_or_default());
    }
    assert!(!stored.is_empty());
    // ...nor in a log line.
    let logs = env.logs.lock().expect("logs").join("\n");
    assert!(logs.contains("POST /token"), "{logs}");
    for secret in &secrets {
        assert!(!contains(&stored, secret.as_bytes()), "stored: {secret}");
        assert!(!logs.contains(secret.as_str()), "logged: {secret}");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_denied_consent_goes_back_with_the_error() {
    let env = env();
    let mut plugin = env.registered_plugin().expect("registers");
    let landing = plugin
        .connect_until_return(&Browser::default(), &env.return_url(), None, tessera_broker::plugin_host::Decision::Deny)
        .expect("lands");
    let pending = plugin.companion.state().pending_connect().cloned().expect("pending");
    assert_eq!(param(&landing, "state").as_deref(), Some(pending.state.as_str()));
    assert_eq!(param(&landing, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&landing, "code"), None);
    assert_eq!(param(&landing, "code_context"), None);
    let _: Value = env.client.stora_view("counters");
}

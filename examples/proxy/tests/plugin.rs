//! Proxy mode end to end from the Rust host: the plugin's companion in proxy
//! mode against the reference proxy and the fake Stora on 127.0.0.1 —
//! connect, calls straight to Stora, expiry → refresh, revoke at Stora →
//! reconnect, disconnect, uninstall; and concurrent workers of one site
//! sharing one store and one lock: one refresh per expiry, none bricked.

mod common;

use std::sync::{Arc, Barrier};

use common::{OPERATOR, env};
use serde_json::json;
use tessera_broker::host_store::HostStore;
use tessera_broker::plugin_host::{Browser, Decision, PluginHost, registration};
use tessera_core::{ApiRequest, Companion, Config, Status};
use tessera_proxy::harness::{ProxyEnv, ProxyEnvOptions};

/// A plugin in proxy mode: the proxy for codes and refreshes, Stora's API directly.
fn proxy_plugin(env: &ProxyEnv) -> PluginHost {
    let config = Config::proxy(env.proxy_url(), &format!("{}/2025-09", env.stora.url()));
    PluginHost::from_companion(Companion::create(config).unwrap()).with_site(env.site.handle())
}

fn connect(env: &ProxyEnv, plugin: &mut PluginHost) {
    let landing = plugin
        .connect_until_return(&Browser::default(), &env.return_url(), None, Decision::Approve(OPERATOR))
        .expect("the browser lands on the return URL");
    let account = plugin.complete_connect(&landing).expect("the code exchange");
    assert!(!account.id.is_empty());
    assert_eq!(plugin.companion.status(), Status::Connected);
}

fn counters(env: &ProxyEnv) -> serde_json::Value {
    env.client.stora_view("counters")
}

fn get_account(plugin: &mut PluginHost) -> Result<u16, tessera_core::Error> {
    plugin.call(ApiRequest::new("GET", "/api/account")).map(|r| r.status)
}

#[test]
fn the_whole_life_of_an_installation_in_proxy_mode() {
    let env = env();
    let mut plugin = proxy_plugin(&env);
    plugin.companion.set_seal_key(&[9; 32]).unwrap();
    plugin.register(&registration(env.site.url(), "wordpress")).unwrap();
    connect(&env, &mut plugin);

    // Calls go to Stora itself, with the installation's access token.
    assert_eq!(get_account(&mut plugin).unwrap(), 200);
    let requests = env.client.stora_view("requests");
    let last = requests.as_array().and_then(|a| a.last()).cloned().unwrap_or_default();
    assert!(last.to_string().contains("/2025-09/account"), "{last}");
    // Persisted sealed: the tokens are in no stored form, log line or URL.
    let plain = plugin.companion.to_json();
    let tokens: Vec<String> = ["access_token", "refresh_token"]
        .iter()
        .map(|k| serde_json::from_str::<serde_json::Value>(&plain).unwrap()["tokens"][k].as_str().unwrap().to_owned())
        .collect();
    let stored = plugin.persisted.clone().unwrap();
    let logs = env.logs.lock().unwrap().join("\n");
    let urls = requests.to_string();
    for token in &tokens {
        assert!(!stored.contains(token.as_str()), "sealed at rest");
        assert!(!logs.contains(token.as_str()), "not in the proxy's log");
        assert!(!urls.contains(token.as_str()), "not in a URL");
        assert!(!format!("{:?}", plugin.companion).contains(token.as_str()), "not in Debug");
    }

    // Stora expires the access token: refused, refreshed once, retried.
    env.client.stora_control("expire_tokens", json!({ "operator": OPERATOR }));
    assert_eq!(get_account(&mut plugin).unwrap(), 200);
    assert_eq!(counters(&env)["refreshes"], 1);
    assert_eq!(plugin.companion.state().token_generation(), 2);

    // The operator revokes the grant at Stora: the next call asks for a reconnect.
    env.client.stora_control("revoke_grant", json!({ "operator": OPERATOR }));
    let err = get_account(&mut plugin).unwrap_err();
    assert_eq!((err.code(), err.reason()), ("reconnect_required", Some("invalid_grant")));
    assert_eq!(plugin.companion.status(), Status::ReconnectRequired);
    assert!(plugin.companion.state().tokens().is_none(), "the dead pair is gone");
    assert!(!err.to_string().contains(tokens[1].as_str()));

    // Reconnect, call again, disconnect (revoked at Stora), uninstall.
    connect(&env, &mut plugin);
    assert_eq!(get_account(&mut plugin).unwrap(), 200);
    let revokes = counters(&env)["revokes"].as_u64().unwrap();
    assert_eq!(plugin.disconnect().unwrap().as_str(), "ok");
    assert_eq!(counters(&env)["revokes"].as_u64().unwrap(), revokes + 1);
    assert_eq!(get_account(&mut plugin).unwrap_err().code(), "not_connected");
    let report = plugin.uninstall().unwrap();
    assert_eq!(report.deregister.as_str(), "ok");
    assert_eq!(plugin.companion.status(), Status::NotRegistered);
}

/// `workers` hosts of one site, each with its own copy of the stored
/// state, sharing the site's store and lock, all calling at once.
fn call_at_once(store: &Arc<HostStore>, workers: usize, clock_skew: i64) -> Vec<Result<u16, String>> {
    let barrier = Arc::new(Barrier::new(workers));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let store = store.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let companion = Companion::from_json(&store.load().unwrap()).unwrap();
                let mut worker = PluginHost::from_companion(companion);
                worker.store = Some(store);
                worker.clock_skew = clock_skew;
                barrier.wait();
                get_account(&mut worker).map_err(|e| e.code().to_owned())
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// An environment whose access tokens live 200 s — fresh for 80 s past the
/// 120 s refresh margin, so a 100 s clock step expires them — and a plugin
/// connected in it.
fn short_lived() -> (ProxyEnv, PluginHost) {
    let options = ProxyEnvOptions {
        stora: fake_stora::Config { access_ttl_secs: 200, rate_per_sec: 0, rate_per_min: 0, ..Default::default() },
        ..ProxyEnvOptions::default()
    };
    let env = ProxyEnv::start(options).unwrap();
    let mut plugin = proxy_plugin(&env);
    plugin.register(&registration(env.site.url(), "wordpress")).unwrap();
    connect(&env, &mut plugin);
    (env, plugin)
}

#[test]
fn concurrent_workers_refresh_once_per_expiry_and_none_is_bricked() {
    const WORKERS: usize = 8;
    let (env, plugin) = short_lived();
    let store = Arc::new(HostStore::new());
    store.store(&plugin.companion.to_json());

    let mut report = Vec::new();
    // Two expiries the plugin sees coming (its clock moves 100 s each
    // time), one only Stora knows of (every worker's call is refused).
    for (round, skew) in [("expiring", 100), ("expiring", 200), ("refused by Stora", 200)] {
        if round == "refused by Stora" {
            env.client.stora_control("expire_tokens", json!({ "operator": OPERATOR }));
        }
        let before = counters(&env);
        let results = call_at_once(&store, WORKERS, skew);
        let after = counters(&env);
        let refreshes = after["refreshes"].as_u64().unwrap() - before["refreshes"].as_u64().unwrap();
        let bricked = results.iter().filter(|r| r.is_err()).count();
        report.push(format!("{round}: {WORKERS} workers, {refreshes} refresh at Stora, {bricked} failed"));
        assert_eq!(results, vec![Ok(200); WORKERS], "{round}");
        assert_eq!(refreshes, 1, "{round}: one refresh per expiry");
        assert_eq!(after["invalid_grants"], before["invalid_grants"], "{round}: no rotated token was reused");
    }
    // And the installation still works afterwards, from a fresh worker.
    let results = call_at_once(&store, 1, 200);
    assert_eq!(results, vec![Ok(200)]);
    println!("concurrent refresh: {}", report.join("; "));
}

#[test]
fn without_the_shared_lock_and_store_the_same_race_bricks_the_installation() {
    // The control experiment: each worker with a store and lock of its own
    // (a host that ignores Lock, or caches the state per process).
    const WORKERS: usize = 4;
    let (env, plugin) = short_lived();
    let state = plugin.companion.to_json();
    let handles: Vec<_> = (0..WORKERS)
        .map(|_| {
            let own = Arc::new(HostStore::new());
            own.store(&state);
            std::thread::spawn(move || call_at_once(&own, 1, 100).pop().unwrap())
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert!(failed >= WORKERS - 1, "every worker but one sent the rotated refresh token: {results:?}");
    assert!(counters(&env)["invalid_grants"].as_u64().unwrap() >= (WORKERS - 1) as u64);
}

//! Several broker instances on one database behind one front (issue 19),
//! in-process: each instance has its own memory (refresh locks, replay
//! store, pacing, caches) as separate processes would.
//!
//! The front's tests run on every backend. The cross-instance guarantees —
//! one refresh per grant across instances, a nonce spent on one instance is
//! spent on all — need the shared PostgreSQL storage: those tests run when
//! `TESSERA_TEST_DATABASE_URL` names a server (scripts/test.d/30-e2e.sh
//! starts one with scripts/pg.sh) and say they were skipped otherwise.

use std::sync::{Arc, Barrier};

use serde_json::json;
use tessera_broker::harness::{Env, EnvOptions, test_switches};
use tessera_broker::plugin_host::{Browser, Decision, PluginHost, registration};
use tessera_core::{ApiRequest, Companion, OsEntropy, SignOptions};

/// Three instances on the database the switches name (SQLite by default).
fn scaled() -> Env {
    Env::start(EnvOptions { instances: 3, ..EnvOptions::default() }).expect("environment starts")
}

/// The same on PostgreSQL, or `None` (and a note) without a server.
fn scaled_on_postgres(test: &str) -> Option<Env> {
    if test_switches().1.is_none() {
        eprintln!("{test}: skipped, needs TESSERA_TEST_DATABASE_URL (a PostgreSQL server; scripts/pg.sh)");
        return None;
    }
    Some(scaled())
}

/// Calls answered by each instance so far.
fn answered(env: &Env) -> Vec<u64> {
    env.instances().map(|b| b.app().observer.totals().requests).collect()
}

#[test]
fn the_front_spreads_requests_over_every_instance_one_request_at_a_time() {
    // Stora's per-operator limit off: on SQLite each instance paces alone,
    // and the connect's own API calls (account, webhook endpoint) plus nine
    // calls would pass 10 a second together.
    let stora = fake_stora::Config { rate_per_sec: 0, rate_per_min: 0, ..Default::default() };
    let env = Env::start(EnvOptions { instances: 3, stora, ..EnvOptions::default() }).expect("environment starts");
    assert_eq!(env.instances().count(), 3);
    let front = env.proxy.as_ref().expect("a front");
    assert_eq!(env.broker_url(), front.url());
    for b in env.instances() {
        assert_ne!(b.url(), front.url());
        assert_eq!(b.app().public_url, front.url(), "every instance verifies signatures for the front's URL");
    }
    // Register, connect, then calls on one kept-alive connection: each
    // request goes to the next instance, whatever connection it came on.
    let mut plugin = env.plugin();
    plugin.register(&registration(env.site.url(), "wordpress")).expect("registers");
    let scope = Some("public.order:read public.contact:write");
    plugin.connect(&Browser::default(), &env.return_url(), scope, Decision::Approve("opr_front")).expect("connects");
    let before = answered(&env);
    for _ in 0..9 {
        assert_eq!(plugin.get_json("/api/orders").unwrap()["data"].as_array().unwrap().len(), 3);
    }
    let after = answered(&env);
    let per_instance: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(per_instance, [3, 3, 3], "nine calls, three on each instance");
    assert_eq!(after.iter().sum::<u64>() as usize, front.forwarded(), "everything went through the front");
    // A POST with a body and a 204 answer on the same connection.
    let contact = plugin
        .call(ApiRequest::json("POST", "/api/contacts", br#"{"name":"Ada"}"#.to_vec()))
        .expect("creates a contact");
    assert_eq!(contact.status, 201);
    plugin.disconnect().expect("disconnects");
    assert_eq!(env.stora.counters().refresh_reuse, 0);
}

#[test]
fn a_fault_proxy_in_front_of_several_instances_spreads_too() {
    let env = Env::start(EnvOptions { instances: 2, fault_proxy: true, ..EnvOptions::default() }).unwrap();
    let mut plugin = env.connected_plugin("opr_faulty_front").unwrap();
    let proxy = env.proxy.as_ref().unwrap();
    proxy.reset_seen();
    for _ in 0..4 {
        plugin.get_json("/api/account").unwrap();
    }
    let upstreams: Vec<String> = proxy.seen().into_iter().filter_map(|s| s.upstream).collect();
    assert_eq!(upstreams.len(), 4);
    assert_eq!(upstreams[0], upstreams[2]);
    assert_eq!(upstreams[1], upstreams[3]);
    assert_ne!(upstreams[0], upstreams[1], "consecutive requests, different instances");
}

#[test]
fn a_request_replayed_to_another_instance_is_refused() {
    let Some(env) = scaled_on_postgres("a_request_replayed_to_another_instance_is_refused") else {
        return;
    };
    let plugin = env.connected_plugin("opr_replay_across").unwrap();
    let signed = plugin
        .companion
        .sign_request(
            &ApiRequest::new("GET", "/api/orders"),
            &SignOptions { now: plugin.now(), ..Default::default() },
            &mut OsEntropy,
        )
        .unwrap();
    // The same bytes to each instance directly, past the front (the
    // signature covers the front's URL, which every instance verifies).
    let urls: Vec<&str> = env.instances().map(|b| b.url()).collect();
    let to = |url: &str| {
        let mut req = signed.clone();
        req.url = req.url.replacen(env.broker_url(), url, 1);
        plugin.send(&req).unwrap()
    };
    assert_eq!(to(urls[0]).status, 200);
    for url in &urls[1..] {
        let again = to(url);
        assert_eq!(again.status, 401, "replayed to {url}");
        assert_eq!(tessera_core::internals::classify::error_code(&again.body).as_deref(), Some("replayed"));
    }
    assert_eq!(to(urls[0]).status, 401, "and to the first one again");
}

#[test]
fn concurrent_calls_on_every_instance_refresh_once() {
    let Some(env) = scaled_on_postgres("concurrent_calls_on_every_instance_refresh_once") else {
        return;
    };
    let plugin = env.connected_plugin("opr_race_across").unwrap();
    let state = plugin.companion.to_json();
    env.stora_control("expire_tokens", json!({"operator": "opr_race_across"}));
    // A slow token endpoint: every call is in flight during the refresh.
    env.stora_control("faults", json!({"latency_ms": 400, "count": 1, "path_prefix": "/oauth2/token"}));
    let before = env.stora.counters().refreshes;
    // Six calls at once through the front: two on each instance.
    let barrier = Arc::new(Barrier::new(6));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (state, barrier) = (state.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut host = PluginHost::from_companion(Companion::from_json(&state).unwrap());
                barrier.wait();
                host.get_json("/api/orders").map(|v| v["data"].as_array().map(Vec::len))
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), Some(3));
    }
    let counters = env.stora.counters();
    assert_eq!(counters.refreshes, before + 1, "exactly one refresh reached Stora");
    assert_eq!((counters.invalid_grants, counters.refresh_reuse), (0, 0));
    let grant = &env.stora_view("grants?operator=opr_race_across")[0];
    assert_eq!(grant["revoked"], false);
}

/// Sends `plugin`'s signed `GET path` to the instance at `instance_url`
/// (past the front) → (status, error code).
fn signed_get_on(env: &Env, plugin: &PluginHost, instance_url: &str, path: &str) -> (u16, Option<String>) {
    let mut req = plugin
        .companion
        .sign_request(
            &ApiRequest::new("GET", path),
            &SignOptions { now: plugin.now(), ..Default::default() },
            &mut OsEntropy,
        )
        .unwrap();
    req.url = req.url.replacen(env.broker_url(), instance_url, 1);
    let resp = plugin.send(&req).unwrap();
    (resp.status, tessera_core::internals::classify::error_code(&resp.body))
}

#[test]
fn the_kill_switch_holds_on_every_instance_at_once() {
    let Some(env) = scaled_on_postgres("the_kill_switch_holds_on_every_instance_at_once") else {
        return;
    };
    let plugin = env.connected_plugin("opr_kill_across").unwrap();
    let id = plugin.companion.install_id().unwrap().to_string();
    let urls: Vec<String> = env.instances().map(|b| b.url().to_string()).collect();
    let admin = |instance: &str, action: &str| {
        let req = tessera_core::Request {
            method: "POST".into(),
            url: format!("{instance}/admin/installations/{id}/{action}"),
            headers: vec![("authorization".into(), format!("Bearer {}", env.admin_token()))],
            body: Vec::new(),
        };
        assert_eq!(env.http(req).status, 200, "{action} on {instance}");
    };
    // Every instance has the installation cached (a call on each), then
    // the switch flips on one and the very next call goes to another.
    for round in 0..10 {
        for url in &urls {
            assert_eq!(signed_get_on(&env, &plugin, url, "/api/account").0, 200, "round {round}, {url}");
        }
        admin(&urls[round % 3], "disable");
        let (status, code) = signed_get_on(&env, &plugin, &urls[(round + 1) % 3], "/api/account");
        assert_eq!(
            (status, code.as_deref()),
            (401, Some("installation_disabled")),
            "round {round}: disabled elsewhere"
        );
        admin(&urls[(round + 2) % 3], "enable");
    }
}

#[test]
fn a_deregistration_holds_on_every_instance_at_once() {
    let Some(env) = scaled_on_postgres("a_deregistration_holds_on_every_instance_at_once") else {
        return;
    };
    let urls: Vec<String> = env.instances().map(|b| b.url().to_string()).collect();
    for round in 0..5 {
        let mut plugin = env.connected_plugin(&format!("opr_gone_across_{round}")).unwrap();
        for url in &urls {
            assert_eq!(signed_get_on(&env, &plugin, url, "/api/account").0, 200);
        }
        let state = plugin.companion.to_json();
        // Through the front: the uninstall's requests land on some
        // instance; the stale copy then asks each instance in turn.
        plugin.uninstall().unwrap();
        let stale = PluginHost::from_companion(Companion::from_json(&state).unwrap());
        for url in &urls {
            let (status, code) = signed_get_on(&env, &stale, url, "/api/account");
            assert_eq!((status, code.as_deref()), (401, Some("unknown_installation")), "round {round}, {url}");
        }
    }
}

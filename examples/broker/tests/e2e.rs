//! End-to-end: a plugin (tessera-core's Companion, driven over real HTTP)
//! against the reference broker and the fake Stora, all on 127.0.0.1.
//! Each test builds its own environment and its own Stora operator, so the
//! per-operator rate limits never couple tests.

use std::sync::{Arc, Barrier};

use serde_json::json;
use tessera_broker::fault_proxy::Fault;
use tessera_broker::harness::{Env, EnvOptions};
use tessera_broker::plugin_host::{Browser, Decision, Landing, PluginHost, registration};
use tessera_broker::store::InstallStatus;
use tessera_core::{
    ApiRequest, Companion, Completion, Error, OsEntropy, RegistrationOutcome, Request, SignOptions, Status,
};

fn env() -> Env {
    Env::start(EnvOptions::default()).expect("environment starts")
}

/// A registered (with ownership proof) and connected plugin.
fn connected(env: &Env, operator: &str, scope: Option<&str>) -> PluginHost {
    let mut plugin = env.plugin();
    let outcome = plugin.register(&registration(env.site.url(), "wordpress")).expect("registers");
    assert_eq!(outcome, RegistrationOutcome::Registered);
    plugin.connect(&Browser::default(), &env.return_url(), scope, Decision::Approve(operator)).expect("connects");
    plugin
}

fn reason(e: &Error) -> Option<&str> {
    e.reason()
}

/// A Prometheus series' value summed over every broker instance's `/metrics`.
fn metric(env: &Env, series: &str) -> u64 {
    env.instances()
        .map(|broker| {
            let text = env.http(tessera_core::Request {
                method: "GET".into(),
                url: format!("{}/metrics", broker.url()),
                headers: vec![("authorization".into(), format!("Bearer {}", env.admin_token()))],
                body: Vec::new(),
            });
            let text = String::from_utf8(text.body).unwrap();
            let line = text.lines().find(|l| l.strip_prefix(series).is_some_and(|rest| rest.starts_with(' ')));
            line.map_or(0, |l| l[series.len() + 1..].parse::<u64>().unwrap())
        })
        .sum()
}

fn stora_requests(env: &Env, path: &str) -> Vec<fake_stora::RequestRecord> {
    env.stora.store().requests().into_iter().filter(|r| r.path == path).collect()
}

#[test]
fn full_lifecycle() {
    let env = env();
    let browser = Browser::default();
    let mut plugin = env.plugin();

    // Register on the step machine: the new secret is persisted before the
    // first send; the broker challenges (202), the host serves the proof on
    // its site, the machine sends the registration again, 201.
    let outcome = plugin.register(&registration(env.site.url(), "wordpress")).unwrap();
    assert_eq!(outcome, RegistrationOutcome::Registered);
    assert_eq!(plugin.companion.status(), Status::Registered);
    let trace = plugin.last_trace.clone();
    assert_eq!(trace.actions, ["persist", "send", "persist", "serve_proof", "send", "persist"]);
    assert_eq!(trace.statuses, [202, 201]);
    assert_eq!(trace.proofs_served, 1);
    assert_eq!(plugin.persisted.as_deref(), Some(plugin.companion.to_json().as_str()));
    let id = plugin.companion.install_id().unwrap().to_string();
    let admin = env.admin("GET", &format!("/admin/installations/{id}"));
    let info: serde_json::Value = serde_json::from_slice(&admin.body).unwrap();
    assert_eq!(info["status"], "active");
    assert!(env.logs.lock().unwrap().iter().any(|l| l.contains("\"status\":202")), "challenge was issued");

    // Connect through the browser, approve as the operator.
    plugin.connect(&browser, &env.return_url(), None, Decision::Approve("opr_life")).unwrap();
    assert_eq!(plugin.companion.status(), Status::Connected);

    // A signed API call returns Stora data.
    let orders = plugin.get_json("/api/orders").unwrap();
    assert_eq!(orders["data"].as_array().unwrap().len(), 3);
    assert_eq!(orders["data"][0]["operator"], "opr_life");
    let account = plugin.get_json("/api/account").unwrap();
    assert_eq!(account["id"], "opr_life");

    // The access token expires: the broker refreshes, rotation is persisted.
    env.stora_control("expire_tokens", json!({"operator": "opr_life"}));
    let before = env.stora.counters().refreshes;
    assert_eq!(plugin.get_json("/api/orders").unwrap()["data"].as_array().unwrap().len(), 3);
    assert_eq!(env.stora.counters().refreshes, before + 1);
    let grant = env.broker.app().store.grant(&id).unwrap().unwrap();
    assert_eq!(grant.generation, 1, "rotated pair written");
    // Again: only works if the rotated refresh token was the one stored.
    env.stora_control("expire_tokens", json!({"operator": "opr_life"}));
    plugin.get_json("/api/orders").unwrap();
    assert_eq!(env.stora.counters().refreshes, before + 2);
    assert_eq!(env.stora.counters().invalid_grants, 0);

    // The operator revokes the grant at Stora: reconnect required.
    env.stora_control("revoke_grant", json!({"operator": "opr_life"}));
    let err = plugin.get_json("/api/orders").unwrap_err();
    assert_eq!(err.code(), "reconnect_required");
    assert_eq!(reason(&err), Some("stora_reconnect_required"));
    assert_eq!(plugin.companion.status(), Status::ReconnectRequired);

    // Reconnect.
    plugin.connect(&browser, &env.return_url(), None, Decision::Approve("opr_life")).unwrap();
    plugin.get_json("/api/orders").unwrap();

    // Reconnect while connected, with a wider scope.
    let revoked_before = env.stora.counters().grants_revoked;
    plugin
        .connect(
            &browser,
            &env.return_url(),
            Some("public.order:read public.contact:read"),
            Decision::Approve("opr_life"),
        )
        .unwrap();
    let contacts = plugin.get_json("/api/contacts").unwrap();
    assert_eq!(contacts["data"].as_array().unwrap().len(), 2);
    assert_eq!(env.stora.counters().grants_revoked, revoked_before + 1, "the replaced grant is revoked at Stora");

    // Disconnect: Stora sees the revoke; the token is gone locally.
    let revokes = env.stora.counters().revokes;
    let call = plugin.companion.start_disconnect().unwrap();
    match plugin.drive(call).unwrap() {
        Completion::Disconnected { remote } => assert_eq!(remote.as_str(), "ok"),
        other => panic!("{other:?}"),
    }
    assert_eq!(env.stora.counters().revokes, revokes + 1);
    assert_eq!(plugin.companion.status(), Status::Registered);
    assert_eq!(plugin.get_json("/api/orders").unwrap_err().code(), "not_connected");
    assert!(env.broker.app().store.grant(&id).unwrap().is_none());

    // Connect once more, then uninstall: disconnect + deregister + wipe.
    plugin.connect(&browser, &env.return_url(), None, Decision::Approve("opr_life")).unwrap();
    let revokes = env.stora.counters().revokes;
    let call = plugin.companion.start_uninstall();
    match plugin.drive(call).unwrap() {
        Completion::Uninstalled(report) => {
            assert_eq!(report.disconnect.as_str(), "ok");
            assert_eq!(report.deregister.as_str(), "ok");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(env.stora.counters().revokes, revokes + 1);
    assert_eq!(plugin.companion.status(), Status::NotRegistered);
    assert!(plugin.companion.install_id().is_none(), "local state wiped");
    assert!(env.broker.app().store.installation(&id).unwrap().is_none(), "gone at the broker");
    assert_eq!(env.admin("GET", &format!("/admin/installations/{id}")).status, 404);

    // Logs: one line per call, never a secret or a token.
    let logs = env.logs.lock().unwrap().clone();
    assert!(logs.len() > 15);
    for line in &logs {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["route"].is_string() && v["status"].is_number() && v["latency_ms"].is_number());
        for needle in [env.client_secret.as_str(), "sat_", "srt_", "btk_", "code_", "secret"] {
            assert!(!line.contains(needle), "log line leaks {needle}: {line}");
        }
    }
    assert!(logs.iter().any(|l| l.contains(&id) && l.contains("/api/{*path}")));
}

#[test]
fn replayed_request_is_refused() {
    let env = env();
    let plugin = connected(&env, "opr_replay", None);
    let signed = plugin
        .companion
        .sign_request(
            &ApiRequest::new("GET", "/api/orders"),
            &SignOptions { now: plugin.now(), ..Default::default() },
            &mut OsEntropy,
        )
        .unwrap();
    assert_eq!(plugin.send(&signed).unwrap().status, 200);
    let again = plugin.send(&signed).unwrap();
    assert_eq!(again.status, 401);
    assert_eq!(tessera_core::internals::classify::error_code(&again.body).as_deref(), Some("replayed"));
}

#[test]
fn tampered_body_is_refused() {
    let env = env();
    let plugin = connected(&env, "opr_tamper", Some("public.contact:write"));
    let mut signed = plugin
        .companion
        .sign_request(
            &ApiRequest::json("POST", "/api/contacts", br#"{"name":"Grace"}"#.to_vec()),
            &SignOptions { now: plugin.now(), ..Default::default() },
            &mut OsEntropy,
        )
        .unwrap();
    signed.body = br#"{"name":"Mallory"}"#.to_vec();
    let resp = plugin.send(&signed).unwrap();
    assert_eq!(resp.status, 401);
    // A body that no longer matches its digest (a rewriting proxy, or an
    // attacker) has its own code: the plugin does not re-register over it.
    assert_eq!(
        tessera_core::internals::classify::error_code(&resp.body).as_deref(),
        Some(Error::DigestMismatch.wire_code().1)
    );
    assert!(stora_requests(&env, "/2025-09/contacts").is_empty(), "nothing reached Stora");

    // A tampered path is refused too.
    let mut signed = plugin
        .companion
        .sign_request(
            &ApiRequest::new("GET", "/api/orders"),
            &SignOptions { now: plugin.now(), ..Default::default() },
            &mut OsEntropy,
        )
        .unwrap();
    signed.url = signed.url.replace("/api/orders", "/api/contacts");
    let resp = plugin.send(&signed).unwrap();
    assert_eq!(resp.status, 401);
    assert_eq!(tessera_core::internals::classify::error_code(&resp.body).as_deref(), Some("signature_invalid"));
}

#[test]
fn callback_with_wrong_or_expired_state() {
    let env = env();
    let browser = Browser::default();
    let mut plugin = env.plugin();
    plugin.register(&registration(env.site.url(), "wordpress")).unwrap();

    // Plugin side: a callback whose state is not ours.
    let landing =
        plugin.connect_until_return(&browser, &env.return_url(), None, Decision::Approve("opr_state")).unwrap();
    let forged = landing.replace("state=", "state=x");
    let err = plugin.complete_connect(&forged).unwrap_err();
    assert_eq!(err.code(), "callback_state_mismatch");
    assert_eq!(plugin.companion.status(), Status::Registered, "no token stored");

    // Plugin side: the right state, but later than 10 minutes.
    let landing =
        plugin.connect_until_return(&browser, &env.return_url(), None, Decision::Approve("opr_state")).unwrap();
    plugin.clock_skew = 601;
    let err = plugin.complete_connect(&landing).unwrap_err();
    plugin.clock_skew = 0;
    assert_eq!(err.code(), "callback_expired");
    assert_eq!(plugin.companion.status(), Status::Registered);

    // Broker side: Stora's callback with a state the broker never issued.
    let resp = env.http(Request {
        method: "GET".into(),
        url: format!("{}/callback?code=code_x&state=forged", env.broker.url()),
        headers: vec![],
        body: vec![],
    });
    assert_eq!(resp.status, 400);

    // Broker side: the pending connect expired before Stora came back.
    let url = plugin.companion.connect_url(&env.return_url(), None, plugin.now(), &mut OsEntropy).unwrap();
    let consent = match browser.open_connect(&url, &env.return_url()).unwrap() {
        Landing::Page { url, body, .. } => (url, body),
        other => panic!("{other:?}"),
    };
    env.set_clock_offset(601);
    let approve = tessera_broker::plugin_host::find_link(&consent.1, "approve").unwrap();
    let approve = format!("{}{}&operator=opr_state", env.stora.url(), approve);
    let landing = match browser.open(&approve, &env.return_url()).unwrap() {
        Landing::Returned(url) => url,
        other => panic!("{other:?}"),
    };
    env.set_clock_offset(0);
    assert!(landing.contains("error=connect_expired"), "{landing}");
    let err = plugin.complete_connect(&landing).unwrap_err();
    assert_eq!(err.code(), "callback_denied");

    // And the flow still works afterwards.
    plugin.connect(&browser, &env.return_url(), None, Decision::Approve("opr_state")).unwrap();
    plugin.get_json("/api/orders").unwrap();
}

#[test]
fn consent_denied() {
    let env = env();
    let mut plugin = env.plugin();
    plugin.register(&registration(env.site.url(), "wordpress")).unwrap();
    let err = plugin.connect(&Browser::default(), &env.return_url(), None, Decision::Deny).unwrap_err();
    assert_eq!(err.code(), "callback_denied");
    assert_eq!(err.reason(), Some("access_denied"));
}

#[test]
fn broker_token_of_another_installation_is_refused() {
    let env = env();
    let a = connected(&env, "opr_tok_a", None);
    let b = connected(&env, "opr_tok_b", None);
    // Copy A's broker token into B's state (a token stolen from A's site).
    let a_state: serde_json::Value = serde_json::from_str(&a.companion.to_json()).unwrap();
    let mut b_state: serde_json::Value = serde_json::from_str(&b.companion.to_json()).unwrap();
    b_state["broker_token"] = a_state["broker_token"].clone();
    let mut thief = PluginHost::from_companion(tessera_core::Companion::from_json(&b_state.to_string()).unwrap());
    let err = thief.get_json("/api/orders").unwrap_err();
    assert_eq!(err.code(), "reconnect_required");
    assert_eq!(err.reason(), Some("broker_token_invalid"));
    // A itself still works.
    let mut a = a;
    assert_eq!(a.get_json("/api/account").unwrap()["id"], "opr_tok_a");
}

#[test]
fn skewed_client_clock_is_corrected() {
    let env = env();
    let mut plugin = connected(&env, "opr_skew", None);
    plugin.clock_skew = -900; // the site's clock is 15 minutes slow
    plugin.get_json("/api/orders").unwrap();
    assert_eq!(plugin.last_trace.statuses, vec![401, 200], "one signature_expired, then success");
    let offset = plugin.companion.clock_offset();
    assert!((895..=905).contains(&offset), "learned offset {offset}");
    // The learned offset is persisted and used from then on.
    plugin.get_json("/api/orders").unwrap();
    assert_eq!(plugin.last_trace.statuses, vec![200]);
    assert!(plugin.persisted.as_deref().unwrap().contains("\"clock_offset\":"));
}

#[test]
fn stora_rate_limit_backs_off_without_storm() {
    let env = env();
    let mut plugin = connected(&env, "opr_429", None);
    env.stora_control(
        "faults",
        json!({"status": 429, "retry_after": 1, "count": 10, "path_prefix": "/2025-09/orders"}),
    );
    let started = std::time::Instant::now();
    let err = plugin.get_json("/api/orders").unwrap_err();
    assert_eq!(err.code(), "rate_limited");
    assert_eq!(err.retry_after_ms(), Some(1000));
    let trace = plugin.last_trace.clone();
    assert_eq!(trace.statuses, vec![429, 429, 429], "bounded attempts");
    assert_eq!(trace.sleeps, vec![1000, 1000], "Retry-After honoured");
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    assert_eq!(stora_requests(&env, "/2025-09/orders").len(), 3, "no storm at Stora");
    let id = plugin.companion.install_id().unwrap();
    assert_eq!(env.install_counters(id).rate_limited, 3, "429 counted per installation");
}

#[test]
fn a_burst_is_paced_by_the_broker() {
    let env = env();
    let mut plugin = connected(&env, "opr_burst", None);
    // Fifteen calls in a burst against Stora's 10 req/s: the broker queues
    // them under the operator's budget, so Stora never answers 429.
    let started = std::time::Instant::now();
    for _ in 0..15 {
        plugin.get_json("/api/orders").unwrap();
        assert!(plugin.last_trace.statuses.iter().all(|s| *s == 200), "{:?}", plugin.last_trace.statuses);
    }
    assert!(started.elapsed() >= std::time::Duration::from_millis(400), "queued, not refused");
    assert_eq!(env.stora.counters().rate_limited, 0, "Stora never rate-limited");
}

#[test]
fn stora_5xx_ends_a_post_at_once_and_is_retried_for_a_get() {
    let env = env();
    let mut plugin = connected(&env, "opr_5xx", Some("public.order:read public.contact:write"));
    env.stora_control("faults", json!({"status": 503, "count": 1, "path_prefix": "/2025-09/contacts"}));
    let err =
        plugin.call(ApiRequest::json("POST", "/api/contacts", br#"{"name":"Grace Hopper"}"#.to_vec())).unwrap_err();
    // Stora stored its 503 under the key: a retry would replay it.
    assert_eq!(err.code(), "upstream_failed");
    assert_eq!((err.status(), err.reason()), (Some(503), Some("internal_server_error")));
    assert!(err.request_id().is_some_and(|id| id.starts_with("req_")), "{err}");
    assert_eq!(plugin.last_trace.statuses, vec![503], "sent once");
    assert_eq!(stora_requests(&env, "/2025-09/contacts").len(), 1);

    // A GET is not replayed by key: Stora's 5xx is retried, bounded.
    env.stora_control("faults", json!({"status": 502, "count": 1, "path_prefix": "/2025-09/orders"}));
    plugin.get_json("/api/orders").unwrap();
    assert_eq!(plugin.last_trace.statuses, vec![502, 200]);
    env.stora_control("faults", json!({"status": 502, "count": 10, "path_prefix": "/2025-09/orders"}));
    let err = plugin.get_json("/api/orders").unwrap_err();
    assert_eq!(err.code(), "upstream_failed");
    assert_eq!(plugin.last_trace.sends, 3);
}

#[test]
fn concurrent_calls_refresh_once() {
    let env = env();
    let plugin = connected(&env, "opr_race", None);
    let state = plugin.companion.to_json();
    env.stora_control("expire_tokens", json!({"operator": "opr_race"}));
    // Slow token endpoint, so both calls are in flight during the refresh.
    env.stora_control("faults", json!({"latency_ms": 400, "count": 1, "path_prefix": "/oauth2/token"}));
    let before = env.stora.counters().refreshes;
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let state = state.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut host = PluginHost::from_companion(tessera_core::Companion::from_json(&state).unwrap());
                barrier.wait();
                host.get_json("/api/orders").map(|v| v["data"].as_array().map(Vec::len))
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), Some(3));
    }
    assert_eq!(env.stora.counters().refreshes, before + 1, "exactly one refresh reached Stora");
    assert_eq!(env.stora.counters().invalid_grants, 0);
}

#[test]
fn kill_switch() {
    let env = env();
    let mut plugin = connected(&env, "opr_kill", None);
    let id = plugin.companion.install_id().unwrap().to_string();
    plugin.get_json("/api/orders").unwrap();
    assert_eq!(env.admin("POST", &format!("/admin/installations/{id}/disable")).status, 200);
    let err = plugin.get_json("/api/orders").unwrap_err();
    assert_eq!(err.code(), "reconnect_required");
    assert_eq!(err.reason(), Some("installation_disabled"));
    // While disabled, connecting is refused back to the plugin.
    let err = plugin.connect(&Browser::default(), &env.return_url(), None, Decision::Approve("opr_kill")).unwrap_err();
    assert_eq!(err.reason(), Some("installation_disabled"));
    // Re-enabled: reconnect works.
    assert_eq!(env.admin("POST", &format!("/admin/installations/{id}/enable")).status, 200);
    plugin.connect(&Browser::default(), &env.return_url(), None, Decision::Approve("opr_kill")).unwrap();
    plugin.get_json("/api/orders").unwrap();
    // Admin routes need the admin token.
    let resp = env.http(Request {
        method: "POST".into(),
        url: format!("{}/admin/installations/{id}/disable", env.broker.url()),
        headers: vec![("authorization".into(), "Bearer nope".into())],
        body: vec![],
    });
    assert_eq!(resp.status, 401);
}

#[test]
fn uninstall_ticket_from_extension() {
    let env = env();
    let plugin = connected(&env, "opr_ext", None);
    let id = plugin.companion.install_id().unwrap().to_string();
    let url = plugin.companion.uninstall_url(plugin.now()).unwrap();
    let revokes = env.stora.counters().revokes;
    match Browser::default().open(&url, "never://").unwrap() {
        Landing::Page { status, body, .. } => {
            assert_eq!(status, 200, "{body}");
            assert!(body.contains("removed"));
        }
        other => panic!("{other:?}"),
    }
    assert!(env.broker.app().store.installation(&id).unwrap().is_none());
    assert_eq!(env.stora.counters().revokes, revokes + 1);
    // A tampered ticket does nothing.
    let tampered = url.replace("sig=", "sig=A");
    match Browser::default().open(&tampered, "never://").unwrap() {
        Landing::Page { status, .. } => assert_ne!(status, 200),
        other => panic!("{other:?}"),
    }
}

#[test]
fn site_moved_and_copy() {
    let env = env();
    let mut plugin = connected(&env, "opr_move", None);
    let id = plugin.companion.install_id().unwrap().to_string();
    let new_url = format!("{}/moved", env.site.url().trim_end_matches('/'));
    let check = plugin.companion.check_site(&new_url).unwrap();
    assert!(matches!(check, tessera_core::SiteCheck::Mismatch { .. }));
    assert_eq!(plugin.get_json("/api/orders").unwrap_err().code(), "site_mismatch");
    // This broker requires ownership proofs: the new address must prove itself
    // (a move is not a way around it). One operation: the signed PATCH is
    // answered 202 {challenge}, the host serves the proof below the new URL,
    // the machine sends the registration (same id and secret) and the broker
    // answers 201 after fetching the proof.
    plugin.site_moved().unwrap();
    let trace = plugin.last_trace.clone();
    assert_eq!(trace.statuses, [202, 201]);
    assert_eq!(trace.proofs_served, 1);
    assert!(trace.proofs[0].url.starts_with(&format!("{new_url}/.well-known/tessera/")), "{:?}", trace.proofs);
    assert_eq!(plugin.companion.install_id().unwrap(), id, "same installation, proven at the new address");
    assert_eq!(plugin.companion.status(), Status::Connected);
    let stored = env.broker.app().store.installation(&id).unwrap().unwrap();
    assert_eq!(stored.site_url, new_url);
    assert_eq!(stored.status, InstallStatus::Active);
    plugin.get_json("/api/orders").unwrap();

    // A clone ("this is a copy") registers afresh and never touches the original.
    let mut clone = PluginHost::from_companion(Companion::from_json(&plugin.companion.to_json()).unwrap())
        .with_site(env.site.handle());
    clone.companion.check_site(env.site.url()).unwrap();
    clone.companion.resolve_site_as_copy();
    assert_eq!(clone.register(&registration(env.site.url(), "wordpress")).unwrap(), RegistrationOutcome::Registered);
    assert_ne!(clone.companion.install_id().unwrap(), id);
    plugin.get_json("/api/orders").unwrap();
}

/// The broker checks the proof it fetches. The host defers the proof
/// (`ProofDeferred`): the registration completes owing it, and resuming asks
/// for the proof again before anything is sent. A host that publishes it
/// somewhere the broker does not look (the site serves something else, as a
/// phisher claiming this site would) is refused; with the right proof it
/// completes — the same install id and secret throughout.
#[test]
fn ownership_proof_must_match() {
    let env = env();
    let mut plugin = env.plugin();
    plugin.defer_proofs = true;
    let reg = registration(env.site.url(), "wordpress");
    let proof = match plugin.register(&reg).unwrap() {
        RegistrationOutcome::OwnershipChallenge(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(plugin.last_trace.statuses, [202]);
    assert_eq!(plugin.companion.status().as_str(), "awaiting_ownership");
    let id = plugin.companion.install_id().unwrap().to_string();
    // Resuming while still deferring: the proof is asked for again, nothing is sent.
    assert!(matches!(plugin.register(&reg).unwrap(), RegistrationOutcome::OwnershipChallenge(_)));
    assert_eq!(plugin.last_trace.sends, 0);
    env.site.serve(&proof.path, "not-the-proof");
    let decoy = tessera_broker::plugin_host::SiteServer::start().unwrap();
    plugin.site = Some(decoy.handle());
    plugin.defer_proofs = false;
    let err = plugin.register(&reg).unwrap_err();
    assert_eq!(
        (err.code(), err.status(), err.reason()),
        ("registration_rejected", Some(403), Some("ownership_proof_invalid"))
    );
    assert_eq!(plugin.last_trace.sends, 1, "a 4xx is not retried");
    assert_eq!(plugin.companion.install_id(), Some(id.as_str()), "a known challenge keeps the registration");
    // Served where the broker looks, it goes through.
    plugin.site = Some(env.site.handle());
    assert_eq!(plugin.register(&reg).unwrap(), RegistrationOutcome::Registered);
    assert_eq!(plugin.last_trace.statuses, [201]);
    assert_eq!(plugin.companion.install_id(), Some(id.as_str()));
    assert_eq!(env.broker.app().store.installation(&id).unwrap().unwrap().status, InstallStatus::Active);
}

/// The state of `plugin` without its outstanding challenge: a companion
/// that signs API calls the real one refuses locally, to see what the
/// broker itself answers.
fn without_challenge(plugin: &PluginHost) -> PluginHost {
    let mut state: serde_json::Value = serde_json::from_str(&plugin.companion.to_json()).unwrap();
    state["installation"].as_object_mut().unwrap().remove("challenge");
    PluginHost::from_companion(Companion::from_json(&state.to_string()).unwrap())
}

/// A connected plugin moves its site; the broker asks the new address for a
/// proof; the host defers it (`ProofDeferred`, e.g. inside a request where
/// its proof route is not live). Checks the pending move on both sides and
/// returns the plugin and its install id.
fn pending_move(env: &Env, operator: &str) -> (PluginHost, String) {
    let mut plugin = connected(env, operator, None);
    let id = plugin.companion.install_id().unwrap().to_string();
    let new_url = format!("{}/moved", env.site.url());
    plugin.companion.check_site(&new_url).unwrap();
    plugin.defer_proofs = true;
    plugin.site_moved().expect("the move completes with the proof owed");
    assert_eq!(plugin.last_trace.statuses, [202], "only the PATCH was sent");
    assert_eq!((plugin.last_trace.proofs.len(), plugin.last_trace.proofs_served), (1, 0), "the proof was deferred");
    assert_eq!(plugin.companion.status().as_str(), "awaiting_ownership");
    assert_eq!(plugin.persisted.as_deref(), Some(plugin.companion.to_json().as_str()), "the challenge is persisted");
    let stored = env.broker.app().store.installation(&id).unwrap().unwrap();
    assert_eq!((stored.status, stored.site_url.as_str()), (InstallStatus::PendingOwnership, new_url.as_str()));
    assert!(env.broker.app().store.grant(&id).unwrap().is_some(), "the grant is kept during the move");

    // Meanwhile the plugin refuses API calls and connect links locally...
    let err = plugin.companion.start_call(ApiRequest::new("GET", "/api/orders")).unwrap_err();
    assert_eq!(err.code(), "invalid_state");
    let now = plugin.now();
    let err = plugin.companion.connect_url(&env.return_url(), None, now, &mut OsEntropy).unwrap_err();
    assert_eq!(err.code(), "invalid_state");
    // ...and the broker refuses them too: 403 ownership_pending, nothing reaches Stora.
    let mut unchecked = without_challenge(&plugin);
    let before = stora_requests(env, "/2025-09/orders").len();
    let err = unchecked.get_json("/api/orders").unwrap_err();
    assert_eq!((err.status(), err.reason()), (Some(403), Some("ownership_pending")), "{err:?}");
    assert_eq!(stora_requests(env, "/2025-09/orders").len(), before);
    (plugin, id)
}

/// What the fake Stora's control route says about `operator`'s grants:
/// `(grants, revoked)`.
fn stora_grants(env: &Env, operator: &str) -> (usize, usize) {
    let grants = env.stora_view(&format!("grants?operator={operator}"));
    let grants = grants.as_array().cloned().unwrap_or_default();
    (grants.len(), grants.iter().filter(|g| g["revoked"] == true).count())
}

/// Uninstall during a pending site move: the plugin signs disconnect and
/// deregister with the unchanged secret, the broker accepts both (revoking
/// the grant at Stora and forgetting the installation), and the report says
/// so; the local state is wiped.
#[test]
fn uninstall_during_a_pending_site_move() {
    let env = env();
    let (mut plugin, id) = pending_move(&env, "opr_move_leave");
    assert_eq!(stora_grants(&env, "opr_move_leave"), (1, 0));
    let revokes = env.stora.counters().revokes;

    let report = plugin.uninstall().unwrap();
    assert_eq!((report.disconnect.as_str(), report.deregister.as_str()), ("ok", "ok"), "{report:?}");
    assert_eq!(plugin.last_trace.statuses, [204, 204], "POST /disconnect, then DELETE, each accepted at once");
    assert_eq!(env.stora.counters().revokes, revokes + 1, "the broker revoked at Stora");
    assert_eq!(stora_grants(&env, "opr_move_leave"), (1, 1), "the grant is revoked at Stora");
    assert!(env.broker.app().store.grant(&id).unwrap().is_none(), "the broker forgot the grant");
    assert!(env.broker.app().store.installation(&id).unwrap().is_none(), "the broker forgot the installation");
    assert_eq!(env.admin("GET", &format!("/admin/installations/{id}")).status, 404);
    assert_eq!(plugin.companion.status(), Status::NotRegistered);
    assert!(plugin.companion.install_id().is_none(), "local state wiped");
    assert_eq!(plugin.persisted.as_deref(), Some(plugin.companion.to_json().as_str()), "the wipe is persisted");
}

/// Disconnect during a pending site move: accepted, the grant is revoked at
/// Stora, the installation stays pending; the move can still be finished
/// later (the registration round, once the proof route is live), and the
/// plugin connects again at the new address.
#[test]
fn disconnect_during_a_pending_site_move_then_finish_it() {
    let env = env();
    let (mut plugin, id) = pending_move(&env, "opr_move_disc");
    let remote = plugin.disconnect().unwrap();
    assert_eq!(remote.as_str(), "ok", "{remote:?}");
    assert_eq!(plugin.last_trace.statuses, [204]);
    assert_eq!(stora_grants(&env, "opr_move_disc"), (1, 1), "the grant is revoked at Stora");
    assert!(env.broker.app().store.grant(&id).unwrap().is_none());
    let stored = env.broker.app().store.installation(&id).unwrap().unwrap();
    assert_eq!(stored.status, InstallStatus::PendingOwnership, "the move still waits for its proof");
    assert_eq!(plugin.companion.status().as_str(), "awaiting_ownership");

    // The proof route is live now (it serves the proof of the stored
    // challenge): a registration resumes the round — same id and secret, the
    // new URL — and the broker completes the move.
    let proof = plugin.companion.ownership_proof().unwrap();
    env.site.serve_proof(&proof);
    plugin.defer_proofs = false;
    let outcome = plugin.register(&registration(&format!("{}/moved", env.site.url()), "wordpress")).unwrap();
    assert_eq!(outcome, RegistrationOutcome::Registered);
    assert_eq!(plugin.last_trace.statuses, [201]);
    assert_eq!(plugin.companion.install_id(), Some(id.as_str()));
    assert_eq!(plugin.companion.status(), Status::Registered);
    assert_eq!(env.broker.app().store.installation(&id).unwrap().unwrap().status, InstallStatus::Active);
    plugin.connect(&Browser::default(), &env.return_url(), None, Decision::Approve("opr_move_disc")).unwrap();
    plugin.get_json("/api/orders").unwrap();
}

/// A 3xx in front of the broker (a trailing-slash rule, an HTTP → HTTPS
/// rewrite) is never followed: the call ends with `redirected`, sent once,
/// whatever the operation, and nothing is lost.
#[test]
fn a_redirect_ends_the_call_sent_once() {
    let env = Env::start(EnvOptions { fault_proxy: true, ..EnvOptions::default() }).expect("environment starts");
    let proxy = env.proxy.as_ref().unwrap();
    let mut plugin = connected(&env, "opr_redirect", Some("public.order:read public.contact:write"));
    let before = plugin.companion.to_json();
    let at = |path: &str| format!("{}{path}", env.broker_url());

    // A signed GET: where the redirect points would answer 200.
    proxy.reset_seen();
    proxy.fail_times(Some("GET"), "/api/orders", Fault::redirect(302, &at("/api/orders")), 1);
    let err = plugin.get_json("/api/orders").unwrap_err();
    assert_eq!((err.code(), err.status()), ("redirected", Some(302)), "{err:?}");
    assert_eq!(proxy.count("GET", "/api/orders"), 1, "sent once, never followed or retried");
    assert_eq!(plugin.last_trace.sends, 1);
    assert_eq!(plugin.companion.to_json(), before, "state unchanged: still connected");
    plugin.get_json("/api/orders").unwrap();

    // A keyed POST (retried on a 5xx) is not retried on a 3xx.
    proxy.reset_seen();
    proxy.fail_times(Some("POST"), "/api/contacts", Fault::redirect(307, &at("/api/contacts")), 1);
    let err = plugin.call(ApiRequest::json("POST", "/api/contacts", br#"{"name":"Ada"}"#.to_vec())).unwrap_err();
    assert_eq!((err.code(), err.status()), ("redirected", Some(307)));
    assert_eq!(proxy.count("POST", "/api/contacts"), 1);
    assert!(stora_requests(&env, "/2025-09/contacts").is_empty(), "nothing reached Stora");

    // The registration POST (retried on a 5xx) ends at a 308 too.
    let mut fresh = env.plugin();
    proxy.reset_seen();
    proxy.fail_times(
        Some("POST"),
        "/installations",
        Fault::redirect(308, "https://elsewhere.example/installations"),
        1,
    );
    let err = fresh.register(&registration(env.site.url(), "wordpress")).unwrap_err();
    assert_eq!((err.code(), err.status()), ("redirected", Some(308)));
    assert_eq!(proxy.count("POST", "/installations"), 1);
    assert_eq!(fresh.register(&registration(env.site.url(), "wordpress")).unwrap(), RegistrationOutcome::Registered);

    // Uninstall: the redirected disconnect is reported failed after one
    // attempt, the deregistration still runs, local state is wiped.
    let id = plugin.companion.install_id().unwrap().to_string();
    proxy.reset_seen();
    proxy.fail_times(Some("POST"), "/disconnect", Fault::redirect(301, &at("/disconnect")), 1);
    let report = plugin.uninstall().unwrap();
    assert_eq!(report.disconnect.error().map(Error::code), Some("redirected"), "{report:?}");
    assert_eq!(report.deregister.as_str(), "ok");
    assert_eq!(proxy.count("POST", "/disconnect"), 1);
    assert!(env.broker.app().store.installation(&id).unwrap().is_none());
}

#[test]
fn registration_conflict_and_unknown_installation() {
    let env = env();
    let plugin = connected(&env, "opr_conflict", None);
    let id = plugin.companion.install_id().unwrap().to_string();
    // Someone else registers the same id with another secret.
    let body = json!({
        "install_id": id, "site_url": env.site.url(), "admin_email": "x@evil.example",
        "secret": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "platform": "wordpress", "plugin_version": "1",
    });
    let resp = env.http(Request {
        method: "POST".into(),
        url: format!("{}/installations", env.broker.url()),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    });
    assert_eq!(resp.status, 409);
    // Deregistered elsewhere: the next call says the registration is invalid.
    let state = plugin.companion.to_json();
    let mut p = plugin;
    p.uninstall().unwrap();
    let mut stale = PluginHost::from_companion(Companion::from_json(&state).unwrap());
    let err = stale.get_json("/api/orders").unwrap_err();
    assert_eq!(err.code(), "registration_invalid");
    assert_eq!(err.reason(), Some("unknown_installation"));
}

#[test]
fn proactive_refresh_within_the_margin() {
    // Access tokens that live 4 minutes are inside the 5-minute margin from
    // the start: the broker refreshes before forwarding, Stora never sees an
    // expired token.
    let env = Env::start(EnvOptions {
        stora: fake_stora::Config { access_ttl_secs: 240, ..Default::default() },
        ..EnvOptions::default()
    })
    .unwrap();
    let mut plugin = connected(&env, "opr_margin", None);
    let before = env.stora.counters().refreshes;
    plugin.get_json("/api/orders").unwrap();
    assert_eq!(env.stora.counters().refreshes, before + 1);
    assert!(stora_requests(&env, "/2025-09/orders").iter().all(|r| r.status == 200), "no 401 reached the plugin path");
}

#[test]
fn failed_refresh_is_retried_by_the_plugin() {
    let env = env();
    let mut plugin = connected(&env, "opr_refresh_5xx", None);
    env.stora_control("expire_tokens", json!({"operator": "opr_refresh_5xx"}));
    env.stora_control("faults", json!({"status": 503, "count": 1, "path_prefix": "/oauth2/token"}));
    plugin.get_json("/api/orders").unwrap();
    assert_eq!(plugin.last_trace.statuses, vec![502, 200], "stora_unavailable, then success");
    assert_eq!(env.stora.counters().invalid_grants, 0, "the refresh token survived the failed attempt");
}

#[test]
fn grants_survive_a_broker_restart() {
    let mut env = env();
    let mut plugin = connected(&env, "opr_restart", None);
    let restart = |env: &mut Env| {
        let config = env.broker.app().config.clone();
        let port: u16 = env.broker.url().rsplit(':').next().unwrap().parse().unwrap();
        let mut scratch = config.clone();
        scratch.db_path = env.dir().join("scratch.sqlite3");
        drop(std::mem::replace(&mut env.broker, tessera_broker::Broker::start(scratch).unwrap()));
        env.broker = tessera_broker::Broker::start_on(config, port).unwrap();
    };
    restart(&mut env);
    assert_eq!(plugin.get_json("/api/orders").unwrap()["data"].as_array().unwrap().len(), 3);
    env.stora_control("expire_tokens", json!({"operator": "opr_restart"}));
    plugin.get_json("/api/orders").unwrap();
    restart(&mut env);
    // Only works if the rotated pair was written to the database.
    env.stora_control("expire_tokens", json!({"operator": "opr_restart"}));
    plugin.get_json("/api/orders").unwrap();
    assert_eq!(env.stora.counters().refreshes, 2);
    assert_eq!(env.stora.counters().invalid_grants, 0);
}

/// "Reset this installation" (issue 14, item 3): the old installation's grant
/// is revoked at Stora and the installation forgotten at the broker (signed
/// with the old secret), then a new installation registers (its own id and
/// secret, ownership proof served) and is left registered, not connected.
#[test]
fn reset_revokes_the_old_installation_and_registers_a_new_one() {
    let env = env();
    let mut plugin = connected(&env, "opr_reset", None);
    let old_id = plugin.companion.install_id().unwrap().to_string();
    let old_secret = plugin.companion.to_json();
    assert_eq!(stora_grants(&env, "opr_reset"), (1, 0));
    let revokes = env.stora.counters().revokes;

    let (disconnect, deregister, outcome) = plugin.reset(&registration(env.site.url(), "wordpress")).unwrap();
    assert_eq!((disconnect.as_str(), deregister.as_str()), ("ok", "ok"));
    assert_eq!(outcome, RegistrationOutcome::Registered);
    assert_eq!(env.stora.counters().revokes, revokes + 1, "the broker revoked the old grant at Stora");
    assert_eq!(stora_grants(&env, "opr_reset"), (1, 1), "the old grant is revoked at Stora");
    assert!(env.broker.app().store.grant(&old_id).unwrap().is_none(), "the broker forgot the old grant");
    assert!(env.broker.app().store.installation(&old_id).unwrap().is_none(), "the old installation is gone");

    let new_id = plugin.companion.install_id().unwrap().to_string();
    assert_ne!(new_id, old_id, "a new install id");
    assert_ne!(plugin.companion.to_json(), old_secret);
    let stored = env.broker.app().store.installation(&new_id).unwrap().expect("the new installation exists");
    assert_eq!(stored.status, InstallStatus::Active);
    assert_eq!(plugin.companion.status(), Status::Registered, "registered, not connected");
    assert_eq!(plugin.persisted.as_deref(), Some(plugin.companion.to_json().as_str()), "the new state is persisted");
    // The new installation connects as any other.
    plugin.connect(&Browser::default(), &env.return_url(), None, Decision::Approve("opr_reset")).expect("connects");
    assert!(plugin.get_json("/api/orders").is_ok());
}

/// Waits until the fake Stora has no webhook delivery waiting.
fn deliveries_done(env: &Env) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while env.stora.store().pending_deliveries() > 0 {
        assert!(std::time::Instant::now() < deadline, "deliveries still pending");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn attempts_of(env: &Env, event_id: &str) -> Vec<fake_stora::DeliveryRecord> {
    env.stora.store().deliveries().into_iter().filter(|d| d.event_id == event_id).collect()
}

fn events_queued(env: &Env, id: &str) -> usize {
    env.broker.app().store.events_after(id, 0, 1000, env.broker.app().now()).unwrap().len()
}

#[test]
fn stora_webhooks_are_verified_deduplicated_queued_and_pulled() {
    let env = env();
    let mut plugin = connected(&env, "opr_hooks", Some("public.order:read public.order:write"));
    let id = plugin.companion.install_id().unwrap().to_string();
    let mut other = connected(&env, "opr_hooks_other", None);

    // Connect registered one endpoint at Stora, for this connection's URL.
    let endpoints = env.stora.store().webhook_endpoints(Some("opr_hooks"));
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    assert_eq!(endpoints[0].enabled_events, ["*"]);
    let stored = env.broker.app().store.webhook_endpoint_of(&id).unwrap().expect("stored at the broker");
    assert_eq!(stored.stora_endpoint_id, endpoints[0].id);
    assert_eq!(endpoints[0].url, format!("{}/webhooks/stora/{}", env.broker_url(), stored.hook_id));
    let secret = env.stora.store().webhook_secret(&endpoints[0].id).unwrap();

    // A mutation through the broker; Stora delivers its event three times,
    // each first attempt counted as failed (its answer "lost") and retried.
    env.stora_control("webhooks", json!({"duplicates": 2, "fail_first": 1, "retry_base_ms": 30}));
    let patch = ApiRequest::json("PATCH", "/api/orders/ord_1001", br#"{"metadata":{"crm.id":"42"}}"#.to_vec());
    assert_eq!(plugin.call(patch).unwrap().status, 200);
    deliveries_done(&env);
    let all = env.stora.store().deliveries();
    let event_id = all.last().expect("a delivery").event_id.clone();
    let attempts = attempts_of(&env, &event_id);
    assert_eq!(attempts.len(), 6, "3 deliveries x 2 attempts: {attempts:?}");
    assert!(attempts.iter().all(|a| a.status == 200), "the broker answers 200 to duplicates too");
    assert_eq!(attempts.iter().filter(|a| a.delivered).count(), 3);

    // Exactly one event queued; the plugin pulls it with a signed call.
    let page = plugin.get_json("/events").unwrap();
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(
        (events[0]["id"].as_str(), events[0]["type"].as_str()),
        (Some(event_id.as_str()), Some("order.updated"))
    );
    assert_eq!(events[0]["api_version"], "2025-09");
    assert_eq!(events[0]["data"]["object"]["id"], "ord_1001");
    assert_eq!(events[0]["data"]["object"]["metadata"]["crm.id"], "42");
    assert_eq!(page["has_more"], false);
    let cursor = page["cursor"].as_str().unwrap().to_string();
    assert_ne!(cursor, "0");
    let again = plugin.get_json(&format!("/events?after={cursor}&limit=10")).unwrap();
    assert_eq!((again["events"].as_array().unwrap().len(), again["cursor"].as_str()), (0, Some(cursor.as_str())));
    // Another installation sees none of it.
    let theirs = other.get_json("/events").unwrap();
    assert_eq!((theirs["events"].as_array().unwrap().len(), theirs["cursor"].as_str()), (0, Some("0")));

    // A bad signature and a stale timestamp are refused (and retried by
    // Stora until it gives up); an unknown hook is 404. Nothing is queued.
    for (controls, code) in [
        (json!({"bad_signature": true, "retry_base_ms": 10}), "signature_invalid"),
        (json!({"stale_timestamp": true, "retry_base_ms": 10}), "signature_expired"),
    ] {
        env.stora_control("webhooks", controls);
        let emitted = env.stora_control("events", json!({"operator": "opr_hooks", "type": "test.event", "data": {}}));
        deliveries_done(&env);
        let attempts = attempts_of(&env, emitted["event"]["id"].as_str().unwrap());
        assert_eq!(attempts.len(), 5, "{code}: every attempt refused, then given up");
        assert!(attempts.iter().all(|a| a.status == 400 && !a.delivered), "{code}: {attempts:?}");
    }
    env.stora_control("webhooks", json!({}));
    let body = r#"{"event":{"id":"evt_forged","type":"test.event","api_version":"2025-09","created_at":1,"data":{}}}"#;
    let signed = |hook: &str, header: String| {
        env.http(Request {
            method: "POST".into(),
            url: format!("{}/webhooks/stora/{hook}", env.broker_url()),
            headers: vec![("content-type".into(), "application/json".into()), ("x-stora-signature".into(), header)],
            body: body.as_bytes().to_vec(),
        })
    };
    let now = tessera_broker::plugin_host::wall_now();
    let good = fake_stora::delivery::signature_header(&secret, now, body);
    assert_eq!(signed("hk_unknown", good.clone()).status, 404);
    let malformed = signed(&stored.hook_id, format!("t={now},v1=xyz"));
    assert_eq!(malformed.status, 400);
    assert_eq!(tessera_core::internals::classify::error_code(&malformed.body).as_deref(), Some("signature_invalid"));
    assert_eq!(events_queued(&env, &id), 1, "nothing refused was queued");
    // The same body correctly signed for this hook is queued: the refusals were the signatures.
    assert_eq!(signed(&stored.hook_id, good).status, 200);
    assert_eq!(events_queued(&env, &id), 2);

    // A cursor that is not one: 400.
    let bad = plugin.send_signed(&ApiRequest::new("GET", "/events?after=-1")).unwrap();
    assert_eq!(bad.status, 400);
    assert_eq!(tessera_core::internals::classify::error_code(&bad.body).as_deref(), Some("invalid_request"));

    // The counters a partner alerts on (summed over the instances: each
    // process counts what it served).
    for (series, value) in [
        ("tessera_broker_webhook_duplicates_total", 5),
        ("tessera_broker_events_queued_total", 2),
        ("tessera_broker_webhooks_refused_total{reason=\"signature_invalid\"}", 6),
        ("tessera_broker_webhooks_refused_total{reason=\"signature_expired\"}", 5),
        ("tessera_broker_webhooks_refused_total{reason=\"unknown_hook\"}", 1),
        ("tessera_broker_webhook_registrations_total", 2),
        (&format!("tessera_broker_installation_events_queued_total{{install_id=\"{id}\"}}"), 2),
    ] {
        assert_eq!(metric(&env, series), value, "{series}");
    }
    // The secret never reaches a log line.
    assert!(env.logs.lock().unwrap().iter().all(|l| !l.contains(&secret) && !l.contains("whsec_")));

    // Disconnect deletes the endpoint at Stora and the queue here.
    plugin.disconnect().unwrap();
    assert!(env.stora.store().webhook_endpoints(Some("opr_hooks")).is_empty(), "deleted at Stora");
    assert!(env.broker.app().store.webhook_endpoint_of(&id).unwrap().is_none());
    assert_eq!(events_queued(&env, &id), 0);
}

#[test]
fn a_failed_webhook_registration_is_retried_by_a_pull_at_most_every_five_minutes() {
    // One instance: the throttle is per process (each instance may try once).
    let env = Env::start(EnvOptions { instances: 1, ..EnvOptions::default() }).expect("environment starts");
    // Stora refuses the endpoint at connect time and on the next attempt.
    env.stora_control("faults", json!({"status": 503, "count": 2, "path_prefix": "/2025-09/webhook_endpoints"}));
    let mut plugin = connected(&env, "opr_retry", None);
    let attempts = || stora_requests(&env, "/2025-09/webhook_endpoints").len();
    assert_eq!(attempts(), 1, "tried at connect time");
    let pull = |plugin: &mut PluginHost| plugin.send_signed(&ApiRequest::new("GET", "/events")).unwrap().status;
    assert_eq!(pull(&mut plugin), 200);
    assert_eq!(attempts(), 2, "the first pull tries again");
    assert_eq!(pull(&mut plugin), 200);
    assert_eq!(attempts(), 2, "the next pulls do not ask Stora again");
    // Five minutes later (every instance's clock), Stora answering again.
    env.set_clock_offset(tessera_broker::webhooks::REGISTRATION_RETRY_SECS);
    assert_eq!(pull(&mut plugin), 200);
    assert_eq!(attempts(), 3);
    assert!(env.broker.app().store.webhook_endpoint_of(plugin.companion.install_id().unwrap()).unwrap().is_some());
}

/// The site's pushes (`POST`s) so far.
fn pushes(env: &Env) -> Vec<tessera_broker::plugin_host::SiteRequest> {
    env.site.requests().into_iter().filter(|r| r.method == "POST").collect()
}

#[test]
fn events_are_pushed_to_the_sites_own_origin_signed_with_its_secret() {
    let env = env();
    let mut plugin = connected(&env, "opr_push", Some("public.order:read public.order:write"));
    let other = connected(&env, "opr_push_other", None);
    let patch = |v: u8| {
        ApiRequest::json("PATCH", "/api/orders/ord_1001", format!(r#"{{"metadata":{{"crm.id":"{v}"}}}}"#).into_bytes())
    };

    // Only a URL on the site's own origin is taken (the broker POSTs nowhere else).
    for url in ["https://evil.example/push", "http://169.254.169.254/latest", "ftp://127.0.0.1/x"] {
        let body = format!(r#"{{"url":"{url}"}}"#).into_bytes();
        let refused = plugin.send_signed(&ApiRequest::json("PUT", "/events/push", body)).unwrap();
        assert_eq!(refused.status, 400, "{url}");
        assert_eq!(tessera_core::internals::classify::error_code(&refused.body).as_deref(), Some("invalid_request"));
    }
    let url = format!("{}/wp-json/storefront-sync/v1/events", env.site.url());
    let set = plugin.companion.push_registration_request(Some(&url)).unwrap();
    let answer = plugin.call(set).unwrap();
    assert_eq!(
        (answer.status, serde_json::from_slice::<serde_json::Value>(&answer.body).unwrap()["push_url"].as_str()),
        (200, Some(url.as_str()))
    );

    // A mutation at Stora: its webhook reaches the broker, which pushes the event to the site.
    assert_eq!(plugin.call(patch(1)).unwrap().status, 200);
    deliveries_done(&env);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while pushes(&env).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no push arrived");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let push = pushes(&env).remove(0);
    assert_eq!(push.path, "/wp-json/storefront-sync/v1/events");
    let now = tessera_broker::plugin_host::wall_now();
    let events = plugin.companion.verify_push(&push.headers, &push.body, now).expect("the plugin verifies the push");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "order.updated");
    assert!(events[0].data_json.contains(r#""id":"ord_1001""#), "{}", events[0].data_json);
    // The push moved nothing: the pull brings the same event.
    let page = plugin.get_json("/events").unwrap();
    assert_eq!(page["events"][0]["id"].as_str(), Some(events[0].id.as_str()));

    // What the site must refuse: another body, another installation's key, an old push.
    let mut tampered = push.body.clone();
    let at = tampered.len() - 3;
    tampered[at] ^= 1;
    assert_eq!(plugin.companion.verify_push(&push.headers, &tampered, now), Err(Error::SignatureInvalid));
    assert_eq!(other.companion.verify_push(&push.headers, &push.body, now), Err(Error::SignatureInvalid));
    assert_eq!(plugin.companion.verify_push(&push.headers, &push.body, now + 301), Err(Error::SignatureExpired));
    assert_eq!(plugin.companion.verify_push(&[], &push.body, now), Err(Error::SignatureMissing));
    assert!(
        env.logs.lock().unwrap().iter().all(|l| !l.contains("tessera-push-signature")),
        "the signature is not logged"
    );
    // Counted once the site's answer is read (just after the site kept the push).
    while metric(&env, "tessera_broker_events_pushed_total") == 0 {
        assert!(std::time::Instant::now() < deadline, "the push is not counted");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(metric(&env, "tessera_broker_events_pushed_total"), 1);
    assert_eq!(metric(&env, "tessera_broker_event_pushes_failed_total"), 0);

    // DELETE stops the pushes; the events still queue for the pull.
    let stop = plugin.companion.push_registration_request(None).unwrap();
    assert_eq!(plugin.call(stop).unwrap().status, 204);
    assert_eq!(plugin.call(patch(2)).unwrap().status, 200);
    deliveries_done(&env);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(pushes(&env).len(), 1, "no push after DELETE");
    let cursor = page["cursor"].as_str().unwrap();
    let later = plugin.get_json(&format!("/events?after={cursor}")).unwrap();
    assert_eq!(later["events"].as_array().unwrap().len(), 1);
}

//! Security round 2 (issue 14), the broker's items: each test replays the
//! attack against the real broker over HTTP on 127.0.0.1 (fake Stora, the
//! plugin's site, a rogue server) and shows it no longer works.
//!
//! * item 6 — `proof_fetch_is_pinned_to_the_checked_address` (DNS rebinding);
//!   the range table is `site_fetch::tests::internal_ranges` (unit);
//! * item 8 — `the_verified_url_is_what_reaches_stora`;
//! * "grant marked revoked on any second 401" —
//!   `a_reconnect_during_a_failing_call_keeps_its_new_grant`,
//!   `a_second_401_that_is_not_invalid_token_never_marks_the_grant`;
//! * item 5 — `connect_shows_an_interstitial_before_stora`,
//!   `this_is_not_me_cancels_the_connect`, `scopes_outside_the_allow_list_are_refused`;
//! * item 9 — `proofs_for_wordpress_never_challenge_an_extension`,
//!   `an_extension_not_on_the_allow_list_is_refused`,
//!   `an_extension_returns_to_its_own_chromiumapp_org_address_only`;
//! * item 1 (single-use, browser-bound connect links; a connect code instead
//!   of a broker token in the callback) — `tests/connect.rs`;
//! * item 3 — `the_rotate_route_is_gone` (the remedy, "reset this
//!   installation", is `e2e::reset_revokes_the_old_installation_and_registers_a_new_one`);
//! * item 2 — `one_installation_flooding_the_replay_store_denies_only_itself`,
//!   `refused_installations_store_no_nonce`, `a_long_lived_signature_is_refused`
//!   (the bounds themselves: `verify::tests` in the core).

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tessera_broker::harness::{Env, EnvOptions};
use tessera_broker::plugin_host::{Browser, Decision, PluginHost, find_link, registration};
use tessera_broker::site_fetch::{Resolve, SystemResolver};
use tessera_core::Secret;
use tessera_core::{ApiRequest, OsEntropy, Request, SignOptions, Status};

fn env() -> Env {
    Env::start(EnvOptions::default()).expect("environment starts")
}

fn connected(env: &Env, operator: &str, scope: Option<&str>) -> PluginHost {
    let mut plugin = env.plugin();
    plugin.register(&registration(env.site.url(), "wordpress")).expect("registers");
    plugin.connect(&Browser::default(), &env.return_url(), scope, Decision::Approve(operator)).expect("connects");
    plugin
}

fn get(env: &Env, url: &str) -> tessera_core::Response {
    env.http(Request { method: "GET".into(), url: url.into(), headers: vec![], body: vec![] })
}

fn body(resp: &tessera_core::Response) -> String {
    String::from_utf8_lossy(&resp.body).into_owned()
}

// ---- item 6: the ownership-proof fetch resolves once and pins -------------------------

/// DNS for `host` as a rebinding attacker serves it: the first answer is
/// `first`, every later one `then`.
#[derive(Debug)]
struct Rebinding {
    host: String,
    first: IpAddr,
    then: IpAddr,
    calls: AtomicUsize,
}

impl Resolve for Rebinding {
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        if host != self.host {
            return SystemResolver.resolve(host, port);
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(vec![if n == 0 { self.first } else { self.then }])
    }
}

/// A server that must never be reached: counts connections, answers 200.
fn rogue_server(
    addr: (&str, u16),
) -> (Arc<AtomicUsize>, std::thread::JoinHandle<()>, Arc<std::sync::atomic::AtomicBool>) {
    let listener = TcpListener::bind(addr).expect("bind the rogue server on 127.0.0.2");
    listener.set_nonblocking(true).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (h, s) = (hits.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((mut conn, _)) => {
                    h.fetch_add(1, Ordering::SeqCst);
                    conn.set_nonblocking(false).ok();
                    conn.set_read_timeout(Some(Duration::from_millis(500))).ok();
                    let mut buf = [0u8; 2048];
                    let _ = conn.read(&mut buf);
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nrogue");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    (hits, thread, stop)
}

#[test]
fn proof_fetch_is_pinned_to_the_checked_address() {
    // The registrant's name first resolves to the genuine site (127.0.0.1),
    // then — TTL 0 — to another address (127.0.0.2 stands in for
    // 169.254.169.254: it is the one address this loopback test can listen on
    // besides the site). The test configuration admits loopback addresses, so
    // both answers pass the check: what matters is where the fetch goes.
    let resolver = Arc::new(Rebinding {
        host: "rebind.localhost".into(),
        first: "127.0.0.1".parse().unwrap(),
        then: "127.0.0.2".parse().unwrap(),
        calls: AtomicUsize::new(0),
    });
    let env = Env::start(EnvOptions { resolver: Some(resolver.clone()), ..EnvOptions::default() }).unwrap();
    let port: u16 = env.site.url().rsplit(':').next().unwrap().parse().unwrap();
    let (rogue_hits, rogue, stop) = rogue_server(("127.0.0.2", port));
    let site_url = format!("http://rebind.localhost:{port}");

    let id = tessera_broker::crypto::random_id("ins_", 18);
    let mut raw = [0u8; 32];
    tessera_broker::crypto::fill_random(&mut raw);
    let secret = Secret::from_bytes(&raw).unwrap();
    let registration = json!({
        "install_id": id, "site_url": site_url, "admin_email": "owner@shop.example",
        "secret": secret.to_base64url(), "platform": "wordpress", "plugin_version": "1.0.0",
    })
    .to_string();
    let post = || {
        env.http(Request {
            method: "POST".into(),
            url: format!("{}/installations", env.broker.url()),
            headers: vec![("content-type".into(), "application/json".into())],
            body: registration.clone().into_bytes(),
        })
    };
    let first = post();
    assert_eq!(first.status, 202, "{}", body(&first));
    let challenge: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    let challenge = challenge["challenge"].as_str().unwrap();
    let proof_path = tessera_core::internals::registration::ownership_path(&id);
    env.site.serve(&proof_path, &tessera_core::internals::registration::ownership_proof(&secret, &id, challenge));

    let second = post();
    stop.store(true, Ordering::SeqCst);
    rogue.join().unwrap();
    assert_eq!(rogue_hits.load(Ordering::SeqCst), 0, "the fetch went to an address that was never checked");
    assert_eq!(second.status, 201, "{}", body(&second));
    assert_eq!(resolver.calls.load(Ordering::SeqCst), 1, "the name is resolved once");
    let fetches: Vec<_> = env.site.requests().into_iter().filter(|r| r.path == proof_path).collect();
    assert_eq!(fetches.len(), 1, "{fetches:?}");
    assert_eq!(fetches[0].host, format!("rebind.localhost:{port}"), "the original Host, not the address");
}

#[test]
fn a_name_resolving_to_an_internal_address_is_not_fetched() {
    // Even in the test configuration (loopback admitted), any other internal
    // answer — here the cloud metadata address — refuses the fetch outright.
    let resolver = Arc::new(Rebinding {
        host: "metadata.localhost".into(),
        first: "169.254.169.254".parse().unwrap(),
        then: "169.254.169.254".parse().unwrap(),
        calls: AtomicUsize::new(0),
    });
    let env = Env::start(EnvOptions { resolver: Some(resolver.clone()), ..EnvOptions::default() }).unwrap();
    let mut plugin = PluginHost::new(env.broker_url()).unwrap().with_site(env.site.handle());
    let err = plugin.register(&registration("http://metadata.localhost:9", "wordpress")).unwrap_err();
    assert_eq!(err.reason(), Some("ownership_proof_invalid"), "{err:?}");
    assert!(resolver.calls.load(Ordering::SeqCst) >= 1, "the fetch was asked for and refused");
}

// ---- item 8: forward exactly what was verified ----------------------------------------

#[test]
fn the_verified_url_is_what_reaches_stora() {
    let env = env();
    let plugin = connected(&env, "opr_forward", None);
    // The plugin signs the normalised URL (what the core sends)...
    let signed = plugin
        .companion
        .sign_request(
            &ApiRequest::new("GET", "/api/orders/ord%7C1001?q=a%3Bb=c&x=%2F"),
            &SignOptions { now: plugin.now(), ..Default::default() },
            &mut OsEntropy,
        )
        .unwrap();
    assert!(signed.url.ends_with("/api/orders/ord%7C1001?q=a%3Bb=c&x=%2F"), "{}", signed.url);
    // ...and something on the way rewrites it into a form that normalises to
    // the same URL (so the signature still verifies) but that Stora reads
    // differently: `;` splits parameters for some servers, lowercase
    // escapes and raw separators are other strings.
    let mut raw = signed.clone();
    raw.url = signed.url.replace("ord%7C1001", "ord%7c1001").replace("q=a%3Bb=c&x=%2F", "q=a;b=c&x=/");
    assert_ne!(raw.url, signed.url);
    let resp = plugin.send(&raw).unwrap();
    assert_ne!(resp.status, 401, "the raw form verifies (same normalised URL): {}", body(&resp));

    let seen = env.stora.store().requests();
    let last = seen.last().expect("Stora saw the call");
    assert_eq!(
        (last.path.as_str(), last.query.as_deref()),
        ("/2025-09/orders/ord%7C1001", Some("q=a%3Bb=c&x=%2F")),
        "Stora must receive the verified (normalised) path and query, not the raw ones"
    );
}

// ---- decided: a grant is marked revoked only by invalid_token, under the lock, at its generation

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_reconnect_during_a_failing_call_keeps_its_new_grant() {
    let env = env();
    let mut plugin = connected(&env, "opr_race", None);
    let id = plugin.companion.install_id().unwrap().to_string();
    let refreshes = env.stora.counters().refreshes;

    // Stora stops honouring the access token the broker holds (the broker
    // still thinks it valid): the call's first forward answers 401
    // invalid_token, the broker refreshes and forwards again. That second
    // forward is held at Stora for 3 s: the operator reconnects meanwhile.
    env.stora_control("expire_tokens", json!({"operator": "opr_race"}));
    env.stora_control("faults", json!({"path_prefix": "/2025-09/orders", "latency_ms": 3000, "skip": 1}));
    let signed = plugin
        .companion
        .sign_request(
            &ApiRequest::new("GET", "/api/orders"),
            &SignOptions { now: plugin.now(), ..Default::default() },
            &mut OsEntropy,
        )
        .unwrap();
    let in_flight = std::thread::spawn(move || {
        let agent = tessera_broker::stora::http_agent(Duration::from_secs(30));
        tessera_broker::plugin_host::send(&agent, &signed).unwrap()
    });
    // The broker has refreshed (under its lock, the rotated pair written)
    // and its second forward is on its way.
    wait_until("the broker's refresh", || env.stora.counters().refreshes == refreshes + 1);

    // The reconnect lands: a new grant (and broker token); the replaced one
    // is revoked at Stora, so the held forward will now answer 401
    // invalid_token — for the *old* grant.
    plugin.connect(&Browser::default(), &env.return_url(), None, Decision::Approve("opr_race")).unwrap();
    let reconnected = env.broker.app().store.grant(&id).unwrap().unwrap();
    assert!(!reconnected.revoked);

    let answer = in_flight.join().unwrap();
    let grant = env.broker.app().store.grant(&id).unwrap().unwrap();
    assert!(!grant.revoked, "the reconnect's new grant was marked revoked by the old grant's 401");
    assert_ne!(
        tessera_core::internals::classify::error_code(&answer.body).as_deref(),
        Some("stora_reconnect_required"),
        "the old grant's failure must not be reported as the new grant's"
    );
    assert_eq!(grant.generation, reconnected.generation, "untouched");
    assert_eq!(plugin.companion.status(), Status::Connected);
    plugin.get_json("/api/orders").expect("the new grant works");
}

#[test]
fn a_second_401_that_is_not_invalid_token_never_marks_the_grant() {
    let env = env();
    let mut plugin = connected(&env, "opr_other401", None);
    let id = plugin.companion.install_id().unwrap().to_string();

    // First forward: 401 invalid_token (Stora expired the token early), the
    // broker refreshes; second forward: a 401 of another kind (here an
    // injected fault, e.g. a gateway's own 401).
    env.stora_control("expire_tokens", json!({"operator": "opr_other401"}));
    env.stora_control(
        "faults",
        json!({"path_prefix": "/2025-09/orders", "status": 401, "code": "forbidden", "skip": 1}),
    );
    let err = plugin.get_json("/api/orders").unwrap_err();
    assert_ne!(err.reason(), Some("stora_reconnect_required"), "{err:?}");
    let grant = env.broker.app().store.grant(&id).unwrap().unwrap();
    assert!(!grant.revoked, "a 401 that is not invalid_token marked the grant revoked");
    assert_eq!(plugin.companion.status(), Status::Connected);
    plugin.get_json("/api/orders").expect("the grant still works");
}

// ---- item 5: the interstitial and the scope allow-list ----------------------------------

fn registered(env: &Env) -> PluginHost {
    let mut plugin = env.plugin();
    plugin.register(&registration(env.site.url(), "wordpress")).expect("registers");
    plugin
}

fn connect_link(plugin: &mut PluginHost, env: &Env, scope: Option<&str>) -> String {
    plugin.companion.connect_url(&env.return_url(), scope, plugin.now(), &mut OsEntropy).unwrap()
}

#[test]
fn connect_shows_an_interstitial_before_stora() {
    let env = env();
    let mut plugin = registered(&env);
    let url = connect_link(&mut plugin, &env, Some("public.order:read public.contact:read"));
    let browser = Browser::default();
    let page = browser.get(&url).unwrap();
    assert_eq!(page.status, 200, "no redirect to Stora before the operator confirms: {:?}", page.header("location"));
    let html = body(&page);
    assert!(html.contains(env.site.url()), "the registered site: {html}");
    assert!(html.contains("shop.example"), "the admin email's domain: {html}");
    assert!(!html.contains("owner@"), "only the domain of the admin email: {html}");
    assert!(html.contains("public.order:read") && html.contains("public.contact:read"), "the requested scopes: {html}");
    assert!(find_link(&html, "continue").is_some() && find_link(&html, "not-me").is_some(), "{html}");
    assert!(html.contains("Continue") && html.contains("This is not me"), "{html}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"), "never framed (clickjacking)");
    assert!(page.header("content-security-policy").is_some_and(|c| c.contains("frame-ancestors 'none'")));
    assert_eq!(env.stora.counters().authorize_requests, 0, "nothing reached Stora yet");

    // Continue → Stora's consent page, with the requested scope (from the
    // browser that opened the link: it holds the round's cookie).
    let cont = format!("{}{}", env.broker_url(), find_link(&html, "continue").unwrap());
    let to_stora = browser.get(&cont).unwrap();
    assert_eq!(to_stora.status, 302);
    let location = to_stora.header("location").unwrap();
    assert!(location.starts_with(&format!("{}/oauth2/authorize?", env.stora.url())), "{location}");
    assert!(
        location.contains("scope=public.contact%3Aread+public.order%3Aread")
            || location.contains("scope=public.order%3Aread+public.contact%3Aread"),
        "{location}"
    );

    // And the whole flow, clicking Continue, connects.
    plugin.connect(&Browser::default(), &env.return_url(), None, Decision::Approve("opr_inter")).unwrap();
    plugin.get_json("/api/orders").unwrap();
}

#[test]
fn this_is_not_me_cancels_the_connect() {
    let env = env();
    let mut plugin = registered(&env);
    let url = connect_link(&mut plugin, &env, None);
    let html = body(&get(&env, &url));
    let cont = format!("{}{}", env.broker_url(), find_link(&html, "continue").expect("continue link"));
    let not_me = format!("{}{}", env.broker_url(), find_link(&html, "not-me").expect("not-me link"));
    let cancelled = get(&env, &not_me);
    assert_eq!(cancelled.status, 200);
    assert!(cancelled.header("location").is_none(), "not sent anywhere, least of all to the return URL");
    assert!(body(&cancelled).contains("Nothing was connected"), "{}", body(&cancelled));
    // The attempt is gone: Continue no longer leads to Stora.
    let after = get(&env, &cont);
    assert_eq!(after.status, 400, "{}", body(&after));
    assert!(after.header("location").is_none());
    assert_eq!(env.stora.counters().authorize_requests, 0);
    assert!(env.logs.lock().unwrap().iter().any(|l| l.contains("connect_not_me")), "the refusal is logged");
}

#[test]
fn scopes_outside_the_allow_list_are_refused() {
    let env = env();
    let mut plugin = registered(&env);
    for scope in ["public.order:read account:admin", "payments:write", "public.order:read orders:write"] {
        let url = connect_link(&mut plugin, &env, Some(scope));
        let page = get(&env, &url);
        assert_eq!(page.status, 400, "{scope}: {}", body(&page));
        assert!(page.header("location").is_none(), "{scope}: never sent to Stora");
        assert!(body(&page).contains("scope_not_allowed") || body(&page).contains("not allowed"), "{}", body(&page));
    }
    assert_eq!(env.stora.counters().authorize_requests, 0);
    // An allowed scope still works.
    let url = connect_link(&mut plugin, &env, Some("public.order:read public.contact:write"));
    assert_eq!(get(&env, &url).status, 200);

    // A broker configured with the default allow-list (its default scope only).
    let config = tessera_broker::BrokerConfig::new("http://127.0.0.1:9", "c", "s", env.dir().join("other.sqlite3"));
    assert_eq!(config.allowed_scopes, vec![config.default_scope.clone()]);
}

// ---- item 2: one installation cannot deny service to every other ---------------------------

/// A fresh signed `GET {path}` from `plugin` (a new nonce each time).
fn signed_get(plugin: &PluginHost, path: &str) -> Request {
    plugin
        .companion
        .sign_request(
            &ApiRequest::new("GET", path),
            &SignOptions { now: plugin.now(), ..Default::default() },
            &mut OsEntropy,
        )
        .unwrap()
}

fn error_code(resp: &tessera_core::Response) -> Option<String> {
    tessera_core::internals::classify::error_code(&resp.body)
}

/// The replay store's share per installation in these tests: small, so that
/// a flood over HTTP reaches it in a moment (the default is 1,000).
const SHARE: usize = 20;

fn small_replay_store(env: &Env) {
    *env.broker.app().replay.lock().unwrap() = tessera_core::MemoryReplayStore::new(SHARE);
}

#[test]
fn one_installation_flooding_the_replay_store_denies_only_itself() {
    let env = env();
    small_replay_store(&env);
    let victim = connected(&env, "opr_victim", None);
    // The attacker: any installation that holds its own secret — here one
    // that registered (and proved its site) but never connected. Each signed
    // request verifies, so its nonce is recorded, then the broker refuses it
    // (no broker token).
    let attacker = registered(&env);
    let mut full_after = None;
    for n in 0..SHARE * 3 {
        let resp = attacker.send(&signed_get(&attacker, "/api/orders")).unwrap();
        if resp.status == 503 {
            assert_eq!(error_code(&resp).as_deref(), Some("replay_store_full"), "{}", body(&resp));
            full_after = Some(n);
            break;
        }
        assert_eq!(error_code(&resp).as_deref(), Some("broker_token_invalid"), "{}", body(&resp));
    }
    assert_eq!(full_after, Some(SHARE), "the attacker's own share fills after {SHARE} nonces");

    // Every other installation is unaffected...
    let resp = victim.send(&signed_get(&victim, "/api/orders")).unwrap();
    assert_eq!(resp.status, 200, "another installation was denied by the flood: {}", body(&resp));
    let other = connected(&env, "opr_bystander", None);
    for _ in 0..3 {
        let resp = other.send(&signed_get(&other, "/api/orders")).unwrap();
        assert_eq!(resp.status, 200, "{}", body(&resp));
    }
    // ...and the flooder stays refused until its own nonces expire.
    let resp = attacker.send(&signed_get(&attacker, "/api/orders")).unwrap();
    assert_eq!((resp.status, error_code(&resp).as_deref()), (503, Some("replay_store_full")));
}

#[test]
fn refused_installations_store_no_nonce() {
    let env = env();
    small_replay_store(&env);
    let disabled = connected(&env, "opr_disabled", None);
    let pending = connected(&env, "opr_pending", None);
    let unknown = connected(&env, "opr_unknown", None);
    let id = |p: &PluginHost| p.companion.install_id().unwrap().to_string();
    assert_eq!(env.admin("POST", &format!("/admin/installations/{}/disable", id(&disabled))).status, 200);
    let app = env.broker.app();
    app.store
        .set_installation_status(&id(&pending), tessera_broker::store::InstallStatus::PendingOwnership, app.now())
        .unwrap();
    // Deregistered at the broker (by its operator, say) but still signing.
    app.store.delete_installation(&id(&unknown)).unwrap();
    // The nonces of the three connect completions (signed) are forgotten.
    small_replay_store(&env);

    for (plugin, status, code) in [
        (&disabled, 401, "installation_disabled"),
        (&pending, 403, "ownership_pending"),
        (&unknown, 401, "unknown_installation"),
    ] {
        for _ in 0..SHARE * 2 {
            let resp = plugin.send(&signed_get(plugin, "/api/orders")).unwrap();
            assert_eq!((resp.status, error_code(&resp).as_deref()), (status, Some(code)), "{}", body(&resp));
        }
    }
    assert_eq!(app.replay.lock().unwrap().len(), 0, "a refused installation's nonces were stored");

    // Leaving is still accepted in every status (and records its nonce, in
    // the installation's own share).
    let mut disabled = disabled;
    disabled.disconnect().expect("a disabled installation may still disconnect");
    assert_eq!(app.replay.lock().unwrap().len(), 1);
}

#[test]
fn a_long_lived_signature_is_refused() {
    let env = env();
    let plugin = connected(&env, "opr_expires", None);
    let secret = env.broker.app().store.installation(plugin.companion.install_id().unwrap()).unwrap().unwrap().secret;
    for (delta, want) in [(3600, Some("signature_invalid")), (299, Some("signature_invalid")), (300, None)] {
        let mut req = signed_get(&plugin, "/api/orders");
        let input = req.header("signature-input").unwrap().to_string();
        let created: i64 = input.split(";created=").nth(1).unwrap().split(';').next().unwrap().parse().unwrap();
        let expires = input.split(";expires=").nth(1).unwrap().split(';').next().unwrap().to_string();
        let input = input.replace(&format!(";expires={expires};"), &format!(";expires={};", created + delta));
        let (_, signature) = tessera_core::internals::signature::hmac_sign_generic(&req, &input, &secret).unwrap();
        for (k, v) in req.headers.iter_mut() {
            match k.as_str() {
                "signature-input" => *v = input.clone(),
                "signature" => *v = signature.clone(),
                _ => {}
            }
        }
        let resp = plugin.send(&req).unwrap();
        match want {
            Some(code) => assert_eq!(
                (resp.status, error_code(&resp).as_deref()),
                (401, Some(code)),
                "expires = created + {delta}"
            ),
            None => assert_eq!(resp.status, 200, "expires = created + 300: {}", body(&resp)),
        }
    }
}

// ---- item 9: a per-platform proof policy, an extension allow-list, chromiumapp.org ------

/// A Chromium extension id (32 of `a-p`), and another.
const EXT: &str = "abcdefghijklmnopabcdefghijklmnop";
const OTHER_EXT: &str = "ponmlkjihgfedcbaponmlkjihgfedcba";

/// One raw registration POST: the new install id and the broker's answer.
fn post_registration(env: &Env, site_url: &str, platform: &str) -> (String, tessera_core::Response) {
    let id = tessera_broker::crypto::random_id("ins_", 18);
    let mut raw = [0u8; 32];
    tessera_broker::crypto::fill_random(&mut raw);
    let secret = Secret::from_bytes(&raw).unwrap();
    let resp = env.http(Request {
        method: "POST".into(),
        url: format!("{}/installations", env.broker.url()),
        headers: vec![("content-type".into(), "application/json".into())],
        body: json!({
            "install_id": id, "site_url": site_url, "admin_email": "owner@shop.example",
            "secret": secret.to_base64url(), "platform": platform, "plugin_version": "1.0.0",
        })
        .to_string()
        .into_bytes(),
    });
    (id, resp)
}

#[test]
fn proofs_for_wordpress_never_challenge_an_extension() {
    // Ownership proofs on (every platform, which includes WordPress): the
    // WordPress site is challenged, the extension registers at once — it has
    // no site to serve a proof from (it used to be refused outright, so a
    // broker serving extensions could require no proof from anyone).
    let env = env();
    let (wp, wp_resp) = post_registration(&env, env.site.url(), "wordpress");
    assert_eq!(wp_resp.status, 202, "the WordPress site is challenged: {}", body(&wp_resp));
    assert!(serde_json::from_slice::<serde_json::Value>(&wp_resp.body).unwrap()["challenge"].is_string());
    assert_eq!(env.admin("GET", &format!("/admin/installations/{wp}")).status, 200);

    for (site, platform) in [
        (format!("chrome-extension://{EXT}"), "chrome-extension"),
        // The self-declared platform does not matter: the origin does.
        (format!("chrome-extension://{OTHER_EXT}"), "wordpress"),
        ("moz-extension://2d0f1a52-4c5e-4e3b-9a51-0c5d3c7e9f10".to_string(), "firefox-extension"),
    ] {
        let (id, resp) = post_registration(&env, &site, platform);
        assert_eq!(resp.status, 201, "{site} ({platform}) registers without a challenge: {}", body(&resp));
        let row = env.admin("GET", &format!("/admin/installations/{id}"));
        let row: serde_json::Value = serde_json::from_slice(&row.body).unwrap();
        assert_eq!(row["status"], "active", "{site}");
    }

    // Through the core's step machine too: registered, no proof served.
    let mut plugin = PluginHost::new(env.broker_url()).unwrap().with_site(env.site.handle());
    plugin.register(&registration(&format!("chrome-extension://{EXT}"), "chrome-extension")).expect("registers");
    assert_eq!(plugin.companion.status(), Status::Registered);
    assert!(env.site.requests().is_empty(), "no proof was fetched from anywhere");

    // The policy is per platform: with proofs for WordPress only, another
    // platform's web site is not challenged (`TESSERA_PROOF_PLATFORMS`).
    let mut config = tessera_broker::BrokerConfig::new("http://127.0.0.1:9", "c", "s", "unused".into());
    config.require_ownership_proof_for = ["wordpress".to_string()].into();
    assert!(config.proof_required_for("wordpress"));
    assert!(!config.proof_required_for("joomla"));
    config.require_ownership_proof(true);
    assert!(config.proof_required_for("joomla"), "`*`: every platform");
}

#[test]
fn an_extension_not_on_the_allow_list_is_refused() {
    let env = Env::start(EnvOptions {
        require_ownership_proof: false,
        allowed_extension_ids: vec![EXT.to_string()],
        ..EnvOptions::default()
    })
    .unwrap();
    let (_, listed) = post_registration(&env, &format!("chrome-extension://{EXT}"), "chrome-extension");
    assert_eq!(listed.status, 201, "{}", body(&listed));
    let (_, upper) = post_registration(&env, &format!("chrome-extension://{}", EXT.to_uppercase()), "chrome-extension");
    assert_eq!(upper.status, 201, "ids compare case-insensitively: {}", body(&upper));
    for site in
        [format!("chrome-extension://{OTHER_EXT}"), "moz-extension://2d0f1a52-4c5e-4e3b-9a51-0c5d3c7e9f10".to_string()]
    {
        let (id, resp) = post_registration(&env, &site, "chrome-extension");
        assert_eq!((resp.status, error_code(&resp).as_deref()), (403, Some("extension_not_allowed")), "{site}");
        assert_eq!(env.admin("GET", &format!("/admin/installations/{id}")).status, 404, "nothing stored");
    }
    // The core's step machine reports the broker's code.
    let mut plugin = PluginHost::new(env.broker_url()).unwrap();
    let err =
        plugin.register(&registration(&format!("chrome-extension://{OTHER_EXT}"), "chrome-extension")).unwrap_err();
    assert_eq!(err.reason(), Some("extension_not_allowed"), "{err:?}");
    // A web site is not affected by the extension allow-list.
    let (_, web) = post_registration(&env, env.site.url(), "wordpress");
    assert_eq!(web.status, 201, "{}", body(&web));
    // The production default: no extension unless listed.
    let config = tessera_broker::BrokerConfig::new("http://127.0.0.1:9", "c", "s", "unused".into());
    assert!(config.allowed_extension_ids.is_empty() && !config.extension_allowed(EXT));
}

#[test]
fn an_extension_returns_to_its_own_chromiumapp_org_address_only() {
    // `chrome.identity.getRedirectURL()` is `https://<id>.chromiumapp.org/…`
    // (what `launchWebAuthFlow` waits for, and the npm README's quick start).
    let env = env();
    let mut plugin = PluginHost::new(env.broker_url()).unwrap();
    plugin.register(&registration(&format!("chrome-extension://{EXT}"), "chrome-extension")).expect("registers");

    // Another extension's address, or look-alikes, never get the callback.
    for refused in [
        format!("https://{OTHER_EXT}.chromiumapp.org/tessera"),
        format!("https://{EXT}.chromiumapp.org.evil.example/tessera"),
        format!("https://evil.example/{EXT}.chromiumapp.org/"),
        format!("https://x.{EXT}.chromiumapp.org/tessera"),
        format!("https://{EXT}.chromiumapp.org:8443/tessera"),
        format!("http://{EXT}.chromiumapp.org/tessera"),
        format!("chrome-extension://{OTHER_EXT}/connected.html"),
    ] {
        let link = plugin.companion.connect_url(&refused, None, plugin.now(), &mut OsEntropy).unwrap();
        let resp = get(&env, &link);
        assert_eq!(resp.status, 400, "{refused}: {}", body(&resp));
        assert!(body(&resp).contains("not on the registered site"), "{refused}: {}", body(&resp));
    }

    // Its own chromiumapp.org address, and its own pages, are accepted: the
    // operator sees the interstitial, consents, and the broker token comes back.
    for own in [format!("https://{EXT}.chromiumapp.org/tessera"), format!("chrome-extension://{EXT}/connected.html")] {
        let link = plugin.companion.connect_url(&own, None, plugin.now(), &mut OsEntropy).unwrap();
        let resp = get(&env, &link);
        assert_eq!(resp.status, 200, "{own}: the interstitial: {}", body(&resp));
        assert!(find_link(&body(&resp), "continue").is_some(), "{own}");
    }
    plugin
        .connect(
            &Browser::default(),
            &format!("https://{EXT}.chromiumapp.org/tessera"),
            None,
            Decision::Approve("opr_ext"),
        )
        .expect("connects through its chromiumapp.org address");
    assert_eq!(plugin.companion.status(), Status::Connected);
    assert_eq!(plugin.get_json("/api/orders").unwrap()["data"].as_array().map(Vec::len), Some(3));

    // A web site's installation cannot use an extension's address.
    let mut web = connected(&env, "opr_web", None);
    let link = web
        .companion
        .connect_url(&format!("https://{EXT}.chromiumapp.org/tessera"), None, web.now(), &mut OsEntropy)
        .unwrap();
    let resp = get(&env, &link);
    assert_eq!((resp.status, body(&resp).contains("not on the registered site")), (400, true), "{}", body(&resp));
}

// ---- item 3: no secret rotation route --------------------------------------------------

/// A thief holding the secret could rotate it and lock the plugin out while
/// keeping the grant: the route is gone (404/405), the secret unchanged.
#[test]
fn the_rotate_route_is_gone() {
    let env = env();
    let mut plugin = connected(&env, "opr_rotate", None);
    let id = plugin.companion.install_id().unwrap().to_string();
    let new_secret = json!({ "secret": Secret::from_bytes(&[7u8; 32]).unwrap().to_base64url() }).to_string();
    let req = plugin
        .companion
        .sign_request(
            &ApiRequest::json("POST", &format!("/installations/{id}/rotate"), new_secret),
            &SignOptions { now: plugin.now(), ..Default::default() },
            &mut OsEntropy,
        )
        .unwrap();
    let resp = env.http(req);
    assert!(matches!(resp.status, 404 | 405), "rotate answered {} {}", resp.status, body(&resp));
    // The plugin's own secret still signs.
    assert!(plugin.get_json("/api/orders").is_ok());
}

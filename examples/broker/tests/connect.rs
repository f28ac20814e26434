//! Issue 14 item 1, "a connect URL is reusable for its window" and "the
//! broker token travels in the callback URL": each test replays a step of
//! the attack against the real broker over HTTP (fake Stora, two browsers
//! with their own cookies) and shows it failing (`docs/PROTOCOL.md` §5.3
//! "One use" and "Browser binding", §5.4, §5.4.1).
//!
//! The attack, as it worked before: whoever held a victim's connect link
//! opened it in their own browser and consented with *their* Stora account;
//! the broker replaced the installation's grant at its OAuth callback
//! (revoking the victim's, killing the victim's broker token) and sent the
//! attacker's browser to the victim's return URL with the victim's `state`
//! and a fresh `broker_token` — one click by the victim on that URL
//! connected the victim's site to the attacker's account.
//!
//! * (a) `a_second_opening_cancels_the_first_round`
//! * (b) `a_leaked_link_used_first_yields_a_code_and_replaces_nothing`
//! * (c) `a_connect_code_is_worthless_without_the_installation_secret`
//! * (d) `a_round_continued_in_another_browser_ends`
//! * (e) `a_connect_code_exchanges_once`
//! * (f) `an_expired_connect_code_is_refused_and_its_grant_revoked`

use serde_json::{Value, json};
use tessera_broker::harness::{Env, EnvOptions};
use tessera_broker::plugin_host::{Browser, Decision, Landing, PluginHost, find_link, registration};
use tessera_core::{ApiRequest, Companion, OsEntropy, Request, Response, SignOptions, Status};

fn env() -> Env {
    Env::start(EnvOptions::default()).expect("environment starts")
}

fn registered(env: &Env) -> PluginHost {
    let mut plugin = env.plugin();
    plugin.register(&registration(env.site.url(), "wordpress")).expect("registers");
    plugin
}

fn connected(env: &Env, operator: &str) -> PluginHost {
    let mut plugin = registered(env);
    let account =
        plugin.connect(&Browser::default(), &env.return_url(), None, Decision::Approve(operator)).expect("connects");
    assert_eq!(account.id, operator);
    plugin
}

fn link(plugin: &mut PluginHost, env: &Env) -> String {
    let now = plugin.now();
    plugin.companion.connect_url(&env.return_url(), None, now, &mut OsEntropy).unwrap()
}

fn text(resp: &Response) -> String {
    String::from_utf8_lossy(&resp.body).into_owned()
}

fn error_code(resp: &Response) -> Option<String> {
    tessera_core::internals::classify::error_code(&resp.body)
}

/// Opens the link in `browser` and clicks the interstitial's Continue:
/// Stora's consent page (its URL and HTML).
fn consent_page(env: &Env, browser: &Browser, link: &str) -> (String, String) {
    match browser.open_connect(link, &env.return_url()).unwrap() {
        Landing::Page { url, status: 200, body } if body.contains("id=\"approve\"") => (url, body),
        other => panic!("not Stora's consent page: {other:?}"),
    }
}

/// The consent page's approve link, for `operator`.
fn approve_url(env: &Env, consent: &(String, String), operator: &str) -> String {
    let href = find_link(&consent.1, "approve").expect("approve link");
    format!("{}{href}&operator={operator}", env.stora.url())
}

/// Approves as `operator` in `browser`: where the browser ended.
fn approve(env: &Env, browser: &Browser, consent: &(String, String), operator: &str) -> Landing {
    browser.open(&approve_url(env, consent, operator), &env.return_url()).unwrap()
}

/// The return URL a browser landed on (it must have).
fn returned(landing: Landing) -> String {
    match landing {
        Landing::Returned(url) => url,
        other => panic!("did not land on the return URL: {other:?}"),
    }
}

/// A query parameter of a URL.
fn param(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// Stora's grants for `operator`: `(id, revoked)`, oldest first.
fn stora_grants(env: &Env, operator: &str) -> Vec<(u64, bool)> {
    let grants = env.stora_view(&format!("grants?operator={operator}"));
    let mut out: Vec<(u64, bool)> = grants
        .as_array()
        .map(|a| a.iter().map(|g| (g["id"].as_u64().unwrap(), g["revoked"].as_bool().unwrap())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// `POST /connect/complete {"code","state"}` signed by `plugin`'s
/// installation, with the given Idempotency-Key.
fn complete(plugin: &PluginHost, code: &str, state: &str, key: &str) -> Response {
    let mut req = ApiRequest::json("POST", "/connect/complete", json!({"code": code, "state": state}).to_string());
    req.headers.push(("idempotency-key".into(), key.into()));
    let signed =
        plugin.companion.sign_request(&req, &SignOptions { now: plugin.now(), ..Default::default() }, &mut OsEntropy);
    plugin.send(&signed.unwrap()).unwrap()
}

/// A host whose state holds `token` as its broker token (the same
/// installation and secret as `plugin`).
fn with_token(plugin: &PluginHost, token: &str) -> PluginHost {
    let mut state: Value = serde_json::from_str(&plugin.companion.to_json()).unwrap();
    state["broker_token"] = json!(token);
    PluginHost::from_companion(Companion::from_json(&state.to_string()).unwrap())
}

fn logged(env: &Env, code: &str) -> bool {
    env.logs.lock().unwrap().iter().any(|l| l.contains(&format!("\"error\":\"{code}\"")))
}

// ---- (a) --------------------------------------------------------------------------------

/// The owner opens the link; someone else opens the same link: `409
/// connect_link_used`, and the owner's round is cancelled — its callback
/// fails if it had not come back yet, its connect code no longer exchanges
/// and the Stora grant it obtained is revoked if it had. Nothing is replaced.
#[test]
fn a_second_opening_cancels_the_first_round() {
    let env = env();
    let mut victim = connected(&env, "opr_victim");
    let id = victim.companion.install_id().unwrap().to_string();
    let before = env.broker.app().store.grant(&id).unwrap().unwrap().generation;
    let (owner, other) = (Browser::default(), Browser::default());

    // 1. The owner is on Stora's consent page when the link is opened again.
    let url = link(&mut victim, &env);
    let consent = consent_page(&env, &owner, &url);
    let second = other.get(&url).unwrap();
    assert_eq!(second.status, 409, "a connect link opens once: {}", text(&second));
    assert!(second.header("location").is_none() && find_link(&text(&second), "continue").is_none());
    assert!(logged(&env, "connect_link_used"), "logged");
    // The owner's consent comes back to a round that no longer exists.
    match approve(&env, &owner, &consent, "opr_victim") {
        Landing::Page { status: 400, .. } => {}
        other => panic!("the cancelled round went on: {other:?}"),
    }
    // Opening it a third time (by anyone) is refused the same way.
    assert_eq!(owner.get(&url).unwrap().status, 409);

    // 2. The owner's round has its code (Stora's grant obtained) when the link
    // is opened again: the code is dead, the grant revoked at Stora.
    let url = link(&mut victim, &env);
    let consent = consent_page(&env, &owner, &url);
    let landing = returned(approve(&env, &owner, &consent, "opr_victim"));
    assert!(param(&landing, "code").is_some(), "{landing}");
    let grants = stora_grants(&env, "opr_victim");
    assert_eq!(grants.iter().filter(|(_, revoked)| !revoked).count(), 2, "the installation's and the round's");
    assert_eq!(other.get(&url).unwrap().status, 409);
    let err = victim.complete_connect(&landing).unwrap_err();
    assert_eq!((err.code(), err.reason()), ("client_error", Some("connect_code_invalid")), "{err:?}");
    let grants = stora_grants(&env, "opr_victim");
    assert_eq!(grants.last().map(|g| g.1), Some(true), "the round's Stora grant is revoked: {grants:?}");
    assert!(!grants[0].1, "the installation's own grant is not: {grants:?}");

    // Nothing was replaced: same grant, the broker token still works.
    assert_eq!(env.broker.app().store.grant(&id).unwrap().unwrap().generation, before);
    assert_eq!(victim.companion.status(), Status::Connected);
    assert_eq!(victim.get_json("/api/account").unwrap()["id"], "opr_victim");
}

// ---- (b) --------------------------------------------------------------------------------

/// The attacker opens a leaked link first and consents with their own
/// account: their browser lands on the victim's return URL with a connect
/// code — not a broker token — and the victim's grant and broker token are
/// untouched (at the broker and at Stora). The victim's own opening of the
/// link then kills the attacker's round (its Stora grant revoked), so the
/// code the attacker holds can never connect the victim's site.
#[test]
fn a_leaked_link_used_first_yields_a_code_and_replaces_nothing() {
    let env = env();
    let mut victim = connected(&env, "opr_victim");
    let id = victim.companion.install_id().unwrap().to_string();
    let before = env.broker.app().store.grant(&id).unwrap().unwrap().generation;
    let url = link(&mut victim, &env);

    let attacker = Browser::default();
    let consent = consent_page(&env, &attacker, &url);
    let landing = returned(approve(&env, &attacker, &consent, "opr_attacker"));
    assert!(landing.starts_with(&env.return_url()), "{landing}");
    let code = param(&landing, "code").expect("a connect code");
    assert!(code.starts_with("cc_") && code.len() == 46, "{code}");
    assert!(param(&landing, "broker_token").is_none(), "no broker token in a URL: {landing}");
    assert!(!landing.contains("btk_"), "{landing}");

    // The victim's grant and token are intact.
    assert_eq!(env.broker.app().store.grant(&id).unwrap().unwrap().generation, before, "grant not replaced");
    assert_eq!(victim.get_json("/api/account").unwrap()["id"], "opr_victim", "the victim's token works");
    assert!(stora_grants(&env, "opr_victim").iter().all(|(_, revoked)| !revoked), "not revoked at Stora");
    assert_eq!(stora_grants(&env, "opr_attacker").len(), 1, "the attacker's grant is held with the round");

    // The victim opens their link: already used — and the attacker's round dies.
    let owner = Browser::default();
    assert_eq!(owner.get(&url).unwrap().status, 409);
    assert!(stora_grants(&env, "opr_attacker").iter().all(|(_, revoked)| *revoked), "the attacker's grant is revoked");
    // Even if the victim's plugin is then made to complete the attacker's
    // callback, the code no longer exchanges.
    let err = victim.complete_connect(&landing).unwrap_err();
    assert_eq!(err.reason(), Some("connect_code_invalid"), "{err:?}");
    assert_eq!(victim.companion.status(), Status::Connected);
    assert_eq!(victim.get_json("/api/account").unwrap()["id"], "opr_victim");
    assert_eq!(env.broker.app().store.grant(&id).unwrap().unwrap().generation, before);
}

// ---- (c) --------------------------------------------------------------------------------

/// A connect code exchanges only with the installation's signature: not
/// unsigned, not signed with another secret, not by another installation.
#[test]
fn a_connect_code_is_worthless_without_the_installation_secret() {
    let env = env();
    let mut victim = registered(&env);
    let url = link(&mut victim, &env);
    let attacker_browser = Browser::default();
    let consent = consent_page(&env, &attacker_browser, &url);
    let landing = returned(approve(&env, &attacker_browser, &consent, "opr_attacker"));
    let (code, state) = (param(&landing, "code").unwrap(), param(&landing, "state").unwrap());
    let body = json!({"code": code, "state": state}).to_string();

    // Unsigned.
    let unsigned = env.http(Request {
        method: "POST".into(),
        url: format!("{}/connect/complete", env.broker_url()),
        headers: vec![("content-type".into(), "application/json".into()), ("idempotency-key".into(), "k1".into())],
        body: body.clone().into_bytes(),
    });
    assert_eq!((unsigned.status, error_code(&unsigned).as_deref()), (401, Some("signature_missing")));

    // Another installation (the attacker's own, registered with its own secret).
    let other = registered(&env);
    let resp = complete(&other, &code, &state, "k2");
    assert_eq!((resp.status, error_code(&resp).as_deref()), (400, Some("connect_code_invalid")), "{}", text(&resp));
    assert!(logged(&env, "connect_code_invalid"));

    // The attacker's signature passed off as the victim's (keyid swapped).
    let mut req = ApiRequest::json("POST", "/connect/complete", body);
    req.headers.push(("idempotency-key".into(), "k3".into()));
    let mut forged = other
        .companion
        .sign_request(&req, &SignOptions { now: other.now(), ..Default::default() }, &mut OsEntropy)
        .unwrap();
    let (theirs, victims) = (other.companion.install_id().unwrap(), victim.companion.install_id().unwrap());
    for (name, value) in forged.headers.iter_mut() {
        if name.eq_ignore_ascii_case("signature-input") {
            *value = value.replace(theirs, victims);
        }
    }
    let resp = env.http(forged);
    assert_eq!((resp.status, error_code(&resp).as_deref()), (401, Some("signature_invalid")), "{}", text(&resp));

    // None of that connected anyone; the installation itself still can
    // (here: the code of a round it did not start itself, which is why the
    // account it answers with is shown to the operator).
    assert!(env.broker.app().store.grant(victims).unwrap().is_none());
    assert!(env.broker.app().store.grant(other.companion.install_id().unwrap()).unwrap().is_none());
    let account = victim.complete_connect(&landing).expect("the installation's own signature exchanges it");
    assert_eq!(account.id, "opr_attacker");
    assert_eq!(victim.companion.account().map(|a| a.id.as_str()), Some("opr_attacker"), "shown to the operator");
}

// ---- (d) --------------------------------------------------------------------------------

/// The round is bound to the browser that opened the link: Continue or
/// Stora's callback from another browser (no cookie, another cookie) ends
/// it with `403 connect_browser_mismatch`, and nothing goes to the return URL.
#[test]
fn a_round_continued_in_another_browser_ends() {
    let env = env();
    let mut plugin = registered(&env);
    let id = plugin.companion.install_id().unwrap().to_string();

    // Continue without the cookie, then with another browser's cookie.
    for other_has_cookie in [false, true] {
        let (owner, other) = (Browser::default(), Browser::default());
        if other_has_cookie {
            other.set_cookie(env.broker_url(), "tessera_browser", &tessera_broker::crypto::random_id("", 32));
        }
        let url = link(&mut plugin, &env);
        let page = owner.get(&url).unwrap();
        assert_eq!(page.status, 200);
        let cookie = page.header("set-cookie").expect("the broker binds the round to the browser");
        assert!(cookie.starts_with("tessera_browser=") && cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax") && cookie.contains("Path=/") && cookie.contains("Max-Age=600"));
        assert!(!cookie.contains("Secure"), "plain http (loopback tests): {cookie}");
        let cont = format!("{}{}", env.broker_url(), find_link(&text(&page), "continue").unwrap());
        let resp = other.get(&cont).unwrap();
        assert_eq!(resp.status, 403, "cookie: {other_has_cookie}: {}", text(&resp));
        assert!(resp.header("location").is_none(), "nothing sent anywhere");
        // The round is gone, for its own browser too.
        let resp = owner.get(&cont).unwrap();
        assert_eq!(resp.status, 400, "{}", text(&resp));
    }
    assert!(logged(&env, "connect_browser_mismatch"));

    // Stora's callback reaching the broker in another browser.
    let (owner, other) = (Browser::default(), Browser::default());
    let url = link(&mut plugin, &env);
    let consent = consent_page(&env, &owner, &url);
    match approve(&env, &other, &consent, "opr_elsewhere") {
        Landing::Page { status: 403, body, .. } => assert!(!body.contains("code="), "{body}"),
        other => panic!("the callback from another browser went on: {other:?}"),
    }
    // And the owner's own consent no longer finds the round.
    match approve(&env, &owner, &consent, "opr_elsewhere") {
        Landing::Page { status: 400, .. } => {}
        other => panic!("{other:?}"),
    }
    assert!(env.broker.app().store.grant(&id).unwrap().is_none(), "nothing connected");

    // The same browser, two rounds (its cookie is reused): both work.
    let browser = Browser::default();
    let first = returned(approve(&env, &browser, &consent_page(&env, &browser, &link(&mut plugin, &env)), "opr_a"));
    let cookie = browser.cookie(env.broker_url(), "tessera_browser").unwrap();
    let second = returned(approve(&env, &browser, &consent_page(&env, &browser, &link(&mut plugin, &env)), "opr_a"));
    assert_eq!(browser.cookie(env.broker_url(), "tessera_browser").unwrap(), cookie, "reused");
    assert!(param(&first, "code").is_some() && param(&second, "code").is_some());
    plugin.complete_connect(&second).expect("the latest round completes");
}

// ---- (e) --------------------------------------------------------------------------------

/// A connect code exchanges once: another Idempotency-Key is refused; the
/// same key (the plugin's retry after a lost answer) gets a new broker
/// token for the same grant, and the one answered before is dead.
#[test]
fn a_connect_code_exchanges_once() {
    let env = env();
    let mut plugin = registered(&env);
    let id = plugin.companion.install_id().unwrap().to_string();
    let url = link(&mut plugin, &env);
    let browser = Browser::default();
    let landing = returned(approve(&env, &browser, &consent_page(&env, &browser, &url), "opr_once"));
    let (code, state) = (param(&landing, "code").unwrap(), param(&landing, "state").unwrap());

    // Bound to the plugin's state too.
    let resp = complete(&plugin, &code, "another-state-0123456789", "key-0");
    assert_eq!((resp.status, error_code(&resp).as_deref()), (400, Some("connect_code_invalid")));

    let first = complete(&plugin, &code, &state, "key-1");
    assert_eq!(first.status, 200, "{}", text(&first));
    assert_eq!(first.header("cache-control"), Some("no-store"));
    let answer: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(answer["account"], json!({"id": "opr_once", "name": answer["account"]["name"]}));
    assert!(answer["account"]["name"].is_string());
    let token1 = answer["broker_token"].as_str().unwrap().to_string();
    let generation = env.broker.app().store.grant(&id).unwrap().unwrap().generation;

    let resp = complete(&plugin, &code, &state, "key-2");
    assert_eq!((resp.status, error_code(&resp).as_deref()), (400, Some("connect_code_invalid")), "{}", text(&resp));

    let again = complete(&plugin, &code, &state, "key-1");
    assert_eq!(again.status, 200, "the retry with the same key: {}", text(&again));
    let answer: Value = serde_json::from_slice(&again.body).unwrap();
    let token2 = answer["broker_token"].as_str().unwrap().to_string();
    assert_ne!(token1, token2, "a new broker token");
    assert_eq!(answer["account"]["id"], "opr_once");
    assert_eq!(env.broker.app().store.grant(&id).unwrap().unwrap().generation, generation, "the same grant");

    let err = with_token(&plugin, &token1).get_json("/api/orders").unwrap_err();
    assert_eq!(err.reason(), Some("broker_token_invalid"), "the first token is dead: {err:?}");
    with_token(&plugin, &token2).get_json("/api/orders").expect("the second one works");
}

// ---- (f) --------------------------------------------------------------------------------

/// A connect code not exchanged within 300 s is refused, and the Stora
/// grant its round obtained is revoked at Stora.
#[test]
fn an_expired_connect_code_is_refused_and_its_grant_revoked() {
    let env = env();
    let mut plugin = registered(&env);
    let url = link(&mut plugin, &env);
    let browser = Browser::default();
    let landing = returned(approve(&env, &browser, &consent_page(&env, &browser, &url), "opr_late"));
    assert_eq!(stora_grants(&env, "opr_late"), [(stora_grants(&env, "opr_late")[0].0, false)]);

    env.broker.app().set_clock_offset(301);
    // The plugin's clock moves with the broker's (the signature stays fresh).
    plugin.clock_skew = 301;
    let err = plugin.complete_connect(&landing).unwrap_err();
    assert_eq!((err.code(), err.reason()), ("client_error", Some("connect_code_invalid")), "{err:?}");
    assert!(stora_grants(&env, "opr_late").iter().all(|(_, revoked)| *revoked), "revoked at Stora");
    assert!(env.broker.app().store.grant(plugin.companion.install_id().unwrap()).unwrap().is_none());
    assert_eq!(plugin.companion.status(), Status::Registered);

    // A fresh round still connects.
    let account = plugin.connect(&browser, &env.return_url(), None, Decision::Approve("opr_late")).unwrap();
    assert_eq!(account.id, "opr_late");
}

//! Issue 14, item 7: "old grants are never revoked after 'Register again'".
//! After a state that no longer opens (`state_undecryptable`) or a refused
//! registration (`registration_invalid`) the plugin registers as a **new**
//! installation of the same site; the old one kept its Stora grant, and
//! nobody could reach it any more. Two remedies (`docs/PROTOCOL.md` §5.11),
//! each shown here against the real broker over HTTP (fake Stora, the site):
//!
//! * `POST /installations/{id}/revoke-previous` `{"install_id": <old>}`,
//!   signed by the new installation, which must have **proved** its site:
//!   the old grant is revoked at Stora, the old installation forgotten —
//!   `register_again_then_revoke_the_previous_installation`,
//!   `an_installation_that_did_not_prove_may_not_revoke`,
//!   `only_a_web_installation_of_the_same_site_is_revoked`,
//!   `unsigned_wrongly_signed_or_refused_signers_change_nothing`;
//! * installations that stop signing are forgotten after
//!   `installation_idle_days`, their grants revoked —
//!   `idle_installations_expire_and_active_ones_stay`.

use serde_json::{Value, json};
use tessera_broker::harness::{Env, EnvOptions};
use tessera_broker::plugin_host::{Browser, Decision, PluginHost, SiteServer, registration};
use tessera_broker::store::InstallStatus;
use tessera_core::{ApiRequest, Companion, OsEntropy, RegistrationOutcome, Request, Response, SignOptions};

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

fn env() -> Env {
    Env::start(EnvOptions::default()).expect("environment starts")
}

fn id(plugin: &PluginHost) -> String {
    plugin.companion.install_id().unwrap().to_string()
}

/// A WordPress installation of the harness's site (its ownership proof
/// served by the site, as the broker requires in the default environment).
fn registered(env: &Env, platform: &str) -> PluginHost {
    let mut plugin = env.plugin();
    let outcome = plugin.register(&registration(env.site.url(), platform)).expect("registers");
    assert_eq!(outcome, RegistrationOutcome::Registered);
    plugin
}

/// [`registered`], then connected to Stora as `operator`.
fn connected(env: &Env, operator: &str) -> PluginHost {
    let mut plugin = registered(env, "wordpress");
    plugin.connect(&Browser::default(), &env.return_url(), None, Decision::Approve(operator)).expect("connects");
    plugin
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

fn live_grants(env: &Env, operator: &str) -> usize {
    stora_grants(env, operator).iter().filter(|(_, revoked)| !revoked).count()
}

/// `POST /installations/{path_id}/revoke-previous` with `body`, signed by
/// `plugin` (as `Companion::start_revoke_previous` sends it, but raw).
fn revoke_request(plugin: &PluginHost, path_id: &str, body: &str) -> Request {
    let mut req = ApiRequest::json("POST", &format!("/installations/{path_id}/revoke-previous"), body.to_string());
    req.headers.push(("idempotency-key".into(), tessera_broker::crypto::random_id("", 16)));
    plugin
        .companion
        .sign_request(&req, &SignOptions { now: plugin.now(), ..Default::default() }, &mut OsEntropy)
        .unwrap()
}

/// [`revoke_request`] for `previous` on the signer's own path, sent.
fn revoke(plugin: &PluginHost, previous: &str) -> Response {
    plugin.send(&revoke_request(plugin, &id(plugin), &json!({ "install_id": previous }).to_string())).unwrap()
}

/// A fresh signed `GET /api/orders` from `plugin`, sent.
fn signed_get(plugin: &PluginHost) -> Response {
    let req = plugin
        .companion
        .sign_request(
            &ApiRequest::new("GET", "/api/orders"),
            &SignOptions { now: plugin.now(), ..Default::default() },
            &mut OsEntropy,
        )
        .unwrap();
    plugin.send(&req).unwrap()
}

fn answer(resp: &Response) -> (u16, Option<String>) {
    (resp.status, tessera_core::internals::classify::error_code(&resp.body))
}

fn expect(resp: &Response, status: u16, code: &str) {
    assert_eq!(answer(resp), (status, Some(code.to_string())), "{}", String::from_utf8_lossy(&resp.body));
}

/// Whether the broker logged `event` for `install_id` (an event line).
fn event_logged(env: &Env, event: &str, install_id: &str) -> bool {
    env.logs.lock().unwrap().iter().any(|l| {
        let line: Value = serde_json::from_str(l).unwrap_or_default();
        line["event"] == event && line["install_id"] == install_id
    })
}

/// A host with `plugin`'s installation and secret, holding `token` as its
/// broker token.
fn with_token(plugin: &PluginHost, token: &str) -> PluginHost {
    let mut state: Value = serde_json::from_str(&plugin.companion.to_json()).unwrap();
    state["broker_token"] = json!(token);
    PluginHost::from_companion(Companion::from_json(&state.to_string()).unwrap())
}

fn broker_token(plugin: &PluginHost) -> String {
    let state: Value = serde_json::from_str(&plugin.companion.to_json()).unwrap();
    state["broker_token"].as_str().expect("connected").to_string()
}

/// The old installation is intact: known, its grant live at the broker and
/// at Stora, its calls answered.
fn untouched(env: &Env, old: &mut PluginHost, operator: &str) {
    let old_id = id(old);
    assert!(env.broker.app().store.installation(&old_id).unwrap().is_some(), "{old_id} is forgotten");
    assert!(!env.broker.app().store.grant(&old_id).unwrap().expect("its grant").revoked);
    assert_eq!(live_grants(env, operator), 1, "{:?}", stora_grants(env, operator));
    assert!(old.get_json("/api/orders").is_ok(), "the old installation still works");
}

// ---- the route ------------------------------------------------------------------------------

/// The plugin loses its state (a WordPress site whose sealed state no longer
/// opens) and registers again as a new installation of the same site,
/// proving it; it then ends the old one: `204`, the old grant revoked at
/// Stora, the old broker token dead, the old installation
/// `unknown_installation`; asking again is `404
/// previous_installation_not_found` (done, for the core).
#[test]
fn register_again_then_revoke_the_previous_installation() {
    let env = env();
    let mut old = connected(&env, "opr_prev");
    let old_id = id(&old);
    let old_token = broker_token(&old);
    assert_eq!(live_grants(&env, "opr_prev"), 1);
    let revokes = env.stora.counters().revokes;

    // "Register again": a fresh companion, the same site, the proof served.
    let mut new = registered(&env, "wordpress");
    let new_id = id(&new);
    assert_ne!(new_id, old_id);
    let row = env.broker.app().store.installation(&new_id).unwrap().unwrap();
    assert!(row.proven && row.status == InstallStatus::Active, "the new installation proved its site");

    // Through the core's operation (§5.11's exact request).
    assert_eq!(new.revoke_previous(&old_id), Ok(true), "revoked now");
    assert_eq!(new.last_trace.statuses, vec![204]);

    assert_eq!(env.stora.counters().revokes, revokes + 1, "the broker revoked the old grant at Stora");
    assert_eq!(live_grants(&env, "opr_prev"), 0, "{:?}", stora_grants(&env, "opr_prev"));
    let store = &env.broker.app().store;
    assert!(store.installation(&old_id).unwrap().is_none(), "the old installation is forgotten");
    assert!(store.grant(&old_id).unwrap().is_none(), "and its grant");
    assert!(store.install_for_token(&tessera_broker::crypto::token_hash(&old_token)).unwrap().is_none());
    assert!(event_logged(&env, "previous_installation_revoked", &old_id), "logged");
    assert!(env.logs.lock().unwrap().iter().all(|l| !l.contains(&old_token)), "no broker token in the log");

    // The old installation is unknown; its broker token is dead even when
    // presented by a valid signer.
    expect(&signed_get(&old), 401, "unknown_installation");
    let err = old.get_json("/api/orders").unwrap_err();
    assert_eq!(err.reason(), Some("unknown_installation"), "{err:?}");
    expect(&signed_get(&with_token(&new, &old_token)), 401, "broker_token_invalid");

    // A second time: nothing is left (the core counts it as done).
    expect(&revoke(&new, &old_id), 404, "previous_installation_not_found");
    assert_eq!(new.revoke_previous(&old_id), Ok(false), "already gone");

    // The new installation connects as any other.
    new.connect(&Browser::default(), &env.return_url(), None, Decision::Approve("opr_prev")).expect("connects");
    assert!(new.get_json("/api/orders").is_ok());
    assert_eq!(live_grants(&env, "opr_prev"), 1);
}

/// Anyone can register a claimed site URL without a proof where the broker
/// does not require one; such an installation (and an extension, which never
/// proves) may not end another installation of that site: `403
/// ownership_proof_required`, the old one untouched.
#[test]
fn an_installation_that_did_not_prove_may_not_revoke() {
    // Proofs for WordPress only: a "joomla" registration of the same site
    // is accepted without one.
    let env = Env::start(EnvOptions { proof_platforms: Some(vec!["wordpress".into()]), ..EnvOptions::default() })
        .expect("environment starts");
    let mut old = connected(&env, "opr_unproven");
    let old_id = id(&old);
    assert!(env.broker.app().store.installation(&old_id).unwrap().unwrap().proven);

    let unproven = registered(&env, "joomla");
    assert!(env.site.requests().iter().all(|r| !r.path.contains(&id(&unproven))), "no proof was asked");
    assert!(!env.broker.app().store.installation(&id(&unproven)).unwrap().unwrap().proven);
    expect(&revoke(&unproven, &old_id), 403, "ownership_proof_required");

    let mut extension = PluginHost::new(env.broker_url()).unwrap();
    extension
        .register(&registration("chrome-extension://abcdefghijklmnopabcdefghijklmnop", "wordpress"))
        .expect("an extension registers without a proof");
    expect(&revoke(&extension, &old_id), 403, "ownership_proof_required");
    // The core's operation ends in the same error.
    let err = extension.revoke_previous(&old_id).unwrap_err();
    assert_eq!((err.code(), err.reason()), ("client_error", Some("ownership_proof_required")), "{err:?}");

    untouched(&env, &mut old, "opr_unproven");
    assert!(!event_logged(&env, "previous_installation_revoked", &old_id));

    // A proven installation that moves to an address without a proof round
    // (its platform owes none) is no longer proven there.
    let mut mover = registered(&env, "joomla");
    let app = env.broker.app();
    app.store.set_proven(&id(&mover), app.now()).unwrap();
    mover.companion.check_site(&format!("{}/moved", env.site.url())).unwrap();
    mover.site_moved().expect("moves without a proof");
    assert!(!app.store.installation(&id(&mover)).unwrap().unwrap().proven);
}

/// Only a web installation of the *same* site URL is ended; another site's
/// installation (another host, or the same host below another path), the
/// signer's own id and an unknown id are all `404
/// previous_installation_not_found` and stay untouched. The path id must be
/// the signer's (`403 installation_mismatch`), the body `{"install_id"}`
/// (`400 invalid_request`).
#[test]
fn only_a_web_installation_of_the_same_site_is_revoked() {
    let env = env();
    let new = registered(&env, "wordpress");
    let new_id = id(&new);

    // Another site, proven and connected.
    let other_site = SiteServer::start().unwrap();
    let mut other = PluginHost::new(env.broker_url()).unwrap().with_site(other_site.handle());
    other.register(&registration(other_site.url(), "wordpress")).expect("registers");
    let other_return = format!("{}/wp-admin/options-general.php?page=tessera", other_site.url());
    other.connect(&Browser::default(), &other_return, None, Decision::Approve("opr_other")).expect("connects");
    // The same host, another path: another site.
    let mut blog = env.plugin();
    blog.register(&registration(&format!("{}/blog", env.site.url()), "wordpress")).expect("registers");
    let blog_return = format!("{}/blog/wp-admin/options-general.php?page=tessera", env.site.url());
    blog.connect(&Browser::default(), &blog_return, None, Decision::Approve("opr_blog")).expect("connects");

    let unknown = tessera_broker::crypto::random_id("ins_", 18);
    for previous in [id(&other), id(&blog), new_id.clone(), unknown] {
        expect(&revoke(&new, &previous), 404, "previous_installation_not_found");
    }
    // Signed by one installation, on another's path.
    let body = json!({ "install_id": id(&other) }).to_string();
    expect(&new.send(&revoke_request(&new, &id(&blog), &body)).unwrap(), 403, "installation_mismatch");
    // Not `{"install_id": "<string>"}`.
    for body in ["", "not json", "[]", "{}", r#"{"install_id":5}"#, r#"{"install":"ins_x"}"#] {
        expect(&new.send(&revoke_request(&new, &new_id, body)).unwrap(), 400, "invalid_request");
    }

    untouched(&env, &mut other, "opr_other");
    untouched(&env, &mut blog, "opr_blog");
    assert!(env.broker.app().store.installation(&new_id).unwrap().is_some());
    assert!(!env.logs.lock().unwrap().iter().any(|l| l.contains("previous_installation_revoked")));
}

/// Unsigned, wrongly signed, disabled or pending signers are refused (the
/// last two before their nonce is stored) and nothing changes.
#[test]
fn unsigned_wrongly_signed_or_refused_signers_change_nothing() {
    let env = env();
    let mut old = connected(&env, "opr_refused");
    let old_id = id(&old);
    let new = registered(&env, "wordpress");
    let new_id = id(&new);
    let path = format!("{}/installations/{new_id}/revoke-previous", env.broker_url());
    let body = json!({ "install_id": old_id }).to_string();

    // Unsigned.
    let unsigned = env.http(Request {
        method: "POST".into(),
        url: path.clone(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.clone().into_bytes(),
    });
    expect(&unsigned, 401, "signature_missing");

    // Signed with another secret (a companion that claims the new id).
    let mut state: Value = serde_json::from_str(&new.companion.to_json()).unwrap();
    let forged_secret = tessera_core::Secret::from_bytes(&[7u8; 32]).unwrap().to_base64url();
    let mut replaced = false;
    fn replace_secret(v: &mut Value, secret: &str, replaced: &mut bool) {
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if k == "secret" && v.is_string() {
                        *v = json!(secret);
                        *replaced = true;
                    } else {
                        replace_secret(v, secret, replaced);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| replace_secret(v, secret, replaced)),
            _ => {}
        }
    }
    replace_secret(&mut state, &forged_secret, &mut replaced);
    assert!(replaced, "the state JSON holds the secret");
    let forger = PluginHost::from_companion(Companion::from_json(&state.to_string()).unwrap());
    expect(&revoke(&forger, &old_id), 401, "signature_invalid");

    // A signature whose body was changed on the way.
    let mut tampered = revoke_request(&new, &new_id, &body);
    tampered.body = json!({ "install_id": tessera_broker::crypto::random_id("ins_", 18) }).to_string().into_bytes();
    expect(&new.send(&tampered).unwrap(), 401, "digest_mismatch");

    // Disabled by the broker's operator: refused before its nonce is stored.
    let app = env.broker.app();
    assert_eq!(env.admin("POST", &format!("/admin/installations/{new_id}/disable")).status, 200);
    let nonces = app.replay.lock().unwrap().len();
    expect(&revoke(&new, &old_id), 401, "installation_disabled");
    assert_eq!(app.replay.lock().unwrap().len(), nonces, "a refused signer's nonce was stored");
    // Waiting for an ownership proof (a site move not yet proven): refused too.
    app.store.set_installation_status(&new_id, InstallStatus::PendingOwnership, app.now()).unwrap();
    expect(&revoke(&new, &old_id), 403, "ownership_pending");
    assert_eq!(app.replay.lock().unwrap().len(), nonces);

    untouched(&env, &mut old, "opr_refused");
}

// ---- idle expiry ------------------------------------------------------------------------

/// With an idle limit of two days: an installation that signs keeps its
/// place (its `last_seen` written at most hourly), one that stopped signing
/// is forgotten by the (lazy, hourly) sweep the next request triggers — its
/// grant revoked at Stora, `installation_expired` logged.
#[test]
fn idle_installations_expire_and_active_ones_stay() {
    let env = Env::start(EnvOptions { installation_idle_secs: Some(2 * DAY), ..EnvOptions::default() })
        .expect("environment starts");
    let app = env.broker.app();
    let mut idle = connected(&env, "opr_idle");
    let mut active = connected(&env, "opr_active");
    let (idle_id, active_id) = (id(&idle), id(&active));
    let last_seen = |id: &str| app.store.installation(id).unwrap().unwrap().last_seen;
    let registered_at = last_seen(&idle_id);
    assert!((registered_at - app.now()).abs() < 60, "recorded at registration");

    // Broker and plugins move forward together (signatures stay in time).
    let advance = |secs: i64, plugins: &mut [&mut PluginHost]| {
        app.set_clock_offset(secs);
        for p in plugins.iter_mut() {
            p.clock_skew = secs;
        }
    };

    // Day 1: the active installation signs; written once per hour at most.
    advance(DAY + 2 * HOUR, &mut [&mut active, &mut idle]);
    active.get_json("/api/orders").unwrap();
    let seen = last_seen(&active_id);
    assert!((seen - app.now()).abs() < 60, "a verified signed request is recorded");
    assert_eq!(last_seen(&idle_id), registered_at);
    advance(DAY + 2 * HOUR + 600, &mut [&mut active, &mut idle]);
    active.get_json("/api/orders").unwrap();
    assert_eq!(last_seen(&active_id), seen, "not rewritten within the hour");

    // Day 2 + 4 h: any request sweeps; the idle one is past its two days.
    advance(2 * DAY + 4 * HOUR, &mut [&mut active, &mut idle]);
    let revokes = env.stora.counters().revokes;
    active.get_json("/api/orders").expect("the active installation stays");
    assert!(app.store.installation(&idle_id).unwrap().is_none(), "the idle installation is forgotten");
    assert!(app.store.grant(&idle_id).unwrap().is_none());
    assert_eq!(env.stora.counters().revokes, revokes + 1);
    assert_eq!(live_grants(&env, "opr_idle"), 0, "its grant is revoked at Stora");
    assert_eq!(live_grants(&env, "opr_active"), 1);
    assert!(event_logged(&env, "installation_expired", &idle_id));
    assert!(!event_logged(&env, "installation_expired", &active_id));
    expect(&signed_get(&idle), 401, "unknown_installation");
    assert!(active.get_json("/api/orders").is_ok());

    // The setting: 180 days by default, 0 = never.
    let mut config = tessera_broker::BrokerConfig::new("http://127.0.0.1:9", "c", "s", "unused".into());
    assert_eq!(config.idle_limit_secs(), Some(180 * DAY));
    config.installation_idle_days = 0;
    assert_eq!(config.idle_limit_secs(), None);
    config.installation_idle_secs = Some(90);
    assert_eq!(config.idle_limit_secs(), Some(90));
}

//! `POST /token` refused (design item 6): a code context that is tampered
//! with, expired, another installation's, another return URL's, state's or
//! code's (400 with the design's codes, before Stora is asked); a request
//! that is unsigned or wrongly signed (401); a malformed body (400
//! `invalid_request`); a code used twice (Stora's 400 `invalid_grant`); a
//! disabled installation (401).

mod common;

use common::*;
use tessera_broker::plugin_host::PluginHost;
use tessera_proxy::harness::ProxyEnv;

/// `POST /token` signed by `plugin` with `body`.
fn post(env: &ProxyEnv, plugin: &mut PluginHost, body: Vec<u8>) -> (u16, Option<String>) {
    refusal(&env.post_signed(plugin, "/token", body))
}

/// `POST /token` signed by `plugin` with `body` is refused `400 {code}`.
fn refused(env: &ProxyEnv, plugin: &mut PluginHost, body: Vec<u8>, code: &str, why: &str) {
    assert_eq!(post(env, plugin, body), (400, Some(code.into())), "{why}");
}

/// `plugin` exchanges the code of `landing`: 200 (`why` says why it must).
fn exchanged(env: &ProxyEnv, plugin: &mut PluginHost, landing: &str, why: &str) {
    let resp = env.post_token(plugin, landing);
    assert_eq!(resp.status, 200, "{why}: {}", text(&resp));
}

fn exchanges(env: &ProxyEnv) -> u64 {
    env.client.stora_view("counters")["code_exchanges"].as_u64().unwrap_or(u64::MAX)
}

/// The `/token` body of `landing` with member `key` replaced by `value`.
fn with(env: &ProxyEnv, landing: &str, key: &str, value: &str) -> Vec<u8> {
    let ret = env.return_url();
    let mut members: Vec<(&str, String)> = ["code", "code_context", "state"]
        .into_iter()
        .map(|k| (k, param(landing, k).unwrap_or_default()))
        .chain([("return_url", ret)])
        .collect();
    for (k, v) in members.iter_mut() {
        if *k == key {
            *v = value.to_string();
        }
    }
    body(&members.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>())
}

#[test]
fn a_tampered_code_context_is_invalid() {
    let env = env();
    let (mut plugin, landing) = landed(&env);
    let context = param(&landing, "code_context").unwrap_or_default();
    let (head, rest) = context.split_at(context.len() / 2);
    let flipped = if rest.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{head}{flipped}{}", &rest[1..]);
    for bad in [tampered.as_str(), &context[..context.len() - 1], "a.b.c", ""] {
        let expected = if bad.is_empty() { "invalid_request" } else { "code_context_invalid" };
        refused(&env, &mut plugin, with(&env, &landing, "code_context", bad), expected, bad);
    }
    assert_eq!(exchanges(&env), 0, "Stora was not asked");
    exchanged(&env, &mut plugin, &landing, "the genuine context still works");
}

#[test]
fn an_expired_code_context_is_refused() {
    let env = env();
    let (mut plugin, landing) = landed(&env);
    // 301 s later on both clocks (the signature's `created` stays current).
    env.proxy.app().registry.set_clock_offset(301);
    plugin.clock_skew = 301;
    refused(&env, &mut plugin, token_body(&landing, &env.return_url()), "code_context_expired", "301 s");
    // 299 s later it is still valid (up to and including its `exp`, 300 s).
    env.proxy.app().registry.set_clock_offset(299);
    plugin.clock_skew = 299;
    exchanged(&env, &mut plugin, &landing, "valid until its exp");
}

#[test]
fn another_installation_cannot_exchange_the_code() {
    let env = env();
    let (mut victim, landing) = landed(&env);
    let mut other = env.registered_plugin().expect("registers");
    refused(&env, &mut other, token_body(&landing, &env.return_url()), "code_context_mismatch", "other keyid");
    assert_eq!(exchanges(&env), 0, "refused before Stora");
    exchanged(&env, &mut victim, &landing, "the owner still can");
}

#[test]
fn another_return_url_state_or_code_mismatches() {
    let env = env();
    let (mut plugin, landing) = landed(&env);
    let get = |k: &str| param(&landing, k).unwrap_or_default();
    for (key, other) in [
        ("return_url", format!("{}&tab=2", env.return_url())),
        ("state", format!("{}x", get("state"))),
        ("code", format!("{}x", get("code"))),
    ] {
        refused(&env, &mut plugin, with(&env, &landing, key, &other), "code_context_mismatch", key);
    }
    // Another round's context (and state) with this round's code.
    let browser = tessera_broker::plugin_host::Browser::default();
    let second = env.connect_until_return(&mut plugin, &browser, OPERATOR).expect("lands");
    let mixed = with(&env, &second, "code", &get("code"));
    refused(&env, &mut plugin, mixed, "code_context_mismatch", "another round's context");
    assert_eq!(exchanges(&env), 0, "Stora was never asked");
}

#[test]
fn unsigned_or_wrongly_signed_requests_are_refused() {
    let env = env();
    let (plugin, landing) = landed(&env);
    let body = token_body(&landing, &env.return_url());

    let mut unsigned = signed(&plugin, "/token", body.clone());
    unsigned.headers.retain(|(k, _)| !matches!(k.as_str(), "signature" | "signature-input"));
    assert_eq!(refusal(&env.client.http(unsigned)), (401, Some("signature_missing".into())));

    let mut altered = signed(&plugin, "/token", body.clone());
    altered.body = token_body(&landing, &format!("{}&x=1", env.return_url()));
    assert_eq!(refusal(&env.client.http(altered)), (401, Some("digest_mismatch".into())));

    let mut forged = signed(&plugin, "/token", body.clone());
    for (name, value) in forged.headers.iter_mut() {
        if name == "signature" {
            // sig=:<base64>: — change one character of the MAC.
            let i = value.find(':').expect("a byte sequence") + 2;
            let c = if &value[i..=i] == "A" { "B" } else { "A" };
            value.replace_range(i..=i, c);
        }
    }
    assert_eq!(refusal(&env.client.http(forged)), (401, Some("signature_invalid".into())));

    // Replayed: the same signed request twice.
    let once = signed(&plugin, "/token", body);
    assert_eq!(env.client.http(once.clone()).status, 200);
    assert_eq!(refusal(&env.client.http(once)), (401, Some("replayed".into())));
}

#[test]
fn a_malformed_body_is_an_invalid_request() {
    let env = env();
    let (mut plugin, landing) = landed(&env);
    let code = param(&landing, "code").unwrap_or_default();
    for bad in [
        body(&[("code", &code)]),
        br#"{"code":1,"code_context":"a","state":"b","return_url":"c"}"#.to_vec(),
        b"not json".to_vec(),
    ] {
        refused(&env, &mut plugin, bad, "invalid_request", "malformed");
    }
}

#[test]
fn a_code_exchanges_once_at_stora() {
    let env = env();
    let (mut plugin, landing) = landed(&env);
    assert_eq!(env.post_token(&mut plugin, &landing).status, 200);
    // The proxy keeps nothing: the second exchange reaches Stora, which refuses.
    assert_eq!(refusal(&env.post_token(&mut plugin, &landing)), (400, Some("invalid_grant".into())));
    assert_eq!(env.client.stora_view("counters")["invalid_grants"], 1);
}

#[test]
fn a_disabled_installation_is_refused() {
    let env = env();
    let (mut plugin, landing) = landed(&env);
    disable(&env, &plugin);
    assert_eq!(refusal(&env.post_token(&mut plugin, &landing)), (401, Some("installation_disabled".into())));
    assert_eq!(exchanges(&env), 0);
}

//! `POST /refresh` and `POST /revoke` (design items 7–8): a refresh
//! rotates the pair once at Stora and the old refresh token is dead after
//! it; a revoke ends the grant at Stora and may be repeated; both need a
//! signature and a well-formed body; a failing Stora is `502 upstream_failed`.

mod common;

use common::*;
use serde_json::json;

#[test]
fn a_refresh_rotates_and_the_old_refresh_token_is_dead() {
    let env = env();
    let (mut plugin, tokens) = connected(&env);
    let old = s(&tokens, "refresh_token").to_string();

    let resp = env.post_signed(&mut plugin, "/refresh", body(&[("refresh_token", &old)]));
    assert_eq!(resp.status, 200, "{}", text(&resp));
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    let fresh = json(&resp);
    let mut members: Vec<&str> = fresh.as_object().expect("an object").keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["access_token", "expires_in", "refresh_token", "scope"], "no account on a refresh");
    assert_ne!(s(&fresh, "refresh_token"), old, "rotated");
    assert_ne!(s(&fresh, "access_token"), s(&tokens, "access_token"));
    assert!(fresh["expires_in"].as_i64().is_some_and(|e| e > 0));
    assert_eq!(s(&fresh, "scope"), "public.order:read");
    assert_eq!(env.client.stora_view("counters")["refreshes"], 1, "one refresh at Stora");
    assert_eq!(stora_get(&env, "account", s(&fresh, "access_token")).status, 200);

    // The presented token died with the rotation.
    let again = env.post_signed(&mut plugin, "/refresh", body(&[("refresh_token", &old)]));
    assert_eq!(refusal(&again), (400, Some("invalid_grant".into())));
    assert_eq!(env.client.stora_view("counters")["refreshes"], 1);
}

#[test]
fn a_revoke_ends_the_grant_at_stora_and_may_be_repeated() {
    let env = env();
    let (mut plugin, tokens) = connected(&env);
    let refresh = s(&tokens, "refresh_token").to_string();
    let grants = |env: &tessera_proxy::harness::ProxyEnv| env.client.stora_view(&format!("grants?operator={OPERATOR}"));
    assert_eq!(grants(&env)[0]["revoked"], false);

    let resp = env.post_signed(&mut plugin, "/revoke", body(&[("token", &refresh)]));
    assert_eq!((resp.status, json(&resp)), (200, json!({})), "{}", text(&resp));
    assert_eq!(grants(&env)[0]["revoked"], true, "revoked at Stora");
    assert_eq!(stora_get(&env, "account", s(&tokens, "access_token")).status, 401, "the pair is dead");

    let again = env.post_signed(&mut plugin, "/revoke", body(&[("token", &refresh)]));
    assert_eq!((again.status, json(&again)), (200, json!({})), "idempotent");
    let refreshed = env.post_signed(&mut plugin, "/refresh", body(&[("refresh_token", &refresh)]));
    assert_eq!(refusal(&refreshed), (400, Some("invalid_grant".into())));
}

#[test]
fn refresh_and_revoke_need_a_signature_and_their_body() {
    let env = env();
    let (mut plugin, tokens) = connected(&env);
    let refresh = s(&tokens, "refresh_token").to_string();
    for (path, member) in [("/refresh", "refresh_token"), ("/revoke", "token")] {
        let mut unsigned = signed(&plugin, path, body(&[(member, &refresh)]));
        unsigned.headers.retain(|(k, _)| !matches!(k.as_str(), "signature" | "signature-input"));
        assert_eq!(refusal(&env.client.http(unsigned)), (401, Some("signature_missing".into())), "{path}");
        for bad in [body(&[("other", &refresh)]), body(&[(member, &refresh), ("extra", "x")]), body(&[(member, "")])] {
            let resp = env.post_signed(&mut plugin, path, bad);
            assert_eq!(refusal(&resp), (400, Some("invalid_request".into())), "{path}");
        }
    }
    let counters = env.client.stora_view("counters");
    assert_eq!((counters["refreshes"].as_u64(), counters["revokes"].as_u64()), (Some(0), Some(0)), "Stora never asked");
}

#[test]
fn a_failing_stora_is_upstream_failed() {
    let env = env();
    let (mut plugin, tokens) = connected(&env);
    let refresh = s(&tokens, "refresh_token").to_string();
    env.client.stora_control("faults", json!({"status": 503, "count": 1, "path_prefix": "/oauth2/token"}));
    let resp = env.post_signed(&mut plugin, "/refresh", body(&[("refresh_token", &refresh)]));
    assert_eq!(refusal(&resp), (502, Some("upstream_failed".into())));
    env.client.stora_control("faults", json!({"status": 500, "count": 1, "path_prefix": "/oauth2/revoke"}));
    let resp = env.post_signed(&mut plugin, "/revoke", body(&[("token", &refresh)]));
    assert_eq!(refusal(&resp), (502, Some("upstream_failed".into())));
    // Once Stora answers again, the same refresh token still works.
    let resp = env.post_signed(&mut plugin, "/refresh", body(&[("refresh_token", &refresh)]));
    assert_eq!(resp.status, 200, "{}", text(&resp));
}

#[test]
fn a_disabled_installation_cannot_refresh_but_may_revoke() {
    let env = env();
    let (mut plugin, tokens) = connected(&env);
    let refresh = s(&tokens, "refresh_token").to_string();
    disable(&env, &plugin);
    let resp = env.post_signed(&mut plugin, "/refresh", body(&[("refresh_token", &refresh)]));
    assert_eq!(refusal(&resp), (401, Some("installation_disabled".into())));
    let resp = env.post_signed(&mut plugin, "/revoke", body(&[("token", &refresh)]));
    assert_eq!(resp.status, 200, "{}", text(&resp));
    assert_eq!(env.client.stora_view(&format!("grants?operator={OPERATOR}"))[0]["revoked"], true);
}

//! Authorization-proxy mode, plugin side (docs/PROTOCOL.md §13): the code
//! exchange, calls straight to Stora, one refresh at a time under the host's
//! lock, rotation that is never lost, `invalid_grant`, disconnect and
//! uninstall — each as the exact actions the machine asks for.

mod support;

use support::NOW;
use support::proxy_host::*;
use tessera_core::{ApiRequest, Companion, Completion, Config, Response, Status};

#[test]
fn the_code_exchange_is_signed_keyless_and_carries_the_context() {
    let (c, host) = connected();
    let id = c.install_id().unwrap().to_owned();
    assert_eq!(
        host.trace(),
        format!("lock tessera-refresh-{id}, persist, send POST https://proxy.example/token, persist, unlock, done ok"),
        "the whole exchange holds the installation's lock"
    );
    let exchange = &host.sent[0];
    assert_eq!(
        String::from_utf8(exchange.body.clone()).unwrap(),
        format!(r#"{{"code":"{CODE}","code_context":"{CONTEXT}","state":"{STATE}","return_url":"{RETURN}"}}"#)
    );
    assert!(header(exchange, "signature").is_some(), "signed as the installation");
    assert!(header(exchange, "authorization").is_none());
    // A Stora code is single use: a lost answer is never retried blindly.
    let mut c2 = registered();
    c2.connect_url_with_state(RETURN, None, NOW, STATE).unwrap();
    let call = c2.start_complete_connect(&format!("?state={STATE}&code={CODE}&code_context={CONTEXT}"), NOW).unwrap();
    let mut h2 = Host::new(&c2);
    let err = h2.run(&mut c2, call, NOW, |_| Ok(Response::new(503, Vec::new()))).unwrap_err();
    assert_eq!((err.code(), h2.sent.len()), ("server_unavailable", 1));
    assert_eq!(c.status(), Status::Connected);
    // The account the exchange answered with is shown while the pair is held
    // (there is no broker token in this mode).
    assert_eq!(c.account().map(|a| (a.id.as_str(), a.name.as_str())), Some(("op_1", "Acme Storage")));
    let tokens = c.state().tokens().unwrap();
    assert_eq!((tokens.expires_at(), c.state().token_generation(), tokens.scope()), (NOW + 3600, 1, "units:read"));
    // Held only as secrets: never in Debug.
    let debug = format!("{c:?} {:?}", c.state());
    assert!(!debug.contains("at_1") && !debug.contains("rt_1"), "{debug}");
    // Persisted (the host seals it: Companion::set_seal_key).
    assert!(host.stored.contains("\"refresh_token\":\"rt_1\""));
    let back = Companion::from_json(&c.to_json()).unwrap();
    assert_eq!(back.state().tokens(), c.state().tokens());
}

#[test]
fn a_callback_without_code_context_is_refused() {
    let mut c = registered();
    c.connect_url_with_state(RETURN, None, NOW, STATE).unwrap();
    let call = c.start_complete_connect(&format!("?state={STATE}&code={CODE}"), NOW).unwrap();
    let mut host = Host::new(&c);
    let err = host.run(&mut c, call, NOW, |_| panic!("nothing is sent")).unwrap_err();
    assert_eq!(err.code(), "callback_invalid");
    assert!(c.state().tokens().is_none());
}

#[test]
fn calls_go_straight_to_stora_with_the_access_token() {
    let (mut c, mut host) = connected();
    let call = c.start_call(ApiRequest::json("POST", "/api/units/u_1/notes", br#"{"text":"hi"}"#.to_vec())).unwrap();
    host.reset();
    let done = host.run(&mut c, call, NOW + 60, |_| Ok(Response::new(201, b"{}".to_vec()))).unwrap();
    assert!(matches!(done, Completion::Response(r) if r.status == 201));
    assert_eq!(host.trace(), "send POST https://api.stora.example/2025-09/units/u_1/notes, done ok");
    let req = host.sent.last().unwrap();
    assert_eq!(header(req, "authorization"), Some("Bearer at_1"));
    assert_eq!(header(req, "accept"), Some("application/json"));
    assert!(header(req, "idempotency-key").is_some(), "Stora's partner rule: a key on every POST");
    assert!(header(req, "signature").is_none(), "Stora verifies no Tessera signature");
    assert!(format!("{req:?}").contains("[redacted]") && !format!("{req:?}").contains("at_1"));
    // Paths outside /api/ and a caller's own Authorization are refused before any I/O.
    assert_eq!(c.start_call(ApiRequest::new("GET", "/units")).unwrap_err().code(), "invalid_input");
    let mut own = ApiRequest::new("GET", "/api/units");
    own.headers.push(("Authorization".into(), "Bearer x".into()));
    assert_eq!(c.start_call(own).unwrap_err().code(), "invalid_input");
}

#[test]
fn an_expiring_token_is_refreshed_under_the_lock_and_persisted_before_use() {
    let (mut c, mut host) = connected();
    host.reset();
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let later = NOW + 3600 - 60; // within the 120 s margin
    host.reset();
    let done = host
        .run(&mut c, call, later, |req| {
            Ok(if req.url.ends_with("/refresh") {
                tokens_answer("at_2", "rt_2", 3600)
            } else {
                Response::new(200, b"[]".to_vec())
            })
        })
        .unwrap();
    assert!(matches!(done, Completion::Response(_)));
    let id = c.install_id().unwrap().to_owned();
    assert_eq!(
        host.trace(),
        format!(
            "lock tessera-refresh-{id}, send POST https://proxy.example/refresh, persist, unlock, \
             send GET https://api.stora.example/2025-09/units, done ok"
        )
    );
    let refresh = &host.sent[0];
    assert_eq!(refresh.body, br#"{"refresh_token":"rt_1"}"#);
    assert!(header(refresh, "signature").is_some());
    let input = header(refresh, "signature-input").unwrap();
    assert!(input.contains(&format!(";created={later};")), "signed at the time of the refresh: {input}");
    assert!(host.stored.contains("\"refresh_token\":\"rt_2\""), "the new pair is stored before it is used");
    assert!(!host.stored.contains("rt_1"), "the rotated token is not kept, only its fingerprint");
    assert!(host.stored.contains(&format!(r#""retired_refresh":"{}""#, fingerprint("rt_1"))), "{}", host.stored);
    assert_eq!(header(&host.sent[1], "authorization"), Some("Bearer at_2"));
    assert_eq!(c.state().token_generation(), 2);
}

#[test]
fn a_pair_another_worker_stored_is_used_without_a_second_refresh() {
    let (mut a, mut host_a) = connected();
    let mut b = a.clone(); // a second worker with the same (soon stale) state
    let later = NOW + 3600 - 30;
    // Worker A refreshes and stores the rotated pair.
    let call = a.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    host_a
        .run(&mut a, call, later, |req| {
            Ok(if req.url.ends_with("/refresh") {
                tokens_answer("at_2", "rt_2", 3600)
            } else {
                Response::new(200, b"[]".to_vec())
            })
        })
        .unwrap();
    // Worker B takes the lock after A and reads the shared store.
    let mut host_b = Host::with_store(host_a.stored.clone());
    let call = b.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    host_b.run(&mut b, call, later, |_| Ok(Response::new(200, b"[]".to_vec()))).unwrap();
    assert!(!host_b.trace().contains("/refresh"), "{}", host_b.trace());
    assert_eq!(header(host_b.sent.last().unwrap(), "authorization"), Some("Bearer at_2"));
    assert_eq!(b.state().token_generation(), 2);
}

#[test]
fn a_store_that_lost_the_rotation_is_repaired_not_believed() {
    let (mut c, mut host) = connected();
    let before = host.stored.clone(); // the state with rt_1, before any refresh
    let later = NOW + 3600 - 30;
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    host.run(&mut c, call, later, |req| {
        Ok(if req.url.ends_with("/refresh") { tokens_answer("at_2", "rt_2", 60) } else { Response::new(200, vec![]) })
    })
    .unwrap();
    // The store loses the write (a stale cache); this worker's pair is newer.
    let mut stale = Host::with_store(before);
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    stale
        .run(&mut c, call, later + 30, |req| {
            Ok(if req.url.ends_with("/refresh") {
                tokens_answer("at_3", "rt_3", 3600)
            } else {
                Response::new(200, vec![])
            })
        })
        .unwrap();
    assert_eq!(stale.sent[0].body, br#"{"refresh_token":"rt_2"}"#, "the rotated rt_1 is never sent");
    assert!(stale.stored.contains("rt_3"), "the store is repaired");
}

/// The record a state keeps of a rotated refresh token: base64url(SHA-256).
fn fingerprint(token: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token.as_bytes()))
}

#[test]
fn a_refresh_token_known_to_be_rotated_is_never_sent() {
    let (mut c, host) = connected();
    // A state whose own record says its refresh token was rotated away (a
    // write lost between two stores): sending it would only get the grant
    // revoked at Stora.
    let fingerprint = fingerprint("rt_1");
    let poisoned = host.stored.replacen('{', &format!(r#"{{"retired_refresh":"{fingerprint}","#), 1);
    let mut host = Host::with_store(poisoned);
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let _ = &mut c;
    let err = host.run(&mut c, call, NOW + 3600, |req| panic!("nothing is sent: {}", req.url)).unwrap_err();
    assert_eq!(err.code(), "reconnect_required");
    assert!(host.trace().ends_with("persist, unlock, done reconnect_required"), "{}", host.trace());
}

#[test]
fn invalid_grant_asks_for_a_reconnect_and_releases_the_lock() {
    let (mut c, mut host) = connected();
    host.reset();
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let err = host
        .run(&mut c, call, NOW + 3600, |_| {
            Ok(Response::new(400, br#"{"error":{"code":"invalid_grant","message":"revoked"}}"#.to_vec()))
        })
        .unwrap_err();
    assert_eq!((err.code(), err.reason()), ("reconnect_required", Some("invalid_grant")));
    assert!(
        host.trace().ends_with("send POST https://proxy.example/refresh, persist, unlock, done reconnect_required")
    );
    assert_eq!(c.status(), Status::ReconnectRequired);
    assert!(!host.stored.contains("refresh_token"), "the dead pair is gone from the store");
}

#[test]
fn stora_refusing_the_token_refreshes_once_then_retries() {
    let (mut c, mut host) = connected();
    host.reset();
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let mut refused = false;
    host.run(&mut c, call, NOW + 10, |req| {
        Ok(if req.url.ends_with("/refresh") {
            tokens_answer("at_2", "rt_2", 3600)
        } else if !refused {
            refused = true;
            Response::new(401, br#"{"error":{"type":"authentication_error","code":"invalid_token"}}"#.to_vec())
        } else {
            Response::new(200, b"[]".to_vec())
        })
    })
    .unwrap();
    assert_eq!(host.trace.iter().filter(|t| t.contains("/refresh")).count(), 1);
    assert!(host.trace().ends_with("unlock, send GET https://api.stora.example/2025-09/units, done ok"));
}

#[test]
fn no_lock_no_refresh_and_a_lost_answer_keeps_the_pair() {
    let (mut c, mut host) = connected();
    host.lock_free = false;
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let err = host.run(&mut c, call, NOW + 3600, |_| panic!("nothing is sent without the lock")).unwrap_err();
    assert_eq!(err.code(), "lock_unavailable");
    host.lock_free = true;
    host.reset();
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let err = host.run(&mut c, call, NOW + 3600, |_| Err(())).unwrap_err();
    assert_eq!(err.code(), "server_unavailable");
    assert!(host.trace().ends_with("send POST https://proxy.example/refresh, unlock, done server_unavailable"));
    assert_eq!(c.state().token_generation(), 1, "not retried, not dropped");
}

#[test]
fn disconnect_and_uninstall_revoke_through_the_proxy() {
    let (mut c, mut host) = connected();
    host.reset();
    let call = c.start_disconnect().unwrap();
    host.run(&mut c, call, NOW, |_| Ok(Response::new(200, b"{}".to_vec()))).unwrap();
    let id = c.install_id().unwrap().to_owned();
    assert_eq!(
        host.trace(),
        format!("lock tessera-refresh-{id}, send POST https://proxy.example/revoke, persist, unlock, done ok")
    );
    assert_eq!(host.sent[0].body, br#"{"token":"rt_1"}"#);
    assert!(c.state().tokens().is_none() && c.status() == Status::Registered);
    assert!(c.account().is_none(), "no pair, no connected account");

    let (mut c, mut host) = connected();
    host.reset();
    let call = c.start_uninstall();
    let done = host.run(&mut c, call, NOW, |_| Ok(Response::new(200, b"{}".to_vec()))).unwrap();
    assert!(matches!(done, Completion::Uninstalled(_)));
    assert!(host.trace().contains("send POST https://proxy.example/revoke, persist, send DELETE"), "{}", host.trace());
    assert!(host.trace().ends_with("unlock, done ok"), "{}", host.trace());
    assert_eq!(c.status(), Status::NotRegistered);
}

#[test]
fn proxy_configuration_is_checked() {
    assert_eq!(
        Companion::create(Config::proxy(PROXY, "http://stora.example/2025-09")).unwrap_err().code(),
        "insecure_broker_url"
    );
    assert!(Companion::create(Config::proxy(PROXY, "http://127.0.0.1:9/2025-09")).is_ok());
    assert_eq!(Companion::create(Config::proxy(PROXY, "https://s.example/?x=1")).unwrap_err().code(), "invalid_url");
    // A refresh margin of up to an hour, not more.
    let margin = |secs| {
        let mut config = Config::proxy(PROXY, STORA);
        config.proxy.as_mut().unwrap().refresh_margin_secs = secs;
        Companion::create(config).map(|_| ()).map_err(|e| e.code())
    };
    assert_eq!((margin(0), margin(3_600), margin(3_601)), (Ok(()), Ok(()), Err("invalid_input")));
}

#[test]
fn a_direct_call_says_how_many_attempts_it_made() {
    let (mut c, mut host) = connected();
    host.reset();
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let err = host.run(&mut c, call, NOW + 10, |_| Ok(Response::new(503, Vec::new()))).unwrap_err();
    assert_eq!(err.code(), "server_unavailable");
    assert_eq!(host.sent.len(), 3, "the retry policy's three attempts: {}", host.trace());
    assert!(err.to_string().contains("after 3 attempt(s)"), "{err}");
}

#[test]
fn a_direct_call_sets_accept_and_keeps_one_idempotency_key() {
    let (mut c, mut host) = connected();
    host.reset();
    let mut req = ApiRequest::json("POST", "/api/units/u_1/notes", br#"{"text":"hi"}"#.to_vec());
    req.headers.push(("Accept".into(), "text/plain".into()));
    req.headers.push(("Idempotency-Key".into(), "note-u_1-42".into()));
    let call = c.start_call(req).unwrap();
    host.run(&mut c, call, NOW + 10, |_| Ok(Response::new(201, b"{}".to_vec()))).unwrap();
    let named = |name: &str| -> Vec<&str> {
        host.sent[0].headers.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    };
    assert_eq!(named("accept"), ["application/json"], "Stora answers JSON: the caller's Accept is replaced");
    assert_eq!(named("idempotency-key"), ["note-u_1-42"], "the caller's key, once");
}

#[test]
fn a_refresh_refused_for_another_reason_is_not_sent_again_even_with_a_date() {
    // Only `signature_expired` teaches the clock offset; any other refusal of
    // the single-use refresh token ends the call.
    let (mut c, mut host) = connected();
    host.reset();
    let date = tessera_core::internals::classify::fmt_http_date(NOW + 3590 + 900);
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let err = host
        .run(&mut c, call, NOW + 3590, |_| Ok(Response::new(503, Vec::new()).with_header("date", &date)))
        .unwrap_err();
    assert_eq!(err.code(), "server_unavailable");
    assert!(host.trace().ends_with("send POST https://proxy.example/refresh, unlock, done server_unavailable"));
    assert_eq!(host.sent.len(), 1, "{}", host.trace());
    assert_eq!((c.clock_offset(), c.state().token_generation()), (0, 1));
}

#[test]
fn persisted_state_is_what_a_persist_would_carry() {
    let (mut c, host) = connected();
    assert_eq!(c.persisted_state(&mut support::rng(5)).unwrap(), c.to_json());
    assert_eq!(host.stored, c.to_json());
    c.set_seal_key(&[7; 32]).unwrap();
    let sealed = c.persisted_state(&mut support::rng(5)).unwrap();
    assert!(sealed.starts_with("tsv1.") && !sealed.contains("rt_1"));
    assert_eq!(Companion::open_state(&sealed, &[7; 32]).unwrap().to_json(), c.to_json());
}

#[test]
fn a_broker_mode_callback_with_a_code_context_sends_the_brokers_exchange() {
    // code_context is the proxy's: in broker mode it is ignored, and the
    // signed exchange carries only the code and the state.
    let mut c = support::registered("https://broker.example", 3);
    let state = "ssssssssssssssssssssss";
    c.connect_url_with_state(RETURN, None, NOW, state).unwrap();
    let call = c
        .start_complete_connect(&format!("?state={state}&code=cc_Zm9yLXRlc3RzLW9ubHk&code_context={CONTEXT}"), NOW)
        .unwrap();
    let mut bodies = Vec::new();
    support::drive(&mut c, call, NOW, |req| {
        bodies.push((req.url.clone(), String::from_utf8(req.body.clone()).unwrap()));
        support::connect_answer(support::TOKEN)
    })
    .unwrap();
    assert_eq!(
        bodies,
        [(
            "https://broker.example/connect/complete".to_owned(),
            format!(r#"{{"code":"cc_Zm9yLXRlc3RzLW9ubHk","state":"{state}"}}"#)
        )]
    );
}

#[test]
fn a_code_context_is_one_to_4096_characters_of_base64url_and_dots() {
    let exchange = |context: &str| {
        let mut c = registered();
        c.connect_url_with_state(RETURN, None, NOW, STATE).unwrap();
        let call =
            c.start_complete_connect(&format!("?state={STATE}&code={CODE}&code_context={context}"), NOW).unwrap();
        let mut host = Host::new(&c);
        let done = host.run(&mut c, call, NOW, |_| Ok(tokens_answer("at_1", "rt_1", 3600)));
        (done.map(|_| ()).map_err(|e| e.code()), host.sent.len())
    };
    assert_eq!(exchange(&"a".repeat(4096)), (Ok(()), 1));
    assert_eq!(exchange("a-b_c.d"), (Ok(()), 1));
    for bad in [String::new(), "a".repeat(4097), "a%2Bb".into(), "a=b".into(), "a/b".into()] {
        assert_eq!(exchange(&bad), (Err("callback_invalid"), 0), "{bad:.20}");
    }
}

#[test]
fn a_401_that_names_no_invalid_token_is_not_a_refusal_of_the_token() {
    let (mut c, mut host) = connected();
    host.reset();
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let err = host
        .run(&mut c, call, NOW + 10, |_| Ok(Response::new(401, br#"{"error":{"code":"insufficient_scope"}}"#.to_vec())))
        .unwrap_err();
    assert_eq!(err.code(), "client_error");
    assert_eq!(host.trace(), "send GET https://api.stora.example/2025-09/units, done client_error", "no refresh");
    // Nor is a 403 that names it: only a 401 says the token is no good.
    host.reset();
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let err = host
        .run(&mut c, call, NOW + 10, |_| Ok(Response::new(403, br#"{"error":{"code":"invalid_token"}}"#.to_vec())))
        .unwrap_err();
    assert_eq!(err.code(), "client_error");
    assert_eq!(host.sent.len(), 1, "{}", host.trace());
}

#[test]
fn in_broker_mode_a_401_invalid_token_is_the_brokers_client_error() {
    let mut c = support::connected("https://broker.example", 4);
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let mut sent = 0;
    let err = support::drive(&mut c, call, NOW, |_| {
        sent += 1;
        Response::new(401, br#"{"error":{"code":"invalid_token"}}"#.to_vec())
    })
    .unwrap_err();
    assert_eq!((err.code(), sent), ("client_error", 1));
    assert_eq!(c.status(), Status::Connected);
}

#[test]
fn a_malformed_token_answer_says_which_member_is_malformed() {
    for (access, refresh, member) in [("a b", "rt_1", "access_token"), ("at_1", "r t", "refresh_token")] {
        let mut c = registered();
        c.connect_url_with_state(RETURN, None, NOW, STATE).unwrap();
        let call =
            c.start_complete_connect(&format!("?state={STATE}&code={CODE}&code_context={CONTEXT}"), NOW).unwrap();
        let err = Host::new(&c).run(&mut c, call, NOW, |_| Ok(tokens_answer(access, refresh, 3600))).unwrap_err();
        assert_eq!(err.code(), "callback_invalid");
        assert!(err.to_string().contains(&format!("malformed {member}")), "{err}");
        assert!(c.state().tokens().is_none());
    }
}

#[test]
fn a_retired_refresh_record_must_be_a_sha256_fingerprint() {
    let (c, _) = connected();
    let with = |record: &str| {
        let json = c
            .to_json()
            .replace(r#""token_generation""#, &format!(r#""retired_refresh":"{record}","token_generation""#));
        Companion::from_json(&json).map(|_| ()).map_err(|e| e.code())
    };
    assert_eq!(with(&fingerprint("rt_0")), Ok(()));
    assert_eq!(with(&format!("{}-_", "A".repeat(41))), Ok(()));
    // Standard base64, padding, a dot: 43 characters but not base64url.
    for bad in ["+", "/", "=", "."] {
        assert_eq!(with(&format!("{}{bad}", "A".repeat(42))), Err("state_corrupt"), "{bad}");
    }
    assert_eq!(with(&"A".repeat(44)), Err("state_corrupt"));
}

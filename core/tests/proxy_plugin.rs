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
    assert!(host.stored.contains("\"refresh_token\":\"rt_2\""), "the new pair is stored before it is used");
    assert!(!host.stored.contains("rt_1"), "the rotated token is not kept, only its fingerprint");
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
    let mut host_b = Host { stored: host_a.stored.clone(), trace: Vec::new(), sent: Vec::new(), lock_free: true };
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
    let mut stale = Host { stored: before, trace: Vec::new(), sent: Vec::new(), lock_free: true };
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

#[test]
fn a_refresh_token_known_to_be_rotated_is_never_sent() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let (mut c, host) = connected();
    // A state whose own record says its refresh token was rotated away (a
    // write lost between two stores): sending it would only get the grant
    // revoked at Stora.
    let fingerprint = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(b"rt_1"));
    let poisoned = host.stored.replacen('{', &format!(r#"{{"retired_refresh":"{fingerprint}","#), 1);
    let mut host = Host { stored: poisoned, trace: Vec::new(), sent: Vec::new(), lock_free: true };
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
}

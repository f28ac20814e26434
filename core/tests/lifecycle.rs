//! The plugin lifecycle and the step machine's policies, driven by a fake
//! transport: retries, backoff bounds, Retry-After, clock skew, reconnect
//! mapping, disconnect, uninstall, site identity, state and secret hygiene.

mod support;

use support::*;
use tessera_core::{
    Action, ApiRequest, Call, Companion, Completion, Config, Error, Event, MemoryReplayStore, RegistrationOutcome,
    RemoteStep, Request, Response, SiteCheck, Status, Verifier,
};

/// What the driver saw.
#[derive(Debug, Default)]
struct Trace {
    sent: Vec<Request>,
    sleeps: Vec<u64>,
    persisted: Vec<String>,
}

/// Runs `call` to completion; `respond` plays the broker.
fn drive(
    c: &mut Companion,
    mut call: Call,
    now: i64,
    mut respond: impl FnMut(&Request, usize) -> Result<Response, String>,
) -> (Result<Completion, Error>, Trace) {
    let mut trace = Trace::default();
    let mut rng = rng(99);
    let mut event = Event::Start;
    for _ in 0..50 {
        match c.step(&mut call, event, now, &mut rng) {
            Action::Send(req) => {
                let n = trace.sent.len();
                trace.sent.push(req.clone());
                event = match respond(&req, n) {
                    Ok(r) => Event::Response(r),
                    Err(_) => Event::TransportError(tessera_core::TransportError::Network),
                };
            }
            Action::Sleep(ms) => {
                trace.sleeps.push(ms);
                event = Event::Slept;
            }
            Action::Persist(json) => {
                trace.persisted.push(json);
                event = Event::Persisted;
            }
            Action::ServeProof(_) => event = Event::ProofServed,
            Action::Lock(_) | Action::Unlock(_) => unreachable!("broker mode takes no lock"),
            Action::Done(result) => {
                assert!(call.is_finished());
                return (result, trace);
            }
        }
    }
    panic!("the call did not finish in 50 steps");
}

fn json_err(status: u16, code: &str) -> Response {
    Response::new(status, format!(r#"{{"error":"{code}"}}"#).into_bytes())
}

fn nonce_of(req: &Request) -> String {
    let input = req.header("signature-input").unwrap();
    input.split("nonce=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
}

const B: &str = "https://broker.example";

#[test]
fn ok_call_is_one_send() {
    let mut c = connected(B, 1);
    let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let (res, t) = drive(&mut c, call, NOW, |_, _| Ok(Response::new(200, b"[1,2,3]".to_vec())));
    let Completion::Response(r) = res.unwrap() else { panic!() };
    assert_eq!(r.body, b"[1,2,3]");
    assert_eq!((t.sent.len(), t.sleeps.len(), t.persisted.len()), (1, 0, 0));
}

#[test]
fn server_errors_retry_with_bounded_full_jitter_and_fresh_nonces() {
    let mut c = connected(B, 2);
    let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let (res, t) = drive(&mut c, call, NOW, |_, n| {
        Ok(if n < 2 { Response::new(503, vec![]) } else { Response::new(200, vec![]) })
    });
    assert!(res.is_ok());
    assert_eq!(t.sent.len(), 3);
    let policy = c.config().retry.clone();
    assert_eq!(t.sleeps.len(), 2);
    assert!(t.sleeps[0] <= policy.base_delay_ms && t.sleeps[1] <= policy.base_delay_ms * 2, "{:?}", t.sleeps);
    let nonces: std::collections::HashSet<_> = t.sent.iter().map(nonce_of).collect();
    assert_eq!(nonces.len(), 3, "every attempt is signed afresh");
}

#[test]
fn server_errors_give_up_after_max_attempts() {
    let mut c = connected(B, 3);
    let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let (res, t) = drive(&mut c, call, NOW, |_, _| Ok(Response::new(502, vec![])));
    assert_eq!(res.unwrap_err(), Error::ServerUnavailable { status: Some(502), attempts: 3 });
    assert_eq!(t.sent.len(), 3);
    assert!(t.sleeps.iter().sum::<u64>() <= c.config().retry.max_total_delay_ms);
}

#[test]
fn post_retries_keep_the_same_idempotency_key() {
    let mut c = connected(B, 4);
    let call = c.start_call(ApiRequest::json("POST", "/api/events", b"{}".to_vec())).unwrap();
    let (res, t) = drive(&mut c, call, NOW, |_, n| match n {
        0 => Err("connection reset".into()),
        1 => Ok(Response::new(500, vec![])),
        _ => Ok(Response::new(201, vec![])),
    });
    assert!(res.is_ok());
    let keys: Vec<_> = t.sent.iter().map(|r| r.header("idempotency-key").unwrap().to_owned()).collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k == &keys[0]));
}

#[test]
fn unsafe_methods_are_not_retried() {
    let mut c = connected(B, 5);
    let call = c.start_call(ApiRequest::new("LINK", "/api/events")).unwrap();
    let (res, t) = drive(&mut c, call, NOW, |_, _| Ok(Response::new(503, vec![])));
    assert_eq!(res.unwrap_err().code(), "server_unavailable");
    assert_eq!(t.sent.len(), 1);
}

#[test]
fn retry_after_is_honoured_then_capped() {
    let mut c = connected(B, 6);
    let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let (res, t) = drive(&mut c, call, NOW, |_, n| {
        Ok(if n == 0 { Response::new(429, vec![]).with_header("Retry-After", "2") } else { Response::new(200, vec![]) })
    });
    assert!(res.is_ok());
    assert_eq!(t.sleeps, vec![2000]);

    let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let (res, t) = drive(&mut c, call, NOW, |_, _| Ok(Response::new(429, vec![]).with_header("Retry-After", "3600")));
    assert_eq!(res.unwrap_err(), Error::RateLimited { retry_after_ms: 3_600_000 });
    assert!(t.sleeps.is_empty(), "a long Retry-After is surfaced, not slept");

    let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let (res, t) = drive(&mut c, call, NOW, |_, _| Ok(Response::new(429, vec![]).with_header("Retry-After", "1")));
    assert_eq!(res.unwrap_err().code(), "rate_limited");
    assert_eq!(t.sent.len(), 3, "bounded: no retry storm");
}

#[test]
fn signature_expired_learns_the_offset_once() {
    let mut c = connected(B, 7);
    let server_now = NOW + 420;
    let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let (res, t) = drive(&mut c, call, NOW, |req, n| {
        Ok(if n == 0 {
            assert!(req.header("signature-input").unwrap().contains(&format!("created={NOW}")));
            json_err(401, "signature_expired")
                .with_header("Date", &tessera_core::internals::classify::fmt_http_date(server_now))
        } else {
            assert!(req.header("signature-input").unwrap().contains(&format!("created={server_now}")));
            Response::new(200, vec![])
        })
    });
    assert!(res.is_ok());
    assert_eq!(c.clock_offset(), 420);
    assert_eq!(t.persisted.len(), 1, "the learned offset is persisted before the retry");
    assert!(t.persisted[0].contains("\"clock_offset\":420"));

    // A second expiry in the same call is not retried again.
    let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let (res, t) = drive(&mut c, call, NOW, |_, _| {
        Ok(json_err(401, "signature_expired")
            .with_header("Date", &tessera_core::internals::classify::fmt_http_date(NOW + 9999)))
    });
    assert_eq!(res.unwrap_err().code(), "client_error");
    assert_eq!(t.sent.len(), 2);
}

#[test]
fn reconnect_required_drops_the_token_and_persists() {
    for reason in ["stora_reconnect_required", "broker_token_invalid", "installation_disabled"] {
        let mut c = connected(B, 8);
        let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
        let (res, t) = drive(&mut c, call, NOW, |_, _| Ok(json_err(401, reason)));
        let err = res.unwrap_err();
        assert_eq!((err.code(), err.reason()), ("reconnect_required", Some(reason)));
        assert_eq!(t.sent.len(), 1, "never retried");
        assert_eq!(t.persisted.len(), 1);
        let saved = Companion::from_json(&t.persisted[0]).unwrap();
        assert_eq!(saved.status(), Status::ReconnectRequired);
        assert!(saved.state().broker_token().is_none());
        // The next call fails fast with the same outcome, and reconnect is offered.
        let again = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap_err();
        assert_eq!(again.reason(), Some(reason));
        assert!(c.connect_url("https://shop.example/cb", None, NOW, &mut rng(1)).is_ok());
    }
}

#[test]
fn registration_invalid_requires_a_fresh_registration() {
    let mut c = connected(B, 9);
    let old_id = c.install_id().unwrap().to_owned();
    let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let (res, _) = drive(&mut c, call, NOW, |_, _| Ok(json_err(401, "unknown_installation")));
    assert_eq!(res.unwrap_err().code(), "registration_invalid");
    assert_eq!(c.status(), Status::RegistrationInvalid);
    c.registration_request(&registration("https://shop.example"), &mut rng(10)).unwrap();
    assert_ne!(c.install_id().unwrap(), old_id);
}

#[test]
fn other_client_errors_are_final_and_silent() {
    let mut c = connected(B, 11);
    let call = c.start_call(ApiRequest::json("POST", "/api/events", b"{}".to_vec())).unwrap();
    let (res, t) = drive(&mut c, call, NOW, |_, _| Ok(json_err(422, "invalid_event")));
    assert_eq!(
        res.unwrap_err(),
        Error::ClientError { status: 422, reason: "invalid_event".into(), request_id: None, explanation: None }
    );
    assert_eq!((t.sent.len(), t.persisted.len()), (1, 0));
}

#[test]
fn disconnect_drops_the_token_whatever_the_broker_says() {
    let gone = |code: &str| json_err(401, code);
    for (answer, remote) in [
        (Response::new(204, vec![]), "ok"),
        (Response::new(401, vec![]), "ok"),
        (gone("broker_token_invalid"), "ok"),
        (gone("stora_reconnect_required"), "ok"),
        (gone("unknown_installation"), "ok"),
        (gone("signature_malformed"), "failed"),
        (gone("signature_invalid"), "failed"),
        (gone("digest_mismatch"), "failed"),
        (gone("replayed"), "failed"),
        (Response::new(500, vec![]), "failed"),
    ] {
        let mut c = connected(B, 12);
        let call = c.start_disconnect().unwrap();
        let (res, t) = drive(&mut c, call, NOW, |req, _| {
            assert_eq!(req.url, "https://broker.example/disconnect");
            assert!(req.header("authorization").is_some());
            assert_eq!(
                req.header("content-type"),
                Some("application/octet-stream"),
                "covered, so no stack adds its own"
            );
            Ok(answer.clone())
        });
        let Completion::Disconnected { remote: r } = res.unwrap() else { panic!() };
        assert_eq!(r.as_str(), remote);
        assert_eq!(c.status(), Status::Registered);
        assert!(t.persisted.last().unwrap().contains("\"broker_token\":null"));
    }
    assert_eq!(registered(B, 13).start_disconnect().unwrap_err().code(), "not_connected");
}

#[test]
fn uninstall_disconnects_deregisters_and_wipes() {
    let mut c = connected(B, 14);
    let id = c.install_id().unwrap().to_owned();
    let call = c.start_uninstall();
    let (res, t) = drive(&mut c, call, NOW, |req, n| {
        match n {
            0 => assert_eq!((req.method.as_str(), req.url.as_str()), ("POST", "https://broker.example/disconnect")),
            _ => assert_eq!(req.url, format!("https://broker.example/installations/{id}")),
        }
        Ok(Response::new(204, vec![]))
    });
    let Completion::Uninstalled(report) = res.unwrap() else { panic!() };
    assert_eq!((report.disconnect, report.deregister), (RemoteStep::Ok, RemoteStep::Ok));
    assert_eq!(c.status(), Status::NotRegistered);
    assert!(c.install_id().is_none());
    let wiped = Companion::from_json(t.persisted.last().unwrap()).unwrap();
    assert!(wiped.state().installation().is_none());
}

#[test]
fn uninstall_reports_failures_and_still_wipes() {
    let mut c = connected(B, 15);
    let call = c.start_uninstall();
    let (res, t) = drive(&mut c, call, NOW, |_, _| Err("broker unreachable".into()));
    let Completion::Uninstalled(report) = res.unwrap() else { panic!() };
    assert_eq!(report.disconnect.error().unwrap().code(), "server_unavailable");
    assert_eq!(report.deregister.error().unwrap().code(), "server_unavailable");
    assert!(c.install_id().is_none());
    assert!(t.sent.len() <= 4, "uninstall stays bounded: {} sends", t.sent.len());

    // Deregistering an installation the broker no longer knows is success.
    let mut c = registered(B, 16);
    let call = c.start_uninstall();
    let (res, _) = drive(&mut c, call, NOW, |_, _| Ok(Response::new(404, vec![])));
    let Completion::Uninstalled(report) = res.unwrap() else { panic!() };
    assert_eq!((report.disconnect, report.deregister), (RemoteStep::Skipped, RemoteStep::Ok));
}

#[test]
fn a_site_copy_never_touches_the_original() {
    let mut c = connected(B, 17);
    let check = c.check_site("https://staging.shop.example").unwrap();
    assert_eq!(
        check,
        SiteCheck::Mismatch {
            registered: "https://shop.example".into(),
            current: "https://staging.shop.example".into()
        }
    );
    assert_eq!(c.status(), Status::SiteMismatch);
    assert_eq!(c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap_err().code(), "site_mismatch");
    assert_eq!(c.start_disconnect().unwrap_err().code(), "site_mismatch");
    let call = c.start_uninstall();
    let (res, t) = drive(&mut c.clone(), call, NOW, |_, _| panic!("a copy must not call the broker"));
    assert!(t.sent.is_empty());
    let Completion::Uninstalled(report) = res.unwrap() else { panic!() };
    assert_eq!((report.disconnect, report.deregister), (RemoteStep::Skipped, RemoteStep::Skipped));

    let old = c.install_id().unwrap().to_owned();
    c.resolve_site_as_copy();
    assert_eq!(c.status(), Status::NotRegistered);
    c.registration_request(&registration("https://staging.shop.example"), &mut rng(18)).unwrap();
    assert_ne!(c.install_id().unwrap(), old);
}

#[test]
fn the_site_moved_sends_a_signed_update() {
    let mut c = connected(B, 19);
    assert_eq!(c.check_site("https://shop.example/").unwrap(), SiteCheck::Same, "trailing slash is the same site");
    c.check_site("https://new-shop.example").unwrap();
    let call = c.start_site_moved().unwrap();
    let (res, t) = drive(&mut c, call, NOW, |req, _| {
        assert_eq!(req.method, "PATCH");
        assert!(req.url.ends_with(&format!(
            "/installations/{}",
            req.header("signature-input").unwrap().split("keyid=\"").nth(1).unwrap().split('"').next().unwrap()
        )));
        assert_eq!(req.body, br#"{"site_url":"https://new-shop.example"}"#);
        Ok(Response::new(200, vec![]))
    });
    assert_eq!(res.unwrap(), Completion::SiteMoved);
    assert_eq!(c.site_url(), Some("https://new-shop.example"));
    assert_eq!(c.status(), Status::Connected);
    assert_eq!(t.persisted.len(), 1);
}

#[test]
fn ownership_challenge_then_the_same_registration_again() {
    let mut c = Companion::create(Config::new(B)).unwrap();
    let first = c.registration_request(&registration("https://shop.example"), &mut rng(20)).unwrap();
    let outcome = c
        .handle_registration_response_at(&Response::new(202, br#"{"challenge":"abcdefghijklmnop-0123"}"#.to_vec()), NOW)
        .unwrap();
    let RegistrationOutcome::OwnershipChallenge(proof) = outcome else { panic!() };
    assert_eq!(c.status(), Status::AwaitingOwnership);
    let secret = secret_of(&c);
    tessera_core::internals::registration::verify_ownership_proof(
        &secret,
        c.install_id().unwrap(),
        "abcdefghijklmnop-0123",
        &proof.body,
    )
    .unwrap();
    assert_eq!(proof.url, format!("https://shop.example/.well-known/tessera/{}", c.install_id().unwrap()));
    let second = c.registration_request(&registration("https://shop.example"), &mut rng(21)).unwrap();
    assert_eq!(first.body, second.body, "the same id and secret are sent again");
    c.handle_registration_response_at(&Response::new(201, vec![]), NOW).unwrap();
    assert_eq!(c.status(), Status::Registered);
    assert_eq!(c.ownership_proof().unwrap_err().code(), "invalid_state");
}

#[test]
fn a_lost_ownership_challenge_starts_over_with_a_fresh_id() {
    let mut c = Companion::create(Config::new(B)).unwrap();
    let first = c.registration_request(&registration("https://shop.example"), &mut rng(30)).unwrap();
    let first_id = c.install_id().unwrap().to_owned();
    // The broker answered 202 {challenge}, but the answer was lost: the
    // repeat cannot prove anything, so the broker refuses it.
    let again = c.registration_request(&registration("https://shop.example"), &mut rng(31)).unwrap();
    assert_eq!(first.body, again.body);
    let refused = Response::new(403, br#"{"error":"ownership_proof_invalid"}"#.to_vec());
    let e = c.handle_registration_response_at(&refused, NOW).unwrap_err();
    assert_eq!((e.code(), e.reason()), ("registration_rejected", Some("ownership_proof_invalid")));
    assert_eq!(c.status(), Status::NotRegistered);
    c.registration_request(&registration("https://shop.example"), &mut rng(32)).unwrap();
    assert_ne!(c.install_id().unwrap(), first_id, "a fresh id and secret");

    // With the challenge known, a refused proof keeps it (the host fixes the
    // proof route and sends the same registration again).
    c.handle_registration_response_at(&Response::new(202, br#"{"challenge":"abcdefghijklmnop-0123"}"#.to_vec()), NOW)
        .unwrap();
    let id = c.install_id().unwrap().to_owned();
    c.registration_request(&registration("https://shop.example"), &mut rng(33)).unwrap();
    assert!(c.handle_registration_response_at(&refused, NOW).is_err());
    assert_eq!((c.status(), c.install_id()), (Status::AwaitingOwnership, Some(id.as_str())));
}

#[test]
fn misuse_of_a_call_is_a_typed_error() {
    let mut c = connected(B, 22);
    let mut call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let mut r = rng(1);
    let a = c.step(&mut call, Event::Slept, NOW, &mut r);
    assert!(matches!(a, Action::Done(Err(Error::InvalidState(_)))));
    let a = c.step(&mut call, Event::Start, NOW, &mut r);
    assert!(matches!(a, Action::Done(Err(Error::InvalidState(_)))), "a finished call stays finished");
}

#[test]
fn calls_need_a_connection() {
    let c = registered(B, 23);
    assert_eq!(c.start_call(ApiRequest::new("GET", "/api/x")).unwrap_err().code(), "not_connected");
    let fresh = Companion::create(Config::new(B)).unwrap();
    assert_eq!(fresh.start_call(ApiRequest::new("GET", "/api/x")).unwrap_err().code(), "not_registered");
    let c = connected(B, 24);
    assert_eq!(c.start_call(ApiRequest::new("GET", "api/x")).unwrap_err().code(), "invalid_url");
}

#[test]
fn state_round_trips_and_rejects_the_unknown() {
    let c = connected(B, 25);
    let json = c.to_json();
    let back = Companion::from_json(&json).unwrap();
    assert_eq!(back.state(), c.state());
    assert_eq!(back.to_json(), json);
    let future = json.replacen("\"v\":1", "\"v\":2", 1);
    assert_eq!(Companion::from_json(&future).unwrap_err(), Error::StateVersionUnsupported { found: 2, supported: 1 });
    for bad in [&json[..json.len() / 2], "", "[]", "{}", "{\"v\":0}", "null", "{\"v\":\"1\"}"] {
        let e = Companion::from_json(bad).unwrap_err();
        assert!(matches!(e.code(), "state_corrupt"), "{bad}: {e}");
    }
    let huge = format!("{{\"v\":1,\"pad\":\"{}\"}}", "x".repeat(70_000));
    assert_eq!(Companion::from_json(&huge).unwrap_err().code(), "too_large");
}

#[test]
fn sealed_state_opens_only_with_its_key() {
    let c = connected(B, 26);
    let sealed = c.seal_state(b"0123456789abcdef-salt", &mut rng(3)).unwrap();
    assert!(!sealed.contains(&secret_of(&c).to_base64url()));
    assert_eq!(Companion::open_state(&sealed, b"0123456789abcdef-salt").unwrap().state(), c.state());
    assert_eq!(Companion::open_state(&sealed, b"0123456789abcdef-SALT").unwrap_err().code(), "state_undecryptable");
    let again = c.seal_state(b"0123456789abcdef-salt", &mut rng(4)).unwrap();
    assert_ne!(sealed, again, "a fresh nonce every time");
}

#[test]
fn secrets_never_leak_into_debug_errors_or_urls() {
    let mut c = connected(B, 27);
    let secret = secret_of(&c).to_base64url();
    let token = TOKEN;
    let mut texts = vec![format!("{c:?}"), format!("{:?}", c.state())];
    texts.push(c.connect_url("https://shop.example/cb", Some("orders"), NOW, &mut rng(5)).unwrap());
    texts.push(c.uninstall_url(NOW).unwrap());
    let signed = c.sign_request(&ApiRequest::new("GET", "/api/x"), &Default::default(), &mut rng(6)).unwrap();
    texts.push(signed.url.clone());
    texts.push(format!("{signed:?}"));
    let mut fresh = Companion::create(Config::new(B)).unwrap();
    let reg = fresh.registration_request(&registration("https://shop.example"), &mut rng(7)).unwrap();
    let fresh_secret = secret_of(&fresh).to_base64url();
    assert!(!format!("{reg:?}").contains(&fresh_secret), "registration request Debug leaks the secret");
    let mut probe = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let mut r = rng(8);
    let send = c.step(&mut probe, Event::Start, NOW, &mut r);
    texts.push(format!("{send:?}"));
    texts.push(format!("{:?}", Action::Persist(c.to_json())));
    // Every error a flow can produce, as text.
    let call = c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap();
    let (res, _) = drive(&mut c, call, NOW, |_, _| Ok(json_err(401, "stora_reconnect_required")));
    let e = res.unwrap_err();
    texts.push(format!("{e} {e:?}"));
    let mut store = MemoryReplayStore::new(8);
    let s = secret_of(&c);
    let e = Verifier::default().verify(&signed, NOW + 9999, &mut |_| Some(s.clone()), &mut store).unwrap_err();
    texts.push(format!("{e} {e:?}"));
    for t in &texts {
        assert!(!t.contains(&secret), "secret leaked: {t}");
        assert!(!t.contains(token), "token leaked: {t}");
    }
    assert!(texts[0].contains("[redacted]"));
}

#[test]
fn verifier_accepts_what_the_companion_signs() {
    let c = connected("http://127.0.0.1:3000", 28);
    let s = secret_of(&c);
    let mut store = MemoryReplayStore::new(16);
    let signed = c
        .sign_request(
            &ApiRequest::json("POST", "/api/events", b"{}".to_vec()),
            &tessera_core::SignOptions { now: NOW, ..Default::default() },
            &mut rng(7),
        )
        .unwrap();
    let v = Verifier::default()
        .verify(&signed, NOW + 299, &mut |id| (id == c.install_id().unwrap()).then(|| s.clone()), &mut store)
        .unwrap();
    assert_eq!(v.bearer.as_ref().map(tessera_core::BrokerToken::expose), Some(TOKEN));
    assert!(v.idempotency_key.is_some());
    assert_eq!(
        Verifier::default().verify(&signed, NOW + 299, &mut |_| Some(s.clone()), &mut store).unwrap_err().code(),
        "replayed"
    );
}

#[test]
fn a_nonce_stays_remembered_to_the_last_accepted_second() {
    // Regression: at exactly created + window the signature still verifies,
    // so the nonce must still be remembered.
    let c = connected(B, 40);
    let s = secret_of(&c);
    let signed = c
        .sign_request(
            &ApiRequest::new("GET", "/api/orders"),
            &tessera_core::SignOptions { now: NOW, ..Default::default() },
            &mut rng(1),
        )
        .unwrap();
    for first_seen in [NOW, NOW + 10, NOW + 300] {
        let mut store = MemoryReplayStore::new(16);
        Verifier::default().verify(&signed, first_seen, &mut |_| Some(s.clone()), &mut store).unwrap();
        let again = Verifier::default().verify(&signed, NOW + 300, &mut |_| Some(s.clone()), &mut store);
        assert_eq!(again.unwrap_err().code(), "replayed", "first seen at {first_seen}");
        let later = Verifier::default().verify(&signed, NOW + 301, &mut |_| Some(s.clone()), &mut store);
        assert_eq!(later.unwrap_err().code(), "signature_expired");
    }
}

#[test]
fn loopback_means_loopback() {
    for insecure in ["http://127.evil.example.com", "http://127.0.0.1.example.com", "http://localhost.example.com"] {
        assert_eq!(Companion::create(Config::new(insecure)).unwrap_err().code(), "insecure_broker_url", "{insecure}");
    }
    assert!(Companion::create(Config::new("http://127.0.0.1:9")).is_ok());
}

#[test]
fn disconnect_corrects_a_skewed_clock_instead_of_assuming_success() {
    let mut c = connected(B, 41);
    let call = c.start_disconnect().unwrap();
    let (res, t) = drive(&mut c, call, NOW, |_, n| {
        Ok(if n == 0 {
            json_err(401, "signature_expired")
                .with_header("Date", &tessera_core::internals::classify::fmt_http_date(NOW + 600))
        } else {
            Response::new(204, vec![])
        })
    });
    assert_eq!(res.unwrap(), Completion::Disconnected { remote: RemoteStep::Ok });
    assert_eq!(t.sent.len(), 2, "re-signed with the learned offset and sent again");
    assert_eq!(c.clock_offset(), 600);
}

#[test]
fn registration_retry_after_dates_use_the_clock() {
    let mut c = Companion::create(Config::new(B)).unwrap();
    c.registration_request(&registration("https://shop.example"), &mut rng(42)).unwrap();
    let r = Response::new(429, vec![])
        .with_header("Retry-After", &tessera_core::internals::classify::fmt_http_date(NOW + 5));
    assert_eq!(c.handle_registration_response_at(&r, NOW).unwrap_err(), Error::RateLimited { retry_after_ms: 5000 });
    let with_date = r.clone().with_header("Date", &tessera_core::internals::classify::fmt_http_date(NOW));
    // The answer's own Date measures an HTTP-date Retry-After, whatever the local clock says.
    assert_eq!(
        c.handle_registration_response_at(&with_date, 0).unwrap_err(),
        Error::RateLimited { retry_after_ms: 5000 }
    );
}

#[test]
fn a_skewed_clock_is_learned_at_registration_so_connect_works() {
    let mut c = Companion::create(Config::new(B)).unwrap();
    c.registration_request(&registration("https://shop.example"), &mut rng(43)).unwrap();
    let local_now = NOW - 3600; // an hour slow
    let answer = Response::new(201, vec![]).with_header("Date", &tessera_core::internals::classify::fmt_http_date(NOW));
    c.handle_registration_response_at(&answer, local_now).unwrap();
    assert_eq!(c.clock_offset(), 3600);
    let url = c.connect_url("https://shop.example/cb", None, local_now, &mut rng(44)).unwrap();
    let secret = secret_of(&c);
    let params = tessera_core::verify_connect_url(&url, NOW, &mut |_| Some(secret.clone())).unwrap();
    assert_eq!(params.ts, NOW, "the connect link carries the broker's time");

    // Small differences are noise, not skew.
    let mut d = Companion::create(Config::new(B)).unwrap();
    d.registration_request(&registration("https://shop.example"), &mut rng(45)).unwrap();
    let answer =
        Response::new(201, vec![]).with_header("Date", &tessera_core::internals::classify::fmt_http_date(NOW + 30));
    d.handle_registration_response_at(&answer, NOW).unwrap();
    assert_eq!(d.clock_offset(), 0);
}

#[test]
fn verifier_reads_split_and_multi_label_fields() {
    // Several field lines and other labels go through the general parser;
    // the single-member fast path must not change what is accepted.
    let c = connected(B, 46);
    let s = secret_of(&c);
    let signed = c
        .sign_request(
            &ApiRequest::json("POST", "/api/events", b"{}".to_vec()),
            &tessera_core::SignOptions { now: NOW, ..Default::default() },
            &mut rng(2),
        )
        .unwrap();
    let mut split = signed.clone();
    split.headers.retain(|(k, _)| k != "signature" && k != "signature-input");
    split.headers.push(("Signature-Input".into(), "other=(\"@method\");created=1".into()));
    split.headers.push(("signature-input".into(), signed.header("signature-input").unwrap().into()));
    split.headers.push(("Signature".into(), "other=:AAAA:".into()));
    split.headers.push(("signature".into(), signed.header("signature").unwrap().into()));
    let mut store = MemoryReplayStore::new(8);
    Verifier::default().verify(&split, NOW, &mut |_| Some(s.clone()), &mut store).unwrap();

    let mut with_params = signed.clone();
    for (k, v) in &mut with_params.headers {
        if k == "signature" {
            v.push_str(";x=1");
        }
    }
    let mut store = MemoryReplayStore::new(8);
    Verifier::default().verify(&with_params, NOW, &mut |_| Some(s.clone()), &mut store).unwrap();

    let mut short = signed.clone();
    for (k, v) in &mut short.headers {
        if k == "signature" {
            *v = "tessera=:AAAA:".into();
        }
    }
    let mut store = MemoryReplayStore::new(8);
    let e = Verifier::default().verify(&short, NOW, &mut |_| Some(s.clone()), &mut store).unwrap_err();
    assert_eq!(e.code(), "signature_malformed");
}

#[test]
fn a_moved_site_proves_its_new_address_when_the_broker_asks() {
    let mut c = connected(B, 47);
    let id = c.install_id().unwrap().to_owned();
    c.check_site("https://new-shop.example").unwrap();
    let call = c.start_site_moved().unwrap();
    let (res, _) = drive(&mut c, call, NOW, |_, _| {
        Ok(Response::new(202, br#"{"challenge":"move-challenge-0123456789"}"#.to_vec()))
    });
    assert_eq!(res.unwrap(), Completion::SiteMoved);
    assert_eq!(c.status(), Status::AwaitingOwnership);
    let proof = c.ownership_proof().unwrap();
    assert_eq!(proof.url, format!("https://new-shop.example/.well-known/tessera/{id}"));
    tessera_core::internals::registration::verify_ownership_proof(
        &secret_of(&c),
        &id,
        "move-challenge-0123456789",
        &proof.body,
    )
    .unwrap();
    assert_eq!(c.start_call(ApiRequest::new("GET", "/api/orders")).unwrap_err().code(), "invalid_state");
    // The proof round is a registration again: same id and secret, new address.
    let again = c.registration_request(&registration("https://new-shop.example"), &mut rng(48)).unwrap();
    assert!(String::from_utf8(again.body).unwrap().contains(&id));
    c.handle_registration_response_at(&Response::new(201, vec![]), NOW).unwrap();
    assert_eq!(c.status(), Status::Connected, "the connection survives the move");

    // A 202 without a usable challenge is an error, not a silent move.
    let mut d = connected(B, 49);
    d.check_site("https://other.example").unwrap();
    let call = d.start_site_moved().unwrap();
    let (res, _) = drive(&mut d, call, NOW, |_, _| Ok(Response::new(202, b"{}".to_vec())));
    assert_eq!(res.unwrap_err().code(), "registration_rejected");
}

/// Issue 14 (decided item): hosts get what they store. With a seal key, every
/// persist carries the sealed state (never the JSON with the secret), and it
/// reopens with the key to exactly the companion's state.
#[test]
fn with_a_seal_key_every_persist_is_sealed() {
    let key = b"0123456789abcdef-host-key-material";
    let mut c = connected("https://broker.example", 17);
    c.set_seal_key(key).unwrap();
    assert!(!format!("{c:?}").contains("host-key-material"), "Debug prints the seal key");
    let call = c.start_disconnect().unwrap();
    let (result, trace) = drive(&mut c, call, NOW, |_, _| Ok(Response::new(204, Vec::new())));
    assert!(result.is_ok());
    assert!(!trace.persisted.is_empty());
    let secret = secret_of(&c).to_base64url();
    for persisted in &trace.persisted {
        assert!(persisted.starts_with("tsv1."), "persisted in the clear: {persisted}");
        assert!(!persisted.contains(&secret));
        assert_eq!(Companion::open_state(persisted, key).unwrap().to_json(), c.to_json());
    }
    // A companion opened from a sealed state keeps sealing with the same key.
    let mut reopened = Companion::open_state(trace.persisted.last().unwrap(), key).unwrap();
    reopened.check_site("https://elsewhere.example").unwrap();
    let call = reopened.start_uninstall();
    let (_, trace) = drive(&mut reopened, call, NOW, |_, _| Ok(Response::new(204, Vec::new())));
    assert!(trace.persisted.iter().all(|p| p.starts_with("tsv1.")));
}

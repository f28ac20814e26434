//! Proxy mode against the races and malformed answers the issue-18 security
//! review found, each reproduced: a worker writing back a pair it loaded
//! earlier, a disconnect or reconnect racing a refresh, Stora refusing a
//! token another worker already replaced, a 2xx refresh answer that cannot
//! be read, a skewed clock at the proxy, a `WWW-Authenticate`-only refusal,
//! dot segments, and state blobs that contradict themselves.

mod support;

use support::NOW;
use support::proxy_host::*;
use tessera_core::{Action, ApiRequest, Companion, Completion, Event, RemoteStep, Request, Response, Status};

/// `c`'s stored state as another worker left it after refreshing to
/// `at_2`/`rt_2` (generation 2, `rt_1` retired).
fn refreshed_by_another_worker(c: &Companion, host: &Host) -> String {
    let mut other = c.clone();
    let mut h = Host::with_store(host.stored.clone());
    let call = other.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    h.run(&mut other, call, NOW + 3590, |req| {
        Ok(if req.url.ends_with("/refresh") { tokens_answer("at_2", "rt_2", 3600) } else { Response::new(200, vec![]) })
    })
    .unwrap();
    assert_eq!(other.state().token_generation(), 2);
    h.stored
}

#[test]
fn a_disconnect_by_a_stale_worker_revokes_the_stored_pair_not_its_own() {
    // Review finding 3: the revoke went out with the worker's own (rotated)
    // refresh token, leaving the live grant orphaned at Stora.
    let (mut stale, host) = connected();
    let store = refreshed_by_another_worker(&stale, &host);
    let mut h = Host::with_store(store);
    let call = stale.start_disconnect().unwrap();
    h.run(&mut stale, call, NOW + 3595, |_| Ok(Response::new(200, b"{}".to_vec()))).unwrap();
    assert_eq!(h.sent[0].body, br#"{"token":"rt_2"}"#, "the live refresh token is the one revoked");
    assert!(h.trace().starts_with("lock ") && h.trace().ends_with("unlock, done ok"), "{}", h.trace());
    assert_eq!(stale.state().token_generation(), 3, "the disconnect is a later generation than the refresh");
}

#[test]
fn a_refresher_waiting_behind_a_disconnect_does_not_bring_the_pair_back() {
    // Review finding 3, second half: the stored "no pair" was ignored by a
    // worker that then refreshed and stored a pair again.
    let (mut a, host) = connected();
    let mut refresher = a.clone();
    let mut h = Host::with_store(host.stored.clone());
    let call = a.start_disconnect().unwrap();
    h.run(&mut a, call, NOW + 10, |_| Ok(Response::new(200, b"{}".to_vec()))).unwrap();
    let call = refresher.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let err = h.run(&mut refresher, call, NOW + 3590, |req| panic!("nothing is sent: {}", req.url)).unwrap_err();
    assert_eq!(err.code(), "not_connected");
    assert!(refresher.state().tokens().is_none());
}

#[test]
fn a_reconnect_is_not_reverted_by_a_refresh_of_the_old_grant() {
    // Review finding 5: a refresher holding the old grant stored its
    // rotation over the new connection.
    let (mut a, host) = connected();
    let mut refresher = a.clone();
    let mut h = Host::with_store(host.stored.clone());
    a.connect_url_with_state(RETURN, None, NOW + 20, STATE).unwrap();
    let call =
        a.start_complete_connect(&format!("?state={STATE}&code={CODE}&code_context={CONTEXT}"), NOW + 20).unwrap();
    h.run(&mut a, call, NOW + 20, |_| Ok(tokens_answer("at_new", "rt_new", 7200))).unwrap();
    let call = refresher.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    h.run(&mut refresher, call, NOW + 3590, |req| {
        assert!(!req.url.ends_with("/refresh"), "the new pair is fresh: no refresh of the old grant");
        Ok(Response::new(200, vec![]))
    })
    .unwrap();
    assert!(h.stored.contains("at_new"), "the store keeps the new connection");
}

#[test]
fn stora_refusing_a_token_another_worker_replaced_uses_the_new_pair() {
    // Review finding 2: the refused pair was dropped without the lock, over
    // the newer pair another worker had stored.
    let (mut a, host) = connected();
    let store = refreshed_by_another_worker(&a, &host);
    let mut h = Host::with_store(store);
    let call = a.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let done = h.run(&mut a, call, NOW + 100, |req| {
        let bearer = req.headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.as_str());
        Ok(match bearer {
            Some("Bearer at_1") => {
                Response::new(401, br#"{"error":{"type":"authentication_error","code":"invalid_token"}}"#.to_vec())
            }
            _ => Response::new(200, b"[]".to_vec()),
        })
    });
    assert!(done.is_ok(), "{}", h.trace());
    assert!(!h.trace().contains("/refresh"), "no second refresh: {}", h.trace());
    assert!(h.stored.contains("rt_2") && a.state().token_generation() == 2);
}

#[test]
fn a_pair_stora_refuses_again_after_its_refresh_is_dropped_under_the_lock() {
    let (mut a, mut h) = connected();
    let call = a.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    h.reset();
    let err = h
        .run(&mut a, call, NOW + 100, |req| {
            Ok(if req.url.ends_with("/refresh") {
                tokens_answer("at_2", "rt_2", 3600)
            } else {
                Response::new(401, br#"{"error":{"code":"invalid_token"}}"#.to_vec())
            })
        })
        .unwrap_err();
    assert_eq!((err.code(), err.reason()), ("reconnect_required", Some("invalid_token")));
    assert!(h.trace().ends_with("persist, unlock, done reconnect_required"), "{}", h.trace());
    assert_eq!(a.status(), Status::ReconnectRequired);
}

#[test]
fn an_unreadable_refresh_answer_retires_the_old_token_and_asks_for_a_reconnect() {
    // Review finding 6: Stora had rotated, the plugin kept the dead token.
    let (mut a, mut h) = connected();
    h.reset();
    let call = a.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let err = h
        .run(&mut a, call, NOW + 3590, |_| {
            Ok(Response::new(200, br#"{"access_token":"a b","refresh_token":"rt_2","expires_in":3600}"#.to_vec()))
        })
        .unwrap_err();
    assert_eq!((err.code(), err.reason()), ("reconnect_required", Some("invalid_refresh_answer")));
    assert!(h.stored.contains("retired_refresh") && !h.stored.contains("\"refresh_token\":\"rt_1\""));
}

#[test]
fn a_skewed_clock_at_the_proxy_is_learned_and_the_refresh_signed_again_once() {
    // Review finding 13.
    let (mut a, mut h) = connected();
    h.reset();
    let date = tessera_core::internals::classify::fmt_http_date(NOW + 3590 + 900);
    let mut first = true;
    let call = a.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    h.run(&mut a, call, NOW + 3590, |req| {
        Ok(if req.url.ends_with("/refresh") && std::mem::take(&mut first) {
            Response::new(401, br#"{"error":"signature_expired"}"#.to_vec()).with_header("date", &date)
        } else if req.url.ends_with("/refresh") {
            tokens_answer("at_2", "rt_2", 3600)
        } else {
            Response::new(200, b"[]".to_vec())
        })
    })
    .unwrap();
    assert_eq!(h.trace.iter().filter(|t| t.contains("/refresh")).count(), 2);
    assert_eq!(a.clock_offset(), 900);
}

#[test]
fn a_refusal_named_only_in_www_authenticate_refreshes() {
    // Review finding 14.
    let (mut a, mut h) = connected();
    h.reset();
    let mut refused = false;
    let call = a.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    h.run(&mut a, call, NOW + 10, |req| {
        Ok(if req.url.ends_with("/refresh") {
            tokens_answer("at_2", "rt_2", 3600)
        } else if !std::mem::replace(&mut refused, true) {
            Response::new(401, Vec::new()).with_header("www-authenticate", "Bearer error=\"invalid_token\"")
        } else {
            Response::new(200, b"[]".to_vec())
        })
    })
    .unwrap();
    assert_eq!(h.trace.iter().filter(|t| t.contains("/refresh")).count(), 1);
}

#[test]
fn dot_segments_never_leave_the_versioned_api() {
    // Review finding 16.
    let (a, _) = connected();
    for path in ["/api/../oauth2/revoke", "/api/units/%2e%2e/%2E%2E/x", "/api/./units"] {
        assert_eq!(a.start_call(ApiRequest::new("GET", path)).unwrap_err().code(), "invalid_input", "{path}");
    }
    assert!(a.start_call(ApiRequest::new("GET", "/api/units?q=../x")).is_ok(), "a query is not a path");
}

#[test]
fn a_state_that_contradicts_itself_is_refused() {
    // Review finding 15.
    let (a, _) = connected();
    let json = a.to_json();
    let broker_mode = json.replace(r#","proxy":{"stora_api_url":"https://api.stora.example/2025-09","refresh_margin_secs":120,"token":"/token","refresh":"/refresh","revoke":"/revoke"}"#, "");
    assert_ne!(broker_mode, json);
    for (name, bad) in [
        ("tokens in broker mode", broker_mode),
        ("tokens and a broker token", json.replace(r#""broker_token":null"#, r#""broker_token":"btk_x""#)),
        ("no generation", json.replace(r#","token_generation":1"#, "")),
        ("a bad fingerprint", json.replace(r#""token_generation""#, r#""retired_refresh":"x","token_generation""#)),
    ] {
        let err = Companion::from_json(&bad).unwrap_err();
        assert_eq!(err.code(), "state_corrupt", "{name}");
    }
}

#[test]
fn debug_never_shows_a_token_of_a_call_or_an_answer() {
    // Review finding 11.
    let (a, _) = connected();
    let call = a.start_disconnect().unwrap();
    let answer = tokens_answer("at_secret", "rt_secret", 3600);
    let text = format!("{call:?} {answer:?} {:?}", tessera_core::Event::Response(answer.clone()));
    assert!(!text.contains("rt_1") && !text.contains("at_secret") && !text.contains("rt_secret"), "{text}");
    assert!(text.contains("Response(") && text.contains("status: 200"), "what is not secret is shown: {text}");
    // The stored state a lock hands over holds the secret and the pair: its size only.
    let stored = a.to_json();
    assert_eq!(format!("{:?}", Event::Locked(stored.clone())), format!("Locked(<state, {} bytes>)", stored.len()));
    assert_eq!(format!("{:?} {:?}", Event::LockUnavailable, Event::Unlocked), "LockUnavailable Unlocked");
}

#[test]
fn a_sealing_host_stores_and_the_lock_reads_sealed_states() {
    let mut c = Companion::create(tessera_core::Config::proxy(PROXY, STORA)).unwrap();
    c.set_seal_key(&[9; 32]).unwrap();
    c.registration_request(&support::registration("https://shop.example"), &mut support::rng(1)).unwrap();
    c.handle_registration_response_at(&Response::new(201, b"{}".to_vec()), NOW).unwrap();
    let mut h = Host::new(&c);
    h.stored = c.seal_state(&[9; 32], &mut support::rng(2)).unwrap();
    c.connect_url_with_state(RETURN, None, NOW, STATE).unwrap();
    let call = c.start_complete_connect(&format!("?state={STATE}&code={CODE}&code_context={CONTEXT}"), NOW).unwrap();
    h.run(&mut c, call, NOW, |_| Ok(tokens_answer("at_1", "rt_1", 3600))).unwrap();
    assert!(h.stored.starts_with("tsv1.") && !h.stored.contains("rt_1"));
    assert_eq!(c.status(), Status::Connected);
}

#[test]
fn the_lock_released_is_the_lock_taken_even_after_the_installation_is_gone() {
    // Found by the PHP end-to-end test: the uninstall released a lock named
    // for "no installation" (the state was wiped by then).
    let (mut c, _) = connected();
    let id = c.install_id().unwrap().to_owned();
    let mut call = c.start_uninstall();
    let mut names = Vec::new();
    let mut event = tessera_core::Event::Start;
    let mut rng = support::rng(3);
    for step in 0.. {
        assert!(step < support::MAX_STEPS, "the uninstall did not finish: {names:?}");
        event = match c.step(&mut call, event, NOW, &mut rng) {
            tessera_core::Action::Lock(n) => {
                names.push(format!("lock {n}"));
                tessera_core::Event::Locked(c.to_json())
            }
            tessera_core::Action::Unlock(n) => {
                names.push(format!("unlock {n}"));
                tessera_core::Event::Unlocked
            }
            tessera_core::Action::Send(_) => tessera_core::Event::Response(Response::new(200, b"{}".to_vec())),
            tessera_core::Action::Persist(_) => tessera_core::Event::Persisted,
            tessera_core::Action::Done(r) => {
                r.unwrap();
                break;
            }
            other => panic!("{other:?}"),
        };
    }
    assert_eq!(names, [format!("lock tessera-refresh-{id}"), format!("unlock tessera-refresh-{id}")]);
}

// ---- the lock around a write outside a refresh (lock.rs) ----------------------

/// Stora answers a direct call with a reconnect code: a state write of the
/// call's own, outside any refresh.
fn stora_says_reconnect(_: &Request) -> Result<Response, ()> {
    Ok(Response::new(403, br#"{"error":"stora_reconnect_required"}"#.to_vec()))
}

#[test]
fn a_write_outside_the_lock_takes_the_lock_first_and_keeps_the_pair_another_worker_stored() {
    let (mut stale, host) = connected();
    let store = refreshed_by_another_worker(&stale, &host);
    let mut h = Host::with_store(store);
    let call = stale.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let err = h.run(&mut stale, call, NOW + 10, stora_says_reconnect).unwrap_err();
    assert_eq!(err.code(), "reconnect_required");
    let id = stale.install_id().unwrap().to_owned();
    assert_eq!(
        h.trace(),
        format!(
            "send GET https://api.stora.example/2025-09/units, lock tessera-refresh-{id}, persist, unlock, \
             done reconnect_required"
        )
    );
    // Written back as loaded, rt_1 (rotated away at Stora) would replace the live pair.
    assert!(h.stored.contains(r#""refresh_token":"rt_2""#) && !h.stored.contains("rt_1"), "{}", h.stored);
    assert_eq!(stale.state().token_generation(), 2);
}

#[test]
fn a_stored_state_of_the_same_generation_does_not_undo_this_workers_change() {
    let (mut c, mut h) = connected();
    h.reset();
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let err = h.run(&mut c, call, NOW + 10, stora_says_reconnect).unwrap_err();
    assert_eq!(err.reason(), Some("stora_reconnect_required"));
    assert!(h.trace().contains("lock ") && h.trace().ends_with("persist, unlock, done reconnect_required"));
    // The store holds the pair this worker holds (generation 1): nothing to take
    // from it, and the reconnect reason just learned is what gets stored.
    let stored = Companion::from_json(&h.stored).unwrap();
    assert_eq!(stored.reconnect_reason(), Some("stora_reconnect_required"));
    assert_eq!(c.reconnect_reason(), Some("stora_reconnect_required"));
    assert_eq!(stored.state().token_generation(), 1);
}

#[test]
fn a_store_behind_this_worker_lends_it_no_record_of_an_older_grant() {
    // Another worker refreshed (generation 2, rt_1 retired); this worker then
    // reconnected under the lock (generation 3, a new grant with no rotation
    // yet), and the store lost that write: it still holds generation 2.
    let (mut c, host) = connected();
    let behind = refreshed_by_another_worker(&c, &host);
    let mut h = Host::with_store(behind.clone());
    c.connect_url_with_state(RETURN, None, NOW + 20, STATE).unwrap();
    let call =
        c.start_complete_connect(&format!("?state={STATE}&code={CODE}&code_context={CONTEXT}"), NOW + 20).unwrap();
    h.run(&mut c, call, NOW + 20, |_| Ok(tokens_answer("at_new", "rt_new", 7200))).unwrap();
    assert_eq!(c.state().token_generation(), 3);
    // The next write outside the lock finds generation 2 stored.
    let mut h = Host::with_store(behind);
    let call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    h.run(&mut c, call, NOW + 30, stora_says_reconnect).unwrap_err();
    assert!(h.stored.contains(r#""refresh_token":"rt_new""#), "the store is repaired: {}", h.stored);
    assert!(!h.stored.contains("retired_refresh"), "rt_1's record belongs to the old grant: {}", h.stored);
}

#[test]
fn a_registration_before_any_pair_writes_without_the_lock() {
    // No pair exists or existed (generation 0): no other worker can hold one
    // to lose, so nothing waits for the lock.
    let mut c = Companion::create(tessera_core::Config::proxy(PROXY, STORA)).unwrap();
    let call = c.start_registration(&support::registration("https://shop.example")).unwrap();
    let mut h = Host::new(&c);
    h.run(&mut c, call, NOW, |_| Ok(Response::new(201, b"{}".to_vec()))).unwrap();
    assert_eq!(h.trace(), "persist, send POST https://proxy.example/installations, persist, done ok");
    assert_eq!(c.status(), Status::Registered);
}

#[test]
fn lock_events_the_call_did_not_ask_for_are_refused() {
    let (mut c, _) = connected();
    let mut rng = support::rng(4);
    for event in [Event::Locked(c.to_json()), Event::LockUnavailable, Event::Unlocked] {
        let name = format!("{event:?}");
        let mut call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
        match c.step(&mut call, event, NOW, &mut rng) {
            Action::Done(Err(e)) => assert_eq!(e.code(), "invalid_state", "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(c.state().token_generation(), 1, "nothing changed");
}

#[test]
fn uninstalling_a_site_copy_sends_nothing_and_holds_the_lock() {
    let (mut c, mut h) = connected();
    assert!(matches!(c.check_site("https://copy.example").unwrap(), tessera_core::SiteCheck::Mismatch { .. }));
    h.stored = c.to_json();
    h.reset();
    let id = c.install_id().unwrap().to_owned();
    let call = c.start_uninstall();
    let done = h.run(&mut c, call, NOW, |req| panic!("a copy never touches the original: {}", req.url)).unwrap();
    let Completion::Uninstalled(report) = done else { panic!("{done:?}") };
    assert_eq!((report.disconnect, report.deregister), (RemoteStep::Skipped, RemoteStep::Skipped));
    assert_eq!(h.trace(), format!("lock tessera-refresh-{id}, persist, unlock, done ok"));
    assert_eq!(c.status(), Status::NotRegistered);
}

#[test]
fn an_uninstall_by_a_stale_worker_revokes_the_stored_pair_not_its_own() {
    let (mut stale, host) = connected();
    let store = refreshed_by_another_worker(&stale, &host);
    let mut h = Host::with_store(store);
    let call = stale.start_uninstall();
    h.run(&mut stale, call, NOW + 3595, |_| Ok(Response::new(200, b"{}".to_vec()))).unwrap();
    assert_eq!(h.sent[0].url, "https://proxy.example/revoke");
    assert_eq!(h.sent[0].body, br#"{"token":"rt_2"}"#, "the live refresh token is the one revoked");
}

#[test]
fn an_uninstall_after_another_worker_disconnected_only_deregisters() {
    let (mut a, host) = connected();
    let mut other = a.clone();
    let mut ho = Host::with_store(host.stored.clone());
    let call = other.start_disconnect().unwrap();
    ho.run(&mut other, call, NOW + 5, |_| Ok(Response::new(200, b"{}".to_vec()))).unwrap();
    let mut h = Host::with_store(ho.stored);
    let call = a.start_uninstall();
    let done = h.run(&mut a, call, NOW + 10, |_| Ok(Response::new(204, Vec::new()))).unwrap();
    let Completion::Uninstalled(report) = done else { panic!("{done:?}") };
    assert_eq!((report.disconnect, report.deregister), (RemoteStep::Skipped, RemoteStep::Ok));
    assert_eq!(h.sent.len(), 1, "{}", h.trace());
    assert!(h.sent[0].method == "DELETE", "the revoked rt_1 is not sent again: {}", h.trace());
}

#[test]
fn a_call_handles_three_refusals_of_its_token_and_ends_at_the_fourth() {
    // Each time Stora refuses the token, another worker has just stored a
    // newer pair, which this call adopts: without a bound it would go on.
    let (mut a, host) = connected();
    let mut other = a.clone();
    let mut ho = Host::with_store(host.stored.clone());
    let mut newer = std::collections::VecDeque::new();
    for k in 2..=4 {
        // Each of the other worker's refreshes just within its pair's margin.
        let at = NOW + (k - 1) * 3600 - 10;
        let call = other.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
        ho.run(&mut other, call, at, |req| {
            Ok(if req.url.ends_with("/refresh") {
                tokens_answer(&format!("at_{k}"), &format!("rt_{k}"), 3600)
            } else {
                Response::new(200, b"[]".to_vec())
            })
        })
        .unwrap();
        newer.push_back(ho.stored.clone());
    }
    let mut h = Host::with_store(host.stored.clone());
    h.arrivals = newer;
    let call = a.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    let err = h
        .run(&mut a, call, NOW + 10, |_| Ok(Response::new(401, br#"{"error":{"code":"invalid_token"}}"#.to_vec())))
        .unwrap_err();
    assert_eq!((err.code(), err.reason()), ("reconnect_required", Some("invalid_token")));
    let sent: Vec<_> = h.sent.iter().map(|r| header(r, "authorization").unwrap_or_default()).collect();
    assert_eq!(sent, ["Bearer at_1", "Bearer at_2", "Bearer at_3", "Bearer at_4"]);
    assert_eq!(h.trace.iter().filter(|t| t.starts_with("lock")).count(), 3, "{}", h.trace());
    assert!(!h.trace().contains("persist"), "the pair is not this call's to drop: {}", h.trace());
    assert_eq!(a.state().token_generation(), 4);
}

#[test]
fn a_refresh_left_pending_is_not_sent_by_a_companion_outside_proxy_mode() {
    // A host that steps a call with another companion than the one that
    // started it: a companion in broker mode holds no refresh token to send.
    let (mut c, _) = connected();
    let mut broker = support::connected("https://broker.example", 5);
    let mut rng = support::rng(6);
    let later = NOW + 3590;
    let mut call = c.start_call(ApiRequest::new("GET", "/api/units")).unwrap();
    assert!(matches!(c.step(&mut call, Event::Start, later, &mut rng), Action::Lock(_)));
    let stored = c.to_json();
    assert!(matches!(c.step(&mut call, Event::Locked(stored), later, &mut rng), Action::Send(_)));
    // The proxy's clock is ahead: the offset is stored, then the refresh signed again…
    let date = tessera_core::internals::classify::fmt_http_date(later + 900);
    let skewed = Response::new(401, br#"{"error":"signature_expired"}"#.to_vec()).with_header("date", &date);
    assert!(matches!(c.step(&mut call, Event::Response(skewed), later, &mut rng), Action::Persist(_)));
    // …but not by this one: the call releases the lock and ends.
    assert!(matches!(broker.step(&mut call, Event::Persisted, later, &mut rng), Action::Unlock(_)));
    match broker.step(&mut call, Event::Unlocked, later, &mut rng) {
        Action::Done(Err(e)) => assert_eq!(e.code(), "internal"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_wrapped_write_releases_the_lock_before_the_call_goes_on() {
    // A site move the proxy answers with an ownership challenge: the
    // challenge is stored under the lock, and the lock is released before
    // the proof is served and the registration sent again.
    let (mut c, mut h) = connected();
    c.check_site("https://new-shop.example").unwrap();
    h.stored = c.to_json();
    h.reset();
    let id = c.install_id().unwrap().to_owned();
    let call = c.start_site_moved().unwrap();
    let done = h.run(&mut c, call, NOW + 10, |req| {
        Ok(match req.method.as_str() {
            "PATCH" => Response::new(202, br#"{"challenge":"move-challenge-0123456789"}"#.to_vec()),
            _ => Response::new(201, b"{}".to_vec()),
        })
    });
    assert_eq!(done.unwrap(), Completion::SiteMoved);
    let lock = format!("lock tessera-refresh-{id}");
    assert_eq!(
        h.trace(),
        format!(
            "send PATCH https://proxy.example/installations/{id}, {lock}, persist, unlock, \
             send POST https://proxy.example/installations, {lock}, persist, unlock, done ok"
        )
    );
    assert_eq!(c.site_url(), Some("https://new-shop.example"));
    assert!(h.stored.contains(r#""refresh_token":"rt_1""#), "the pair survives the move");
}

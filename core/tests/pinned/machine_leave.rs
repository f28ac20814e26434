//! The step machine's operations (core/src/machine/{leave,connect,previous,
//! register,types}.rs): the uninstall plan, the connect callback's age
//! limit, revoking a previous installation, the ownership-proof rounds, and
//! the vocabulary's own behaviour.

use tessera_core::{Action, Completion, Error, Event, RegistrationOutcome, RemoteStep, Response, TransportError};

use super::machine::{
    BROKER, CHALLENGE, NOW, connect_answer, connected, error, pending_connect, registered, registration, run, status,
};

const PREVIOUS: &str = "ins_cHJldmlvdXMtaW5zdGFsbA";

fn challenge() -> Event {
    Event::Response(Response::new(202, CHALLENGE))
}

/// A registration whose ownership proof was deferred: unconfirmed, challenge kept.
fn awaiting_ownership() -> tessera_core::Companion {
    let mut c = tessera_core::Companion::create(tessera_core::Config::new(BROKER)).unwrap();
    let call = c.start_registration(&registration("https://shop.example")).unwrap();
    let done = run(&mut c, call, vec![challenge(), Event::ProofDeferred]);
    assert_eq!(done.trace, "persist, send POST, persist, serve_proof, done registration");
    c
}

// ---- the uninstall plan -------------------------------------------------------------

// An unconfirmed registration has nothing at the broker worth a signed request.
#[test]
fn uninstalling_an_unconfirmed_registration_sends_nothing() {
    let mut c = awaiting_ownership();
    let call = c.start_uninstall();
    let done = run(&mut c, call, vec![]);
    assert_eq!(done.trace, "persist, done uninstalled");
    let Ok(Completion::Uninstalled(report)) = done.result else { panic!("uninstalled") };
    assert_eq!((report.disconnect, report.deregister), (RemoteStep::Skipped, RemoteStep::Skipped));
    assert!(c.state().installation().is_none());
}

fn deregister(answer: Event) -> RemoteStep {
    let mut c = registered(5);
    let call = c.start_uninstall();
    let done = run(&mut c, call, vec![answer]);
    assert_eq!(done.trace, "send DELETE, persist, done uninstalled");
    let Ok(Completion::Uninstalled(report)) = done.result else { panic!("uninstalled") };
    report.deregister
}

// Nothing left to deregister (404, or a registration the broker no longer
// accepts) is success; any other 4xx is a failed step.
#[test]
fn deregister_counts_a_gone_registration_as_done() {
    assert_eq!(deregister(status(204)), RemoteStep::Ok);
    assert_eq!(deregister(error(404, "not_found")), RemoteStep::Ok);
    assert_eq!(deregister(error(401, "signature_invalid")), RemoteStep::Ok);
    assert_eq!(deregister(error(401, "unknown_installation")), RemoteStep::Ok);
    let gone = deregister(error(410, "gone"));
    assert_eq!((gone.as_str(), gone.error().map(Error::code)), ("failed", Some("client_error")));
    assert_eq!(deregister(error(401, "replayed")).as_str(), "failed");
}

// ---- connect: the callback's age ----------------------------------------------------

fn complete_at(now: i64) -> String {
    let mut c = registered(6);
    let callback = pending_connect(&mut c, NOW);
    let call = c.start_complete_connect(&callback, now).unwrap();
    let answers = if now.abs_diff(NOW) > 600 { vec![] } else { vec![connect_answer("btk_bmV3LXRva2Vu")] };
    run(&mut c, call, answers).trace
}

#[test]
fn a_callback_is_accepted_up_to_ten_minutes_either_way() {
    for now in [NOW + 600, NOW - 600, NOW] {
        assert_eq!(complete_at(now), "persist, send POST, persist, done connected", "{now}");
    }
    for now in [NOW + 601, NOW - 601] {
        assert_eq!(complete_at(now), "persist, done callback_expired", "{now}");
    }
}

#[test]
fn the_account_is_shown_only_while_connected() {
    let mut c = registered(7);
    assert_eq!(c.account(), None);
    let callback = pending_connect(&mut c, NOW);
    let call = c.start_complete_connect(&callback, NOW).unwrap();
    run(&mut c, call, vec![connect_answer("btk_bmV3LXRva2Vu")]);
    let account = c.account().unwrap();
    assert_eq!((account.id.as_str(), account.name.as_str()), ("op_test", "Test Storage"));
    let call = c.start_disconnect().unwrap();
    run(&mut c, call, vec![status(204)]);
    assert_eq!(c.account(), None);
}

// The connect code exchange carries exactly the code and state of the callback.
#[test]
fn the_exchange_sends_the_code_and_state() {
    let mut c = registered(8);
    let callback = pending_connect(&mut c, NOW);
    let call = c.start_complete_connect(&callback, NOW).unwrap();
    let done = run(&mut c, call, vec![connect_answer("btk_bmV3LXRva2Vu")]);
    let body = String::from_utf8(done.sent[0].body.clone()).unwrap();
    assert_eq!(body, r#"{"code":"cc_Zm9yLXRlc3RzLW9ubHk","state":"cccccccccccccccccccccc"}"#);
}

// ---- revoking a previous installation -----------------------------------------------

fn revoke(answer: Event) -> tessera_core::Result<Completion> {
    let mut c = connected(9);
    let call = c.start_revoke_previous(PREVIOUS).unwrap();
    let done = run(&mut c, call, vec![answer]);
    assert_eq!(done.trace.split(", ").next(), Some("send POST"));
    done.result
}

// Only `404 previous_installation_not_found` means "nothing left"; the same
// code on another status, or another 404, is a client error.
#[test]
fn only_a_404_previous_not_found_ends_as_nothing_left() {
    let gone = revoke(error(404, "previous_installation_not_found"));
    assert!(matches!(gone, Ok(Completion::PreviousRevoked { revoked: false })));
    assert!(matches!(revoke(status(204)), Ok(Completion::PreviousRevoked { revoked: true })));
    for (code, name) in [(404, "not_found"), (410, "previous_installation_not_found")] {
        let err = revoke(error(code, name)).unwrap_err();
        assert_eq!(err.code(), "client_error", "{code} {name}");
    }
}

// A reconnect or registration code on a revoke is that request's error: the
// broker token and the registration are kept.
#[test]
fn a_refused_revoke_changes_nothing_locally() {
    for name in ["stora_reconnect_required", "signature_invalid"] {
        let mut c = connected(9);
        let before = c.to_json();
        let call = c.start_revoke_previous(PREVIOUS).unwrap();
        let done = run(&mut c, call, vec![error(401, name)]);
        assert!(!done.trace.contains("persist"), "{name}: {}", done.trace);
        assert_eq!(c.to_json(), before, "{name}");
    }
}

// ---- registration: ownership-proof rounds -------------------------------------------

// A resumed round counts the proof it serves again: at most two in all.
#[test]
fn a_resumed_registration_serves_at_most_two_proofs() {
    let mut c = awaiting_ownership();
    let call = c.start_registration(&registration("https://shop.example")).unwrap();
    let answers = vec![Event::ProofServed, challenge(), Event::ProofServed, challenge()];
    let done = run(&mut c, call, answers);
    assert_eq!(
        done.trace,
        "persist, serve_proof, send POST, persist, serve_proof, send POST, persist, done registration"
    );
    let Ok(Completion::Registration(RegistrationOutcome::OwnershipChallenge(_))) = done.result else {
        panic!("awaiting ownership")
    };
}

// ---- the vocabulary -----------------------------------------------------------------

#[test]
fn transport_error_names_round_trip() {
    for (kind, name) in [(TransportError::Network, "network"), (TransportError::Redirect, "redirect")] {
        assert_eq!(kind.as_str(), name);
        assert_eq!(TransportError::parse(name), Some(kind));
    }
    assert_eq!(TransportError::parse("timeout"), None);
}

#[test]
fn remote_steps_name_themselves_and_their_failure() {
    assert_eq!((RemoteStep::Ok.as_str(), RemoteStep::Ok.error()), ("ok", None));
    assert_eq!((RemoteStep::Skipped.as_str(), RemoteStep::Skipped.error()), ("skipped", None));
    let failed = RemoteStep::Failed(Error::NotConnected);
    assert_eq!((failed.as_str(), failed.error()), ("failed", Some(&Error::NotConnected)));
}

// Debug never prints the state JSON (it holds the secret).
#[test]
fn action_debug_hides_the_state() {
    assert_eq!(format!("{:?}", Action::Persist(r#"{"secret":"s3cr3t"}"#.into())), "Persist(<state, 19 bytes>)");
    assert_eq!(format!("{:?}", Action::Sleep(250)), "Sleep(250)");
    assert_eq!(format!("{:?}", Action::Done(Ok(Completion::SiteMoved))), "Done(Ok(SiteMoved))");
}

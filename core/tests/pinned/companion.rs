//! Pins core/src/companion.rs: configuration limits, when a registration
//! reuses or replaces the installation, the registration answers, which
//! states may sign what, the connect `state`, and sealed persistence.

use tessera_core::internals::classify::fmt_http_date;
use tessera_core::{
    Action, ApiRequest, Companion, Config, Error, Event, Registration, RegistrationOutcome, Response, RetryPolicy,
    SeededEntropy, SignOptions, SiteCheck, verify_connect_url,
};

const NOW: i64 = 1_700_000_000;
const SITE: &str = "https://shop.example";
const RETURN: &str = "https://shop.example/wp-admin/options-general.php?page=tessera";
const CHALLENGE: &str = "challenge-0123456789";

fn rng() -> SeededEntropy {
    SeededEntropy::new([6; 32])
}

fn reg(site: &str) -> Registration {
    Registration {
        site_url: site.into(),
        admin_email: "owner@shop.example".into(),
        platform: "wordpress".into(),
        plugin_version: "1.2.3".into(),
    }
}

fn pending() -> Companion {
    let mut c = Companion::create(Config::new("https://broker.example")).unwrap();
    c.registration_request(&reg(SITE), &mut rng()).unwrap();
    c
}

fn registered() -> Companion {
    let mut c = pending();
    c.handle_registration_response_at(&Response::new(201, b"{}".to_vec()), NOW).unwrap();
    c
}

/// `c` with its state changed by `f`, restored as a host would.
fn edited(c: &Companion, f: impl FnOnce(&mut serde_json::Value)) -> Companion {
    let mut s: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
    f(&mut s);
    // The status member is derived again on reading.
    Companion::from_json(&s.to_string()).unwrap()
}

/// A confirmed registration whose site move awaits its ownership proof.
fn moving() -> Companion {
    edited(&registered(), |s| s["installation"]["challenge"] = CHALLENGE.into())
}

fn challenge_answer() -> Response {
    Response::new(202, format!(r#"{{"challenge":"{CHALLENGE}"}}"#).into_bytes())
}

fn rejected(code: &str) -> Response {
    Response::new(403, format!(r#"{{"error":"{code}"}}"#).into_bytes())
}

fn retry_err(f: impl FnOnce(&mut RetryPolicy)) -> Option<&'static str> {
    let mut config = Config::new("https://broker.example");
    f(&mut config.retry);
    Companion::create(config).err().map(|e| e.code())
}

// ---- configuration ----------------------------------------------------------

#[test]
fn retry_policy_limits_are_inclusive() {
    assert_eq!(retry_err(|r| r.max_attempts = 1), None);
    assert_eq!(retry_err(|r| r.max_attempts = 10), None);
    assert_eq!(retry_err(|r| r.max_delay_ms = 600_000), None);
    assert_eq!(retry_err(|r| r.max_total_delay_ms = 3_600_000), None);
    assert_eq!(retry_err(|r| r.max_retry_after_ms = 3_600_000), None);
}

#[test]
fn retry_policy_each_limit_is_checked_alone() {
    assert_eq!(retry_err(|r| r.max_attempts = 0), Some("invalid_input"));
    assert_eq!(retry_err(|r| r.max_attempts = 11), Some("invalid_input"));
    assert_eq!(retry_err(|r| r.max_delay_ms = 600_001), Some("invalid_input"));
    assert_eq!(retry_err(|r| r.max_total_delay_ms = 3_600_001), Some("invalid_input"));
    assert_eq!(retry_err(|r| r.max_retry_after_ms = 3_600_001), Some("invalid_input"));
}

#[test]
fn broker_must_be_https_or_loopback_http() {
    let code = |url: &str| Companion::create(Config::new(url)).err().map(|e| e.code());
    assert_eq!(code("https://broker.example"), None);
    assert_eq!(code("http://127.0.0.1:8080"), None);
    assert_eq!(code("http://broker.example"), Some("insecure_broker_url"));
    assert_eq!(code("https://broker.example/?a=1"), Some("invalid_url"));
}

#[test]
fn accessors_report_the_state() {
    let fresh = Companion::create(Config::new("https://broker.example")).unwrap();
    assert_eq!((fresh.install_id(), fresh.site_url()), (None, None));
    let c = registered();
    assert_eq!(c.config().broker_url, "https://broker.example");
    assert_eq!(c.site_url(), Some(SITE));
    assert!(c.install_id().unwrap().starts_with("ins_"));
    assert_eq!(c.reconnect_reason(), None);
    let lost = edited(&c, |s| s["reconnect_reason"] = "stora_reconnect_required".into());
    assert_eq!(lost.reconnect_reason(), Some("stora_reconnect_required"));
    assert_eq!(lost.status().as_str(), "reconnect_required");
    assert_eq!(Companion::from_json(&c.to_json()).unwrap().state(), c.state());
}

// ---- registration -----------------------------------------------------------

#[test]
fn pending_registration_is_repeated_with_the_same_id() {
    let mut c = pending();
    let id = c.install_id().unwrap().to_owned();
    c.registration_request(&reg("https://other.example"), &mut SeededEntropy::new([7; 32])).unwrap();
    assert_eq!(c.install_id(), Some(id.as_str()));
    assert_eq!(c.site_url(), Some("https://other.example"), "a pending registration may change its site");
}

#[test]
fn confirmed_registration_is_not_registered_again() {
    let mut c = registered();
    let err = c.registration_request(&reg(SITE), &mut rng()).unwrap_err();
    assert_eq!(err, Error::InvalidState("already registered; uninstall or reset first to register again"));
}

#[test]
fn invalid_registration_registers_with_a_new_id() {
    let c = registered();
    let id = c.install_id().unwrap().to_owned();
    let mut c = edited(&c, |s| s["installation"]["invalid_reason"] = "unknown_installation".into());
    c.registration_request(&reg(SITE), &mut SeededEntropy::new([7; 32])).unwrap();
    assert_ne!(c.install_id(), Some(id.as_str()));
    assert_eq!(c.status().as_str(), "registration_pending");
}

#[test]
fn site_move_proof_round_reuses_the_id_for_its_own_site_only() {
    let mut c = moving();
    let id = c.install_id().unwrap().to_owned();
    c.registration_request(&reg(SITE), &mut SeededEntropy::new([7; 32])).unwrap();
    assert_eq!(c.install_id(), Some(id.as_str()));
    let err = moving().registration_request(&reg("https://other.example"), &mut rng()).unwrap_err();
    assert_eq!(err.code(), "site_mismatch");
}

#[test]
fn large_clock_skew_is_learned_from_the_registration_answer() {
    let answer = |skew: i64| {
        let mut c = pending();
        let resp = Response::new(201, b"{}".to_vec()).with_header("date", &fmt_http_date(NOW + skew));
        c.handle_registration_response_at(&resp, NOW).unwrap();
        c.clock_offset()
    };
    assert_eq!(answer(60), 0, "60 s is within the threshold");
    assert_eq!(answer(61), 61);
    assert_eq!(answer(-3600), -3600);
}

#[test]
fn learned_clock_offset_corrects_signatures() {
    let c = edited(&registered(), |s| s["clock_offset"] = 3600.into());
    assert_eq!(c.clock_offset(), 3600);
    let signed =
        c.sign_request(&ApiRequest::new("GET", "/api/x"), &SignOptions { now: NOW, ..Default::default() }, &mut rng());
    let input = signed.unwrap().header("signature-input").unwrap().to_owned();
    assert!(input.contains(&format!(";created={};", NOW + 3600)), "{input}");
}

#[test]
fn conflict_discards_a_pending_registration_only() {
    let mut c = pending();
    let err = c.handle_registration_response_at(&Response::new(409, b"{}".to_vec()), NOW).unwrap_err();
    assert_eq!(err.code(), "registration_conflict");
    assert_eq!(c.install_id(), None, "a fresh id next time");
    let mut m = moving();
    let id = m.install_id().unwrap().to_owned();
    let err = m.handle_registration_response_at(&Response::new(409, b"{}".to_vec()), NOW).unwrap_err();
    assert_eq!(err.code(), "registration_conflict");
    assert_eq!(m.install_id(), Some(id.as_str()), "a confirmed registration is kept");
}

#[test]
fn lost_challenge_discards_the_pending_registration() {
    let mut c = pending();
    let err = c.handle_registration_response_at(&rejected("ownership_proof_invalid"), NOW).unwrap_err();
    assert_eq!(err.code(), "registration_rejected");
    assert_eq!(c.install_id(), None);
}

#[test]
fn other_403_keeps_the_pending_registration() {
    let mut c = pending();
    let err = c.handle_registration_response_at(&rejected("forbidden"), NOW).unwrap_err();
    assert_eq!(err, Error::RegistrationRejected { status: 403, reason: "forbidden".into() });
    assert!(c.install_id().is_some());
}

#[test]
fn failed_proof_keeps_a_registration_that_saw_its_challenge() {
    let mut c = pending();
    let outcome = c.handle_registration_response_at(&challenge_answer(), NOW).unwrap();
    let id = c.install_id().unwrap().to_owned();
    let RegistrationOutcome::OwnershipChallenge(proof) = outcome else { panic!("{outcome:?}") };
    assert_eq!(proof, c.ownership_proof().unwrap());
    assert_eq!(proof.path, format!("/.well-known/tessera/{id}"));
    assert_eq!(proof.url, format!("{SITE}/.well-known/tessera/{id}"));
    c.handle_registration_response_at(&rejected("ownership_proof_invalid"), NOW).unwrap_err();
    assert_eq!(c.install_id(), Some(id.as_str()));
    // Also when the registration is confirmed but invalid, re-registering.
    let mut inv = edited(&registered(), |s| s["installation"]["invalid_reason"] = "x".into());
    let id = inv.install_id().unwrap().to_owned();
    inv.handle_registration_response_at(&rejected("ownership_proof_invalid"), NOW).unwrap_err();
    assert_eq!(inv.install_id(), Some(id.as_str()));
}

// ---- who may sign what --------------------------------------------------------

#[test]
fn leaving_needs_a_confirmed_registration() {
    // Unconfirmed, with or without a challenge: nothing to leave.
    assert_eq!(pending().start_disconnect().unwrap_err(), Error::NotRegistered);
    let mut awaiting = pending();
    awaiting.handle_registration_response_at(&challenge_answer(), NOW).unwrap();
    assert_eq!(awaiting.start_disconnect().unwrap_err(), Error::NotRegistered);
    // A site move awaiting its proof may still leave, unless the site differs again.
    assert_eq!(moving().start_disconnect().unwrap_err(), Error::NotConnected);
    let mut elsewhere = moving();
    elsewhere.check_site("https://third.example").unwrap();
    assert_eq!(elsewhere.start_disconnect().unwrap_err().code(), "site_mismatch");
    let invalid = edited(&moving(), |s| s["installation"]["invalid_reason"] = "x".into());
    assert_eq!(invalid.start_disconnect().unwrap_err().code(), "registration_invalid");
}

#[test]
fn api_calls_carry_the_broker_token_but_the_connect_exchange_does_not() {
    let mut c = edited(&registered(), |s| s["broker_token"] = "btk_held".into());
    let opts = SignOptions { now: NOW, ..Default::default() };
    let api = c.sign_request(&ApiRequest::new("GET", "/api/x"), &opts, &mut rng()).unwrap();
    assert_eq!(api.header("authorization"), Some("Bearer btk_held"));
    // A reconnect: the completion is signed as the installation only.
    let state = "ssssssssssssssssssss";
    c.connect_url_with_state(RETURN, None, NOW, state).unwrap();
    let mut call = c.start_complete_connect(&format!("?state={state}&code=cc_0123456789abcdef"), NOW).unwrap();
    let mut event = Event::Start;
    let sent = loop {
        event = match c.step(&mut call, event, NOW, &mut rng()) {
            Action::Send(req) => break req,
            Action::Persist(_) => Event::Persisted,
            other => panic!("{other:?}"),
        };
    };
    assert_eq!(sent.header("authorization"), None);
    assert!(sent.header("signature").is_some());
}

// ---- connect, copies, sealing ----------------------------------------------------

#[test]
fn connect_state_is_16_to_128_profile_characters() {
    let with = |state: &str| registered().connect_url_with_state(RETURN, None, NOW, state).err().map(|e| e.code());
    assert_eq!(with(&"s".repeat(16)), None, "16");
    assert_eq!(with(&"s".repeat(128)), None, "128");
    assert_eq!(with(&"s".repeat(15)), Some("invalid_input"), "15");
    assert_eq!(with(&"s".repeat(129)), Some("invalid_input"), "129");
    assert_eq!(with("ssssssss ssssssss"), Some("invalid_input"), "a space");
}

#[test]
fn connect_url_verifies_and_records_the_pending_connect() {
    let mut c = registered();
    let url = c.connect_url(RETURN, None, NOW, &mut rng()).unwrap();
    let s = c.state().installation().unwrap().secret.clone();
    let params = verify_connect_url(&url, NOW, &mut |_| Some(s.clone())).unwrap();
    let pending = c.state().pending_connect().unwrap().clone();
    assert_eq!((pending.state.clone(), pending.created), (params.state.clone(), NOW));
    assert_eq!(params.state.len(), 22);
    assert!(url.starts_with("https://broker.example/connect?install_id="), "{url}");
}

#[test]
fn site_copy_forgets_the_registration() {
    let mut c = registered();
    assert_eq!(c.check_site("https://shop.example/").unwrap(), SiteCheck::Same);
    let mismatch = SiteCheck::Mismatch { registered: SITE.into(), current: "https://copy.example".into() };
    assert_eq!(c.check_site("https://copy.example").unwrap(), mismatch);
    assert_eq!(c.state().site_mismatch(), Some("https://copy.example"));
    c.resolve_site_as_copy();
    assert_eq!((c.install_id(), c.status().as_str()), (None, "not_registered"));
    assert_eq!(c.state().site_mismatch(), None);
}

#[test]
fn sealed_state_opens_with_its_key_only() {
    let c = registered();
    let sealed = c.seal_state(&[1; 32], &mut rng()).unwrap();
    assert_eq!(Companion::open_state(&sealed, &[1; 32]).unwrap().state(), c.state());
    assert_eq!(Companion::open_state(&sealed, &[2; 32]).unwrap_err().code(), "state_undecryptable");
}

/// The first thing a connect completion asks the host to persist.
fn first_persist(c: &mut Companion) -> String {
    let state = "pppppppppppppppppppp";
    c.connect_url_with_state(RETURN, None, NOW, state).unwrap();
    let mut call = c.start_complete_connect(&format!("?state={state}&code=cc_0123456789abcdef"), NOW).unwrap();
    match c.step(&mut call, Event::Start, NOW, &mut rng()) {
        Action::Persist(text) => text,
        other => panic!("{other:?}"),
    }
}

#[test]
fn persisted_form_is_json_or_sealed_with_the_seal_key() {
    let mut plain = registered();
    let json = first_persist(&mut plain);
    assert_eq!(json, plain.to_json());
    let mut sealed = registered();
    sealed.set_seal_key(&[3; 32]).unwrap();
    let text = first_persist(&mut sealed);
    assert_eq!(Companion::from_json(&text).unwrap_err().code(), "state_corrupt");
    assert_eq!(Companion::open_state(&text, &[3; 32]).unwrap().state(), sealed.state());
    assert_eq!(sealed.set_seal_key(&[3; 8]).unwrap_err().code(), "invalid_input");
}

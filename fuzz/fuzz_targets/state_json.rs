//! Feeds arbitrary text to `Companion::from_json` (the state blob a host
//! persists). Asserts: no panic; a state that loads serialises to JSON that
//! loads to the same state and serialises to the same JSON (`to_json` →
//! `from_json` is a fixed point); then every operation a host runs on a loaded
//! state — site check, signing, connect URL, callback, uninstall link, a call
//! through the step machine, the uninstall plan — ends in a value or a typed
//! error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::internals::classify::fmt_http_date;
use tessera_core::{Action, ApiRequest, Companion, Event, Response, SeededEntropy, SignOptions};
use tessera_fuzz::NOW;

/// Runs a call to its end, answering every send with `answer`, as a host
/// whose store holds the companion's state (proxy mode's lock hands it back).
fn drive(c: &mut Companion, call: &mut tessera_core::Call, answer: &Response, rng: &mut SeededEntropy) {
    let mut stored = c.to_json();
    let mut event = Event::Start;
    for _ in 0..48 {
        match c.step(call, event, NOW, rng) {
            Action::Send(_) => event = Event::Response(answer.clone()),
            Action::Sleep(_) => event = Event::Slept,
            Action::Persist(json) => {
                assert!(Companion::from_json(&json).is_ok(), "the machine persisted a state that does not load");
                stored = json;
                event = Event::Persisted;
            }
            Action::ServeProof(_) => event = Event::ProofServed,
            Action::Lock(_) => event = Event::Locked(stored.clone()),
            Action::Unlock(_) => event = Event::Unlocked,
            Action::Done(_) => return,
        }
    }
    panic!("a call did not finish in 48 steps");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(c) = Companion::from_json(&text) else { return };
    let json = c.to_json();
    let back = Companion::from_json(&json).unwrap_or_else(|e| panic!("to_json output does not load: {e:?}\n{json}"));
    assert_eq!(back.state(), c.state(), "to_json -> from_json changed the state");
    assert_eq!(back.to_json(), json, "to_json is not a fixed point");

    let mut rng = SeededEntropy::new([1; 32]);
    let mut c = c;
    let _ = c.clone().check_site("https://shop.example");
    let _ =
        c.sign_request(&ApiRequest::new("POST", "/api/x"), &SignOptions { now: NOW, ..Default::default() }, &mut rng);
    let _ = c.uninstall_url(NOW);
    let _ = tessera_fuzz::complete_connect(&mut c.clone(), "state=cGVuZGluZy1zdGF0ZS0x&code=cc_ZnV6ei1jb2RlLTAx", NOW, "btk_1");
    let _ = c.clone().connect_url("https://shop.example/cb", Some("orders:read"), NOW, &mut rng);
    if let Ok(mut call) = c.start_call(ApiRequest::new("GET", "/api/orders")) {
        let expired = Response::new(401, br#"{"error":"signature_expired"}"#.to_vec())
            .with_header("Date", &fmt_http_date(NOW + 1000));
        drive(&mut c.clone(), &mut call.clone(), &expired, &mut rng);
        drive(&mut c.clone(), &mut call, &Response::new(503, vec![]), &mut rng);
    }
    if let Ok(mut call) = c.start_site_moved() {
        drive(&mut c.clone(), &mut call, &Response::new(200, vec![]), &mut rng);
    }
    let mut call = c.start_uninstall();
    drive(&mut c, &mut call, &Response::new(500, vec![]), &mut rng);
});

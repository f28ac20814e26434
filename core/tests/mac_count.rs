//! Verification computes each MAC once (issue 16), counted by the core's
//! test-hooks counter. Its own test binary, one test: nothing else computes a
//! MAC while it counts. Runs with `--features test-hooks` (the test command's
//! suite 00-rust, and cargo-mutants through .cargo/mutants.toml).
#![cfg(feature = "test-hooks")]

mod support;

use support::{NOW, connected, secret_of};
use tessera_core::internals::verify::mac_checks;
use tessera_core::{ApiRequest, MemoryReplayStore, SeededEntropy, SignOptions, Verifier, begin_connect_url};
use tessera_core::{begin_uninstall_ticket, internals::connect::UNINSTALL_TICKET_MAX_AGE_SECS};

#[test]
fn each_verification_computes_its_mac_once() {
    let mut c = connected("https://broker.example", 9);
    let secret = secret_of(&c);
    let opts = SignOptions { now: NOW, nonce: Some("mac-count".into()), idempotency_key: None };
    let req = c.sign_request(&ApiRequest::new("GET", "/api/orders"), &opts, &mut SeededEntropy::new([9; 32])).unwrap();

    let before = mac_checks();
    let v = Verifier::default().begin(&req, NOW).unwrap().check(Some(&secret)).unwrap();
    assert_eq!(mac_checks() - before, 1, "a request: one MAC");
    v.record_in(&mut MemoryReplayStore::new(4)).unwrap();
    assert_eq!(mac_checks() - before, 1, "the replay step computes none");

    let before = mac_checks();
    assert!(Verifier::default().begin(&req, NOW + 301).is_err());
    assert!(Verifier::default().begin(&req, NOW).unwrap().check(None).is_err());
    assert_eq!(mac_checks(), before, "refused before the MAC: none");

    let url = c.connect_url_with_state("https://shop.example/cb", None, NOW, "c3RhdGUtbWFjLWNvdW50").unwrap();
    let before = mac_checks();
    begin_connect_url(&url, NOW).unwrap().check(Some(&secret)).unwrap();
    assert_eq!(mac_checks() - before, 1, "a connect URL: one MAC");

    let ticket = c.uninstall_url(NOW).unwrap();
    let before = mac_checks();
    let id = c.install_id().unwrap().to_owned();
    begin_uninstall_ticket(&id, &ticket, NOW, UNINSTALL_TICKET_MAX_AGE_SECS).unwrap().check(Some(&secret)).unwrap();
    assert_eq!(mac_checks() - before, 1, "an uninstall ticket: one MAC");
}

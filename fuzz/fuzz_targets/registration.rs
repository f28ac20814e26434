//! Registration answers: start line `<now> <state-index> <status>` (one of the
//! states of `tests/vectors/ownership.json`), header lines, blank line, body,
//! for `Companion::handle_registration_response_at` (once at a fixed `now`,
//! once at the given one). Asserts: no panic; 201 registers; an ownership challenge yields a
//! proof the broker-side `check_ownership_proof` accepts for that challenge
//! and install id, at the documented path; a learned clock offset is the
//! broker's `Date` minus `now`; the state still round-trips through JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::internals::registration::ownership_path;
use tessera_core::{Companion, RegistrationOutcome, Response, Status, check_ownership_proof};
use tessera_fuzz::{Message, companion_from, parse_now, registration_states, secret_of};

fuzz_target!(|data: &[u8]| {
    let m = Message::parse(data);
    let now = parse_now(m.field(0));
    let mut c = companion_from(registration_states(), m.field(1));
    let status = m.field(2).parse::<u16>().unwrap_or(0);
    let resp = Response { status, headers: m.headers, body: m.body };

    let _ = c.clone().handle_registration_response_at(&resp, 1_700_000_000);
    let offset_before = c.clock_offset();
    match c.handle_registration_response_at(&resp, now) {
        Ok(RegistrationOutcome::Registered) => {
            assert!(matches!(status, 200 | 201));
            assert!(matches!(
                c.status(),
                Status::Registered | Status::Connected | Status::ReconnectRequired | Status::SiteMismatch
            ));
        }
        Ok(RegistrationOutcome::OwnershipChallenge(proof)) => {
            assert_eq!(status, 202);
            assert_eq!(c.status(), Status::AwaitingOwnership);
            let inst = c.state().installation().expect("registered");
            let challenge = inst.challenge.as_deref().expect("challenge kept");
            assert_eq!(proof.path, ownership_path(&inst.id));
            assert_eq!(proof.url, format!("{}{}", inst.site_url, proof.path));
            assert!(check_ownership_proof(&secret_of(&c), &inst.id, challenge, &proof.body, 0).is_ok());
        }
        Err(_) => {}
    }
    if c.clock_offset() != offset_before {
        let date = tessera_core::classify(&resp, now).server_date.expect("an offset is learned from a Date");
        assert_eq!(c.clock_offset(), date - now);
    }
    let json = c.to_json();
    let back = Companion::from_json(&json).expect("state after a registration answer reloads");
    assert_eq!(back.state(), c.state());
});

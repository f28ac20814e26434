//! Feeds a framed request (start line `<now> <secret-base64url> <method>
//! <url>`, then header lines, a blank line and the body; see `src/lib.rs`) to
//! the broker-side `Verifier::verify` with a fresh replay store; every keyid
//! maps to the given secret. Asserts: no panic; a request that verifies is
//! refused as `replayed` the second time, and refused (never accepted) once
//! its body changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::{Error, MemoryReplayStore, Request, Verifier};
use tessera_fuzz::{Message, parse_now, secret_or_default};

fuzz_target!(|data: &[u8]| {
    let m = Message::parse(data);
    let now = parse_now(m.field(0));
    let secret = secret_or_default(m.field(1));
    let req = Request { method: m.field(2).to_owned(), url: m.field(3).to_owned(), headers: m.headers, body: m.body };
    let mut replay = MemoryReplayStore::new(16);
    let verifier = Verifier::default();
    let mut secret_for = |_: &str| Some(secret.clone());
    let Ok(verified) = verifier.verify(&req, now, &mut secret_for, &mut replay) else { return };
    assert!((now - verified.created).abs() <= verifier.window_secs && verified.expires >= now);
    assert_eq!(verifier.verify(&req, now, &mut secret_for, &mut replay), Err(Error::Replayed));
    let mut changed = req.clone();
    changed.body.push(b'!');
    assert!(Verifier::default().verify(&changed, now, &mut secret_for, &mut MemoryReplayStore::new(16)).is_err());
});

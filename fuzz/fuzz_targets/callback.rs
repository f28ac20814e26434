//! Plugin side of the connect callback: the first line is `<now>
//! <state-index>` (one of the states of `tests/vectors/callback.json`: pending
//! connect, none pending, connected), the rest is the callback (full URL,
//! `?query` or bare query) for `Companion::start_complete_connect`, whose
//! exchange the broker answers with a token. Asserts: no
//! panic; success means connected with no pending connect; a failure keeps the
//! previous broker token and either keeps the pending connect or consumes it;
//! the state still round-trips through JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::{Companion, Status};
use tessera_fuzz::{callback_states, companion_from, complete_connect, parse_now};

fuzz_target!(|data: &[u8]| {
    let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let first = String::from_utf8_lossy(&data[..end]);
    let mut fields = first.split(' ');
    let now = parse_now(fields.next().unwrap_or(""));
    let mut c = companion_from(callback_states(), fields.next().unwrap_or("0"));
    let callback = String::from_utf8_lossy(&data[(end + 1).min(data.len())..]);

    let before = c.state().clone();
    match complete_connect(&mut c, &callback, now, "btk_fuzz") {
        Ok(_) => {
            assert_eq!(c.status(), Status::Connected);
            assert!(c.state().pending_connect().is_none());
        }
        Err(_) => {
            assert_eq!(c.state().broker_token(), before.broker_token(), "a failed callback changed the token");
            assert!(c.state().pending_connect() == before.pending_connect() || c.state().pending_connect().is_none());
        }
    }
    let json = c.to_json();
    let back = Companion::from_json(&json).expect("state after a callback reloads");
    assert_eq!(back.state(), c.state());
});

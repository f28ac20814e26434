//! The whole connect flow with arbitrary inputs (structured with `arbitrary`):
//! the plugin builds a connect URL for an arbitrary return URL, scope, state
//! and clock; the broker verifies it; the broker's callback (built exactly as
//! PROTOCOL.md §5.4 says: `&` or `?`, then `state` and `code`,
//! percent-encoded) completes the connect, the exchange answered with a
//! token. Asserts: every connect URL the plugin builds verifies and yields the
//! same state, return URL and scope; its callback then connects the plugin
//! with that token.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tessera_core::internals::encoding::pct_encode;
use tessera_core::{Companion, Status, verify_connect_url};
use tessera_fuzz::{NOW, complete_connect, fixture, secret_of};

#[derive(Arbitrary, Debug)]
struct Input {
    return_url: String,
    scope: Option<String>,
    state: String,
    now_offset: u32,
    callback_delay: u16,
    token: String,
    code: String,
}

fn registered() -> &'static Companion {
    static C: OnceLock<Companion> = OnceLock::new();
    C.get_or_init(|| fixture("https://broker.example", 3, None))
}

fuzz_target!(|input: Input| {
    let mut c = registered().clone();
    let now = NOW + i64::from(input.now_offset);
    let Ok(url) = c.connect_url_with_state(&input.return_url, input.scope.as_deref(), now, &input.state) else {
        return;
    };
    let secret = secret_of(&c);
    let p = verify_connect_url(&url, now, &mut |_| Some(secret.clone()))
        .unwrap_or_else(|e| panic!("the plugin's own connect URL does not verify: {e:?}\n{url}"));
    assert_eq!(Some(p.install_id.as_str()), c.install_id());
    assert_eq!(p.state, input.state);
    assert_eq!(p.return_url, input.return_url);
    assert_eq!(p.scope, input.scope);

    // Broker tokens: 1-512 of [A-Za-z0-9-._~+/=]; anything else is the broker's bug.
    let token: String =
        input.token.chars().filter(|c| c.is_ascii_alphanumeric() || "-._~+/=".contains(*c)).take(512).collect();
    let token = if token.is_empty() { "btk_x".to_owned() } else { token };
    let sep = if p.return_url.contains('?') { '&' } else { '?' };
    // Connect codes: 16-256 of [A-Za-z0-9-._~].
    let code: String =
        input.code.chars().filter(|c| c.is_ascii_alphanumeric() || "-._~".contains(*c)).take(240).collect();
    let code = format!("cc_{code:_<13}");
    let callback = format!("{}{sep}state={}&code={}", p.return_url, pct_encode(&p.state), pct_encode(&code));
    let later = now + i64::from(input.callback_delay % 600);
    complete_connect(&mut c, &callback, later, &token)
        .unwrap_or_else(|e| panic!("the broker's callback for a verified connect URL fails: {e:?}\n{callback}"));
    assert_eq!(c.status(), Status::Connected);
    assert_eq!(c.state().broker_token().map(|t| t.expose()), Some(token.as_str()));
});

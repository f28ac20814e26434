//! Property tests of the authorization proxy's tokens (design: PROXY STATE
//! and CODE CONTEXT): arbitrary valid claims round-trip; any single byte
//! changed, removed or appended anywhere in a token is refused as invalid;
//! each field of a code exchange that differs is a mismatch; the two token
//! kinds never pass for each other under one proxy key.

use proptest::prelude::*;
use tessera_core::{
    CODE_CONTEXT_TTL_SECS, CodeContext, CodeExchange, PROXY_STATE_TTL_SECS, ProxyKey, ProxyState, Refusal,
};

const NOW: i64 = 1_700_000_000;

fn key(seed: u8) -> ProxyKey {
    ProxyKey::new(&[seed; 32]).unwrap()
}

/// 1-128 characters of `[A-Za-z0-9._~-]`.
fn profile_token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~-]{1,128}"
}

/// An https return URL of visible ASCII, quotes and backslash-free paths
/// included (the tokens escape them in JSON).
fn return_url() -> impl Strategy<Value = String> {
    ("[a-z]{1,12}", "[!-~]{0,200}").prop_map(|(host, rest)| format!("https://{host}.example/{rest}"))
}

/// A cookie value: 43 base64url characters.
fn cookie() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]"
}

fn state_and_cookie() -> impl Strategy<Value = (ProxyState, String)> {
    (profile_token(), return_url(), profile_token(), proptest::option::of("[ -~]{1,60}"), cookie()).prop_map(
        |(install_id, return_url, plugin_state, scope, cookie)| {
            let browser_binding = ProxyState::binding_of(&cookie);
            (ProxyState { install_id, return_url, plugin_state, scope, browser_binding }, cookie)
        },
    )
}

/// A Stora authorization code: 1-256 visible ASCII characters.
fn code() -> impl Strategy<Value = String> {
    "[!-~]{1,256}"
}

/// The refusal's core code.
fn code_of(r: Refusal) -> &'static str {
    assert_eq!(r.status(), 400, "{r}");
    r.error().code()
}

/// Every token one edit away from `token`: each byte replaced by `with`
/// (when it differs), each byte removed, `with` appended and prepended.
fn edits(token: &str, with: char) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..token.len() {
        let mut removed = token.to_owned();
        removed.remove(i);
        out.push(removed);
        if token.as_bytes()[i] != with as u8 {
            let mut changed = token.to_owned();
            changed.replace_range(i..=i, with.encode_utf8(&mut [0; 4]));
            out.push(changed);
        }
    }
    out.push(format!("{token}{with}"));
    out.push(format!("{with}{token}"));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    /// Valid claims seal and open to themselves; the code context of a code
    /// verifies for exactly what it was issued for.
    #[test]
    fn valid_claims_round_trip((state, cookie) in state_and_cookie(), code in code(), seed in any::<u8>()) {
        let key = key(seed);
        let token = state.seal(&key, NOW).unwrap();
        prop_assert!(token.len() <= tessera_core::MAX_PROXY_TOKEN);
        let opened = ProxyState::open(&key, &token, Some(&cookie), NOW + PROXY_STATE_TTL_SECS).unwrap();
        prop_assert_eq!(&opened, &state);
        let ctx = CodeContext::issue(&key, &code, &opened, NOW).unwrap();
        let exchange = CodeExchange {
            install_id: &state.install_id, return_url: &state.return_url, state: &state.plugin_state, code: &code,
        };
        prop_assert_eq!(CodeContext::verify(&key, &ctx, &exchange, NOW + CODE_CONTEXT_TTL_SECS), Ok(()));
    }

    /// Each of the four claims that differs from the exchange, alone: a
    /// mismatch (and the unaltered exchange still verifies).
    #[test]
    fn each_differing_field_is_a_mismatch(
        (state, _cookie) in state_and_cookie(),
        code in code(),
        field in 0usize..4,
        other in "[A-Za-z0-9._~-]{1,20}",
    ) {
        let key = key(3);
        let ctx = CodeContext::issue(&key, &code, &state, NOW).unwrap();
        let mut e = CodeExchange {
            install_id: &state.install_id, return_url: &state.return_url, state: &state.plugin_state, code: &code,
        };
        prop_assert_eq!(CodeContext::verify(&key, &ctx, &e, NOW), Ok(()));
        let differs = |own: &str| if own == other { format!("{other}x") } else { other.clone() };
        let replaced = differs([e.install_id, e.return_url, e.state, e.code][field]);
        match field {
            0 => e.install_id = &replaced,
            1 => e.return_url = &replaced,
            2 => e.state = &replaced,
            _ => e.code = &replaced,
        }
        prop_assert_eq!(CodeContext::verify(&key, &ctx, &e, NOW).map_err(code_of), Err("code_context_mismatch"));
    }

    /// Under one proxy key a proxy state is no code context and a code
    /// context no proxy state; under another key neither verifies.
    #[test]
    fn kinds_and_keys_do_not_mix((state, cookie) in state_and_cookie(), code in code(), a in any::<u8>(), b in any::<u8>()) {
        prop_assume!(a != b);
        let (k, other) = (key(a), key(b));
        let sealed = state.seal(&k, NOW).unwrap();
        let ctx = CodeContext::issue(&k, &code, &state, NOW).unwrap();
        let exchange = CodeExchange {
            install_id: &state.install_id, return_url: &state.return_url, state: &state.plugin_state, code: &code,
        };
        prop_assert_eq!(CodeContext::verify(&k, &sealed, &exchange, NOW).map_err(code_of), Err("code_context_invalid"));
        prop_assert_eq!(ProxyState::open(&k, &ctx, Some(&cookie), NOW).map_err(code_of), Err("proxy_state_invalid"));
        prop_assert_eq!(ProxyState::open(&other, &sealed, Some(&cookie), NOW).map_err(code_of), Err("proxy_state_invalid"));
        prop_assert_eq!(CodeContext::verify(&other, &ctx, &exchange, NOW).map_err(code_of), Err("code_context_invalid"));
    }

    /// The browser binding: the cookie that started the connect opens it; no
    /// cookie, or any other cookie, is refused.
    #[test]
    fn only_the_binding_cookie_opens((state, cookie) in state_and_cookie(), other in cookie()) {
        let key = key(5);
        let token = state.seal(&key, NOW).unwrap();
        prop_assert!(ProxyState::open(&key, &token, Some(&cookie), NOW).is_ok());
        prop_assert_eq!(ProxyState::open(&key, &token, None, NOW).map_err(code_of), Err("proxy_state_invalid"));
        if other != cookie {
            prop_assert_eq!(ProxyState::open(&key, &token, Some(&other), NOW).map_err(code_of), Err("proxy_state_invalid"));
        }
    }
}

proptest! {
    // Each case already tries every single-byte edit at every position of two
    // tokens (about 1,000 opens); more cases would only vary the claims, which
    // the tests above do. 8 keep the core's suite, which cargo-mutants reruns
    // for every mutant, at about a second.
    #![proptest_config(ProptestConfig { cases: 8, .. ProptestConfig::default() })]

    /// One byte changed, removed or added anywhere: `*_invalid`, never
    /// accepted, never "expired" or "mismatch".
    #[test]
    fn any_single_edit_is_invalid(
        (state, cookie) in state_and_cookie(),
        code in code(),
        with in prop::sample::select(vec!['A', 'z', '0', '-', '_', '.', '=', '+', '/', ' ']),
    ) {
        let key = key(9);
        let token = state.seal(&key, NOW).unwrap();
        for edited in edits(&token, with) {
            let got = ProxyState::open(&key, &edited, Some(&cookie), NOW).map_err(code_of);
            prop_assert_eq!(got, Err("proxy_state_invalid"), "{}", edited);
        }
        let ctx = CodeContext::issue(&key, &code, &state, NOW).unwrap();
        let exchange = CodeExchange {
            install_id: &state.install_id, return_url: &state.return_url, state: &state.plugin_state, code: &code,
        };
        for edited in edits(&ctx, with) {
            let got = CodeContext::verify(&key, &edited, &exchange, NOW).map_err(code_of);
            prop_assert_eq!(got, Err("code_context_invalid"), "{}", edited);
        }
    }
}

/// A token is valid up to and including the second of its `exp` (the issue
/// time plus the TTL) and refused as expired from the next second on — whatever else is
/// wrong with the request, since expiry is checked before the binding and
/// the exchange; a forged token is invalid, not expired, at any time.
#[test]
fn expiry_boundary_is_inclusive() {
    let key = key(1);
    let cookie = "A".repeat(43);
    let state = ProxyState {
        install_id: "ins_BTrrnGcBGJrBvzfhg7XWVw".into(),
        return_url: "https://shop.example/wp-admin/admin.php?page=tessera".into(),
        plugin_state: "cccccccccccccccccccccc".into(),
        scope: Some("orders:read".into()),
        browser_binding: ProxyState::binding_of(&cookie),
    };
    let token = state.seal(&key, NOW).unwrap();
    let open = |now, cookie: Option<&str>| ProxyState::open(&key, &token, cookie, now).map(|_| ()).map_err(code_of);
    assert_eq!(open(NOW + PROXY_STATE_TTL_SECS, Some(&cookie)), Ok(()));
    assert_eq!(open(NOW + PROXY_STATE_TTL_SECS + 1, Some(&cookie)), Err("proxy_state_expired"));
    assert_eq!(open(NOW + PROXY_STATE_TTL_SECS + 1, None), Err("proxy_state_expired"));
    assert_eq!(open(NOW + PROXY_STATE_TTL_SECS, None), Err("proxy_state_invalid"));
    let forged = format!("{}A", &token[..token.len() - 1]);
    assert_eq!(ProxyState::open(&key, &forged, Some(&cookie), i64::MAX).map_err(code_of), Err("proxy_state_invalid"));

    let ctx = CodeContext::issue(&key, "code_1", &state, NOW).unwrap();
    let good = CodeExchange {
        install_id: &state.install_id,
        return_url: &state.return_url,
        state: &state.plugin_state,
        code: "code_1",
    };
    let wrong = CodeExchange { code: "code_2", ..good };
    let verify = |now, e: &CodeExchange<'_>| CodeContext::verify(&key, &ctx, e, now).map_err(code_of);
    assert_eq!(verify(NOW + CODE_CONTEXT_TTL_SECS, &good), Ok(()));
    assert_eq!(verify(NOW + CODE_CONTEXT_TTL_SECS + 1, &good), Err("code_context_expired"));
    assert_eq!(verify(NOW + CODE_CONTEXT_TTL_SECS + 1, &wrong), Err("code_context_expired"));
    assert_eq!(verify(NOW + CODE_CONTEXT_TTL_SECS, &wrong), Err("code_context_mismatch"));
}

/// What `seal` and `issue` refuse to put in a token: what a later step could
/// not carry, or a token over 4096 bytes.
#[test]
fn unsealable_claims_are_refused() {
    let key = key(2);
    let base = ProxyState {
        install_id: "ins_x".into(),
        return_url: "https://shop.example/cb".into(),
        plugin_state: "state_123".into(),
        scope: None,
        browser_binding: ProxyState::binding_of("c"),
    };
    assert!(base.seal(&key, NOW).is_ok());
    let cases: Vec<(&str, ProxyState)> = vec![
        ("invalid_input", ProxyState { install_id: String::new(), ..base.clone() }),
        ("invalid_input", ProxyState { install_id: "ins x".into(), ..base.clone() }),
        ("invalid_input", ProxyState { plugin_state: "a".repeat(129), ..base.clone() }),
        ("invalid_input", ProxyState { return_url: "https://x.example/ a".into(), ..base.clone() }),
        ("invalid_input", ProxyState { return_url: format!("https://x.example/{}", "a".repeat(2048)), ..base.clone() }),
        ("invalid_input", ProxyState { scope: Some(String::new()), ..base.clone() }),
        ("invalid_input", ProxyState { browser_binding: "abc".into(), ..base.clone() }),
        // 2048 bytes of quotes double in JSON: the token would pass 4096 bytes.
        ("too_large", ProxyState { return_url: format!("https://x.example/{}", "\"".repeat(2000)), ..base.clone() }),
    ];
    for (want, state) in cases {
        assert_eq!(state.seal(&key, NOW).map_err(|e| e.code()), Err(want), "{state:?}");
    }
    for bad in ["", "a b", &"c".repeat(257)] {
        assert_eq!(CodeContext::issue(&key, bad, &base, NOW).map_err(|e| e.code()), Err("invalid_input"));
    }
    assert_eq!(CodeContext::issue(&key, &"c".repeat(256), &base, NOW).map(|_| ()), Ok(()));
}

#[test]
fn proxy_key_and_state_do_not_print_secrets() {
    let state = ProxyState {
        install_id: "ins_x".into(),
        return_url: "https://shop.example/cb".into(),
        plugin_state: "PLUGINSTATE".into(),
        scope: None,
        browser_binding: ProxyState::binding_of("c"),
    };
    assert!(!format!("{state:?}").contains("PLUGINSTATE"));
    let e = CodeExchange { install_id: "i", return_url: "r", state: "PLUGINSTATE", code: "STORACODE" };
    let printed = format!("{e:?}");
    assert!(!printed.contains("PLUGINSTATE") && !printed.contains("STORACODE"), "{printed}");
    assert_eq!(format!("{:?}", key(1)), "ProxyKey([redacted])");
}

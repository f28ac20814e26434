//! The proxy's request bodies (`POST /token`, `/refresh`, `/revoke`): what
//! the writer writes the reader reads back; anything but exactly the
//! route's members, as strings within their bounds, is `400 invalid_request`;
//! the secrets in them never print. And the browser-binding cookie helpers.

use proptest::prelude::*;
use serde_json::json;
use tessera_core::{
    BROWSER_COOKIE, MAX_PROXY_BODY, RefreshRequest, RevokeRequest, SecretText, SeededEntropy, TokenRequest,
    browser_cookie_header, browser_cookie_in, is_browser_cookie, new_browser_cookie,
};

fn token_request() -> impl Strategy<Value = TokenRequest> {
    (
        "[!-~]{1,256}",
        "[A-Za-z0-9_-]{1,60}\\.[A-Za-z0-9_-]{1,60}\\.[A-Za-z0-9_-]{43}",
        "[A-Za-z0-9._~-]{1,128}",
        "[!-~]{1,300}",
    )
        .prop_map(|(code, code_context, state, ret)| TokenRequest {
            code: SecretText::new(code),
            code_context,
            state,
            return_url: format!("https://s.example/{ret}"),
        })
}

/// `(status, wire code, core code)` of a body's refusal.
fn refusal_of<T: std::fmt::Debug>(r: Result<T, tessera_core::Refusal>) -> (u16, &'static str, &'static str) {
    let r = r.expect_err("refused");
    (r.status(), r.code(), r.error().code())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Written, then read: the same request; the writer's member order is the
    /// design's; serde_json reads the same members.
    #[test]
    fn bodies_round_trip(req in token_request(), token in "[!-~]{1,4096}") {
        let body = req.to_json();
        prop_assert!(body.starts_with(r#"{"code":"#), "{}", body);
        prop_assert_eq!(TokenRequest::parse(body.as_bytes()).unwrap(), req.clone());
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        prop_assert_eq!(v, json!({"code": req.code.expose(), "code_context": req.code_context, "state": req.state, "return_url": req.return_url}));
        let refresh = RefreshRequest { refresh_token: SecretText::new(token.clone()) };
        prop_assert_eq!(RefreshRequest::parse(refresh.to_json().as_bytes()).unwrap(), refresh);
        let revoke = RevokeRequest { token: SecretText::new(token) };
        prop_assert_eq!(RevokeRequest::parse(revoke.to_json().as_bytes()).unwrap(), revoke);
    }

    /// Arbitrary bytes never panic a parser; what one accepts it writes back
    /// as an equivalent body.
    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(r) = TokenRequest::parse(&body) {
            prop_assert_eq!(TokenRequest::parse(r.to_json().as_bytes()).unwrap(), r);
        }
        let _ = RefreshRequest::parse(&body);
        let _ = RevokeRequest::parse(&body);
    }
}

#[test]
fn token_bodies_outside_the_shape_are_invalid_requests() {
    let good =
        json!({"code": "code_1", "code_context": "a.b.c", "state": "state_1", "return_url": "https://s.example/cb"});
    assert!(TokenRequest::parse(good.to_string().as_bytes()).is_ok());
    let mut bad: Vec<String> = Vec::new();
    for drop in ["code", "code_context", "state", "return_url"] {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(drop);
        bad.push(v.to_string());
    }
    for (member, value) in [
        ("code", json!(7)),
        ("code", json!(null)),
        ("code", json!("")),
        ("code", json!("a b")),
        ("code", json!("c".repeat(257))),
        ("code_context", json!("a.b c")),
        ("code_context", json!("a".repeat(4097))),
        ("state", json!("a/b")),
        ("state", json!("s".repeat(129))),
        ("return_url", json!("https://s.example/a b")),
        ("return_url", json!(format!("https://s.example/{}", "a".repeat(2048)))),
        ("return_url", json!(["https://s.example/"])),
        ("extra", json!("x")),
    ] {
        let mut v = good.clone();
        v[member] = value;
        bad.push(v.to_string());
    }
    let text = good.to_string();
    bad.push(text.replacen("\"code\":", "\"code\":\"x\",\"code\":", 1));
    bad.push(format!("[{text}]"));
    bad.push(format!("{text},"));
    bad.push(String::new());
    bad.push("null".into());
    for body in &bad {
        assert_eq!(
            refusal_of(TokenRequest::parse(body.as_bytes())),
            (400, "invalid_request", "invalid_input"),
            "{body}"
        );
    }
    let huge = format!("{}{}", " ".repeat(MAX_PROXY_BODY), text);
    assert_eq!(refusal_of(TokenRequest::parse(huge.as_bytes())), (400, "invalid_request", "too_large"));
    // Whitespace around a well-formed object is JSON, not a different body.
    assert!(TokenRequest::parse(format!(" {text}\n").as_bytes()).is_ok());
}

#[test]
fn refresh_and_revoke_bodies_are_strict() {
    assert!(RefreshRequest::parse(br#"{"refresh_token":"srt_1"}"#).is_ok());
    assert!(RevokeRequest::parse(br#"{"token":"srt_1"}"#).is_ok());
    let long = format!(r#"{{"refresh_token":"{}"}}"#, "t".repeat(4097));
    for body in [
        &br#"{"refresh_token":""}"#[..],
        br#"{"refresh_token":1}"#,
        br#"{"refresh_token":"a b"}"#,
        br#"{"refresh_token":"a","x":"b"}"#,
        br#"{"token":"srt_1"}"#,
        br#"{}"#,
        long.as_bytes(),
    ] {
        let got = refusal_of(RefreshRequest::parse(body));
        assert_eq!((got.0, got.1), (400, "invalid_request"), "{}", String::from_utf8_lossy(body));
    }
    for body in [&br#"{"token":""}"#[..], br#"{"refresh_token":"srt_1"}"#, br#"{"token":"a","token":"a"}"#] {
        let got = refusal_of(RevokeRequest::parse(body));
        assert_eq!((got.0, got.1), (400, "invalid_request"), "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn secrets_in_bodies_do_not_print() {
    let t = TokenRequest::parse(
        br#"{"code":"CODESECRET","code_context":"a.b.c","state":"s","return_url":"https://s.example/"}"#,
    )
    .unwrap();
    let r = RefreshRequest::parse(br#"{"refresh_token":"REFRESHSECRET"}"#).unwrap();
    let v = RevokeRequest::parse(br#"{"token":"REVOKESECRET"}"#).unwrap();
    let printed = format!("{t:?} {r:?} {v:?} {} {}", t.code, r.refresh_token);
    for secret in ["CODESECRET", "REFRESHSECRET", "REVOKESECRET"] {
        assert!(!printed.contains(secret), "{printed}");
    }
    assert_eq!(t.code.expose(), "CODESECRET");
    assert_eq!(t.exchange("ins_1").code, "CODESECRET");
    assert_eq!(t.exchange("ins_1").install_id, "ins_1");
}

#[test]
fn browser_cookie_helpers() {
    let mut rng = SeededEntropy::new([4; 32]);
    let (a, b) = (new_browser_cookie(&mut rng), new_browser_cookie(&mut rng));
    assert_ne!(a, b);
    assert!(is_browser_cookie(&a) && a.len() == 43);
    assert_eq!(browser_cookie_in(&format!("x=1;{BROWSER_COOKIE}={a}")), Some(a.as_str()));
    assert_eq!(browser_cookie_in("x=1"), None);
    let header = browser_cookie_header(&a, true);
    assert!(header.starts_with(&format!("{BROWSER_COOKIE}={a};")), "{header}");
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Max-Age=600", "Path=/"] {
        assert!(header.split("; ").any(|p| p == attr), "{attr} in {header}");
    }
}

//! Property tests: sign→verify round-trips for arbitrary requests; any change
//! to a covered component, the body, the key, or a replayed nonce fails; and
//! arbitrary input into every parser never panics.

mod support;

use proptest::prelude::*;
use support::*;
use tessera_core::{
    ApiRequest, Companion, MemoryReplayStore, Request, Response, Secret, SignOptions, Verifier, classify,
    internals::sfv,
};

fn method() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]).prop_map(String::from)
}

fn segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_~-]{1,12}"
}

fn path_and_query() -> impl Strategy<Value = String> {
    (prop::collection::vec(segment(), 1..4), prop::collection::vec(("[a-z]{1,6}", "[A-Za-z0-9._~%-]{0,10}"), 0..4))
        .prop_map(|(segs, qs)| {
            let mut p = format!("/api/{}", segs.join("/"));
            let qs: Vec<String> = qs.into_iter().map(|(k, v)| format!("{k}={}", v.replace('%', "%25"))).collect();
            if !qs.is_empty() {
                p.push('?');
                p.push_str(&qs.join("&"));
            }
            p
        })
}

fn verify(signed: &Request, secret: &Secret, now: i64, store: &mut MemoryReplayStore) -> Result<(), String> {
    Verifier::default()
        .verify(signed, now, &mut |_| Some(secret.clone()), store)
        .map(|_| ())
        .map_err(|e| e.code().into())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn sign_then_verify_round_trips(m in method(), p in path_and_query(), body in prop::collection::vec(any::<u8>(), 0..512), seed in any::<u8>(), skew in -299i64..299) {
        let c = connected("https://broker.example", seed);
        let req = ApiRequest { method: m, path: p, headers: vec![("content-type".into(), "application/octet-stream".into())], body };
        let signed = c.sign_request(&req, &SignOptions { now: NOW, ..Default::default() }, &mut rng(seed)).unwrap();
        let mut store = MemoryReplayStore::new(16);
        prop_assert_eq!(verify(&signed, &secret_of(&c), NOW + skew, &mut store), Ok(()));
        // The same request again is a replay.
        prop_assert_eq!(verify(&signed, &secret_of(&c), NOW + skew, &mut store), Err("replayed".into()));
    }

    #[test]
    fn any_change_fails(p in path_and_query(), body in prop::collection::vec(any::<u8>(), 1..256), which in 0usize..7, flip in 1u8..=255) {
        let c = connected("https://broker.example", 3);
        let req = ApiRequest::json("POST", &p, body);
        let mut signed = c.sign_request(&req, &SignOptions { now: NOW, ..Default::default() }, &mut rng(1)).unwrap();
        let mut secret = secret_of(&c);
        match which {
            0 => signed.method = "PUT".into(),
            1 => signed.url = signed.url.replacen("/api/", "/apx/", 1),
            2 => signed.url = signed.url.replacen("broker.example", "broker.example:8443", 1),
            3 => { let i = signed.body.len() / 2; signed.body[i] ^= flip; }
            4 => secret = Secret::from_bytes(&[flip; 32]).unwrap(),
            5 => for (k, v) in &mut signed.headers { if k == "idempotency-key" { v.push('x'); } },
            _ => for (k, v) in &mut signed.headers { if k == "authorization" { v.push('x'); } },
        }
        let mut store = MemoryReplayStore::new(16);
        prop_assert!(verify(&signed, &secret, NOW, &mut store).is_err());
    }

    #[test]
    fn parsers_never_panic(input in ".{0,300}", bytes in prop::collection::vec(any::<u8>(), 0..300), status in any::<u16>()) {
        let _ = sfv::parse_dictionary(&input);
        let _ = tessera_core::internals::url::Url::parse(&input, "u");
        let _ = Companion::from_json(&input);
        let _ = Companion::open_state(&input, b"0123456789abcdef");
        let _ = tessera_core::verify_connect_url(&input, NOW, &mut |_| None);
        let _ = tessera_core::verify_uninstall_ticket("ins_x", &input, NOW, 60, &mut |_| None);
        let _ = classify(&Response { status, headers: vec![("retry-after".into(), input.clone()), ("date".into(), input.clone())], body: bytes.clone() }, NOW);
        let mut c = registered("https://broker.example", 5);
        let _ = complete_connect(&mut c, &input, NOW, "btk_x");
        let _ = c.handle_registration_response_at(&Response::new(202, bytes.clone()), 1_700_000_000);
        let _ = c.check_site(&input);
        let _ = c.connect_url(&input, Some(&input), NOW, &mut rng(1));
        let req = Request { method: input.clone(), url: input.clone(), headers: vec![("signature-input".into(), input.clone()), ("signature".into(), input.clone()), ("content-digest".into(), input.clone())], body: bytes };
        let _ = Verifier::default().verify(&req, NOW, &mut |_| Some(Secret::from_bytes(&[1; 32]).unwrap()), &mut MemoryReplayStore::new(4));
        let _ = c.sign_request(&ApiRequest { method: input.clone(), path: input.clone(), headers: vec![(input.clone(), input.clone())], body: vec![] }, &SignOptions { now: NOW, ..Default::default() }, &mut rng(2));
    }

    /// The hand-written state JSON writer and reader: arbitrary text (controls,
    /// quotes, backslashes, any Unicode) and integers survive a round trip, and
    /// an independent JSON reader (serde_json) reads the same values back.
    #[test]
    fn state_json_round_trips_and_is_standard_json(
        email in "\\PC{0,12}@shop.example", reason in proptest::option::of(any::<String>()),
        mismatch in proptest::option::of(any::<String>()), offset in -3_153_600_000i64..=3_153_600_000, created in any::<i64>(),
        ret in any::<String>(), attempts in 1u32..=10, delay in 0u64..=3_600_000,
    ) {
        let mut c = connected("https://broker.example", 9);
        let mut state: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        state["installation"]["admin_email"] = email.clone().into();
        state["reconnect_reason"] = reason.clone().into();
        state["site_mismatch"] = mismatch.clone().into();
        state["clock_offset"] = offset.into();
        state["pending_connect"] = serde_json::json!({ "state": "s", "created": created, "return_url": ret });
        state["config"]["retry"]["max_attempts"] = attempts.into();
        state["config"]["retry"]["base_delay_ms"] = delay.into();
        c = Companion::from_json(&state.to_string()).unwrap();
        let written = c.to_json();
        let reread: serde_json::Value = serde_json::from_str(&written).unwrap();
        prop_assert_eq!(&reread["installation"]["admin_email"], &serde_json::Value::from(email));
        prop_assert_eq!(&reread["reconnect_reason"], &serde_json::Value::from(reason));
        prop_assert_eq!(&reread["site_mismatch"], &serde_json::Value::from(mismatch));
        prop_assert_eq!(&reread["clock_offset"], &serde_json::Value::from(offset));
        prop_assert_eq!(&reread["pending_connect"]["created"], &serde_json::Value::from(created));
        prop_assert_eq!(&reread["pending_connect"]["return_url"], &serde_json::Value::from(ret));
        prop_assert_eq!(&reread["config"]["retry"]["max_attempts"], &serde_json::Value::from(attempts));
        prop_assert_eq!(&reread["config"]["retry"]["base_delay_ms"], &serde_json::Value::from(delay));
        // Byte-stable: what was written reads back and writes the same bytes.
        prop_assert_eq!(Companion::from_json(&written).unwrap().to_json(), written);
    }

    /// Arbitrary bytes into the state reader: a typed error or a state, never a panic;
    /// and whatever it accepts, it writes back in a form it accepts again.
    #[test]
    fn state_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            match Companion::from_json(text) {
                Ok(c) => prop_assert!(Companion::from_json(&c.to_json()).is_ok()),
                Err(e) => prop_assert!(["state_corrupt", "state_version_unsupported", "too_large"].contains(&e.code()), "{}", e.code()),
            }
        }
    }

    /// The hand-written base64 against the base64 crate: same encodings, and
    /// the same accept/reject decision and bytes for arbitrary text.
    #[test]
    fn base64_agrees_with_the_base64_crate(bytes in prop::collection::vec(any::<u8>(), 0..64), text in "[A-Za-z0-9+/=_-]{0,16}") {
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        use tessera_core::internals::encoding::{b64_decode, b64_encode, b64url_decode, b64url_encode};
        prop_assert_eq!(b64_encode(&bytes), STANDARD.encode(&bytes));
        prop_assert_eq!(b64url_encode(&bytes), URL_SAFE_NO_PAD.encode(&bytes));
        prop_assert_eq!(b64_decode(&text), STANDARD.decode(&text).ok());
        prop_assert_eq!(b64url_decode(&text), URL_SAFE_NO_PAD.decode(&text).ok());
    }

    /// Any `now` and any stored clock offset: a typed result, never an
    /// overflow (debug builds panic on one; release builds would wrap).
    #[test]
    fn extreme_times_never_overflow(now in prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(0i64)],
                                     offset in prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX)]) {
        let mut c = connected("https://broker.example", 5);
        let mut state: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        state["clock_offset"] = offset.into();
        if let Ok(skewed) = Companion::from_json(&state.to_string()) {
            c = skewed;
        }
        let ok_or_input = |r: Result<(), tessera_core::Error>| r.is_ok() || r.unwrap_err().code() == "invalid_input";
        let signed = c.sign_request(&ApiRequest::new("GET", "/api/x"), &SignOptions { now, ..Default::default() }, &mut rng(1));
        prop_assert!(ok_or_input(signed.as_ref().map(|_| ()).map_err(Clone::clone)));
        prop_assert!(ok_or_input(c.uninstall_url(now).map(|_| ())));
        prop_assert!(ok_or_input(c.connect_url("https://shop.example/cb", None, now, &mut rng(2)).map(|_| ())));
        let _ = complete_connect(&mut c, "state=AAAAAAAAAAAAAAAAAAAAAA&code=cc_AAAAAAAAAAAAAAAAAAAA", now, "btk_x");
        if let Ok(signed) = signed {
            let mut store = MemoryReplayStore::new(4);
            for verify_now in [now, i64::MIN, i64::MAX, NOW] {
                let _ = Verifier { window_secs: offset }.verify(&signed, verify_now, &mut |_| Some(secret_of(&c)), &mut store);
            }
        }
        let expired = Response::new(401, br#"{"error":"signature_expired"}"#.to_vec()).with_header("Date", "Fri, 31 Dec 9999 23:59:59 GMT");
        let _ = classify(&expired, now);
        // The step machine learning an offset from that Date at this `now`.
        if let Ok(mut call) = c.start_call(ApiRequest::new("GET", "/api/x")) {
            let mut event = tessera_core::Event::Start;
            for _ in 0..6 {
                match c.step(&mut call, event, now, &mut rng(3)) {
                    tessera_core::Action::Send(_) => event = tessera_core::Event::Response(expired.clone()),
                    tessera_core::Action::Persist(_) => event = tessera_core::Event::Persisted,
                    tessera_core::Action::Sleep(_) => event = tessera_core::Event::Slept,
                    tessera_core::Action::ServeProof(_) => event = tessera_core::Event::ProofServed,
                    tessera_core::Action::Lock(_) | tessera_core::Action::Unlock(_) => {
                        unreachable!("broker mode takes no lock")
                    }
                    tessera_core::Action::Done(_) => break,
                }
            }
            prop_assert!(c.clock_offset().unsigned_abs() <= tessera_core::internals::clock::MAX_CLOCK_OFFSET_SECS as u64);
        }
    }

    #[test]
    fn structured_fields_round_trip(key in "[a-z][a-z0-9_-]{0,8}", items in prop::collection::vec("[ -!#-\\[\\]-~]{0,10}", 0..6), created in 0i64..999_999_999_999_999) {
        let members: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
        let text = format!("{key}=({});created={created};nonce=\"n\"", members.join(" "));
        let dict = sfv::parse_dictionary(&text).unwrap();
        let sfv::Member::InnerList(list) = &dict[0].1 else { panic!() };
        let mut out = String::new();
        sfv::write_inner_list(&mut out, list);
        prop_assert_eq!(format!("{key}={out}"), text);
    }
}

#[test]
fn signed_structured_field_signature_with_tampered_signature_byte_fails() {
    // A deterministic companion to the properties: flipping any single byte
    // of the MAC is caught.
    let c = connected("https://broker.example", 4);
    let signed = c
        .sign_request(&ApiRequest::new("GET", "/api/x"), &SignOptions { now: NOW, ..Default::default() }, &mut rng(1))
        .unwrap();
    let original = signed.header("signature").unwrap().to_owned();
    let mac =
        tessera_core::internals::encoding::b64_decode(original.trim_start_matches("tessera=:").trim_end_matches(':'))
            .unwrap();
    for i in 0..mac.len() {
        let mut m = mac.clone();
        m[i] ^= 1;
        let mut s = signed.clone();
        for (k, v) in &mut s.headers {
            if k == "signature" {
                *v = format!("tessera=:{}:", tessera_core::internals::encoding::b64_encode(&m));
            }
        }
        let mut store = MemoryReplayStore::new(4);
        assert_eq!(verify(&s, &secret_of(&c), NOW, &mut store), Err("signature_invalid".into()));
    }
}

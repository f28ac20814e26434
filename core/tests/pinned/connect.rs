//! Pins core/src/connect.rs: URL-signed links (connect URL, uninstall
//! ticket), their time windows and size limits, the return URL, scope,
//! callback and connect-code checks.

use tessera_core::internals::connect::{
    CONNECT_CONTEXT, CONNECT_TTL_SECS, FUTURE_SKEW_SECS, MAX_CALLBACK, MAX_CONNECT_CODE, UNINSTALL_CONTEXT,
    UNINSTALL_TICKET_MAX_AGE_SECS, canonical_query, link_signature,
};
use tessera_core::{
    Action, Companion, Completion, Error, Event, Response, Secret, SeededEntropy, verify_connect_url,
    verify_uninstall_ticket,
};

const NOW: i64 = 1_700_000_000;
const ID: &str = "ins_BTrrnGcBGJrBvzfhg7XWVw";
const OTHER_ID: &str = "ins_AAAAAAAAAAAAAAAAAAAAAA";
const STATE: &str = "cccccccccccccccccccccc";
const RETURN: &str = "https://shop.example/wp-admin/options-general.php?page=tessera";

fn secret(n: u8) -> Secret {
    Secret::from_bytes(&[n; 32]).unwrap()
}

/// A connect URL signed with `secret(1)` for [`ID`], `ts` spelled as given.
fn connect_link(state: &str, scope: Option<&str>, ts: &str) -> String {
    let mut pairs = vec![("install_id", ID), ("state", state), ("return_url", RETURN)];
    if let Some(s) = scope {
        pairs.push(("scope", s));
    }
    pairs.push(("ts", ts));
    let sig = link_signature(&secret(1), CONNECT_CONTEXT, &pairs);
    format!("https://broker.example/connect?{}&sig={sig}", canonical_query(&pairs))
}

fn verify_connect(url: &str, now: i64) -> Result<tessera_core::ConnectParams, Error> {
    verify_connect_url(url, now, &mut |id| (id == ID).then(|| secret(1)))
}

/// The signature of an uninstall ticket for `id` at `ts` under `secret(n)`.
fn ticket_sig(n: u8, id: &str, ts: &str) -> String {
    link_signature(&secret(n), UNINSTALL_CONTEXT, &[("install_id", id), ("ts", ts)])
}

fn ticket(ts: i64) -> String {
    format!("https://broker.example/installations/{ID}/uninstall?ts={ts}&sig={}", ticket_sig(1, ID, &ts.to_string()))
}

/// Verifies `query` as a ticket for [`ID`], whose secret is `secret(1)`.
fn verify_ticket(query: &str, now: i64) -> Result<i64, Error> {
    verify_uninstall_ticket(ID, query, now, UNINSTALL_TICKET_MAX_AGE_SECS, &mut |id| (id == ID).then(|| secret(1)))
}

/// A registered companion (the machine module's fixture, seed 3).
fn registered() -> Companion {
    super::machine::registered(3)
}

/// Completes a connect from `callback` against a broker that answers every
/// exchange with a token.
fn complete(c: &mut Companion, callback: &str) -> Result<Completion, Error> {
    let mut call = c.start_complete_connect(callback, NOW)?;
    let mut entropy = SeededEntropy::new([9; 32]);
    let mut event = Event::Start;
    // Bounded: a machine that never ends fails here instead of hanging.
    for _ in 0..100 {
        event = match c.step(&mut call, event, NOW, &mut entropy) {
            Action::Send(_) => Event::Response(Response::new(
                200,
                br#"{"broker_token":"btk_abc","account":{"id":"op_1","name":"Storage"}}"#.to_vec(),
            )),
            Action::Persist(_) => Event::Persisted,
            Action::Sleep(_) => Event::Slept,
            Action::ServeProof(_) => Event::ProofServed,
            Action::Lock(_) | Action::Unlock(_) => unreachable!("broker mode takes no lock"),
            Action::Done(result) => return result,
        };
    }
    panic!("the connect completion did not finish");
}

/// A registered companion with a pending connect for [`STATE`].
fn pending() -> Companion {
    let mut c = registered();
    c.connect_url_with_state(RETURN, None, NOW, STATE).unwrap();
    c
}

// ---- uninstall tickets ------------------------------------------------------

#[test]
fn uninstall_ticket_default_age_is_seven_days() {
    assert_eq!(UNINSTALL_TICKET_MAX_AGE_SECS, 604_800);
}

#[test]
fn uninstall_ticket_valid_returns_its_ts() {
    assert_eq!(verify_ticket(&ticket(NOW - 1234), NOW), Ok(NOW - 1234));
    // The bare query is accepted as well as the whole URL.
    let query = format!("ts={NOW}&sig={}", ticket_sig(1, ID, &NOW.to_string()));
    assert_eq!(verify_ticket(&query, NOW), Ok(NOW));
}

#[test]
fn uninstall_ticket_made_by_the_plugin_verifies() {
    let c = registered();
    let id = c.install_id().unwrap().to_owned();
    let s = c.state().installation().unwrap().secret.clone();
    let url = c.uninstall_url(NOW).unwrap();
    let got = verify_uninstall_ticket(&id, &url, NOW + 10, 60, &mut |_| Some(s.clone()));
    assert_eq!(got, Ok(NOW));
}

#[test]
fn uninstall_ticket_with_forged_signature_is_refused() {
    let forged = format!("ts={NOW}&sig={}", ticket_sig(2, ID, &NOW.to_string()));
    assert_eq!(verify_ticket(&forged, NOW).unwrap_err().code(), "signature_invalid");
    let garbage = format!("ts={NOW}&sig=AAAA");
    assert_eq!(verify_ticket(&garbage, NOW).unwrap_err().code(), "signature_invalid");
}

#[test]
fn uninstall_ticket_of_another_installation_is_refused() {
    // Signed by OTHER_ID with its own secret, presented on ID's path.
    let other = format!("ts={NOW}&sig={}", ticket_sig(2, OTHER_ID, &NOW.to_string()));
    assert_eq!(verify_ticket(&other, NOW).unwrap_err().code(), "signature_invalid");
    // Same secret, but the signature covers the install id.
    let moved = format!("ts={NOW}&sig={}", ticket_sig(1, OTHER_ID, &NOW.to_string()));
    assert_eq!(verify_ticket(&moved, NOW).unwrap_err().code(), "signature_invalid");
    // An id the broker does not know.
    let got = verify_uninstall_ticket(OTHER_ID, &ticket(NOW), NOW, 60, &mut |id| (id == ID).then(|| secret(1)));
    assert_eq!(got.unwrap_err().code(), "unknown_installation");
}

#[test]
fn uninstall_ticket_with_altered_ts_is_refused() {
    let sig = ticket_sig(1, ID, &NOW.to_string());
    assert_eq!(verify_ticket(&format!("ts={}&sig={sig}", NOW + 1), NOW).unwrap_err().code(), "signature_invalid");
}

#[test]
fn uninstall_ticket_age_boundary() {
    let max = UNINSTALL_TICKET_MAX_AGE_SECS;
    assert_eq!(verify_ticket(&ticket(NOW - max), NOW), Ok(NOW - max), "exactly max age");
    assert_eq!(verify_ticket(&ticket(NOW - max - 1), NOW), Err(Error::SignatureExpired), "one second older");
    // The host-chosen maximum age applies, not the default.
    let at = |age: i64| verify_uninstall_ticket(ID, &ticket(NOW - age), NOW, 60, &mut |_| Some(secret(1)));
    assert_eq!(at(60), Ok(NOW - 60));
    assert_eq!(at(61), Err(Error::SignatureExpired));
}

#[test]
fn uninstall_ticket_future_skew_boundary() {
    let ahead = NOW + FUTURE_SKEW_SECS;
    assert_eq!(verify_ticket(&ticket(ahead), NOW), Ok(ahead), "exactly the tolerated lead");
    assert_eq!(verify_ticket(&ticket(ahead + 1), NOW), Err(Error::SignatureExpired), "one second further");
}

#[test]
fn uninstall_ticket_without_sig_or_ts_is_refused() {
    assert_eq!(verify_ticket(&format!("ts={NOW}"), NOW).unwrap_err().code(), "signature_missing");
    let sig = ticket_sig(1, ID, &NOW.to_string());
    assert_eq!(verify_ticket(&format!("sig={sig}"), NOW).unwrap_err().code(), "signature_malformed");
    let twice = format!("ts={NOW}&ts={NOW}&sig={sig}");
    assert_eq!(verify_ticket(&twice, NOW).unwrap_err().code(), "signature_malformed");
}

#[test]
fn uninstall_ticket_url_without_question_mark_has_no_query() {
    // Without `?`, a URL is not read as `k=v&…`: its parameters are absent.
    let ts = NOW.to_string();
    let url = format!("https://broker.example/uninstall&ts={ts}&sig={}", ticket_sig(1, ID, &ts));
    assert_eq!(verify_ticket(&url, NOW).unwrap_err().code(), "signature_missing");
}

#[test]
fn uninstall_ticket_size_limit() {
    let base = ticket(NOW);
    let pad = |len: usize| format!("{base}&pad={}", "x".repeat(len - base.len() - 5));
    assert_eq!(pad(MAX_CALLBACK).len(), MAX_CALLBACK);
    assert_eq!(verify_ticket(&pad(MAX_CALLBACK), NOW), Ok(NOW), "exactly the limit");
    assert_eq!(verify_ticket(&pad(MAX_CALLBACK + 1), NOW).unwrap_err().code(), "too_large");
}

#[test]
fn link_size_limit_is_8_kib() {
    assert_eq!(MAX_CALLBACK, 8192);
}

// ---- connect URL: time window and ts spelling -----------------------------

#[test]
fn connect_url_round_trip_returns_its_parameters() {
    let mut c = registered();
    let url = c.connect_url_with_state(RETURN, Some("read write"), NOW, STATE).unwrap();
    let id = c.install_id().unwrap().to_owned();
    let s = c.state().installation().unwrap().secret.clone();
    let got = verify_connect_url(&url, NOW + 1, &mut |k| (k == id).then(|| s.clone())).unwrap();
    assert_eq!(got.install_id, id);
    assert_eq!(got.state, STATE);
    assert_eq!(got.return_url, RETURN);
    assert_eq!(got.scope.as_deref(), Some("read write"));
    assert_eq!(got.ts, NOW);
}

#[test]
fn connect_url_valid_link_verifies() {
    let got = verify_connect(&connect_link(STATE, None, &NOW.to_string()), NOW).unwrap();
    assert_eq!((got.install_id.as_str(), got.ts, got.scope), (ID, NOW, None));
    // Just the query is accepted too.
    let link = connect_link(STATE, None, &NOW.to_string());
    let query = link.split_once('?').unwrap().1;
    assert_eq!(verify_connect(query, NOW).unwrap().state, STATE);
}

#[test]
fn connect_url_age_boundary() {
    let oldest = (NOW - CONNECT_TTL_SECS).to_string();
    assert_eq!(verify_connect(&connect_link(STATE, None, &oldest), NOW).unwrap().ts, NOW - CONNECT_TTL_SECS);
    let too_old = (NOW - CONNECT_TTL_SECS - 1).to_string();
    assert_eq!(verify_connect(&connect_link(STATE, None, &too_old), NOW), Err(Error::SignatureExpired));
}

#[test]
fn connect_url_future_boundary() {
    let ahead = (NOW + FUTURE_SKEW_SECS).to_string();
    assert_eq!(verify_connect(&connect_link(STATE, None, &ahead), NOW).unwrap().ts, NOW + FUTURE_SKEW_SECS);
    let too_far = (NOW + FUTURE_SKEW_SECS + 1).to_string();
    assert_eq!(verify_connect(&connect_link(STATE, None, &too_far), NOW), Err(Error::SignatureExpired));
}

#[test]
fn connect_url_ts_must_be_1_to_12_digits() {
    let malformed = |ts: &str| {
        let err = verify_connect(&connect_link(STATE, None, ts), NOW).unwrap_err();
        assert_eq!(err, Error::SignatureMalformed("ts must be unix seconds"), "{ts:?}");
    };
    // A sign, which i64 parsing alone would accept, is refused.
    malformed("%2B1700000000");
    malformed("-1");
    malformed("");
    malformed("17e8");
    // Leading zeros are read within 12 digits, and no further; the
    // signature covers the value's canonical spelling.
    malformed("0001700000000");
    let canonical = connect_link(STATE, None, &NOW.to_string());
    let zero_padded = canonical.replace(&format!("ts={NOW}"), "ts=001700000000");
    assert_eq!(verify_connect(&zero_padded, NOW).unwrap().ts, NOW);
    let signed_padded = connect_link(STATE, None, "001700000000");
    assert_eq!(verify_connect(&signed_padded, NOW).unwrap_err().code(), "signature_invalid");
    // ts is required.
    let no_ts = canonical.replace(&format!("&ts={NOW}"), "");
    assert_eq!(verify_connect(&no_ts, NOW), Err(Error::SignatureMalformed("ts must be unix seconds")));
}

#[test]
fn connect_url_tampered_or_foreign_is_refused() {
    let link = connect_link(STATE, None, &NOW.to_string());
    let tampered = link.replace(STATE, "dddddddddddddddddddddd");
    assert_eq!(verify_connect(&tampered, NOW).unwrap_err().code(), "signature_invalid");
    let foreign = verify_connect_url(&link, NOW, &mut |_| Some(secret(2)));
    assert_eq!(foreign.unwrap_err().code(), "signature_invalid");
    let unknown = verify_connect_url(&link, NOW, &mut |_| None);
    assert_eq!(unknown.unwrap_err().code(), "unknown_installation");
}

#[test]
fn connect_url_unexpected_or_missing_parameter_is_refused() {
    let link = connect_link(STATE, None, &NOW.to_string());
    let extra = format!("{link}&extra=1");
    assert_eq!(verify_connect(&extra, NOW), Err(Error::SignatureMalformed("unexpected query parameter")));
    let no_sig = link.split("&sig=").next().unwrap();
    assert_eq!(verify_connect(no_sig, NOW), Err(Error::SignatureMalformed("missing connect parameter")));
    let twice = format!("{link}&state=x");
    assert_eq!(verify_connect(&twice, NOW), Err(Error::SignatureMalformed("malformed or repeated query parameter")));
}

#[test]
fn connect_url_without_question_mark_has_no_query() {
    let link = connect_link(STATE, None, &NOW.to_string());
    let no_mark = link.replacen('?', "&", 1);
    assert_eq!(verify_connect(&no_mark, NOW), Err(Error::SignatureMalformed("missing connect parameter")));
}

#[test]
fn connect_url_size_limit() {
    // `state` is padded so the whole link is exactly the limit.
    let base = connect_link(STATE, None, &NOW.to_string()).len();
    let at = |len: usize| connect_link(&format!("{STATE}{}", "s".repeat(len - base)), None, &NOW.to_string());
    assert_eq!(at(MAX_CALLBACK).len(), MAX_CALLBACK);
    assert!(verify_connect(&at(MAX_CALLBACK), NOW).is_ok(), "exactly the limit");
    assert_eq!(verify_connect(&at(MAX_CALLBACK + 1), NOW).unwrap_err().code(), "too_large");
}

#[test]
fn connect_url_signed_with_bad_return_url_is_refused() {
    let pairs = [("install_id", ID), ("state", STATE), ("return_url", "https://x/cb?code=1"), ("ts", "1700000000")];
    let sig = link_signature(&secret(1), CONNECT_CONTEXT, &pairs);
    let url = format!("https://broker.example/connect?{}&sig={sig}", canonical_query(&pairs));
    assert_eq!(verify_connect(&url, NOW).unwrap_err().code(), "invalid_url");
}

// ---- return URL and scope (checked when the plugin builds the link) --------

fn connect_err(return_url: &str, scope: Option<&str>) -> Error {
    registered().connect_url_with_state(return_url, scope, NOW, STATE).unwrap_err()
}

#[test]
fn return_url_length_limit_is_2048() {
    let base = "https://shop.example/";
    let at = |len: usize| format!("{base}{}", "a".repeat(len - base.len()));
    assert!(registered().connect_url_with_state(&at(2048), None, NOW, STATE).is_ok(), "exactly 2048");
    assert_eq!(connect_err(&at(2049), None), Error::TooLarge { field: "return_url", limit: 2048 });
}

#[test]
fn return_url_without_scheme_or_rest_is_not_absolute() {
    // Refused by the absolute-URL rule itself, not later by the URL parser.
    let not_absolute = Error::InvalidUrl { field: "return_url", reason: "must be absolute" };
    for bad in ["https://", "1http://shop.example/", "://shop.example/", "ht_tp://shop.example/"] {
        assert_eq!(connect_err(bad, None), not_absolute, "{bad}");
    }
}

#[test]
fn extension_return_url_needs_an_extension_id() {
    let ok = registered().connect_url_with_state("chrome-extension://abcdef/options.html", None, NOW, STATE);
    assert!(ok.is_ok());
    let bad = Error::InvalidUrl { field: "return_url", reason: "an extension page must be scheme://<id>/path" };
    assert_eq!(connect_err("chrome-extension:///page.html", None), bad);
    assert_eq!(connect_err("moz-extension://ab_cd/page.html", None), bad);
}

#[test]
fn scope_limits() {
    let ok = |s: &str| registered().connect_url_with_state(RETURN, Some(s), NOW, STATE).is_ok();
    assert!(ok("read write"), "spaces are allowed");
    assert!(ok("a"));
    assert!(ok(&"s".repeat(256)), "exactly 256");
    assert!(ok("x:y/z~!"));
    let bad = Error::InvalidInput { field: "scope", reason: "must be 1-256 visible ASCII characters" };
    for s in [String::new(), "s".repeat(257), "read\twrite".into(), "caf\u{e9}".into(), "a\nb".into()] {
        assert_eq!(connect_err(RETURN, Some(&s)), bad, "{s:?}");
    }
}

// ---- callback and connect code --------------------------------------------

#[test]
fn callback_with_valid_code_connects() {
    let mut c = pending();
    let got = complete(&mut c, &format!("{RETURN}&state={STATE}&code=cc_-._~0123456789"));
    assert!(matches!(got, Ok(Completion::Connected { .. })), "{got:?}");
}

#[test]
fn callback_url_without_question_mark_has_no_query() {
    // `https://…&state=…` is a URL without a query, not a query.
    let mut c = pending();
    let err = c.start_complete_connect(&format!("https://shop.example/cb&state={STATE}&code=cc_0123456789abcdef"), NOW);
    assert_eq!(err.unwrap_err(), Error::CallbackInvalid("missing state"));
    assert!(c.state().pending_connect().is_some());
}

#[test]
fn callback_size_limit() {
    let base = format!("?state={STATE}&code=cc_0123456789abcdef&pad=");
    let at = |len: usize| format!("{base}{}", "p".repeat(len - base.len()));
    assert!(complete(&mut pending(), &at(MAX_CALLBACK)).is_ok(), "exactly the limit");
    let err = pending().start_complete_connect(&at(MAX_CALLBACK + 1), NOW).unwrap_err();
    assert_eq!(err, Error::TooLarge { field: "callback", limit: MAX_CALLBACK });
}

#[test]
fn connect_code_length_and_charset() {
    assert_eq!(MAX_CONNECT_CODE, 256);
    let run = |code: &str| complete(&mut pending(), &format!("?state={STATE}&code={code}"));
    assert!(run(&"c".repeat(16)).is_ok(), "16 characters");
    assert!(run(&"c".repeat(256)).is_ok(), "256 characters");
    assert!(run("Az09-._~Az09-._~").is_ok());
    let invalid = Error::CallbackInvalid("code is not a valid connect code");
    assert_eq!(run(&"c".repeat(15)), Err(invalid.clone()), "15 characters");
    assert_eq!(run(&"c".repeat(257)), Err(invalid.clone()), "257 characters");
    assert_eq!(run("cccccccccccccccc%2F"), Err(invalid.clone()), "a slash");
    assert_eq!(run("cccccccc cccccccc"), Err(invalid), "a space");
}

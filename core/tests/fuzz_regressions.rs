//! Regression tests for what the fuzz targets in `fuzz/` found (`scripts/fuzz.sh`).
//!
//! Each test holds the input (minimised, inline) and fails without its fix.
//! The raw crash files are kept in `tests/fuzz-regressions/<target>/`
//! (`cargo +nightly fuzz run <target> <file>` from `fuzz/` replays one); those
//! of text-framed targets are replayed here too.

use std::path::PathBuf;

use tessera_core::internals::url::{MAX_URL, Url};
use tessera_core::{ApiRequest, Companion, SeededEntropy, SignOptions, verify_connect_url};

mod support;

use support::{NOW, complete_connect};

fn registered() -> Companion {
    support::registered("https://broker.example", 3)
}

/// The raw crash files of one target.
fn crash_files(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz-regressions").join(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no crash files in {}", dir.display());
    out
}

// ---- url_parse: a URL under MAX_URL whose normalised form is over it -------------

/// Normalising percent-encodes (a backquote becomes `%60`), so a 1 422-byte URL
/// became a 4 222-byte one: `Url::parse` accepted it, the core signed it, and
/// `Url::parse` of what it signed (the verifier's first step) said `too_large`.
#[test]
fn url_whose_normalised_form_exceeds_the_bound_is_too_large() {
    let text = format!("https://a.example/p?q={}", "`".repeat(1400));
    assert!(text.len() <= MAX_URL);
    assert_eq!(Url::parse(&text, "url").unwrap_err().code(), "too_large");

    let base = Url::parse("https://a.example", "url").unwrap();
    let tail = format!("/p?q={}", "`".repeat(1400));
    assert_eq!(base.append_path(&tail, "path").unwrap_err().code(), "too_large");

    // End to end: the plugin refuses to sign it instead of sending a request
    // the broker cannot accept.
    let mut c = registered();
    c.connect_url_with_state("https://shop.example/cb", None, NOW, "fuzz-state-0123456789").unwrap();
    complete_connect(&mut c, "state=fuzz-state-0123456789&code=cc_ZnV6ei1jb25uZWN0LWNvZGU", NOW, "btk_1").unwrap();
    let signed = c.sign_request(
        &ApiRequest::new("GET", &tail),
        &SignOptions { now: NOW, ..Default::default() },
        &mut SeededEntropy::new([0; 32]),
    );
    assert_eq!(signed.unwrap_err().code(), "too_large");
}

/// The raw `url_parse` crash files: `base\npath-and-query`; normalisation must
/// be a fixed point and `append_path` must equal parsing the concatenation.
#[test]
fn url_parse_crash_files() {
    for (path, bytes) in crash_files("url_parse") {
        let text = String::from_utf8_lossy(&bytes);
        let (base, tail) = text.split_once('\n').unwrap_or((&text, "/"));
        if let Ok(url) = Url::parse(base, "url") {
            let s = url.as_string();
            assert_eq!(Url::parse(&s, "url").as_ref(), Ok(&url), "{}", path.display());
            if tail.starts_with('/') {
                let concatenated =
                    format!("{}://{}{}{tail}", url.scheme(), url.authority(), url.path().trim_end_matches('/'));
                assert_eq!(url.append_path(tail, "path"), Url::parse(&concatenated, "path"), "{}", path.display());
            }
        }
    }
}

// ---- connect_roundtrip: a return URL whose callback can never complete ----------------

/// The plugin accepted a return URL whose own query has a malformed escape
/// (`%A.`), signed a connect URL for it, and the broker verified it; but the
/// callback the broker then sends (`{return_url}&state=…&code=…`)
/// never parses, so the operator could never connect. The same for a return
/// URL whose query repeats a key (second run) or already carries `state`,
/// `code` or `error`. Both are now
/// refused up front (`invalid_url`), by the plugin and by the broker.
#[test]
fn return_url_whose_callback_cannot_complete_is_refused() {
    for return_url in [
        "A.ps://sn..~..;]aVPPAps://shop_?..%A.", // the fuzzer's input, verbatim
        "https://shop.example/cb?page=%zz",
        "https://shop.example/cb?page=%C3",
        "https://shop.example/cb?state=mine",
        "https://shop.example/cb?%73tate=mine",
        "https://shop.example/cb?error=x",
        "https://shop.example/cb?x=1&code=t",
        // The fuzzer's second input: the return URL's own query repeats a key ("33").
        "ApAps://shop,,,,Aps://sho&&?ps://shop,,,,Aps://sho&&33&&&&?ps://shop,,,,(,,Aps://sho&&33&A",
        "https://shop.example/cb?a=1&a=2",
    ] {
        let mut c = registered();
        let r = c.connect_url_with_state(return_url, None, NOW, "fuzz-state-0123456789");
        assert_eq!(r.unwrap_err().code(), "invalid_url", "{return_url}");
        assert!(c.state().pending_connect().is_none());
    }

    // The broker refuses such a connect URL too, even with a valid signature.
    let c = registered();
    let secret = c.state().installation().unwrap().secret.clone();
    let id = c.install_id().unwrap().to_owned();
    let pairs = tessera_core::internals::connect::canonical_query(&[
        ("install_id", &id),
        ("state", "fuzz-state-0123456789"),
        ("return_url", "https://shop.example/cb?page=%zz"),
        ("ts", "1700000000"),
    ]);
    let sig = tessera_core::internals::connect::link_signature(
        &secret,
        tessera_core::internals::connect::CONNECT_CONTEXT,
        &[
            ("install_id", &id),
            ("state", "fuzz-state-0123456789"),
            ("return_url", "https://shop.example/cb?page=%zz"),
            ("ts", "1700000000"),
        ],
    );
    let url = format!("https://broker.example/connect?{pairs}&sig={sig}");
    let r = verify_connect_url(&url, NOW, &mut |_| Some(secret.clone()));
    assert_eq!(r.unwrap_err().code(), "invalid_url");

    // A return URL with an ordinary query still works end to end.
    let mut c = registered();
    c.connect_url_with_state("https://shop.example/wp-admin/?page=x&tab=y", None, NOW, "fuzz-state-0123456789")
        .unwrap();
    complete_connect(
        &mut c,
        "https://shop.example/wp-admin/?page=x&tab=y&state=fuzz-state-0123456789&code=cc_ZnV6ei1jb25uZWN0LWNvZGU",
        NOW,
        "btk_1",
    )
    .unwrap();
    assert_eq!(c.status().as_str(), "connected");
}

// ---- state_json: extreme numbers in a state blob ----------------------------------------

/// A state blob of a registered installation with a pending connect,
/// `clock_offset` and the pending connect's `created` replaced.
fn state_with(clock_offset: i64, created: i64) -> String {
    format!(
        concat!(
            r#"{{"v":1,"config":{{"broker_url":"https://broker.example"}},"status":"registered","#,
            r#""installation":{{"id":"ins_ogn46CgnicOwpTor1vQLww","site_url":"https://shop.example","#,
            r#""admin_email":"owner@shop.example","secret":"k8DFF3RHQ3JRBdLt9gk0yVHMfEW6V5RLo9LtDCSk8sY","#,
            r#""platform":"wordpress","plugin_version":"1.2.3","confirmed":true}},"broker_token":"btk_1","#,
            r#""pending_connect":{{"state":"cGVuZGluZy1zdGF0ZS0x","created":{},"return_url":"https://shop.example/cb"}},"#,
            r#""clock_offset":{},"reconnect_reason":null,"site_mismatch":null}}"#
        ),
        created, clock_offset
    )
}

/// `created + 300` overflowed in the signer when `now` plus the state's clock
/// offset came within 300 s of i64::MAX. Fixed: such an offset is
/// `state_corrupt` at load (core/src/state.rs), and a `now` outside
/// 1970–9999 is `invalid_input` wherever a timestamp is produced
/// (core/src/clock.rs).
#[test]
fn signing_at_the_end_of_time_is_invalid_input() {
    let e = Companion::from_json(&state_with(i64::MAX - NOW - 100, NOW)).unwrap_err();
    assert_eq!(e.code(), "state_corrupt");
    let c = Companion::from_json(&state_with(0, NOW)).unwrap();
    for now in [i64::MAX - 100, i64::MIN, -1, 253_402_300_800] {
        let r = c.sign_request(
            &ApiRequest::new("GET", "/api/x"),
            &SignOptions { now, ..Default::default() },
            &mut SeededEntropy::new([0; 32]),
        );
        assert_eq!(r.unwrap_err().code(), "invalid_input", "{now}");
    }
}

/// `State::from_json` accepted any i64 `clock_offset`; signing, the connect
/// URL and the uninstall link computed `now + clock_offset`, which panicked
/// with overflow checks and wrapped silently without them. Fixed: the offset
/// is bounded at load (±100 years, else `state_corrupt`) and the sums saturate
/// into a checked range.
#[test]
fn huge_clock_offset_in_state_is_a_typed_error() {
    for offset in [i64::MAX, i64::MIN] {
        let json = state_with(offset, NOW);
        let outcome = std::panic::catch_unwind(|| {
            let Ok(mut c) = Companion::from_json(&json) else { return };
            let mut rng = SeededEntropy::new([0; 32]);
            let opts = SignOptions { now: NOW, ..Default::default() };
            let _ = c.sign_request(&ApiRequest::new("GET", "/api/x"), &opts, &mut rng);
            let _ = c.uninstall_url(NOW);
            let _ = c.connect_url("https://shop.example/cb", None, NOW, &mut rng);
        });
        assert!(outcome.is_ok(), "clock_offset {offset} panicked");
    }
}

/// `complete_connect` computed `now - pending.created` and
/// `pending.created - 600`; a pending connect with `created` near i64::MIN
/// (or MAX) overflowed. Fixed: the age is an `abs_diff`, and an
/// unrepresentable one is expired.
#[test]
fn extreme_pending_connect_created_is_expired_not_a_panic() {
    for created in [i64::MIN, i64::MAX] {
        let json = state_with(0, created);
        let outcome = std::panic::catch_unwind(|| {
            let mut c = Companion::from_json(&json).unwrap();
            complete_connect(&mut c, "state=cGVuZGluZy1zdGF0ZS0x&code=cc_ZnV6ei1jb25uZWN0LWNvZGU", NOW, "btk_2")
                .map(|_| ())
                .map_err(|e| e.code())
        });
        assert_eq!(outcome.ok(), Some(Err("callback_expired")), "created {created}");
    }
}

// ---- http_date ------------------------------------------------------------------------

/// `fmt_http_date` clamped negative times to the epoch but not the other end:
/// from 253402300800 (year 10000) on, the `httpdate` crate panicked. Fixed:
/// the core's own `httpdate::format` clamps both ends.
#[test]
fn fmt_http_date_after_year_9999_does_not_panic() {
    for t in [253_402_300_800, i64::MAX] {
        let r = std::panic::catch_unwind(|| tessera_core::internals::classify::fmt_http_date(t));
        assert_eq!(r.ok().as_deref(), Some("Fri, 31 Dec 9999 23:59:59 GMT"), "{t}");
    }
}

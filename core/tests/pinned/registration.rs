//! `registration.rs`: what a registration accepts (email, platform, version,
//! extension origins) and how a 202 ownership challenge is read.

use tessera_core::internals::registration::{check_email, site_identity, verify_ownership_proof};
use tessera_core::{Companion, Config, Error, Registration, Response, SeededEntropy};
use tessera_core::{OwnershipProof, RegistrationOutcome};

const NOW: i64 = 1_700_000_000;
/// Largest 202 body read for a challenge (16 KiB).
const CHALLENGE_LIMIT: usize = 16 * 1024;
const CHALLENGE: &str = "challenge-0123456789";

fn reg() -> Registration {
    Registration {
        site_url: "https://shop.example".into(),
        admin_email: "owner@shop.example".into(),
        platform: "wordpress".into(),
        plugin_version: "1.2.3".into(),
    }
}

fn register(reg: &Registration) -> tessera_core::Result<Companion> {
    let mut c = Companion::create(Config::new("https://broker.example"))?;
    c.registration_request(reg, &mut SeededEntropy::new([1; 32]))?;
    Ok(c)
}

fn rejected_field(reg: &Registration) -> &'static str {
    match register(reg).map(|_| ()).unwrap_err() {
        Error::InvalidInput { field, .. } => field,
        other => panic!("expected invalid_input, got {other:?}"),
    }
}

/// A 202 body `{"challenge":"…"   }` padded with JSON whitespace to `len` bytes.
fn challenge_body(challenge: &str, len: usize) -> Vec<u8> {
    let mut body = format!(r#"{{"challenge":"{challenge}""#).into_bytes();
    body.resize(len - 1, b' ');
    body.push(b'}');
    body
}

fn answer_202(body: Vec<u8>) -> tessera_core::Result<RegistrationOutcome> {
    answer_202_to(&mut register(&reg()).unwrap(), body)
}

fn answer_202_to(c: &mut Companion, body: Vec<u8>) -> tessera_core::Result<RegistrationOutcome> {
    c.handle_registration_response_at(&Response::new(202, body), NOW)
}

fn malformed_challenge() -> Error {
    Error::RegistrationRejected { status: 202, reason: "malformed_challenge".into() }
}

fn local_part_error() -> Error {
    Error::InvalidInput { field: "admin_email", reason: "has an invalid local part" }
}

fn domain_error() -> Error {
    Error::InvalidInput { field: "admin_email", reason: "has an invalid domain" }
}

// ---- ownership challenge ----------------------------------------------------

#[test]
fn outcome_names_are_stable() {
    assert_eq!(RegistrationOutcome::Registered.as_str(), "registered");
    let proof = OwnershipProof { url: String::new(), path: String::new(), body: String::new() };
    assert_eq!(RegistrationOutcome::OwnershipChallenge(proof).as_str(), "ownership_challenge");
}

#[test]
fn challenge_body_at_the_limit_is_read() {
    let mut c = register(&reg()).unwrap();
    let Ok(RegistrationOutcome::OwnershipChallenge(proof)) =
        answer_202_to(&mut c, challenge_body(CHALLENGE, CHALLENGE_LIMIT))
    else {
        panic!("expected an ownership challenge");
    };
    // The proof answers exactly the challenge in the body.
    let inst = c.state().installation().unwrap();
    assert_eq!(proof.path, format!("/.well-known/tessera/{}", inst.id));
    assert_eq!(verify_ownership_proof(&inst.secret, &inst.id, CHALLENGE, &proof.body), Ok(()));
}

#[test]
fn challenge_body_one_byte_over_the_limit_is_refused() {
    assert_eq!(answer_202(challenge_body(CHALLENGE, CHALLENGE_LIMIT + 1)).unwrap_err(), malformed_challenge());
}

#[test]
fn challenge_body_far_over_the_limit_is_refused() {
    assert_eq!(answer_202(challenge_body(CHALLENGE, 2 * CHALLENGE_LIMIT)).unwrap_err(), malformed_challenge());
}

#[test]
fn challenge_of_16_characters_is_accepted_and_15_refused() {
    assert!(answer_202(challenge_body(&"c".repeat(16), 64)).is_ok());
    assert_eq!(answer_202(challenge_body(&"c".repeat(15), 64)).unwrap_err(), malformed_challenge());
}

#[test]
fn challenge_that_is_not_a_profile_token_is_refused() {
    // Long enough, but it would be signed into a proof: token characters only.
    assert_eq!(answer_202(challenge_body("challenge 0123456789", 64)).unwrap_err(), malformed_challenge());
}

// ---- admin email ------------------------------------------------------------

/// `local@domain` padded with 63-byte labels to exactly `len` bytes (≥ 70).
fn email_of_len(len: usize) -> String {
    let local = "l".repeat(64);
    let mut domain = String::new();
    let mut left = len - 65;
    while left > 0 {
        if !domain.is_empty() {
            domain.push('.');
            left -= 1;
        }
        let n = left.min(63);
        domain.push_str(&"d".repeat(n));
        left -= n;
    }
    format!("{local}@{domain}")
}

#[test]
fn email_of_254_bytes_is_accepted_and_255_refused() {
    let at = email_of_len(254);
    assert_eq!(at.len(), 254);
    assert_eq!(check_email(&at), Ok(()));
    for len in [255, 256] {
        let over = email_of_len(len);
        assert_eq!(over.len(), len);
        let err = check_email(&over).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidInput { field: "admin_email", reason: "must be a single address without spaces" }
        );
    }
}

#[test]
fn email_with_a_control_character_is_refused() {
    // NUL is a control but not whitespace.
    assert!(check_email("a\u{0}b@shop.example").is_err());
    assert!(check_email("a\tb@shop.example").is_err());
    assert!(check_email("a b@shop.example").is_err());
}

#[test]
fn email_local_part_of_64_bytes_is_accepted_and_65_refused() {
    assert_eq!(check_email(&format!("{}@shop.example", "l".repeat(64))), Ok(()));
    assert_eq!(check_email(&format!("{}@shop.example", "l".repeat(65))).unwrap_err(), local_part_error());
}

#[test]
fn email_local_part_checks_each_report_the_local_part() {
    for bad in ["@shop.example", "a@b@shop.example", "a<b@shop.example", "a,b@shop.example", "a;b@shop.example"] {
        assert_eq!(check_email(bad).unwrap_err(), local_part_error(), "{bad}");
    }
}

#[test]
fn email_domain_label_of_63_bytes_is_accepted_and_64_refused() {
    assert_eq!(check_email(&format!("a@{}.example", "d".repeat(63))), Ok(()));
    assert_eq!(check_email(&format!("a@{}.example", "d".repeat(64))).unwrap_err(), domain_error());
}

#[test]
fn email_domain_labels_may_hold_inner_hyphens_only() {
    assert_eq!(check_email("a@my-shop.example"), Ok(()));
    for bad in ["a@-shop.example", "a@shop-.example", "a@shop.example-", "a@shop_x.example", "a@shop.example."] {
        assert_eq!(check_email(bad).unwrap_err(), domain_error(), "{bad}");
    }
}

#[test]
fn email_domain_needs_two_labels() {
    assert_eq!(check_email("a@localhost").unwrap_err(), domain_error());
    assert_eq!(check_email("a@xn--mnchen-3ya.de"), Ok(()));
}

// ---- extension origins -------------------------------------------------------

#[test]
fn extension_id_of_64_characters_is_accepted_and_65_refused() {
    let id = "a".repeat(64);
    let url = format!("moz-extension://{id}");
    assert_eq!(site_identity(&url, "site_url").unwrap(), url);
    let err = site_identity(&format!("moz-extension://{id}b"), "site_url").unwrap_err();
    assert_eq!(err.code(), "invalid_url");
}

#[test]
fn extension_id_is_letters_digits_and_hyphens() {
    let uuid = "moz-extension://0f6ac1b2-7c4e-4a55-9c9e-2f0e8e4b7a10";
    assert_eq!(site_identity(uuid, "site_url").unwrap(), uuid);
    assert_eq!(site_identity("chrome-extension://ABC", "site_url").unwrap(), "chrome-extension://abc");
    for bad in ["chrome-extension://ab_c", "chrome-extension://ab.c", "chrome-extension://ab%41", "moz-extension://"] {
        assert_eq!(site_identity(bad, "site_url").unwrap_err().code(), "invalid_url", "{bad}");
    }
}

// ---- platform and plugin version ---------------------------------------------

#[test]
fn registration_with_valid_meta_is_accepted() {
    let c = register(&Registration { platform: "wp-6.4_x".into(), ..reg() }).unwrap();
    assert_eq!(c.site_url(), Some("https://shop.example"));
}

#[test]
fn platform_of_32_characters_is_accepted_and_33_refused() {
    assert!(register(&Registration { platform: "p".repeat(32), ..reg() }).is_ok());
    assert_eq!(rejected_field(&Registration { platform: "p".repeat(33), ..reg() }), "platform");
}

#[test]
fn platform_is_lowercase_letters_digits_and_dot_underscore_hyphen() {
    assert!(register(&Registration { platform: "chrome-extension.v3_1".into(), ..reg() }).is_ok());
    for bad in ["", "WordPress", "word press", "wp/6"] {
        assert_eq!(rejected_field(&Registration { platform: bad.into(), ..reg() }), "platform", "{bad:?}");
    }
}

#[test]
fn plugin_version_of_32_characters_is_accepted_and_33_refused() {
    assert!(register(&Registration { plugin_version: "9".repeat(32), ..reg() }).is_ok());
    assert_eq!(rejected_field(&Registration { plugin_version: "9".repeat(33), ..reg() }), "plugin_version");
}

#[test]
fn plugin_version_is_visible_ascii() {
    assert!(register(&Registration { plugin_version: "1.0.0-beta+Build!".into(), ..reg() }).is_ok());
    for bad in ["", "1.0 beta", "1.0\n", "1.0é"] {
        assert_eq!(rejected_field(&Registration { plugin_version: bad.into(), ..reg() }), "plugin_version", "{bad:?}");
    }
}

#[test]
fn registration_checks_the_email_and_site() {
    assert_eq!(rejected_field(&Registration { admin_email: "owner".into(), ..reg() }), "admin_email");
    let err = register(&Registration { site_url: "ftp://shop.example".into(), ..reg() }).map(|_| ()).unwrap_err();
    assert_eq!(err.code(), "invalid_url");
}

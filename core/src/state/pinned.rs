//! Pinned tests of `core/src/state/` (moved from core/tests/pinned: they build
//! states field by field, which only the crate can): the persisted state blob (size and version bounds,
//! the derived status, a lossless round trip of every member).

use super::{Account, Installation, MAX_STATE_JSON, PendingConnect, STATE_VERSION, State, Status};
use crate::clock::MAX_CLOCK_OFFSET_SECS;
use crate::config::{Config, RetryPolicy, Routes};
use crate::secret::{BrokerToken, Secret};

const ALL: [(Status, &str); 8] = [
    (Status::NotRegistered, "not_registered"),
    (Status::RegistrationPending, "registration_pending"),
    (Status::AwaitingOwnership, "awaiting_ownership"),
    (Status::Registered, "registered"),
    (Status::Connected, "connected"),
    (Status::ReconnectRequired, "reconnect_required"),
    (Status::RegistrationInvalid, "registration_invalid"),
    (Status::SiteMismatch, "site_mismatch"),
];

fn installation(confirmed: bool) -> Installation {
    Installation {
        id: "ins_AAAAAAAAAAAAAAAAAAAAAA".into(),
        site_url: "https://shop.example".into(),
        admin_email: "owner@shop.example".into(),
        secret: Secret::from_bytes(&[7; 32]).unwrap(),
        platform: "wordpress".into(),
        plugin_version: "1.2.3".into(),
        confirmed,
        challenge: None,
        invalid_reason: None,
    }
}

/// A state with every member set to a non-default value.
fn full() -> State {
    let mut config = Config::new("https://broker.example/t");
    config.routes = Routes {
        installations: "/i".into(),
        connect: "/c".into(),
        disconnect: "/d".into(),
        connect_complete: "/cc".into(),
    };
    config.retry = RetryPolicy {
        max_attempts: 7,
        base_delay_ms: 11,
        max_delay_ms: 13,
        max_total_delay_ms: 17,
        max_retry_after_ms: 19,
    };
    let mut inst = installation(true);
    inst.challenge = Some("chl_1".into());
    inst.invalid_reason = Some("revoked".into());
    let mut s = State::new(config);
    s.installation = Some(inst);
    s.broker_token = Some(BrokerToken::new("btk_abc").unwrap());
    s.account = Some(Account::new("acct_1", "Ada").unwrap());
    s.pending_connect =
        Some(PendingConnect { state: "st_1".into(), created: -5, return_url: "https://shop.example/cb".into() });
    s.clock_offset = -42;
    s.reconnect_reason = Some("token_revoked".into());
    s.site_mismatch = Some("https://other.example".into());
    s.status = s.derive_status();
    s
}

fn corrupt(json: &str) -> String {
    match State::from_json(json) {
        Err(crate::Error::StateCorrupt(m)) => m,
        other => panic!("{json}: {other:?}"),
    }
}

/// The state of `State::new` as JSON, padded with an unknown member to `len` bytes.
fn padded_blob(len: usize) -> String {
    let base = State::new(Config::new("https://broker.example")).to_json();
    let pad = len - base.len() - r#""pad":"","#.len();
    let json = format!(r#"{{"pad":"{}",{}"#, "x".repeat(pad), &base[1..]);
    assert_eq!(json.len(), len);
    json
}

#[test]
fn status_names_are_stable_and_parse_back() {
    for (status, name) in ALL {
        assert_eq!(status.as_str(), name);
        assert_eq!(Status::parse(name), Some(status));
    }
    assert_eq!(Status::parse("Connected"), None);
    assert_eq!(Status::parse(""), None);
}

#[test]
fn every_member_survives_a_round_trip() {
    let s = full();
    let json = s.to_json();
    assert_eq!(State::from_json(&json).unwrap(), s);
    for member in [
        r#""installations":"/i""#,
        r#""max_retry_after_ms":19"#,
        r#""challenge":"chl_1""#,
        r#""invalid_reason":"revoked""#,
        r#""broker_token":"btk_abc""#,
        r#""account":{"id":"acct_1","name":"Ada"}"#,
        r#""reconnect_reason":"token_revoked""#,
        r#""site_mismatch":"https://other.example""#,
        r#""status":"site_mismatch""#,
    ] {
        assert!(json.contains(member), "{member} in {json}");
    }
}

#[test]
fn fresh_state_round_trips_with_null_members() {
    let s = State::new(Config::new("https://broker.example"));
    assert_eq!(s.v, STATE_VERSION);
    let json = s.to_json();
    assert!(json.contains(r#""installation":null"#), "{json}");
    assert_eq!(State::from_json(&json).unwrap(), s);
}

#[test]
fn status_follows_the_fields_in_priority_order() {
    let mut s = State::new(Config::new("https://broker.example"));
    // Without an installation nothing else counts.
    s.site_mismatch = Some("https://other.example".into());
    s.broker_token = Some(BrokerToken::new("btk_abc").unwrap());
    s.reconnect_reason = Some("r".into());
    assert_eq!(s.derive_status(), Status::NotRegistered);

    let mut inst = installation(false);
    inst.challenge = Some("chl".into());
    inst.invalid_reason = Some("gone".into());
    s.installation = Some(inst);
    assert_eq!(s.derive_status(), Status::SiteMismatch);
    s.site_mismatch = None;
    assert_eq!(s.derive_status(), Status::RegistrationInvalid);
    s.installation.as_mut().unwrap().invalid_reason = None;
    assert_eq!(s.derive_status(), Status::AwaitingOwnership);
    s.installation.as_mut().unwrap().challenge = None;
    assert_eq!(s.derive_status(), Status::RegistrationPending);
    s.installation.as_mut().unwrap().confirmed = true;
    assert_eq!(s.derive_status(), Status::Connected);
    s.broker_token = None;
    assert_eq!(s.derive_status(), Status::ReconnectRequired);
    s.reconnect_reason = None;
    assert_eq!(s.derive_status(), Status::Registered);
}

#[test]
fn status_written_in_the_blob_is_recomputed_on_read() {
    let mut s = State::new(Config::new("https://broker.example"));
    s.installation = Some(installation(true));
    // Whatever status the blob claims, reading derives it from the fields.
    for (_, name) in ALL {
        let json = s.to_json().replace(r#""status":"not_registered""#, &format!(r#""status":"{name}""#));
        assert_eq!(State::from_json(&json).unwrap().status, Status::Registered, "{name}");
    }
    s.installation.as_mut().unwrap().confirmed = false;
    assert_eq!(State::from_json(&s.to_json()).unwrap().status, Status::RegistrationPending);
}

#[test]
fn state_json_of_exactly_64_kib_is_accepted() {
    assert_eq!(MAX_STATE_JSON, 65_536);
    let json = padded_blob(MAX_STATE_JSON);
    assert_eq!(State::from_json(&json).unwrap(), State::new(Config::new("https://broker.example")));
}

#[test]
fn state_json_one_byte_over_64_kib_is_too_large() {
    let err = State::from_json(&padded_blob(MAX_STATE_JSON + 1)).unwrap_err();
    assert_eq!(err.code(), "too_large");
}

#[test]
fn version_1_is_read_and_later_versions_are_unsupported() {
    let json = State::new(Config::new("https://broker.example")).to_json();
    assert!(json.starts_with(r#"{"v":1,"#));
    assert!(State::from_json(&json).is_ok());
    for v in ["2", "18446744073709551615"] {
        let err = State::from_json(&json.replacen(r#""v":1"#, &format!(r#""v":{v}"#), 1)).unwrap_err();
        assert_eq!(err.code(), "state_version_unsupported", "{v}");
    }
    assert_eq!(corrupt(&json.replacen(r#""v":1"#, r#""v":0"#, 1)), "version 0 is not a state");
}

#[test]
fn clock_offset_is_bounded_by_the_clock_limit_on_both_sides() {
    let json = State::new(Config::new("https://broker.example")).to_json();
    let with = |o: i64| json.replace(r#""clock_offset":0"#, &format!(r#""clock_offset":{o}"#));
    for ok in [MAX_CLOCK_OFFSET_SECS, -MAX_CLOCK_OFFSET_SECS] {
        assert_eq!(State::from_json(&with(ok)).unwrap().clock_offset, ok);
    }
    for bad in [MAX_CLOCK_OFFSET_SECS + 1, -MAX_CLOCK_OFFSET_SECS - 1] {
        assert_eq!(corrupt(&with(bad)), "`clock_offset` is out of range", "{bad}");
    }
}

#[test]
fn members_of_the_wrong_type_are_named_with_the_expected_type() {
    let json = full().to_json();
    let cases = [
        (r#""broker_url":"https://broker.example/t""#, r#""broker_url":1"#, "`config.broker_url` must be a string"),
        (r#""confirmed":true"#, r#""confirmed":"yes""#, "`installation.confirmed` must be a boolean"),
        (r#""account":{"id":"acct_1","name":"Ada"}"#, r#""account":[]"#, "`account` must be an object"),
        (r#""challenge":"chl_1""#, r#""challenge":false"#, "`installation.challenge` must be a string"),
        (r#""clock_offset":-42"#, r#""clock_offset":null"#, "`clock_offset` is missing"),
    ];
    for (from, to, message) in cases {
        assert!(json.contains(from), "{from}");
        assert_eq!(corrupt(&json.replace(from, to)), message);
    }
}

#[test]
fn account_id_is_1_to_128_characters_and_name_at_most_200_without_controls() {
    let code = |id: &str, name: &str| Account::new(id, name).err().map(|e| e.code());
    // Characters, not bytes: 128 two-byte characters are a valid id.
    assert_eq!(code(&"é".repeat(Account::MAX_ID), "Ada"), None);
    assert_eq!(code(&"é".repeat(Account::MAX_ID + 1), "Ada"), Some("callback_invalid"));
    assert_eq!(code("a", ""), None);
    assert_eq!(code("", "Ada"), Some("callback_invalid"));
    assert_eq!(code("acct\u{7}1", "Ada"), Some("callback_invalid"));
    assert_eq!(code("acct_1", &"é".repeat(Account::MAX_NAME)), None);
    assert_eq!(code("acct_1", &"é".repeat(Account::MAX_NAME + 1)), Some("callback_invalid"));
    assert_eq!(code("acct_1", "Ada\nLovelace"), Some("callback_invalid"));
    let a = Account::new("acct_1", "Ada").unwrap();
    assert_eq!((a.id.as_str(), a.name.as_str()), ("acct_1", "Ada"));
}

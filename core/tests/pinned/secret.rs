//! `secret.rs`: secret length bounds, the bearer token's wrapper, and that
//! neither ever prints.

use tessera_core::{BrokerToken, Error, Secret};

#[test]
fn secret_of_16_to_256_bytes_is_accepted() {
    for len in [16, 32, 256] {
        assert_eq!(Secret::from_bytes(&vec![4; len]).unwrap().expose(), vec![4; len].as_slice());
    }
}

#[test]
fn secret_of_15_or_257_bytes_is_refused() {
    for len in [0, 15, 257, 300] {
        let err = Secret::from_bytes(&vec![4; len]).unwrap_err();
        assert_eq!(err, Error::InvalidInput { field: "secret", reason: "must be 16 to 256 bytes" }, "{len}");
    }
}

#[test]
fn secret_base64url_form_round_trips() {
    let s = Secret::from_bytes(&[0xfb; 16]).unwrap();
    assert_eq!(s.to_base64url(), "-_v7-_v7-_v7-_v7-_v7-w");
    assert_eq!(Secret::from_base64url("-_v7-_v7-_v7-_v7-_v7-w").unwrap(), s);
    let err = Secret::from_base64url("not base64!").unwrap_err();
    assert_eq!(err, Error::InvalidInput { field: "secret", reason: "not base64url" });
    assert_eq!(Secret::from_base64url("AAAA").unwrap_err().code(), "invalid_input");
}

#[test]
fn presented_bearer_is_kept_exactly() {
    // Even text `BrokerToken::new` refuses: the broker only looks it up.
    assert_eq!(BrokerToken::presented("not a token").expose(), "not a token");
    assert_eq!(BrokerToken::new("btk_abc").unwrap().expose(), "btk_abc");
}

#[test]
fn broker_tokens_compare_by_value() {
    let a = BrokerToken::new("btk_abc").unwrap();
    assert_eq!(a, BrokerToken::presented("btk_abc"));
    assert_ne!(a, BrokerToken::presented("btk_abd"));
    assert_ne!(a, BrokerToken::presented("btk_ab"));
}

#[test]
fn broker_token_prints_redacted() {
    let t = BrokerToken::new("btk_SECRET").unwrap();
    assert_eq!(format!("{t:?}"), "BrokerToken([redacted])");
    assert_eq!(format!("{t}"), "[redacted]");
    let s = Secret::from_bytes(&[7; 32]).unwrap();
    assert_eq!(format!("{s:?}"), "Secret([redacted])");
    assert_eq!(format!("{s}"), "[redacted]");
}

#[cfg(feature = "serde")]
#[test]
fn secret_and_token_serialise_as_their_text() {
    let s = Secret::from_bytes(&[0xfb; 16]).unwrap();
    assert_eq!(serde_json::to_string(&s).unwrap(), r#""-_v7-_v7-_v7-_v7-_v7-w""#);
    assert_eq!(serde_json::from_str::<Secret>(r#""-_v7-_v7-_v7-_v7-_v7-w""#).unwrap(), s);
    assert!(serde_json::from_str::<Secret>(r#""AAAA""#).is_err());
    let t = BrokerToken::new("btk_abc").unwrap();
    assert_eq!(serde_json::to_string(&t).unwrap(), r#""btk_abc""#);
    assert_eq!(serde_json::from_str::<BrokerToken>(r#""btk_abc""#).unwrap().expose(), "btk_abc");
    assert!(serde_json::from_str::<BrokerToken>(r#""has space""#).is_err());
}

#[test]
fn broker_token_is_1_to_512_b64token_characters() {
    let code = |t: &str| BrokerToken::new(t).err().map(|e| e.code());
    assert_eq!(code(""), Some("callback_invalid"));
    assert_eq!(code(&"a".repeat(BrokerToken::MAX_LEN)), None);
    assert_eq!(code(&"a".repeat(BrokerToken::MAX_LEN + 1)), Some("callback_invalid"));
    // Every b64token punctuation character, letters and digits are accepted.
    assert_eq!(code("Az09-._~+/="), None);
    for bad in ["a b", "a,b", "a\"b", "a;b", "a\nb", "é", "a:b", "a%20"] {
        assert_eq!(code(bad), Some("callback_invalid"), "{bad:?}");
    }
}

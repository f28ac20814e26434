//! `seal.rs`: the key-material floor and the size bounds of a sealed blob.

use std::sync::OnceLock;

use tessera_core::Error;
use tessera_core::internals::seal::{MAX_SEALED, MIN_KEY_MATERIAL, PREFIX, SealKey, open, seal};

const KEY: &[u8] = b"wordpress-logged-in-key-and-salt";

#[test]
fn key_material_of_16_bytes_is_accepted_and_15_refused() {
    let at = [7u8; MIN_KEY_MATERIAL];
    let blob = seal(b"state", &at, [1; 24]).unwrap();
    assert_eq!(open(&blob, &at).unwrap().as_slice(), b"state");
    assert!(SealKey::new(&at).is_ok());

    let short = [7u8; MIN_KEY_MATERIAL - 1];
    for err in [seal(b"state", &short, [1; 24]).unwrap_err(), open(&blob, &short).unwrap_err()] {
        assert_eq!(err, Error::InvalidInput { field: "key", reason: "key material must be at least 16 bytes" });
    }
    assert_eq!(SealKey::new(&short).unwrap_err().code(), "invalid_input");
}

#[test]
fn seal_key_keeps_its_material_and_prints_redacted() {
    let key = SealKey::new(KEY).unwrap();
    assert_eq!(key.expose(), KEY);
    assert_eq!(format!("{key:?}"), "SealKey([redacted])");
}

/// A genuine blob of exactly [`MAX_SEALED`] characters:
/// 5 + base64url(24 + 98_260 + 16 bytes) = 131_072.
fn largest_blob() -> &'static str {
    static BLOB: OnceLock<String> = OnceLock::new();
    BLOB.get_or_init(|| seal(&[b'x'; 98_260], KEY, [2; 24]).unwrap())
}

#[test]
fn blob_of_exactly_the_largest_size_opens() {
    assert_eq!(largest_blob().len(), MAX_SEALED);
    assert_eq!(open(largest_blob(), KEY).unwrap().as_slice(), [b'x'; 98_260].as_slice());
}

#[test]
fn blob_one_character_over_the_largest_size_is_refused() {
    // The bound holds for the text as given, before surrounding whitespace is trimmed.
    let over = format!("{} ", largest_blob());
    assert_eq!(over.len(), MAX_SEALED + 1);
    assert_eq!(open(&over, KEY).unwrap_err(), Error::StateUndecryptable);
}

#[test]
fn blob_far_over_the_largest_size_is_refused() {
    let over = format!("{}{}", largest_blob(), " ".repeat(MAX_SEALED));
    assert_eq!(open(&over, KEY).unwrap_err(), Error::StateUndecryptable);
}

#[test]
fn sealed_empty_state_of_nonce_and_tag_only_opens() {
    // 24-byte nonce + 16-byte tag: the shortest blob that can be genuine.
    let blob = seal(b"", KEY, [3; 24]).unwrap();
    assert_eq!(blob.len(), PREFIX.len() + 54);
    assert_eq!(open(&blob, KEY).unwrap().as_slice(), b"");
}

#[test]
fn blob_shorter_than_nonce_and_tag_is_refused() {
    let blob = seal(b"", KEY, [3; 24]).unwrap();
    // 39 bytes (a byte of the tag missing), and shorter than the nonce alone.
    for chars in [52, 14, 3] {
        let short = &blob[..PREFIX.len() + chars];
        assert_eq!(open(short, KEY).unwrap_err(), Error::StateUndecryptable, "{chars}");
    }
}

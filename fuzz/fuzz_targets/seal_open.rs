//! Opens arbitrary sealed-state text: the first line is the key material, the
//! rest the blob, for `seal::open` and `Companion::open_state`. Asserts: no
//! panic; a blob that does not open is `state_undecryptable` (or
//! `invalid_input` for key material under 16 bytes), never anything else;
//! whatever opens re-seals and opens to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::internals::seal::{MIN_KEY_MATERIAL, open, seal};
use tessera_core::{Companion, Error};

fuzz_target!(|data: &[u8]| {
    let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let key = &data[..end];
    let sealed = String::from_utf8_lossy(&data[(end + 1).min(data.len())..]);
    match open(&sealed, key) {
        Ok(plain) => {
            let again = seal(&plain, key, [5; 24]).expect("re-seal");
            assert_eq!(open(&again, key).expect("re-open").as_slice(), plain.as_slice());
        }
        Err(e) if key.len() < MIN_KEY_MATERIAL => assert_eq!(e.code(), "invalid_input"),
        Err(e) => assert_eq!(e, Error::StateUndecryptable),
    }
    if let Err(e) = Companion::open_state(&sealed, key) {
        assert!(
            matches!(e.code(), "state_undecryptable" | "invalid_input" | "state_corrupt" | "state_version_unsupported")
                || e.kind() == tessera_core::ErrorKind::InvalidInput,
            "{e:?}"
        );
    }
});

//! Seals arbitrary plaintext under arbitrary key material and nonce
//! (structured with `arbitrary`), then opens it. Asserts: with key material of
//! at least 16 bytes sealing succeeds and opening returns the plaintext;
//! changing any one character of the blob, or the key, makes it
//! `state_undecryptable`.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tessera_core::Error;
use tessera_core::internals::seal::{MIN_KEY_MATERIAL, open, seal};

#[derive(Arbitrary, Debug)]
struct Input {
    plaintext: Vec<u8>,
    key: Vec<u8>,
    nonce: [u8; 24],
    position: u16,
    replacement: u8,
}

fuzz_target!(|input: Input| {
    let sealed = match seal(&input.plaintext, &input.key, input.nonce) {
        Ok(s) => s,
        Err(e) => {
            assert!(input.key.len() < MIN_KEY_MATERIAL, "sealing failed: {e:?}");
            return;
        }
    };
    assert!(input.key.len() >= MIN_KEY_MATERIAL);
    assert_eq!(open(&sealed, &input.key).expect("opens").as_slice(), input.plaintext.as_slice());

    let mut bytes = sealed.clone().into_bytes();
    let i = usize::from(input.position) % bytes.len();
    let r = if input.replacement.is_ascii_graphic() { input.replacement } else { b'A' + input.replacement % 26 };
    if bytes[i] != r {
        bytes[i] = r;
        let changed = String::from_utf8(bytes).expect("ASCII");
        assert_eq!(open(&changed, &input.key).map(|_| ()), Err(Error::StateUndecryptable), "{changed}");
    }
    let mut other_key = input.key.clone();
    other_key[0] ^= 1;
    assert_eq!(open(&sealed, &other_key).map(|_| ()), Err(Error::StateUndecryptable));
});

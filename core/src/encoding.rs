//! Small encoding helpers: base64 variants, percent-encoding, hex.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use zeroize::Zeroizing;

// Base64url is RustCrypto's `base64ct`: constant-time (no table lookups or
// branches on the data, which matters for the installation secret) and strict
// (the alphabet's characters only, no padding, zero bits after the last byte),
// so every byte string has exactly one accepted encoding. Standard padded
// base64 (public data: signatures, digests, structured-field byte sequences)
// is decoded by base64ct's `Base64` too — directly, as the verifier decodes a
// MAC and a digest on every request (mapping it onto the url-safe decoder cost
// an allocation and ~15% of a verification) — and encoded by hand. Both
// decoders accept exactly the texts the hand-written decoder they replaced
// accepted (`old_decoder_and_base64ct_accept_alike` below).

/// Unpadded base64url.
pub fn b64url_encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes unpadded base64url; `None` on any malformation.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).ok()
}

/// Decodes unpadded base64url into a buffer that is zeroised when dropped,
/// on failure too (for secrets); `None` on any malformation.
pub fn b64url_decode_secret(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; text.len() / 4 * 3 + 2]);
    let len = Base64UrlUnpadded::decode(text, &mut buf).ok()?.len();
    buf.truncate(len);
    Some(buf)
}

/// Standard padded base64 (structured-field byte sequences, Content-Digest).
pub fn b64_encode(bytes: &[u8]) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        for _ in chunk.len()..3 {
            out.push('=');
        }
    }
    out
}

/// Decodes standard padded base64; `None` on any malformation.
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    Base64::decode_vec(text).ok()
}

/// RFC 3986 unreserved characters.
pub fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes every byte that is not RFC 3986 unreserved (uppercase hex).
/// This is the one canonical query encoding Tessera signs and emits.
pub fn pct_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes a query component (`+` is a space, `%XX` escapes); `None` when an
/// escape is malformed or the result is not UTF-8.
pub fn pct_decode_query(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = hex_val(*bytes.get(i + 1)?)?;
                let lo = hex_val(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Splits `a=1&b=2` into decoded pairs. `None` if any part fails to decode.
pub fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((pct_decode_query(k)?, pct_decode_query(v)?))
        })
        .collect()
}

/// Appends the decimal form of `v` without going through `core::fmt`.
pub fn push_int(out: &mut String, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push('-');
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[(b >> 4) as usize].to_ascii_lowercase() as char);
        s.push(HEX[(b & 15) as usize].to_ascii_lowercase() as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pct_round_trip() {
        let s = "https://a.example/x?y=1&z=é ~";
        let e = pct_encode(s);
        assert_eq!(e, "https%3A%2F%2Fa.example%2Fx%3Fy%3D1%26z%3D%C3%A9%20~");
        assert_eq!(pct_decode_query(&e).unwrap(), s);
        assert_eq!(pct_decode_query("a+b").unwrap(), "a b");
        assert!(pct_decode_query("%G1").is_none());
        assert!(pct_decode_query("%4").is_none());
        assert!(pct_decode_query("%FF").is_none());
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (raw, std, url) in [
            ("", "", ""),
            ("f", "Zg==", "Zg"),
            ("fo", "Zm8=", "Zm8"),
            ("foo", "Zm9v", "Zm9v"),
            ("foob", "Zm9vYg==", "Zm9vYg"),
            ("fooba", "Zm9vYmE=", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
            ("\u{fb}\u{ff}", "w7vDvw==", "w7vDvw"),
        ] {
            assert_eq!(b64_encode(raw.as_bytes()), std);
            assert_eq!(b64url_encode(raw.as_bytes()), url);
            assert_eq!(b64_decode(std).as_deref(), Some(raw.as_bytes()));
            assert_eq!(b64url_decode(url).as_deref(), Some(raw.as_bytes()));
        }
        assert_eq!(b64url_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(b64_encode(&[0xfb, 0xff]), "+/8=");
        for bad in ["Zg=", "Zg", "Zg===", "Z===", "Zh==", "Zm9=", "Zm8==", "Z", "Zm9v=", "Zg==Zg==", "-_8=", "Zm 9v"] {
            assert_eq!(b64_decode(bad), None, "{bad}");
        }
        for bad in ["Zg==", "Zh", "Zm9", "Z", "+/8", "Zm9vY", "Zm9v Yg"] {
            assert_eq!(b64url_decode(bad), None, "{bad}");
        }
    }

    /// The hand-written decoder base64ct replaced (issue 16), kept as the
    /// reference its replacement must agree with on every input.
    fn old_decode(text: &[u8], url: bool) -> Option<Vec<u8>> {
        let value = |c: u8| -> Option<u32> {
            Some(u32::from(match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' if !url => 62,
                b'/' if !url => 63,
                b'-' if url => 62,
                b'_' if url => 63,
                _ => return None,
            }))
        };
        let mut body = text;
        if !url {
            if !text.len().is_multiple_of(4) {
                return None;
            }
            let pads = text.iter().rev().take(2).take_while(|&&b| b == b'=').count();
            body = &text[..text.len() - pads];
            if pads != (4 - body.len() % 4) % 4 {
                return None;
            }
        }
        if body.len() % 4 == 1 {
            return None;
        }
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0u32);
        for &c in body {
            acc = acc << 6 | value(c)?;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        (acc == 0).then_some(out)
    }

    /// Texts near the alphabet: every base64 character of both alphabets, `=`,
    /// and a few outsiders, in lengths around the block size.
    fn near_base64() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex("[A-Za-z0-9+/_=-]{0,13}|[A-Za-z0-9+/_=. \\n\u{e9}-]{0,9}").unwrap()
    }

    /// Cases of `old_decoder_and_base64ct_accept_alike` (and of its
    /// encoded-then-mutated half).
    const BASE64_CASES: u32 = 20_000;

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(BASE64_CASES))]

        /// base64ct accepts exactly the texts the old decoder accepted, with
        /// the same bytes, for both variants: random texts, and encodings of
        /// random bytes with one character replaced.
        #[test]
        fn old_decoder_and_base64ct_accept_alike(
            text in near_base64(),
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            with in proptest::sample::select(&b"AQgw+/-_=9a."[..]),
        ) {
            proptest::prop_assert_eq!(b64url_decode(&text), old_decode(text.as_bytes(), true));
            proptest::prop_assert_eq!(b64_decode(&text), old_decode(text.as_bytes(), false));
            proptest::prop_assert_eq!(b64url_decode_secret(&text).map(|z| z.to_vec()), old_decode(text.as_bytes(), true));
            for mut enc in [b64url_encode(&bytes), b64_encode(&bytes)] {
                if !enc.is_empty() {
                    let i = at.index(enc.len());
                    enc.replace_range(i..=i, char::from(with).encode_utf8(&mut [0; 4]));
                }
                proptest::prop_assert_eq!(b64url_decode(&enc), old_decode(enc.as_bytes(), true), "{}", enc);
                proptest::prop_assert_eq!(b64_decode(&enc), old_decode(enc.as_bytes(), false), "{}", enc);
            }
        }
    }

    #[test]
    fn query_pairs() {
        let q = parse_query("a=1&b=&c&&d=x%20y").unwrap();
        assert_eq!(q.len(), 4);
        assert_eq!(q[3], ("d".into(), "x y".into()));
        assert_eq!(hex(&[0xab, 0x01]), "ab01");
        for v in [0i64, 7, -7, 1_700_000_000, i64::MIN, i64::MAX] {
            let mut s = String::new();
            push_int(&mut s, v);
            assert_eq!(s, v.to_string());
        }
    }
}

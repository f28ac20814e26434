//! The authority of a signed URL: host and port, checked so that the host
//! Tessera signs in `@authority` is the host a WHATWG URL parser (`fetch`, the
//! `url` crate, browsers) reads from the same text and sends.
//!
//! Two kinds of host are read differently by a naive parser and by WHATWG:
//! - a name whose last label is a number (`2130706433`, `0x7f.1`, `127.1`,
//!   `1.2.3.4.`) is an IPv4 address to WHATWG, written back as a dotted quad:
//!   only the canonical dotted quad (`a.b.c.d`, decimal, no leading zeros) is
//!   accepted, anything else WHATWG reads as IPv4 is refused;
//! - an IPv6 literal is written back in its RFC 5952 form (`[0:0::1]` is
//!   `[::1]`, `[::ffff:1.2.3.4]` is `[::ffff:102:304]`): the literal is
//!   validated by [`std::net::Ipv6Addr`] and must already be in that form
//!   (any letter case).
//!
//! core/tests/differential.rs checks both against the `url` crate.

use std::net::Ipv6Addr;

/// Refusal for a host WHATWG reads as an IPv4 address other than a dotted quad.
pub const NOT_DOTTED_QUAD: &str = "has a numeric host that is not a dotted-quad IPv4 address (a.b.c.d)";
/// Refusal for a valid IPv6 literal that is not written in its canonical form.
pub const NOT_CANONICAL_IPV6: &str = "has an IPv6 host not in canonical form (RFC 5952, e.g. [::1])";

/// Splits and checks `authority`: the lowercase host (IPv6 in brackets) and
/// the explicit port, if any.
pub fn parse_authority(authority: &str) -> Result<(String, Option<u16>), &'static str> {
    if authority.is_empty() {
        return Err("has no host");
    }
    if authority.contains('@') {
        return Err("must not contain user information");
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or("has an unclosed IPv6 bracket")?;
        if inside.is_empty() || !inside.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return Err("has an invalid IPv6 host");
        }
        let addr: Ipv6Addr = inside.parse().map_err(|_| "has an invalid IPv6 host")?;
        let inside = inside.to_ascii_lowercase();
        if inside != ipv6_canonical(&addr) {
            return Err(NOT_CANONICAL_IPV6);
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("has garbage after the IPv6 host")?),
        };
        (format!("[{inside}]"), port)
    } else {
        let (h, p) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let valid = !h.is_empty()
            && h.len() <= 253
            && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !h.starts_with('.')
            && !h.contains("..");
        if !valid {
            return Err("has an invalid host name");
        }
        if ends_in_a_number(h) && !is_dotted_quad(h) {
            return Err(NOT_DOTTED_QUAD);
        }
        (h.to_ascii_lowercase(), p)
    };
    Ok((host, port.map(parse_port).transpose()?))
}

/// A port of 1 to 5 digits, 1–65535.
fn parse_port(p: &str) -> Result<u16, &'static str> {
    let ok = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    let n: u32 = if ok { p.parse().map_err(|_| "has an invalid port")? } else { 0 };
    if n == 0 || n > 65535 {
        return Err("has an invalid port");
    }
    Ok(n as u16)
}

/// WHATWG's "ends in a number" for a host of letters, digits, `-` and `.`:
/// the last label (one trailing empty label dropped) is all digits or a
/// `0x` hex number (`0x` alone included). Such a host is parsed as IPv4.
fn ends_in_a_number(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let last = host.rsplit('.').next().unwrap_or(host);
    let hex = last.strip_prefix("0x").or_else(|| last.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Four decimal numbers 0–255 without leading zeros: the form WHATWG writes
/// an IPv4 address in.
fn is_dotted_quad(host: &str) -> bool {
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// The address as WHATWG (and RFC 5952) writes it: lowercase hex without
/// leading zeros, the first longest run of two or more zero pieces as `::`,
/// never a dotted IPv4 tail.
pub fn ipv6_canonical(addr: &Ipv6Addr) -> String {
    let pieces = addr.segments();
    // The first longest run of at least two zero pieces.
    let (mut best, mut best_len, mut i) = (None, 1, 0);
    while i < 8 {
        let run = pieces[i..].iter().take_while(|&&p| p == 0).count();
        if run > best_len {
            (best, best_len) = (Some(i), run);
        }
        i += run.max(1);
    }
    let mut out = String::with_capacity(39);
    let mut i = 0;
    while i < 8 {
        if best == Some(i) {
            out.push_str(if i == 0 { "::" } else { ":" });
            i += best_len;
            continue;
        }
        out.push_str(&format!("{:x}", pieces[i]));
        if i < 7 {
            out.push(':');
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_hosts_are_dotted_quads_or_refused() {
        for ok in ["127.0.0.1", "0.0.0.0", "255.255.255.255", "a.b1", "a.0xg", "a.1a", "1a", "a-1.example", "x0"] {
            assert!(parse_authority(ok).is_ok(), "{ok}");
        }
        for bad in [
            "2130706433",
            "0x7f.1",
            "127.1",
            "1.2.3.4.",
            "01.2.3.4",
            "127.0.0.256",
            "1.2.3.4.5",
            "a.123",
            "a.0x",
            "0X1F",
        ] {
            assert_eq!(parse_authority(bad), Err(NOT_DOTTED_QUAD), "{bad}");
        }
    }

    #[test]
    fn ipv6_is_validated_and_canonical() {
        for (text, host) in
            [("[::1]", "[::1]"), ("[FE80::1]:8", "[fe80::1]"), ("[::]", "[::]"), ("[1:0:0:2::3]", "[1:0:0:2::3]")]
        {
            assert_eq!(parse_authority(text).unwrap().0, host, "{text}");
        }
        for bad in ["[0:0::1]", "[::ffff:1.2.3.4]", "[0::]", "[1:0:0:0:0:0:0:1]", "[::0001]", "[1::2:0:0:0:3]"] {
            assert_eq!(parse_authority(bad), Err(NOT_CANONICAL_IPV6), "{bad}");
        }
        for bad in ["[1:2]", "[:::]", "[1::2::3]", "[12345::]", "[::1.2.3]"] {
            assert_eq!(parse_authority(bad), Err("has an invalid IPv6 host"), "{bad}");
        }
        let addr: Ipv6Addr = "1:0:0:2:0:0:0:3".parse().unwrap();
        assert_eq!(ipv6_canonical(&addr), "1:0:0:2::3");
        assert_eq!(ipv6_canonical(&"1:0:2:0:3:0:4:0".parse().unwrap()), "1:0:2:0:3:0:4:0");
        assert_eq!(ipv6_canonical(&"0:0:1:0:0:1:0:0".parse().unwrap()), "::1:0:0:1:0:0");
    }
}

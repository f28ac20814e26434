//! A strict, small URL model for the profile Tessera signs.
//!
//! Only absolute `http`/`https` URLs with a host are accepted. They are
//! normalised the way docs/PROTOCOL.md §6.4 requires — lowercase scheme and
//! host, no default port, a non-empty path without dot segments, query
//! characters limited to RFC 3986 unreserved, `%XX`, `=` and `&`, no fragment,
//! no userinfo — or rejected. What is signed is exactly what is sent.

use std::fmt;

use crate::encoding::is_unreserved;
use crate::error::{Error, Result};

mod host;

use host::parse_authority;

/// Longest URL accepted anywhere.
pub const MAX_URL: usize = 4096;

/// A parsed, normalised `http(s)` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    scheme: String,
    host: String,
    port: Option<u16>,
    path: String,
    query: Option<String>,
}

impl Url {
    /// Parses and normalises `text`; `field` names the argument in errors.
    pub fn parse(text: &str, field: &'static str) -> Result<Url> {
        let bad = |reason| Error::InvalidUrl { field, reason };
        if text.len() > MAX_URL {
            return Err(Error::TooLarge { field, limit: MAX_URL });
        }
        if text.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(bad("contains spaces, control or non-ASCII characters"));
        }
        let (scheme, rest) = text.split_once("://").ok_or_else(|| bad("must be an absolute http(s) URL"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return Err(bad("scheme must be http or https")),
        };
        if rest.contains('#') {
            return Err(bad("must not contain a fragment"));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        let (host, port) = parse_authority(authority).map_err(bad)?;
        let port = match port {
            Some(p) if p == default_port => None,
            p => p,
        };
        let (path, query) = normalize_tail("", tail).map_err(bad)?;
        Url { scheme, host, port, path, query }.within_bound(field)
    }

    /// The URL, if its normalised form fits [`MAX_URL`]. Normalising
    /// percent-encodes, so a URL under the bound can grow past it; without
    /// this check the core would sign a URL that it (and its verifier) then
    /// refuses as too large. (Found by fuzzing: fuzz/fuzz_targets/url_parse.rs.)
    fn within_bound(self, field: &'static str) -> Result<Url> {
        let len = self.scheme.len()
            + 3
            + self.host.len()
            + self.port.map_or(0, |p| 1 + p.to_string().len())
            + self.path.len()
            + self.query.as_ref().map_or(0, |q| 1 + q.len());
        if len > MAX_URL {
            return Err(Error::TooLarge { field, limit: MAX_URL });
        }
        Ok(self)
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Lowercase host (IPv6 hosts keep their brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Explicit non-default port.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// `host[:port]`, as covered by `@authority`.
    pub fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// The normalised path, never empty.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The normalised query without `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// Whether the host is a loopback name or address.
    pub fn is_loopback(&self) -> bool {
        let h = self.host.as_str();
        let ipv4_loopback = {
            let octets: Vec<&str> = h.split('.').collect();
            octets.len() == 4
                && octets[0] == "127"
                && octets.iter().all(|o| !o.is_empty() && o.len() <= 3 && o.bytes().all(|b| b.is_ascii_digit()))
                && octets.iter().all(|o| o.parse::<u16>().is_ok_and(|n| n <= 255))
        };
        h == "localhost" || h.ends_with(".localhost") || h == "[::1]" || ipv4_loopback
    }

    /// This URL with `path_and_query` (which must start with `/`) appended to
    /// the base path — not resolved against it as a relative reference: the
    /// base path's trailing `/` is dropped and `path_and_query` added after it
    /// (`https://b.example/t/` + `/api?x` is `https://b.example/t/api?x`).
    /// The result is normalised again, exactly as parsing the concatenation
    /// would.
    pub fn append_path(&self, path_and_query: &str, field: &'static str) -> Result<Url> {
        if !path_and_query.starts_with('/') {
            return Err(Error::InvalidUrl { field, reason: "path must start with /" });
        }
        // Equivalent to parsing `{scheme}://{authority}{base path}{path_and_query}`
        // (the base is already normalised), without re-parsing the base.
        let base = self.path.trim_end_matches('/');
        let port_len = self.port.map_or(0, |p| 1 + p.to_string().len());
        let total = self.scheme.len() + 3 + self.host.len() + port_len + base.len() + path_and_query.len();
        if total > MAX_URL {
            return Err(Error::TooLarge { field, limit: MAX_URL });
        }
        let bad = |reason| Error::InvalidUrl { field, reason };
        if path_and_query.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(bad("contains spaces, control or non-ASCII characters"));
        }
        if path_and_query.contains('#') {
            return Err(bad("must not contain a fragment"));
        }
        let (path, query) = normalize_tail(base, path_and_query).map_err(bad)?;
        Url { scheme: self.scheme.clone(), host: self.host.clone(), port: self.port, path, query }.within_bound(field)
    }

    /// The URL with the query and a trailing slash removed: the identity used
    /// to compare site URLs.
    pub fn site_identity(&self) -> String {
        let path = self.path.trim_end_matches('/');
        format!("{}://{}{path}", self.scheme, self.authority())
    }
}

impl Url {
    /// The normalised URL as text (what is signed is exactly this).
    pub fn as_string(&self) -> String {
        let mut out = String::with_capacity(
            self.scheme.len()
                + 3
                + self.host.len()
                + 6
                + self.path.len()
                + self.query.as_ref().map_or(0, |q| q.len() + 1),
        );
        out.push_str(&self.scheme);
        out.push_str("://");
        out.push_str(&self.host);
        if let Some(p) = self.port {
            out.push(':');
            crate::encoding::push_int(&mut out, i64::from(p));
        }
        out.push_str(&self.path);
        if let Some(q) = &self.query {
            out.push('?');
            out.push_str(q);
        }
        out
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

/// Normalises `tail` (a path with an optional `?query`) below `base_path`:
/// the path (never empty) and the query (`None` when absent or empty).
fn normalize_tail(base_path: &str, tail: &str) -> std::result::Result<(String, Option<String>), &'static str> {
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let path = if base_path.is_empty() {
        normalize_path(path)?
    } else {
        let mut full = String::with_capacity(base_path.len() + path.len());
        full.push_str(base_path);
        full.push_str(path);
        normalize_path(&full)?
    };
    let query = match query {
        Some(q) => Some(normalize_query(q)?).filter(|q| !q.is_empty()),
        None => None,
    };
    Ok((path, query))
}

fn is_pchar(b: u8) -> bool {
    is_unreserved(b) || b"!$&'()*+,;=:@".contains(&b)
}

/// Uppercases `%xx` escapes, percent-encodes bytes that `keep` rejects.
fn normalize_part(
    part: &str,
    keep: impl Fn(u8) -> bool,
    reject: impl Fn(u8) -> Option<&'static str>,
) -> std::result::Result<String, &'static str> {
    let bytes = part.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (Some(h), Some(l)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
                return Err("has a truncated %-escape");
            };
            if !h.is_ascii_hexdigit() || !l.is_ascii_hexdigit() {
                return Err("has an invalid %-escape");
            }
            out.push('%');
            out.push(h.to_ascii_uppercase() as char);
            out.push(l.to_ascii_uppercase() as char);
            i += 3;
            continue;
        }
        if let Some(reason) = reject(b) {
            return Err(reason);
        }
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        i += 1;
    }
    Ok(out)
}

fn normalize_path(path: &str) -> std::result::Result<String, &'static str> {
    if path.is_empty() {
        return Ok("/".into());
    }
    if path.split('/').any(|seg| {
        seg == "."
            || seg == ".."
            || seg.eq_ignore_ascii_case("%2e")
            || seg.eq_ignore_ascii_case("%2e%2e")
            || seg.eq_ignore_ascii_case(".%2e")
            || seg.eq_ignore_ascii_case("%2e.")
    }) {
        return Err("must not contain dot segments");
    }
    normalize_part(path, |b| is_pchar(b) || b == b'/', |_| None)
}

fn normalize_query(query: &str) -> std::result::Result<String, &'static str> {
    normalize_part(
        query,
        |b| is_unreserved(b) || b == b'=' || b == b'&',
        |b| (b == b'+').then_some("has '+' in the query: write %20 for a space or %2B for a plus"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        Url::parse(s, "url").unwrap().to_string()
    }

    #[test]
    fn normalises() {
        assert_eq!(n("HTTPS://Broker.Example:443"), "https://broker.example/");
        assert_eq!(n("http://127.0.0.1:8080/a/b?x=1&y=%2f"), "http://127.0.0.1:8080/a/b?x=1&y=%2F");
        assert_eq!(n("https://a.example/p?q=a:b"), "https://a.example/p?q=a%3Ab");
        assert_eq!(n("https://a.example/p?"), "https://a.example/p");
        assert_eq!(n("http://[::1]:80/"), "http://[::1]/");
    }

    #[test]
    fn rejects() {
        for bad in [
            "ftp://a.example/",
            "https://",
            "https://user@a.example/",
            "https://a.example/#frag",
            "https://a.example/../x",
            "https://a.example/a/./b",
            "https://a.example/%2e%2e/x",
            "https://a.example:0/",
            "https://a.example:99999/",
            "https://a.example/x?y=a+b",
            "https://a b/",
            "https://a.example/\u{e9}",
            "https://a.example/%zz",
            "https://a.example/%4",
            "/relative",
            "https://[::1/",
            "https://a..b/",
        ] {
            assert!(Url::parse(bad, "url").is_err(), "{bad}");
        }
    }

    #[test]
    fn append_path_equals_parsing_the_concatenation() {
        let bases = ["https://b.example", "https://b.example/", "http://127.0.0.1:8080/t/", "https://b.example/a/b"];
        let tails = [
            "/",
            "/api/x?a=1&b=%2f",
            "/api/x?",
            "/api/x?q=a:b",
            "/a/../b",
            "/x#f",
            "/x y",
            "/x?q=a+b",
            "/%zz",
            "/a//b",
        ];
        for b in bases {
            let base = Url::parse(b, "u").unwrap();
            for t in tails {
                let joined = base.append_path(t, "p");
                let parsed = Url::parse(
                    &format!("{}://{}{}{t}", base.scheme, base.authority(), base.path.trim_end_matches('/')),
                    "p",
                );
                assert_eq!(joined, parsed, "{b} + {t}");
            }
        }
    }

    #[test]
    fn loopback_and_append_path() {
        assert!(Url::parse("http://localhost:3000", "u").unwrap().is_loopback());
        assert!(Url::parse("http://127.0.0.1", "u").unwrap().is_loopback());
        assert!(!Url::parse("http://127.example.com", "u").unwrap().is_loopback());
        assert!(!Url::parse("http://127.evil.example.com", "u").unwrap().is_loopback());
        assert!(Url::parse("http://127.0.0.256", "u").is_err());
        assert!(Url::parse("http://127.1.2.3:9", "u").unwrap().is_loopback());
        let base = Url::parse("https://b.example/tessera/", "u").unwrap();
        assert_eq!(base.append_path("/api/x?a=1", "p").unwrap().to_string(), "https://b.example/tessera/api/x?a=1");
        assert!(base.append_path("api", "p").is_err());
        assert_eq!(Url::parse("https://S.example/blog/", "u").unwrap().site_identity(), "https://s.example/blog");
    }
}

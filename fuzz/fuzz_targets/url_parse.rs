//! Feeds arbitrary text to `Url::parse` (every URL the core signs or checks
//! goes through it), split at the first newline into a base URL and a
//! path-and-query for `Url::append_path`, plus `site_identity`. Asserts: no panic;
//! normalisation is a fixed point (`parse(u.as_string()) == u`) and emits only
//! the characters the signing profile allows; `append_path` equals parsing the
//! concatenation; a site identity is itself a site identity.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::internals::registration::site_identity;
use tessera_core::internals::url::Url;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (base, tail) = text.split_once('\n').unwrap_or((&text, "/"));
    if let Ok(id) = site_identity(base, "site_url") {
        assert_eq!(site_identity(&id, "site_url").as_ref(), Ok(&id), "{base:?}");
    }
    let Ok(url) = Url::parse(base, "url") else { return };
    let s = url.as_string();
    assert_eq!(Url::parse(&s, "url").as_ref(), Ok(&url), "{base:?} -> {s:?}");
    assert!(s.bytes().all(|b| b.is_ascii_graphic() && b != b'#'), "{s:?}");
    assert!(url.query().is_none_or(|q| !q.is_empty() && !q.contains(['+', '?'])), "{s:?}");
    assert_eq!(url.scheme(), url.scheme().to_ascii_lowercase());
    assert_eq!(url.host(), url.host().to_ascii_lowercase());
    assert!(url.path().starts_with('/'));
    let _ = url.is_loopback();
    let joined = url.append_path(tail, "path");
    let concatenated = Url::parse(
        &format!("{}://{}{}{tail}", url.scheme(), url.authority(), url.path().trim_end_matches('/')),
        "path",
    );
    if tail.starts_with('/') {
        assert_eq!(joined, concatenated, "{s:?} + {tail:?}");
    } else {
        assert!(joined.is_err());
    }
});

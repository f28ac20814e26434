//! `core/src/url.rs`: the URL profile Tessera signs (parse, normalise, join,
//! loopback). Boundaries are pinned on both sides.

use tessera_core::internals::url::{MAX_URL, Url};

fn parse(text: &str) -> Url {
    Url::parse(text, "url").unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn code(text: &str) -> &'static str {
    match Url::parse(text, "url") {
        Ok(u) => panic!("{text} was accepted as {u}"),
        Err(e) => e.code(),
    }
}

fn normal(text: &str) -> String {
    parse(text).to_string()
}

fn loopback(text: &str) -> bool {
    parse(text).is_loopback()
}

/// `https://a.example/ppp…` of exactly `len` bytes.
fn url_of_len(len: usize) -> String {
    let head = "https://a.example/";
    format!("{head}{}", "p".repeat(len - head.len()))
}

// ---- size bounds ----------------------------------------------------------------

#[test]
fn url_of_exactly_max_url_bytes_is_accepted() {
    let text = url_of_len(MAX_URL);
    assert_eq!(normal(&text), text);
}

#[test]
fn text_over_max_url_is_too_large_before_any_other_check() {
    assert_eq!(code(&url_of_len(MAX_URL + 1)), "too_large");
    // Spaces would be invalid_url; the size check comes first.
    assert_eq!(code(&" ".repeat(MAX_URL + 1)), "too_large");
}

#[test]
fn raw_text_over_max_url_is_too_large_even_if_normalising_shrinks_it() {
    // `:443` and the empty `?` are dropped by normalisation (4 097 -> 4 092).
    let head = "https://a.example:443/";
    let text = format!("{head}{}?", "p".repeat(MAX_URL + 1 - head.len() - 1));
    assert_eq!(text.len(), MAX_URL + 1);
    assert_eq!(code(&text), "too_large");
}

/// `https://a.example:8443/ppp…?x=%3A%3A…` whose normalised form is `len`
/// bytes while the raw text (with `:` unescaped) is well under the bound.
fn growing_url(len: usize) -> String {
    let colons = 100;
    let fixed = "https://a.example:8443/".len() + "?x=".len() + 3 * colons;
    format!("https://a.example:8443/{}?x={}", "p".repeat(len - fixed), ":".repeat(colons))
}

#[test]
fn normalised_url_of_exactly_max_url_bytes_is_accepted() {
    let text = growing_url(MAX_URL);
    assert!(text.len() < MAX_URL);
    let url = parse(&text);
    assert_eq!(url.to_string().len(), MAX_URL);
    assert_eq!(url.port(), Some(8443));
}

#[test]
fn normalised_url_one_byte_over_max_url_is_too_large() {
    let text = growing_url(MAX_URL + 1);
    assert!(text.len() < MAX_URL);
    assert_eq!(code(&text), "too_large");
}

// ---- characters -------------------------------------------------------------------

#[test]
fn control_space_and_non_ascii_bytes_are_refused_with_their_neighbours_accepted() {
    for bad in [
        "https://a.example/a b",
        "https://a.example/a\u{1f}b",
        "https://a.example/a\u{7f}b",
        "https://a.example/\u{e9}",
    ] {
        assert_eq!(code(bad), "invalid_url", "{bad:?}");
    }
    // 0x21 and 0x7e, the first and last accepted bytes.
    assert_eq!(normal("https://a.example/!~"), "https://a.example/!~");
}

#[test]
fn path_bytes_outside_pchar_are_percent_encoded_and_pchar_kept() {
    assert_eq!(normal("https://a.example/a\"<>[]\\^`{|}b"), "https://a.example/a%22%3C%3E%5B%5D%5C%5E%60%7B%7C%7Db");
    assert_eq!(normal("https://a.example/a-._~!$&'()*+,;=:@/b"), "https://a.example/a-._~!$&'()*+,;=:@/b");
}

#[test]
fn query_keeps_unreserved_equals_and_ampersand_and_encodes_the_rest() {
    let url = parse("https://a.example/p?a-._~=1&b=:/!*");
    assert_eq!(url.query(), Some("a-._~=1&b=%3A%2F%21%2A"));
}

#[test]
fn plus_in_query_is_refused_but_escaped_plus_is_kept() {
    assert_eq!(code("https://a.example/p?q=a+b"), "invalid_url");
    assert_eq!(parse("https://a.example/p?q=a%2b").query(), Some("q=a%2B"));
}

#[test]
fn percent_escapes_are_uppercased_in_place() {
    assert_eq!(normal("https://a.example/%4a/x%2fy"), "https://a.example/%4A/x%2Fy");
    assert_eq!(parse("https://a.example/?%4a=%7e").query(), Some("%4A=%7E"));
}

#[test]
fn escape_with_one_bad_hex_digit_is_refused() {
    for bad in ["https://a.example/%4z", "https://a.example/%z4", "https://a.example/?%4g"] {
        assert_eq!(code(bad), "invalid_url", "{bad}");
    }
}

#[test]
fn truncated_escape_is_refused() {
    for bad in ["https://a.example/a%", "https://a.example/a%4", "https://a.example/?a=%"] {
        assert_eq!(code(bad), "invalid_url", "{bad}");
    }
}

#[test]
fn every_spelling_of_a_dot_segment_is_refused() {
    for seg in [".", "..", "%2e", "%2E", "%2e%2e", "%2E%2e", ".%2e", ".%2E", "%2e.", "%2E."] {
        assert_eq!(code(&format!("https://a.example/a/{seg}/b")), "invalid_url", "{seg}");
    }
    // Dots inside a segment are ordinary characters.
    assert_eq!(normal("https://a.example/a.../.b/..c"), "https://a.example/a.../.b/..c");
}

// ---- scheme, port, fragment ---------------------------------------------------------

#[test]
fn http_and_https_in_any_case_are_the_only_schemes() {
    assert_eq!(parse("HTTP://a.example").scheme(), "http");
    assert_eq!(parse("HttpS://a.example").scheme(), "https");
    assert_eq!(code("ftp://a.example/"), "invalid_url");
    assert_eq!(code("a.example/x"), "invalid_url");
}

#[test]
fn fragment_is_refused() {
    assert_eq!(code("https://a.example/p?q=1#f"), "invalid_url");
}

#[test]
fn only_the_schemes_own_default_port_is_dropped() {
    assert_eq!(parse("https://a.example:443/").port(), None);
    assert_eq!(parse("http://a.example:80/").port(), None);
    assert_eq!(parse("http://a.example:443/").port(), Some(443));
    assert_eq!(parse("https://a.example:80/").port(), Some(80));
    assert_eq!(normal("https://a.example:8443"), "https://a.example:8443/");
}

#[test]
fn port_range_is_1_to_65535() {
    assert_eq!(parse("https://a.example:1/").port(), Some(1));
    assert_eq!(parse("https://a.example:65535/").port(), Some(65535));
    assert_eq!(code("https://a.example:0/"), "invalid_url");
    assert_eq!(code("https://a.example:65536/"), "invalid_url");
}

#[test]
fn port_must_be_one_to_five_plain_digits() {
    assert_eq!(parse("https://a.example:08080/").port(), Some(8080));
    for bad in
        ["https://a.example:/", "https://a.example:008080/", "https://a.example:+8080/", "https://a.example:80a/"]
    {
        assert_eq!(code(bad), "invalid_url", "{bad}");
    }
}

// ---- hosts ---------------------------------------------------------------------------

#[test]
fn host_name_of_253_bytes_is_accepted_and_254_refused() {
    let label = "a".repeat(63);
    let host253 = format!("{label}.{label}.{label}.{}", "b".repeat(61));
    assert_eq!(host253.len(), 253);
    assert_eq!(parse(&format!("https://{host253}/")).host(), host253);
    assert_eq!(code(&format!("https://{host253}c/")), "invalid_url");
}

#[test]
fn host_name_is_letters_digits_hyphens_and_inner_dots() {
    assert_eq!(parse("https://My-Host.Example/").host(), "my-host.example");
    for bad in [
        "https://:8080/",
        "https://a_b.example/",
        "https://.a.example/",
        "https://a..example/",
        "https://a!b/",
        "https://user@a.example/",
    ] {
        assert_eq!(code(bad), "invalid_url", "{bad}");
    }
}

#[test]
fn ipv6_host_is_a_canonical_literal_lowercased_in_brackets() {
    let url = parse("https://[FE80::1]:8443/");
    assert_eq!((url.host(), url.port()), ("[fe80::1]", Some(8443)));
    assert_eq!(url.authority(), "[fe80::1]:8443");
    for bad in ["https://[]/", "https://[::g]/", "https://[::1]x/", "https://[::1/", "https://[a_b]/", "https://[1:2]/"]
    {
        assert_eq!(code(bad), "invalid_url", "{bad}");
    }
    // Valid, but WHATWG (and so `fetch`) would send another spelling than the one signed.
    for bad in ["https://[::FFFF:1.2.3.4]/", "https://[0:0::1]/", "https://[::0001]/"] {
        assert_eq!(code(bad), "invalid_url", "{bad}");
    }
}

#[test]
fn hosts_whatwg_reads_as_ipv4_are_dotted_quads_or_refused() {
    assert_eq!(parse("http://10.0.0.255/").host(), "10.0.0.255");
    for bad in [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://127.0.0.1./",
        "http://a.123/",
        "http://010.0.0.1/",
    ] {
        assert_eq!(code(bad), "invalid_url", "{bad}");
    }
}

// ---- accessors and rendering ------------------------------------------------------------

#[test]
fn accessors_return_the_normalised_parts() {
    let url = parse("HTTPS://A.Example:8443/P/q?b=1&a=2");
    assert_eq!(url.scheme(), "https");
    assert_eq!(url.host(), "a.example");
    assert_eq!(url.port(), Some(8443));
    assert_eq!(url.authority(), "a.example:8443");
    assert_eq!(url.path(), "/P/q");
    assert_eq!(url.query(), Some("b=1&a=2"));
    assert_eq!(url.as_string(), "https://a.example:8443/P/q?b=1&a=2");
    assert_eq!(url.to_string(), url.as_string());
    assert_eq!(url.site_identity(), "https://a.example:8443/P/q");
}

#[test]
fn missing_or_empty_query_is_none_and_missing_path_is_slash() {
    for text in ["https://a.example", "https://a.example?", "https://a.example/?"] {
        let url = parse(text);
        assert_eq!((url.path(), url.query(), url.port()), ("/", None, None), "{text}");
        assert_eq!(url.authority(), "a.example");
    }
    assert_eq!(parse("https://a.example?a=1").path(), "/");
}

#[test]
fn site_identity_drops_query_and_trailing_slashes() {
    assert_eq!(parse("https://S.example/blog//?p=1").site_identity(), "https://s.example/blog");
    assert_eq!(parse("http://s.example:8080/").site_identity(), "http://s.example:8080");
}

// ---- loopback ----------------------------------------------------------------------------

#[test]
fn loopback_names_and_addresses() {
    for text in
        ["http://localhost", "http://app.localhost:3000", "http://[::1]:8080", "http://127.0.0.1", "http://127.255.0.9"]
    {
        assert!(loopback(text), "{text}");
    }
}

#[test]
fn non_loopback_hosts() {
    for text in [
        "http://example.com",
        "http://localhost.example",
        "http://notlocalhost",
        "http://[::2]",
        "http://10.0.0.1",
        "http://1.2.3.4",
        "http://a.b.c.d",
        "http://127.0.0.x",
    ] {
        assert!(!loopback(text), "{text}");
    }
    // Not loopback names either: refused (WHATWG reads them as IPv4).
    for text in
        ["http://127.0.0.0001", "http://127.0.0", "http://127.0.0.1.5", "http://127.0.0.256", "http://127.1000.0.1"]
    {
        assert_eq!(code(text), "invalid_url", "{text}");
    }
}

// ---- join ----------------------------------------------------------------------------------

#[test]
fn join_appends_below_the_base_path_and_normalises() {
    let base = parse("https://b.example:8443/t/");
    let url = base.append_path("/api/%7e?x=:&y=", "path").unwrap();
    assert_eq!(url.to_string(), "https://b.example:8443/t/api/%7E?x=%3A&y=");
    assert_eq!(base.append_path("/", "path").unwrap().path(), "/t/");
    assert_eq!(base.append_path("/x?", "path").unwrap().query(), None);
    assert_eq!(base.append_path("x", "path").unwrap_err().code(), "invalid_url");
}

#[test]
fn join_refuses_what_parse_refuses() {
    let base = parse("https://b.example/t");
    for bad in ["/a b", "/a\u{7f}", "/\u{e9}", "/x#f", "/a/../b", "/%2e", "/x?q=a+b", "/%4z"] {
        assert_eq!(base.append_path(bad, "path").unwrap_err().code(), "invalid_url", "{bad:?}");
    }
    assert_eq!(base.append_path("/!~", "path").unwrap().path(), "/t/!~");
}

/// `https://a.example:8443/t` + a tail: 24 bytes before the tail.
fn join_base() -> Url {
    parse("https://a.example:8443/t/")
}

#[test]
fn join_of_exactly_max_url_bytes_is_accepted() {
    let tail = format!("/{}", "p".repeat(MAX_URL - 24 - 1));
    let url = join_base().append_path(&tail, "path").unwrap();
    assert_eq!(url.to_string().len(), MAX_URL);
}

#[test]
fn join_over_max_url_is_too_large_even_if_normalising_shrinks_it() {
    // 4 097 bytes as concatenated; dropping the empty `?` would make it 4 096.
    let tail = format!("/{}?", "p".repeat(MAX_URL + 1 - 24 - 2));
    assert_eq!(join_base().append_path(&tail, "path").unwrap_err().code(), "too_large");
}

#[test]
fn join_whose_normalised_form_grows_over_max_url_is_too_large() {
    let tail = format!("/{}?x={}", "p".repeat(MAX_URL - 24 - 4 - 300 + 1), ":".repeat(100));
    assert_eq!(join_base().append_path(&tail, "path").unwrap_err().code(), "too_large");
    let tail = format!("/{}?x={}", "p".repeat(MAX_URL - 24 - 4 - 300), ":".repeat(100));
    assert_eq!(join_base().append_path(&tail, "path").unwrap().to_string().len(), MAX_URL);
}

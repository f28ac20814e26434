//! `core/src/json.rs`: the core's strict JSON reader and writer, checked
//! against RFC 8259 and, where both apply, against serde_json.

use tessera_core::internals::json::{self, DuplicateKey, MAX_DEPTH, ObjectWriter, ParseError, Value};

fn ok(s: &str) -> Value {
    json::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn bad(s: &[u8]) -> ParseError {
    json::parse(s).expect_err(&String::from_utf8_lossy(s))
}

/// `s` is refused with the category `what` at byte `at`.
fn err(s: &[u8], what: &str, at: usize) {
    let e = bad(s);
    assert_eq!((e.what, e.at), (what, at), "{:?}", String::from_utf8_lossy(s));
}

fn number(text: &str) -> Value {
    Value::Number(text.into())
}

fn string(text: &str) -> Value {
    Value::String(String::from(text).into())
}

/// Our value as serde_json's, numbers read through serde_json.
fn to_serde(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => serde_json::from_str(n).unwrap(),
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_serde).collect()),
        Value::Object(members) => {
            serde_json::Value::Object(members.iter().map(|(k, v)| (k.clone(), to_serde(v))).collect())
        }
    }
}

#[test]
fn parse_error_displays_category_and_offset_only() {
    let e = bad(b"{\"secret\":\"hunter2\"");
    assert_eq!(e, ParseError { what: "expected ',' or '}'", at: 19 });
    assert_eq!(e.to_string(), "expected ',' or '}' at byte 19");
}

#[test]
fn object_member_needs_a_colon() {
    err(b"{\"a\" 1}", "expected ':'", 5);
    err(b"{\"a\"}", "expected ':'", 4);
    err(b"{\"a\",1}", "expected ':'", 4);
    assert_eq!(ok("{\"a\" : 1}").get("a"), Ok(Some(&number("1"))));
}

#[test]
fn object_and_array_structure_errors_are_located() {
    err(b"{1:2}", "expected a member name", 1);
    err(b"{\"a\":1,}", "expected a member name", 7);
    err(b"{\"a\":1 \"b\":2}", "expected ',' or '}'", 7);
    err(b"[1 2]", "expected ',' or ']'", 3);
    err(b"[1,]", "expected a value", 3);
    err(b"[", "unexpected end of input", 1);
    err(b"[}", "expected a value", 1);
    err(b"{} 1", "trailing characters", 3);
    err(b"tru", "invalid literal", 0);
    err(b"[nulL]", "invalid literal", 1);
}

#[test]
fn whitespace_is_allowed_exactly_where_rfc_8259_allows_it() {
    let v = ok(" \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n[ \t\r\n1 \t\r\n, \t\r\n{ } \t\r\n, [ ] ] \t\r\n} \t\r\n");
    assert_eq!(
        v,
        Value::Object(vec![("a".into(), Value::Array(vec![number("1"), Value::Object(vec![]), Value::Array(vec![])]))])
    );
    // Form feed and vertical tab are not JSON whitespace.
    err(b"\x0c1", "expected a value", 0);
    err(b"[1\x0b]", "expected ',' or ']'", 2);
}

#[test]
fn objects_nest_up_to_max_depth_and_not_one_more() {
    let nest = |n: usize| "{\"a\":".repeat(n) + "1" + &"}".repeat(n);
    ok(&nest(MAX_DEPTH));
    err(nest(MAX_DEPTH + 1).as_bytes(), "nested too deeply", 5 * MAX_DEPTH);
    // Arrays and objects count together.
    let mixed = |n: usize| "[{\"a\":".repeat(n) + "1" + &"}]".repeat(n);
    ok(&mixed(MAX_DEPTH / 2));
    err(mixed(MAX_DEPTH / 2 + 1).as_bytes(), "nested too deeply", 6 * (MAX_DEPTH / 2));
    let arrays = |n: usize| "[".repeat(n) + &"]".repeat(n);
    ok(&arrays(MAX_DEPTH));
    err(arrays(MAX_DEPTH + 1).as_bytes(), "nested too deeply", MAX_DEPTH);
}

#[test]
fn numbers_keep_their_exact_text() {
    for text in ["0", "-0", "0.5", "-0.0", "10", "123", "1e5", "1E5", "1e+5", "1e-5", "1.25E+10", "-9.5e-007"] {
        assert_eq!(ok(text), number(text), "{text}");
        let wrapped = format!("[{text},{text}]");
        assert_eq!(ok(&wrapped), Value::Array(vec![number(text), number(text)]), "{wrapped}");
    }
}

#[test]
fn malformed_numbers_are_refused_where_they_go_wrong() {
    err(b"01", "trailing characters", 1);
    err(b"-", "invalid number", 1);
    err(b"-a", "invalid number", 1);
    err(b"1.", "invalid number", 2);
    err(b"1.e5", "invalid number", 2);
    err(b"1e", "invalid number", 2);
    err(b"1e+", "invalid number", 3);
    err(b"1e+-1", "invalid number", 3);
    err(b"-.5", "invalid number", 1);
    err(b"+1", "expected a value", 0);
    err(b"[1.5.5]", "expected ',' or ']'", 4);
}

#[test]
fn integers_are_read_only_from_plain_digits() {
    assert_eq!(ok("0").as_u64(), Some(0));
    assert_eq!(ok("42").as_u64(), Some(42));
    assert_eq!(ok("42").as_i64(), Some(42));
    assert_eq!(ok("-42").as_i64(), Some(-42));
    assert_eq!(ok("9223372036854775807").as_i64(), Some(i64::MAX));
    assert_eq!(ok("9223372036854775808").as_i64(), None);
    assert_eq!(ok("-9223372036854775809").as_i64(), None);
    assert_eq!(ok("1e0").as_u64(), None);
    assert_eq!(ok("-1.5").as_i64(), None);
    assert_eq!(ok("true").as_i64(), None);
    // Rust's integer parsing takes a leading '+', which is not JSON.
    assert_eq!(number("+1").as_u64(), None);
    assert_eq!(number("+1").as_i64(), None);
    assert_eq!(number("1-").as_i64(), None);
    assert_eq!(number("--1").as_i64(), None);
}

#[test]
fn typed_accessors_answer_only_for_their_own_kind() {
    let v = ok(r#"{"s":"x","t":true,"f":false,"n":null,"o":{},"a":[]}"#);
    let m = |k: &str| v.get(k).unwrap().unwrap();
    assert_eq!(m("s").as_str(), Some("x"));
    assert_eq!(m("t").as_bool(), Some(true));
    assert_eq!(m("f").as_bool(), Some(false));
    assert!(m("o").is_object());
    assert!(v.is_object());
    for k in ["t", "n", "o", "a"] {
        assert_eq!(m(k).as_str(), None, "{k}");
    }
    for k in ["s", "n", "o", "a"] {
        assert_eq!(m(k).as_bool(), None, "{k}");
        assert_eq!(m(k).as_u64(), None, "{k}");
    }
    for k in ["s", "t", "n", "a"] {
        assert!(!m(k).is_object(), "{k}");
    }
    assert_eq!(ok("\"\"").as_str(), Some(""));
}

#[test]
fn get_finds_one_member_and_refuses_two() {
    let v = ok(r#"{"a":1,"b":2,"c":3}"#);
    assert_eq!(v.get("a"), Ok(Some(&number("1"))));
    assert_eq!(v.get("b"), Ok(Some(&number("2"))));
    assert_eq!(v.get("c"), Ok(Some(&number("3"))));
    assert_eq!(v.get("d"), Ok(None));
    assert_eq!(ok(r#"{"b":1,"a":2,"b":3}"#).get("b"), Err(DuplicateKey));
    // Not an object: no members.
    assert_eq!(ok(r#"[["a",1]]"#).get("a"), Ok(None));
    assert_eq!(ok("\"a\"").get("a"), Ok(None));
}

#[test]
fn strings_keep_spaces_and_refuse_raw_control_characters() {
    assert_eq!(ok("\" a b \"").as_str(), Some(" a b "));
    assert_eq!(ok("\"\x7f~!#\"").as_str(), Some("\x7f~!#"));
    assert_eq!(ok("\"dé😀\"").as_str(), Some("dé😀"));
    for c in [0x00u8, 0x09, 0x0a, 0x1f] {
        err(&[b'"', b'a', c, b'"'], "control character in string", 2);
    }
    err(b"\"ab", "unterminated string", 3);
    err(b"\"ab\\", "unterminated string", 4);
    err(b"\"a\xc3\"", "invalid UTF-8 in string", 4);
}

#[test]
fn every_short_escape_is_read() {
    let v = ok(r#"["\"","\\","\/","\b","\f","\n","\r","\t","a\/b\\c\"d"]"#);
    let want = ["\"", "\\", "/", "\u{8}", "\u{c}", "\n", "\r", "\t", "a/b\\c\"d"];
    assert_eq!(v, Value::Array(want.iter().map(|s| string(s)).collect()));
}

#[test]
fn invalid_escape_is_located_at_its_letter() {
    err(b"\"ab\\x\"", "invalid escape", 4);
    err(b"[\"\\a\"]", "invalid escape", 3);
    err(b"\"\\U0041\"", "invalid escape", 2);
}

#[test]
fn unicode_escapes_decode_every_hex_digit() {
    let v = ok(r#"["\u0000","\u0041","\u00e9","\u00E9","\u20aC","\uffff","\u1234","\u0abc","\u0DEF"]"#);
    let want = ["\0", "A", "é", "é", "€", "\u{ffff}", "\u{1234}", "\u{abc}", "\u{def}"];
    assert_eq!(v, Value::Array(want.iter().map(|s| string(s)).collect()));
    err(b"\"\\u12g4\"", "invalid \\u escape", 5);
    err(b"\"\\u12\"", "invalid \\u escape", 5);
    err(b"\"\\u12", "invalid \\u escape", 5);
}

#[test]
fn surrogate_pairs_decode_and_lone_halves_are_refused() {
    let v = ok(r#"["\ud800\udc00","\udbff\udfff","\ud83d\ude00","x\uD834\uDD1Ey"]"#);
    let want = ["\u{10000}", "\u{10ffff}", "😀", "x𝄞y"];
    assert_eq!(v, Value::Array(want.iter().map(|s| string(s)).collect()));
    err(b"\"\\ud800\"", "lone surrogate", 7);
    err(b"\"\\ud800x\"", "lone surrogate", 7);
    err(b"\"\\udbff\\n\"", "lone surrogate", 7);
    err(b"\"\\ud800\\u0041\"", "lone surrogate", 13);
    err(b"\"\\ud800\\ue000\"", "lone surrogate", 13);
    err(b"\"\\ud800\\ud800\"", "lone surrogate", 13);
    err(b"\"\\udc00\"", "lone surrogate", 7);
    err(b"\"\\udfff\\udc00\"", "lone surrogate", 7);
}

#[test]
fn parser_agrees_with_serde_json() {
    let docs = [
        r#"{"state":{"v":1,"installation":{"id":"abc","secret":"s\u00e9cr\u00eat"},"flags":[true,false,null]}}"#,
        r#"[0,-0,1.5,-2e-3,1E+2,"",{},[],[[]],{"":""}]"#,
        " \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\ud83d\\ude00\" ",
        r#"{"a":{"b":{"c":[1,{"d":"e"}]}},"z":"last"}"#,
    ];
    for doc in docs {
        let ours = ok(doc);
        let theirs: serde_json::Value = serde_json::from_str(doc).unwrap();
        assert_eq!(to_serde(&ours), theirs, "{doc}");
    }
    let refused: [&[u8]; 12] = [
        b"",
        b" ",
        b"{,}",
        b"[,1]",
        b"{\"a\":}",
        b"{\"a\"::1}",
        b"\"\\u00\"",
        b"00",
        b"1e1.5",
        b"\"\t\"",
        b"[\"a\"",
        b"nan",
    ];
    for doc in refused {
        bad(doc);
        assert!(serde_json::from_slice::<serde_json::Value>(doc).is_err(), "{doc:?}");
    }
}

#[test]
fn written_strings_match_serde_json_for_every_ascii_byte() {
    for b in 0u8..0x80 {
        let s = format!("a{}b{}", b as char, b as char);
        let mut out = String::new();
        json::write_str(&mut out, &s);
        assert_eq!(out, serde_json::to_string(&s).unwrap(), "byte {b:#04x}");
        assert_eq!(ok(&out).as_str(), Some(s.as_str()));
    }
    let mut out = String::from("prefix:");
    json::write_str(&mut out, "é😀\u{1b}\u{10}\"");
    assert_eq!(out, "prefix:\"é😀\\u001b\\u0010\\\"\"");
}

#[test]
fn object_writer_writes_members_in_order_like_serde_json() {
    let mut out = String::new();
    let mut o = ObjectWriter::new(&mut out);
    o.str("s", "x\"y\n");
    o.opt_str("some", Some("v"));
    o.opt_str("none", None);
    o.u64("u", u64::MAX);
    o.i64("neg", i64::MIN);
    o.i64("pos", 7);
    o.bool("t", true);
    o.bool("f", false);
    let mut inner = ObjectWriter::new(o.key("in\"ner"));
    inner.u64("zero", 0);
    inner.end();
    ObjectWriter::new(o.key("empty")).end();
    o.end();
    let want = serde_json::json!({
        "s": "x\"y\n", "some": "v", "none": null, "u": u64::MAX, "neg": i64::MIN, "pos": 7,
        "t": true, "f": false, "in\"ner": {"zero": 0}, "empty": {},
    });
    assert_eq!(out, serde_json::to_string(&want).unwrap());
    assert_eq!(to_serde(&ok(&out)), want);
}

#[test]
fn object_writer_appends_to_what_is_already_there() {
    let mut out = String::from("[");
    let o = ObjectWriter::new(&mut out);
    o.end();
    out.push(',');
    let mut o = ObjectWriter::new(&mut out);
    o.bool("only", true);
    o.end();
    out.push(']');
    assert_eq!(out, r#"[{},{"only":true}]"#);
}

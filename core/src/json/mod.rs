//! A small, strict JSON reader and writer for the few fixed shapes the core
//! handles: the persisted state, the registration body, the "site moved" body,
//! a 202 ownership challenge and a broker error body.
//!
//! The core does not need a general JSON library, and leaving one out keeps
//! the WebAssembly package small. The reader follows RFC 8259 exactly (no
//! comments, no trailing commas, no lone surrogates, no raw control
//! characters), bounds nesting depth, keeps numbers as their validated text
//! (integers are read on demand; floats are never converted, so no float
//! formatting code is linked) and zeroises every string it held when dropped,
//! since a state blob carries the installation secret. Error messages give a
//! byte offset and a category, never input text.
//!
//! The writer produces the same bytes as the usual serialisers' compact form:
//! members in the order written, `"` `\` and control characters escaped
//! (`\n`-style where JSON has a short form, else `\u00XX`), everything else,
//! non-ASCII included, verbatim.

use zeroize::Zeroizing;

/// Deepest nesting accepted by [`parse`].
pub const MAX_DEPTH: usize = 32;

/// A parsed JSON value.
#[derive(Debug, PartialEq, Eq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as its (validated) source text.
    Number(String),
    /// A string, unescaped; zeroised on drop.
    String(Zeroizing<String>),
    /// An array.
    Array(Vec<Value>),
    /// An object's members in document order (duplicates kept; see [`Value::get`]).
    Object(Vec<(String, Value)>),
}

/// Why a document did not parse: a category and the byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What was wrong.
    pub what: &'static str,
    /// Byte offset into the input.
    pub at: usize,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

/// A member looked up with [`Value::get`] appears more than once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DuplicateKey;

impl Value {
    /// The member `key` of an object: `Ok(None)` when absent (or when `self` is
    /// not an object), `Err` when the key appears twice (an ambiguous document).
    pub fn get(&self, key: &str) -> Result<Option<&Value>, DuplicateKey> {
        let Value::Object(members) = self else { return Ok(None) };
        let mut found = None;
        for (k, v) in members {
            if k == key {
                if found.is_some() {
                    return Err(DuplicateKey);
                }
                found = Some(v);
            }
        }
        Ok(found)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The non-negative integer, if this is one that fits a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) if n.bytes().all(|b| b.is_ascii_digit()) => n.parse().ok(),
            _ => None,
        }
    }

    /// The integer, if this is one that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) if n.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-')) => {
                n.parse().ok()
            }
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether this is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }
}

/// Parses one JSON document (surrounding whitespace allowed, nothing else).
pub fn parse(input: &[u8]) -> Result<Value, ParseError> {
    let mut p = Parser { s: input, i: 0 };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> ParseError {
        ParseError { what, at: self.i }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8, what: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Result<Value, ParseError> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expected a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a member name"));
            }
            let key = self.string()?;
            self.ws();
            self.eat(b':', "expected ':'")?;
            self.ws();
            let v = self.value(depth)?;
            members.push((String::from(key.as_str()), v));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        // Only ASCII digits and signs were accepted above.
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| self.err("invalid number"))?;
        Ok(Value::Number(text.to_owned()))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut n = 0;
        for _ in 0..4 {
            let d = self.peek().and_then(|b| (b as char).to_digit(16)).ok_or(self.err("invalid \\u escape"))?;
            n = n * 16 + d;
            self.i += 1;
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<Zeroizing<String>, ParseError> {
        self.i += 1; // the opening quote
        let mut out = Zeroizing::new(Vec::new());
        loop {
            // Copy the run of plain bytes up to the next quote, escape or control.
            let start = self.i;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.extend_from_slice(&self.s[start..self.i]);
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    self.i += 1;
                    let esc = self.peek().ok_or(self.err("unterminated string"))?;
                    self.i += 1;
                    let c = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => {
                            self.i -= 1;
                            return Err(self.err("invalid escape"));
                        }
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Some(_) => return Err(self.err("control character in string")),
            }
        }
        let bytes = std::mem::take(&mut *out);
        match String::from_utf8(bytes) {
            Ok(s) => Ok(Zeroizing::new(s)),
            Err(e) => {
                // Zeroise the rejected bytes too.
                drop(Zeroizing::new(e.into_bytes()));
                Err(self.err("invalid UTF-8 in string"))
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            if !self.s[self.i..].starts_with(b"\\u") {
                return Err(self.err("lone surrogate"));
            }
            self.i += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(self.err("lone surrogate"));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        char::from_u32(code).ok_or(self.err("lone surrogate"))
    }
}

mod write;

pub use write::{ObjectWriter, write_str, write_value, write_value_with};

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Value {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }
    fn bad(s: &[u8]) -> ParseError {
        parse(s).expect_err(&String::from_utf8_lossy(s))
    }

    #[test]
    fn reads_every_kind_of_value() {
        let v = ok(r#" {"a":[1,-2.5e3,true,false,null],"b":{"c":"d\u00e9\ud83d\ude00\n"}} "#);
        let a = v.get("a").unwrap().unwrap();
        assert_eq!(
            a,
            &Value::Array(vec![
                Value::Number("1".into()),
                Value::Number("-2.5e3".into()),
                Value::Bool(true),
                Value::Bool(false),
                Value::Null
            ])
        );
        let c = v.get("b").unwrap().unwrap().get("c").unwrap().unwrap();
        assert_eq!(c.as_str(), Some("dé😀\n"));
    }

    #[test]
    fn integers_only_where_integers_are_asked_for() {
        assert_eq!(ok("18446744073709551615").as_u64(), Some(u64::MAX));
        assert_eq!(ok("18446744073709551616").as_u64(), None);
        assert_eq!(ok("-1").as_u64(), None);
        assert_eq!(ok("-9223372036854775808").as_i64(), Some(i64::MIN));
        assert_eq!(ok("1.0").as_u64(), None);
        assert_eq!(ok("1e3").as_i64(), None);
        assert_eq!(ok("\"1\"").as_u64(), None);
    }

    #[test]
    fn rejects_what_rfc_8259_rejects() {
        for s in [
            &b""[..],
            b"{",
            b"{\"a\":1,}",
            b"[1,]",
            b"01",
            b"1.",
            b"-",
            b"1e",
            b".5",
            b"+1",
            b"\"\\x\"",
            b"\"a\nb\"",
            b"\"\\ud800\"",
            b"\"\\udc00\"",
            b"\"\\ud800\\u0041\"",
            b"\"\xff\"",
            b"nul",
            b"truex",
            b"{} {}",
            b"{'a':1}",
            b"// c\n{}",
            b"NaN",
            b"\"abc",
        ] {
            bad(s);
        }
    }

    #[test]
    fn bounds_depth_without_recursing_unboundedly() {
        let deep = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        ok(&deep);
        let too_deep = "[".repeat(100_000);
        assert_eq!(bad(too_deep.as_bytes()).what, "nested too deeply");
        let objs = "{\"a\":".repeat(MAX_DEPTH + 1) + "1" + &"}".repeat(MAX_DEPTH + 1);
        assert_eq!(bad(objs.as_bytes()).what, "nested too deeply");
    }

    #[test]
    fn duplicate_members_are_ambiguous() {
        let v = ok(r#"{"a":1,"a":2,"b":3}"#);
        assert_eq!(v.get("a"), Err(DuplicateKey));
        assert_eq!(v.get("b").unwrap().and_then(Value::as_u64), Some(3));
        assert_eq!(v.get("zz"), Ok(None));
    }

    #[test]
    fn errors_never_quote_the_input() {
        let e = bad(b"{\"secret\":\"hunter2hunter2\"");
        let text = e.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(e.at, 26);
    }

    #[test]
    fn writes_strings_like_the_common_serialisers() {
        let mut out = String::new();
        write_str(&mut out, "a\"b\\c/d\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}é😀");
        assert_eq!(out, "\"a\\\"b\\\\c/d\\u0001\\b\\f\\n\\r\\t\\u001f\u{7f}é😀\"");
        // And what it writes reads back.
        assert_eq!(ok(&out).as_str(), Some("a\"b\\c/d\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}é😀"));
    }
}

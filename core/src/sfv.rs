//! RFC 8941 structured fields: the subset RFC 9421 needs (dictionaries whose
//! members are items or inner lists; integers, decimals, strings, tokens,
//! byte sequences, booleans; parameters). Strict, bounded and panic-free:
//! every malformation is an `Err`, never a guess.

use std::fmt::Write as _;

use crate::encoding::{b64_decode, b64_encode};

/// Longest field value parsed (RFC 9421 fields are short; this bounds work).
pub const MAX_FIELD_LEN: usize = 8 * 1024;
const MAX_MEMBERS: usize = 64;
const MAX_INNER: usize = 64;
const MAX_PARAMS: usize = 32;
const MAX_KEY: usize = 64;

/// A bare item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BareItem {
    /// Integer, at most 15 digits.
    Integer(i64),
    /// Decimal, kept in thousandths (at most 3 fractional digits).
    Decimal(i64),
    /// String of printable ASCII.
    String(String),
    /// Token.
    Token(String),
    /// Byte sequence.
    ByteSeq(Vec<u8>),
    /// Boolean.
    Boolean(bool),
}

/// Ordered parameters.
pub type Params = Vec<(String, BareItem)>;

/// An item with parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The value.
    pub bare: BareItem,
    /// Its parameters.
    pub params: Params,
}

/// An inner list with parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InnerList {
    /// Items in order.
    pub items: Vec<Item>,
    /// Parameters of the whole list.
    pub params: Params,
}

/// A dictionary member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Member {
    /// A single item.
    Item(Item),
    /// An inner list.
    InnerList(InnerList),
}

/// A dictionary, in order; a repeated key keeps its last value (RFC 8941 §4.2.2).
pub type Dictionary = Vec<(String, Member)>;

/// Why a field failed to parse.
pub type ParseError = &'static str;

/// Byte classes, so the hot loops test a table instead of scanning a set.
const KEY_CHAR: u8 = 1;
const TOKEN_CHAR: u8 = 2;
const B64_CHAR: u8 = 4;

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let alnum = c.is_ascii_alphanumeric();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.' | b'*') {
            t[b] |= KEY_CHAR;
        }
        if alnum
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
                    | b':'
                    | b'/'
            )
        {
            t[b] |= TOKEN_CHAR;
        }
        if alnum || matches!(c, b'+' | b'/' | b'=') {
            t[b] |= B64_CHAR;
        }
        b += 1;
    }
    t
}

static CLASS: [u8; 256] = classes();

fn has_class(c: u8, class: u8) -> bool {
    CLASS[c as usize] & class != 0
}

/// `bytes` known to be ASCII, as an owned string.
fn ascii_string(bytes: &[u8]) -> String {
    std::str::from_utf8(bytes).map(str::to_owned).unwrap_or_default()
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }
    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn key(&mut self) -> Result<String, ParseError> {
        let start = self.i;
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => {}
            _ => return Err("key must start with a lowercase letter or *"),
        }
        while self.peek().is_some_and(|c| has_class(c, KEY_CHAR)) {
            self.i += 1;
        }
        if self.i - start > MAX_KEY {
            return Err("key too long");
        }
        Ok(ascii_string(&self.s[start..self.i]))
    }

    fn params(&mut self) -> Result<Params, ParseError> {
        if self.peek() != Some(b';') {
            return Ok(Vec::new());
        }
        let mut out: Params = Vec::with_capacity(8);
        while self.eat(b';') {
            self.skip_sp();
            let key = self.key()?;
            let value = if self.eat(b'=') { self.bare_item()? } else { BareItem::Boolean(true) };
            if let Some(slot) = out.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
            } else {
                if out.len() >= MAX_PARAMS {
                    return Err("too many parameters");
                }
                out.push((key, value));
            }
        }
        Ok(out)
    }

    fn item(&mut self) -> Result<Item, ParseError> {
        let bare = self.bare_item()?;
        let params = self.params()?;
        Ok(Item { bare, params })
    }

    fn inner_list(&mut self) -> Result<InnerList, ParseError> {
        if !self.eat(b'(') {
            return Err("expected (");
        }
        let mut items = Vec::with_capacity(8);
        loop {
            self.skip_sp();
            if self.eat(b')') {
                let params = self.params()?;
                return Ok(InnerList { items, params });
            }
            if items.len() >= MAX_INNER {
                return Err("inner list too long");
            }
            items.push(self.item()?);
            match self.peek() {
                Some(b' ' | b')') => {}
                _ => return Err("inner list items must be separated by a space"),
            }
        }
    }

    fn bare_item(&mut self) -> Result<BareItem, ParseError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string(),
            Some(b':') => self.byte_seq(),
            Some(b'?') => self.boolean(),
            Some(c) if c.is_ascii_alphabetic() || c == b'*' => self.token(),
            _ => Err("expected a bare item"),
        }
    }

    fn number(&mut self) -> Result<BareItem, ParseError> {
        let neg = self.eat(b'-');
        let start = self.i;
        let mut int_digits = 0usize;
        let mut frac_digits = 0usize;
        let mut seen_dot = false;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                if seen_dot {
                    frac_digits += 1;
                } else {
                    int_digits += 1;
                }
                self.i += 1;
            } else if c == b'.' && !seen_dot && int_digits > 0 {
                seen_dot = true;
                self.i += 1;
            } else {
                break;
            }
        }
        if int_digits == 0 {
            return Err("number without digits");
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "bad number")?;
        let sign = if neg { -1 } else { 1 };
        if !seen_dot {
            if int_digits > 15 {
                return Err("integer too long");
            }
            let v: i64 = text.parse().map_err(|_| "bad integer")?;
            return Ok(BareItem::Integer(sign * v));
        }
        if int_digits > 12 || frac_digits == 0 || frac_digits > 3 {
            return Err("decimal out of range");
        }
        let (ip, fp) = text.split_once('.').ok_or("bad decimal")?;
        let ip: i64 = ip.parse().map_err(|_| "bad decimal")?;
        let mut fv: i64 = fp.parse().map_err(|_| "bad decimal")?;
        for _ in frac_digits..3 {
            fv *= 10;
        }
        Ok(BareItem::Decimal(sign * (ip * 1000 + fv)))
    }

    fn string(&mut self) -> Result<BareItem, ParseError> {
        self.bump();
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(c @ 0x20..=0x7e) = self.peek() {
                if c == b'"' || c == b'\\' {
                    break;
                }
                self.i += 1;
            }
            // The run is printable ASCII, hence UTF-8.
            out.push_str(std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "bad string")?);
            match self.bump() {
                None => return Err("unterminated string"),
                Some(b'"') => return Ok(BareItem::String(out)),
                Some(b'\\') => match self.bump() {
                    Some(c @ (b'"' | b'\\')) => out.push(c as char),
                    _ => return Err("bad escape in string"),
                },
                Some(_) => return Err("string has a non-printable character"),
            }
        }
    }

    fn token(&mut self) -> Result<BareItem, ParseError> {
        let start = self.i;
        self.i += 1;
        while self.peek().is_some_and(|c| has_class(c, TOKEN_CHAR)) {
            self.i += 1;
        }
        Ok(BareItem::Token(ascii_string(&self.s[start..self.i])))
    }

    fn byte_seq(&mut self) -> Result<BareItem, ParseError> {
        self.bump();
        let start = self.i;
        while self.peek().is_some_and(|c| has_class(c, B64_CHAR)) {
            self.i += 1;
        }
        let body = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "bad byte sequence")?;
        if !self.eat(b':') {
            return Err("unterminated byte sequence");
        }
        b64_decode(body).map(BareItem::ByteSeq).ok_or("byte sequence is not base64")
    }

    fn boolean(&mut self) -> Result<BareItem, ParseError> {
        self.bump();
        match self.bump() {
            Some(b'1') => Ok(BareItem::Boolean(true)),
            Some(b'0') => Ok(BareItem::Boolean(false)),
            _ => Err("bad boolean"),
        }
    }
}

/// Parses a dictionary field value (RFC 8941 §4.2.2).
pub fn parse_dictionary(input: &str) -> Result<Dictionary, ParseError> {
    if input.len() > MAX_FIELD_LEN {
        return Err("field too long");
    }
    let mut p = Parser { s: input.as_bytes(), i: 0 };
    p.skip_sp();
    let mut out: Dictionary = Vec::new();
    if p.peek().is_none() {
        return Ok(out);
    }
    loop {
        let key = p.key()?;
        let member = if p.eat(b'=') {
            if p.peek() == Some(b'(') { Member::InnerList(p.inner_list()?) } else { Member::Item(p.item()?) }
        } else {
            Member::Item(Item { bare: BareItem::Boolean(true), params: p.params()? })
        };
        if let Some(slot) = out.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = member;
        } else {
            if out.len() >= MAX_MEMBERS {
                return Err("too many members");
            }
            out.push((key, member));
        }
        p.skip_ows();
        if p.peek().is_none() {
            return Ok(out);
        }
        if !p.eat(b',') {
            return Err("expected , between members");
        }
        p.skip_ows();
        if p.peek().is_none() {
            return Err("trailing comma");
        }
    }
}

/// Serialises a bare item canonically.
pub fn write_bare(out: &mut String, item: &BareItem) {
    match item {
        BareItem::Integer(v) => crate::encoding::push_int(out, *v),
        BareItem::Decimal(v) => {
            let sign = if *v < 0 { "-" } else { "" };
            let a = v.unsigned_abs();
            let frac = format!("{:03}", a % 1000);
            let frac = frac.trim_end_matches('0');
            let _ = write!(out, "{sign}{}.{}", a / 1000, if frac.is_empty() { "0" } else { frac });
        }
        BareItem::String(s) => {
            out.push('"');
            if s.contains(['"', '\\']) {
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
            } else {
                out.push_str(s);
            }
            out.push('"');
        }
        BareItem::Token(t) => out.push_str(t),
        BareItem::ByteSeq(b) => {
            out.push(':');
            out.push_str(&b64_encode(b));
            out.push(':');
        }
        BareItem::Boolean(b) => out.push_str(if *b { "?1" } else { "?0" }),
    }
}

/// Serialises parameters canonically (`;key` for true, else `;key=value`).
pub fn write_params(out: &mut String, params: &Params) {
    for (k, v) in params {
        out.push(';');
        out.push_str(k);
        if *v != BareItem::Boolean(true) {
            out.push('=');
            write_bare(out, v);
        }
    }
}

/// Serialises an inner list canonically.
pub fn write_inner_list(out: &mut String, list: &InnerList) {
    out.push('(');
    for (i, item) in list.items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_bare(out, &item.bare);
        write_params(out, &item.params);
    }
    out.push(')');
    write_params(out, &list.params);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signature_input() {
        let d =
            parse_dictionary(r#"sig1=("@method" "content-digest";req);created=1618884473;keyid="k", sig2=?0"#).unwrap();
        assert_eq!(d.len(), 2);
        let Member::InnerList(l) = &d[0].1 else { panic!() };
        assert_eq!(l.items.len(), 2);
        assert_eq!(l.items[1].params, vec![("req".into(), BareItem::Boolean(true))]);
        let mut s = String::new();
        write_inner_list(&mut s, l);
        assert_eq!(s, r#"("@method" "content-digest";req);created=1618884473;keyid="k""#);
    }

    #[test]
    fn numbers_and_bytes() {
        let d = parse_dictionary("a=-12, b=1.5, c=:aGk=:, d=tok/x, e").unwrap();
        assert_eq!(d[0].1, Member::Item(Item { bare: BareItem::Integer(-12), params: vec![] }));
        assert_eq!(d[1].1, Member::Item(Item { bare: BareItem::Decimal(1500), params: vec![] }));
        assert_eq!(d[2].1, Member::Item(Item { bare: BareItem::ByteSeq(b"hi".to_vec()), params: vec![] }));
        let mut s = String::new();
        write_bare(&mut s, &BareItem::Decimal(1500));
        assert_eq!(s, "1.5");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "A=1",
            "a=(",
            "a=(1 2",
            "a=1,",
            "a=\"x",
            "a=:zz:",
            "a=:aGk=",
            "a=1234567890123456",
            "a=1.2345",
            "a=?2",
            "a=\"\\x\"",
            "a=(1)(2)",
            "a=1 b=2",
            "a=\"é\"",
            "a=-",
            "a=.5",
        ] {
            assert!(parse_dictionary(bad).is_err(), "{bad}");
        }
        assert!(parse_dictionary(&"a".repeat(MAX_FIELD_LEN + 1)).is_err());
        let many: Vec<String> = (0..MAX_MEMBERS + 1).map(|i| format!("k{i}=1")).collect();
        assert!(parse_dictionary(&many.join(",")).is_err());
    }

    #[test]
    fn last_duplicate_wins() {
        let d = parse_dictionary("a=1, a=2").unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].1, Member::Item(Item { bare: BareItem::Integer(2), params: vec![] }));
    }
}

//! The writer half of [`super`]: string literals, objects member by member,
//! and whole values back as compact JSON.

use super::Value;

/// Appends `s` as a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Writes one JSON object member by member, in order.
///
/// ```
/// use tessera_core::internals::json::ObjectWriter;
///
/// let mut out = String::new();
/// let mut o = ObjectWriter::new(&mut out);
/// o.str("a", "x\"y");
/// o.u64("n", 7);
/// let mut inner = ObjectWriter::new(o.key("inner"));
/// inner.opt_str("none", None);
/// inner.end();
/// o.end();
/// assert_eq!(out, r#"{"a":"x\"y","n":7,"inner":{"none":null}}"#);
/// ```
pub struct ObjectWriter<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    /// Opens an object at the end of `out`.
    pub fn new(out: &'a mut String) -> ObjectWriter<'a> {
        out.push('{');
        ObjectWriter { out, first: true }
    }

    /// Writes the member name and returns the buffer for its value.
    pub fn key(&mut self, name: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_str(self.out, name);
        self.out.push(':');
        self.out
    }

    /// A string member.
    pub fn str(&mut self, name: &str, value: &str) {
        write_str(self.key(name), value);
    }

    /// A string member, or `null`.
    pub fn opt_str(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(v) => self.str(name, v),
            None => self.key(name).push_str("null"),
        }
    }

    /// An unsigned integer member.
    pub fn u64(&mut self, name: &str, value: u64) {
        let out = self.key(name);
        out.push_str(&value.to_string());
    }

    /// A signed integer member.
    pub fn i64(&mut self, name: &str, value: i64) {
        let out = self.key(name);
        out.push_str(&value.to_string());
    }

    /// A boolean member.
    pub fn bool(&mut self, name: &str, value: bool) {
        self.key(name).push_str(if value { "true" } else { "false" });
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push('}');
    }
}

/// Appends `v` as compact JSON: members in document order (a member given
/// twice is written twice, and JSON.parse, PHP's json_decode and serde_json
/// all keep the last), numbers as their validated source text, strings
/// through [`write_str`].
pub fn write_value(out: &mut String, v: &Value) {
    write_value_with(out, v, &write_str);
}

/// [`write_value`], with `string` writing every string, member names
/// included (e.g. one that drops some characters before [`write_str`]).
pub fn write_value_with(out: &mut String, v: &Value, string: &dyn Fn(&mut String, &str)) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(n),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value_with(out, item, string);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, key);
                out.push(':');
                write_value_with(out, item, string);
            }
            out.push('}');
        }
    }
}

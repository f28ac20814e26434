//! Strict reading of the proxy's JSON objects: exactly the expected members,
//! each once, in any order.

use zeroize::Zeroizing;

use crate::json::{self, Value};

/// The values of members `names` of the JSON object `bytes`, in the order of
/// `names`, if the document is an object with exactly those members, each
/// once; `None` otherwise.
pub(crate) fn exact(bytes: &[u8], names: &[&str]) -> Option<Vec<Value>> {
    let Value::Object(members) = json::parse(bytes).ok()? else { return None };
    if members.len() != names.len() {
        return None;
    }
    let mut out: Vec<Option<Value>> = names.iter().map(|_| None).collect();
    for (name, value) in members {
        let slot = &mut out[names.iter().position(|n| *n == name)?];
        if slot.replace(value).is_some() {
            return None;
        }
    }
    out.into_iter().collect()
}

/// The string of `value`, moved out; `None` for any other value.
pub(crate) fn string(value: Value) -> Option<String> {
    match value {
        Value::String(mut s) => Some(std::mem::take(&mut *s)),
        _ => None,
    }
}

/// The string of `value`, moved out into a buffer zeroised on drop.
pub(crate) fn secret_string(value: Value) -> Option<Zeroizing<String>> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// `Some(None)` for `null`, `Some(Some(s))` for a string, `None` otherwise.
pub(crate) fn opt_string(value: Value) -> Option<Option<String>> {
    match value {
        Value::Null => Some(None),
        other => string(other).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_member_sets_only() {
        let got = exact(br#"{"b":"2","a":"1"}"#, &["a", "b"]).unwrap();
        assert_eq!(got.into_iter().map(string).collect::<Vec<_>>(), [Some("1".into()), Some("2".into())]);
        for bad in [
            &br#"{"a":"1"}"#[..],
            br#"{"a":"1","b":"2","c":"3"}"#,
            br#"{"a":"1","a":"2"}"#,
            br#"{"a":"1","c":"2"}"#,
            br#"["a","b"]"#,
            b"{",
        ] {
            assert!(exact(bad, &["a", "b"]).is_none(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(opt_string(Value::Null), Some(None));
        assert_eq!(opt_string(Value::Bool(true)), None);
    }
}

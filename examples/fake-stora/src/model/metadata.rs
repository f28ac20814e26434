//! Metadata of contacts and orders (shared decision 7): a flat object of
//! strings, at most 20 keys matching `[a-z0-9._:-]{1,40}`, values at most 500
//! characters, updated by JSON merge-patch (`null` deletes a key).

use serde_json::{Map, Value};

use super::errors::detail;

/// Most keys an object may carry.
pub const MAX_KEYS: usize = 20;
/// Longest key, in characters.
pub const MAX_KEY_LEN: usize = 40;
/// Longest value, in characters.
pub const MAX_VALUE_CHARS: usize = 500;

/// Whether `key` matches `[a-z0-9._:-]{1,40}`.
pub fn valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Applies the merge-patch `patch` to `current` and returns the new
/// metadata, or the `details` entries naming every offending key.
pub fn merge(current: &Map<String, Value>, patch: &Value) -> Result<Map<String, Value>, Vec<Value>> {
    let Some(patch) = patch.as_object() else {
        return Err(vec![detail("metadata", "must be an object of strings")]);
    };
    let mut out = current.clone();
    let mut problems = Vec::new();
    for (key, value) in patch {
        let field = format!("metadata.{key}");
        if !valid_key(key) {
            problems.push(detail(&field, "key must match [a-z0-9._:-]{1,40}"));
            continue;
        }
        match value {
            Value::Null => {
                out.remove(key);
            }
            Value::String(s) if s.chars().count() > MAX_VALUE_CHARS => {
                problems.push(detail(&field, "value longer than 500 characters"));
            }
            Value::String(_) => {
                out.insert(key.clone(), value.clone());
            }
            _ => problems.push(detail(&field, "value must be a string (or null to delete the key)")),
        }
    }
    if problems.is_empty() && out.len() > MAX_KEYS {
        problems.push(detail("metadata", "at most 20 keys"));
    }
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(r: Result<Map<String, Value>, Vec<Value>>) -> String {
        r.unwrap_err()[0]["field"].as_str().unwrap().to_string()
    }

    #[test]
    fn rules() {
        let empty = Map::new();
        let ok = merge(&empty, &json!({"crm.id": "42", "a-b_c:d": "x"})).unwrap();
        assert_eq!(ok.len(), 2);
        let long_key = "k".repeat(41);
        assert_eq!(field(merge(&empty, &json!({ long_key.clone(): "v" }))), format!("metadata.{long_key}"));
        assert!(merge(&empty, &json!({ "k".repeat(40): "v" })).is_ok());
        assert_eq!(field(merge(&empty, &json!({"Upper": "v"}))), "metadata.Upper");
        assert_eq!(field(merge(&empty, &json!({"k": "é".repeat(501)}))), "metadata.k");
        assert!(merge(&empty, &json!({"k": "é".repeat(500)})).is_ok());
        assert_eq!(field(merge(&empty, &json!({"k": 1}))), "metadata.k");
        let many: Map<String, Value> = (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(field(merge(&empty, &Value::Object(many.clone()))), "metadata");
        let twenty: Map<String, Value> = many.into_iter().take(20).collect();
        assert!(merge(&empty, &Value::Object(twenty)).is_ok());
    }

    #[test]
    fn null_deletes() {
        let current = merge(&Map::new(), &json!({"a": "1", "b": "2"})).unwrap();
        let next = merge(&current, &json!({"a": null, "c": "3"})).unwrap();
        assert_eq!(Value::Object(next), json!({"b": "2", "c": "3"}));
    }
}

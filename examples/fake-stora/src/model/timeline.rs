//! Timeline events (shared decision 6): validation, creation and
//! merge-patch updates, free of storage.
//!
//! Rules: `source.id` and `template.id` required non-empty strings of at most
//! 100 characters; `contact.id` and `site.id` optional non-empty strings (at
//! most 100 characters); `description` optional, at most 1000 characters;
//! `external` optional object whose `id` (required, at most 255 characters)
//! and `url` (required, an absolute `https://` URL) the fake both demands;
//! `variables` optional flat object of string values, at most 50 entries.
//! Unknown top-level members are ignored (not stored).

use serde_json::{Map, Value, json};

use super::errors::detail;

/// Members an event may carry.
pub const FIELDS: &[&str] = &["source", "template", "contact", "site", "description", "external", "variables"];
/// Most entries in `variables`.
pub const MAX_VARIABLES: usize = 50;

/// Builds a new event from a request body, or the `details` of every
/// violation.
pub fn create(body: &Map<String, Value>, id: &str, now: i64) -> Result<Value, Vec<Value>> {
    let mut event: Map<String, Value> = FIELDS
        .iter()
        .filter_map(|f| body.get(*f).filter(|v| !v.is_null()).map(|v| (f.to_string(), v.clone())))
        .collect();
    event.entry("variables").or_insert_with(|| json!({}));
    validate(&event)?;
    event.insert("id".into(), json!(id));
    event.insert("created_at".into(), json!(now));
    Ok(Value::Object(event))
}

/// Applies a JSON merge-patch (RFC 7396) limited to [`FIELDS`] to an
/// event and validates the result.
pub fn patch(event: &Value, patch: &Map<String, Value>, now: i64) -> Result<Value, Vec<Value>> {
    let mut next = event.clone();
    for field in FIELDS {
        if let Some(value) = patch.get(*field) {
            let slot = next.as_object_mut().expect("event is an object");
            let mut current = slot.remove(*field).unwrap_or(Value::Null);
            merge_patch(&mut current, value);
            if !current.is_null() {
                slot.insert(field.to_string(), current);
            }
        }
    }
    let object = next.as_object_mut().expect("event is an object");
    object.entry("variables").or_insert_with(|| json!({}));
    validate(object)?;
    object.insert("updated_at".into(), json!(now));
    Ok(next)
}

/// RFC 7396 merge-patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let object = target.as_object_mut().expect("object");
    for (key, value) in patch {
        if value.is_null() {
            object.remove(key);
        } else {
            merge_patch(object.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

fn id_of<'a>(event: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    event.get(field).map(|v| v.get("id").unwrap_or(&Value::Null))
}

fn check_string(problems: &mut Vec<Value>, field: &str, value: Option<&Value>, required: bool, max: usize) {
    match value {
        None | Some(Value::Null) if !required => {}
        None | Some(Value::Null) => problems.push(detail(field, "required")),
        Some(Value::String(s)) if s.is_empty() => problems.push(detail(field, "must not be empty")),
        Some(Value::String(s)) if s.chars().count() > max => {
            problems.push(detail(field, &format!("longer than {max} characters")))
        }
        Some(Value::String(_)) => {}
        Some(_) => problems.push(detail(field, "must be a string")),
    }
}

/// Whether `url` is an absolute `https://` URL with a host.
pub fn is_https_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    url.len() <= 2048 && !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Checks every rule of the module doc.
pub fn validate(event: &Map<String, Value>) -> Result<(), Vec<Value>> {
    let mut problems = Vec::new();
    for (field, required) in [("source", true), ("template", true), ("contact", false), ("site", false)] {
        if event.get(field).is_some_and(|v| !v.is_object()) {
            problems.push(detail(field, "must be an object with an id"));
            continue;
        }
        check_string(&mut problems, &format!("{field}.id"), id_of(event, field), required, 100);
    }
    check_string(&mut problems, "description", event.get("description"), false, 1000);
    match event.get("external") {
        None => {}
        Some(Value::Object(external)) => {
            check_string(&mut problems, "external.id", external.get("id"), true, 255);
            match external.get("url") {
                Some(Value::String(url)) if is_https_url(url) => {}
                _ => problems.push(detail("external.url", "must be an absolute https URL")),
            }
        }
        Some(_) => problems.push(detail("external", "must be an object")),
    }
    match event.get("variables") {
        None => {}
        Some(Value::Object(vars)) => {
            if vars.len() > MAX_VARIABLES {
                problems.push(detail("variables", "at most 50 entries"));
            }
            for (key, value) in vars {
                if key.is_empty() || !value.is_string() {
                    problems.push(detail(&format!("variables.{key}"), "must be a non-empty key with a string value"));
                }
            }
        }
        Some(_) => problems.push(detail("variables", "must be an object of strings")),
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn fields(r: Result<Value, Vec<Value>>) -> Vec<String> {
        r.unwrap_err().iter().map(|d| d["field"].as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn create_validates() {
        let ok = create(
            &body(json!({"source": {"id": "s"}, "template": {"id": "t"}, "extra": 1,
                          "external": {"id": "e", "url": "https://x.test/a"}, "variables": {"k": "v"}})),
            "tle_1",
            5,
        )
        .unwrap();
        assert_eq!(ok["id"], "tle_1");
        assert_eq!(ok["created_at"], 5);
        assert!(ok.get("extra").is_none());
        assert_eq!(fields(create(&body(json!({})), "x", 0)), ["source.id", "template.id"]);
        let long = "a".repeat(101);
        let bad = json!({"source": {"id": long}, "template": {"id": ""}, "contact": {"id": 3},
                         "description": "d".repeat(1001), "external": {"id": "e", "url": "http://x.test"},
                         "variables": {"k": 1}});
        assert_eq!(
            fields(create(&body(bad), "x", 0)),
            ["source.id", "template.id", "contact.id", "description", "external.url", "variables.k"]
        );
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        let r = create(&body(json!({"source": {"id": "s"}, "template": {"id": "t"}, "variables": many})), "x", 0);
        assert_eq!(fields(r), ["variables"]);
        assert!(!is_https_url("https://"));
        assert!(!is_https_url("https:// x"));
        assert!(is_https_url("https://h"));
    }

    #[test]
    fn patch_merges_and_revalidates() {
        let event = create(
            &body(json!({"source": {"id": "s"}, "template": {"id": "t"}, "variables": {"a": "1", "b": "2"}})),
            "tle_1",
            1,
        )
        .unwrap();
        let next =
            patch(&event, &body(json!({"description": "moved", "variables": {"a": null, "c": "3"}})), 9).unwrap();
        assert_eq!(next["variables"], json!({"b": "2", "c": "3"}));
        assert_eq!(next["description"], "moved");
        assert_eq!(next["updated_at"], 9);
        assert_eq!(next["created_at"], 1);
        assert_eq!(fields(patch(&event, &body(json!({"source": null})), 2)), ["source.id"]);
    }
}

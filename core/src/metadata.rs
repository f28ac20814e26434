//! Stora metadata (contacts, orders, tasks, notes, webhook endpoints): a flat
//! object of strings with fixed limits, updated by JSON merge-patch
//! (RFC 7396) where `null` deletes a key.
//!
//! The limits Stora enforces (it answers `422 invalid_content` otherwise),
//! checked here before anything is sent:
//! - at most [`MAX_KEYS`] keys;
//! - a key is 1 to [`MAX_KEY_CHARS`] characters of `[a-z0-9._:-]`;
//! - a value is at most [`MAX_VALUE_CHARS`] characters, counted as Unicode
//!   scalar values (Rust `chars()`, PHP `mb_strlen` in UTF-8, JavaScript
//!   code points — not UTF-16 units, not bytes).
//!
//! Maps are ordered by key (byte order), so every binding writes the same
//! JSON for the same map whatever order its host language keeps.
//!
//! ```
//! use tessera_core::metadata::{Metadata, MetadataPatch, merge_patch_body, apply_merge_patch};
//!
//! let current: Metadata = [("plan".into(), "gold".into()), ("old".into(), "x".into())].into();
//! let changes: MetadataPatch = [("plan".into(), Some("silver".into())), ("old".into(), None)].into();
//! assert_eq!(merge_patch_body(&changes, Some(&current))?, r#"{"metadata":{"old":null,"plan":"silver"}}"#);
//! assert_eq!(apply_merge_patch(&current, &changes), [("plan".into(), "silver".into())].into());
//! # Ok::<(), tessera_core::Error>(())
//! ```

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::json::{ObjectWriter, write_str};

/// At most this many keys in one metadata object.
pub const MAX_KEYS: usize = 20;
/// A key is at most this many characters.
pub const MAX_KEY_CHARS: usize = 40;
/// A value is at most this many characters (Unicode scalar values).
pub const MAX_VALUE_CHARS: usize = 500;

/// A metadata object: key → string value, ordered by key.
pub type Metadata = BTreeMap<String, String>;

/// A merge-patch of metadata: key → new value, or `None` to delete the key.
pub type MetadataPatch = BTreeMap<String, Option<String>>;

const FIELD: &str = "metadata";

fn invalid(reason: &'static str) -> Error {
    Error::InvalidInput { field: FIELD, reason }
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.chars().take(MAX_KEY_CHARS + 1).count() > MAX_KEY_CHARS {
        return Err(invalid("key must be 1 to 40 characters"));
    }
    if !key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._:-".contains(&b)) {
        return Err(invalid("key may only contain a-z, 0-9, '.', '_', ':' and '-'"));
    }
    Ok(())
}

fn check_value(value: &str) -> Result<()> {
    // Counting stops one past the limit: a huge value costs no more than a short one.
    if value.chars().take(MAX_VALUE_CHARS + 1).count() > MAX_VALUE_CHARS {
        return Err(invalid("value is longer than 500 characters"));
    }
    Ok(())
}

fn check_count(count: usize) -> Result<()> {
    if count > MAX_KEYS {
        return Err(invalid("more than 20 keys"));
    }
    Ok(())
}

/// Checks `metadata` against Stora's rules: the key count first, then each
/// key (length, then characters) and its value, in key order.
pub fn validate(metadata: &Metadata) -> Result<()> {
    let entries: Vec<(&str, &str)> = metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    validate_sorted(&entries)
}

/// [`validate`] for a list of pairs (what a binding gets from a JavaScript
/// object or a PHP array), checked in key order; a key given twice is refused.
pub fn validate_pairs(pairs: &[(String, String)]) -> Result<()> {
    validate_sorted(&sorted(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?)
}

/// `current` with `changes` applied: a `Some` sets the key, a `None` removes
/// it (a key that is not there stays absent). Does not validate.
pub fn apply_merge_patch(current: &Metadata, changes: &MetadataPatch) -> Metadata {
    let mut out = current.clone();
    for (key, change) in changes {
        match change {
            Some(value) => out.insert(key.clone(), value.clone()),
            None => out.remove(key),
        };
    }
    out
}

/// The JSON merge-patch body `{"metadata":{...}}` for `changes`, keys in
/// order, `null` for deletions.
///
/// Every key and set value is checked, in key order. Without `current`, at
/// most [`MAX_KEYS`] keys may be set; with `current` (what the resource
/// holds now), the merged result must satisfy [`validate`] — e.g. adding a
/// key to a full object is refused here rather than by Stora.
pub fn merge_patch_body(changes: &MetadataPatch, current: Option<&Metadata>) -> Result<String> {
    let changes: Vec<(&str, Option<&str>)> = changes.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
    let current: Option<Vec<(&str, &str)>> = current.map(|m| m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect());
    patch_body_sorted(&changes, current.as_deref())
}

/// [`merge_patch_body`] for lists of pairs (what a binding gets); a key given
/// twice in either list is refused.
pub fn merge_patch_body_pairs(
    changes: &[(String, Option<String>)],
    current: Option<&[(String, String)]>,
) -> Result<String> {
    let changes = sorted(changes.iter().map(|(k, v)| (k.as_str(), v.as_deref())))?;
    let current = current.map(|c| sorted(c.iter().map(|(k, v)| (k.as_str(), v.as_str())))).transpose()?;
    patch_body_sorted(&changes, current.as_deref())
}

/// Pairs sorted by key (byte order); a repeated key is an error. (A slice
/// sort instead of a `BTreeMap` keeps the browser module small.)
fn sorted<'a, V>(pairs: impl Iterator<Item = (&'a str, V)>) -> Result<Vec<(&'a str, V)>> {
    let mut out: Vec<(&'a str, V)> = pairs.collect();
    out.sort_unstable_by(|a, b| a.0.cmp(b.0));
    if out.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(invalid("a key appears twice"));
    }
    Ok(out)
}

fn validate_sorted(entries: &[(&str, &str)]) -> Result<()> {
    check_count(entries.len())?;
    for (key, value) in entries {
        check_key(key)?;
        check_value(value)?;
    }
    Ok(())
}

fn patch_body_sorted(changes: &[(&str, Option<&str>)], current: Option<&[(&str, &str)]>) -> Result<String> {
    for (key, change) in changes {
        check_key(key)?;
        if let Some(value) = change {
            check_value(value)?;
        }
    }
    match current {
        Some(current) => validate_sorted(&merged(current, changes))?,
        None => check_count(changes.iter().filter(|(_, v)| v.is_some()).count())?,
    }
    let mut out = String::with_capacity(32 + changes.len() * 32);
    let mut outer = ObjectWriter::new(&mut out);
    let mut inner = ObjectWriter::new(outer.key("metadata"));
    for (key, change) in changes {
        match change {
            Some(value) => write_str(inner.key(key), value),
            None => inner.key(key).push_str("null"),
        }
    }
    inner.end();
    outer.end();
    Ok(out)
}

/// Two key-sorted lists merged: `changes` win, `None` removes.
fn merged<'a>(current: &[(&'a str, &'a str)], changes: &[(&'a str, Option<&'a str>)]) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::with_capacity(current.len() + changes.len());
    let (mut i, mut j) = (0, 0);
    while i < current.len() || j < changes.len() {
        let take_change = j < changes.len() && (i == current.len() || changes[j].0 <= current[i].0);
        if take_change {
            if i < current.len() && changes[j].0 == current[i].0 {
                i += 1;
            }
            if let Some(v) = changes[j].1 {
                out.push((changes[j].0, v));
            }
            j += 1;
        } else {
            out.push(current[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletions_are_null_and_keys_sorted() {
        let changes: MetadataPatch = [("b".into(), None), ("a".into(), Some("\"q\"".into()))].into();
        assert_eq!(merge_patch_body(&changes, None).unwrap(), r#"{"metadata":{"a":"\"q\"","b":null}}"#);
    }
}

//! PHP arrays <-> JSON values, for the core's serde types (`Config`,
//! `Registration`, metadata, …).

use ext_php_rs::types::{ZendHashTable, Zval};
use serde_json::{Map, Number, Value};

use super::{Assoc, MAX_DEPTH, entries, key_text, shape, str_zval, utf8};
use crate::errors::{Res, invalid};

/// A PHP value as JSON: lists become arrays, other arrays objects (an empty
/// array is an empty object).
pub fn to_json(z: &Zval, field: &'static str) -> Res<Value> {
    to_json_at(z, field, 0)
}

fn to_json_at(z: &Zval, field: &'static str, depth: usize) -> Res<Value> {
    if depth > MAX_DEPTH {
        return Err(invalid(field, "is nested too deeply"));
    }
    let z = z.dereference();
    if z.is_null() {
        return Ok(Value::Null);
    }
    if let Some(b) = z.bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = z.long() {
        return Ok(Value::Number(n.into()));
    }
    if let Some(f) = z.double() {
        return Number::from_f64(f).map(Value::Number).ok_or_else(|| invalid(field, "contains a non-finite number"));
    }
    if z.is_string() {
        return Ok(Value::String(utf8(z, field)?.to_owned()));
    }
    let Some(ht) = z.array() else {
        return Err(invalid(field, "must contain only arrays and scalars"));
    };
    if !ht.is_empty() && is_list(ht) {
        return entries(ht).map(|(_, v)| to_json_at(v, field, depth + 1)).collect::<Res<Vec<_>>>().map(Value::Array);
    }
    let mut map = Map::new();
    for (k, v) in entries(ht) {
        map.insert(key_text(&k, field)?, to_json_at(v, field, depth + 1)?);
    }
    Ok(Value::Object(map))
}

/// Deserialises a core type from a PHP array through its serde definition,
/// after checking the array's keys and their types ([`shape::check`]: the
/// error names the key and its path).
pub fn from_php<T: serde::de::DeserializeOwned + shape::Shaped>(z: &Zval, field: &'static str) -> Res<T> {
    let ht = z.array().ok_or_else(|| invalid(field, "must be an array"))?;
    shape::check(ht, T::FIELDS, field).map_err(|message| shape::failure(&message))?;
    serde_json::from_value(to_json(z, field)?).map_err(|_| invalid(field, "does not have the expected keys and types"))
}

/// A JSON value as a PHP value (objects become associative arrays).
pub fn json_to_zval(v: &Value) -> Zval {
    match v {
        Value::Null => Zval::null(),
        Value::Bool(b) => {
            let mut z = Zval::new();
            z.set_bool(*b);
            z
        }
        Value::Number(n) => {
            let mut z = Zval::new();
            match n.as_i64() {
                Some(i) => z.set_long(i),
                None => z.set_double(n.as_f64().unwrap_or(f64::NAN)),
            }
            z
        }
        Value::String(s) => str_zval(s),
        Value::Array(items) => {
            let mut ht = ZendHashTable::with_capacity(u32::try_from(items.len()).unwrap_or(8));
            for item in items {
                let _ = ht.push(json_to_zval(item));
            }
            let mut z = Zval::new();
            z.set_hashtable(ht);
            z
        }
        Value::Object(map) => map.iter().fold(Assoc::new(), |a, (k, v)| a.with(k, json_to_zval(v))).zval(),
    }
}

/// Whether the keys are 0, 1, 2, … in order.
fn is_list(ht: &ZendHashTable) -> bool {
    (0_i64..).zip(entries(ht)).all(|(i, (k, _))| k.long() == Some(i))
}

//! The shape of the array arguments read through the core's serde types
//! (`$config`, `$registration`): every key known, every required key present,
//! every value of its type — checked before serde, so that the error names the
//! key and its path (`config.retry.max_attempts`) instead of serde's generic
//! refusal. Messages name keys and PHP types only, never a value (a value may
//! be a secret). php/src/Internal/Shape.php is the pure-PHP port: the two must
//! give the same message for the same array (php/tests/ArrayKeysTest.php).

use std::ptr;

use ext_php_rs::convert::IntoZval;
use ext_php_rs::exception::throw_object;
use ext_php_rs::ffi::{zend_class_entry, zend_object, zend_string, zval};
use ext_php_rs::types::{ZendHashTable, ZendStr, Zval};
use ext_php_rs::zend::ce;
use tessera_core::{Config, Error, Registration};

use super::entries;
use crate::errors::{Failure, exception_object, invalid};

unsafe extern "C" {
    // Exported by the PHP binary; not in ext-php-rs' generated bindings (as in
    // errors.rs). Writes a property with `scope` as the calling scope.
    fn zend_update_property_ex(
        scope: *mut zend_class_entry,
        object: *mut zend_object,
        name: *mut zend_string,
        value: *mut zval,
    );
}

/// What a key holds.
pub enum Kind {
    /// A UTF-8 string.
    Str,
    /// A PHP int from 0 to `max`.
    Int {
        /// The largest value accepted.
        max: i64,
    },
    /// A nested array of these fields.
    Map(&'static [Field]),
}

/// One key of an array argument.
pub struct Field {
    /// The key.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// Whether it must be present (the others have defaults).
    pub required: bool,
}

const fn field(name: &'static str, kind: Kind, required: bool) -> Field {
    Field { name, kind, required }
}

const U32_MAX: i64 = u32::MAX as i64;

const ROUTES: &[Field] = &[
    field("installations", Kind::Str, false),
    field("connect", Kind::Str, false),
    field("disconnect", Kind::Str, false),
    field("connect_complete", Kind::Str, false),
];

const RETRY: &[Field] = &[
    field("max_attempts", Kind::Int { max: U32_MAX }, false),
    field("base_delay_ms", Kind::Int { max: i64::MAX }, false),
    field("max_delay_ms", Kind::Int { max: i64::MAX }, false),
    field("max_total_delay_ms", Kind::Int { max: i64::MAX }, false),
    field("max_retry_after_ms", Kind::Int { max: i64::MAX }, false),
];

const PROXY: &[Field] = &[
    field("stora_api_url", Kind::Str, true),
    field("refresh_margin_secs", Kind::Int { max: i64::MAX }, false),
    field("token", Kind::Str, false),
    field("refresh", Kind::Str, false),
    field("revoke", Kind::Str, false),
];

/// A core type read from a PHP array: the keys its serde definition reads.
pub trait Shaped {
    /// The keys, in declaration order.
    const FIELDS: &'static [Field];
}

impl Shaped for Config {
    const FIELDS: &'static [Field] = &[
        field("broker_url", Kind::Str, true),
        field("routes", Kind::Map(ROUTES), false),
        field("retry", Kind::Map(RETRY), false),
        field("proxy", Kind::Map(PROXY), false),
    ];
}

impl Shaped for Registration {
    const FIELDS: &'static [Field] = &[
        field("site_url", Kind::Str, true),
        field("admin_email", Kind::Str, true),
        field("platform", Kind::Str, true),
        field("plugin_version", Kind::Str, true),
    ];
}

/// Checks `ht` (the argument or nested array at `path`) against `fields`:
/// first every key in the array's order (an unknown key is refused, with the
/// snake_case spelling suggested when that is a known key), then every field
/// in declaration order (missing, wrong type, out of range), nested arrays
/// when their field is reached. The message of the first problem, if any.
pub fn check(ht: &ZendHashTable, fields: &[Field], path: &str) -> Result<(), String> {
    check_keys(ht, |k| fields.iter().any(|f| f.name == k), path)?;
    for f in fields {
        let at = format!("{path}.{}", f.name);
        let Some(z) = ht.get(f.name) else {
            if f.required {
                return Err(format!("missing key `{at}` ({})", expected(&f.kind)));
            }
            continue;
        };
        let z = z.dereference();
        match f.kind {
            Kind::Str => {
                let s = z.zend_str().ok_or_else(|| wrong_type(&at, &f.kind, z))?;
                if std::str::from_utf8(s.as_bytes()).is_err() {
                    return Err(format!("`{at}` must be valid UTF-8"));
                }
            }
            Kind::Int { max } => {
                let n = z.long().filter(|_| z.is_long()).ok_or_else(|| wrong_type(&at, &f.kind, z))?;
                if n < 0 {
                    return Err(format!("`{at}` must not be negative"));
                }
                if n > max {
                    return Err(format!("`{at}` must be at most {max}"));
                }
            }
            Kind::Map(nested) => check(z.array().ok_or_else(|| wrong_type(&at, &f.kind, z))?, nested, &at)?,
        }
    }
    Ok(())
}

/// Refuses the first key of `ht` (in the array's order) that is not `known`:
/// `unknown key `config.brokerUrl`; did you mean `broker_url`?` (the
/// snake_case spelling suggested when that is known; a key that is not a
/// plain name is not shown).
pub fn check_keys(ht: &ZendHashTable, known: impl Fn(&str) -> bool, path: &str) -> Result<(), String> {
    for (k, _) in entries(ht) {
        let key = match k.long() {
            Some(n) => n.to_string().into_bytes(),
            None => k.zend_str().map(|s| s.as_bytes().to_vec()).unwrap_or_default(),
        };
        if k.long().is_none() && std::str::from_utf8(&key).is_ok_and(&known) {
            continue;
        }
        let plain =
            (1..=64).contains(&key.len()) && key.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
        if !plain {
            return Err(format!("unknown key in `{path}` (not shown: not a plain name)"));
        }
        let key = String::from_utf8_lossy(&key);
        let snake = snake_case(&key);
        return Err(if known(&snake) {
            format!("unknown key `{path}.{key}`; did you mean `{snake}`?")
        } else {
            format!("unknown key `{path}.{key}`")
        });
    }
    Ok(())
}

/// `brokerUrl`, `BrokerURL`, `broker-url` → `broker_url`: an underscore
/// before an upper-case letter that follows a lower-case letter or a digit,
/// or that starts a word after an acronym; `-` → `_`; lower case.
pub fn snake_case(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.push(if c == '-' { '_' } else { c.to_ascii_lowercase() });
    }
    out
}

/// `a string`, `an int`, `an array`.
fn expected(kind: &Kind) -> &'static str {
    match kind {
        Kind::Str => "a string",
        Kind::Int { .. } => "an int",
        Kind::Map(_) => "an array",
    }
}

/// `` `config.retry.max_attempts` must be an int, got string ``.
fn wrong_type(at: &str, kind: &Kind, z: &Zval) -> String {
    format!("`{at}` must be {}, got {}", expected(kind), type_name(z))
}

/// The PHP type of a value, as `get_debug_type()` names scalars (objects are
/// `object`: a class name is not needed to fix the call).
fn type_name(z: &Zval) -> &'static str {
    if z.is_null() {
        "null"
    } else if z.is_bool() {
        "bool"
    } else if z.is_long() {
        "int"
    } else if z.is_double() {
        "float"
    } else if z.is_string() {
        "string"
    } else if z.is_array() {
        "array"
    } else if z.is_object() {
        "object"
    } else {
        "resource"
    }
}

/// The `InvalidInputException` (code `invalid_input`) for a shape problem,
/// with `message` as its message: the core's `Error::InvalidInput` holds only
/// static text, so the exception is built from it, given the message, and
/// thrown here; the binding method then returns [`Failure::Pending`], which
/// leaves the thrown exception as it is.
pub fn failure(message: &str) -> Failure {
    let mut z = exception_object(&Error::InvalidInput { field: "argument", reason: "has the wrong shape" });
    if let Some(obj) = z.object_mut()
        && let Ok(mut value) = message.into_zval(false)
    {
        let mut name = ZendStr::new("message", false);
        // SAFETY: `obj` is a live exception object (a subclass of
        // `Exception`, whose property `message` is written in its own
        // scope); the engine copies `value` and does not keep `name`.
        unsafe {
            zend_update_property_ex(ptr::from_ref(ce::exception()).cast_mut(), obj, &raw mut *name, &raw mut value);
        }
    }
    match throw_object(z) {
        Ok(()) => Failure::Pending,
        Err(_) => invalid("argument", "has the wrong shape"),
    }
}

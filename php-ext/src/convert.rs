//! Type conversion between PHP values and core values, and nothing else.
//!
//! Arguments arrive as the wrapper types below rather than as `String`,
//! `&ZendHashTable`, …: they accept any PHP value, so a value of the wrong
//! type becomes an `InvalidInputException` (a `TesseraException`) instead of
//! the generic `TypeError` ext-php-rs would throw, while reflection and the
//! stub still show the declared PHP type.

use ext_php_rs::boxed::ZBox;
use ext_php_rs::convert::{FromZval, IntoZval};
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendCallable, ZendHashTable, ZendStr, Zval};
use serde_json::{Map, Number, Value};
use tessera_core::{ApiRequest, Completion, OwnershipProof, RegistrationOutcome, RemoteStep, Request, Response};

use crate::errors::{Res, exception_object, invalid};

/// Deepest nesting accepted when a PHP array becomes JSON (and so the guard
/// against self-referencing arrays).
const MAX_DEPTH: usize = 32;

macro_rules! arg_type {
    ($(#[$doc:meta])* $name:ident, $ty:expr) => {
        $(#[$doc])*
        pub struct $name<'a>(pub &'a Zval);

        impl<'a> FromZval<'a> for $name<'a> {
            const TYPE: DataType = $ty;
            fn from_zval(zval: &'a Zval) -> Option<Self> {
                Some($name(zval.dereference()))
            }
        }
    };
}

macro_rules! opt_arg_type {
    ($(#[$doc:meta])* $name:ident, $ty:expr) => {
        $(#[$doc])*
        pub struct $name<'a>(pub Option<&'a Zval>);

        impl<'a> FromZval<'a> for $name<'a> {
            const TYPE: DataType = $ty;
            const NULLABLE: bool = true;
            fn from_zval(zval: &'a Zval) -> Option<Self> {
                let zval = zval.dereference();
                Some($name(if zval.is_null() { None } else { Some(zval) }))
            }
            fn from_missing() -> Option<Self> {
                Some($name(None))
            }
        }
    };
}

arg_type!(
    /// An `array` parameter.
    ArrayArg,
    DataType::Array
);
arg_type!(
    /// A `string` parameter.
    StrArg,
    DataType::String
);
arg_type!(
    /// A `callable` parameter.
    CallableArg,
    DataType::Callable
);
opt_arg_type!(
    /// A `?string` parameter (may be omitted).
    OptStrArg,
    DataType::String
);
opt_arg_type!(
    /// A `?int` parameter (may be omitted).
    OptIntArg,
    DataType::Long
);
opt_arg_type!(
    /// A `?array` parameter (may be omitted).
    OptArrayArg,
    DataType::Array
);
opt_arg_type!(
    /// A `?callable` parameter (may be omitted).
    OptCallableArg,
    DataType::Callable
);

impl<'a> ArrayArg<'a> {
    /// The array, or `InvalidInput` naming `field`.
    pub fn get(&self, field: &'static str) -> Res<&'a ZendHashTable> {
        self.0.array().ok_or_else(|| invalid(field, "must be an array"))
    }
}

impl<'a> OptArrayArg<'a> {
    /// The array, if given.
    pub fn get(&self, field: &'static str) -> Res<Option<&'a ZendHashTable>> {
        self.0.map(|z| z.array().ok_or_else(|| invalid(field, "must be an array"))).transpose()
    }
}

impl<'a> StrArg<'a> {
    /// The bytes of the string.
    pub fn bytes(&self, field: &'static str) -> Res<&'a [u8]> {
        bytes(self.0, field)
    }
    /// The string as UTF-8.
    pub fn utf8(&self, field: &'static str) -> Res<&'a str> {
        utf8(self.0, field)
    }
}

impl<'a> OptStrArg<'a> {
    /// The bytes of the string, if given.
    pub fn bytes(&self, field: &'static str) -> Res<Option<&'a [u8]>> {
        self.0.map(|z| bytes(z, field)).transpose()
    }
    /// The string as UTF-8, if given.
    pub fn utf8(&self, field: &'static str) -> Res<Option<&'a str>> {
        self.0.map(|z| utf8(z, field)).transpose()
    }
}

impl OptIntArg<'_> {
    /// The integer, if given.
    pub fn get(&self, field: &'static str) -> Res<Option<i64>> {
        self.0.map(|z| z.long().ok_or_else(|| invalid(field, "must be an integer"))).transpose()
    }
}

impl<'a> CallableArg<'a> {
    /// The callable, or `InvalidInput` naming `field`.
    pub fn get(&self, field: &'static str) -> Res<ZendCallable<'a>> {
        callable(self.0, field)
    }
}

impl<'a> OptCallableArg<'a> {
    /// The callable, if given.
    pub fn get(&self, field: &'static str) -> Res<Option<ZendCallable<'a>>> {
        self.0.map(|z| callable(z, field)).transpose()
    }
}

fn callable<'a>(z: &'a Zval, field: &'static str) -> Res<ZendCallable<'a>> {
    if !z.is_callable() {
        return Err(invalid(field, "must be callable"));
    }
    ZendCallable::new(z).map_err(|_| invalid(field, "must be callable"))
}

/// The bytes of a PHP string.
pub fn bytes<'a>(z: &'a Zval, field: &'static str) -> Res<&'a [u8]> {
    z.zend_str().map(ZendStr::as_bytes).ok_or_else(|| invalid(field, "must be a string"))
}

/// A PHP string that must be UTF-8.
pub fn utf8<'a>(z: &'a Zval, field: &'static str) -> Res<&'a str> {
    std::str::from_utf8(bytes(z, field)?).map_err(|_| invalid(field, "must be valid UTF-8"))
}

/// Iterates a PHP array as (key, value) with the key as a `Zval`: the
/// ext-php-rs iterator panics on a non-UTF-8 string key.
pub fn entries(ht: &ZendHashTable) -> impl Iterator<Item = (Zval, &Zval)> {
    let mut it = ht.iter();
    std::iter::from_fn(move || it.next_zval()).map(|(k, v)| (k, v.dereference()))
}

/// Whether the keys are 0, 1, 2, … in order.
fn is_list(ht: &ZendHashTable) -> bool {
    (0_i64..).zip(entries(ht)).all(|(i, (k, _))| k.long() == Some(i))
}

/// A PHP array key as UTF-8 text (integer keys as their decimal form).
pub fn key_text(k: &Zval, field: &'static str) -> Res<String> {
    match k.long() {
        Some(n) => Ok(n.to_string()),
        None => utf8(k, field).map(str::to_owned),
    }
}

/// A member of an associative array, by name (missing and `null` are `None`).
pub fn member<'a>(ht: &'a ZendHashTable, key: &str) -> Option<&'a Zval> {
    ht.get(key).map(Zval::dereference).filter(|z| !z.is_null())
}

fn required<'a>(ht: &'a ZendHashTable, key: &str, field: &'static str) -> Res<&'a Zval> {
    member(ht, key).ok_or_else(|| invalid(field, "is missing"))
}

fn opt_body(ht: &ZendHashTable) -> Res<Vec<u8>> {
    match member(ht, "body") {
        None => Ok(Vec::new()),
        Some(z) => Ok(bytes(z, "body")?.to_vec()),
    }
}

/// Headers: `['Name' => 'value', 'Other' => ['v1', 'v2']]`; a list value gives
/// one header per element. Missing or `null` is no headers.
pub fn headers_from_php(ht: &ZendHashTable) -> Res<Vec<(String, String)>> {
    let Some(z) = member(ht, "headers") else {
        return Ok(Vec::new());
    };
    let h = z.array().ok_or_else(|| invalid("headers", "must be an array of name => value"))?;
    let mut out = Vec::with_capacity(h.len());
    for (k, v) in entries(h) {
        let name = key_text(&k, "headers")?;
        if let Some(list) = v.array() {
            for (_, item) in entries(list) {
                out.push((name.clone(), utf8(item, "headers")?.to_owned()));
            }
        } else {
            out.push((name, utf8(v, "headers")?.to_owned()));
        }
    }
    Ok(out)
}

/// `['method' => …, 'path' => …, 'headers' => […], 'body' => …]`.
pub fn api_request_from_php(ht: &ZendHashTable) -> Res<ApiRequest> {
    Ok(ApiRequest {
        method: utf8(required(ht, "method", "method")?, "method")?.to_owned(),
        path: utf8(required(ht, "path", "path")?, "path")?.to_owned(),
        headers: headers_from_php(ht)?,
        body: opt_body(ht)?,
    })
}

/// `['method' => …, 'url' => …, 'headers' => […], 'body' => …]`.
pub fn request_from_php(ht: &ZendHashTable) -> Res<Request> {
    Ok(Request {
        method: utf8(required(ht, "method", "method")?, "method")?.to_owned(),
        url: utf8(required(ht, "url", "url")?, "url")?.to_owned(),
        headers: headers_from_php(ht)?,
        body: opt_body(ht)?,
    })
}

/// `['status' => int, 'headers' => […], 'body' => string]`.
pub fn response_from_php(ht: &ZendHashTable) -> Res<Response> {
    let status = required(ht, "status", "status")?
        .long()
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| invalid("status", "must be an integer HTTP status"))?;
    Ok(Response { status, headers: headers_from_php(ht)?, body: opt_body(ht)? })
}

// ---- core → PHP -------------------------------------------------------------

/// A PHP string holding arbitrary bytes.
pub fn binary_zval(b: &[u8]) -> Zval {
    let mut z = Zval::new();
    z.set_zend_string(ZendStr::new(b, false));
    z
}

/// A PHP string.
pub fn str_zval(s: &str) -> Zval {
    binary_zval(s.as_bytes())
}

/// Builds an associative PHP array in place.
pub struct Assoc(ZBox<ZendHashTable>);

impl Default for Assoc {
    fn default() -> Self {
        Assoc::new()
    }
}

impl Assoc {
    /// An empty array.
    pub fn new() -> Assoc {
        Assoc(ZendHashTable::with_capacity(8))
    }
    /// Adds `key => value`.
    pub fn with(mut self, key: &str, value: Zval) -> Assoc {
        // Inserting into an array we own cannot fail.
        let _ = self.0.insert(key, value);
        self
    }
    /// Adds `key => string`.
    pub fn str(self, key: &str, value: &str) -> Assoc {
        self.with(key, str_zval(value))
    }
    /// Adds `key => ?string`.
    pub fn opt_str(self, key: &str, value: Option<&str>) -> Assoc {
        self.with(key, value.map_or_else(Zval::null, str_zval))
    }
    /// Adds `key => int`.
    pub fn int(self, key: &str, value: i64) -> Assoc {
        let mut z = Zval::new();
        z.set_long(value);
        self.with(key, z)
    }
    /// The PHP array.
    pub fn build(self) -> ZBox<ZendHashTable> {
        self.0
    }
    /// The PHP array as a value.
    pub fn zval(self) -> Zval {
        let mut z = Zval::new();
        z.set_hashtable(self.0);
        z
    }
}

/// Headers as `['name' => 'value']`; a repeated name keeps every value,
/// joined with `, ` (RFC 9110 §5.3).
pub fn headers_to_php(headers: &[(String, String)]) -> Zval {
    let mut ht = ZendHashTable::with_capacity(u32::try_from(headers.len()).unwrap_or(8));
    for (i, (k, v)) in headers.iter().enumerate() {
        // Names are almost always unique (the core's requests always are):
        // look in the array only when an earlier pair has the same name.
        let repeated = headers[..i].iter().any(|(n, _)| n == k);
        let existing = if repeated { ht.get_mut(k.as_str()) } else { None };
        match existing {
            Some(existing) => {
                let joined = [existing.zend_str().map_or(&b""[..], ZendStr::as_bytes), b", ", v.as_bytes()].concat();
                existing.set_zend_string(ZendStr::new(joined, false));
            }
            None => {
                let _ = ht.insert(k.as_str(), str_zval(v));
            }
        }
    }
    let mut z = Zval::new();
    z.set_hashtable(ht);
    z
}

/// A request for the host to send, ready for `wp_remote_request($r['url'], $r)`.
pub fn request_to_php(r: &Request) -> ZBox<ZendHashTable> {
    Assoc::new()
        .str("method", &r.method)
        .str("url", &r.url)
        .with("headers", headers_to_php(&r.headers))
        .with("body", binary_zval(&r.body))
        .build()
}

/// A response, as the host gave it.
pub fn response_to_php(r: &Response) -> ZBox<ZendHashTable> {
    Assoc::new()
        .int("status", i64::from(r.status))
        .with("headers", headers_to_php(&r.headers))
        .with("body", binary_zval(&r.body))
        .build()
}

/// An ownership proof: `['url' => …, 'path' => …, 'body' => …]`.
pub fn proof_to_php(p: &OwnershipProof) -> Assoc {
    Assoc::new().str("url", &p.url).str("path", &p.path).str("body", &p.body)
}

/// A remote step of disconnect/uninstall: `['result' => 'ok'|'skipped'|'failed',
/// 'error' => ?TesseraException]`.
fn remote_step_to_php(step: &RemoteStep) -> Zval {
    Assoc::new()
        .str("result", step.as_str())
        .with("error", step.error().map_or_else(Zval::null, exception_object))
        .zval()
}

/// How an operation of the step machine ended, as PHP (docs/HOST-CONTRACT.md
/// §1): the one conversion every driver method returns.
pub fn completion_to_php(completion: &Completion) -> Zval {
    match completion {
        Completion::Response(r) => {
            let mut z = Zval::new();
            z.set_hashtable(response_to_php(r));
            z
        }
        Completion::Registration(outcome) => registration_to_php(outcome),
        Completion::Disconnected { remote } => Assoc::new().with("remote", remote_step_to_php(remote)).zval(),
        Completion::Uninstalled(report) => Assoc::new()
            .with("disconnect", remote_step_to_php(&report.disconnect))
            .with("deregister", remote_step_to_php(&report.deregister))
            .zval(),
        Completion::Reset { disconnect, deregister, registration } => Assoc::new()
            .with("disconnect", remote_step_to_php(disconnect))
            .with("deregister", remote_step_to_php(deregister))
            .with("registration", registration_to_php(registration))
            .zval(),
        Completion::SiteMoved => Zval::null(),
        Completion::PreviousRevoked { revoked } => {
            let mut z = Zval::new();
            z.set_bool(*revoked);
            Assoc::new().with("revoked", z).zval()
        }
        Completion::Connected { account } => {
            Assoc::new().with("account", Assoc::new().str("id", &account.id).str("name", &account.name).zval()).zval()
        }
        Completion::Recorded { response, event } => crate::records::recorded_to_php(response, event),
    }
}

/// `['outcome' => 'registered']` or `['outcome' => 'ownership_challenge', 'proof' => …]`.
fn registration_to_php(outcome: &RegistrationOutcome) -> Zval {
    let result = Assoc::new().str("outcome", outcome.as_str());
    match outcome {
        RegistrationOutcome::Registered => result.zval(),
        RegistrationOutcome::OwnershipChallenge(p) => result.with("proof", proof_to_php(p).zval()).zval(),
    }
}

/// What a driver method returns: its completion ([`completion_to_php`]),
/// declared `array` to PHP (the operation decides which completion it is).
pub struct Completed(pub Zval);

impl IntoZval for Completed {
    const TYPE: DataType = DataType::Array;
    const NULLABLE: bool = false;

    fn set_zval(self, zv: &mut Zval, _persistent: bool) -> ext_php_rs::error::Result<()> {
        *zv = self.0;
        Ok(())
    }
}

// ---- PHP arrays <-> JSON values (for the core's serde types) -----------------

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

/// Deserialises a core type from a PHP array through its serde definition.
pub fn from_php<T: serde::de::DeserializeOwned>(z: &Zval, field: &'static str) -> Res<T> {
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

/// A value the host returned where the binding expected an array.
pub fn expect_array<'a>(z: &'a Zval, what: &'static str) -> Res<&'a ZendHashTable> {
    z.dereference().array().ok_or_else(|| invalid(what, "must return an array"))
}

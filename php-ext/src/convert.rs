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
use tessera_core::{ApiRequest, Completion, OwnershipProof, RegistrationOutcome, RemoteStep, Request, Response};

use crate::errors::{Res, exception_object, invalid};

mod json;
mod shape;

pub use json::{from_php, json_to_zval, to_json};
pub use shape::{check_keys, failure as shape_failure};

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

fn opt_body(ht: &ZendHashTable, field: &'static str) -> Res<Vec<u8>> {
    match member(ht, "body") {
        None => Ok(Vec::new()),
        Some(z) => Ok(bytes(z, field)?.to_vec()),
    }
}

/// Headers: `['Name' => 'value', 'Other' => ['v1', 'v2']]`; a list value gives
/// one header per element. Missing or `null` is no headers. `field` names
/// them in errors (`request.headers`).
pub fn headers_from_php(ht: &ZendHashTable, field: &'static str) -> Res<Vec<(String, String)>> {
    let Some(z) = member(ht, "headers") else {
        return Ok(Vec::new());
    };
    header_map_from_php(z.array().ok_or_else(|| invalid(field, "must be an array of name => value"))?, field)
}

/// A headers array itself (`['Name' => 'value', 'Other' => ['v1', 'v2']]`,
/// as `headers_from_php` reads the `headers` member): one header per value.
pub fn header_map_from_php(h: &ZendHashTable, field: &'static str) -> Res<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(h.len());
    for (k, v) in entries(h) {
        let name = key_text(&k, field)?;
        if let Some(list) = v.array() {
            for (_, item) in entries(list) {
                out.push((name.clone(), utf8(item, field)?.to_owned()));
            }
        } else {
            out.push((name, utf8(v, field)?.to_owned()));
        }
    }
    Ok(out)
}

/// `['method' => …, 'path' => …, 'headers' => […], 'body' => …]`; any other
/// key is refused (a misspelt `headers` would otherwise send none).
pub fn api_request_from_php(ht: &ZendHashTable) -> Res<ApiRequest> {
    shape::check_keys(ht, |k| matches!(k, "method" | "path" | "headers" | "body"), "request")
        .map_err(|message| shape::failure(&message))?;
    Ok(ApiRequest {
        method: utf8(required(ht, "method", "request.method")?, "request.method")?.to_owned(),
        path: utf8(required(ht, "path", "request.path")?, "request.path")?.to_owned(),
        headers: headers_from_php(ht, "request.headers")?,
        body: opt_body(ht, "request.body")?,
    })
}

/// `['method' => …, 'url' => …, 'headers' => […], 'body' => …]`.
pub fn request_from_php(ht: &ZendHashTable) -> Res<Request> {
    Ok(Request {
        method: utf8(required(ht, "method", "request.method")?, "request.method")?.to_owned(),
        url: utf8(required(ht, "url", "request.url")?, "request.url")?.to_owned(),
        headers: headers_from_php(ht, "request.headers")?,
        body: opt_body(ht, "request.body")?,
    })
}

/// `['status' => int, 'headers' => […], 'body' => string]`.
pub fn response_from_php(ht: &ZendHashTable) -> Res<Response> {
    let status = required(ht, "status", "response.status")?
        .long()
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| invalid("response.status", "must be an integer HTTP status"))?;
    Ok(Response { status, headers: headers_from_php(ht, "response.headers")?, body: opt_body(ht, "response.body")? })
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
/// §1): the one conversion every driver method returns (only a page of
/// events can fail: its data is decoded by PHP's `json_decode`).
pub fn completion_to_php(completion: &Completion) -> Res<Zval> {
    Ok(match completion {
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
        Completion::Events(page) => crate::events::page_to_php(page)?,
    })
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

/// A value the host returned where the binding expected an array.
pub fn expect_array<'a>(z: &'a Zval, what: &'static str) -> Res<&'a ZendHashTable> {
    z.dereference().array().ok_or_else(|| invalid(what, "must return an array"))
}

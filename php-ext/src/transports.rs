//! `Tessera\Http\Psr18Transport` and `Tessera\Http\WordPressTransport`: the
//! host contract's transport (`fn(array $request): array`, see [`crate::host`])
//! for any PSR-18 client and for WordPress's HTTP API, shipped as classes so a
//! host needs no transport code of its own. Same names and behaviour as the
//! pure-PHP package's php/src/Http.
//!
//! They are thin: each PSR-7/PSR-17/PSR-18 method and WordPress function is
//! called by name through the engine (inside a bailout frame, like every host
//! callable), so the extension depends on no PSR interface at load time.
// PHP parameter names are camelCase (they are the named-argument names).
#![allow(non_snake_case)]

use ext_php_rs::convert::{FromZval, IntoZvalDyn};
use ext_php_rs::flags::DataType;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendCallable, ZendHashTable, Zval};
use ext_php_rs::zend::{ClassEntry, ExecutorGlobals};
use tessera_core::{Error, Request};

use ext_php_rs::boxed::ZBox;

use crate::convert::{
    ArrayArg, Assoc, binary_zval, bytes, entries, headers_to_php, key_text, member, request_from_php, str_zval,
};
use crate::errors::{Class, Failure, Res, class_entry, guard, invalid};
use crate::host::call_php;

const CLIENT: &str = "Psr\\Http\\Client\\ClientInterface";
const REQUESTS: &str = "Psr\\Http\\Message\\RequestFactoryInterface";
const STREAMS: &str = "Psr\\Http\\Message\\StreamFactoryInterface";
/// Most header values a request may carry: the core's bound on the requests
/// it builds (`MAX_HEADERS` in core/src/http.rs, not exported), so a host's
/// own oversized request is refused before a client copies it around.
const MAX_HEADERS: usize = 100;

/// The request a transport was given, type-checked and bounded.
fn parse(request: &ZendHashTable) -> Res<Request> {
    let parsed = request_from_php(request)?;
    if parsed.headers.len() > MAX_HEADERS {
        return Err(Failure::Core(Error::TooLarge { field: "headers", limit: MAX_HEADERS }));
    }
    Ok(parsed)
}

/// A PSR-18 client's "no response" (network error, or a request it could not send).
const NO_RESPONSE: &str = "Psr\\Http\\Client\\ClientExceptionInterface";

macro_rules! interface_arg {
    ($(#[$doc:meta])* $name:ident, $interface:expr) => {
        $(#[$doc])*
        pub struct $name<'a>(pub &'a Zval);

        impl<'a> FromZval<'a> for $name<'a> {
            const TYPE: DataType = DataType::object($interface);
            fn from_zval(zval: &'a Zval) -> Option<Self> {
                Some($name(zval.dereference()))
            }
        }
    };
}

interface_arg!(
    /// A `Psr\Http\Client\ClientInterface` parameter: declared by name
    /// (reflection, IDEs), checked by [`implementing`] so a wrong value is an
    /// `InvalidInputException` and the interface need not exist at load time.
    ClientArg,
    CLIENT
);
interface_arg!(
    /// A `Psr\Http\Message\RequestFactoryInterface` parameter (as [`ClientArg`]).
    RequestFactoryArg,
    REQUESTS
);
interface_arg!(
    /// A `Psr\Http\Message\StreamFactoryInterface` parameter (as [`ClientArg`]).
    StreamFactoryArg,
    STREAMS
);

/// The `?int $timeoutSeconds = 15` parameter (`null`: the default): any PHP
/// value is accepted, so a wrong one becomes an `InvalidInputException` (as
/// in the pure-PHP package) rather than ext-php-rs' own `TypeError`.
pub struct Timeout(Result<i64, ()>);

/// Seconds WordPress waits for a request when the host names none.
const DEFAULT_TIMEOUT: i64 = 15;

impl FromZval<'_> for Timeout {
    const TYPE: DataType = DataType::Long;
    const NULLABLE: bool = true;
    fn from_zval(zval: &Zval) -> Option<Self> {
        let zval = zval.dereference();
        Some(Timeout(if zval.is_null() { Ok(DEFAULT_TIMEOUT) } else { zval.long().ok_or(()) }))
    }
}

impl From<i32> for Timeout {
    fn from(seconds: i32) -> Self {
        Timeout(Ok(i64::from(seconds)))
    }
}

impl ext_php_rs::convert::StubLiteral for Timeout {
    fn stub_literal(&self) -> String {
        self.0.map_or_else(|()| "null".to_owned(), |n| n.to_string())
    }
}

/// `field` itself (a new reference) when it is an object implementing
/// `interface`, else `InvalidInput`.
fn implementing(value: &Zval, name: &'static str, reason: &'static str, interface: &str) -> Res<Zval> {
    let ok = value.object().is_some_and(|o| ClassEntry::try_find(interface).is_some_and(|ce| o.instance_of(ce)));
    if ok { Ok(value.shallow_clone()) } else { Err(invalid(name, reason)) }
}

/// Calls `$object->$method(...$args)` (a PHP exception stays pending:
/// [`Failure::Pending`]).
fn method(object: &Zval, name: &'static str, args: Vec<&dyn IntoZvalDyn>) -> Res<Zval> {
    let mut pair = ZendHashTable::new();
    let built = pair.push(object.shallow_clone()).and_then(|()| pair.push(name));
    let mut callable = Zval::new();
    callable.set_hashtable(pair);
    let callable = built
        .ok()
        .and_then(|()| ZendCallable::new_owned(callable).ok())
        .ok_or_else(|| invalid(name, "is not a method of the object given"))?;
    call_php(&callable, args, name)
}

/// Calls the global function `name` (a PHP exception stays pending).
fn function(name: &'static str, args: Vec<&dyn IntoZvalDyn>) -> Res<Zval> {
    let f = ZendCallable::try_from_name(name).map_err(|_| Failure::Core(Error::InvalidState(OUTSIDE_WORDPRESS)))?;
    call_php(&f, args, name)
}

/// The text of a value a method returned (`(string)` of a string).
fn text(z: &Zval, what: &'static str) -> Res<Vec<u8>> {
    Ok(bytes(z, what)?.to_vec())
}

/// `message` with every header value, every space- or comma-separated piece
/// of one (a bearer token) and the body replaced by `[redacted]`: those of at
/// least 8 bytes, longest first (as `redact()` in php/src/Http).
fn redact(message: &str, headers: &[(String, String)], body: &[u8]) -> String {
    let mut pieces: Vec<&[u8]> = vec![body];
    for (_, value) in headers {
        pieces.push(value.as_bytes());
        pieces.extend(value.split([' ', '\t', ',']).map(str::as_bytes));
    }
    pieces.retain(|p| p.len() >= 8);
    pieces.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    pieces.dedup();
    let mut out = message.as_bytes().to_vec();
    for piece in pieces {
        out = replace(&out, piece, b"[redacted]");
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `haystack` with every occurrence of `needle` (not empty) replaced.
fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// Throws `Tessera\Exception\TransportException($message)` and returns the
/// failure that leaves it pending.
fn transport_exception(message: &str) -> Failure {
    if ext_php_rs::exception::throw(class_entry(Class::Transport), message).is_err() {
        return Failure::Core(Error::Internal("could not throw a TransportException"));
    }
    Failure::Pending
}

/// The transport of any PSR-18 HTTP client (Guzzle, Symfony's Psr18Client,
/// …). Each request is built exactly as signed (method, URL, every header with
/// `withHeader()`, a body stream only for a non-empty body) and sent once;
/// every response comes back whatever its status. Any
/// `Psr\Http\Client\ClientExceptionInterface` becomes a `TransportException`
/// naming the client's exception class and quoting its message with the
/// request's header values and body redacted (no reference to it is kept: it
/// may hold the signed request); any other exception propagates. The client
/// must not follow redirects (Guzzle `allow_redirects => false`, Symfony
/// `max_redirects => 0`).
#[php_class]
#[php(name = "Tessera\\Http\\Psr18Transport")]
#[php(flags = ext_php_rs::flags::ClassFlags::Final)]
pub struct Psr18Transport {
    /// The `Psr\Http\Client\ClientInterface`.
    client: Zval,
    /// The `Psr\Http\Message\RequestFactoryInterface`.
    requests: Zval,
    /// The `Psr\Http\Message\StreamFactoryInterface`.
    streams: Zval,
}

impl Psr18Transport {
    /// The PSR-7 request: method, URL, every header as given, the body
    /// stream only when the body is not empty.
    fn build(&self, request: &ZendHashTable, parsed: &Request) -> Res<Zval> {
        let mut message = method(&self.requests, "createRequest", vec![&parsed.method.as_str(), &parsed.url.as_str()])?;
        if let Some(headers) = member(request, "headers").and_then(Zval::array) {
            for (name, value) in entries(headers) {
                let name = key_text(&name, "headers")?;
                message = method(&message, "withHeader", vec![&name.as_str(), &value.shallow_clone()])?;
            }
        }
        if !parsed.body.is_empty() {
            let stream = method(&self.streams, "createStream", vec![&binary_zval(&parsed.body)])?;
            message = method(&message, "withBody", vec![&stream])?;
        }
        Ok(message)
    }

    fn send(&self, request: &ZendHashTable) -> Res<ZBox<ZendHashTable>> {
        let parsed = parse(request)?;
        let message = match self.build(request, &parsed) {
            Err(Failure::Pending) => return Err(refused_by_psr7()),
            other => other?,
        };
        let response = match method(&self.client, "sendRequest", vec![&message]) {
            Err(Failure::Pending) => return Err(no_response(&parsed.headers, &parsed.body)),
            other => other?,
        };
        let status = method(&response, "getStatusCode", vec![])?
            .long()
            .ok_or_else(|| invalid("getStatusCode", "must return an integer"))?;
        let headers = method(&response, "getHeaders", vec![])?;
        let body = method(&response, "getBody", vec![])?;
        let body = text(&method(&body, "__toString", vec![])?, "getBody")?;
        Ok(Assoc::new().int("status", status).with("headers", headers).with("body", binary_zval(&body)).build())
    }
}

/// The pending exception of building the PSR-7 request: an
/// `InvalidArgumentException` (PSR-7's "invalid method, URI, header or
/// body") becomes `InvalidInput` naming `request`; anything else stays
/// pending.
fn refused_by_psr7() -> Failure {
    let ce = ClassEntry::try_find("InvalidArgumentException");
    let refused = {
        let globals = ExecutorGlobals::get();
        globals.exception().is_some_and(|e| ce.is_some_and(|ce| e.instance_of(ce)))
    };
    if refused && ExecutorGlobals::take_exception().is_some() {
        return invalid("request", "the PSR-7 implementation refused its method, URL, a header or the body");
    }
    Failure::Pending
}

/// The pending exception of `sendRequest()`: a `ClientExceptionInterface`
/// is taken over and replaced by a `TransportException`; anything else stays
/// pending.
fn no_response(headers: &[(String, String)], body: &[u8]) -> Failure {
    // Already loaded when the pending exception implements it.
    let ce = ClassEntry::try_find(NO_RESPONSE);
    let is_client_exception = {
        let globals = ExecutorGlobals::get();
        globals.exception().is_some_and(|e| ce.is_some_and(|ce| e.instance_of(ce)))
    };
    if !is_client_exception {
        return Failure::Pending;
    }
    let Some(e) = ExecutorGlobals::take_exception() else {
        return Failure::Pending;
    };
    let class = e.get_class_name().unwrap_or_default();
    let said = e.try_call_method("getMessage", vec![]).ok();
    let said = said.as_ref().and_then(Zval::zend_str).map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned());
    drop(e);
    let what = format!("the HTTP client sent no response ({class}): {}", said.unwrap_or_default());
    transport_exception(&redact(&what, headers, body))
}

#[php_impl]
impl Psr18Transport {
    /// A transport sending through `$client`, building requests with
    /// `$requests` and bodies with `$streams`; throws
    /// `InvalidInputException` when one does not implement its interface.
    pub fn __construct(
        client: ClientArg<'_>,
        requests: RequestFactoryArg<'_>,
        streams: StreamFactoryArg<'_>,
    ) -> Res<Psr18Transport> {
        guard(|| {
            Ok(Psr18Transport {
                client: implementing(client.0, "client", "must implement Psr\\Http\\Client\\ClientInterface", CLIENT)?,
                requests: implementing(
                    requests.0,
                    "requests",
                    "must implement Psr\\Http\\Message\\RequestFactoryInterface",
                    REQUESTS,
                )?,
                streams: implementing(
                    streams.0,
                    "streams",
                    "must implement Psr\\Http\\Message\\StreamFactoryInterface",
                    STREAMS,
                )?,
            })
        })
    }

    /// Sends one request (`method`, `url`, `headers`, `body`) as given and
    /// returns `['status' => int, 'headers' => array, 'body' => string]`.
    pub fn __invoke(&self, request: ArrayArg<'_>) -> Res<ZBox<ZendHashTable>> {
        guard(|| self.send(request.get("request")?))
    }
}

/// Why `WordPressTransport` cannot run.
const OUTSIDE_WORDPRESS: &str = "WordPressTransport runs inside WordPress only: wp_remote_request() is not defined";

/// The transport of WordPress's HTTP API: `wp_remote_request()` with the
/// signed method, headers and body, `'redirection' => 0` and the timeout
/// given; every response comes back whatever its status; a `WP_Error` (no
/// response) becomes a `TransportException` with its message (the request's
/// header values and body redacted). Outside WordPress it throws
/// `InvalidStateException`.
#[php_class]
#[php(name = "Tessera\\Http\\WordPressTransport")]
#[php(flags = ext_php_rs::flags::ClassFlags::Final)]
pub struct WordPressTransport {
    /// Seconds WordPress waits for each request.
    timeout: i64,
}

impl WordPressTransport {
    fn send(&self, request: &ZendHashTable) -> Res<ZBox<ZendHashTable>> {
        let parsed = parse(request)?;
        if ZendCallable::try_from_name("wp_remote_request").is_err() {
            return Err(Failure::Core(Error::InvalidState(OUTSIDE_WORDPRESS)));
        }
        let args = Assoc::new()
            .str("method", &parsed.method)
            .with("headers", headers_to_php(&parsed.headers))
            .with("body", binary_zval(&parsed.body))
            .int("timeout", self.timeout)
            .int("redirection", 0)
            .zval();
        let response = function("wp_remote_request", vec![&str_zval(&parsed.url), &args])?;
        if function("is_wp_error", vec![&response])?.bool() == Some(true) {
            let said = method(&response, "get_error_message", vec![])?;
            let said = said.zend_str().map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned());
            let what = format!("wp_remote_request() got no response: {}", said.unwrap_or_default());
            return Err(transport_exception(&redact(&what, &parsed.headers, &parsed.body)));
        }
        let Some(status) = function("wp_remote_retrieve_response_code", vec![&response])?.long() else {
            return Err(transport_exception("wp_remote_request() returned a response without a status"));
        };
        let headers = function("wp_remote_retrieve_headers", vec![&response])?;
        let headers = if headers.is_object() {
            method(&headers, "getAll", vec![])?
        } else if headers.is_array() {
            headers
        } else {
            Assoc::new().zval()
        };
        let body = function("wp_remote_retrieve_body", vec![&response])?;
        let body = text(&body, "wp_remote_retrieve_body")?;
        Ok(Assoc::new().int("status", status).with("headers", headers).with("body", binary_zval(&body)).build())
    }
}

#[php_impl]
impl WordPressTransport {
    /// A transport giving WordPress `$timeoutSeconds` (1 or more; `null`: 15)
    /// per request.
    #[php(defaults(timeoutSeconds = 15))]
    pub fn __construct(timeoutSeconds: Timeout) -> Res<WordPressTransport> {
        match timeoutSeconds.0 {
            Ok(timeout) if timeout >= 1 => Ok(WordPressTransport { timeout }),
            _ => Err(invalid("timeoutSeconds", "must be a positive integer")),
        }
    }

    /// Sends one request through `wp_remote_request()` and returns
    /// `['status' => int, 'headers' => array, 'body' => string]`.
    pub fn __invoke(&self, request: ArrayArg<'_>) -> Res<ZBox<ZendHashTable>> {
        guard(|| self.send(request.get("request")?))
    }
}

//! The last `TransportException` the host threw, cleaned of secrets, kept as
//! the `getPrevious()` of a `ServerUnavailableException` (issue 17, item 5;
//! the pure-PHP twin is `Host::cleanTransportException()`).
//!
//! The host's exception is not kept: its message may quote the broker token
//! or a signature, its chain may hold the signed request, and its trace
//! records the arguments of the host's frames (the signed request among
//! them). A new `TransportException` is built here, in Rust: its trace starts
//! at the caller's call into Tessera, with no frame of the host's callable.

use std::ffi::c_char;
use std::ptr;

use ext_php_rs::convert::IntoZval;
use ext_php_rs::ffi::zend_read_property;
use ext_php_rs::types::{ZendObject, ZendStr, Zval};
use ext_php_rs::zend::{ClassEntry, ce};
use tessera_core::{Companion, Request};

use crate::errors::{Class, class_entry};

/// What replaces a secret in the message.
pub const REDACTED: &[u8] = b"[redacted]";

/// What the host's `TransportException` said: its class and message (bytes:
/// a host may throw any string).
pub struct HostFailure {
    /// The class name; `None` when it is Tessera's own `TransportException`.
    class: Option<String>,
    /// `getMessage()` (the `message` property as `\Exception` declares it).
    message: Vec<u8>,
}

impl HostFailure {
    /// Reads the pending exception `e` (before the driver takes it over).
    pub fn of(e: &ZendObject) -> HostFailure {
        let own = ptr::eq(e.get_class_entry(), class_entry(Class::Transport));
        let class = if own { None } else { Some(e.get_class_name().unwrap_or_default()) };
        HostFailure { class, message: read_message(e) }
    }

    /// The cleaned `TransportException`: every secret of `companion` and of
    /// `request` replaced by `[redacted]`, the host's class (when not
    /// Tessera's own) named in front of the message.
    pub fn cleaned(&self, companion: &Companion, request: &Request) -> Zval {
        let mut message = Vec::new();
        if let Some(class) = &self.class {
            message.extend_from_slice(class.as_bytes());
            message.extend_from_slice(b": ");
        }
        message.extend_from_slice(&self.message);
        let mut secrets = secrets_of(companion, request);
        // Longest first: a header value contains the token it carries.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in &secrets {
            message = replace(&message, secret.as_bytes(), REDACTED);
        }
        transport_exception(&message)
    }
}

/// `$e->message`, read with `\Exception` as the scope (it is protected).
fn read_message(e: &ZendObject) -> Vec<u8> {
    let name = "message";
    let mut rv = Zval::new();
    // SAFETY: `e` is the live pending exception; the scope is the class that
    // declares the property; `name` outlives the call; `rv` is a fresh zval.
    let found = unsafe {
        zend_read_property(
            ptr::from_ref(ce::exception()).cast_mut(),
            ptr::from_ref(e).cast_mut(),
            name.as_ptr().cast::<c_char>(),
            name.len(),
            true,
            &raw mut rv,
        )
        .as_ref()
    };
    found.and_then(Zval::zend_str).map(|s| s.as_bytes().to_vec()).unwrap_or_default()
}

/// The installation secret and the broker token of `companion` (from its
/// state JSON: the core hands them out nowhere else), and the
/// `Authorization` and `Signature` header values of `request`.
fn secrets_of(companion: &Companion, request: &Request) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Ok(state) = serde_json::from_str::<serde_json::Value>(&companion.to_json()) {
        for pointer in ["/installation/secret", "/broker_token"] {
            if let Some(s) = state.pointer(pointer).and_then(serde_json::Value::as_str) {
                out.push(s.to_owned());
            }
        }
    }
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("signature") {
            out.push(value.clone());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// `haystack` with every occurrence of `needle` replaced by `with`.
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

/// A new `Tessera\Exception\TransportException` with `message`: built here,
/// so its file, line and trace are those of the caller's call into Tessera.
fn transport_exception(message: &[u8]) -> Zval {
    let entry: &ClassEntry = class_entry(Class::Transport);
    let mut obj = ZendObject::new(entry);
    let mut text = Zval::new();
    text.set_zend_string(ZendStr::new(message, false));
    crate::errors::set_private(&mut obj, ce::exception(), "message", text);
    obj.into_zval(false).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::replace;

    #[test]
    fn replaces_every_occurrence() {
        assert_eq!(replace(b"a tok b tok", b"tok", b"[r]"), b"a [r] b [r]");
        assert_eq!(replace(b"to", b"tok", b"[r]"), b"to");
        assert_eq!(replace(b"\xff tok", b"tok", b"x"), b"\xff x");
    }
}

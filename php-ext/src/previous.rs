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

    /// The cleaned `TransportException`: the message with every secret of
    /// `companion` and credential of `request` redacted by the core
    /// ([`Companion::redact`]), the host's class (when not Tessera's own)
    /// named in front of it.
    pub fn cleaned(&self, companion: &Companion, request: &Request) -> Zval {
        let mut message = Vec::new();
        if let Some(class) = &self.class {
            message.extend_from_slice(class.as_bytes());
            message.extend_from_slice(b": ");
        }
        message.extend_from_slice(&self.message);
        transport_exception(&companion.redact(&message, Some(request)))
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

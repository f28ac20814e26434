//! `Tessera\Exception\…`: the exception classes, and the ONE place where a core
//! [`Error`] becomes a PHP exception ([`class_for`] maps each [`ErrorKind`] to
//! exactly one class).
//!
//! The classes are plain internal classes built with [`ClassBuilder`] (no Rust
//! object behind them), so they keep `\Exception`'s own object constructor:
//! `getFile()`, `getLine()` and `getTrace()` work as for any PHP exception, and
//! PHP subclasses of them behave normally. The error details live in private
//! properties of `TesseraException`, written once when the exception is built
//! and read back by the getters below.

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering};

use ext_php_rs::args::ArgInfoTables;
use ext_php_rs::builders::{ClassBuilder, ClassProperty, FunctionBuilder};
use ext_php_rs::convert::IntoZval;
use ext_php_rs::exception::PhpException;
use ext_php_rs::ffi::{zend_class_entry, zend_object, zend_read_property, zval};
use ext_php_rs::flags::{ClassFlags, DataType, MethodFlags, PropertyFlags};
use ext_php_rs::types::{ZendObject, ZendStr, Zval};
use ext_php_rs::zend::{ClassEntry, ExecuteData, ExecutorGlobals, ce, run_handler};
use tessera_core::{Error, ErrorKind, Refusal};

use crate::explain::{P_DESCRIPTION, P_DETAILS, client_error_methods, decode_details};

unsafe extern "C" {
    // Exported by the PHP binary; not in ext-php-rs' generated bindings. Writes
    // a property with `scope` as the calling scope (so private ones too).
    fn zend_update_property_ex(
        scope: *mut zend_class_entry,
        object: *mut zend_object,
        name: *mut ext_php_rs::ffi::zend_string,
        value: *mut zval,
    );
    // SPL's `RuntimeException` (SPL is always compiled into PHP 8).
    static spl_ce_RuntimeException: *mut zend_class_entry;
}

/// A hand-written method handler.
pub(crate) type Handler = extern "C" fn(&mut ExecuteData, &mut Zval);

/// The exception classes, in registration order (a parent before its children).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Class {
    /// `TesseraException`: the base, also used for `internal` errors.
    Base,
    /// `InvalidInputException`.
    InvalidInput,
    /// `InvalidStateException`.
    InvalidState,
    /// `StateUndecryptableException`.
    StateUndecryptable,
    /// `ReconnectRequiredException`.
    ReconnectRequired,
    /// `RegistrationInvalidException`.
    RegistrationInvalid,
    /// `RateLimitedException`.
    RateLimited,
    /// `ClientErrorException`.
    ClientError,
    /// `ServerUnavailableException`.
    ServerUnavailable,
    /// `CallbackException`.
    Callback,
    /// `SiteMismatchException`.
    SiteMismatch,
    /// `VerificationException`.
    Verification,
    /// `TransportException`: thrown by the host's transport, never by Tessera.
    Transport,
}

const COUNT: usize = 13;

/// PHP names, indexed by `Class as usize`.
const NAMES: [&str; COUNT] = [
    "Tessera\\Exception\\TesseraException",
    "Tessera\\Exception\\InvalidInputException",
    "Tessera\\Exception\\InvalidStateException",
    "Tessera\\Exception\\StateUndecryptableException",
    "Tessera\\Exception\\ReconnectRequiredException",
    "Tessera\\Exception\\RegistrationInvalidException",
    "Tessera\\Exception\\RateLimitedException",
    "Tessera\\Exception\\ClientErrorException",
    "Tessera\\Exception\\ServerUnavailableException",
    "Tessera\\Exception\\CallbackException",
    "Tessera\\Exception\\SiteMismatchException",
    "Tessera\\Exception\\VerificationException",
    "Tessera\\Exception\\TransportException",
];

/// The one mapping from an error family to its PHP class.
pub fn class_for(kind: ErrorKind) -> Class {
    match kind {
        ErrorKind::InvalidInput => Class::InvalidInput,
        ErrorKind::InvalidState => Class::InvalidState,
        ErrorKind::StateUndecryptable => Class::StateUndecryptable,
        ErrorKind::ReconnectRequired => Class::ReconnectRequired,
        ErrorKind::RegistrationInvalid => Class::RegistrationInvalid,
        ErrorKind::RateLimited => Class::RateLimited,
        ErrorKind::ClientError => Class::ClientError,
        ErrorKind::ServerUnavailable => Class::ServerUnavailable,
        ErrorKind::Callback => Class::Callback,
        ErrorKind::SiteMismatch => Class::SiteMismatch,
        ErrorKind::Verification => Class::Verification,
        // `Internal`, and any family a newer core adds: the base class.
        _ => Class::Base,
    }
}

static CES: [AtomicPtr<ClassEntry>; COUNT] = [const { AtomicPtr::new(ptr::null_mut()) }; COUNT];

/// Argument-info tables of the methods; the engine points into them for the
/// life of the process.
struct Parked(#[allow(dead_code)] ArgInfoTables);
// SAFETY: written once during MINIT, never read back.
unsafe impl Send for Parked {}
static PARKED: Mutex<Vec<Parked>> = Mutex::new(Vec::new());

/// The registered class entry of `class`.
///
/// # Panics
/// Before MINIT registered the classes (never, once the module is loaded).
pub fn class_entry(class: Class) -> &'static ClassEntry {
    let p = CES[class as usize].load(Ordering::Acquire);
    // SAFETY: set in MINIT to the engine's class entry, which lives as long as
    // the process (internal classes are never freed before MSHUTDOWN).
    unsafe { p.as_ref() }.expect("tessera exception classes are registered at startup")
}

fn base_ce() -> &'static ClassEntry {
    class_entry(Class::Base)
}
fn transport_parent() -> &'static ClassEntry {
    // SAFETY: SPL registers the class at its MINIT, before any request.
    unsafe { spl_ce_RuntimeException.as_ref() }.unwrap_or_else(ce::exception)
}

// ---- private properties of TesseraException ---------------------------------

const P_CODE: &str = "errorCode";
const P_STATUS: &str = "status";
const P_REASON: &str = "reason";
const P_REQUEST_ID: &str = "requestId";
const P_RETRY_AFTER_MS: &str = "retryAfterMs";
const P_REGISTERED: &str = "registeredUrl";
const P_CURRENT: &str = "currentUrl";
const P_WIRE_STATUS: &str = "wireStatus";
const P_WIRE_CODE: &str = "wireCode";
const P_WIRE_HEADERS: &str = "wireHeaders";
const P_WIRE_BODY: &str = "wireBody";

/// A method handler: reads one private property of `$this` (as seen from
/// `TesseraException`) into the return value.
pub(crate) fn read_property(ex: &mut ExecuteData, retval: &mut Zval, name: &str) {
    run_handler(AssertUnwindSafe(|| {
        let (parser, this) = ex.parser_object();
        let Some(this) = this else { return };
        let this: *mut ZendObject = this;
        if parser.parse().is_err() {
            return;
        }
        let mut rv = Zval::new();
        // SAFETY: `this` is the live `$this` of the call; the scope is the
        // class that declares the private property; `name` outlives the call.
        let found = unsafe {
            zend_read_property(
                ptr::from_ref(base_ce()).cast_mut(),
                this,
                name.as_ptr().cast::<c_char>(),
                name.len(),
                true,
                &raw mut rv,
            )
            .as_ref()
        };
        if let Some(value) = found {
            *retval = value.shallow_clone();
        } else {
            retval.set_null();
        }
    }));
}

macro_rules! getter {
    ($fn_name:ident, $prop:expr) => {
        extern "C" fn $fn_name(ex: &mut ExecuteData, retval: &mut Zval) {
            read_property(ex, retval, $prop);
        }
    };
    // A getter declared non-nullable: `$fallback` when the property was never
    // set (an exception constructed with `new` in PHP).
    ($fn_name:ident, $prop:expr, $fallback:expr) => {
        extern "C" fn $fn_name(ex: &mut ExecuteData, retval: &mut Zval) {
            read_property(ex, retval, $prop);
            if retval.is_null() && !ExecutorGlobals::has_exception() {
                $fallback(retval);
            }
        }
    };
}
getter!(get_error_code, P_CODE, |z: &mut Zval| set_str(z, "internal"));
getter!(get_status, P_STATUS);
getter!(get_reason, P_REASON);
getter!(get_request_id, P_REQUEST_ID);
getter!(get_retry_after_ms, P_RETRY_AFTER_MS, |z: &mut Zval| z.set_long(0));
getter!(get_registered_url, P_REGISTERED, |z: &mut Zval| set_str(z, ""));
getter!(get_current_url, P_CURRENT, |z: &mut Zval| set_str(z, ""));
getter!(get_wire_status, P_WIRE_STATUS, |z: &mut Zval| z.set_long(500));
getter!(get_wire_code, P_WIRE_CODE, |z: &mut Zval| set_str(z, "internal"));
// Not from a refusal (hmacSignGeneric's malformed input, `new` in PHP): no answer.
getter!(get_wire_headers, P_WIRE_HEADERS, |z: &mut Zval| z.set_hashtable(ext_php_rs::types::ZendHashTable::new()));
getter!(get_wire_body, P_WIRE_BODY, |z: &mut Zval| set_str(z, ""));

fn set_str(z: &mut Zval, s: &str) {
    z.set_zend_string(ZendStr::new(s, false));
}

/// `RateLimitedException::getRetryAfter()`: whole seconds, rounded up.
extern "C" fn get_retry_after(ex: &mut ExecuteData, retval: &mut Zval) {
    get_retry_after_ms(ex, retval);
    if let Some(ms) = retval.long() {
        retval.set_long(ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0));
    }
}

pub(crate) fn method(
    name: &str,
    handler: Handler,
    ty: DataType,
    nullable: bool,
    doc: &'static [&'static str],
) -> (FunctionBuilder<'static>, MethodFlags) {
    (
        FunctionBuilder::new(name, handler).returns(ty, false, nullable).docs(doc),
        MethodFlags::Public | MethodFlags::Final,
    )
}

fn private_prop(name: &str) -> ClassProperty {
    ClassProperty {
        name: name.into(),
        flags: PropertyFlags::Private,
        default: None,
        docs: &[],
        ty: None,
        nullable: true,
        readonly: false,
        default_stub: None,
    }
}

/// Registration callback of every exception class: records the class entry
/// (by name) and parks the argument-info tables.
fn registered(ce: &'static mut ClassEntry, tables: ArgInfoTables) {
    let index = ce.name().and_then(|name| NAMES.iter().position(|n| *n == name));
    if let Some(i) = index {
        CES[i].store(ce, Ordering::Release);
    }
    if let Ok(mut parked) = PARKED.lock() {
        parked.push(Parked(tables));
    }
}

const ALL: [Class; COUNT] = [
    Class::Base,
    Class::InvalidInput,
    Class::InvalidState,
    Class::StateUndecryptable,
    Class::ReconnectRequired,
    Class::RegistrationInvalid,
    Class::RateLimited,
    Class::ClientError,
    Class::ServerUnavailable,
    Class::Callback,
    Class::SiteMismatch,
    Class::Verification,
    Class::Transport,
];

/// Registers every exception class. Called from the module startup (MINIT).
///
/// # Errors
/// When the engine refuses a class (name taken, …).
pub fn register() -> ext_php_rs::error::Result<()> {
    for class in ALL {
        let mut b = ClassBuilder::new(NAMES[class as usize]);
        match class {
            Class::Base => {
                b = b.extends((ce::exception, "\\Exception"));
                for p in [
                    P_CODE,
                    P_STATUS,
                    P_REASON,
                    P_REQUEST_ID,
                    P_RETRY_AFTER_MS,
                    P_REGISTERED,
                    P_CURRENT,
                    P_WIRE_STATUS,
                    P_WIRE_CODE,
                    P_WIRE_HEADERS,
                    P_WIRE_BODY,
                    P_DESCRIPTION,
                    P_DETAILS,
                ] {
                    b = b.property(private_prop(p));
                }
                for (f, flags) in [
                    method(
                        "getErrorCode",
                        get_error_code,
                        DataType::String,
                        false,
                        &[" The core's stable snake_case error code (e.g. `reconnect_required`)."],
                    ),
                    method(
                        "getStatus",
                        get_status,
                        DataType::Long,
                        true,
                        &[" The HTTP status behind the error, if any."],
                    ),
                    method(
                        "getReason",
                        get_reason,
                        DataType::String,
                        true,
                        &[" The code behind the error (reconnect reason, 4xx code, Stora's code), if any."],
                    ),
                    method(
                        "getRequestId",
                        get_request_id,
                        DataType::String,
                        true,
                        &[" Stora's request id behind the error, if Stora answered: quote it to Stora's support."],
                    ),
                ] {
                    b = b.method(f, flags);
                }
            }
            Class::Transport => {
                b = b.extends((transport_parent, "\\RuntimeException"));
            }
            _ => {
                b = b.extends((base_ce, "\\Tessera\\Exception\\TesseraException"));
            }
        }
        let extra: Vec<(FunctionBuilder<'static>, MethodFlags)> = match class {
            Class::RateLimited => vec![
                method(
                    "getRetryAfter",
                    get_retry_after,
                    DataType::Long,
                    false,
                    &[" How long the broker asked to wait, in whole seconds (rounded up)."],
                ),
                method(
                    "getRetryAfterMs",
                    get_retry_after_ms,
                    DataType::Long,
                    false,
                    &[" How long the broker asked to wait, in milliseconds."],
                ),
            ],
            Class::ClientError => client_error_methods(),
            Class::SiteMismatch => vec![
                method(
                    "getRegisteredUrl",
                    get_registered_url,
                    DataType::String,
                    false,
                    &[" The site URL at registration."],
                ),
                method(
                    "getCurrentUrl",
                    get_current_url,
                    DataType::String,
                    false,
                    &[" The site URL the host reports now."],
                ),
            ],
            Class::Verification => vec![
                method(
                    "getHttpStatus",
                    get_wire_status,
                    DataType::Long,
                    false,
                    &[" The HTTP status a broker answers this failure with (401, 403, 503, …)."],
                ),
                method(
                    "getWireCode",
                    get_wire_code,
                    DataType::String,
                    false,
                    &[" The `error` code a broker answers this failure with."],
                ),
                method(
                    "getWireHeaders",
                    get_wire_headers,
                    DataType::Array,
                    false,
                    &[
                        " The headers a broker answers this failure with (lowercase name => value, in order:",
                        " content-type, cache-control, and date on signature_expired); [] when the exception",
                        " does not come from a verification step.",
                    ],
                ),
                method(
                    "getWireBody",
                    get_wire_body,
                    DataType::String,
                    false,
                    &[
                        " The JSON body a broker answers this failure with (`{\"error\":…,\"error_description\":…}`);",
                        " '' when the exception does not come from a verification step.",
                    ],
                ),
            ],
            _ => vec![],
        };
        for (f, flags) in extra {
            b = b.method(f, flags);
        }
        if class != Class::Base && class != Class::Transport {
            b = b.flags(ClassFlags::Final);
        }
        b.registration(registered).register()?;
    }
    Ok(())
}

// ---- building exceptions ------------------------------------------------------

/// Writes `value` into the private property `name` of a `TesseraException`.
pub(crate) fn set_private(obj: &mut ZendObject, scope: &ClassEntry, name: &str, value: impl IntoZval) {
    let Ok(mut value) = value.into_zval(false) else {
        return;
    };
    let mut name = ZendStr::new(name, false);
    // SAFETY: `obj` is a live object of a subclass of `scope`; the engine
    // copies `value` (adding a reference) and does not keep `name`.
    unsafe {
        zend_update_property_ex(ptr::from_ref(scope).cast_mut(), obj, &raw mut *name, &raw mut value);
    }
}

/// Builds the `Tessera\Exception\…` object for a refused verification: the
/// error's exception, plus the refusal's wire headers and body when it is a
/// `VerificationException`.
fn refusal_object(refusal: &Refusal) -> Zval {
    let mut z = exception_object(refusal.error());
    if class_for(refusal.error().kind()) == Class::Verification
        && let Some(obj) = z.object_mut()
    {
        let base = base_ce();
        set_private(obj, base, P_WIRE_STATUS, i64::from(refusal.status()));
        set_private(obj, base, P_WIRE_CODE, refusal.code());
        set_private(obj, base, P_WIRE_HEADERS, crate::convert::headers_to_php(&refusal.headers()));
        set_private(obj, base, P_WIRE_BODY, String::from_utf8_lossy(&refusal.body()).as_ref());
    }
    z
}

/// Builds the `Tessera\Exception\…` object for a core error (not thrown).
pub fn exception_object(error: &Error) -> Zval {
    let class = class_for(error.kind());
    let entry = class_entry(class);
    let mut obj = ZendObject::new(entry);
    set_private(&mut obj, ce::exception(), "message", error.to_string().as_str());
    let base = base_ce();
    set_private(&mut obj, base, P_CODE, error.code());
    if let Some(status) = error.status() {
        set_private(&mut obj, base, P_STATUS, i64::from(status));
    }
    if let Some(reason) = error.reason() {
        set_private(&mut obj, base, P_REASON, reason);
    }
    if let Some(request_id) = error.request_id() {
        set_private(&mut obj, base, P_REQUEST_ID, request_id);
    }
    if let Some(description) = error.description() {
        set_private(&mut obj, base, P_DESCRIPTION, description);
    }
    if let Some(details) = decode_details(error.details()) {
        set_private(&mut obj, base, P_DETAILS, details);
    }
    if let Some(ms) = error.retry_after_ms() {
        set_private(&mut obj, base, P_RETRY_AFTER_MS, i64::try_from(ms).unwrap_or(i64::MAX));
    }
    if let Error::SiteMismatch { registered, current } = error {
        set_private(&mut obj, base, P_REGISTERED, registered.as_str());
        set_private(&mut obj, base, P_CURRENT, current.as_str());
    }
    if class == Class::Verification {
        let (status, code) = error.wire_code();
        set_private(&mut obj, base, P_WIRE_STATUS, i64::from(status));
        set_private(&mut obj, base, P_WIRE_CODE, code);
    }
    obj.into_zval(false).unwrap_or_default()
}

/// Why a binding method did not return normally.
#[derive(Debug)]
pub enum Failure {
    /// A core error: thrown as its `Tessera\Exception\…` class.
    Core(Error),
    /// A `server_unavailable` whose last send threw a `TransportException`:
    /// thrown as its class with that exception, cleaned
    /// ([`crate::previous`]), as `getPrevious()`.
    WithPrevious(Error, Zval),
    /// A refused verification: thrown as its error's class, a
    /// `VerificationException` carrying the refusal's wire answer.
    Refused(Refusal),
    /// A PHP exception (from a host callable) is already propagating; it is
    /// left as it is.
    Pending,
    /// A host callable hit a fatal error (a bailout); [`guard`] resumes the
    /// bailout once the call's Rust values are dropped.
    Bailout,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure::Refused(r)
    }
}

impl From<Failure> for PhpException {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Core(e) => {
                let object = exception_object(&e);
                PhpException::new(e.to_string(), 0, class_entry(class_for(e.kind()))).with_object(object)
            }
            Failure::WithPrevious(e, previous) => {
                let mut object = exception_object(&e);
                if let Some(obj) = object.object_mut() {
                    set_private(obj, ce::exception(), "previous", previous);
                }
                PhpException::new(e.to_string(), 0, class_entry(class_for(e.kind()))).with_object(object)
            }
            Failure::Refused(r) => {
                let object = refusal_object(&r);
                PhpException::new(r.error().to_string(), 0, class_entry(class_for(r.error().kind())))
                    .with_object(object)
            }
            // `throw()` keeps an already pending exception.
            Failure::Pending | Failure::Bailout => PhpException::new("a host callback failed".into(), 0, base_ce()),
        }
    }
}

/// Result of a binding method.
pub type Res<T> = Result<T, Failure>;

/// Shorthand for an [`Error::InvalidInput`] raised while converting arguments.
pub fn invalid(field: &'static str, reason: &'static str) -> Failure {
    Failure::Core(Error::InvalidInput { field, reason })
}

/// The error for a method called from inside one of its own callbacks.
pub fn busy() -> Failure {
    Failure::Core(Error::InvalidState("the object is busy: it was called again from inside one of its callbacks"))
}

/// Runs a method body; a Rust panic becomes a `TesseraException` with code
/// `internal` instead of crossing into PHP.
///
/// After a fatal error in a host callable ([`Failure::Bailout`]) the body has
/// returned, so its Rust values are dropped; the bailout then goes on to the
/// engine.
pub fn guard<T>(body: impl FnOnce() -> Res<T>) -> Res<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Err(Failure::Bailout)) => {
            // SAFETY: nothing of this call that needs dropping is left in the
            // frames the jump crosses (the generated wrapper's argument list
            // only).
            unsafe { ext_php_rs::zend::bailout() }
        }
        Ok(r) => r,
        Err(_) => Err(Failure::Core(Error::Internal("a Rust panic was caught at the PHP boundary"))),
    }
}

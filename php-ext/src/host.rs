//! The host side of the step machine: a synchronous loop that performs each
//! [`Action`] with PHP callables (transport, sleep, persist). All policy
//! (retries, backoff, skew, what to persist) is the core's; this only does
//! what each action says.

use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::AssertUnwindSafe;
use std::ptr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ext_php_rs::convert::IntoZvalDyn;
use ext_php_rs::ffi::zend_read_property;
use ext_php_rs::types::{ZendCallable, ZendObject, Zval};
use ext_php_rs::zend::{CatchError, ExecutorGlobals, ce, try_catch};
use tessera_core::Companion;
use tessera_core::OsEntropy;
use tessera_core::{Action, Call, Completion, Event};

use crate::convert::{expect_array, request_to_php, response_from_php};
use crate::errors::{Class, Failure, Res, busy, class_entry, invalid};

/// Local time, unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Calls a PHP callable inside a bailout frame: a fatal error in the callable
/// (memory limit, `E_USER_ERROR`, time limit) becomes [`Failure::Bailout`], so
/// the Rust values of this call are dropped before the bailout goes on (see
/// [`crate::errors::guard`]) instead of being jumped over.
fn try_call(callable: &ZendCallable<'_>, args: Vec<&dyn IntoZvalDyn>) -> Res<Result<Zval, ()>> {
    match try_catch(AssertUnwindSafe(|| callable.try_call(args))) {
        Ok(Ok(z)) => Ok(Ok(z)),
        Ok(Err(_)) => Ok(Err(())),
        Err(CatchError::Bailout) => Err(Failure::Bailout),
        Err(_) => Err(Failure::Core(tessera_core::Error::Internal("a host callback panicked"))),
    }
}

/// Calls a PHP callable. A PHP exception it throws stays pending and becomes
/// [`Failure::Pending`].
pub fn call_php(callable: &ZendCallable<'_>, args: Vec<&dyn IntoZvalDyn>, what: &'static str) -> Res<Zval> {
    match try_call(callable, args)? {
        Ok(z) => Ok(z),
        Err(()) if ExecutorGlobals::has_exception() => Err(Failure::Pending),
        Err(()) => Err(invalid(what, "could not be called")),
    }
}

/// If the pending PHP exception is a `Tessera\Exception\TransportException`,
/// takes it over and returns its message.
fn take_transport_exception() -> Option<String> {
    let is_transport = {
        let globals = ExecutorGlobals::get();
        globals.exception().is_some_and(|e| e.instance_of(class_entry(Class::Transport)))
    };
    if !is_transport {
        return None;
    }
    let mut exception = ExecutorGlobals::take_exception()?;
    Some(exception_message(&mut exception))
}

fn exception_message(obj: &mut ZendObject) -> String {
    let name = "message";
    let mut rv = Zval::new();
    // SAFETY: `obj` is a live exception object; the scope is `Exception`, which
    // declares the protected `message` property.
    let value = unsafe {
        zend_read_property(
            ptr::from_ref(ce::exception()).cast_mut(),
            obj,
            name.as_ptr().cast::<c_char>(),
            name.len(),
            true,
            &raw mut rv,
        )
        .as_ref()
    };
    value.and_then(|z| z.zend_str()).map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned()).unwrap_or_default()
}

/// The callables a host passes to `call()`, `disconnect()`, `uninstall()`.
pub struct Host<'a> {
    /// `function (array $request): array $response`; throws
    /// `TransportException` when the request could not be sent.
    pub transport: ZendCallable<'a>,
    /// `function (int $ms): void`; `usleep` when absent.
    pub sleep: Option<ZendCallable<'a>>,
    /// `function (string $stateJson): void`; nothing when absent.
    pub persist: Option<ZendCallable<'a>>,
}

impl Host<'_> {
    fn send(&self, request: &tessera_core::Request) -> Res<Event> {
        let arr = request_to_php(request);
        // Inside a bailout frame like every other callable: a fatal error in
        // the transport must not jump over this call's Rust values.
        match try_call(&self.transport, vec![&arr])? {
            Ok(z) => Ok(Event::Response(response_from_php(expect_array(&z, "transport")?)?)),
            Err(()) if ExecutorGlobals::has_exception() => match take_transport_exception() {
                Some(message) => Ok(Event::TransportError(message)),
                None => Err(Failure::Pending),
            },
            Err(()) => Err(invalid("transport", "could not be called")),
        }
    }

    fn sleep(&self, ms: u64) -> Res<()> {
        match &self.sleep {
            Some(f) => {
                let ms = i64::try_from(ms).unwrap_or(i64::MAX);
                call_php(f, vec![&ms], "sleep").map(drop)
            }
            None => {
                std::thread::sleep(Duration::from_millis(ms));
                Ok(())
            }
        }
    }

    fn persist(&self, json: &str) -> Res<()> {
        match &self.persist {
            Some(f) => call_php(f, vec![&json], "persist").map(drop),
            None => Ok(()),
        }
    }
}

/// Drives `call` to completion. The companion is borrowed only inside each
/// `step`, never while a PHP callable runs, so callables may use the same
/// `Companion` object (e.g. `toJson()` in `persist`).
pub fn drive(cell: &RefCell<Companion>, mut call: Call, host: &Host<'_>) -> Res<Completion> {
    let mut event = Event::Start;
    loop {
        let action = {
            let mut companion = cell.try_borrow_mut().map_err(|_| busy())?;
            companion.step(&mut call, event, unix_now(), &mut OsEntropy)
        };
        event = match action {
            Action::Send(request) => host.send(&request)?,
            Action::Sleep(ms) => {
                host.sleep(ms)?;
                Event::Slept
            }
            Action::Persist(json) => {
                host.persist(&json)?;
                Event::Persisted
            }
            Action::Done(result) => return result.map_err(Failure::from),
        };
    }
}

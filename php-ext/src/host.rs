//! The host side of the step machine: `drive()`, a literal transcription of
//! docs/HOST-CONTRACT.md §2–4 with PHP callables (transport, sleep, persist,
//! serveProof). All policy (retries, backoff, skew, redirects, what to
//! persist, when to register again) is the core's; this only does what each
//! action says and feeds back what happened.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ext_php_rs::convert::IntoZvalDyn;
use ext_php_rs::types::{ZendCallable, Zval};
use ext_php_rs::zend::{CatchError, ExecutorGlobals, try_catch};
use tessera_core::{Action, Call, Companion, Completion, Entropy, Event, OsEntropy, SeededEntropy, TransportError};
use tessera_core::{OwnershipProof, Request};

use crate::convert::{expect_array, proof_to_php, request_to_php, response_from_php};
use crate::errors::{Class, Failure, Res, busy, class_entry, invalid};
use crate::previous::HostFailure;
use crate::refresh_lock::{Held, Locks, release_on_failure};

/// Local time, unix seconds (the system clock).
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Calls a PHP callable inside a bailout frame: a fatal error in the callable
/// (memory limit, `E_USER_ERROR`, time limit) becomes [`Failure::Bailout`], so
/// the Rust values of this call are dropped before the bailout goes on (see
/// [`crate::errors::guard`]) instead of being jumped over.
pub fn try_call(callable: &ZendCallable<'_>, args: Vec<&dyn IntoZvalDyn>) -> Res<Result<Zval, ()>> {
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

/// When the pending PHP exception is a `Tessera\Exception\TransportException`:
/// what it said, and it is taken over (the driver feeds it as a transport
/// error; it is dropped, only its cleaned copy is kept).
fn take_transport_exception() -> Option<HostFailure> {
    let failure = {
        let globals = ExecutorGlobals::get();
        globals.exception().filter(|e| e.instance_of(class_entry(Class::Transport))).map(HostFailure::of)
    }?;
    ExecutorGlobals::take_exception().map(|_| failure)
}

/// Where one companion's randomness and `now` come from: the system, unless a
/// test build's `Tessera\Testing\useSeededEntropy()` / `useClock()` set them
/// (only test builds can: the setters exist with feature `test-hooks` only).
#[derive(Default)]
pub struct TestHooks {
    /// `SeededEntropy` set by `useSeededEntropy()`: one stream across calls.
    seeded: Option<SeededEntropy>,
    /// The `useClock()` callable, kept alive (and released) with the object.
    clock: Option<Zval>,
}

impl TestHooks {
    /// Draw randomness from `SeededEntropy::new(seed)` from now on (`None`:
    /// the OS CSPRNG).
    #[cfg(feature = "test-hooks")]
    pub fn set_seed(&mut self, seed: Option<[u8; 32]>) {
        self.seeded = seed.map(SeededEntropy::new);
    }

    /// Read `now` from this callable from now on (`None`: the system clock).
    #[cfg(feature = "test-hooks")]
    pub fn set_clock(&mut self, clock: Option<Zval>) {
        self.clock = clock;
    }

    /// Runs `f` with the seeded stream when one is set, else the OS CSPRNG.
    pub fn with_entropy<T>(&mut self, f: impl FnOnce(&mut dyn Entropy) -> T) -> T {
        match &mut self.seeded {
            Some(seeded) => f(seeded),
            None => f(&mut OsEntropy),
        }
    }
}

/// Runs `f` with the companion's entropy (see [`TestHooks::with_entropy`]).
pub fn with_entropy<T>(hooks: &RefCell<TestHooks>, f: impl FnOnce(&mut dyn Entropy) -> T) -> Res<T> {
    Ok(hooks.try_borrow_mut().map_err(|_| busy())?.with_entropy(f))
}

/// The host clock, unix seconds: the `useClock()` callable when one is set,
/// else the system clock. The hooks are not borrowed while the callable runs.
pub fn now(hooks: &RefCell<TestHooks>) -> Res<i64> {
    let clock = hooks.try_borrow().map_err(|_| busy())?.clock.as_ref().map(Zval::shallow_clone);
    let Some(clock) = clock else {
        return Ok(unix_now());
    };
    let clock = ZendCallable::new_owned(clock).map_err(|_| invalid("clock", "must be callable"))?;
    call_php(&clock, vec![], "clock")?.long().ok_or_else(|| invalid("clock", "must return an integer (unix seconds)"))
}

/// The callables a host passes to a driver method.
pub struct Host<'a> {
    /// `function (array $request): array $response`; throws
    /// `TransportException` when no response could be read.
    pub transport: ZendCallable<'a>,
    /// `function (int $ms): void`; the thread sleeps when absent.
    pub sleep: Option<ZendCallable<'a>>,
    /// `function (string $stateJson): void`; nothing is stored when absent.
    pub persist: Option<ZendCallable<'a>>,
    /// `function (array $proof): bool`; `false` (or absent) defers the proof.
    pub serve_proof: Option<ZendCallable<'a>>,
    /// `setRefreshLock()`'s callables (authorization-proxy mode); without
    /// them a `Lock` is answered `LockUnavailable`.
    pub locks: Option<Locks>,
}

impl Host<'_> {
    /// `Send(request)`: sent once, exactly as given; every response is fed
    /// back as it is (a 3xx too: the transport never follows redirects); a
    /// `TransportException` is `TransportError(network)`; any other exception
    /// propagates and abandons the operation.
    /// `failed` receives what the host's `TransportException` said.
    fn send(&self, request: &Request, failed: &mut Option<HostFailure>) -> Res<Event> {
        let arr = request_to_php(request);
        // Inside a bailout frame like every other callable: a fatal error in
        // the transport must not jump over this call's Rust values.
        match try_call(&self.transport, vec![&arr])? {
            Ok(z) => Ok(Event::Response(response_from_php(expect_array(&z, "transport")?)?)),
            Err(()) => match take_transport_exception() {
                Some(failure) => {
                    *failed = Some(failure);
                    Ok(Event::TransportError(TransportError::Network))
                }
                None if ExecutorGlobals::has_exception() => Err(Failure::Pending),
                None => Err(invalid("transport", "could not be called")),
            },
        }
    }

    /// `Sleep(ms)`: sleep exactly that long.
    fn sleep(&self, ms: u64) -> Res<Event> {
        match &self.sleep {
            Some(f) => {
                let ms = i64::try_from(ms).unwrap_or(i64::MAX);
                call_php(f, vec![&ms], "sleep")?;
            }
            None => std::thread::sleep(Duration::from_millis(ms)),
        }
        Ok(Event::Slept)
    }

    /// `Persist(state)`: store it before feeding `Persisted`.
    fn persist(&self, state: &str) -> Res<Event> {
        if let Some(f) = &self.persist {
            call_php(f, vec![&state], "persist")?;
        }
        Ok(Event::Persisted)
    }

    /// `ServeProof(proof)`: `ProofServed`, unless the callable returns `false`
    /// or there is none (`ProofDeferred`).
    fn serve_proof(&self, proof: &OwnershipProof) -> Res<Event> {
        let Some(f) = &self.serve_proof else {
            return Ok(Event::ProofDeferred);
        };
        let arr = proof_to_php(proof).build();
        let served = call_php(f, vec![&arr], "serveProof")?;
        Ok(if served.dereference().is_false() { Event::ProofDeferred } else { Event::ProofServed })
    }
}

/// Drives `call` to completion (docs/HOST-CONTRACT.md §2). The companion is
/// borrowed only inside each `step`, never while a PHP callable runs, so
/// callables may use the same `Companion` object (e.g. `exportState()` in
/// `persist`). A `server_unavailable` whose last send threw a
/// `TransportException` carries that exception, cleaned, as its previous.
/// A refresh lock still held when the operation is abandoned (an exception,
/// a failed callable) is released before the failure goes on.
pub fn drive(cell: &RefCell<Companion>, hooks: &RefCell<TestHooks>, call: Call, host: &Host<'_>) -> Res<Completion> {
    let mut held = Held::default();
    let result = drive_held(cell, hooks, call, host, &mut held);
    release_on_failure(host.locks.as_ref(), &mut held, result)
}

/// [`drive`], with the refresh lock it holds (if any) in `held`.
fn drive_held(
    cell: &RefCell<Companion>,
    hooks: &RefCell<TestHooks>,
    mut call: Call,
    host: &Host<'_>,
    held: &mut Held,
) -> Res<Completion> {
    let mut event = Event::Start;
    let mut last_failure: Option<Zval> = None;
    loop {
        // The host clock, read once per event, just before feeding it.
        let now = now(hooks)?;
        let action = {
            let mut companion = cell.try_borrow_mut().map_err(|_| busy())?;
            with_entropy(hooks, |entropy| companion.step(&mut call, event, now, entropy))?
        };
        event = match action {
            Action::Send(request) => {
                let mut failed = None;
                let event = host.send(&request, &mut failed)?;
                last_failure = match failed {
                    Some(f) => Some(f.cleaned(&*cell.try_borrow().map_err(|_| busy())?, &request)),
                    None => None,
                };
                event
            }
            Action::Sleep(ms) => host.sleep(ms)?,
            Action::Persist(state) => host.persist(&state)?,
            Action::ServeProof(proof) => host.serve_proof(&proof)?,
            Action::Lock(name) => match &host.locks {
                Some(locks) => locks.lock(&name, held)?,
                None => Event::LockUnavailable,
            },
            Action::Unlock(name) => match &host.locks {
                Some(locks) => locks.unlock(&name, held)?,
                None => Event::Unlocked,
            },
            Action::Done(result) => {
                return result.map_err(|e| match last_failure.take() {
                    Some(previous) if e.code() == "server_unavailable" => Failure::WithPrevious(e, previous),
                    _ => Failure::from(e),
                });
            }
        };
    }
}

//! The host's refresh lock in authorization-proxy mode (docs/PROTOCOL.md §13,
//! docs/HOST-CONTRACT.md §3 `Lock`/`Unlock`): the two callables
//! `setRefreshLock()` keeps, what the driver does with them, and the release
//! of a lock still held when an operation is abandoned.

use ext_php_rs::convert::IntoZval;
use ext_php_rs::exception::throw_object;
use ext_php_rs::types::{ZendCallable, Zval};
use ext_php_rs::zend::ExecutorGlobals;
use tessera_core::Event;

use crate::errors::{Failure, Res, invalid};
use crate::host::{call_php, try_call};

/// `setRefreshLock($lock, $unlock)`: kept alive with the companion object.
pub struct RefreshLock {
    /// `function (string $name): ?string`: the stored state once the lock is
    /// held, `null` when it could not be taken in time.
    lock: Zval,
    /// `function (string $name): void`: releases it.
    unlock: Zval,
}

impl RefreshLock {
    /// Keeps `lock` and `unlock` (callables, checked by the caller).
    pub fn new(lock: &Zval, unlock: &Zval) -> RefreshLock {
        RefreshLock { lock: lock.shallow_clone(), unlock: unlock.shallow_clone() }
    }

    /// The callables for one operation: owned copies, so that the companion's
    /// cell is not borrowed while they run (they may call the companion,
    /// `setRefreshLock()` included).
    pub fn callables(&self) -> Res<Locks> {
        let owned = |z: &Zval, what: &'static str| {
            ZendCallable::new_owned(z.shallow_clone()).map_err(|_| invalid(what, "must be callable"))
        };
        Ok(Locks { lock: owned(&self.lock, "lock")?, unlock: owned(&self.unlock, "unlock")? })
    }
}

/// The refresh lock's callables during one operation.
pub struct Locks {
    lock: ZendCallable<'static>,
    unlock: ZendCallable<'static>,
}

/// The lock `drive()` holds: taken by a `Lock` whose callable returned, not
/// yet released by the matching `Unlock`.
#[derive(Default)]
pub struct Held(Option<String>);

impl Locks {
    /// `Lock(name)`: `Locked(stored)` when `$lock` returns the stored state,
    /// `LockUnavailable` when it returns `null`. Any other answer is refused
    /// (`invalid_input` naming `lock`), and the lock, which the callable did
    /// return from, is released as for an abandoned operation.
    pub fn lock(&self, name: &str, held: &mut Held) -> Res<Event> {
        let name = name.to_owned();
        let answer = call_php(&self.lock, vec![&name], "lock")?;
        let answer = answer.dereference();
        if answer.is_null() {
            return Ok(Event::LockUnavailable);
        }
        held.0 = Some(name);
        let stored = answer.zend_str().ok_or_else(|| {
            invalid("lock", "must return the stored state (a string), or null when the lock was not taken")
        })?;
        // A stored state is JSON or a sealed blob (ASCII): other bytes fail
        // in the core like any corrupt state, the lock released by `Unlock`.
        Ok(Event::Locked(String::from_utf8_lossy(stored.as_bytes()).into_owned()))
    }

    /// `Unlock(name)`: `$unlock($name)`, then `Unlocked`. The lock counts as
    /// released even when the callable throws (it is not called twice).
    pub fn unlock(&self, name: &str, held: &mut Held) -> Res<Event> {
        held.0 = None;
        let name = name.to_owned();
        call_php(&self.unlock, vec![&name], "unlock")?;
        Ok(Event::Unlocked)
    }

    /// The operation ended with `failure` while the lock was held: release it
    /// (`finally`). The pending exception, if any, is set aside while
    /// `$unlock` runs (PHP calls nothing while one is pending) and restored
    /// after; an exception `$unlock` throws here is dropped, the original
    /// failure is what the host sees. After a fatal error nothing runs.
    pub fn release(&self, held: &mut Held, failure: Failure) -> Failure {
        let Some(name) = held.0.take() else { return failure };
        if matches!(failure, Failure::Bailout) {
            return failure;
        }
        let pending = ExecutorGlobals::take_exception();
        let outcome = try_call(&self.unlock, vec![&name]);
        drop(ExecutorGlobals::take_exception());
        if let Some(original) = pending
            && let Ok(z) = original.into_zval(false)
        {
            // An object that was thrown once is throwable again.
            let _ = throw_object(z);
        }
        match outcome {
            Err(bailout) => bailout,
            Ok(_) => failure,
        }
    }
}

/// Releases `held` on `result`'s failure (see [`Locks::release`]).
pub fn release_on_failure<T>(locks: Option<&Locks>, held: &mut Held, result: Res<T>) -> Res<T> {
    match (result, locks) {
        (Err(failure), Some(locks)) => Err(locks.release(held, failure)),
        (result, _) => result,
    }
}

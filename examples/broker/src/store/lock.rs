//! One refresh of a grant at a time, across every instance.
//!
//! A Stora refresh token works once: two refreshes of one grant racing each
//! other spend it twice, and a provider that rotates on every use may take
//! the second use for theft and revoke the grant. So whoever refreshes,
//! revokes or replaces a grant holds its [`GrantLock`] from reading the
//! grant to writing what Stora answered:
//!
//! * within one instance, a set of locked installation ids (threads wait
//!   their turn);
//! * across instances (PostgreSQL), a session-level advisory lock on a
//!   number derived from the installation id, held on a connection of the
//!   store's lock pool. A crashed instance's session ends and PostgreSQL
//!   releases its locks; a wait longer than the session's `lock_timeout`
//!   fails instead of hanging.
//!
//! The lock alone does not make writes safe (an instance paused past its
//! lock, a lock lost with its connection): every token write also compares
//! the grant's generation, the fencing number ([`super::Store::rotate_tokens`]).

use std::collections::HashSet;
use std::sync::{Condvar, Mutex};

use sha2::{Digest, Sha256};

use super::Store;
use super::db::{Pooled, Result, args};

/// The installations whose grant a thread of this instance holds locked.
#[derive(Default)]
pub struct LocalLocks {
    held: Mutex<HashSet<String>>,
    released: Condvar,
}

/// A held grant lock; released when dropped.
pub struct GrantLock<'a> {
    store: &'a Store,
    install_id: String,
    session: Option<Pooled<'a>>,
}

/// The advisory-lock number of an installation's grant: the first eight
/// bytes of a SHA-256 of its id (a collision only makes two grants take
/// turns).
pub fn advisory_key(install_id: &str) -> i64 {
    let digest = Sha256::digest(format!("tessera-grant-lock:{install_id}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("eight bytes"))
}

impl Store {
    /// Takes the lock of `install_id`'s grant (see the module documentation),
    /// waiting for the holder, on this instance or another, to finish.
    pub fn lock_grant(&self, install_id: &str) -> Result<GrantLock<'_>> {
        {
            let mut held = self.locks.held.lock().unwrap_or_else(|e| e.into_inner());
            while held.contains(install_id) {
                held = self.locks.released.wait(held).unwrap_or_else(|e| e.into_inner());
            }
            held.insert(install_id.to_string());
        }
        // From here the guard exists: an early return releases the local lock.
        let mut guard = GrantLock { store: self, install_id: install_id.to_string(), session: None };
        if let Some(pool) = &self.lock_pool {
            let mut session = pool.get()?;
            session.execute("SELECT pg_advisory_lock($1)", args![advisory_key(install_id)])?;
            guard.session = Some(session);
        }
        Ok(guard)
    }
}

impl Drop for GrantLock<'_> {
    fn drop(&mut self) {
        if let Some(mut session) = self.session.take() {
            let unlocked = session.execute("SELECT pg_advisory_unlock($1)", args![advisory_key(&self.install_id)]);
            if unlocked.is_err() {
                // A session that may still hold the lock must never serve
                // another caller: closing it releases the lock.
                session.discard();
            }
        }
        let mut held = self.store.locks.held.lock().unwrap_or_else(|e| e.into_inner());
        held.remove(&self.install_id);
        drop(held);
        self.store.locks.released.notify_all();
    }
}

//! A plugin host's shared storage and per-installation lock, as a WordPress
//! site has them (one `wp_options` row, `GET_LOCK`) for every PHP worker:
//! several [`crate::plugin_host::PluginHost`]s on one store behave as
//! concurrent workers of one site (authorization-proxy mode, docs/HOST-CONTRACT.md).

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The stored state and the refresh lock of one installation.
#[derive(Debug, Default)]
pub struct HostStore {
    state: Mutex<Option<String>>,
    locked: Mutex<bool>,
    released: Condvar,
}

impl HostStore {
    /// An empty store.
    pub fn new() -> HostStore {
        HostStore::default()
    }

    /// What was stored last.
    pub fn load(&self) -> Option<String> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stores `state` (the host's `Persist`).
    pub fn store(&self, state: &str) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(state.to_owned());
    }

    /// Takes the lock, waiting at most `timeout`; `false` when it stayed taken.
    pub fn lock(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut locked = self.locked.lock().unwrap_or_else(|e| e.into_inner());
        while *locked {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            locked = self.released.wait_timeout(locked, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        *locked = true;
        true
    }

    /// Releases the lock.
    pub fn unlock(&self) {
        *self.locked.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.released.notify_one();
    }
}

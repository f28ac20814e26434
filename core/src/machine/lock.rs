//! The installation's lock in authorization-proxy mode (docs/HOST-CONTRACT.md
//! `Lock`/`Unlock`): every change of the token pair, and every state write of
//! a companion that has held one, happens while the lock is held, on top of
//! the state as stored then. Stora rotates the refresh token on every use, so
//! a worker that wrote back a pair it loaded earlier would resurrect a dead
//! refresh token and lose the installation.
//!
//! - A refresh takes it (proxy.rs).
//! - Connect completion, disconnect and the uninstall plan (reset included)
//!   hold it from start to end ("whole operation").
//! - Any other write while a pair exists or existed (`token_generation > 0`)
//!   is wrapped: `Lock` → the stored state's token fields are taken when
//!   newer → `Persist` → `Unlock`.
//!
//! Whatever holds it, the call asks for `Unlock` before it ends.

use super::{Action, Call, Event, Op, Pending, RemoteStep};
use crate::companion::Companion;
use crate::entropy::Entropy;
use crate::error::{Error, Result};

use crate::state::State;

/// Why the lock is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LockPurpose {
    /// A token refresh (or its check after Stora refused a token).
    Refresh,
    /// The whole operation: connect completion, disconnect, uninstall, reset.
    WholeOp,
    /// One state write, merged onto the stored state.
    Persist,
}

/// Where a wrapped state write is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PersistPhase {
    /// The merged state is out to be stored.
    Storing,
    /// Stored; the lock is being released.
    Releasing,
}

impl Companion {
    /// The host lock of this installation.
    pub(super) fn lock_name(&self) -> String {
        let id = self.state.installation.as_ref().map(|i| i.id.as_str()).unwrap_or("none");
        format!("tessera-refresh-{id}")
    }

    /// Asks for the lock for `purpose`.
    pub(super) fn take_lock(&self, call: &mut Call, purpose: LockPurpose) -> Action {
        call.lock = Some(purpose);
        call.awaiting_lock = true;
        // Remembered: the installation may be gone (uninstall) or replaced
        // (reset) by the time the lock is released.
        let name = self.lock_name();
        call.lock_name = Some(name.clone());
        Action::Lock(name)
    }

    /// Whether this operation runs entirely under the lock.
    pub(super) fn whole_op_lock(&self, call: &Call) -> bool {
        self.proxy_config().is_some()
            && self.state.installation.is_some()
            && matches!(
                call.op,
                Op::ConnectComplete
                    | Op::Disconnect
                    | Op::UninstallDisconnect
                    | Op::UninstallDeregister
                    | Op::UninstallLocal
            )
    }

    /// Whether a state write outside the lock must be wrapped in it.
    fn wraps_persist(&self, call: &Call) -> bool {
        self.proxy_config().is_some()
            && !call.holds_lock
            && self.state.installation.is_some()
            && self.state.token_generation > 0
    }

    /// The lock events, and the events of a wrapped write; `None` when
    /// `event` is not one of them.
    pub(super) fn on_lock_event(
        &mut self,
        call: &mut Call,
        event: &Event,
        now: i64,
        entropy: &mut dyn Entropy,
    ) -> Option<Action> {
        self.proxy_config()?;
        match event {
            Event::Locked(stored) if call.awaiting_lock => {
                call.awaiting_lock = false;
                call.holds_lock = true;
                Some(match call.lock {
                    Some(LockPurpose::Refresh) => self.on_locked(call, stored, now, entropy),
                    Some(LockPurpose::WholeOp) => match self.merge_stored(stored, false) {
                        Ok(()) => self.begin_locked_op(call, now, entropy),
                        Err(e) => Action::Done(Err(e)),
                    },
                    Some(LockPurpose::Persist) | None => match self.merge_stored(stored, false) {
                        Ok(()) => {
                            call.persist_phase = Some(PersistPhase::Storing);
                            self.state.refresh();
                            Action::Persist(self.state.to_json())
                        }
                        Err(e) => Action::Done(Err(e)),
                    },
                })
            }
            Event::LockUnavailable if call.awaiting_lock => {
                call.awaiting_lock = false;
                call.refresh = None;
                // Nothing of this operation is stored: without the lock no
                // write is safe, so none is asked for.
                Some(Action::Done(Err(Error::LockUnavailable)))
            }
            Event::Persisted if call.persist_phase == Some(PersistPhase::Storing) => {
                call.persist_phase = Some(PersistPhase::Releasing);
                Some(self.release(call))
            }
            Event::Unlocked if call.persist_phase == Some(PersistPhase::Releasing) => {
                call.persist_phase = None;
                // The wrapped write is done: go on as after any `Persisted`.
                Some(self.next_pending(call, now, entropy))
            }
            _ => None,
        }
    }

    /// The first step of a whole-operation lock's operation, once it holds
    /// the lock and has taken the stored pair: the request is rebuilt from it.
    fn begin_locked_op(&mut self, call: &mut Call, now: i64, entropy: &mut dyn Entropy) -> Action {
        match call.op {
            Op::ConnectComplete => self.begin_connect_completion(call),
            Op::UninstallLocal => self.finish_uninstall(call, RemoteStep::Skipped),
            Op::Disconnect => match self.revoke_request() {
                Some(req) => {
                    call.req = req;
                    self.send(call, now, entropy)
                }
                // Another worker disconnected (or lost the grant) meanwhile.
                None => self.fail(call, Error::NotConnected),
            },
            Op::UninstallDisconnect => match self.revoke_request() {
                Some(req) => {
                    call.req = req;
                    self.send(call, now, entropy)
                }
                None => self.next_uninstall_stage(call, RemoteStep::Skipped),
            },
            _ => self.send(call, now, entropy),
        }
    }

    /// What `step` does with every action before handing it out: a write
    /// outside the lock is wrapped in it, and a call that holds it releases
    /// it before it ends.
    pub(super) fn guard_lock(&mut self, call: &mut Call, action: Action) -> Action {
        match action {
            Action::Persist(json) if self.wraps_persist(call) => {
                drop(zeroize::Zeroizing::new(json));
                self.take_lock(call, LockPurpose::Persist)
            }
            Action::Done(result) if call.holds_lock => {
                call.pending.push_front(Pending::Emit(Action::Done(result)));
                self.release(call)
            }
            other => other,
        }
    }

    /// `Unlock`; the call no longer holds the lock.
    pub(super) fn release(&self, call: &mut Call) -> Action {
        call.holds_lock = false;
        call.lock = None;
        Action::Unlock(call.lock_name.take().unwrap_or_else(|| self.lock_name()))
    }

    /// Takes from `stored` (the state as the host stores it now, sealed or
    /// not) what another worker may have changed since this companion loaded
    /// it: the token fields, when they are of a later generation (a refresh,
    /// a new connect, a disconnect, a lost grant); the record of a rotated
    /// refresh token of the same generation. `strict`: a stored state of
    /// another installation is an error (else it is ignored: a reset).
    pub(super) fn merge_stored(&mut self, stored: &str, strict: bool) -> Result<()> {
        let json = match &self.seal_key {
            Some(key) => {
                let plain = crate::seal::open(stored, key.expose())?;
                std::str::from_utf8(&plain)
                    .map_err(|_| Error::StateCorrupt("sealed state is not UTF-8".into()))?
                    .to_owned()
            }
            None => stored.to_owned(),
        };
        let other = State::from_json(&zeroize::Zeroizing::new(json))?;
        let same = match (&other.installation, &self.state.installation) {
            (Some(a), Some(b)) => a.id == b.id,
            _ => false,
        };
        if !same {
            return if strict {
                Err(Error::InvalidState("the stored state belongs to another installation"))
            } else {
                Ok(())
            };
        }
        if other.token_generation > self.state.token_generation {
            self.state.tokens = other.tokens;
            self.state.retired_refresh = other.retired_refresh;
            self.state.token_generation = other.token_generation;
            self.state.account = other.account;
            self.state.reconnect_reason = other.reconnect_reason;
        } else if other.token_generation == self.state.token_generation && self.state.retired_refresh.is_none() {
            self.state.retired_refresh = other.retired_refresh;
        }
        self.state.refresh();
        Ok(())
    }
}

//! `Idempotency-Key` (shared decision 3): the first processed answer of a
//! POST carrying a key (success or failure, injected faults included) is
//! stored for 24 hours of the fake's clock, scoped per (operator,
//! client_id). The same request again replays it with
//! `Idempotent-Replayed: true` (body exactly as stored, a fresh `Request-Id`
//! header); the key with another method, path, query or body answers 409
//! `conflict` and is not processed. After 24 hours the key is forgotten.

use serde_json::Value;

use super::Store;
use super::errors::{ApiAnswer, ErrorCode};

/// How long a stored answer is replayed (seconds).
pub const IDEMPOTENCY_TTL_SECS: i64 = 86_400;

/// What identifies "the same request".
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub method: String,
    pub target: String,
    pub body: Vec<u8>,
}

/// A stored answer.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    fingerprint: Fingerprint,
    status: u16,
    body: Value,
    stored_at: i64,
}

/// Key of the idempotency store: (operator, client_id, key).
pub(crate) type Scope = (String, String, String);

/// Outcome of a lookup.
pub(crate) enum Lookup {
    /// Not seen (or expired): process the request.
    Fresh,
    /// Seen with this request: the answer to replay.
    Replay(ApiAnswer),
    /// Seen with another request.
    Conflict(ApiAnswer),
}

impl Store {
    /// Looks `scope` up at `now`, forgetting expired entries.
    pub(crate) fn idempotency_lookup(&mut self, scope: &Scope, fingerprint: &Fingerprint, now: i64) -> Lookup {
        self.idempotency.retain(|_, s| now - s.stored_at < IDEMPOTENCY_TTL_SECS);
        match self.idempotency.get(scope) {
            None => Lookup::Fresh,
            Some(stored) if stored.fingerprint == *fingerprint => {
                self.counters.idempotent_replays += 1;
                Lookup::Replay(
                    ApiAnswer::json(stored.status, stored.body.clone()).with_header("idempotent-replayed", "true"),
                )
            }
            Some(_) => Lookup::Conflict(ApiAnswer::error(
                ErrorCode::Conflict,
                "this Idempotency-Key was used with a different request",
            )),
        }
    }

    /// Stores the first processed answer for `scope` (a live entry is kept).
    pub(crate) fn idempotency_store(&mut self, scope: Scope, fingerprint: Fingerprint, answer: &ApiAnswer, now: i64) {
        self.idempotency.retain(|_, s| now - s.stored_at < IDEMPOTENCY_TTL_SECS);
        self.idempotency.entry(scope).or_insert(Stored {
            fingerprint,
            status: answer.status,
            body: answer.body.clone(),
            stored_at: now,
        });
    }

    /// How many keys are stored (expired ones included until the next lookup).
    pub fn idempotency_keys(&self) -> usize {
        self.idempotency.len()
    }
}

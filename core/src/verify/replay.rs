//! The replay store: what remembers a verified request's nonce until it can
//! no longer verify (docs/PROTOCOL.md §7.2, check 24).
//!
//! Verification asks its caller to record `(installation, nonce)` as its last
//! step ([`AwaitingReplay`](super::AwaitingReplay)); the caller answers with a
//! [`ReplayAnswer`], from any store it likes — [`MemoryReplayStore`] here, a
//! shared database or cache in a broker with several processes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::error::{Error, Result};

/// What a replay store answers when asked to record a nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplayAnswer {
    /// The nonce was not live: it is recorded now, the request verifies.
    Fresh,
    /// The nonce is live already: the request is a replay (`replayed`).
    Seen,
    /// The installation's share of the store is full (`replay_store_full`,
    /// fail closed): refused, and no other installation is affected.
    Full,
}

impl ReplayAnswer {
    /// The answer a [`ReplayStore::check_and_insert`] result stands for:
    /// `Ok` is [`Fresh`](ReplayAnswer::Fresh), [`Error::Replayed`]
    /// [`Seen`](ReplayAnswer::Seen), [`Error::ReplayStoreFull`]
    /// [`Full`](ReplayAnswer::Full); any other error is returned as is.
    pub fn from_store(result: Result<()>) -> Result<ReplayAnswer> {
        match result {
            Ok(()) => Ok(ReplayAnswer::Fresh),
            Err(Error::Replayed) => Ok(ReplayAnswer::Seen),
            Err(Error::ReplayStoreFull) => Ok(ReplayAnswer::Full),
            Err(other) => Err(other),
        }
    }
}

/// Remembers nonces until they can no longer verify.
pub trait ReplayStore {
    /// Records `key` until `expires_at` (unix seconds). Returns
    /// [`Error::Replayed`] if `key` is already live, [`Error::ReplayStoreFull`]
    /// if there is no room (fail closed).
    ///
    /// The verifier's key is `install_id + ":" + nonce` (an install id never
    /// contains `:`). A store MUST bound what each installation may hold on
    /// its own, so that one installation filling its share is refused
    /// without refusing any other (docs/PROTOCOL.md §7.2).
    fn check_and_insert(&mut self, key: &str, expires_at: i64, now: i64) -> Result<()>;
}

/// Live nonces one installation may hold in a [`MemoryReplayStore::default`]
/// store. A nonce lives at most `window + 300` seconds (300 with clocks in
/// step); a plugin within Stora's rate limits (60 calls a minute) holds a
/// few hundred.
pub const DEFAULT_REPLAY_PER_INSTALLATION: usize = 1_000;

/// The installation a replay key belongs to: the part before the first `:`
/// (the whole key is the installation `""`'s when it has none).
fn installation_of(key: &str) -> &str {
    key.split_once(':').map_or("", |(installation, _)| installation)
}

/// An in-memory [`ReplayStore`] bounded per installation: entries expire,
/// and when an installation has `per_installation` live entries its new
/// requests are refused ([`Error::ReplayStoreFull`]) rather than an
/// unexpired nonce being forgotten. Other installations are unaffected:
/// there is no shared limit one installation could exhaust. Memory is at
/// most `per_installation` entries for each installation that verified a
/// request within the last `window + 300` seconds — only installations the
/// broker knows, whose MAC verified, reach the store.
#[derive(Debug)]
pub struct MemoryReplayStore {
    per_installation: usize,
    live: HashMap<String, i64>,
    /// Live entries per installation (no entry for an installation with none).
    counts: HashMap<String, usize>,
    by_expiry: BinaryHeap<Reverse<(i64, String)>>,
}

impl MemoryReplayStore {
    /// A store holding at most `per_installation` (at least 1) live nonces
    /// for each installation.
    pub fn new(per_installation: usize) -> MemoryReplayStore {
        MemoryReplayStore {
            per_installation: per_installation.max(1),
            live: HashMap::new(),
            counts: HashMap::new(),
            by_expiry: BinaryHeap::new(),
        }
    }

    /// Live entries, all installations together.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Live entries of one installation.
    pub fn len_for(&self, installation: &str) -> usize {
        self.counts.get(installation).copied().unwrap_or(0)
    }

    /// Whether no entry is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Forgets entries whose expiry has passed. An entry expiring at `now`
    /// is still live: the verifier accepts `now == expires`.
    fn purge(&mut self, now: i64) {
        while let Some(Reverse((exp, _))) = self.by_expiry.peek() {
            if *exp >= now {
                break;
            }
            let Some(Reverse((exp, key))) = self.by_expiry.pop() else { break };
            if self.live.get(&key) == Some(&exp) {
                self.live.remove(&key);
                let installation = installation_of(&key);
                if let Some(n) = self.counts.get_mut(installation) {
                    *n -= 1;
                    if *n == 0 {
                        self.counts.remove(installation);
                    }
                }
            }
        }
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        MemoryReplayStore::new(DEFAULT_REPLAY_PER_INSTALLATION)
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_insert(&mut self, key: &str, expires_at: i64, now: i64) -> Result<()> {
        self.purge(now);
        if self.live.contains_key(key) {
            return Err(Error::Replayed);
        }
        let installation = installation_of(key);
        if self.len_for(installation) >= self.per_installation {
            return Err(Error::ReplayStoreFull);
        }
        *self.counts.entry(installation.to_owned()).or_insert(0) += 1;
        self.live.insert(key.to_owned(), expires_at);
        self.by_expiry.push(Reverse((expires_at, key.to_owned())));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_store_expires_and_bounds() {
        let mut s = MemoryReplayStore::new(2);
        s.check_and_insert("i:a", 10, 0).unwrap();
        assert_eq!(s.check_and_insert("i:a", 10, 5), Err(Error::Replayed));
        s.check_and_insert("i:b", 20, 5).unwrap();
        assert_eq!(s.check_and_insert("i:c", 20, 5), Err(Error::ReplayStoreFull));
        // "a" expires at 10: still live at 10, gone at 11.
        assert_eq!(s.check_and_insert("i:a", 10, 10), Err(Error::Replayed));
        assert_eq!(s.check_and_insert("i:c", 20, 10), Err(Error::ReplayStoreFull));
        s.check_and_insert("i:c", 20, 11).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.check_and_insert("i:a", 30, 21).is_ok());
    }

    #[test]
    fn replay_store_is_bounded_per_installation() {
        let mut s = MemoryReplayStore::new(3);
        for n in 0..3 {
            s.check_and_insert(&format!("flood:{n}"), 100, 0).unwrap();
        }
        // The flooder's share is full: it alone is refused...
        assert_eq!(s.check_and_insert("flood:x", 100, 1), Err(Error::ReplayStoreFull));
        assert_eq!(s.len_for("flood"), 3);
        // ...every other installation keeps its whole share.
        for other in ["a", "b", "c"] {
            for n in 0..3 {
                s.check_and_insert(&format!("{other}:{n}"), 50, 1).unwrap();
            }
            assert_eq!(s.check_and_insert(&format!("{other}:x"), 50, 1), Err(Error::ReplayStoreFull));
        }
        assert_eq!(s.len(), 12);
        // A replay is still `replayed`, even with the share full.
        assert_eq!(s.check_and_insert("flood:0", 100, 1), Err(Error::Replayed));
        // Expiry gives an installation its share back (and forgets it).
        assert!(s.check_and_insert("a:y", 60, 51).is_ok());
        assert_eq!((s.len_for("a"), s.len_for("b"), s.len_for("flood")), (1, 0, 3));
        assert!(!s.counts.contains_key("b"), "an installation with no live nonce is forgotten");
        assert_eq!(s.check_and_insert("flood:x", 100, 51), Err(Error::ReplayStoreFull));
        assert!(s.check_and_insert("flood:x", 200, 101).is_ok());
        // A key without `:` belongs to the installation "".
        assert_eq!(installation_of("nocolon"), "");
        assert_eq!(installation_of("ins_1:n:x"), "ins_1");
        // At least one per installation.
        let mut one = MemoryReplayStore::new(0);
        one.check_and_insert("a:1", 5, 0).unwrap();
        assert_eq!(one.check_and_insert("a:2", 5, 0), Err(Error::ReplayStoreFull));
        one.check_and_insert("b:1", 5, 0).unwrap();
        assert_eq!(MemoryReplayStore::default().per_installation, DEFAULT_REPLAY_PER_INSTALLATION);
    }
}

//! Per-operator pacing of the calls the broker forwards to Stora.
//!
//! Stora limits every operator (the Stora account an installation is
//! connected to) to 10 requests a second and 60 a minute, shared by every
//! API client and every installation of that operator, and counts them in
//! fixed calendar windows (each second, each minute). The broker takes a
//! slot from the operator's budget before it forwards a call
//! ([`Pacer::acquire`]); when the next free slot is within
//! [`Pacing::max_queue_ms`] the call waits for it, otherwise the broker
//! answers `429 rate_limited` itself, without calling Stora.
//!
//! The scheduler keeps a log of the slots it handed out (a sliding-window
//! log): a new slot goes at the earliest time `t` at which every rolling
//! window of one second ending at `t` holds fewer than `per_sec` slots and
//! every rolling window of sixty seconds fewer than `per_min` (plus a small
//! [`Pacing::margin_ms`] for the jitter between the broker's send and
//! Stora's clock). A schedule that keeps *every* rolling window under a
//! limit keeps every fixed window under it too.
//!
//! On SQLite (one broker instance) the log lives in this process's memory.
//! On PostgreSQL the instances share it: each operator's log is a table's
//! rows, read and extended in one transaction under the operator's advisory
//! lock ([`crate::store::Store::pace_slot`]), by the same schedule
//! ([`Pacing::schedule`]), so that together they stay within Stora's limit.
//!
//! Token refreshes and revocations (`/oauth2/…`) are not API calls and are
//! not paced. The account lookup at connect time is an API call made before
//! the operator is known: it is recorded afterwards ([`Pacer::note`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::store::{Error as StoreError, Store};

/// Stora's documented per-operator limit per second.
pub const DEFAULT_PER_SEC: u32 = 10;
/// Stora's documented per-operator limit per minute.
pub const DEFAULT_PER_MIN: u32 = 60;
/// Default of [`Pacing::max_queue_ms`].
pub const DEFAULT_MAX_QUEUE_MS: u64 = 2000;
/// Default of [`Pacing::margin_ms`].
pub const DEFAULT_MARGIN_MS: u64 = 50;

/// Pacing settings ([`crate::BrokerConfig::pacing`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pacing {
    /// Calls per operator in any one-second window; `0`: no such limit.
    pub per_sec: u32,
    /// Calls per operator in any sixty-second window; `0`: no such limit.
    pub per_min: u32,
    /// Longest a call may wait for its slot, milliseconds; a call whose slot
    /// is further away is answered `429 rate_limited`.
    pub max_queue_ms: u64,
    /// Extra spacing added to each window, milliseconds: absorbs the jitter
    /// between the moment the broker sends and the moment Stora counts.
    pub margin_ms: u64,
    /// Per-operator limits `(per_sec, per_min)` replacing the defaults
    /// (an operator Stora granted a higher limit), keyed by account id.
    pub overrides: HashMap<String, (u32, u32)>,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            per_sec: DEFAULT_PER_SEC,
            per_min: DEFAULT_PER_MIN,
            max_queue_ms: DEFAULT_MAX_QUEUE_MS,
            margin_ms: DEFAULT_MARGIN_MS,
            overrides: HashMap::new(),
        }
    }
}

impl Pacing {
    /// No pacing at all (measuring the broker itself: `tessera-load`).
    pub fn off() -> Pacing {
        Pacing { per_sec: 0, per_min: 0, ..Pacing::default() }
    }

    /// The limits `(per_sec, per_min)` of `operator`.
    pub fn limits_for(&self, operator: &str) -> (u32, u32) {
        self.overrides.get(operator).copied().unwrap_or((self.per_sec, self.per_min))
    }

    /// The schedule: takes a slot for one call of `operator` at `now_ms` in
    /// `slots` (that operator's log, ascending), forgetting the slots that
    /// constrain nothing any more, unless the slot is further than
    /// [`Pacing::max_queue_ms`] away (`Refused`, nothing taken). Without
    /// limits, `Now` and nothing is logged.
    pub fn schedule(&self, slots: &mut VecDeque<u64>, operator: &str, now_ms: u64) -> Slot {
        let (per_sec, per_min) = self.limits_for(operator);
        if per_sec == 0 && per_min == 0 {
            return Slot::Now;
        }
        let margin = self.margin_ms;
        // Slots older than the longest window constrain nothing any more.
        while slots.front().is_some_and(|&t| t + 60_000 + margin <= now_ms) {
            slots.pop_front();
        }
        let at = earliest(slots, now_ms, &[(per_sec, 1_000 + margin), (per_min, 60_000 + margin)]);
        let wait = at - now_ms;
        if wait > self.max_queue_ms {
            return Slot::Refused(Duration::from_millis(wait));
        }
        slots.push_back(at);
        if wait == 0 { Slot::Now } else { Slot::After(Duration::from_millis(wait)) }
    }

    /// Whether `operator` is paced at all.
    pub fn paces(&self, operator: &str) -> bool {
        self.limits_for(operator) != (0, 0)
    }

    /// Parses overrides written `opr_a=20/120,opr_b=5/30` (commas or
    /// spaces between entries).
    pub fn parse_overrides(text: &str) -> Result<HashMap<String, (u32, u32)>, String> {
        let mut out = HashMap::new();
        for entry in text.split([',', ' ']).filter(|e| !e.is_empty()) {
            let bad = || format!("pacing override {entry:?}: expected <operator>=<per_sec>/<per_min>");
            let (operator, limits) = entry.split_once('=').ok_or_else(bad)?;
            let (sec, min) = limits.split_once('/').ok_or_else(bad)?;
            let sec = sec.parse().map_err(|_| bad())?;
            let min = min.parse().map_err(|_| bad())?;
            if operator.is_empty() {
                return Err(bad());
            }
            out.insert(operator.to_string(), (sec, min));
        }
        Ok(out)
    }
}

/// Where a call's slot is, relative to now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Send now.
    Now,
    /// The slot is reserved; send after waiting this long.
    After(Duration),
    /// No slot within `max_queue_ms`; the next one is this far away
    /// (nothing was reserved).
    Refused(Duration),
}

/// Counters of one operator's budget, shown in `/admin/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PacingStats {
    /// Slots handed out (calls forwarded to Stora).
    pub sent: u64,
    /// Of those, calls that had to wait for their slot.
    pub paced: u64,
    /// Calls answered `429 rate_limited` by the broker.
    pub refused: u64,
    /// API calls made outside the pacer and recorded afterwards
    /// (the account lookup at connect time).
    pub noted: u64,
}

#[derive(Default)]
struct Lane {
    /// Slot times, milliseconds since the pacer's epoch, ascending.
    slots: VecDeque<u64>,
    stats: PacingStats,
}

/// The per-operator schedulers of one broker process.
pub struct Pacer {
    config: Pacing,
    epoch: Instant,
    lanes: Mutex<HashMap<String, Lane>>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Pacer {
    /// A pacer with no slots handed out yet.
    pub fn new(config: Pacing) -> Pacer {
        Pacer { config, epoch: Instant::now(), lanes: Mutex::new(HashMap::new()) }
    }

    /// The settings.
    pub fn config(&self) -> &Pacing {
        &self.config
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn lanes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lane>> {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a slot for one call of `operator` at `now_ms` (milliseconds on
    /// the pacer's clock; injected so the schedule can be tested without
    /// sleeping). Reserves it unless refused.
    pub fn reserve(&self, operator: &str, now_ms: u64) -> Slot {
        if !self.config.paces(operator) {
            return Slot::Now;
        }
        let mut lanes = self.lanes();
        let lane = lanes.entry(operator.to_string()).or_default();
        let slot = self.config.schedule(&mut lane.slots, operator, now_ms);
        lane.stats.count(slot);
        slot
    }

    /// Waits for a slot of `operator` on the real clock (sleeping outside
    /// any lock): from this process's log, or from the log every instance
    /// shares when `shared` is the store (PostgreSQL). `Ok(waited)`, or
    /// `Err(retry_after)` when no slot is free within `max_queue_ms`.
    pub fn acquire(&self, operator: &str, shared: Option<&Store>) -> Result<Result<Duration, Duration>, StoreError> {
        let slot = match shared {
            Some(store) if self.config.paces(operator) => {
                let slot = store.pace_slot(&self.config, operator, unix_ms())?;
                self.lanes().entry(operator.to_string()).or_default().stats.count(slot);
                slot
            }
            Some(_) => Slot::Now,
            None => self.reserve(operator, self.now_ms()),
        };
        Ok(match slot {
            Slot::Now => Ok(Duration::ZERO),
            Slot::After(wait) => {
                std::thread::sleep(wait);
                Ok(wait)
            }
            Slot::Refused(next) => Err(next),
        })
    }

    /// Records a call to Stora for `operator` that was made without a slot
    /// (at `now_ms`), so the calls after it count it.
    pub fn note_at(&self, operator: &str, now_ms: u64) {
        let (per_sec, per_min) = self.config.limits_for(operator);
        if per_sec == 0 && per_min == 0 {
            return;
        }
        let mut lanes = self.lanes();
        let lane = lanes.entry(operator.to_string()).or_default();
        let at = lane.slots.partition_point(|&t| t <= now_ms);
        lane.slots.insert(at, now_ms);
        lane.stats.noted += 1;
    }

    /// [`Pacer::note_at`] on the real clock; in the shared log when
    /// `shared` is the store (best effort: a call already made is only
    /// counted).
    pub fn note(&self, operator: &str, shared: Option<&Store>) {
        match shared {
            Some(store) if self.config.paces(operator) => {
                let _ = store.pace_note(operator, unix_ms());
                self.lanes().entry(operator.to_string()).or_default().stats.noted += 1;
            }
            Some(_) => {}
            None => self.note_at(operator, self.now_ms()),
        }
    }

    /// Each operator's counters.
    pub fn stats(&self) -> BTreeMap<String, PacingStats> {
        self.lanes().iter().map(|(operator, lane)| (operator.clone(), lane.stats)).collect()
    }
}

/// The wall clock in unix milliseconds: the shared log's clock.
fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl PacingStats {
    fn count(&mut self, slot: Slot) {
        match slot {
            Slot::Now => self.sent += 1,
            Slot::After(_) => {
                self.sent += 1;
                self.paced += 1;
            }
            Slot::Refused(_) => self.refused += 1,
        }
    }
}

/// The earliest time at or after `now` (and after the last slot: slots go
/// out in order) at which, for each `(limit, window)`, the rolling window
/// ending there holds fewer than `limit` of `slots` (`limit` 0: no limit).
fn earliest(slots: &VecDeque<u64>, now: u64, limits: &[(u32, u64)]) -> u64 {
    let mut at = now.max(slots.back().copied().unwrap_or(0));
    for &(limit, window) in limits {
        let limit = limit as usize;
        if limit > 0 && slots.len() >= limit {
            // The limit-th most recent slot must have left the window.
            at = at.max(slots[slots.len() - limit] + window);
        }
    }
    at
}

/// The `Retry-After` value (whole seconds, at least 1) for a refused call.
pub fn retry_after_secs(next: Duration) -> u64 {
    next.as_millis().div_ceil(1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(per_sec: u32, per_min: u32, max_queue_ms: u64) -> Pacer {
        Pacer::new(Pacing { per_sec, per_min, max_queue_ms, margin_ms: 0, overrides: HashMap::new() })
    }

    /// Reserves `n` calls all asked for at `now`, returning the send times.
    fn burst(p: &Pacer, op: &str, now: u64, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| match p.reserve(op, now) {
                Slot::Now => now,
                Slot::After(d) => now + d.as_millis() as u64,
                Slot::Refused(d) => panic!("refused, next in {d:?}"),
            })
            .collect()
    }

    /// The largest number of `times` in any window `[a, a + len)`.
    fn max_in_window(times: &[u64], len: u64) -> usize {
        times.iter().map(|&a| times.iter().filter(|&&t| t >= a && t < a + len).count()).max().unwrap_or(0)
    }

    #[test]
    fn a_burst_is_spread_over_seconds() {
        let p = pacer(10, 60, 10_000);
        let times = burst(&p, "opr_a", 0, 25);
        assert_eq!(&times[..10], &[0; 10], "the first ten go at once");
        assert_eq!(&times[10..20], &[1000; 10]);
        assert_eq!(&times[20..], &[2000; 5]);
        let stats = p.stats()["opr_a"];
        assert_eq!((stats.sent, stats.paced, stats.refused), (25, 15, 0));
    }

    #[test]
    fn every_rolling_window_stays_under_both_limits() {
        let p = pacer(10, 60, 120_000);
        let mut times = Vec::new();
        // Calls arriving every 37 ms for three minutes, as fast as allowed.
        let mut now = 0;
        while now < 180_000 {
            match p.reserve("opr_a", now) {
                Slot::Now => times.push(now),
                Slot::After(d) => times.push(now + d.as_millis() as u64),
                Slot::Refused(_) => unreachable!("the queue is long enough"),
            }
            now = (*times.last().unwrap()).max(now) + 37;
        }
        assert!(max_in_window(&times, 1_000) <= 10);
        assert!(max_in_window(&times, 60_000) <= 60);
        // And fixed calendar windows, whatever their phase.
        for phase in [0, 1, 250, 999] {
            let mut per_minute: HashMap<u64, usize> = HashMap::new();
            for t in &times {
                *per_minute.entry((t + phase) / 60_000).or_default() += 1;
            }
            assert!(per_minute.values().all(|&n| n <= 60), "phase {phase}: {per_minute:?}");
        }
        // Not needlessly slow: the minute budget is used (the first minute
        // in full, then one slot for each that leaves the window).
        assert_eq!(times.iter().filter(|&&t| t < 60_000).count(), 60);
        assert!(times.len() >= 170, "{} calls in three minutes", times.len());
    }

    #[test]
    fn a_slot_beyond_the_queue_limit_is_refused_and_not_reserved() {
        let p = pacer(10, 60, 500);
        assert_eq!(burst(&p, "opr_a", 0, 10), vec![0; 10]);
        assert_eq!(p.reserve("opr_a", 100), Slot::Refused(Duration::from_millis(900)));
        assert_eq!(p.reserve("opr_a", 600), Slot::After(Duration::from_millis(400)), "the refusal took no slot");
        let stats = p.stats()["opr_a"];
        assert_eq!((stats.sent, stats.paced, stats.refused), (11, 1, 1));
        assert_eq!(retry_after_secs(Duration::from_millis(900)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn the_minute_limit_holds_after_the_second_limit() {
        let p = pacer(10, 60, 60_000);
        let times = burst(&p, "opr_a", 0, 61);
        assert_eq!(times[59], 5_000, "six seconds of ten");
        assert_eq!(times[60], 60_000, "the 61st waits for the first to leave the minute");
    }

    #[test]
    fn operators_have_separate_budgets_and_overrides() {
        let mut config = Pacing { margin_ms: 0, ..Pacing::default() };
        config.overrides.insert("opr_big".into(), (20, 600));
        let p = Pacer::new(config);
        assert_eq!(burst(&p, "opr_a", 0, 10), vec![0; 10]);
        assert_eq!(burst(&p, "opr_b", 0, 10), vec![0; 10], "another operator is not slowed");
        assert_eq!(burst(&p, "opr_big", 0, 20), vec![0; 20]);
        assert_eq!(p.reserve("opr_big", 0), Slot::After(Duration::from_millis(1000)));
    }

    #[test]
    fn the_margin_widens_each_window() {
        let p = Pacer::new(Pacing { margin_ms: 50, ..Pacing::default() });
        burst(&p, "opr_a", 0, 10);
        assert_eq!(p.reserve("opr_a", 0), Slot::After(Duration::from_millis(1050)));
    }

    #[test]
    fn noted_calls_count() {
        let p = pacer(10, 60, 10_000);
        p.note_at("opr_a", 0);
        let times = burst(&p, "opr_a", 10, 10);
        assert_eq!(&times[..9], &[10; 9]);
        assert_eq!(times[9], 1000, "the noted call took one of the ten");
        assert_eq!(p.stats()["opr_a"].noted, 1);
    }

    #[test]
    fn off_paces_nothing() {
        let p = Pacer::new(Pacing::off());
        assert!((0..1000).all(|_| p.reserve("opr_a", 0) == Slot::Now));
        p.note_at("opr_a", 0);
        assert!(p.stats().is_empty(), "nothing is recorded");
    }

    #[test]
    fn old_slots_are_forgotten() {
        let p = pacer(10, 60, 0);
        burst(&p, "opr_a", 0, 10);
        assert_eq!(p.reserve("opr_a", 61_000), Slot::Now);
        assert_eq!(p.lanes()["opr_a"].slots.len(), 1);
    }

    #[test]
    fn overrides_parse() {
        let parsed = Pacing::parse_overrides("opr_a=20/120, opr_b=5/30").unwrap();
        assert_eq!(parsed["opr_a"], (20, 120));
        assert_eq!(parsed["opr_b"], (5, 30));
        assert!(Pacing::parse_overrides("").unwrap().is_empty());
        for bad in ["opr_a", "opr_a=1", "opr_a=x/2", "=1/2"] {
            assert!(Pacing::parse_overrides(bad).is_err(), "{bad}");
        }
    }
}

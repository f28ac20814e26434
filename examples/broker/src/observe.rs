//! Observability: one structured log line per call and per-installation
//! counters.
//!
//! The counters are per process (each broker instance counts what it
//! handled since it started): `GET /admin/metrics` shows them as JSON,
//! `GET /metrics` in the Prometheus text format ([`crate::metrics`]), and
//! Prometheus scrapes every instance.
//!
//! A log line is JSON with the installation id, the route, the status, the
//! latency and the broker's error code; an event line (an installation
//! expired or revoked by its successor) has the event code and the ids. It never carries a header, a query,
//! a body or a description, so no secret, broker token, Stora token or
//! client secret can reach the log by construction.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::metrics::{Histogram, HistogramSnapshot};

/// Where log lines go.
#[derive(Clone, Debug, Default)]
pub enum LogSink {
    /// Standard error (the default for the binary).
    #[default]
    Stderr,
    /// Kept in memory (tests read them back).
    Memory(Arc<Mutex<Vec<String>>>),
    /// Dropped (load runs).
    Off,
}

/// One handled call.
#[derive(Debug, Serialize)]
pub struct CallRecord<'a> {
    /// Wall clock, unix milliseconds.
    pub ts_ms: u128,
    /// Installation, when known.
    pub install_id: Option<&'a str>,
    /// Route template, e.g. `GET /api/{*path}`.
    pub route: &'a str,
    /// HTTP status answered.
    pub status: u16,
    /// Handling time, milliseconds.
    pub latency_ms: f64,
    /// The broker's error code for non-2xx answers.
    pub error: Option<&'a str>,
}

/// Something the broker did on its own account (not an answer to a call):
/// `installation_expired`, `previous_installation_revoked`.
#[derive(Debug, Serialize)]
pub struct EventRecord<'a> {
    /// Wall clock, unix milliseconds.
    pub ts_ms: u128,
    /// What happened.
    pub event: &'a str,
    /// The installation it happened to.
    pub install_id: &'a str,
    /// The installation that asked for it, if one did.
    pub by: Option<&'a str>,
    /// Why, for a failure (`webhook_registration_failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

/// An alert-worthy event, logged at level `error` (`rotation_lost`).
#[derive(Debug, Serialize)]
pub struct AlertRecord<'a> {
    /// Wall clock, unix milliseconds.
    pub ts_ms: u128,
    /// Always `error`.
    pub level: &'a str,
    /// What happened.
    pub event: &'a str,
    /// The installation it happened to.
    pub install_id: &'a str,
}

/// The status classes counted, in this order (`4xx` excludes `429`; the
/// broker answers no 1xx, counted as `2xx` if it ever did).
pub const CLASSES: [&str; 5] = ["2xx", "3xx", "4xx", "429", "5xx"];

/// Index of `status` in [`CLASSES`].
fn class(status: u16) -> usize {
    match status {
        429 => 3,
        500.. => 4,
        400.. => 2,
        300.. => 1,
        _ => 0,
    }
}

/// Counters for one installation.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InstallCounters {
    /// Calls answered.
    pub requests: u64,
    /// 2xx answers.
    pub successes: u64,
    /// 3xx answers (browser routes: redirects to Stora and back).
    pub redirects: u64,
    /// 4xx answers other than 429.
    pub client_errors: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// 5xx answers.
    pub server_errors: u64,
    /// Successful Stora refreshes.
    pub refreshes: u64,
    /// Failed Stora refreshes by reason ([`Observer::refresh_failed`]).
    pub refresh_failures: BTreeMap<&'static str, u64>,
    /// Rotated pairs that could not be saved ([`Observer::rotation_lost`]).
    pub rotations_lost: u64,
    /// Signed requests refused as replays.
    pub replays_refused: u64,
    /// Stora events queued for the plugin (duplicates not counted).
    pub events_queued: u64,
}

/// What became of Stora's webhook deliveries and endpoint registrations.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WebhookCounters {
    /// Deliveries received (every `POST /webhooks/stora/{hook}`).
    pub received: u64,
    /// Deliveries refused, by reason (`unknown_hook`, `too_large`,
    /// `signature_invalid`, `signature_expired`, `invalid_request`, `storage`).
    pub refused: BTreeMap<&'static str, u64>,
    /// Deliveries of an event already queued (answered 200, not queued again).
    pub duplicates: u64,
    /// Events queued.
    pub queued: u64,
    /// Endpoints registered at Stora.
    pub registrations: u64,
    /// Endpoint registrations that failed (retried on the next pull).
    pub registration_failures: u64,
}

impl InstallCounters {
    /// Answers by status class, in [`CLASSES`] order.
    pub fn by_class(&self) -> [u64; 5] {
        [self.successes, self.redirects, self.client_errors, self.rate_limited, self.server_errors]
    }
}

/// Broker-wide figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// Calls answered.
    pub requests: u64,
    /// Signature verifications run.
    pub verifications: u64,
    /// Mean time of a verification (signature checks, digest, MAC, replay
    /// store), microseconds, excluding the secret lookup.
    pub verify_mean_us: f64,
    /// Mean time of the secret lookup (SQLite + unsealing), microseconds.
    pub secret_lookup_mean_us: f64,
    /// Successful Stora refreshes.
    pub refreshes: u64,
    /// Failed Stora refreshes (every reason).
    pub refresh_failures: u64,
    /// Rotated pairs that could not be saved.
    pub rotations_lost: u64,
    /// Signed requests refused as replays.
    pub replays_refused: u64,
}

/// Everything [`crate::metrics`] exposes, read at one moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Broker-wide figures.
    pub totals: Totals,
    /// Calls per route template, by status class ([`CLASSES`] order).
    pub routes: BTreeMap<String, [u64; 5]>,
    /// Per installation.
    pub installs: BTreeMap<String, InstallCounters>,
    /// Failed refreshes by reason.
    pub refresh_failures: BTreeMap<&'static str, u64>,
    /// Verification time, excluding the secret lookup.
    pub verification: HistogramSnapshot,
    /// Secret lookup time.
    pub secret_lookup: HistogramSnapshot,
    /// Webhooks.
    pub webhooks: WebhookCounters,
}

/// Most installations counted one by one (per process).
pub const MAX_TRACKED_INSTALLATIONS: usize = 100_000;
/// The key under which installations past [`MAX_TRACKED_INSTALLATIONS`] are
/// counted together (not an id: ids start with `ins_`).
pub const OTHER_INSTALLATIONS: &str = "(other)";

/// Collects log lines and counters (per process).
#[derive(Debug, Default)]
pub struct Observer {
    sink: LogSink,
    per_install: Mutex<BTreeMap<String, InstallCounters>>,
    per_route: Mutex<BTreeMap<String, [u64; 5]>>,
    refresh_failures: Mutex<BTreeMap<&'static str, u64>>,
    requests: AtomicU64,
    verify: Histogram,
    lookup: Histogram,
    refreshes: AtomicU64,
    rotations_lost: AtomicU64,
    replays_refused: AtomicU64,
    webhooks: Mutex<WebhookCounters>,
}

impl Observer {
    /// An observer writing to `sink`.
    pub fn new(sink: LogSink) -> Observer {
        Observer { sink, ..Observer::default() }
    }

    /// Records and logs one call.
    pub fn call(&self, route: &str, install_id: Option<&str>, status: u16, latency: Duration, error: Option<&str>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let class = class(status);
        {
            let mut routes = self.per_route.lock().unwrap_or_else(|e| e.into_inner());
            match routes.get_mut(route) {
                Some(counts) => counts[class] += 1,
                None => {
                    let mut counts = [0; 5];
                    counts[class] = 1;
                    routes.insert(route.to_string(), counts);
                }
            }
        }
        if let Some(id) = install_id {
            self.with_install(id, |c| {
                c.requests += 1;
                *[
                    &mut c.successes,
                    &mut c.redirects,
                    &mut c.client_errors,
                    &mut c.rate_limited,
                    &mut c.server_errors,
                ][class] += 1;
            });
        }
        let line = || {
            let record = CallRecord {
                ts_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0),
                install_id,
                route,
                status,
                latency_ms: (latency.as_secs_f64() * 1e6).round() / 1e3,
                error,
            };
            serde_json::to_string(&record).unwrap_or_default()
        };
        self.write(line);
    }

    /// Logs an event about `install_id` (ids and the event code only, never
    /// a secret), asked for by the installation `by` if any.
    pub fn event(&self, event: &str, install_id: &str, by: Option<&str>) {
        self.event_because(event, install_id, by, None);
    }

    /// [`Observer::event`] with a reason code (a failure's).
    pub fn event_because(&self, event: &str, install_id: &str, by: Option<&str>, reason: Option<&str>) {
        let line = || {
            let record = EventRecord {
                ts_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0),
                event,
                install_id,
                by,
                reason,
            };
            serde_json::to_string(&record).unwrap_or_default()
        };
        self.write(line);
    }

    fn with_install(&self, install_id: &str, update: impl FnOnce(&mut InstallCounters)) {
        let mut map = self.per_install.lock().unwrap_or_else(|e| e.into_inner());
        // Ids come from requests, unknown ones too (a refused registration,
        // a forged uninstall ticket): past the cap they are counted
        // together, so no caller can grow the map (or the Prometheus series)
        // without bound.
        let key = if map.contains_key(install_id) || map.len() < MAX_TRACKED_INSTALLATIONS {
            install_id
        } else {
            OTHER_INSTALLATIONS
        };
        match map.get_mut(key) {
            Some(c) => update(c),
            None => update(map.entry(key.to_string()).or_default()),
        }
    }

    fn write(&self, line: impl FnOnce() -> String) {
        match &self.sink {
            LogSink::Stderr => eprintln!("{}", line()),
            LogSink::Memory(lines) => lines.lock().unwrap_or_else(|e| e.into_inner()).push(line()),
            LogSink::Off => {}
        }
    }

    /// Records the cost of one verification.
    pub fn verification(&self, verify: Duration, lookup: Duration) {
        self.verify.observe(verify.saturating_sub(lookup));
        self.lookup.observe(lookup);
    }

    /// Records a successful refresh.
    pub fn refreshed(&self, install_id: &str) {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        self.with_install(install_id, |c| c.refreshes += 1);
    }

    /// Records a failed Stora refresh of `install_id`. `reason` is one of
    /// `invalid_grant` (Stora says the grant is gone), `stora_unavailable`
    /// (Stora not reached, or an unexpected answer), `rate_limited` (Stora
    /// answered 429) or `storage` (the database failed around the refresh);
    /// any other static code is counted under its own name.
    pub fn refresh_failed(&self, install_id: &str, reason: &'static str) {
        *self.refresh_failures.lock().unwrap_or_else(|e| e.into_inner()).entry(reason).or_default() += 1;
        self.with_install(install_id, |c| *c.refresh_failures.entry(reason).or_default() += 1);
    }

    /// Records that Stora rotated `install_id`'s tokens but the new pair
    /// could not be saved: the old refresh token is spent, so the grant is
    /// probably lost. Counted, and logged loudly — one line at level
    /// `error`, event `rotation_lost`, the installation id (never a token).
    pub fn rotation_lost(&self, install_id: &str) {
        self.rotations_lost.fetch_add(1, Ordering::Relaxed);
        self.with_install(install_id, |c| c.rotations_lost += 1);
        let line = || {
            let record = AlertRecord {
                ts_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0),
                level: "error",
                event: "rotation_lost",
                install_id,
            };
            serde_json::to_string(&record).unwrap_or_default()
        };
        self.write(line);
    }

    /// Records a signed request of `install_id` refused as a replay (its
    /// nonce was already seen within the window).
    pub fn replay_refused(&self, install_id: &str) {
        self.replays_refused.fetch_add(1, Ordering::Relaxed);
        self.with_install(install_id, |c| c.replays_refused += 1);
    }

    /// Updates the webhook counters.
    pub fn webhooks(&self, update: impl FnOnce(&mut WebhookCounters)) {
        update(&mut self.webhooks.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Records a delivery refused for `reason` (one of [`WebhookCounters::refused`]'s).
    pub fn webhook_refused(&self, reason: &'static str) {
        self.webhooks(|w| *w.refused.entry(reason).or_default() += 1);
    }

    /// Records an event queued for `install_id`.
    pub fn event_queued(&self, install_id: &str) {
        self.webhooks(|w| w.queued += 1);
        self.with_install(install_id, |c| c.events_queued += 1);
    }

    /// Counters of one installation.
    pub fn install(&self, install_id: &str) -> InstallCounters {
        let map = self.per_install.lock().unwrap_or_else(|e| e.into_inner());
        map.get(install_id).cloned().unwrap_or_default()
    }

    /// Counters of every installation seen.
    pub fn installs(&self) -> BTreeMap<String, InstallCounters> {
        self.per_install.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets an installation's counters (deregistered).
    pub fn forget(&self, install_id: &str) {
        self.per_install.lock().unwrap_or_else(|e| e.into_inner()).remove(install_id);
    }

    /// Broker-wide figures.
    pub fn totals(&self) -> Totals {
        let (verify, lookup) = (self.verify.snapshot(), self.lookup.snapshot());
        Totals {
            requests: self.requests.load(Ordering::Relaxed),
            verifications: verify.count(),
            verify_mean_us: verify.mean_us(),
            secret_lookup_mean_us: lookup.mean_us(),
            refreshes: self.refreshes.load(Ordering::Relaxed),
            refresh_failures: self.refresh_failures.lock().unwrap_or_else(|e| e.into_inner()).values().sum(),
            rotations_lost: self.rotations_lost.load(Ordering::Relaxed),
            replays_refused: self.replays_refused.load(Ordering::Relaxed),
        }
    }

    /// Every counter, for the Prometheus exposition.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            totals: self.totals(),
            routes: self.per_route.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            installs: self.installs(),
            refresh_failures: self.refresh_failures.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            verification: self.verify.snapshot(),
            secret_lookup: self.lookup.snapshot(),
            webhooks: self.webhooks.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_installation_counters_are_bounded() {
        let observer = Observer::new(LogSink::Off);
        for i in 0..MAX_TRACKED_INSTALLATIONS + 10 {
            observer.replay_refused(&format!("ins_{i}"));
        }
        let installs = observer.installs();
        assert_eq!(installs.len(), MAX_TRACKED_INSTALLATIONS + 1, "the cap, and one entry for the rest");
        assert_eq!(installs[OTHER_INSTALLATIONS].replays_refused, 10);
        observer.replay_refused("ins_0");
        assert_eq!(observer.install("ins_0").replays_refused, 2, "a tracked installation is still counted");
    }

    #[test]
    fn a_lost_rotation_is_counted_and_logged_loudly() {
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let observer = Observer::new(LogSink::Memory(lines.clone()));
        observer.refresh_failed("ins_a", "storage");
        observer.rotation_lost("ins_a");
        observer.replay_refused("ins_b");
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1, "one line, for the lost rotation: {lines:?}");
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(
            (&line["level"], &line["event"], &line["install_id"]),
            (&"error".into(), &"rotation_lost".into(), &"ins_a".into())
        );
        let totals = observer.totals();
        assert_eq!((totals.refresh_failures, totals.rotations_lost, totals.replays_refused), (1, 1, 1));
        let text = crate::metrics::render_snapshot(&observer.snapshot(), None, &BTreeMap::new());
        for sample in [
            "tessera_broker_rotations_lost_total 1\n",
            "tessera_broker_installation_rotations_lost_total{install_id=\"ins_a\"} 1\n",
            "tessera_broker_refresh_failures_total{reason=\"storage\"} 1\n",
            "tessera_broker_installation_refresh_failures_total{install_id=\"ins_a\",reason=\"storage\"} 1\n",
            "tessera_broker_installation_replays_refused_total{install_id=\"ins_b\"} 1\n",
        ] {
            assert!(text.contains(sample), "{sample} missing from:\n{text}");
        }
        assert!(!text.contains("tessera_broker_installations{"), "no gauge when the count could not be read");
    }
}

//! Observability: one structured log line per call and per-installation
//! counters.
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
}

/// Counters for one installation.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InstallCounters {
    /// Calls answered.
    pub requests: u64,
    /// 4xx answers other than 429.
    pub client_errors: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// 5xx answers.
    pub server_errors: u64,
    /// Successful Stora refreshes.
    pub refreshes: u64,
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
}

/// Collects log lines and counters.
#[derive(Debug, Default)]
pub struct Observer {
    sink: LogSink,
    per_install: Mutex<BTreeMap<String, InstallCounters>>,
    requests: AtomicU64,
    verifications: AtomicU64,
    verify_ns: AtomicU64,
    lookup_ns: AtomicU64,
    refreshes: AtomicU64,
}

impl Observer {
    /// An observer writing to `sink`.
    pub fn new(sink: LogSink) -> Observer {
        Observer { sink, ..Observer::default() }
    }

    /// Records and logs one call.
    pub fn call(&self, route: &str, install_id: Option<&str>, status: u16, latency: Duration, error: Option<&str>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(id) = install_id {
            let mut map = self.per_install.lock().unwrap_or_else(|e| e.into_inner());
            let c = map.entry(id.to_string()).or_default();
            c.requests += 1;
            match status {
                429 => c.rate_limited += 1,
                400..=499 => c.client_errors += 1,
                500..=599 => c.server_errors += 1,
                _ => {}
            }
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
        let line = || {
            let record = EventRecord {
                ts_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0),
                event,
                install_id,
                by,
            };
            serde_json::to_string(&record).unwrap_or_default()
        };
        self.write(line);
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
        self.verifications.fetch_add(1, Ordering::Relaxed);
        self.verify_ns.fetch_add(verify.saturating_sub(lookup).as_nanos() as u64, Ordering::Relaxed);
        self.lookup_ns.fetch_add(lookup.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Records a successful refresh.
    pub fn refreshed(&self, install_id: &str) {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let mut map = self.per_install.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(install_id.to_string()).or_default().refreshes += 1;
    }

    /// A refresh of `install_id`'s grant failed (`reason`: `invalid_grant`,
    /// `stora_unavailable`, `rate_limited`, `storage`).
    pub fn refresh_failed(&self, install_id: &str, reason: &'static str) {
        let _ = (install_id, reason);
    }

    /// A rotated token pair could not be saved (or was lost to a crash):
    /// the grant is lost. Loud: an error log line.
    pub fn rotation_lost(&self, install_id: &str) {
        self.event("rotation_lost", install_id, None);
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
        let n = self.verifications.load(Ordering::Relaxed);
        let mean = |ns: &AtomicU64| {
            if n == 0 { 0.0 } else { ns.load(Ordering::Relaxed) as f64 / n as f64 / 1e3 }
        };
        Totals {
            requests: self.requests.load(Ordering::Relaxed),
            verifications: n,
            verify_mean_us: mean(&self.verify_ns),
            secret_lookup_mean_us: mean(&self.lookup_ns),
            refreshes: self.refreshes.load(Ordering::Relaxed),
        }
    }
}

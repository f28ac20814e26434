//! `GET /metrics`: the [`Observer`]'s counters in the Prometheus text
//! exposition format (version 0.0.4), for a partner's alerting.
//!
//! The counters are **per process**: each broker instance counts what it
//! handled since it started, and Prometheus scrapes every instance (sum them
//! in the query: `sum by (install_id) (rate(…[5m]))`). Only the
//! installations-by-status gauge is read from the shared database, so every
//! instance reports the same figure for it.
//!
//! Nothing here carries a secret: label values are route templates, status
//! classes, installation ids (public), refresh-failure reasons, Stora
//! account ids and installation statuses.
//!
//! [`Observer`]: crate::observe::Observer

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::App;
use crate::observe::{CLASSES, Snapshot};

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the histogram buckets: from a fast verification
/// (~20 µs) to a slow secret lookup on a loaded database.
pub const BUCKETS: [f64; 10] = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1];

/// A latency histogram with fixed [`BUCKETS`]: lock-free, one atomic add
/// per bucket hit.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

/// A histogram read at one moment.
#[derive(Clone, Debug, Default)]
pub struct HistogramSnapshot {
    /// Cumulative counts: `cumulative[i]` observations took at most
    /// `BUCKETS[i]`; the last is every observation (`+Inf`, the count).
    pub cumulative: Vec<u64>,
    /// Sum of the observations, seconds.
    pub sum_secs: f64,
}

impl HistogramSnapshot {
    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Mean observation in microseconds (0 when there is none).
    pub fn mean_us(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            n => self.sum_secs * 1e6 / n as f64,
        }
    }
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = BUCKETS.iter().position(|&le| secs <= le).unwrap_or(BUCKETS.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The counts made cumulative. The count is the last bucket's, so the
    /// exposition stays consistent (`+Inf` bucket == `_count`) even while
    /// observations land during the read.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let cumulative = self
            .counts
            .iter()
            .map(|c| {
                total += c.load(Ordering::Relaxed);
                total
            })
            .collect();
        HistogramSnapshot { cumulative, sum_secs: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9 }
    }
}

/// Escapes a label value: backslash, double quote and line feed, as the
/// format requires.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Writes one exposition: families (`# HELP`, `# TYPE`) then their samples.
#[derive(Default)]
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // HELP text escapes backslash and line feed only.
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
            let _ = write!(self.0, "{{{}}}", labels.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn histogram(&mut self, name: &str, help: &str, h: &HistogramSnapshot) {
        self.family(name, "histogram", help);
        let bucket = format!("{name}_bucket");
        for (le, n) in BUCKETS.iter().zip(&h.cumulative) {
            self.sample(&bucket, &[("le", &le.to_string())], n);
        }
        self.sample(&bucket, &[("le", "+Inf")], h.count());
        self.sample(&format!("{name}_sum"), &[], h.sum_secs);
        self.sample(&format!("{name}_count"), &[], h.count());
    }
}

/// The refresh-failure reasons always exposed (at 0 until they happen), so
/// that an alert's `rate()` has a series from the start.
pub const REFRESH_FAILURE_REASONS: [&str; 4] = ["invalid_grant", "stora_unavailable", "rate_limited", "storage"];

/// The webhook refusal reasons always exposed (at 0 until they happen).
pub const WEBHOOK_REFUSALS: [&str; 6] =
    ["unknown_hook", "too_large", "signature_invalid", "signature_expired", "invalid_request", "storage"];

/// The exposition of `app`'s counters: the observer's, the pacer's, and
/// the installations per status (a database read; `None` when it failed,
/// then the gauge is left out rather than reported as zero).
pub fn render(app: &App) -> String {
    let counts = app.store.installation_counts().ok();
    let mut text = render_snapshot(&app.observer.snapshot(), counts.as_deref(), &app.pacer.stats());
    text.push_str(&render_pushes(&app.pushes));
    text
}

/// The pushes of events to sites ([`crate::push`]).
fn render_pushes(pushes: &crate::push::Pushes) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let mut out = Exposition::default();
    for (name, help, value) in [
        ("tessera_broker_events_pushed_total", "Stora events pushed to a site (a 2xx answer).", &pushes.delivered),
        (
            "tessera_broker_event_pushes_failed_total",
            "Pushes given up after every attempt, or skipped while too many were under way (the pull still brings the event).",
            &pushes.failed,
        ),
    ] {
        out.family(name, "counter", help);
        out.sample(name, &[], value.load(Relaxed));
    }
    out.0
}

/// [`render`] from values already read.
pub fn render_snapshot(
    s: &Snapshot,
    installations: Option<&[(String, i64)]>,
    pacing: &std::collections::BTreeMap<String, crate::pacing::PacingStats>,
) -> String {
    let mut out = Exposition::default();

    out.family(
        "tessera_broker_requests_total",
        "counter",
        "Calls answered by this process, by route and status class.",
    );
    for (route, by_class) in &s.routes {
        for (class, n) in CLASSES.iter().zip(by_class) {
            out.sample("tessera_broker_requests_total", &[("route", route), ("class", class)], n);
        }
    }

    out.family(
        "tessera_broker_installation_responses_total",
        "counter",
        "Answers to calls of one installation, by status class (4xx excludes 429).",
    );
    for (id, c) in &s.installs {
        for (class, n) in CLASSES.iter().zip(c.by_class()) {
            out.sample("tessera_broker_installation_responses_total", &[("install_id", id), ("class", class)], n);
        }
    }

    out.family("tessera_broker_refreshes_total", "counter", "Successful Stora token refreshes.");
    out.sample("tessera_broker_refreshes_total", &[], s.totals.refreshes);
    out.family(
        "tessera_broker_installation_refreshes_total",
        "counter",
        "Successful Stora token refreshes of one installation.",
    );
    for (id, c) in &s.installs {
        out.sample("tessera_broker_installation_refreshes_total", &[("install_id", id)], c.refreshes);
    }

    out.family("tessera_broker_refresh_failures_total", "counter", "Failed Stora token refreshes, by reason.");
    let mut reasons: std::collections::BTreeMap<&str, u64> = REFRESH_FAILURE_REASONS.iter().map(|r| (*r, 0)).collect();
    for (reason, n) in &s.refresh_failures {
        reasons.insert(reason, *n);
    }
    for (reason, n) in &reasons {
        out.sample("tessera_broker_refresh_failures_total", &[("reason", reason)], n);
    }
    out.family(
        "tessera_broker_installation_refresh_failures_total",
        "counter",
        "Failed Stora token refreshes of one installation, by reason.",
    );
    for (id, c) in &s.installs {
        for (reason, n) in &c.refresh_failures {
            out.sample(
                "tessera_broker_installation_refresh_failures_total",
                &[("install_id", id), ("reason", reason)],
                n,
            );
        }
    }

    out.family(
        "tessera_broker_rotations_lost_total",
        "counter",
        "Rotated token pairs Stora issued that could not be saved (the grant may be lost).",
    );
    out.sample("tessera_broker_rotations_lost_total", &[], s.totals.rotations_lost);
    out.family("tessera_broker_replays_refused_total", "counter", "Signed requests refused as replays.");
    out.sample("tessera_broker_replays_refused_total", &[], s.totals.replays_refused);
    for (name, help, value) in [
        (
            "tessera_broker_installation_rotations_lost_total",
            "Rotated token pairs of one installation that could not be saved.",
            (|c: &crate::observe::InstallCounters| c.rotations_lost) as fn(&_) -> u64,
        ),
        (
            "tessera_broker_installation_replays_refused_total",
            "Signed requests of one installation refused as replays.",
            |c| c.replays_refused,
        ),
    ] {
        out.family(name, "counter", help);
        for (id, c) in s.installs.iter().filter(|(_, c)| value(c) > 0) {
            out.sample(name, &[("install_id", id)], value(c));
        }
    }

    out.histogram(
        "tessera_broker_verification_seconds",
        "Signature verification time (checks, digest, MAC, replay store), excluding the secret lookup.",
        &s.verification,
    );
    out.histogram(
        "tessera_broker_secret_lookup_seconds",
        "Time to load and unseal the signer's secret during a verification.",
        &s.secret_lookup,
    );

    let w = &s.webhooks;
    out.family("tessera_broker_webhooks_received_total", "counter", "Stora webhook deliveries received.");
    out.sample("tessera_broker_webhooks_received_total", &[], w.received);
    out.family(
        "tessera_broker_webhooks_refused_total",
        "counter",
        "Stora webhook deliveries refused, by reason (nothing queued).",
    );
    let mut refused: std::collections::BTreeMap<&str, u64> = WEBHOOK_REFUSALS.iter().map(|r| (*r, 0)).collect();
    for (reason, n) in &w.refused {
        refused.insert(reason, *n);
    }
    for (reason, n) in &refused {
        out.sample("tessera_broker_webhooks_refused_total", &[("reason", reason)], n);
    }
    for (name, help, value) in [
        (
            "tessera_broker_webhook_duplicates_total",
            "Deliveries of a Stora event already queued (answered 200, not queued again).",
            w.duplicates,
        ),
        ("tessera_broker_events_queued_total", "Stora events queued for the plugins to pull.", w.queued),
        ("tessera_broker_webhook_registrations_total", "Webhook endpoints registered at Stora.", w.registrations),
        (
            "tessera_broker_webhook_registration_failures_total",
            "Webhook endpoint registrations at Stora that failed (retried on the installation's next pull).",
            w.registration_failures,
        ),
    ] {
        out.family(name, "counter", help);
        out.sample(name, &[], value);
    }
    out.family(
        "tessera_broker_installation_events_queued_total",
        "counter",
        "Stora events queued for one installation.",
    );
    for (id, c) in s.installs.iter().filter(|(_, c)| c.events_queued > 0) {
        out.sample("tessera_broker_installation_events_queued_total", &[("install_id", id)], c.events_queued);
    }

    if let Some(counts) = installations {
        out.family("tessera_broker_installations", "gauge", "Installations in the database, by status.");
        for status in ["active", "pending_ownership", "disabled"] {
            let n = counts.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
            out.sample("tessera_broker_installations", &[("status", status)], n);
        }
    }

    out.family(
        "tessera_broker_pacing_calls_total",
        "counter",
        "Calls to Stora per operator (Stora account): sent, paced (waited for a slot), refused (answered 429 by the broker), noted (made outside the pacer).",
    );
    for (operator, p) in pacing {
        for (outcome, n) in [("sent", p.sent), ("paced", p.paced), ("refused", p.refused), ("noted", p.noted)] {
            out.sample("tessera_broker_pacing_calls_total", &[("operator", operator), ("outcome", outcome)], n);
        }
    }
    out.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
        let mut out = Exposition::default();
        out.sample("m", &[("route", "GET /a\"\n")], 1);
        assert_eq!(out.0, "m{route=\"GET /a\\\"\\n\"} 1\n");
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::default();
        for us in [5, 20, 20, 900, 500_000] {
            h.observe(Duration::from_micros(us));
        }
        let s = h.snapshot();
        // le=10µs: 1, le=25µs: 3, …, le=1ms: 4, le=0.1s: 4, +Inf: 5.
        assert_eq!(s.cumulative[0], 1);
        assert_eq!(s.cumulative[1], 3);
        assert_eq!(s.cumulative[6], 4);
        assert_eq!(s.cumulative[BUCKETS.len() - 1], 4);
        assert_eq!(s.count(), 5);
        assert!((s.sum_secs - 0.500945).abs() < 1e-9, "{}", s.sum_secs);
        let mut out = Exposition::default();
        out.histogram("t_seconds", "help", &s);
        assert!(out.0.contains("t_seconds_bucket{le=\"0.00001\"} 1\n"), "{}", out.0);
        assert!(out.0.contains("t_seconds_bucket{le=\"+Inf\"} 5\nt_seconds_sum 0.500945\nt_seconds_count 5\n"));
    }
}

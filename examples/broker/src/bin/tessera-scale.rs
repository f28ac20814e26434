//! `tessera-scale`: the reference broker scaled out (issue 19), measured on
//! loopback. Starts a fake Stora whose access tokens expire every few
//! seconds, K `tessera-broker` **processes** on one database (a throwaway
//! PostgreSQL database, or one SQLite file for K = 1) behind one front that
//! sends each request to the next process, registers and connects N
//! installations, then drives them for S seconds: W workers per installation
//! (the concurrent PHP workers of one site, sharing its stored state) call
//! `GET /api/orders` without pause, so a grant's refresh is always raced by
//! calls on other processes. Every R-th call of a worker is a replay probe:
//! the signed request goes to one process directly, then the very same bytes
//! to another.
//!
//! It prints calls/s, p50/p99, refreshes at Stora per access-token expiry
//! (from the fake's per-grant refresh records: a refresh made while the
//! replaced token was not yet due is one too many), lost grants, replays
//! accepted and refresh-token reuse at Stora — the last three must be 0 and
//! the ratio exactly 1; the exit status is 1 otherwise.
//!
//! ```text
//! tessera-scale [--backend sqlite|postgres|both] [--instances K] [--installations N]
//!               [--workers W] [--secs S] [--access-ttl SECS] [--margin SECS]
//!               [--replay-every R] [--database-url URL]
//! ```
//!
//! PostgreSQL: `--database-url` or `DATABASE_URL` names a server
//! (`scripts/scale.sh` starts a throwaway one with `scripts/pg.sh`); each run
//! gets a database of its own there. The `tessera-broker` binary is the one
//! next to this one. Loopback only; the brokers stop by themselves
//! (`TESSERA_MAX_LIFETIME`) should this tool die, and the tool gives up after
//! S + 240 seconds whatever happens.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use tessera_broker::fleet::Fleet;
use tessera_broker::harness::redact_url;
use tessera_broker::plugin_host::{Browser, Decision, PluginHost, registration};
use tessera_core::{ApiRequest, Companion, OsEntropy, SignOptions};

const USAGE: &str = "usage: tessera-scale [--backend sqlite|postgres|both] [--instances K] [--installations N] \
[--workers W] [--secs S] [--access-ttl SECS] [--margin SECS] [--replay-every R] [--database-url URL]";

#[derive(Clone)]
struct Args {
    backends: Vec<&'static str>,
    instances: Option<usize>,
    installations: usize,
    workers: usize,
    secs: u64,
    access_ttl: i64,
    margin: i64,
    replay_every: u64,
    database_url: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        backends: vec!["postgres"],
        instances: None,
        installations: 16,
        workers: 3,
        secs: 20,
        access_ttl: 6,
        margin: 2,
        replay_every: 20,
        database_url: std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()),
    };
    let mut it = std::env::args().skip(1);
    let bad = |msg: &str| -> ! {
        eprintln!("tessera-scale: {msg}\n{USAGE}");
        std::process::exit(2)
    };
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it.next().unwrap_or_else(|| bad(&format!("{flag} needs a value")));
        let number = |lo: u64, hi: u64| -> u64 {
            value.parse::<u64>().ok().filter(|v| (lo..=hi).contains(v)).unwrap_or_else(|| {
                bad(&format!("{flag} takes a whole number from {lo} to {hi}"));
            })
        };
        match flag.as_str() {
            "--backend" => {
                args.backends = match value.as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    "both" => vec!["sqlite", "postgres"],
                    _ => bad("--backend takes sqlite, postgres or both"),
                }
            }
            "--instances" => args.instances = Some(number(1, 16) as usize),
            "--installations" => args.installations = number(1, 512) as usize,
            "--workers" => args.workers = number(1, 16) as usize,
            "--secs" => args.secs = number(1, 600),
            "--access-ttl" => args.access_ttl = number(2, 3600) as i64,
            "--margin" => args.margin = number(0, 3599) as i64,
            "--replay-every" => args.replay_every = number(0, 1_000_000),
            "--database-url" => args.database_url = Some(value),
            _ => bad(&format!("unknown flag {flag}")),
        }
    }
    if args.margin >= args.access_ttl {
        bad("--margin must be shorter than --access-ttl");
    }
    if args.backends.contains(&"postgres") && args.database_url.is_none() {
        bad("PostgreSQL needs --database-url or DATABASE_URL (scripts/scale.sh starts a server)");
    }
    args
}

/// What one run measured.
#[derive(Default)]
struct Report {
    label: String,
    calls: u64,
    failed: u64,
    elapsed: f64,
    p50_ms: f64,
    p99_ms: f64,
    refreshes: u64,
    due_refreshes: u64,
    expected_refreshes: f64,
    lost_grants: u64,
    replays_probed: u64,
    replays_accepted: u64,
    refresh_reuse: u64,
    invalid_grants: u64,
    errors: Vec<(String, u64)>,
    per_instance: Vec<u64>,
    secret_lookup_us: f64,
    verify_us: f64,
}

impl Report {
    fn per_expiry(&self) -> f64 {
        if self.due_refreshes == 0 { 0.0 } else { self.refreshes as f64 / self.due_refreshes as f64 }
    }

    fn ok(&self) -> bool {
        self.lost_grants == 0
            && self.replays_accepted == 0
            && self.refresh_reuse == 0
            && self.refreshes == self.due_refreshes
            && self.due_refreshes > 0
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// The outcome of one worker's run.
#[derive(Default)]
struct WorkerResult {
    latencies: Vec<Duration>,
    failed: u64,
    errors: Vec<String>,
    replays_probed: u64,
    replays_accepted: u64,
    lost: bool,
}

/// One run: `instances` broker processes on `backend`.
fn run(args: &Args, backend: &'static str, instances: usize) -> Result<Report, String> {
    let stora_config = fake_stora::Config {
        access_ttl_secs: args.access_ttl,
        // The broker is measured, not a limiter: Stora's limits off here,
        // the brokers' pacing off below (scripts/load-pacing.sh measures it).
        rate_per_sec: 0,
        rate_per_min: 0,
        ..fake_stora::Config::default()
    };
    let postgres = if backend == "postgres" { args.database_url.as_deref() } else { None };
    let margin = args.margin.to_string();
    let extra = [
        ("TESSERA_PACE_PER_SEC", "0"),
        ("TESSERA_PACE_PER_MIN", "0"),
        ("TESSERA_REFRESH_MARGIN_SECS", margin.as_str()),
        // Closed-loop workers sign far more often than a plugin may call
        // Stora (60/min): room for every nonce of the run.
        ("TESSERA_REPLAY_CAPACITY", "1000000"),
    ];
    let fleet = Fleet::new(stora_config, postgres, &extra, args.secs + 300)?;
    let (stora, front) = (&fleet.stora, &fleet.front);
    let mut brokers = Vec::new();
    for i in 0..instances {
        brokers.push(fleet.start_broker(&i.to_string(), &[])?);
    }
    fleet.route_to(&brokers.iter().collect::<Vec<_>>());
    let urls: Vec<&str> = brokers.iter().map(|b| b.url.as_str()).collect();
    let label = match postgres {
        Some(_) => format!("PostgreSQL, {instances} processes"),
        None => format!("SQLite, {instances} process{}", if instances == 1 { "" } else { "es" }),
    };
    eprintln!("tessera-scale: {label}: brokers {urls:?} behind {}", front.url());

    // Installations: registered and connected, each its own operator.
    let setup = Instant::now();
    let browser = Browser::default();
    let mut states = Vec::new();
    for i in 0..args.installations {
        let site = format!("https://shop-{i}.scale.example");
        let mut plugin = PluginHost::new(front.url()).map_err(|e| e.to_string())?;
        plugin.register(&registration(&site, "wordpress")).map_err(|e| format!("register: {e}"))?;
        let return_url = format!("{site}/wp-admin/options-general.php?page=tessera");
        plugin
            .connect(&browser, &return_url, None, Decision::Approve(&format!("opr_scale_{i}")))
            .map_err(|e| format!("connect: {e}"))?;
        states.push(plugin.companion.to_json());
    }
    eprintln!("tessera-scale: {} installations connected in {:.1} s", states.len(), setup.elapsed().as_secs_f64());

    // The load.
    let workers = states.len() * args.workers;
    let barrier = Arc::new(Barrier::new(workers + 1));
    let probe_target = Arc::new(AtomicU64::new(0));
    let instance_urls: Arc<Vec<String>> = Arc::new(brokers.iter().map(|b| b.url.clone()).collect());
    let deadline = Arc::new(Mutex::new(Instant::now()));
    let mut threads = Vec::new();
    for state in &states {
        for _ in 0..args.workers {
            let (state, barrier, probe_target, urls, deadline) =
                (state.clone(), barrier.clone(), probe_target.clone(), instance_urls.clone(), deadline.clone());
            let (replay_every, front_url) = (args.replay_every, front.url().to_string());
            threads.push(std::thread::spawn(move || {
                let mut plugin = PluginHost::from_companion(Companion::from_json(&state).expect("state"));
                let mut out = WorkerResult::default();
                barrier.wait();
                let until = *deadline.lock().unwrap_or_else(|e| e.into_inner());
                let mut n = 0u64;
                while Instant::now() < until && !out.lost {
                    n += 1;
                    let started = Instant::now();
                    if replay_every > 0 && n.is_multiple_of(replay_every) {
                        // The same signed bytes to two processes, directly.
                        let first = probe_target.fetch_add(1, Ordering::Relaxed) as usize % urls.len();
                        let second = (first + 1) % urls.len();
                        let req = plugin.companion.sign_request(
                            &ApiRequest::new("GET", "/api/orders"),
                            &SignOptions { now: plugin.now(), ..Default::default() },
                            &mut OsEntropy,
                        );
                        let Ok(mut req) = req else {
                            out.failed += 1;
                            continue;
                        };
                        req.url = req.url.replacen(&front_url, &urls[first], 1);
                        match plugin.send(&req) {
                            Ok(r) if r.status == 200 => out.latencies.push(started.elapsed()),
                            _ => {
                                // A refresh under way answers 503 for a
                                // moment: not a probe then.
                                out.failed += 1;
                                continue;
                            }
                        }
                        req.url = req.url.replacen(&urls[first], &urls[second], 1);
                        out.replays_probed += 1;
                        if plugin.send(&req).is_ok_and(|r| r.status < 300) {
                            out.replays_accepted += 1;
                        }
                        continue;
                    }
                    match plugin.call(ApiRequest::new("GET", "/api/orders")) {
                        Ok(r) if r.status == 200 => out.latencies.push(started.elapsed()),
                        Ok(r) => {
                            out.failed += 1;
                            out.errors.push(format!("status {}", r.status));
                        }
                        Err(e) => {
                            out.failed += 1;
                            let code = e.reason().unwrap_or(e.code()).to_string();
                            out.lost |= code == "stora_reconnect_required";
                            out.errors.push(code);
                        }
                    }
                }
                out
            }));
        }
    }
    *deadline.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now() + Duration::from_secs(args.secs);
    barrier.wait();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut report = Report { label, ..Report::default() };
    let mut errors: std::collections::BTreeMap<String, u64> = Default::default();
    let mut lost = vec![false; states.len()];
    for (i, t) in threads.into_iter().enumerate() {
        let out = t.join().map_err(|_| "a worker panicked".to_string())?;
        latencies.extend(out.latencies);
        report.failed += out.failed;
        report.replays_probed += out.replays_probed;
        report.replays_accepted += out.replays_accepted;
        for e in out.errors {
            *errors.entry(e).or_default() += 1;
        }
        // An installation is lost when any of its workers saw it lost.
        lost[i / args.workers] |= out.lost;
    }
    report.elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    report.calls = latencies.len() as u64;
    report.p50_ms = percentile(&latencies, 50.0);
    report.p99_ms = percentile(&latencies, 99.0);
    report.errors = errors.into_iter().collect();

    // After the load: every installation must still work, once more.
    let mut still_lost = 0;
    for state in &states {
        let mut plugin = PluginHost::from_companion(Companion::from_json(state).expect("state"));
        if plugin.call(ApiRequest::new("GET", "/api/orders")).map(|r| r.status) != Ok(200) {
            still_lost += 1;
        }
    }

    // Stora's side: revoked grants, reuse, and each refresh against the
    // life of the access token it replaced.
    let counters = stora.counters();
    report.refresh_reuse = counters.refresh_reuse;
    report.invalid_grants = counters.invalid_grants;
    let grants = stora.store().grants(None);
    let revoked = grants.iter().filter(|g| g.revoked).count() as u64;
    let lost_in_load = lost.iter().filter(|l| **l).count() as u64;
    report.lost_grants = revoked.max(still_lost).max(lost_in_load);
    // Due: the replaced token had at most the margin left (its expiry is
    // whole seconds: one more second of slack).
    let due_within_ms = (args.margin + 1) * 1000;
    for g in &grants {
        report.refreshes += g.refreshes;
        report.due_refreshes +=
            g.refresh_records.iter().filter(|r| r.replaced_expires_at * 1000 - r.at_ms <= due_within_ms).count() as u64;
    }
    // How many expiries the run should have seen, about: a grant is due
    // every (ttl - margin) seconds (printed, never checked).
    let every = (args.access_ttl - args.margin) as f64;
    report.expected_refreshes = grants.len() as f64 * (report.elapsed / every).floor();

    // Each process's own view: calls answered, verification and secret
    // lookup costs (the secret cache).
    for broker in &brokers {
        let metrics = fleet.metrics(broker);
        report.per_instance.push(metrics["totals"]["requests"].as_u64().unwrap_or(0));
        report.secret_lookup_us +=
            metrics["totals"]["secret_lookup_mean_us"].as_f64().unwrap_or(0.0) / instances as f64;
        report.verify_us += metrics["totals"]["verify_mean_us"].as_f64().unwrap_or(0.0) / instances as f64;
    }
    drop(brokers);
    drop(fleet);
    Ok(report)
}

fn print(reports: &[Report]) {
    let col = |f: &dyn Fn(&Report) -> String| reports.iter().map(|r| format!("{:>28}", f(r))).collect::<String>();
    println!();
    println!("{:34}{}", "", col(&|r| r.label.clone()));
    println!("{:34}{}", "calls answered 200", col(&|r| r.calls.to_string()));
    println!("{:34}{}", "calls/s", col(&|r| format!("{:.0}", r.calls as f64 / r.elapsed)));
    println!("{:34}{}", "latency p50 / p99 (ms)", col(&|r| format!("{:.2} / {:.2}", r.p50_ms, r.p99_ms)));
    println!("{:34}{}", "calls failed (retried by nobody)", col(&|r| r.failed.to_string()));
    println!("{:34}{}", "calls per process", col(&|r| format!("{:?}", r.per_instance)));
    println!(
        "{:34}{}",
        "refreshes at Stora (due)",
        col(&|r| format!("{} ({}; ~{:.0} expected)", r.refreshes, r.due_refreshes, r.expected_refreshes))
    );
    println!("{:34}{}", "refreshes per expiry (must be 1)", col(&|r| format!("{:.3}", r.per_expiry())));
    println!("{:34}{}", "lost grants (must be 0)", col(&|r| r.lost_grants.to_string()));
    println!(
        "{:34}{}",
        "replays accepted (must be 0)",
        col(&|r| format!("{} of {}", r.replays_accepted, r.replays_probed))
    );
    println!("{:34}{}", "refresh reuse at Stora (must be 0)", col(&|r| r.refresh_reuse.to_string()));
    println!("{:34}{}", "invalid_grant at Stora", col(&|r| r.invalid_grants.to_string()));
    println!("{:34}{}", "secret lookup mean (us)", col(&|r| format!("{:.1}", r.secret_lookup_us)));
    println!("{:34}{}", "verification mean (us)", col(&|r| format!("{:.1}", r.verify_us)));
    for r in reports {
        if !r.errors.is_empty() {
            println!("{}: failures by code: {:?}", r.label, r.errors);
        }
    }
}

fn main() {
    let args = parse_args();
    // Whatever happens, this tool stops (the brokers have their own limit).
    let limit = args.secs * args.backends.len() as u64 + 240;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(limit));
        eprintln!("tessera-scale: gave up after {limit} s");
        std::process::exit(3);
    });
    if let Some(url) = &args.database_url {
        eprintln!("tessera-scale: PostgreSQL server {}", redact_url(url));
    }
    eprintln!(
        "tessera-scale: {} installations x {} workers, {} s, access tokens live {} s, refresh margin {} s, replay probe every {} calls",
        args.installations, args.workers, args.secs, args.access_ttl, args.margin, args.replay_every
    );
    let mut reports = Vec::new();
    for backend in &args.backends {
        let instances = args.instances.unwrap_or(if *backend == "postgres" { 3 } else { 1 });
        match run(&args, backend, instances) {
            Ok(report) => reports.push(report),
            Err(e) => {
                eprintln!("tessera-scale: {backend}: {e}");
                std::process::exit(1);
            }
        }
    }
    print(&reports);
    if reports.iter().all(Report::ok) {
        println!(
            "\nall checks hold: one refresh per expiry, no grant lost, no replay accepted, no refresh token reused"
        );
    } else {
        println!("\nA CHECK FAILED (see the rows marked 'must be')");
        std::process::exit(1);
    }
}

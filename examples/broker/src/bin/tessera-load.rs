//! `tessera-load`: drives N concurrent installations through the reference
//! broker (loopback only, bounded in count and time) and prints requests/s,
//! latency percentiles and the verification cost per request.
//!
//! ```text
//! tessera-load [--installations N] [--calls M] [--max-seconds S]
//! ```
//!
//! Each installation registers (with the ownership proof), connects as its
//! own Stora operator and then makes M signed `GET /api/orders` calls in its
//! own thread: plugin signs → broker verifies, loads and unseals the grant,
//! forwards to the fake Stora → answer. The load runs twice, side by side:
//! with the broker's installations cache off (the baseline: each request
//! reads its installation's row and unseals its secret) and on. The fake Stora's per-operator rate
//! limits and the broker's pacing are switched off so the broker, not a
//! limiter, is measured (`pacing-load` measures the pacing).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use tessera_broker::harness::{Env, EnvOptions, LogChoice};
use tessera_broker::plugin_host::{Browser, Decision, PluginHost, registration};
use tessera_core::{ApiRequest, MemoryReplayStore, OsEntropy, SignOptions, Verifier};

struct Args {
    installations: usize,
    calls: usize,
    max_seconds: u64,
}

fn parse_args() -> Args {
    let mut args = Args { installations: 16, calls: 200, max_seconds: 60 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value: u64 = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| usage());
        match flag.as_str() {
            "--installations" => args.installations = value.clamp(1, 256) as usize,
            "--calls" => args.calls = value.clamp(1, 100_000) as usize,
            "--max-seconds" => args.max_seconds = value.clamp(1, 600),
            _ => usage(),
        }
    }
    args
}

fn usage() -> ! {
    eprintln!("usage: tessera-load [--installations N (1-256)] [--calls M per installation] [--max-seconds S (1-600)]");
    std::process::exit(2)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What one run of the load measured.
struct Phase {
    latencies: Vec<Duration>,
    errors: u64,
    elapsed: Duration,
    /// Mean verification time in the broker, without the secret lookup.
    verify_us: f64,
    /// Mean secret lookup (row + unseal, or the cache).
    lookup_us: f64,
}

/// The mean over the verifications between two readings of the totals.
fn mean_between(before: (f64, u64), after: (f64, u64)) -> f64 {
    let n = after.1.saturating_sub(before.1);
    if n == 0 { 0.0 } else { (after.0 * after.1 as f64 - before.0 * before.1 as f64) / n as f64 }
}

/// Every installation makes `args.calls` calls in its own thread, all
/// starting together; the plugins come back for the next run.
fn phase(app: &tessera_broker::App, plugins: Vec<PluginHost>, args: &Args) -> (Phase, Vec<PluginHost>) {
    let before = app.observer.totals();
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let barrier = Arc::new(Barrier::new(plugins.len() + 1));
    let threads: Vec<_> = plugins
        .into_iter()
        .map(|mut plugin| {
            let barrier = barrier.clone();
            let calls = args.calls;
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(calls);
                let mut errors = 0u64;
                barrier.wait();
                for _ in 0..calls {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let t = Instant::now();
                    match plugin.call(ApiRequest::new("GET", "/api/orders")) {
                        Ok(_) => latencies.push(t.elapsed()),
                        Err(_) => errors += 1,
                    }
                }
                (latencies, errors, plugin)
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let (mut latencies, mut errors, mut plugins) = (Vec::new(), 0, Vec::new());
    for t in threads {
        let (l, e, plugin) = t.join().expect("load thread");
        latencies.extend(l);
        errors += e;
        plugins.push(plugin);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let after = app.observer.totals();
    let verify_us =
        mean_between((before.verify_mean_us, before.verifications), (after.verify_mean_us, after.verifications));
    let lookup_us = mean_between(
        (before.secret_lookup_mean_us, before.verifications),
        (after.secret_lookup_mean_us, after.verifications),
    );
    (Phase { latencies, errors, elapsed, verify_us, lookup_us }, plugins)
}

fn main() {
    let args = parse_args();
    let stora = fake_stora::Config { rate_per_sec: 0, rate_per_min: 0, ..Default::default() };
    let env = Env::start(EnvOptions {
        require_ownership_proof: true,
        log: LogChoice::Off,
        stora,
        fault_proxy: false,
        resolver: None,
        // The broker itself is measured: no pacing (scripts/load-pacing.sh
        // measures the pacing).
        pacing: tessera_broker::pacing::Pacing::off(),
        ..EnvOptions::default()
    })
    .unwrap_or_else(|e| {
        eprintln!("tessera-load: cannot start the servers: {e}");
        std::process::exit(1)
    });
    println!(
        "tessera-load: {} installations x {} calls, loopback only (broker {}, fake Stora {})",
        args.installations,
        args.calls,
        env.broker.url(),
        env.stora.url()
    );

    // Each installation makes `calls` calls within minutes, far beyond what
    // Stora's rate limit lets a real plugin do: give the replay store a share
    // per installation that holds them all (the default is 1,000).
    *env.broker.app().replay.lock().unwrap_or_else(|e| e.into_inner()) = tessera_core::MemoryReplayStore::new(
        args.calls.max(tessera_core::internals::verify::DEFAULT_REPLAY_PER_INSTALLATION) + 1,
    );

    // Set up the installations.
    let setup = Instant::now();
    let browser = Browser::default();
    let mut plugins: Vec<PluginHost> = Vec::with_capacity(args.installations);
    for i in 0..args.installations {
        let mut plugin = env.plugin();
        plugin.register(&registration(env.site.url(), "wordpress")).expect("register");
        plugin
            .connect(&browser, &env.return_url(), None, Decision::Approve(&format!("opr_load_{i}")))
            .expect("connect");
        plugin.get_json("/api/orders").expect("warm-up call");
        plugins.push(plugin);
    }
    println!(
        "setup: {} installations registered and connected in {:.2} s",
        args.installations,
        setup.elapsed().as_secs_f64()
    );

    // The load, twice: the baseline reads every installation's row and
    // secret from the database; then the installations cache serves them.
    let app = env.broker.app();
    app.store.cache().set_enabled(false);
    let (baseline, plugins) = phase(app, plugins, &args);
    app.store.cache().set_enabled(true);
    let (cached, _plugins) = phase(app, plugins, &args);

    println!();
    println!("{:<28}{:>22}{:>22}", "", "cache off (baseline)", "installations cache");
    let row = |name: &str, f: &dyn Fn(&Phase) -> String| {
        println!("{name:<28}{:>22}{:>22}", f(&baseline), f(&cached));
    };
    row("requests ok / failed", &|p| format!("{} / {}", p.latencies.len(), p.errors));
    row("throughput (requests/s)", &|p| format!("{:.0}", p.latencies.len() as f64 / p.elapsed.as_secs_f64()));
    for (label, pct) in [("latency p50 (ms)", 50.0), ("latency p90 (ms)", 90.0), ("latency p99 (ms)", 99.0)] {
        row(label, &|p| format!("{:.2}", ms(percentile(&p.latencies, pct))));
    }
    row("verify in broker (us/req)", &|p| format!("{:.1}", p.verify_us));
    row("secret lookup (us/req)", &|p| format!("{:.1}", p.lookup_us));
    println!("(latency: plugin sign + broker + fake Stora, end to end; verify: signature, digest, MAC, replay store)");
    let errors = baseline.errors + cached.errors;

    // The verifier alone, single thread, no I/O.
    let mut plugin = env.plugin();
    plugin.register(&registration(env.site.url(), "wordpress")).expect("register");
    let secret = plugin.companion.state().installation().map(|i| i.secret.clone()).expect("secret");
    let now = plugin.now();
    let reqs: Vec<_> = (0..2000)
        .map(|_| {
            plugin
                .companion
                .sign_request(
                    &ApiRequest::json("POST", "/api/contacts", br#"{"name":"Load"}"#.to_vec()),
                    &SignOptions { now, ..Default::default() },
                    &mut OsEntropy,
                )
                .expect("sign")
        })
        .collect();
    let verifier = Verifier::default();
    let mut replay = MemoryReplayStore::new(10_000);
    let t = Instant::now();
    for req in &reqs {
        verifier.verify(req, now, &mut |_| Some(secret.clone()), &mut replay).expect("verifies");
    }
    let per = t.elapsed() / reqs.len() as u32;
    println!(
        "verify alone:    {:.1} us per request (tessera-core Verifier, one thread, 2000 signed POSTs)",
        per.as_secs_f64() * 1e6
    );
    let counters = env.stora.counters();
    println!(
        "fake Stora:      {} API requests, {} refreshes, {} rate-limited",
        counters.api_requests, counters.refreshes, counters.rate_limited
    );
    if errors > 0 {
        std::process::exit(1);
    }
}

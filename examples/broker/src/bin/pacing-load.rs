//! `pacing-load`: the broker's per-operator pacing under load (loopback only).
//!
//! ```text
//! pacing-load [--secs N] [--installations K] [--hammer]
//! ```
//!
//! Starts the fake Stora with Stora's limits (10/s, 60/min per operator) and
//! the broker with its default pacing, registers and connects K
//! installations (default 5) of ONE operator, then K threads call
//! `GET /api/orders` through the broker with no pause for N seconds
//! (default 75). A call the broker refuses (`429`, `Tessera-Origin: broker`)
//! is retried after its `Retry-After`, as the plugin does; `--hammer` retries
//! after 10 ms instead. Prints what was sent and answered, Stora's 429s (must
//! be 0), the Stora request rate against the 60/min ceiling and the latency
//! of the calls that waited for their slot. Exits 1 if Stora answered any
//! 429. Run through `scripts/load-pacing.sh`.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use tessera_broker::harness::{Env, EnvOptions, LogChoice};
use tessera_broker::pacing::Pacing;
use tessera_core::ApiRequest;

const OPERATOR: &str = "opr_pacing_load";
/// A 200 slower than this waited for its slot (an unqueued call through the
/// loopback broker and fake takes a few milliseconds).
const QUEUED_MS: u128 = 25;

struct Args {
    secs: u64,
    installations: usize,
    hammer: bool,
}

fn parse_args() -> Args {
    let mut args = Args { secs: 75, installations: 5, hammer: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--hammer" {
            args.hammer = true;
            continue;
        }
        let value: u64 = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| usage());
        match flag.as_str() {
            "--secs" => args.secs = value.clamp(1, 600),
            "--installations" => args.installations = value.clamp(1, 64) as usize,
            _ => usage(),
        }
    }
    args
}

fn usage() -> ! {
    eprintln!("usage: pacing-load [--secs N (1-600)] [--installations K (1-64)] [--hammer]");
    std::process::exit(2)
}

#[derive(Default)]
struct Tally {
    sent: u64,
    ok: u64,
    broker_429: u64,
    stora_429: u64,
    other: u64,
    queued: Vec<Duration>,
    unqueued: Vec<Duration>,
    /// When each 200 arrived (since the start of the run).
    answered_at: Vec<Duration>,
}

/// The most answers within any `window` (two pointers over sorted times).
fn busiest_window(sorted: &[Duration], window: Duration) -> usize {
    let mut start = 0;
    let mut best = 0;
    for (end, at) in sorted.iter().enumerate() {
        while *at - sorted[start] >= window {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

fn main() {
    let args = parse_args();
    let env = Env::start(EnvOptions {
        log: LogChoice::Off,
        stora: fake_stora::Config { rate_per_sec: 10, rate_per_min: 60, ..Default::default() },
        pacing: Pacing::default(),
        ..EnvOptions::default()
    })
    .unwrap_or_else(|e| {
        eprintln!("pacing-load: cannot start the servers: {e}");
        std::process::exit(1)
    });
    // Refused calls are verified (their nonces recorded) before they are
    // refused: room for all of them.
    *env.broker.app().replay.lock().unwrap_or_else(|e| e.into_inner()) = tessera_core::MemoryReplayStore::new(200_000);
    let plugins: Vec<_> =
        (0..args.installations).map(|_| env.connected_plugin(OPERATOR).expect("registers and connects")).collect();
    let pacing = &env.broker.app().config.pacing;
    println!(
        "pacing-load: {} installations of one operator, {} s, fake Stora limits 10/s 60/min, broker pacing {}/s {}/min (queue {} ms){}",
        args.installations,
        args.secs,
        pacing.per_sec,
        pacing.per_min,
        pacing.max_queue_ms,
        if args.hammer { ", refused calls retried after 10 ms" } else { ", Retry-After honoured" }
    );

    let before = env.stora.counters().operators.get(OPERATOR).cloned().unwrap_or_default();
    let barrier = Arc::new(Barrier::new(plugins.len() + 1));
    let run_started = Instant::now();
    let deadline = run_started + Duration::from_secs(args.secs) + Duration::from_millis(50);
    let threads: Vec<_> = plugins
        .into_iter()
        .map(|mut plugin| {
            let barrier = barrier.clone();
            let hammer = args.hammer;
            std::thread::spawn(move || {
                let mut tally = Tally::default();
                barrier.wait();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    tally.sent += 1;
                    let Ok(resp) = plugin.send_signed(&ApiRequest::new("GET", "/api/orders")) else {
                        tally.other += 1;
                        continue;
                    };
                    let took = t.elapsed();
                    let origin = resp.header("tessera-origin").unwrap_or("").to_string();
                    match (resp.status, origin.as_str()) {
                        (200, _) => {
                            tally.ok += 1;
                            tally.answered_at.push(run_started.elapsed());
                            if took.as_millis() >= QUEUED_MS {
                                tally.queued.push(took);
                            } else {
                                tally.unqueued.push(took);
                            }
                        }
                        (429, "broker") => {
                            tally.broker_429 += 1;
                            let secs: u64 = resp.header("retry-after").and_then(|v| v.parse().ok()).unwrap_or(1);
                            let pause = if hammer { Duration::from_millis(10) } else { Duration::from_secs(secs) };
                            std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                        }
                        (429, _) => tally.stora_429 += 1,
                        _ => tally.other += 1,
                    }
                }
                tally
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let mut total = Tally::default();
    for thread in threads {
        let t = thread.join().expect("load thread");
        total.sent += t.sent;
        total.ok += t.ok;
        total.broker_429 += t.broker_429;
        total.stora_429 += t.stora_429;
        total.other += t.other;
        total.queued.extend(t.queued);
        total.unqueued.extend(t.unqueued);
        total.answered_at.extend(t.answered_at);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = env.stora.counters().operators.get(OPERATOR).cloned().unwrap_or_default();
    let stora_requests = after.api_requests - before.api_requests;
    let stora_refused = after.rate_limited - before.rate_limited;
    total.queued.sort();
    total.unqueued.sort();
    total.answered_at.sort();
    let busiest = busiest_window(&total.answered_at, Duration::from_secs(60));

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| duration | {elapsed:.1} s |");
    println!("| calls sent | {} |", total.sent);
    println!("| answered 200 (Tessera-Origin: stora) | {} |", total.ok);
    println!("| broker 429 (Tessera-Origin: broker) | {} |", total.broker_429);
    println!("| Stora 429 (must be 0) | {} seen, {} counted by the fake |", total.stora_429, stora_refused);
    println!("| other answers / transport errors | {} |", total.other);
    println!("| requests Stora served | {stora_requests} |");
    println!(
        "| busiest rolling 60 s window (200s) | {busiest} ({:.0} % of the 60/min ceiling) |",
        busiest as f64 * 100.0 / 60.0
    );
    println!(
        "| queued calls (200 after >= {QUEUED_MS} ms) | {}: p50 {:.0} ms, p95 {:.0} ms |",
        total.queued.len(),
        percentile(&total.queued, 50.0),
        percentile(&total.queued, 95.0)
    );
    println!(
        "| unqueued calls | {}: p50 {:.1} ms, p95 {:.1} ms |",
        total.unqueued.len(),
        percentile(&total.unqueued, 50.0),
        percentile(&total.unqueued, 95.0)
    );
    let metrics = env.admin("GET", "/admin/metrics");
    let metrics: serde_json::Value = serde_json::from_slice(&metrics.body).unwrap_or_default();
    println!("| broker pacing counters | {} |", metrics["pacing"]["per_operator"][OPERATOR]);
    if stora_refused > 0 || total.stora_429 > 0 {
        eprintln!("pacing-load: Stora answered 429: the pacing let too many calls through");
        std::process::exit(1);
    }
}

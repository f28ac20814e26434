//! `tessera-crash`: kill -9 a broker instance at each point of the refresh
//! and show what becomes of the grant (issue 19). Needs the `tessera-broker`
//! binary next to it built with the feature `crash-points`
//! (`scripts/crash.sh` builds both).
//!
//! For each point (`before_stora`, `after_stora`, `before_write`,
//! `after_write`; see `src/refresh.rs`), on a fresh database: two broker
//! processes behind one front (PostgreSQL; one process on SQLite), process
//! A started with `TESSERA_CRASH_AT=<point>`. One installation registers and
//! connects; its access token is expired at the fake Stora; a signed call
//! sent to A directly makes A refresh and die by SIGKILL at the point. A is
//! started again without the variable, and the plugin makes more calls
//! through the front (its own retries included). The grant is then **still
//! usable**, **usable after a reconnect** (the operator consents again), or
//! **lost** (not even a reconnect helps). Stora's counters say whether it
//! rotated, refused (`invalid_grant`), saw a rotated refresh token again
//! (reuse: the grant revoked), and the surviving processes' metrics whether
//! a lost rotation was reported.
//!
//! ```text
//! tessera-crash [--backend postgres|sqlite] [--points p1,p2,...] [--database-url URL]
//! ```
//!
//! Loopback only, bounded: every broker stops by itself after 300 s, and the
//! tool gives up after 60 s per point.

use std::time::Duration;

use tessera_broker::fleet::{BrokerProcess, Fleet};
use tessera_broker::plugin_host::{Browser, Decision, PluginHost, registration};
use tessera_core::{ApiRequest, OsEntropy, SignOptions};

const POINTS: &[&str] = &["before_stora", "after_stora", "before_write", "after_write"];
const USAGE: &str = "usage: tessera-crash [--backend postgres|sqlite] [--points p1,p2,...] [--database-url URL]";

struct Args {
    postgres: Option<String>,
    points: Vec<String>,
}

fn parse_args() -> Args {
    let mut backend = "postgres".to_string();
    let mut url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let mut points: Vec<String> = POINTS.iter().map(|p| p.to_string()).collect();
    let bad = |msg: &str| -> ! {
        eprintln!("tessera-crash: {msg}\n{USAGE}");
        std::process::exit(2)
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it.next().unwrap_or_else(|| bad(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--backend" if value == "postgres" || value == "sqlite" => backend = value,
            "--points" => {
                points = value.split(',').map(str::to_string).collect();
                if let Some(p) = points.iter().find(|p| !POINTS.contains(&p.as_str())) {
                    bad(&format!("unknown point {p}; the points are {}", POINTS.join(", ")));
                }
            }
            "--database-url" => url = Some(value),
            _ => bad(&format!("bad flag {flag} {value}")),
        }
    }
    if backend == "sqlite" {
        url = None;
    } else if url.is_none() {
        bad("PostgreSQL needs --database-url or DATABASE_URL (scripts/crash.sh starts a server)");
    }
    Args { postgres: url, points }
}

/// What one crash did to the grant.
struct Outcome {
    point: String,
    died: String,
    rotated_before_death: u64,
    crashed_call: String,
    after_restart: String,
    grant: &'static str,
    refreshes: u64,
    invalid_grants: u64,
    reuse: u64,
    revoked: u64,
    rotations_lost: u64,
}

fn code(e: &tessera_core::Error) -> String {
    e.reason().unwrap_or(e.code()).to_string()
}

/// `n` calls through the front: `None` when all answered 200, else the
/// first failure.
fn calls(plugin: &mut PluginHost, n: usize) -> Option<String> {
    for _ in 0..n {
        match plugin.call(ApiRequest::new("GET", "/api/orders")) {
            Ok(r) if r.status == 200 => {}
            Ok(r) => return Some(format!("status {}", r.status)),
            Err(e) => return Some(code(&e)),
        }
    }
    None
}

fn crash_at(args: &Args, point: &str) -> Result<Outcome, String> {
    let stora = fake_stora::Config { rate_per_sec: 0, rate_per_min: 0, ..fake_stora::Config::default() };
    let fleet = Fleet::new(
        stora,
        args.postgres.as_deref(),
        &[("TESSERA_PACE_PER_SEC", "0"), ("TESSERA_PACE_PER_MIN", "0")],
        300,
    )?;
    let mut a = fleet.start_broker("a", &[("TESSERA_CRASH_AT", point)])?;
    let b = if fleet.on_postgres() { Some(fleet.start_broker("b", &[])?) } else { None };
    let route = |a: &BrokerProcess| fleet.route_to(&std::iter::once(a).chain(b.as_ref()).collect::<Vec<_>>());
    route(&a);

    let operator = format!("opr_crash_{point}");
    let site = "https://shop.crash.example";
    let return_url = format!("{site}/wp-admin/options-general.php?page=tessera");
    let mut plugin = PluginHost::new(fleet.front.url()).map_err(|e| e.to_string())?;
    plugin.register(&registration(site, "wordpress")).map_err(|e| format!("register: {e}"))?;
    plugin
        .connect(&Browser::default(), &return_url, None, Decision::Approve(&operator))
        .map_err(|e| format!("connect: {e}"))?;
    if let Some(failure) = calls(&mut plugin, 2) {
        return Err(format!("calls before the crash failed: {failure}"));
    }

    // The access token expires; a call sent to A makes it refresh.
    {
        let mut store = fleet.stora.store();
        let now = store.clock();
        store.expire_tokens(Some(&operator), now);
    }
    let before = fleet.stora.counters();
    let mut req = plugin
        .companion
        .sign_request(
            &ApiRequest::new("GET", "/api/orders"),
            &SignOptions { now: plugin.now(), ..Default::default() },
            &mut OsEntropy,
        )
        .map_err(|e| e.to_string())?;
    req.url = req.url.replacen(fleet.front.url(), &a.url, 1);
    let crashed_call = match plugin.send(&req) {
        Ok(r) => format!("answered {}", r.status),
        Err(_) => "no answer".to_string(),
    };
    let died = match a.wait_exit(Duration::from_secs(10)) {
        Some(status) => {
            use std::os::unix::process::ExitStatusExt;
            match status.signal() {
                Some(9) => "SIGKILL".to_string(),
                Some(s) => format!("signal {s}"),
                None => format!("exit {:?}", status.code()),
            }
        }
        None => "did not die".to_string(),
    };
    let rotated_before_death = fleet.stora.counters().refreshes - before.refreshes;

    // A again, without the crash; then the plugin carries on.
    drop(a);
    let a = fleet.start_broker("a-restarted", &[])?;
    route(&a);
    let (after_restart, grant) = match calls(&mut plugin, 4) {
        None => ("4 calls ok".to_string(), "still usable"),
        Some(failure) => {
            let reconnected = plugin
                .connect(&Browser::default(), &return_url, None, Decision::Approve(&operator))
                .map_err(|e| code(&e));
            match reconnected.map(|_| calls(&mut plugin, 2)) {
                Ok(None) => (format!("{failure}; reconnect ok"), "usable after a reconnect"),
                Ok(Some(again)) => (format!("{failure}; after reconnect: {again}"), "lost"),
                Err(e) => (format!("{failure}; reconnect: {e}"), "lost"),
            }
        }
    };
    let after = fleet.stora.counters();
    let revoked = fleet.stora.store().grants(Some(&operator)).iter().filter(|g| g.revoked).count() as u64;
    let rotations_lost = std::iter::once(&a)
        .chain(b.as_ref())
        .map(|p| fleet.metrics(p)["totals"]["rotations_lost"].as_u64().unwrap_or(0))
        .sum();
    Ok(Outcome {
        point: point.to_string(),
        died,
        rotated_before_death,
        crashed_call,
        after_restart,
        grant,
        refreshes: after.refreshes - before.refreshes,
        invalid_grants: after.invalid_grants - before.invalid_grants,
        reuse: after.refresh_reuse - before.refresh_reuse,
        revoked,
        rotations_lost,
    })
}

fn main() {
    let args = parse_args();
    let limit = 60 * args.points.len() as u64 + 30;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(limit));
        eprintln!("tessera-crash: gave up after {limit} s");
        std::process::exit(3);
    });
    let backend = if args.postgres.is_some() { "PostgreSQL, 2 processes" } else { "SQLite, 1 process" };
    println!("tessera-crash: {backend}; process A dies by SIGKILL at each point of its refresh, then starts again");
    let mut outcomes = Vec::new();
    for point in &args.points {
        match crash_at(&args, point) {
            Ok(o) => outcomes.push(o),
            Err(e) => {
                eprintln!("tessera-crash: {point}: {e}");
                std::process::exit(1);
            }
        }
    }
    println!();
    println!(
        "{:13} {:8} {:>7} {:13} {:26} {:>9} {:>13} {:>5} {:>7} {:>13}  after the restart",
        "point",
        "A died",
        "rotated",
        "crashed call",
        "grant",
        "refreshes",
        "invalid_grant",
        "reuse",
        "revoked",
        "rotation_lost"
    );
    for o in &outcomes {
        println!(
            "{:13} {:8} {:>7} {:13} {:26} {:>9} {:>13} {:>5} {:>7} {:>13}  {}",
            o.point,
            o.died,
            o.rotated_before_death,
            o.crashed_call,
            o.grant,
            o.refreshes,
            o.invalid_grants,
            o.reuse,
            o.revoked,
            o.rotations_lost,
            o.after_restart
        );
    }
    println!(
        "\nrotated: refreshes Stora made before A died; refreshes, invalid_grant, reuse: Stora's counters from the expiry \
         on (reuse: a rotated refresh token presented again, which revokes the grant); revoked: the operator's grants \
         revoked at Stora; rotation_lost: reported by the surviving processes' metrics"
    );
    if outcomes.iter().any(|o| o.died != "SIGKILL") {
        std::process::exit(1);
    }
}

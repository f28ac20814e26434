//! `tessera-e2e-env`: the end-to-end environment for suites in other
//! languages (Node, PHP). Starts a fake Stora, the reference broker (SQLite
//! in a temporary directory) and a stand-in for the plugin's site, all on
//! 127.0.0.1 with ephemeral ports, then prints one JSON line:
//!
//! ```text
//! {"broker_url":…,"stora_url":…,"site_url":…,"return_url":…,"admin_token":…}
//! ```
//!
//! The suite then drives its plugin against `broker_url`, serves ownership
//! proofs with `PUT {site_url}{proof.path}`, steers Stora through
//! `{stora_url}/_control/…` and the broker's kill switch through
//! `{broker_url}/admin/…` with `admin_token`.
//!
//! Stops when standard input closes (the suite's process ends), on SIGTERM or
//! SIGINT, or after `--max-lifetime` seconds (default 600), removing its
//! temporary directory each time.
//!
//! ```text
//! tessera-e2e-env [--no-ownership-proof] [--max-lifetime SECS] [--log stderr|off]
//!                 [--token-canary PREFIX]
//! ```
//!
//! Web-site registrations owe an ownership proof unless
//! `--no-ownership-proof`; extension installations never do. Every extension
//! id may register unless `TESSERA_ALLOWED_EXTENSION_IDS` (ids separated by
//! spaces or commas; empty: none) says otherwise.
//!
//! `--token-canary` prefixes every code and token the fake Stora issues, so
//! a leak test can recognise them in whatever the plugin side printed.

use std::io::Read;
use std::time::Duration;

use tessera_broker::harness::{Env, EnvOptions, LogChoice};

fn main() {
    let mut options = EnvOptions { log: LogChoice::Off, ..EnvOptions::default() };
    // The extension allow-list (default: every extension, see
    // `EnvOptions::allowed_extension_ids`): ids separated by spaces or commas.
    if let Ok(list) = std::env::var("TESSERA_ALLOWED_EXTENSION_IDS") {
        options.allowed_extension_ids = list.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_string).collect();
    }
    let mut max_lifetime = 600u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--no-ownership-proof" => options.require_ownership_proof = false,
            "--token-canary" => options.stora.token_canary = args.next().unwrap_or_else(|| usage()),
            "--max-lifetime" => max_lifetime = args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| usage()),
            "--log" => {
                options.log = match args.next().as_deref() {
                    Some("stderr") => LogChoice::Stderr,
                    Some("off") => LogChoice::Off,
                    _ => usage(),
                }
            }
            _ => usage(),
        }
    }
    let env = Env::start(options).unwrap_or_else(|e| {
        eprintln!("tessera-e2e-env: cannot start: {e}");
        std::process::exit(1)
    });
    println!(
        "{}",
        serde_json::json!({
            "broker_url": env.broker.url(),
            "stora_url": env.stora.url(),
            "site_url": env.site.url(),
            "return_url": env.return_url(),
            "admin_token": env.admin_token(),
        })
    );
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    // SIGTERM / SIGINT also stop it cleanly (the temporary directory goes).
    let on_signal = tx.clone();
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        });
        let _ = on_signal.send(());
    });
    std::thread::spawn(move || {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    let _ = rx.recv_timeout(Duration::from_secs(max_lifetime));
    drop(env);
}

fn usage() -> ! {
    eprintln!(
        "usage: tessera-e2e-env [--no-ownership-proof] [--max-lifetime SECS] [--log stderr|off] [--token-canary PREFIX]"
    );
    std::process::exit(2)
}

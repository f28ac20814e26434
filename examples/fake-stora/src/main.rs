//! `fake-stora`: runs the Stora test double on 127.0.0.1.
//!
//! ```text
//! fake-stora [--port N] [--client-id ID] [--client-secret S] [--access-ttl SECS]
//!            [--rate-per-sec N] [--rate-per-min N] [--max-lifetime SECS]
//!            [--exit-on-stdin-eof]
//! ```
//!
//! Prints `fake-stora listening on http://127.0.0.1:PORT` and serves until
//! `--max-lifetime` seconds (default 600) pass or, with `--exit-on-stdin-eof`,
//! standard input closes (the parent went away).

use std::io::Read;
use std::time::Duration;

use fake_stora::{Config, FakeStora};

fn main() {
    let mut config = Config::default();
    let mut port = 0u16;
    let mut max_lifetime = 600u64;
    let mut watch_stdin = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("fake-stora: {flag} needs a value");
                std::process::exit(2)
            })
        };
        let number = |v: String| -> u64 {
            v.parse().unwrap_or_else(|_| {
                eprintln!("fake-stora: not a number: {v}");
                std::process::exit(2)
            })
        };
        match flag.as_str() {
            "--port" => port = number(value()) as u16,
            "--client-id" => config.client_id = value(),
            "--client-secret" => config.client_secret = value(),
            "--access-ttl" => config.access_ttl_secs = number(value()) as i64,
            "--rate-per-sec" => config.rate_per_sec = number(value()) as u32,
            "--rate-per-min" => config.rate_per_min = number(value()) as u32,
            "--max-lifetime" => max_lifetime = number(value()),
            "--exit-on-stdin-eof" => watch_stdin = true,
            "-h" | "--help" => {
                println!(
                    "usage: fake-stora [--port N] [--client-id ID] [--client-secret S] \
                     [--access-ttl SECS] [--rate-per-sec N] [--rate-per-min N] [--max-lifetime SECS] \
                     [--exit-on-stdin-eof]"
                );
                return;
            }
            other => {
                eprintln!("fake-stora: unknown argument {other}");
                std::process::exit(2)
            }
        }
    }
    let server = FakeStora::start_on(config, port).unwrap_or_else(|e| {
        eprintln!("fake-stora: cannot listen: {e}");
        std::process::exit(1)
    });
    println!("fake-stora listening on {}", server.url());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    if watch_stdin {
        std::thread::spawn(move || {
            let mut sink = [0u8; 256];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            let _ = tx.send(());
        });
    }
    let _ = rx.recv_timeout(Duration::from_secs(max_lifetime));
    drop(server);
}

//! The built `tessera-e2e-env` binary as a newcomer and a test harness use
//! it: `--help`, bad flags, a background run found through `--env-file`
//! (alive after its standard input is gone, stopped by SIGTERM, the file
//! and its temporary directory removed), `--exit-on-stdin-close`, fixed ports
//! and a port already taken.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tessera-e2e-env");

/// Every flag `--help` must name.
const FLAGS: &[&str] = &[
    "--help",
    "--no-ownership-proof",
    "--exit-on-stdin-close",
    "--max-lifetime",
    "--env-file",
    "--broker-port",
    "--stora-port",
    "--log",
    "--token-canary",
    "--quiet",
];

/// The fields of the JSON line.
const FIELDS: &[&str] = &["broker_url", "stora_url", "site_url", "return_url", "admin_token"];

/// A fresh directory under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-e2e-env-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn get(url: &str, bearer: Option<&str>) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.get(url);
    if let Some(token) = bearer {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    req.call().map(|r| r.status().as_u16()).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// Kills the child if a test fails half-way.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn help_names_every_flag_and_field_and_bad_flags_exit_2() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let help = String::from_utf8(out.stdout).unwrap();
    for word in FLAGS.iter().chain(FIELDS) {
        assert!(help.contains(word), "--help does not mention {word}");
    }
    for (args, needle) in
        [(&["--bogus"][..], "--bogus"), (&["--max-lifetime", "soon"][..], "soon"), (&["--log"][..], "--log")]
    {
        let out = Command::new(BIN).args(args).stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle) && err.contains("see --help"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

fn wait_for_file(path: &Path, child: &mut Child) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(child.try_wait().unwrap().is_none(), "exited before writing {}", path.display());
        assert!(start.elapsed() < Duration::from_secs(10), "no env file after 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn runs_in_the_background_until_sigterm_and_removes_its_env_file() {
    let dir = temp_dir("bg");
    let env_file = dir.join("env.json");
    // Its own temporary directory (SQLite) goes under this one.
    let tmp = temp_dir("bg-tmp");
    let child = Command::new(BIN)
        .env("TMPDIR", &tmp)
        .args(["--quiet", "--env-file"])
        .arg(&env_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let text = wait_for_file(&env_file, &mut child.0);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1, "its SQLite directory is under TMPDIR");
    assert!(text.ends_with('\n') && text.lines().count() == 1, "{text:?}");
    let info: Value = serde_json::from_str(&text).unwrap();
    for field in FIELDS {
        assert!(info[field].as_str().is_some_and(|v| !v.is_empty()), "{field} missing: {info}");
    }
    let admin = info["admin_token"].as_str();
    assert_eq!(get(&format!("{}/admin/metrics", info["broker_url"].as_str().unwrap()), admin), 200);
    assert_eq!(get(&format!("{}/admin/metrics", info["broker_url"].as_str().unwrap()), None), 401);
    assert_eq!(get(&format!("{}/_control/counters", info["stora_url"].as_str().unwrap()), None), 200);
    // Its standard input was closed from the start: it must still be running.
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.0.try_wait().unwrap().is_none(), "stopped although no stop was asked");
    let sent = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let status = wait_exit(&mut child.0, Duration::from_secs(5)).expect("stops within 5 s of SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(!env_file.exists(), "env file left behind");
    for d in [&dir, &tmp] {
        let left: Vec<_> = std::fs::read_dir(d).unwrap().collect();
        assert!(left.is_empty(), "files left in {}: {left:?}", d.display());
        std::fs::remove_dir_all(d).unwrap();
    }
}

/// A port free right now on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn exit_on_stdin_close_stops_when_stdin_closes_and_fixed_ports_hold() {
    let (broker_port, stora_port) = (free_port(), free_port());
    let child = Command::new(BIN)
        .args(["--quiet", "--exit-on-stdin-close", "--max-lifetime", "60"])
        .args(["--broker-port", &broker_port.to_string(), "--stora-port", &stora_port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(info["broker_url"], format!("http://127.0.0.1:{broker_port}"));
    assert_eq!(info["stora_url"], format!("http://127.0.0.1:{stora_port}"));
    assert_eq!(get(&format!("http://127.0.0.1:{stora_port}/_control/counters"), None), 200);
    std::thread::sleep(Duration::from_millis(200));
    assert!(child.0.try_wait().unwrap().is_none(), "stopped while stdin was open");
    drop(child.0.stdin.take());
    let status = wait_exit(&mut child.0, Duration::from_secs(5)).expect("stops within 5 s of stdin closing");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_taken_port_fails_cleanly_with_exit_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let tmp = temp_dir("taken-tmp");
    let out =
        Command::new(BIN).env("TMPDIR", &tmp).args(["--broker-port", &port]).stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot start"));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "temporary directory left behind");
    std::fs::remove_dir_all(&tmp).unwrap();
}

//! `tessera-proxy-env` as a harness uses it: one JSON line naming live
//! servers, a clean stop when standard input closes, exit 2 on a bad flag.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_tessera-proxy-env");

#[test]
fn prints_live_urls_and_stops_when_stdin_closes() {
    let mut child = Command::new(BIN)
        .args(["--exit-on-stdin-close", "--quiet", "--max-lifetime", "60"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    for key in ["proxy_url", "stora_url", "stora_api_url", "site_url", "return_url"] {
        assert!(v[key].as_str().is_some_and(|u| u.starts_with("http://127.0.0.1:")), "{key}: {line}");
    }
    assert_eq!(v["stora_api_url"].as_str().unwrap(), format!("{}/2025-09", v["stora_url"].as_str().unwrap()));
    // The proxy answers: an unsigned connect link is refused with a page, not a crash.
    let agent = tessera_broker::stora::http_agent(std::time::Duration::from_secs(10));
    let url = format!("{}/connect", v["proxy_url"].as_str().unwrap());
    let request = tessera_core::Request { method: "GET".into(), url, headers: Vec::new(), body: Vec::new() };
    let status = tessera_broker::plugin_host::send(&agent, &request).expect("the proxy is up").status;
    assert!((400..500).contains(&status), "{status}");
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_bad_flag_exits_2() {
    let out = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
}

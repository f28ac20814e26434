//! The built `tessera-e2e-env` binary as a newcomer and a test harness use
//! it: `--help`, bad flags, a background run found through `--env-file`
//! (alive after its standard input is gone, stopped by SIGTERM, the file
//! and its temporary directory removed), `--exit-on-stdin-close`, fixed ports
//! and a port already taken.
//!
//! Operations (issue 19 item 5), against a broker started in the test
//! ([`Env`]): `GET /metrics` parsed with a strict reader of the Prometheus
//! text format, its counters moved by real calls, its admin token checked;
//! the built `tessera-broker-admin` run as a process (list, show, disable,
//! enable, metrics, usage errors), the disabled installation refused on its
//! next signed call; no secret in either output.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tessera_broker::harness::{Env, EnvOptions};
use tessera_broker::plugin_host::PluginHost;
use tessera_core::{ApiRequest, Request};

const BIN: &str = env!("CARGO_BIN_EXE_tessera-e2e-env");
const ADMIN_BIN: &str = env!("CARGO_BIN_EXE_tessera-broker-admin");

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

// ---- operations: /metrics and tessera-broker-admin ------------------------------------

/// A series: the metric name and its labels (unescaped), sorted.
type Series = (String, Vec<(String, String)>);

/// Reads a Prometheus text exposition (format 0.0.4) strictly: every line
/// is `# HELP name text`, `# TYPE name kind` (once per family, before its
/// samples) or `name{label="value",…} value` of the family last typed (a
/// histogram's `_bucket`, `_sum`, `_count`); names and label names match
/// the format's grammar, label values use only the escapes `\\`, `\"`,
/// `\n`, no series repeats, every counter ends in `_total`, a histogram's
/// buckets never decrease and its `+Inf` bucket equals its `_count`, the text
/// ends with a line feed. Panics (with the line) on anything else.
fn parse_exposition(text: &str) -> BTreeMap<Series, f64> {
    fn is_name(s: &str, colon: bool) -> bool {
        let mut chars = s.chars();
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':');
        chars.next().is_some_and(|c| !c.is_ascii_digit() && ok(c)) && chars.all(ok)
    }
    assert!(text.ends_with('\n'), "the exposition ends with a line feed");
    let mut samples = BTreeMap::new();
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    let mut helped = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').unwrap_or_else(|| panic!("HELP without text: {line}"));
            assert!(is_name(name, true) && helped.insert(name.to_string()), "bad or repeated HELP: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("TYPE without kind: {line}"));
            assert!(is_name(name, true), "{line}");
            assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "{line}");
            assert!(kind != "counter" || name.ends_with("_total"), "a counter's name ends in _total: {line}");
            assert!(typed.insert(name.to_string(), kind.to_string()).is_none(), "TYPE repeated: {line}");
            current = Some((name.to_string(), kind.to_string()));
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "unexpected line: {line:?}");
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value: {line}"));
        let name = &line[..name_end];
        assert!(is_name(name, true), "bad metric name: {line}");
        let (family, kind) = current.clone().unwrap_or_else(|| panic!("sample before any TYPE: {line}"));
        let belongs = name == family
            || (kind == "histogram"
                && [format!("{family}_bucket"), format!("{family}_sum"), format!("{family}_count")]
                    .contains(&name.to_string()));
        assert!(belongs, "sample outside its family {family}: {line}");
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            loop {
                let start = chars.peek().map(|(i, _)| *i).unwrap_or_else(|| panic!("unterminated labels: {line}"));
                if inner[start..].starts_with('}') {
                    rest = &inner[start + 1..];
                    break;
                }
                let eq = inner[start..].find("=\"").unwrap_or_else(|| panic!("bad label: {line}")) + start;
                let label = &inner[start..eq];
                assert!(is_name(label, false) && !label.starts_with("__"), "bad label name {label:?}: {line}");
                while chars.peek().is_some_and(|(i, _)| *i <= eq + 1) {
                    chars.next();
                }
                let mut value = String::new();
                loop {
                    match chars.next().unwrap_or_else(|| panic!("unterminated value: {line}")).1 {
                        '"' => break,
                        '\\' => match chars.next().map(|(_, c)| c) {
                            Some('\\') => value.push('\\'),
                            Some('"') => value.push('"'),
                            Some('n') => value.push('\n'),
                            other => panic!("bad escape {other:?}: {line}"),
                        },
                        '\n' => panic!("raw line feed: {line}"),
                        c => value.push(c),
                    }
                }
                labels.push((label.to_string(), value));
                match chars.peek().map(|(_, c)| *c) {
                    Some(',') => {
                        chars.next();
                    }
                    Some('}') => {}
                    other => panic!("expected , or }} after a label, got {other:?}: {line}"),
                }
            }
        }
        let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("one space before the value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value {v:?}: {line}")),
        };
        if kind == "counter" || kind == "histogram" {
            assert!(value >= 0.0, "a counter is never negative: {line}");
        }
        let mut names: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), labels.len(), "a label repeated: {line}");
        labels.sort();
        assert!(samples.insert((name.to_string(), labels), value).is_none(), "series repeated: {line}");
    }
    // Histograms: cumulative buckets, +Inf == _count.
    for (family, kind) in &typed {
        if kind != "histogram" {
            continue;
        }
        let bucket = format!("{family}_bucket");
        let mut buckets: Vec<(f64, f64)> = samples
            .iter()
            .filter(|((name, _), _)| *name == bucket)
            .map(|((_, labels), v)| {
                let le = &labels.iter().find(|(k, _)| k == "le").expect("a bucket has le").1;
                (if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap() }, *v)
            })
            .collect();
        buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{family}: buckets decrease");
        let count = samples[&(format!("{family}_count"), vec![])];
        assert_eq!(buckets.last().map(|b| (b.0, b.1)), Some((f64::INFINITY, count)), "{family}: +Inf != count");
    }
    samples
}

#[test]
fn the_strict_reader_refuses_what_the_format_does_not_allow() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\n\\\\\"} 1\n";
    let parsed = parse_exposition(good);
    assert_eq!(value(&parsed, "a_total", &[("x", "q\"\n\\")]), 1.0, "escapes read back");
    let histogram = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n";
    parse_exposition(histogram);
    for bad in [
        "a_total 1\n",                                                                             // no TYPE
        "# TYPE a_total counter\na_total 1",                                                       // no final line feed
        "# TYPE a counter\na 1\n",                        // a counter not named _total
        "# TYPE a_total counter\nb_total 1\n",            // outside its family
        "# TYPE a_total counter\na_total{x=\"\\t\"} 1\n", // bad escape
        "# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"1\"} 2\n", // repeated
        "# TYPE a_total counter\na_total{x=1} 1\n",       // unquoted value
        "# TYPE a_total counter\na_total  1\n",           // two spaces
        "# TYPE a_total counter\na_total one\n",          // not a number
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n", // decreasing
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 1\n", // +Inf != count
    ] {
        let refused = std::panic::catch_unwind(|| parse_exposition(bad)).is_err();
        assert!(refused, "accepted: {bad:?}");
    }
}

/// The value of one series (0 when absent: a counter not yet moved).
fn value(samples: &BTreeMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut labels: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    labels.sort();
    samples.get(&(name.to_string(), labels)).copied().unwrap_or(0.0)
}

fn http_get(env: &Env, path: &str, bearer: Option<&str>) -> tessera_core::Response {
    let headers = bearer.map(|b| vec![("authorization".to_string(), format!("Bearer {b}"))]).unwrap_or_default();
    env.http(Request { method: "GET".into(), url: format!("{}{path}", env.broker.url()), headers, body: vec![] })
}

/// Scrapes `/metrics` with the admin token; the text and its samples.
fn scrape(env: &Env) -> (String, BTreeMap<Series, f64>) {
    let resp = http_get(env, "/metrics", Some(env.admin_token()));
    assert_eq!(resp.status, 200);
    let content_type = resp.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).unwrap();
    assert_eq!(content_type.1, "text/plain; version=0.0.4; charset=utf-8");
    let text = String::from_utf8(resp.body).expect("UTF-8");
    let samples = parse_exposition(&text);
    (text, samples)
}

/// What must never appear in an operations output: the admin token, the
/// client secret, the plugin's secret and broker token, Stora's tokens.
fn assert_no_secret(env: &Env, plugins: &[&PluginHost], what: &str, text: &str) {
    let mut needles = vec![env.admin_token().to_string(), env.client_secret.clone()];
    for plugin in plugins {
        needles.push(plugin.companion.state().installation().unwrap().secret.to_base64url());
        if let Some(token) = plugin.companion.state().broker_token() {
            needles.push(token.expose().to_string());
        }
    }
    for needle in needles.iter().map(String::as_str).chain(["sat_", "srt_", "btk_", "secret\""]) {
        assert!(!text.contains(needle), "{what} leaks {needle:?}");
    }
}

#[test]
fn metrics_are_prometheus_text_moved_by_real_calls_behind_the_admin_token() {
    let env = Env::start(EnvOptions::default()).unwrap();
    let token = env.admin_token().to_string();
    for bearer in [None, Some("nope"), Some(&token[..token.len() - 1])] {
        let resp = http_get(&env, "/metrics", bearer);
        assert_eq!(resp.status, 401, "{bearer:?}");
        assert!(!String::from_utf8_lossy(&resp.body).contains("tessera_broker_"), "nothing exposed");
    }
    let mut plugin = env.connected_plugin("opr_metrics").unwrap();
    let id = plugin.companion.install_id().unwrap().to_string();
    let (_, before) = scrape(&env);
    let api = "/api/{*path}";
    let at = |samples: &BTreeMap<Series, f64>, class: &str| {
        (
            value(samples, "tessera_broker_requests_total", &[("route", api), ("class", class)]),
            value(samples, "tessera_broker_installation_responses_total", &[("install_id", &id), ("class", class)]),
        )
    };
    // Registration and connect were counted for the installation already.
    assert_eq!(at(&before, "2xx").0, 0.0, "no API call yet");
    assert!(at(&before, "2xx").1 >= 3.0, "registration, connect page, completion");
    assert_eq!(value(&before, "tessera_broker_installations", &[("status", "active")]), 1.0);

    // Two calls; one replayed; a refresh Stora fails once (the plugin
    // retries); one 429 from Stora, sent once.
    plugin.get_json("/api/orders").unwrap();
    plugin.get_json("/api/orders").unwrap();
    let signed = plugin
        .companion
        .sign_request(
            &ApiRequest::new("GET", "/api/orders"),
            &tessera_core::SignOptions { now: plugin.now(), ..Default::default() },
            &mut tessera_core::OsEntropy,
        )
        .unwrap();
    assert_eq!(plugin.send(&signed).unwrap().status, 200);
    assert_eq!(plugin.send(&signed).unwrap().status, 401, "replayed");
    env.stora_control("expire_tokens", json!({"operator": "opr_metrics"}));
    env.stora_control("faults", json!({"status": 503, "count": 1, "path_prefix": "/oauth2/token"}));
    plugin.get_json("/api/orders").unwrap();
    assert_eq!(plugin.last_trace.statuses, vec![502, 200]);
    env.stora_control("faults", json!({"status": 429, "retry_after": 1, "count": 1, "path_prefix": "/2025-09/orders"}));
    assert_eq!(plugin.send_signed(&ApiRequest::new("GET", "/api/orders")).unwrap().status, 429);

    let (text, after) = scrape(&env);
    for (class, n) in [("2xx", 4.0), ("3xx", 0.0), ("4xx", 1.0), ("429", 1.0), ("5xx", 1.0)] {
        let (route, install) = (at(&after, class).0 - at(&before, class).0, at(&after, class).1 - at(&before, class).1);
        assert_eq!((route, install), (n, n), "{class}: per route and per installation");
    }
    let delta = |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
    assert_eq!(delta("tessera_broker_refreshes_total", &[]), 1.0);
    assert_eq!(delta("tessera_broker_installation_refreshes_total", &[("install_id", &id)]), 1.0);
    assert_eq!(delta("tessera_broker_refresh_failures_total", &[("reason", "stora_unavailable")]), 1.0);
    for reason in ["invalid_grant", "rate_limited", "storage"] {
        assert_eq!(value(&after, "tessera_broker_refresh_failures_total", &[("reason", reason)]), 0.0);
        assert!(text.contains(&format!("tessera_broker_refresh_failures_total{{reason=\"{reason}\"}} 0\n")));
    }
    let per_install = [("install_id", id.as_str()), ("reason", "stora_unavailable")];
    assert_eq!(value(&after, "tessera_broker_installation_refresh_failures_total", &per_install), 1.0);
    assert_eq!(delta("tessera_broker_replays_refused_total", &[]), 1.0);
    assert_eq!(value(&after, "tessera_broker_installation_replays_refused_total", &[("install_id", &id)]), 1.0);
    assert_eq!(value(&after, "tessera_broker_rotations_lost_total", &[]), 0.0);
    // Seven signed API calls verified (the replay too: it fails at the end).
    for histogram in ["tessera_broker_verification_seconds", "tessera_broker_secret_lookup_seconds"] {
        assert_eq!(delta(&format!("{histogram}_count"), &[]), 7.0, "{histogram}");
        assert!(delta(&format!("{histogram}_sum"), &[]) > 0.0, "{histogram}");
    }
    // The scrapes count themselves: three refused, one answered before this one.
    let metrics_route =
        |class| value(&after, "tessera_broker_requests_total", &[("route", "GET /metrics"), ("class", class)]);
    assert_eq!((metrics_route("4xx"), metrics_route("2xx")), (3.0, 1.0));
    // Pacing per operator (the account lookup at connect, then the calls).
    assert!(
        value(&after, "tessera_broker_pacing_calls_total", &[("operator", "opr_metrics"), ("outcome", "sent")]) >= 6.0
    );
    assert_no_secret(&env, &[&plugin], "/metrics", &text);

    // The grant revoked at Stora: the refresh meets invalid_grant.
    env.stora_control("revoke_grant", json!({"operator": "opr_metrics"}));
    let err = plugin.get_json("/api/orders").unwrap_err();
    assert_eq!(err.reason(), Some("stora_reconnect_required"), "{err:?}");
    let (_, last) = scrape(&env);
    assert_eq!(value(&last, "tessera_broker_refresh_failures_total", &[("reason", "invalid_grant")]), 1.0);
    // The JSON view keeps working and agrees.
    let json_view: Value = serde_json::from_slice(&env.admin("GET", "/admin/metrics").body).unwrap();
    assert_eq!(json_view["totals"]["replays_refused"], 1);
    assert_eq!(json_view["totals"]["refresh_failures"], 2);
    assert_eq!(json_view["per_installation"][&id]["refresh_failures"]["invalid_grant"], 1);
}

/// Runs the admin CLI against `broker_url` with `token`; exit code, stdout, stderr.
fn admin_cli(broker_url: &str, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(ADMIN_BIN);
    cmd.env_remove("TESSERA_ADMIN_TOKEN").env("TESSERA_BROKER_URL", broker_url).args(args).stdin(Stdio::null());
    if let Some(token) = token {
        cmd.env("TESSERA_ADMIN_TOKEN", token);
    }
    let out = cmd.output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

#[test]
fn admin_cli_lists_shows_disables_and_enables_a_running_broker() {
    let env = Env::start(EnvOptions::default()).unwrap();
    let (url, token) = (env.broker.url().to_string(), env.admin_token().to_string());
    let cli = |args: &[&str]| admin_cli(&url, Some(&token), args);
    let mut connected = env.connected_plugin("opr_cli").unwrap();
    let mut registered = env.plugin();
    registered.register(&tessera_broker::plugin_host::registration(env.site.url(), "wordpress")).unwrap();
    let a = connected.companion.install_id().unwrap().to_string();
    let b = registered.companion.install_id().unwrap().to_string();

    // Usage: --help names every command; bad usage exits 2, nothing on stdout.
    let (code, help, _) = cli(&["--help"]);
    assert_eq!(code, 0);
    for word in [
        "list",
        "--status",
        "--json",
        "show",
        "disable",
        "enable",
        "metrics",
        "TESSERA_BROKER_URL",
        "TESSERA_ADMIN_TOKEN",
    ] {
        assert!(help.contains(word), "--help does not mention {word}");
    }
    for args in [
        &[][..],
        &["frobnicate"],
        &["list", "--status", "gone"],
        &["list", "--status"],
        &["show"],
        &["show", "../metrics"],
        &["disable", &a, &b],
        &["metrics", "x"],
    ] {
        let (code, out, err) = cli(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty() && !err.is_empty(), "{args:?}");
    }
    assert_eq!(admin_cli(&url, None, &["list"]).0, 2, "no token in the environment");
    let (code, _, err) = admin_cli("http://10.1.2.3:8080", Some(&token), &["list"]);
    assert_eq!(code, 2, "plain http off loopback would send the token in clear: {err}");
    // Refused and unreachable: exit 1, the reason on stderr, never the token.
    let (code, out, err) = admin_cli(&url, Some("not-the-token"), &["list"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("401") && err.contains("unauthorized") && !err.contains("not-the-token"), "{err}");
    let closed = format!("http://127.0.0.1:{}", free_port());
    let (code, _, err) = admin_cli(&closed, Some(&token), &["metrics"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot reach the broker"), "{err}");

    // list: both, ordered by id, connected yes/no; --json: the same, no secret field.
    let (code, table, err) = cli(&["list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("INSTALL_ID") && lines.len() == 3, "{table}");
    let mut ids = [a.as_str(), b.as_str()];
    ids.sort();
    for (line, id) in lines[1..].iter().zip(ids) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let connected = if id == a { "yes" } else { "no" };
        assert_eq!(cells[..4], [id, "active", connected, "yes"], "{line}");
        assert_eq!(cells[7], env.site.url(), "{line}");
    }
    let (code, listed, _) = cli(&["list", "--json"]);
    assert_eq!(code, 0);
    let listed: Vec<Value> = serde_json::from_str(&listed).unwrap();
    // Sorted: the key order depends on serde_json's `preserve_order`, which
    // another crate of the workspace may switch on.
    let mut fields: Vec<&str> = listed[0].as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["connected", "install_id", "last_seen", "platform", "plugin_version", "proven", "site_url", "status"]
    );
    assert_eq!(listed.iter().map(|i| i["install_id"].as_str().unwrap()).collect::<Vec<_>>(), ids);
    // The route pages by id.
    let page: Value = serde_json::from_slice(&env.admin("GET", "/admin/installations?limit=1").body).unwrap();
    assert_eq!(
        (page["installations"][0]["install_id"].as_str(), page["next_after"].as_str()),
        (Some(ids[0]), Some(ids[0]))
    );
    let page: Value =
        serde_json::from_slice(&env.admin("GET", &format!("/admin/installations?limit=1&after={}", ids[0])).body)
            .unwrap();
    assert_eq!((page["installations"][0]["install_id"].as_str(), &page["next_after"]), (Some(ids[1]), &Value::Null));
    assert_eq!(env.admin("GET", "/admin/installations?status=gone").status, 400);
    assert_eq!(http_get(&env, "/admin/installations", None).status, 401);

    // The kill switch from the command line: refused on the next signed call.
    assert_eq!(connected.send_signed(&ApiRequest::new("GET", "/api/orders")).unwrap().status, 200);
    let (code, out, err) = cli(&["disable", &a]);
    assert_eq!((code, out.trim()), (0, format!("{a} disabled").as_str()), "{err}");
    let refused = connected.send_signed(&ApiRequest::new("GET", "/api/orders")).unwrap();
    assert_eq!(refused.status, 401);
    assert_eq!(tessera_core::internals::classify::error_code(&refused.body).as_deref(), Some("installation_disabled"));
    let (_, disabled, _) = cli(&["list", "--status", "disabled", "--json"]);
    let disabled: Vec<Value> = serde_json::from_str(&disabled).unwrap();
    assert_eq!(disabled.len(), 1);
    assert_eq!(
        (disabled[0]["install_id"].as_str(), disabled[0]["status"].as_str()),
        (Some(a.as_str()), Some("disabled"))
    );
    let (code, shown, _) = cli(&["show", &a]);
    assert_eq!(code, 0);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!((shown["status"].as_str(), shown["grant"]["status"].as_str()), (Some("disabled"), Some("active")));
    let (code, _, err) = cli(&["show", "ins_not_registered_here_0000"]);
    assert_eq!(code, 1);
    assert!(err.contains("404") && err.contains("unknown_installation"), "{err}");
    let (code, out, _) = cli(&["enable", &a]);
    assert_eq!((code, out.trim()), (0, format!("{a} active").as_str()));
    assert_eq!(connected.send_signed(&ApiRequest::new("GET", "/api/orders")).unwrap().status, 200, "served again");

    // metrics: the exposition, parsed; the CLI's calls counted.
    let (code, metrics, _) = cli(&["metrics"]);
    assert_eq!(code, 0);
    let samples = parse_exposition(&metrics);
    let route =
        |r: &str, class: &str| value(&samples, "tessera_broker_requests_total", &[("route", r), ("class", class)]);
    assert_eq!(route("POST /admin/installations/{id}/disable", "2xx"), 1.0);
    assert_eq!(
        value(&samples, "tessera_broker_installation_responses_total", &[("install_id", &a), ("class", "4xx")]),
        1.0,
        "the refused call"
    );
    assert_eq!(value(&samples, "tessera_broker_installations", &[("status", "active")]), 2.0);

    // Nothing secret in anything the CLI printed.
    for args in [&["list"][..], &["list", "--json"], &["show", &a], &["show", &b], &["metrics"]] {
        let (_, out, err) = cli(args);
        assert_no_secret(&env, &[&connected, &registered], &format!("{args:?}"), &format!("{out}{err}"));
    }
}

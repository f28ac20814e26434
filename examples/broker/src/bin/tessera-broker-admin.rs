//! `tessera-broker-admin`: the operator's command line for a running broker,
//! over its admin HTTP API (`/admin/…`, `/metrics`).
//!
//! The broker and the token come from the environment, never from the
//! command line (where `ps` and shell history would keep the token):
//! `TESSERA_BROKER_URL` (e.g. `http://127.0.0.1:8080`; plain `http` only to
//! a loopback address, so the token never crosses a network in clear text)
//! and `TESSERA_ADMIN_TOKEN`.
//!
//! Exit status: 0 done, 1 the broker refused or could not be reached (the
//! reason on standard error), 2 a usage or configuration error.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

const USAGE: &str = "\
tessera-broker-admin: manage a running Tessera broker through its admin API

usage:
  tessera-broker-admin list [--status active|pending_ownership|disabled] [--json]
  tessera-broker-admin show ID
  tessera-broker-admin disable ID      kill switch: the installation's next call is refused
  tessera-broker-admin enable ID       undo disable
  tessera-broker-admin metrics         the broker's /metrics (Prometheus text format, this instance)
  tessera-broker-admin --help

environment:
  TESSERA_BROKER_URL    the broker's base URL (http only to 127.0.0.1, ::1 or localhost)
  TESSERA_ADMIN_TOKEN   the broker's admin bearer token (never pass it as an argument)

list prints one installation per line (id, status, connected, proven, last seen,
platform, plugin version, site URL), every page; --json prints them as a JSON array.

exit status: 0 done, 1 the broker refused or could not be reached, 2 usage error
";

/// Installations asked for per page by `list`.
const PAGE: usize = 500;

/// Why a command failed: its exit status.
enum Failure {
    /// Bad arguments or environment: exit 2.
    Usage(String),
    /// The broker refused, or could not be reached: exit 1.
    Broker(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    }
    if args.iter().any(|a| a == "--help" || a == "-h" || a == "help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("tessera-broker-admin: {message} (see --help)");
            ExitCode::from(2)
        }
        Err(Failure::Broker(message)) => {
            eprintln!("tessera-broker-admin: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    let command = args[0].as_str();
    let rest = &args[1..];
    // Arguments first, so a typo is reported before the environment.
    match command {
        "list" => {
            let (status, json) = list_flags(rest)?;
            let broker = Admin::from_env()?;
            list(&broker, status.as_deref(), json)
        }
        "show" | "disable" | "enable" => {
            let id = one_id(command, rest)?;
            let broker = Admin::from_env()?;
            match command {
                "show" => {
                    let answer = broker.json("GET", &format!("/admin/installations/{id}"))?;
                    println!("{}", serde_json::to_string_pretty(&answer).unwrap_or_default());
                }
                _ => {
                    let answer = broker.json("POST", &format!("/admin/installations/{id}/{command}"))?;
                    println!("{id} {}", answer["status"].as_str().unwrap_or("?"));
                }
            }
            Ok(())
        }
        "metrics" => {
            if let Some(extra) = rest.first() {
                return Err(Failure::Usage(format!("metrics takes no argument, got {extra:?}")));
            }
            let broker = Admin::from_env()?;
            print!("{}", broker.text("GET", "/metrics")?);
            Ok(())
        }
        other => Err(Failure::Usage(format!("unknown command {other:?}"))),
    }
}

/// `list`'s flags: the status filter and `--json`.
fn list_flags(args: &[String]) -> Result<(Option<String>, bool), Failure> {
    let (mut status, mut json) = (None, false);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--status" => match args.next().map(String::as_str) {
                Some(s @ ("active" | "pending_ownership" | "disabled")) => status = Some(s.to_string()),
                Some(other) => return Err(Failure::Usage(format!("unknown status {other:?}"))),
                None => return Err(Failure::Usage("--status needs a value".into())),
            },
            other => return Err(Failure::Usage(format!("list: unexpected argument {other:?}"))),
        }
    }
    Ok((status, json))
}

/// The one installation id of `show`, `disable`, `enable`. Ids are
/// `ins_` + base64url; anything else could change the path it is put in.
fn one_id<'a>(command: &str, args: &'a [String]) -> Result<&'a str, Failure> {
    let [id] = args else {
        return Err(Failure::Usage(format!("{command} takes one installation id")));
    };
    let plain = id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if id.is_empty() || id.len() > 100 || !plain {
        return Err(Failure::Usage(format!("{id:?} is not an installation id")));
    }
    Ok(id)
}

/// Every page of `GET /admin/installations`, printed as a table or JSON.
fn list(broker: &Admin, status: Option<&str>, json: bool) -> Result<(), Failure> {
    let mut all: Vec<Value> = Vec::new();
    let mut after = String::new();
    loop {
        let mut path = format!("/admin/installations?limit={PAGE}&after={after}");
        if let Some(status) = status {
            path.push_str(&format!("&status={status}"));
        }
        let page = broker.json("GET", &path)?;
        all.extend(page["installations"].as_array().cloned().unwrap_or_default());
        match page["next_after"].as_str() {
            // Ids are plain (checked by the broker at registration): no
            // escaping needed in the query. Each page must move forward.
            Some(next) if next > after.as_str() => after = next.to_string(),
            Some(_) => return Err(Failure::Broker("the listing did not move forward".into())),
            None => break,
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
        return Ok(());
    }
    let rows: Vec<[String; 8]> = std::iter::once(
        ["INSTALL_ID", "STATUS", "CONNECTED", "PROVEN", "LAST_SEEN", "PLATFORM", "VERSION", "SITE_URL"]
            .map(String::from),
    )
    .chain(all.iter().map(|i| {
        let text = |k: &str| i[k].as_str().unwrap_or("").to_string();
        let yes_no = |k: &str| if i[k].as_bool().unwrap_or(false) { "yes" } else { "no" }.to_string();
        [
            text("install_id"),
            text("status"),
            yes_no("connected"),
            yes_no("proven"),
            i["last_seen"].as_i64().map(utc).unwrap_or_default(),
            text("platform"),
            text("plugin_version"),
            text("site_url"),
        ]
    }))
    .collect();
    let mut widths = [0; 8];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in &rows {
        let cells: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        println!("{}", cells.join("  ").trim_end());
    }
    Ok(())
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = tessera_core::internals::httpdate::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The broker's admin API.
struct Admin {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Admin {
    fn from_env() -> Result<Admin, Failure> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| Failure::Usage(format!("{name} is not set")))
        };
        let base = var("TESSERA_BROKER_URL")?.trim().trim_end_matches('/').to_string();
        let token = var("TESSERA_ADMIN_TOKEN")?.trim().to_string();
        check_url(&base)?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .user_agent("tessera-broker-admin/0.1")
            .build()
            .into();
        Ok(Admin { base, token, agent })
    }

    /// Calls `path`; the body of a 2xx answer, else why not.
    fn text(&self, method: &str, path: &str) -> Result<String, Failure> {
        let url = format!("{}{path}", self.base);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("authorization", format!("Bearer {}", self.token))
            .body(())
            .map_err(|e| Failure::Usage(format!("TESSERA_BROKER_URL: {e}")))?;
        let unreachable = |e: ureq::Error| Failure::Broker(format!("cannot reach the broker at {}: {e}", self.base));
        let mut resp = self.agent.run(request).map_err(unreachable)?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().with_config().limit(64 * 1024 * 1024).read_to_string().map_err(unreachable)?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        // The broker's error JSON names what went wrong; echo its code and
        // description (never a secret), or just the status.
        let error: Value = serde_json::from_str(&body).unwrap_or_default();
        let why = match (error["error"].as_str(), error["error_description"].as_str()) {
            (Some(code), Some(text)) => format!("{code}: {text}"),
            (Some(code), None) => code.to_string(),
            _ => "no error code".to_string(),
        };
        Err(Failure::Broker(format!("the broker answered {status} to {method} {path}: {why}")))
    }

    /// [`Admin::text`], parsed as JSON.
    fn json(&self, method: &str, path: &str) -> Result<Value, Failure> {
        let body = self.text(method, path)?;
        serde_json::from_str(&body).map_err(|_| Failure::Broker(format!("{method} {path}: the answer is not JSON")))
    }
}

/// `http(s)://host[:port]`, and plain `http` only to a loopback host: the
/// admin token must not cross a network unencrypted.
fn check_url(base: &str) -> Result<(), Failure> {
    let bad = |why: &str| Failure::Usage(format!("TESSERA_BROKER_URL {why}"));
    if base.starts_with("https://") {
        return Ok(());
    }
    let Some(rest) = base.strip_prefix("http://") else {
        return Err(bad("must start with http:// or https://"));
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback { Ok(()) } else { Err(bad("must use https unless it is a loopback address")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "https://broker.example"] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in ["http://10.0.0.1:8080", "http://broker.example", "ftp://127.0.0.1", "127.0.0.1:8080"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}

//! `README.md` against the code: every route of its tables answers on a
//! running fake (something other than the unknown-route answer), every route
//! the router declares is listed, the API rows' scopes are the ones the fake
//! enforces (403 without, no 403 with), and the scopes table holds exactly
//! the scopes of the code with their consent-page text.

use std::collections::BTreeSet;

use fake_stora::model::{KNOWN_SCOPES, oauth::scope_description, percent_encode};
use fake_stora::{Config, FakeStora};
use serde_json::Value;

const README: &str = include_str!("../README.md");
const ROUTER: &str = include_str!("../src/lib.rs");

/// One row of a route table: method, path, the scope cell.
#[derive(Debug)]
struct Row {
    method: String,
    path: String,
    scope: String,
}

/// The cells of a Markdown table row (`\|` kept inside a cell).
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => out.last_mut().unwrap().push(chars.next().unwrap()),
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

fn unquote(cell: &str) -> Option<&str> {
    cell.strip_prefix('`')?.strip_suffix('`')
}

/// Every table row whose first cell is a quoted HTTP method and second a
/// quoted path.
fn route_rows() -> Vec<Row> {
    README
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(cells)
        .filter_map(|c| {
            let method = unquote(c.first()?)?;
            let path = unquote(c.get(1)?)?;
            let known = ["GET", "POST", "PATCH", "PUT", "DELETE"].contains(&method);
            (known && path.starts_with('/')).then(|| Row {
                method: method.into(),
                path: path.into(),
                scope: c.get(2).cloned().unwrap_or_default(),
            })
        })
        .collect()
}

/// The rows of the table under `## Scopes`: (scope, the other cells).
fn scope_rows() -> Vec<(String, Vec<String>)> {
    let section = README.split("\n## Scopes\n").nth(1).expect("a ## Scopes section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(cells)
        .map(|c| (unquote(&c[0]).expect("quoted scope").to_string(), c[1..].to_vec()))
        .collect()
}

struct Answer {
    status: u16,
    body: String,
}

struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    fn send(&self, method: &str, path: &str, bearer: Option<&str>, body: Option<&str>) -> Answer {
        let url = format!("{}{path}", self.base);
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let result = match method {
            "GET" | "DELETE" => {
                let mut req = if method == "GET" { self.agent.get(&url) } else { self.agent.delete(&url) };
                if let Some(auth) = &auth {
                    req = req.header("authorization", auth);
                }
                req.call()
            }
            _ => {
                let mut req = match method {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    _ => self.agent.patch(&url),
                };
                if let Some(auth) = &auth {
                    req = req.header("authorization", auth);
                }
                req.header("content-type", "application/json").send(body.unwrap_or("{}"))
            }
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        Answer { status, body: if location.is_empty() { body } else { location } }
    }

    /// Consent (approved) and code exchange for `scope` → an access token.
    fn token(&self, scope: &str) -> String {
        let cb = "http://127.0.0.1:9/cb";
        let page = self.send(
            "GET",
            &format!(
                "/oauth2/authorize?client_id=tessera-demo-client&response_type=code&redirect_uri={}&scope={}",
                percent_encode(cb),
                percent_encode(scope)
            ),
            None,
            None,
        );
        assert_eq!(page.status, 200, "{}", page.body);
        let approve = page.body.split("id=\"approve\" href=\"").nth(1).unwrap().split('"').next().unwrap();
        let location = self.send("GET", &approve.replace("&amp;", "&"), None, None).body;
        let code = location.split("code=").nth(1).expect("a code").split('&').next().unwrap().to_string();
        let body = serde_json::json!({"grant_type": "authorization_code", "code": code, "redirect_uri": cb,
            "client_id": "tessera-demo-client", "client_secret": "tessera-demo-client-secret"});
        let answer = self.send("POST", "/oauth2/token", None, Some(&body.to_string()));
        let tokens: Value = serde_json::from_str(&answer.body).unwrap_or_else(|_| panic!("{}", answer.body));
        tokens["access_token"].as_str().expect("access_token").to_string()
    }
}

/// The fake's answer to a path it does not route.
fn is_unknown_route(a: &Answer) -> bool {
    let code = serde_json::from_str::<Value>(&a.body).ok().and_then(|v| v["error"]["code"].as_str().map(String::from));
    a.status == 405 || (a.status == 404 && code.as_deref() == Some("invalid_endpoint"))
}

fn error_code(a: &Answer) -> Option<String> {
    serde_json::from_str::<Value>(&a.body).ok()?["error"]["code"].as_str().map(String::from)
}

/// `{id}` replaced by an id of the fake's seed data (or an unknown event).
fn concrete(path: &str) -> String {
    let id = if path.contains("/orders/") {
        "ord_1001"
    } else if path.contains("/contacts/") {
        "con_0001"
    } else {
        "tle_000000000000000000000000"
    };
    path.replace("{id}", id)
}

fn start() -> (FakeStora, Client) {
    // No rate limits: the test sends more than 60 requests a minute.
    let stora = FakeStora::start(Config { rate_per_sec: 0, rate_per_min: 0, ..Config::default() }).unwrap();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let client = Client { base: stora.url().to_string(), agent };
    (stora, client)
}

#[test]
fn every_listed_route_answers_and_every_router_route_is_listed() {
    let rows = route_rows();
    assert!(rows.len() >= 25, "route tables not found: {rows:?}");
    let listed: BTreeSet<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    for declared in ROUTER.split(".route(\"").skip(1).map(|s| s.split('"').next().unwrap()) {
        if declared != "/2025-09/{*path}" {
            assert!(listed.contains(declared), "the router's {declared} is not in README.md");
        }
    }
    let (_stora, client) = start();
    let token = client.token(&KNOWN_SCOPES.join(" "));
    // The classifier recognises the unknown-route answer.
    assert!(is_unknown_route(&client.send("GET", "/2025-09/nope", Some(&token), None)));
    assert!(is_unknown_route(&client.send("DELETE", "/2025-09/orders", Some(&token), None)));
    assert!(is_unknown_route(&client.send("GET", "/_control/nope", None, None)));
    assert!(is_unknown_route(&client.send("GET", "/_control/reset", None, None)));
    // API rows first, /_control/reset last (it forgets the token).
    let mut ordered: Vec<&Row> = rows.iter().collect();
    ordered.sort_by_key(|r| (!r.path.starts_with("/2025-09/"), r.path == "/_control/reset"));
    for row in ordered {
        let answer = client.send(&row.method, &concrete(&row.path), Some(&token), None);
        assert!(!is_unknown_route(&answer), "{} {}: {} {}", row.method, row.path, answer.status, answer.body);
    }
}

#[test]
fn api_rows_name_the_scope_the_fake_enforces() {
    let (_stora, client) = start();
    let tokens: Vec<(&str, String)> = KNOWN_SCOPES.iter().map(|s| (*s, client.token(s))).collect();
    let api_rows: Vec<Row> = route_rows().into_iter().filter(|r| r.path.starts_with("/2025-09/")).collect();
    assert!(api_rows.len() >= 10, "{api_rows:?}");
    for row in &api_rows {
        let path = concrete(&row.path);
        let needed = unquote(&row.scope);
        for (scope, token) in &tokens {
            let answer = client.send(&row.method, &path, Some(token), None);
            let forbidden = answer.status == 403 && error_code(&answer).as_deref() == Some("forbidden");
            assert!(!is_unknown_route(&answer), "{} {}: {}", row.method, row.path, answer.body);
            match needed {
                Some(needed) => assert_eq!(forbidden, *scope != needed, "{} {} with {scope}", row.method, row.path),
                // No scope needed: never refused for one (a route taking a
                // body may refuse the empty one, 4xx, but not 401/403).
                None => assert!(
                    !forbidden && answer.status != 401 && answer.status < 500,
                    "{} {} with {scope}: {} {}",
                    row.method,
                    row.path,
                    answer.status,
                    answer.body
                ),
            }
        }
    }
}

#[test]
fn scopes_table_holds_exactly_the_scopes_of_the_code() {
    let table = scope_rows();
    let in_table: BTreeSet<&str> = table.iter().map(|(s, _)| s.as_str()).collect();
    let in_code: BTreeSet<&str> = KNOWN_SCOPES.iter().copied().collect();
    assert_eq!(in_table, in_code);
    let api_rows: Vec<Row> = route_rows().into_iter().filter(|r| r.path.starts_with("/2025-09/")).collect();
    for (scope, rest) in &table {
        assert_eq!(rest[0], scope_description(scope), "consent text of {scope}");
        for row in api_rows.iter().filter(|r| unquote(&r.scope) == Some(scope.as_str())) {
            let named = format!("`{} {}`", row.method, row.path);
            assert!(rest[1].contains(&named), "the scopes table's {scope} row does not name {named}");
        }
    }
}

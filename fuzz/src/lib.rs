//! Shared helpers for the tessera-core fuzz targets.
//!
//! Most targets read a small text framing that `scripts/fuzz-seeds.py` can
//! write from `tests/vectors/*.json`, so libFuzzer starts from real requests,
//! callbacks and responses rather than from nothing:
//!
//! ```text
//! <start line: space-separated fields, meaning per target>\n
//! <name>:<value>\n        (zero or more header lines; one space after ':' is dropped)
//! \n
//! <body bytes>
//! ```
//!
//! Header names and values go through `String::from_utf8_lossy`: the core's
//! API takes `String` headers, so non-UTF-8 bytes reach it as U+FFFD (the
//! bindings convert the same way or refuse).

use std::sync::OnceLock;

use serde_json::Value;
use tessera_core::{Companion, Secret};

/// A framed message: start-line fields, headers and body.
#[derive(Debug)]
pub struct Message {
    /// The start line split on spaces (empty fields dropped).
    pub start: Vec<String>,
    /// Header lines, in order.
    pub headers: Vec<(String, String)>,
    /// Everything after the blank line.
    pub body: Vec<u8>,
}

impl Message {
    /// Parses the framing; never fails (missing parts are empty).
    pub fn parse(data: &[u8]) -> Message {
        let mut rest = data;
        let next_line = |rest: &mut &[u8]| -> Option<Vec<u8>> {
            if rest.is_empty() {
                return None;
            }
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let line = rest[..end].to_vec();
            *rest = &rest[(end + 1).min(rest.len())..];
            Some(line)
        };
        let start_line = next_line(&mut rest).unwrap_or_default();
        let start =
            String::from_utf8_lossy(&start_line).split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        let mut headers = Vec::new();
        while let Some(line) = next_line(&mut rest) {
            if line.is_empty() {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let (name, value) = text.split_once(':').unwrap_or((&text, ""));
            headers.push((name.to_owned(), value.strip_prefix(' ').unwrap_or(value).to_owned()));
        }
        Message { start, headers, body: rest.to_vec() }
    }

    /// Start-line field `i`, or "".
    pub fn field(&self, i: usize) -> &str {
        self.start.get(i).map_or("", String::as_str)
    }
}

/// The clock every target uses when its input does not give one (the vectors' `now`).
pub const NOW: i64 = 1_700_000_000;

/// A caller-supplied clock is trusted in production (it is the host's or the
/// broker's own clock), so targets keep it in a sane range: 0 ..= 2^40 s
/// (about year 36 800). Untrusted timestamps inside messages stay unbounded.
pub fn parse_now(text: &str) -> i64 {
    text.parse::<i64>().map_or(NOW, |n| n.clamp(0, 1 << 40))
}

/// Parses one of the shared vector files (embedded at build time).
fn vectors(text: &'static str) -> Vec<Value> {
    let v: Value = serde_json::from_str(text).expect("vector file is JSON");
    v["cases"].as_array().expect("cases").clone()
}

/// Distinct state JSON strings of `cases`, in first-seen order.
fn distinct_states(cases: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in cases {
        if let Some(s) = c["state"].as_str()
            && !out.iter().any(|o| o == s)
        {
            out.push(s.to_owned());
        }
    }
    out
}

/// Companions restored from the states of `tests/vectors/callback.json`
/// (pending connect, none pending, connected), loaded once.
pub fn callback_states() -> &'static [Companion] {
    static S: OnceLock<Vec<Companion>> = OnceLock::new();
    S.get_or_init(|| load(include_str!("../../tests/vectors/callback.json")))
}

/// Companions restored from the states of `tests/vectors/ownership.json`
/// (registration pending, rejected, …), loaded once.
pub fn registration_states() -> &'static [Companion] {
    static S: OnceLock<Vec<Companion>> = OnceLock::new();
    S.get_or_init(|| load(include_str!("../../tests/vectors/ownership.json")))
}

fn load(file: &'static str) -> Vec<Companion> {
    distinct_states(&vectors(file)).iter().map(|s| Companion::from_json(s).expect("vector state loads")).collect()
}

/// A copy of `states[index % len]` (`index` is start-line text; 0 when it is
/// not a number). The fuzz seeds number the states in the same order.
pub fn companion_from(states: &[Companion], index: &str) -> Companion {
    states[index.parse::<usize>().unwrap_or(0) % states.len()].clone()
}

/// The secret of a registered companion.
pub fn secret_of(c: &Companion) -> Secret {
    c.state().installation().expect("registered").secret.clone()
}

/// A secret from base64url text, or a fixed one when the text is not a secret.
pub fn secret_or_default(text: &str) -> Secret {
    Secret::from_base64url(text).unwrap_or_else(|_| Secret::from_bytes(&[7u8; 32]).expect("32 bytes"))
}

/// A companion registered (201 at [`NOW`]) for `https://shop.example` with the
/// broker at `broker_url`, its randomness from `seed`; with `token`, also
/// connected through a connect URL and its callback.
/// Completes a connect from `callback` at `now`; the broker answers the
/// exchange with `token` (docs/PROTOCOL.md §5.4.1).
pub fn complete_connect(
    c: &mut tessera_core::Companion,
    callback: &str,
    now: i64,
    token: &str,
) -> tessera_core::Result<tessera_core::Completion> {
    use tessera_core::{Action, Event, Response, SeededEntropy};
    let mut rng = SeededEntropy::new([7; 32]);
    let mut call = c.start_complete_connect(callback, now)?;
    let answer = format!(r#"{{"broker_token":"{token}","account":{{"id":"op_1","name":"Acme"}}}}"#);
    let mut event = Event::Start;
    loop {
        event = match c.step(&mut call, event, now, &mut rng) {
            Action::Send(_) => Event::Response(Response::new(200, answer.clone().into_bytes())),
            Action::Done(result) => return result,
            _ => Event::Persisted,
        };
    }
}

pub fn fixture(broker_url: &str, seed: u8, token: Option<&str>) -> tessera_core::Companion {
    use tessera_core::{Config, Registration, Response, SeededEntropy};
    let mut rng = SeededEntropy::new([seed; 32]);
    let mut c = tessera_core::Companion::create(Config::new(broker_url)).unwrap();
    let reg = Registration {
        site_url: "https://shop.example".into(),
        admin_email: "owner@shop.example".into(),
        platform: "wordpress".into(),
        plugin_version: "1.0.0".into(),
    };
    c.registration_request(&reg, &mut rng).unwrap();
    c.handle_registration_response_at(&Response::new(201, vec![]), NOW).unwrap();
    if let Some(token) = token {
        c.connect_url_with_state("https://shop.example/cb", None, NOW, "fuzz-state-0123456789").unwrap();
        complete_connect(&mut c, "state=fuzz-state-0123456789&code=cc_ZnV6ei1jb25uZWN0", NOW, token).unwrap();
    }
    c
}

//! The machine scripts in `tests/vectors/machine*.json`: scripted
//! conversations every driver replays (docs/HOST-CONTRACT.md §6).
//!
//! Each scenario below is a starting state, an operation and what the broker
//! (and the host) answer; running it through the core yields the script: the
//! exact action for every event. Each scenario also pins its policy in a
//! readable trace (`send, sleep 173, send, persist, done ok`), checked on
//! every run, so a bless can never silently change what a script means.
//!
//! `TESSERA_BLESS=1 cargo test -p tessera-core --test machine` rewrites the
//! files (review the diff!). Without it, the test replays every committed
//! script through `Companion::step` exactly as the npm and PHP drivers do.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use tessera_core::{
    Action, ApiRequest, Companion, Completion, Event, RegistrationOutcome, RemoteStep, Request, Response,
    SeededEntropy, TimelineEvent, TransportError,
};

#[path = "machine/scenarios.rs"]
mod scenarios;

use scenarios::{Answer, Op, Scenario};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

// ---- JSON forms ------------------------------------------------------------------

fn pairs(h: &[(String, String)]) -> Value {
    Value::Array(h.iter().map(|(k, v)| json!([k, v])).collect())
}

fn pairs_in(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("script bodies are UTF-8")
}

fn request_json(r: &Request) -> Value {
    json!({ "method": r.method, "url": r.url, "headers": pairs(&r.headers), "body": text(&r.body) })
}

fn step_json(s: &RemoteStep) -> Value {
    json!({ "result": s.as_str(), "error": s.error().map(|e| e.code()) })
}

fn registration_json(r: &RegistrationOutcome) -> Value {
    match r {
        RegistrationOutcome::Registered => json!({ "outcome": "registered" }),
        RegistrationOutcome::OwnershipChallenge(p) => json!({
            "outcome": "ownership_challenge", "proof": { "url": p.url, "path": p.path, "body": p.body }
        }),
    }
}

fn completion_json(c: &Completion) -> Value {
    match c {
        Completion::Response(r) => json!({ "response": { "status": r.status, "body": text(&r.body) } }),
        Completion::Registration(r) => json!({ "registration": registration_json(r) }),
        Completion::Disconnected { remote } => json!({ "disconnected": { "remote": step_json(remote) } }),
        Completion::Uninstalled(r) => json!({
            "uninstalled": { "disconnect": step_json(&r.disconnect), "deregister": step_json(&r.deregister) }
        }),
        Completion::Reset { disconnect, deregister, registration } => json!({
            "reset": { "disconnect": step_json(disconnect), "deregister": step_json(deregister), "registration": registration_json(registration) }
        }),
        Completion::SiteMoved => json!({ "site_moved": {} }),
        Completion::PreviousRevoked { revoked } => json!({ "previous_revoked": { "revoked": revoked } }),
        Completion::Recorded { response, event } => json!({
            "recorded": { "response": { "status": response.status, "body": text(&response.body) }, "event": step_json(event) }
        }),
        Completion::Events(p) => json!({ "events": {
            "events": p.events.iter().map(|e| json!({
                "id": e.id, "type": e.event_type, "api_version": e.api_version,
                "created_at": e.created_at, "data_json": e.data_json,
            })).collect::<Vec<_>>(),
            "cursor": p.cursor,
            "has_more": p.has_more,
        }}),
        Completion::Connected { account } => {
            json!({ "connected": { "account": { "id": account.id, "name": account.name } } })
        }
    }
}

fn action_json(a: &Action) -> Value {
    match a {
        Action::Send(r) => json!({ "type": "send", "request": request_json(r) }),
        Action::Sleep(ms) => json!({ "type": "sleep", "ms": ms }),
        Action::Persist(state) => json!({ "type": "persist", "state": state }),
        Action::ServeProof(p) => {
            json!({ "type": "serve_proof", "proof": { "url": p.url, "path": p.path, "body": p.body } })
        }
        Action::Lock(name) => json!({ "type": "lock", "name": name }),
        Action::Unlock(name) => json!({ "type": "unlock", "name": name }),
        Action::Done(Ok(c)) => json!({ "type": "done", "result": completion_json(c) }),
        Action::Done(Err(e)) => json!({ "type": "done", "error": { "code": e.code(), "status": e.status() } }),
    }
}

/// A short readable form of an action, for the policy traces.
fn trace_of(a: &Action) -> String {
    match a {
        Action::Send(r) => format!("send {}", r.method),
        Action::Sleep(ms) => format!("sleep {ms}"),
        Action::Persist(_) => "persist".into(),
        Action::ServeProof(_) => "serve_proof".into(),
        Action::Lock(_) => "lock".into(),
        Action::Unlock(_) => "unlock".into(),
        Action::Done(Ok(c)) => format!("done {}", completion_json(c).as_object().unwrap().keys().next().unwrap()),
        Action::Done(Err(e)) => format!("done {}", e.code()),
    }
}

fn event_json(e: &Event) -> Value {
    match e {
        Event::Start => json!({ "type": "start" }),
        Event::Response(r) => {
            json!({ "type": "response", "status": r.status, "headers": pairs(&r.headers), "body": text(&r.body) })
        }
        Event::TransportError(k) => json!({ "type": "transport_error", "kind": k.as_str() }),
        Event::Slept => json!({ "type": "slept" }),
        Event::Persisted => json!({ "type": "persisted" }),
        Event::ProofServed => json!({ "type": "proof_served" }),
        Event::ProofDeferred => json!({ "type": "proof_deferred" }),
        Event::Locked(stored) => json!({ "type": "locked", "state": stored }),
        Event::LockUnavailable => json!({ "type": "lock_unavailable" }),
        Event::Unlocked => json!({ "type": "unlocked" }),
    }
}

/// `None` for `abort`: the host stops driving.
fn event_in(v: &Value) -> Option<Event> {
    Some(match v["type"].as_str().unwrap() {
        "start" => Event::Start,
        "response" => {
            let mut r =
                Response::new(v["status"].as_u64().unwrap() as u16, v["body"].as_str().unwrap().as_bytes().to_vec());
            r.headers = pairs_in(&v["headers"]);
            Event::Response(r)
        }
        "transport_error" => Event::TransportError(TransportError::parse(v["kind"].as_str().unwrap()).unwrap()),
        "slept" => Event::Slept,
        "persisted" => Event::Persisted,
        "proof_served" => Event::ProofServed,
        "proof_deferred" => Event::ProofDeferred,
        "locked" => Event::Locked(v["state"].as_str().unwrap().to_owned()),
        "lock_unavailable" => Event::LockUnavailable,
        "unlocked" => Event::Unlocked,
        "abort" => return None,
        other => panic!("unknown event {other}"),
    })
}

fn seed_hex(seed: &[u8; 32]) -> String {
    seed.iter().map(|b| format!("{b:02x}")).collect()
}

fn seed_in(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn operation_json(op: &Op) -> Value {
    match op {
        Op::Register(r) => json!({ "op": "register", "registration": {
            "site_url": r.site_url, "admin_email": r.admin_email, "platform": r.platform, "plugin_version": r.plugin_version
        }}),
        Op::Call(r) => json!({ "op": "call", "request": {
            "method": r.method, "path": r.path, "headers": pairs(&r.headers), "body": text(&r.body)
        }}),
        Op::Disconnect => json!({ "op": "disconnect" }),
        Op::Uninstall => json!({ "op": "uninstall" }),
        Op::Reset(r) => json!({ "op": "reset", "registration": {
            "site_url": r.site_url, "admin_email": r.admin_email, "platform": r.platform, "plugin_version": r.plugin_version
        }}),
        Op::SiteMoved => json!({ "op": "site_moved" }),
        Op::CompleteConnect(callback) => json!({ "op": "complete_connect", "callback": callback }),
        Op::RevokePrevious(id) => json!({ "op": "revoke_previous", "install_id": id }),
        Op::PullEvents { limit, acknowledge } => {
            json!({ "op": "pull_events", "limit": limit, "acknowledge": acknowledge })
        }
        Op::Record(r, e) => json!({ "op": "call_and_record", "request": {
            "method": r.method, "path": r.path, "headers": pairs(&r.headers), "body": text(&r.body)
        }, "event": event_json_of(e) }),
    }
}

/// A Timeline Event in the scripts: snake_case members, absent ones omitted,
/// `variables` an object in order.
fn event_json_of(e: &TimelineEvent) -> Value {
    let mut v = json!({ "source_id": e.source_id, "template_id": e.template_id });
    for (name, field) in [
        ("contact_id", &e.contact_id),
        ("site_id", &e.site_id),
        ("description", &e.description),
        ("external_url", &e.external_url),
    ] {
        if let Some(x) = field {
            v[name] = json!(x);
        }
    }
    let vars: serde_json::Map<String, Value> = e.variables.iter().map(|(k, x)| (k.clone(), json!(x))).collect();
    v["variables"] = Value::Object(vars);
    v
}

fn request_in(r: &Value) -> ApiRequest {
    ApiRequest {
        method: r["method"].as_str().unwrap().into(),
        path: r["path"].as_str().unwrap().into(),
        headers: pairs_in(&r["headers"]),
        body: r["body"].as_str().unwrap().as_bytes().to_vec(),
    }
}

fn registration_in(r: &Value) -> tessera_core::Registration {
    tessera_core::Registration {
        site_url: r["site_url"].as_str().unwrap().into(),
        admin_email: r["admin_email"].as_str().unwrap().into(),
        platform: r["platform"].as_str().unwrap().into(),
        plugin_version: r["plugin_version"].as_str().unwrap().into(),
    }
}

fn start(c: &mut Companion, op: &Value, now: i64) -> tessera_core::Result<tessera_core::Call> {
    match op["op"].as_str().unwrap() {
        "register" => c.start_registration(&registration_in(&op["registration"])),
        "reset" => c.start_reset(&registration_in(&op["registration"])),
        "call" => c.start_call(request_in(&op["request"])),
        "call_and_record" => {
            c.start_recorded_call(request_in(&op["request"]), support::timeline_event_in(&op["event"]))
        }
        "disconnect" => c.start_disconnect(),
        "uninstall" => Ok(c.start_uninstall()),
        "site_moved" => c.start_site_moved(),
        "complete_connect" => c.start_complete_connect(op["callback"].as_str().unwrap(), now),
        "revoke_previous" => c.start_revoke_previous(op["install_id"].as_str().unwrap()),
        "pull_events" => c.start_pull_events(op["limit"].as_u64().unwrap() as u32),
        other => panic!("unknown op {other}"),
    }
}

/// A `pull_events` operation with `"acknowledge": true`: once it ended with
/// a page, the host acknowledges the page's cursor (before the final state
/// is compared). Returns whether the cursor moved.
fn acknowledge(c: &mut Companion, op: &Value, action: &Action) -> Option<bool> {
    match action {
        Action::Done(Ok(Completion::Events(page))) if op["acknowledge"] == json!(true) => {
            Some(c.acknowledge_events(&page.cursor).unwrap())
        }
        _ => None,
    }
}

// ---- running a scenario (bless) ---------------------------------------------------

/// Runs a scenario through the core → (script JSON, trace).
fn run(s: &Scenario) -> (Value, Vec<String>) {
    let seed = [s.seed; 32];
    let mut c = Companion::from_json(&s.state).unwrap();
    let op = operation_json(&s.op);
    let mut script = json!({
        "name": s.name,
        "covers": s.covers,
        "seed": seed_hex(&seed),
        "state": s.state,
        "operation": op,
        "now": s.now,
    });
    let mut call = match start(&mut c, &op, s.now) {
        Ok(call) => call,
        Err(e) => {
            script["start_error"] = json!(e.code());
            script["steps"] = json!([]);
            script["final_state"] = json!(c.to_json());
            return (script, vec![format!("start_error {}", e.code())]);
        }
    };
    let mut rng = SeededEntropy::new(seed);
    let mut answers = s.answers.iter();
    let mut steps = Vec::new();
    let mut trace = Vec::new();
    let mut event = Event::Start;
    let mut now = s.now;
    for _ in 0..64 {
        let action = c.step(&mut call, event.clone(), now, &mut rng);
        steps.push(json!({ "now": now, "event": event_json(&event), "action": action_json(&action) }));
        trace.push(trace_of(&action));
        if let Some(moved) = acknowledge(&mut c, &op, &action) {
            script["acknowledged"] = json!(moved);
        }
        let next = match &action {
            Action::Done(_) => break,
            Action::Sleep(_) => Some(Event::Slept),
            Action::Persist(_) => Some(Event::Persisted),
            Action::Unlock(_) => Some(Event::Unlocked),
            Action::Send(_) | Action::ServeProof(_) | Action::Lock(_) => match answers.next() {
                Some(Answer::Event(e)) => Some(e.clone()),
                Some(Answer::Abort) => None,
                None => panic!("{}: no answer left for {action:?}", s.name),
            },
        };
        match next {
            Some(e) => event = e,
            None => {
                steps.push(json!({ "now": now, "event": { "type": "abort" }, "action": null }));
                trace.push("abort".into());
                break;
            }
        }
        now += s.tick;
    }
    assert!(answers.next().is_none(), "{}: answers left over", s.name);
    script["steps"] = Value::Array(steps);
    script["final_state"] = json!(c.to_json());
    (script, trace)
}

// ---- replaying a script (what every driver does) ----------------------------------

fn replay(script: &Value) -> Result<(), String> {
    let name = script["name"].as_str().unwrap();
    let mut c = Companion::from_json(script["state"].as_str().unwrap()).map_err(|e| e.to_string())?;
    let mut rng = SeededEntropy::new(seed_in(script["seed"].as_str().unwrap()));
    let now = script["now"].as_i64().unwrap();
    let mut call = match (start(&mut c, &script["operation"], now), script["start_error"].as_str()) {
        (Err(e), Some(code)) if e.code() == code => return Ok(()),
        (Err(e), _) => return Err(format!("{name}: start failed with {}", e.code())),
        (Ok(_), Some(code)) => return Err(format!("{name}: start should fail with {code}")),
        (Ok(call), None) => call,
    };
    for (i, step) in script["steps"].as_array().unwrap().iter().enumerate() {
        let Some(event) = event_in(&step["event"]) else { break };
        let action = c.step(&mut call, event, step["now"].as_i64().unwrap(), &mut rng);
        let got = action_json(&action);
        if got != step["action"] {
            return Err(format!("{name}: step {i}: expected {}\n got {got}", step["action"]));
        }
        if let Some(moved) = acknowledge(&mut c, &script["operation"], &action)
            && script["acknowledged"] != json!(moved)
        {
            return Err(format!("{name}: acknowledging the page moved the cursor: {moved}"));
        }
    }
    if c.to_json() != script["final_state"].as_str().unwrap() {
        return Err(format!("{name}: final state differs"));
    }
    Ok(())
}

const FILES: [(&str, &str); 5] = [
    ("machine-register.json", "Registration on the step machine, and the site-move proof round"),
    ("machine-call.json", "API calls: retries, backoff, Retry-After, clock skew, redirects, reconnect mapping"),
    (
        "machine-leave.json",
        "Disconnect, uninstall, reset and revoking a previous installation, including a pending site move",
    ),
    (
        "machine-connect.json",
        "Connect completion: the callback's local checks, then the signed exchange of the connect code",
    ),
    (
        "machine-proxy.json",
        "Authorization-proxy mode: the code exchange, calls straight to Stora, the refresh under the host's lock, invalid_grant, revoke",
    ),
];

#[test]
fn machine_scripts() {
    let bless = std::env::var_os("TESSERA_BLESS").is_some();
    let mut total = 0;
    for (file, description) in FILES {
        let path = dir().join(file);
        let group = file.trim_start_matches("machine-").trim_end_matches(".json");
        let scenarios: Vec<Scenario> = scenarios::all().into_iter().filter(|s| s.group == group).collect();
        let mut scripts = Vec::new();
        for s in &scenarios {
            let (script, trace) = run(s);
            let want: Vec<&str> = s.trace.split(", ").collect();
            let same = want.len() == trace.len()
                && want.iter().zip(&trace).all(|(w, g)| w == g || (*w == "sleep *" && g.starts_with("sleep ")));
            assert!(same, "{}: the policy trace changed:\n want {}\n got  {}", s.name, s.trace, trace.join(", "));
            scripts.push(script);
        }
        let doc = json!({ "description": description, "scripts": scripts });
        if bless {
            std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
        }
        let committed: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{file}: bless first")))
                .unwrap();
        assert_eq!(committed, doc, "{file} differs from the scenarios (bless and review the diff)");
        for script in committed["scripts"].as_array().unwrap() {
            replay(script).unwrap();
            total += 1;
        }
    }
    println!("replayed {total} machine scripts");
    assert!(total >= 40, "at least 40 scripts, found {total}");
}

/// The replay is not a tautology: a script edited in any action fails it.
#[test]
fn a_wrong_action_fails_the_replay() {
    let text = std::fs::read_to_string(dir().join("machine-call.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut mutated = 0;
    for script in doc["scripts"].as_array().unwrap() {
        let steps = script["steps"].as_array().unwrap();
        for i in 0..steps.len() {
            if steps[i]["action"].is_null() {
                continue;
            }
            let mut bad = script.clone();
            let action = &mut bad["steps"][i]["action"];
            match action["type"].as_str().unwrap() {
                "sleep" => action["ms"] = json!(action["ms"].as_u64().unwrap() + 1),
                "persist" => action["state"] = json!(action["state"].as_str().unwrap().replace("\"v\":1", "\"v\":2")),
                "send" => action["request"]["headers"] = json!([]),
                _ => action["type"] = json!("sleep"),
            }
            assert!(replay(&bad).is_err(), "{}: step {i} mutated still replays", script["name"]);
            mutated += 1;
        }
    }
    assert!(mutated > 50);
}

//! `tessera-demo`: the whole lifecycle on this machine, printed as an
//! operator would read it. Starts a fake Stora, the reference broker
//! (SQLite in a temporary directory) and the plugin's site on 127.0.0.1,
//! drives a plugin (tessera-core's Companion) through register → connect →
//! API calls → token expiry → revocation → reconnect → an action recorded
//! as a Stora Timeline Event → Stora's events pulled → a burst of calls the broker paces → kill
//! switch → disconnect → uninstall, checks every step, and exits 0.
//! Everything stops by itself.

use std::process::ExitCode;
use std::time::Instant;

use serde_json::{Value, json};
use tessera_broker::harness::{Env, EnvOptions, LogChoice};
use tessera_broker::plugin_host::{Browser, Decision, PluginHost, registration};
use tessera_core::{ApiRequest, Completion, RegistrationOutcome, RemoteStep, TimelineEvent};

const OPERATOR: &str = "opr_demo";
/// The operator of the paced burst (its own budget at the fake Stora).
const BURST_OPERATOR: &str = "opr_burst";
/// Calls in the paced burst: more than Stora's 10 a second.
const BURST_CALLS: usize = 15;

fn main() -> ExitCode {
    let started = Instant::now();
    match run() {
        Ok(()) => {
            println!();
            println!(
                "Done: the whole lifecycle ran in {:.1} s. Everything is stopped and cleaned up.",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!();
            eprintln!("DEMO FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Fails the demo with a message unless `cond` holds.
fn check(cond: bool, what: &str) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what.to_string()) }
}

fn step(n: u32, title: &str, text: &str) {
    println!("{n:>2}. {title:<22} {text}");
}

fn money(order: &Value) -> String {
    let amount = order["monthly_price"]["amount"].as_i64().unwrap_or(0);
    format!("£{}.{:02}/month", amount / 100, amount % 100)
}

fn run() -> Result<(), String> {
    let env = Env::start(EnvOptions { require_ownership_proof: true, log: LogChoice::Memory, ..EnvOptions::default() })
        .map_err(|e| format!("cannot start the local servers: {e}"))?;
    let browser = Browser::default();

    println!("Tessera demo: a plugin talks to the reference broker, which talks to a fake Stora.");
    println!("    fake Stora   {}", env.stora.url());
    println!("    broker       {}  (SQLite: {})", env.broker.url(), env.dir().join("broker.sqlite3").display());
    println!("    plugin site  {}", env.site.url());
    println!();

    // 1. Register.
    let mut plugin = env.plugin();
    let outcome =
        plugin.register(&registration(env.site.url(), "wordpress")).map_err(|e| format!("registration failed: {e}"))?;
    check(outcome == RegistrationOutcome::Registered, "the registration did not complete")?;
    check(plugin.last_trace.proofs_served == 1, "expected one ownership proof")?;
    let id = plugin.companion.install_id().unwrap_or_default().to_string();
    step(1, "Register", &format!("installation {id} registered with the broker"));
    println!("{:27}(the broker challenged the site and checked the proof at /.well-known/tessera/{id})", "");

    // 2. Connect.
    plugin
        .connect(&browser, &env.return_url(), None, Decision::Approve(OPERATOR))
        .map_err(|e| format!("connect failed: {e}"))?;
    let account = plugin.get_json("/api/account").map_err(|e| format!("account call failed: {e}"))?;
    step(
        2,
        "Connect",
        &format!(
            "connected as {} ({}); the plugin holds only an opaque broker token",
            account["name"].as_str().unwrap_or("?"),
            account["id"].as_str().unwrap_or("?")
        ),
    );

    // 3. API call.
    let orders = plugin.get_json("/api/orders").map_err(|e| format!("orders call failed: {e}"))?;
    let list = orders["data"].as_array().cloned().unwrap_or_default();
    check(list.len() == 3, "expected 3 orders")?;
    step(3, "Signed API call", &format!("{} orders fetched through the broker:", list.len()));
    for o in &list {
        println!(
            "{:27}{}  unit {:<5} {:<11} {}",
            "",
            o["id"].as_str().unwrap_or("?"),
            o["unit"].as_str().unwrap_or("?"),
            o["status"].as_str().unwrap_or("?"),
            money(o)
        );
    }

    // 4. Token expiry → broker refresh.
    env.stora_control("expire_tokens", json!({"operator": OPERATOR}));
    let before = env.stora.counters().refreshes;
    let orders = plugin.get_json("/api/orders").map_err(|e| format!("call after expiry failed: {e}"))?;
    let refreshes = env.stora.counters().refreshes - before;
    check(refreshes == 1, "expected exactly one refresh")?;
    check(orders["data"].as_array().map(Vec::len) == Some(3), "expected 3 orders after refresh")?;
    let generation = env.broker.app().store.grant(&id).ok().flatten().map(|g| g.generation).unwrap_or(-1);
    step(4, "Token expiry", "Stora's access token expired; the next call still returned 3 orders");
    println!(
        "{:27}token refreshed by the broker ({refreshes} refresh at Stora, rotated pair stored, generation {generation})",
        ""
    );

    // 5. Revoked at Stora.
    env.stora_control("revoke_grant", json!({"operator": OPERATOR}));
    let err = plugin.get_json("/api/orders").err().ok_or("the call after revocation should fail")?;
    check(err.code() == "reconnect_required", "expected reconnect_required")?;
    step(
        5,
        "Revoked at Stora",
        &format!(
            "the operator removed the app in Stora → reconnect required ({}); plugin status: {}",
            err.reason().unwrap_or("?"),
            plugin.companion.status().as_str()
        ),
    );

    // 6. Reconnect.
    plugin
        .connect(
            &browser,
            &env.return_url(),
            Some("public.order:read public.contact:read public.contact:write public.timeline_event:write"),
            Decision::Approve(OPERATOR),
        )
        .map_err(|e| format!("reconnect failed: {e}"))?;
    let contacts = plugin.get_json("/api/contacts").map_err(|e| format!("contacts call failed: {e}"))?;
    step(
        6,
        "Reconnect",
        &format!(
            "reconnected with a wider scope; {} contacts fetched; status: {}",
            contacts["data"].as_array().map(Vec::len).unwrap_or(0),
            plugin.companion.status().as_str()
        ),
    );

    // 7. An action recorded on the operator's Stora timeline.
    timeline_event(&env, &mut plugin)?;

    // 8. Stora's events, received by the broker as webhooks, pulled by the plugin.
    stora_events(&mut plugin)?;

    // 9. A burst the broker paces under Stora's per-operator limit.
    paced_burst(&env)?;

    // 10. Kill switch.
    let disable = env.admin("POST", &format!("/admin/installations/{id}/disable"));
    check(disable.status == 200, "kill switch failed")?;
    let err = plugin.get_json("/api/orders").err().ok_or("a disabled installation should be refused")?;
    env.admin("POST", &format!("/admin/installations/{id}/enable"));
    plugin
        .connect(&browser, &env.return_url(), None, Decision::Approve(OPERATOR))
        .map_err(|e| format!("reconnect after the kill switch failed: {e}"))?;
    step(
        10,
        "Kill switch",
        &format!(
            "broker operator disabled the installation → reconnect required ({}); re-enabled and reconnected",
            err.reason().unwrap_or("?")
        ),
    );

    // 11. Disconnect.
    let revokes = env.stora.counters().revokes;
    let call = plugin.companion.start_disconnect().map_err(|e| e.to_string())?;
    let remote = match plugin.drive(call).map_err(|e| format!("disconnect failed: {e}"))? {
        Completion::Disconnected { remote } => remote.as_str(),
        _ => "?",
    };
    check(env.stora.counters().revokes == revokes + 1, "Stora did not see the revoke")?;
    step(
        11,
        "Disconnect",
        &format!("broker said {remote}; Stora saw the revoke; plugin status: {}", plugin.companion.status().as_str()),
    );

    // 12. Uninstall.
    plugin
        .connect(&browser, &env.return_url(), None, Decision::Approve(OPERATOR))
        .map_err(|e| format!("connect before uninstall failed: {e}"))?;
    let call = plugin.companion.start_uninstall();
    let report = match plugin.drive(call).map_err(|e| format!("uninstall failed: {e}"))? {
        Completion::Uninstalled(report) => report,
        _ => return Err("unexpected uninstall result".into()),
    };
    let gone = env.broker.app().store.installation(&id).ok().flatten().is_none();
    check(gone, "the broker still knows the installation")?;
    check(plugin.companion.install_id().is_none(), "local state not wiped")?;
    step(
        12,
        "Uninstall",
        &format!(
            "disconnect: {}, deregister: {}; the broker no longer knows {id}; local state wiped (status: {})",
            report.disconnect.as_str(),
            report.deregister.as_str(),
            plugin.companion.status().as_str()
        ),
    );

    // The broker's view.
    let logs = env.logs.lock().map(|l| l.clone()).unwrap_or_default();
    let leaked = logs
        .iter()
        .any(|l| l.contains("sat_") || l.contains("srt_") || l.contains("btk_") || l.contains(&env.client_secret));
    check(!leaked, "a token appeared in the broker log")?;
    println!();
    println!(
        "Broker log: {} structured lines (install id, route, status, latency), no secret or token in any of them. Last three:",
        logs.len()
    );
    for line in logs.iter().rev().take(3).rev() {
        println!("    {line}");
    }
    Ok(())
}

/// Step 7: "do the action, then record it". A contact is created with the
/// plugin's reference in its Stora metadata (checked by the core first),
/// and the core's recorded call then posts a Timeline Event whose
/// `external.id` is the action's Idempotency-Key.
fn timeline_event(env: &Env, plugin: &mut PluginHost) -> Result<(), String> {
    let reference = ("tessera_demo.enquiry".to_string(), "enq-0001".to_string());
    tessera_core::metadata::validate_pairs(std::slice::from_ref(&reference)).map_err(|e| e.to_string())?;
    let body = json!({"name": "Grace Hopper", "email": "grace@example.com", "metadata": {&reference.0: &reference.1}});
    let action = ApiRequest::json("POST", "/api/contacts", body.to_string());
    let event = TimelineEvent {
        source_id: "tessera_demo".into(),
        template_id: "website_enquiry".into(),
        description: Some("Website enquiry via the Tessera demo".into()),
        external_url: Some(env.site.url().replacen("http://", "https://", 1) + "/enquiries/enq-0001"),
        variables: vec![("name".into(), "Grace Hopper".into())],
        ..TimelineEvent::default()
    };
    let call = plugin.companion.start_recorded_call(action, event).map_err(|e| e.to_string())?;
    let (response, recorded) = match plugin.drive(call).map_err(|e| format!("the recorded call failed: {e}"))? {
        Completion::Recorded { response, event } => (response, event),
        _ => return Err("unexpected completion of the recorded call".into()),
    };
    check(recorded == RemoteStep::Ok, "the Timeline Event was not recorded")?;
    let contact: Value = serde_json::from_slice(&response.body).map_err(|_| "the contact is not JSON")?;
    check(contact["metadata"][&reference.0] == reference.1.as_str(), "the contact lacks the plugin's metadata")?;
    let key = env
        .stora
        .store()
        .requests()
        .iter()
        .rev()
        .find(|r| r.method == "POST" && r.path == "/2025-09/contacts")
        .and_then(|r| r.idempotency_key.clone())
        .ok_or("the contact POST carried no Idempotency-Key")?;
    let entry = env.stora.store().timeline(OPERATOR).last().cloned().ok_or("the operator's timeline is empty")?;
    check(entry["external"]["id"] == key.as_str(), "external.id is not the action's Idempotency-Key")?;
    step(
        7,
        "Timeline Event",
        &format!(
            "contact {} created (metadata {}={}), then recorded on the operator's Stora timeline:",
            contact["id"].as_str().unwrap_or("?"),
            reference.0,
            reference.1
        ),
    );
    println!(
        "{:27}{}  template {}  \"{}\"  name={}",
        "",
        entry["id"].as_str().unwrap_or("?"),
        entry["template"]["id"].as_str().unwrap_or("?"),
        entry["description"].as_str().unwrap_or(""),
        entry["variables"]["name"].as_str().unwrap_or("?")
    );
    println!("{:27}external.id {key} (the contact POST's Idempotency-Key; the event's own key: tle-{key})", "");
    Ok(())
}

/// Stora delivered the contact's and the timeline entry's events to the
/// broker (signed webhooks, in the background); the plugin pulls them with a
/// signed `GET /events`, keeps them, acknowledges the page, and the next pull
/// starts after the cursor.
fn stora_events(plugin: &mut PluginHost) -> Result<(), String> {
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let page = loop {
        let call = plugin.companion.start_pull_events(50).map_err(|e| e.to_string())?;
        let page = match plugin.drive(call).map_err(|e| format!("pulling events failed: {e}"))? {
            Completion::Events(page) => page,
            _ => return Err("unexpected pull result".into()),
        };
        if page.events.iter().any(|e| e.event_type == "contact.created") || Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    check(page.events.iter().any(|e| e.event_type == "contact.created"), "no contact.created event arrived")?;
    plugin.companion.acknowledge_events(&page.cursor).map_err(|e| e.to_string())?;
    let call = plugin.companion.start_pull_events(50).map_err(|e| e.to_string())?;
    let again = match plugin.drive(call).map_err(|e| format!("pulling events failed: {e}"))? {
        Completion::Events(page) => page,
        _ => return Err("unexpected pull result".into()),
    };
    check(again.events.is_empty(), "events pulled twice after the acknowledgement")?;
    let types: Vec<&str> = page.events.iter().map(|e| e.event_type.as_str()).collect();
    step(
        8,
        "Stora's events",
        &format!(
            "{} pulled with a signed GET /events (Stora's webhooks went to the broker, not the site): {}",
            page.events.len(),
            types.join(", ")
        ),
    );
    println!(
        "{:27}acknowledged: the cursor ({}) is in the plugin's state; the next pull brought {} events",
        "",
        page.cursor,
        again.events.len()
    );
    Ok(())
}

/// Step 8: two installations of one operator send [`BURST_CALLS`] calls at
/// once; the broker queues what would exceed Stora's 10/s so that Stora
/// never answers 429.
fn paced_burst(env: &Env) -> Result<(), String> {
    let plugins: Vec<PluginHost> = (0..2)
        .map(|_| env.connected_plugin(BURST_OPERATOR).map_err(|e| format!("burst installation: {e}")))
        .collect::<Result<_, _>>()?;
    let before = env.stora.counters().operators.get(BURST_OPERATOR).cloned().unwrap_or_default();
    let paced_before = env.broker.app().pacer.stats().get(BURST_OPERATOR).map_or(0, |s| s.paced);
    let started = Instant::now();
    let threads: Vec<_> = plugins
        .into_iter()
        .enumerate()
        .map(|(i, mut plugin)| {
            let calls = BURST_CALLS / 2 + (i == 0) as usize * (BURST_CALLS % 2);
            std::thread::spawn(move || {
                (0..calls).filter(|_| plugin.call(ApiRequest::new("GET", "/api/orders")).is_ok()).count()
            })
        })
        .collect();
    let ok: usize = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    let took = started.elapsed().as_secs_f64();
    let after = env.stora.counters().operators.get(BURST_OPERATOR).cloned().unwrap_or_default();
    let paced = env.broker.app().pacer.stats().get(BURST_OPERATOR).map_or(0, |s| s.paced) - paced_before;
    let stora_429 = after.rate_limited - before.rate_limited;
    check(ok == BURST_CALLS, "not every call of the burst succeeded")?;
    check(stora_429 == 0, "Stora answered 429 during the burst")?;
    check(paced > 0, "the broker queued none of the burst")?;
    step(
        9,
        "Paced burst",
        &format!(
            "{BURST_CALLS} calls from 2 installations of {BURST_OPERATOR} answered in {took:.1} s (Stora allows 10/s per operator)"
        ),
    );
    println!("{:27}the broker queued {paced} of them for a free slot; Stora's 429 count: {stora_429}", "");
    Ok(())
}

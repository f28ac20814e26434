//! `tessera-demo`: the whole lifecycle on this machine, printed as an
//! operator would read it. Starts a fake Stora, the reference broker
//! (SQLite in a temporary directory) and the plugin's site on 127.0.0.1,
//! drives a plugin (tessera-core's Companion) through register → connect →
//! API calls → token expiry → revocation → reconnect → disconnect →
//! uninstall, checks every step, and exits 0. Everything stops by itself.

use std::process::ExitCode;
use std::time::Instant;

use serde_json::{Value, json};
use tessera_broker::harness::{Env, EnvOptions, LogChoice};
use tessera_broker::plugin_host::{Browser, Decision, registration};
use tessera_core::{Completion, RegistrationOutcome};

const OPERATOR: &str = "opr_demo";

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
        .connect(&browser, &env.return_url(), Some("orders:read contacts:read"), Decision::Approve(OPERATOR))
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

    // 7. Kill switch.
    let disable = env.admin("POST", &format!("/admin/installations/{id}/disable"));
    check(disable.status == 200, "kill switch failed")?;
    let err = plugin.get_json("/api/orders").err().ok_or("a disabled installation should be refused")?;
    env.admin("POST", &format!("/admin/installations/{id}/enable"));
    plugin
        .connect(&browser, &env.return_url(), None, Decision::Approve(OPERATOR))
        .map_err(|e| format!("reconnect after the kill switch failed: {e}"))?;
    step(
        7,
        "Kill switch",
        &format!(
            "broker operator disabled the installation → reconnect required ({}); re-enabled and reconnected",
            err.reason().unwrap_or("?")
        ),
    );

    // 8. Disconnect.
    let revokes = env.stora.counters().revokes;
    let call = plugin.companion.start_disconnect().map_err(|e| e.to_string())?;
    let remote = match plugin.drive(call).map_err(|e| format!("disconnect failed: {e}"))? {
        Completion::Disconnected { remote } => remote.as_str(),
        _ => "?",
    };
    check(env.stora.counters().revokes == revokes + 1, "Stora did not see the revoke")?;
    step(
        8,
        "Disconnect",
        &format!("broker said {remote}; Stora saw the revoke; plugin status: {}", plugin.companion.status().as_str()),
    );

    // 9. Uninstall.
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
        9,
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

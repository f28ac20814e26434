//! Faults at the broker boundary (issue 8, "Hardening").
//!
//! A fault-injecting proxy ([`tessera_broker::fault_proxy`]) sits between the
//! plugin (tessera-core's Companion and step machine, driven over real HTTP
//! by [`PluginHost`]) and the reference broker. For every lifecycle step —
//! registration (both POSTs of the ownership proof), connect and callback,
//! the connect completion (signed, Idempotency-Key),
//! a signed GET, a signed POST (Idempotency-Key), disconnect, uninstall
//! (both remote steps), site moved — and every fault kind — 500/502/503
//! (with and without `Retry-After`), an HTML error page, a timeout, the
//! connection dropped before forwarding, after forwarding (the answer is
//! lost) or mid-body, a truncated body, a body that is not JSON, JSON of the
//! wrong shape, an empty body — each test checks:
//!
//! * the typed error code (or the documented success);
//! * how many times the plugin sent the request, counted at the proxy:
//!   retries only where docs/DESIGN.md says it is safe (idempotent methods,
//!   POST/PATCH with an Idempotency-Key, the same key on every attempt, and
//!   the registration POST, idempotent by install id and secret; at most two
//!   attempts per uninstall step), and `Retry-After` on a 5xx never stretches
//!   the backoff;
//! * the state after the fault: it round-trips through JSON, what the host
//!   last persisted equals the companion's state (no change was left
//!   unpersisted), and it is either unchanged or the documented successor;
//! * that the step then succeeds once the fault is removed (nothing lost).
//!
//! Every operation, registration included, runs on the step machine through
//! [`PluginHost::drive`] (docs/HOST-CONTRACT.md), which serves ownership
//! proofs on the rig's site.
//!
//! Plus: a caller's Idempotency-Key survives retries; an HTML or cut-off 401
//! is not a reconnect; a site move whose 202 challenge is lost completes; and
//! so does a first registration whose 202 challenge is lost.
//!
//! Timeouts are short: the plugin's HTTP timeout is
//! `TESSERA_FAULT_TIMEOUT_MS` (default 250 ms) and a hang lasts twice that.

use std::time::Duration;

use fake_stora::FakeStora;
use tessera_broker::fault_proxy::{Fault, FaultProxy};
use tessera_broker::observe::LogSink;
use tessera_broker::plugin_host::{Browser, Decision, PluginHost, SiteServer, registration};
use tessera_broker::{Broker, BrokerConfig};
use tessera_core::{ApiRequest, Companion, Completion, Config, Error, RegistrationOutcome, RetryPolicy, Status};

/// Attempts per logical call in these tests (the default policy's).
const MAX_ATTEMPTS: u32 = 3;
/// Largest backoff ceiling in these tests, milliseconds.
const MAX_DELAY_MS: u64 = 40;

fn client_timeout() -> Duration {
    let ms = std::env::var("TESSERA_FAULT_TIMEOUT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(250u64);
    Duration::from_millis(ms)
}

/// Every fault kind, applied to every step.
fn all_faults() -> Vec<Fault> {
    vec![
        Fault::status(500),
        Fault::status(502),
        Fault::status(503),
        Fault::status_retry_after(503, "3600"),
        Fault::status_retry_after(500, "1"),
        Fault::html_error(502),
        Fault::Hang(client_timeout() * 2),
        Fault::DropBeforeForward,
        Fault::DropAfterForward,
        Fault::DropMidBody,
        Fault::Truncated,
        Fault::NotJson,
        Fault::WrongShape,
        Fault::EmptyBody,
    ]
}

/// Faults that make the plugin see no usable answer (a 5xx or a transport
/// error): the step machine retries these when it is safe.
fn is_unavailable(f: &Fault) -> bool {
    matches!(
        f,
        Fault::Status { .. } | Fault::Hang(_) | Fault::DropBeforeForward | Fault::DropAfterForward | Fault::DropMidBody
    )
}

/// Fake Stora, the fault proxy, the broker behind it (its public URL is the
/// proxy's: signatures cover the authority the plugin uses) and the site.
struct Rig {
    site: SiteServer,
    broker: Broker,
    proxy: FaultProxy,
    stora: FakeStora,
    dir: std::path::PathBuf,
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rig(require_ownership_proof: bool) -> Rig {
    let stora_config = fake_stora::Config { rate_per_sec: 0, rate_per_min: 0, ..Default::default() };
    let stora = FakeStora::start(stora_config.clone()).expect("fake Stora starts");
    let proxy = FaultProxy::start("http://127.0.0.1:9").expect("proxy starts");
    let dir = std::env::temp_dir().join(tessera_broker::crypto::random_id("tessera-faults-", 9));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = BrokerConfig::new(
        stora.url(),
        &stora_config.client_id,
        &stora_config.client_secret,
        dir.join("broker.sqlite3"),
    );
    config.require_ownership_proof(require_ownership_proof);
    config.allow_loopback_sites = true;
    config.allowed_scopes = tessera_broker::harness::EXAMPLE_SCOPES.iter().map(|s| s.to_string()).collect();
    // The rig sends dozens of calls for one operator within seconds (the fake's
    // limits are off too): pacing would only delay them past its timeouts.
    config.pacing = tessera_broker::pacing::Pacing::off();
    config.public_url = Some(proxy.url().to_string());
    config.log = LogSink::Off;
    let broker = Broker::start(config).expect("broker starts");
    proxy.set_upstream(broker.url());
    let site = SiteServer::start().expect("site starts");
    Rig { site, broker, proxy, stora, dir }
}

impl Rig {
    fn return_url(&self) -> String {
        format!("{}/wp-admin/options-general.php?page=tessera", self.site.url())
    }

    /// A plugin pointed at the proxy, with a short timeout and short backoff,
    /// serving its ownership proofs on the site.
    fn plugin(&self) -> PluginHost {
        let mut config = Config::new(self.proxy.url());
        config.retry = RetryPolicy {
            max_attempts: MAX_ATTEMPTS,
            base_delay_ms: 10,
            max_delay_ms: MAX_DELAY_MS,
            max_total_delay_ms: 2_000,
            max_retry_after_ms: 10_000,
        };
        let mut plugin = PluginHost::from_companion(Companion::create(config).unwrap()).with_site(self.site.handle());
        plugin.set_timeout(client_timeout());
        plugin
    }

    fn registered(&self) -> PluginHost {
        let mut plugin = self.plugin();
        let outcome = plugin.register(&registration(self.site.url(), "wordpress")).expect("registers");
        assert_eq!(outcome, RegistrationOutcome::Registered);
        plugin
    }

    fn connected(&self, operator: &str, scope: Option<&str>) -> PluginHost {
        let mut plugin = self.registered();
        plugin.connect(&Browser::default(), &self.return_url(), scope, Decision::Approve(operator)).expect("connects");
        plugin
    }
}

/// The persisted-state checks after a fault: the state JSON parses back to
/// the same state, and what the host last persisted is exactly that state
/// (the step machine asked to persist every change it made).
fn check_state(plugin: &PluginHost, ctx: &str, failures: &mut Vec<String>) -> Option<Companion> {
    let json = plugin.companion.to_json();
    let restored = match Companion::from_json(&json) {
        Ok(c) => c,
        Err(e) => {
            failures.push(format!("{ctx}: state does not parse back: {e}"));
            return None;
        }
    };
    if restored.to_json() != json {
        failures.push(format!("{ctx}: state does not round-trip"));
    }
    match &plugin.persisted {
        Some(p) if *p == json => {}
        Some(_) => {
            failures.push(format!("{ctx}: persisted state differs from the companion's (a change was not persisted)"))
        }
        None => failures.push(format!("{ctx}: nothing persisted")),
    }
    Some(restored)
}

fn expect(failures: &mut Vec<String>, ok: bool, msg: impl FnOnce() -> String) {
    if !ok {
        failures.push(msg());
    }
}

fn report(step: &str, failures: Vec<String>, cases: usize) {
    assert!(
        failures.is_empty(),
        "{step}: {} of {cases} fault cases failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

fn secret_of(c: &Companion) -> String {
    c.state().installation().map(|i| i.secret.to_base64url()).unwrap_or_default()
}

fn token_of(c: &Companion) -> Option<String> {
    c.state().broker_token().map(|t| t.expose().to_string())
}

// ---- signed API calls ------------------------------------------------------------------

/// `GET /api/orders` (idempotent): unavailable → retried up to the policy's
/// attempts, then `server_unavailable`; once → retried and succeeds; body
/// faults on a 200 → passed through as the broker's answer (the core does
/// not read API bodies), no retry. State never changes.
#[test]
fn signed_get_under_every_fault() {
    let rig = rig(false);
    let mut plugin = rig.connected("opr_get", None);
    let mut failures = Vec::new();
    let faults = all_faults();
    for fault in &faults {
        let name = fault.name();
        let before = plugin.companion.to_json();
        plugin.persisted = Some(before.clone());
        rig.proxy.reset_seen();
        rig.proxy.fail_always(Some("GET"), "/api/orders", fault.clone());
        let result = plugin.call(ApiRequest::new("GET", "/api/orders"));
        let sends = rig.proxy.count("GET", "/api/orders");
        rig.proxy.clear();
        if is_unavailable(fault) {
            expect(&mut failures, matches!(&result, Err(e) if e.code() == "server_unavailable"), || {
                format!("GET {name}: want server_unavailable, got {result:?}")
            });
            expect(&mut failures, sends == MAX_ATTEMPTS as usize, || {
                format!("GET {name}: {sends} sends, want {MAX_ATTEMPTS}")
            });
            let sleeps = &plugin.last_trace.sleeps;
            expect(
                &mut failures,
                sleeps.len() == MAX_ATTEMPTS as usize - 1 && sleeps.iter().all(|&s| s <= MAX_DELAY_MS),
                || format!("GET {name}: sleeps {sleeps:?} (Retry-After on a 5xx must not stretch the backoff)"),
            );
        } else {
            match &result {
                Ok(resp) => {
                    let parsed = serde_json::from_slice::<serde_json::Value>(&resp.body).ok();
                    let has_orders = parsed.as_ref().and_then(|v| v["data"].as_array()).is_some();
                    expect(&mut failures, resp.status == 200 && !has_orders, || {
                        format!("GET {name}: the mangled answer was not passed through as is: {resp:?}")
                    });
                }
                Err(e) => {
                    failures.push(format!("GET {name}: a 200 with a bad body is the caller's to parse, got {e:?}"))
                }
            }
            expect(&mut failures, sends == 1, || format!("GET {name}: {sends} sends, a 2xx is never retried"));
        }
        if check_state(&plugin, &format!("GET {name}"), &mut failures).is_some() {
            expect(&mut failures, plugin.companion.to_json() == before, || format!("GET {name}: state changed"));
        }
        // The same fault once: retried and recovered, when retrying is safe.
        if is_unavailable(fault) {
            rig.proxy.reset_seen();
            rig.proxy.fail_times(Some("GET"), "/api/orders", fault.clone(), 1);
            let result = plugin.get_json("/api/orders");
            let sends = rig.proxy.count("GET", "/api/orders");
            rig.proxy.clear();
            expect(
                &mut failures,
                result.as_ref().is_ok_and(|v| v["data"].as_array().is_some_and(|a| a.len() == 3)),
                || format!("GET {name} once: want the orders after one retry, got {result:?}"),
            );
            expect(&mut failures, sends == 2, || format!("GET {name} once: {sends} sends, want 2"));
        }
        // Fault removed: the call works.
        let after = plugin.get_json("/api/orders");
        expect(&mut failures, after.is_ok(), || format!("GET {name}: no recovery after the fault: {after:?}"));
        expect(&mut failures, plugin.companion.status() == Status::Connected, || format!("GET {name}: not connected"));
    }
    report("signed GET", failures, faults.len());
}

/// `POST /api/contacts` carries an Idempotency-Key (the step machine adds
/// one), so it is retried like a GET, with the same key on every attempt;
/// when the broker acted and the answer was lost, Stora sees the same key
/// again and creates the contact once.
#[test]
fn signed_post_with_idempotency_key_under_every_fault() {
    let rig = rig(false);
    let mut plugin = rig.connected("opr_post", Some("public.contact:write"));
    let mut failures = Vec::new();
    let faults = all_faults();
    let post = || ApiRequest::json("POST", "/api/contacts", br#"{"name":"Ada"}"#.to_vec());
    let stora_keys = |rig: &Rig| -> Vec<String> {
        rig.stora
            .store()
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/2025-09/contacts")
            .filter_map(|r| r.idempotency_key)
            .collect()
    };
    for fault in &faults {
        let name = fault.name();
        for times in [None, Some(1)] {
            if times.is_some() && !is_unavailable(fault) {
                continue;
            }
            let label = format!("POST {name}{}", if times.is_some() { " once" } else { "" });
            let before = plugin.companion.to_json();
            plugin.persisted = Some(before.clone());
            rig.proxy.reset_seen();
            let stora_before = stora_keys(&rig).len();
            let created_before = rig.stora.store().created_contacts();
            match times {
                None => rig.proxy.fail_always(Some("POST"), "/api/contacts", fault.clone()),
                Some(n) => rig.proxy.fail_times(Some("POST"), "/api/contacts", fault.clone(), n),
            }
            let result = plugin.call(post());
            rig.proxy.clear();
            let seen: Vec<_> = rig.proxy.seen().into_iter().filter(|s| s.path() == "/api/contacts").collect();
            let keys: Vec<Option<String>> =
                seen.iter().map(|s| s.header("idempotency-key").map(str::to_string)).collect();
            expect(&mut failures, keys.iter().all(|k| k.is_some() && *k == keys[0]), || {
                format!("{label}: Idempotency-Key not stable across attempts: {keys:?}")
            });
            let want_sends = match (is_unavailable(fault), times) {
                (true, None) => MAX_ATTEMPTS as usize,
                (true, Some(_)) => 2,
                (false, _) => 1,
            };
            expect(&mut failures, seen.len() == want_sends, || {
                format!("{label}: {} sends, want {want_sends}", seen.len())
            });
            match (is_unavailable(fault), times) {
                (true, None) => {
                    expect(&mut failures, matches!(&result, Err(e) if e.code() == "server_unavailable"), || {
                        format!("{label}: want server_unavailable, got {result:?}")
                    })
                }
                (true, Some(_)) => expect(&mut failures, matches!(&result, Ok(r) if r.status == 201), || {
                    format!("{label}: want 201 after one retry, got {result:?}")
                }),
                (false, _) => expect(&mut failures, matches!(&result, Ok(r) if r.status == 201), || {
                    format!("{label}: want the (mangled) 201 passed through, got {result:?}")
                }),
            }
            // Stora: every POST of this logical call carried the one key.
            let new_keys: Vec<String> = stora_keys(&rig)[stora_before..].to_vec();
            let distinct: std::collections::BTreeSet<_> = new_keys.iter().collect();
            expect(
                &mut failures,
                distinct.len() <= 1
                    && keys.first().cloned().flatten().is_none_or(|k| distinct.iter().all(|d| **d == k)),
                || format!("{label}: Stora saw keys {new_keys:?}, the plugin sent {keys:?}"),
            );
            // Exactly one contact when any attempt reached Stora, however many did.
            let created = rig.stora.store().created_contacts() - created_before;
            let want_created = usize::from(!new_keys.is_empty());
            expect(&mut failures, created == want_created, || {
                format!("{label}: {created} contacts created by {} POSTs at Stora", new_keys.len())
            });
            if check_state(&plugin, &label, &mut failures).is_some() {
                expect(&mut failures, plugin.companion.to_json() == before, || format!("{label}: state changed"));
            }
        }
        let after = plugin.call(post());
        expect(&mut failures, matches!(&after, Ok(r) if r.status == 201), || {
            format!("POST {name}: no recovery: {after:?}")
        });
    }
    report("signed POST", failures, faults.len());
}

/// A caller's own Idempotency-Key is kept on every attempt.
#[test]
fn caller_idempotency_key_survives_retries() {
    let rig = rig(false);
    let mut plugin = rig.connected("opr_key", Some("public.contact:write"));
    rig.proxy.fail_times(Some("POST"), "/api/contacts", Fault::DropAfterForward, 2);
    let mut req = ApiRequest::json("POST", "/api/contacts", br#"{"name":"Bo"}"#.to_vec());
    req.headers.push(("Idempotency-Key".into(), "caller-key-0001".into()));
    let resp = plugin.call(req).expect("third attempt succeeds");
    assert_eq!(resp.status, 201);
    let keys: Vec<_> = rig
        .proxy
        .seen()
        .iter()
        .filter(|s| s.path() == "/api/contacts")
        .filter_map(|s| s.header("idempotency-key").map(str::to_string))
        .collect();
    assert_eq!(keys, vec!["caller-key-0001"; 3]);
    let at_stora: Vec<_> = rig
        .stora
        .store()
        .requests()
        .into_iter()
        .filter(|r| r.path == "/2025-09/contacts")
        .map(|r| r.idempotency_key.unwrap_or_default())
        .collect();
    assert_eq!(at_stora, vec!["caller-key-0001"; 3], "every forwarded attempt reached Stora with the caller's key");
}

// ---- disconnect and uninstall --------------------------------------------------------------

/// `POST /disconnect` (keyed, so retried): the broker token goes locally
/// whatever happens; the result says whether the broker confirmed it. The
/// registration survives; connecting again works.
#[test]
fn disconnect_under_every_fault() {
    let rig = rig(false);
    let mut plugin = rig.registered();
    let mut failures = Vec::new();
    let faults = all_faults();
    let browser = Browser::default();
    for fault in &faults {
        for times in [None, Some(1)] {
            if times.is_some() && !is_unavailable(fault) {
                continue;
            }
            let label = format!("disconnect {}{}", fault.name(), if times.is_some() { " once" } else { "" });
            plugin.connect(&browser, &rig.return_url(), None, Decision::Approve("opr_disc")).expect("connects");
            let (id, secret) = (plugin.companion.install_id().map(str::to_string), secret_of(&plugin.companion));
            plugin.persisted = Some(plugin.companion.to_json());
            rig.proxy.reset_seen();
            match times {
                None => rig.proxy.fail_always(Some("POST"), "/disconnect", fault.clone()),
                Some(n) => rig.proxy.fail_times(Some("POST"), "/disconnect", fault.clone(), n),
            }
            let call = plugin.companion.start_disconnect().unwrap();
            let result = plugin.drive(call);
            let sends = rig.proxy.count("POST", "/disconnect");
            rig.proxy.clear();
            let confirmed = !(is_unavailable(fault) && times.is_none());
            match &result {
                Ok(Completion::Disconnected { remote }) if confirmed => {
                    expect(&mut failures, remote.as_str() == "ok", || format!("{label}: want ok, got {remote:?}"))
                }
                Ok(Completion::Disconnected { remote }) => {
                    expect(&mut failures, remote.error().is_some_and(|e| e.code() == "server_unavailable"), || {
                        format!("{label}: want failed(server_unavailable), got {remote:?}")
                    })
                }
                other => failures.push(format!("{label}: {other:?}")),
            }
            let want_sends = match (is_unavailable(fault), times) {
                (true, None) => MAX_ATTEMPTS as usize,
                (true, Some(_)) => 2,
                (false, _) => 1,
            };
            expect(&mut failures, sends == want_sends, || format!("{label}: {sends} sends, want {want_sends}"));
            if let Some(restored) = check_state(&plugin, &label, &mut failures) {
                expect(&mut failures, restored.status() == Status::Registered && token_of(&restored).is_none(), || {
                    format!("{label}: want registered without a token, got {:?}", restored.status())
                });
                expect(
                    &mut failures,
                    restored.install_id().map(str::to_string) == id && secret_of(&restored) == secret,
                    || format!("{label}: the registration was lost"),
                );
            }
        }
    }
    // Nothing lost: connect and call once more.
    plugin.connect(&browser, &rig.return_url(), None, Decision::Approve("opr_disc")).expect("reconnects");
    plugin.get_json("/api/orders").expect("calls after the faults");
    report("disconnect", failures, faults.len());
}

/// Uninstall: two remote steps, at most two attempts each, then local state
/// is wiped whatever the network said, and the report names what failed.
#[test]
fn uninstall_under_every_fault() {
    let rig = rig(false);
    let mut failures = Vec::new();
    let faults = all_faults();
    for (method, path, which) in [("POST", "/disconnect", "disconnect"), ("DELETE", "/installations/", "deregister")] {
        for fault in &faults {
            for times in [None, Some(1)] {
                if times.is_some() && !is_unavailable(fault) {
                    continue;
                }
                let label = format!("uninstall/{which} {}{}", fault.name(), if times.is_some() { " once" } else { "" });
                let mut plugin = rig.connected("opr_uninst", None);
                let id = plugin.companion.install_id().unwrap().to_string();
                plugin.persisted = Some(plugin.companion.to_json());
                rig.proxy.reset_seen();
                match times {
                    None => rig.proxy.fail_always(Some(method), path, fault.clone()),
                    Some(n) => rig.proxy.fail_times(Some(method), path, fault.clone(), n),
                }
                let call = plugin.companion.start_uninstall();
                let result = plugin.drive(call);
                let sends = rig.proxy.count(method, path);
                rig.proxy.clear();
                let failed = is_unavailable(fault) && times.is_none();
                match &result {
                    Ok(Completion::Uninstalled(report)) => {
                        let (step, other) = if which == "disconnect" {
                            (&report.disconnect, &report.deregister)
                        } else {
                            (&report.deregister, &report.disconnect)
                        };
                        let want = if failed { "failed" } else { "ok" };
                        expect(&mut failures, step.as_str() == want && other.as_str() == "ok", || {
                            format!("{label}: want {which}={want}, the other ok; got {report:?}")
                        });
                        if failed {
                            expect(
                                &mut failures,
                                step.error().is_some_and(|e| e.code() == "server_unavailable"),
                                || format!("{label}: want server_unavailable, got {step:?}"),
                            );
                        }
                    }
                    other => failures.push(format!("{label}: {other:?}")),
                }
                let want_sends = match (is_unavailable(fault), times) {
                    (true, None) => tessera_core::internals::machine::UNINSTALL_MAX_ATTEMPTS as usize,
                    (true, Some(_)) => 2,
                    (false, _) => 1,
                };
                expect(&mut failures, sends == want_sends, || format!("{label}: {sends} sends, want {want_sends}"));
                if let Some(restored) = check_state(&plugin, &label, &mut failures) {
                    expect(
                        &mut failures,
                        restored.status() == Status::NotRegistered && restored.install_id().is_none(),
                        || format!("{label}: local state not wiped"),
                    );
                }
                // At the broker: gone unless the deregistration never arrived.
                let at_broker = rig.broker.app().store.installation(&id).unwrap().is_some();
                let deregister_lost = which == "deregister" && failed && !fault.forwards();
                expect(&mut failures, at_broker == deregister_lost, || {
                    format!("{label}: installation at the broker: {at_broker}, want {deregister_lost}")
                });
            }
        }
    }
    // Nothing lost for the next installation on this site.
    rig.connected("opr_uninst", None).get_json("/api/orders").expect("a fresh installation works");
    report("uninstall", failures, faults.len() * 2);
}

// ---- site moved ------------------------------------------------------------------------

/// `PATCH /installations/{id}` (keyed, so retried): the mismatch stays
/// recorded until the broker confirms; then the registration carries the
/// new URL.
#[test]
fn site_moved_under_every_fault() {
    let rig = rig(false);
    let mut plugin = rig.connected("opr_move", None);
    let mut failures = Vec::new();
    let faults = all_faults();
    for (n, fault) in faults.iter().enumerate() {
        let label = format!("site moved {}", fault.name());
        let new_url = format!("{}/moved{n}", rig.site.url());
        let check = plugin.companion.check_site(&new_url).unwrap();
        expect(&mut failures, matches!(check, tessera_core::SiteCheck::Mismatch { .. }), || {
            format!("{label}: {check:?}")
        });
        let before = plugin.companion.to_json();
        plugin.persisted = Some(before.clone());
        rig.proxy.reset_seen();
        rig.proxy.fail_always(Some("PATCH"), "/installations/", fault.clone());
        let call = plugin.companion.start_site_moved().unwrap();
        let result = plugin.drive(call);
        let sends = rig.proxy.count("PATCH", "/installations/");
        rig.proxy.clear();
        if is_unavailable(fault) {
            expect(&mut failures, matches!(&result, Err(e) if e.code() == "server_unavailable"), || {
                format!("{label}: want server_unavailable, got {result:?}")
            });
            expect(&mut failures, sends == MAX_ATTEMPTS as usize, || format!("{label}: {sends} sends"));
            if check_state(&plugin, &label, &mut failures).is_some() {
                expect(&mut failures, plugin.companion.to_json() == before, || format!("{label}: state changed"));
                expect(&mut failures, plugin.companion.status() == Status::SiteMismatch, || {
                    format!("{label}: mismatch lost")
                });
            }
            // Fault removed: the move goes through.
            plugin.persisted = Some(plugin.companion.to_json());
            let call = plugin.companion.start_site_moved().unwrap();
            let again = plugin.drive(call);
            expect(&mut failures, matches!(again, Ok(Completion::SiteMoved)), || {
                format!("{label}: no recovery: {again:?}")
            });
        } else {
            // A 200 whatever its body: the move is done (status-only answer).
            expect(&mut failures, matches!(result, Ok(Completion::SiteMoved)), || format!("{label}: got {result:?}"));
            expect(&mut failures, sends == 1, || format!("{label}: {sends} sends"));
        }
        if let Some(restored) = check_state(&plugin, &format!("{label} (after)"), &mut failures) {
            expect(
                &mut failures,
                restored.site_url() == Some(new_url.as_str()) && restored.status() == Status::Connected,
                || {
                    format!(
                        "{label}: want connected at {new_url}, got {:?} at {:?}",
                        restored.status(),
                        restored.site_url()
                    )
                },
            );
        }
        let stored = rig.broker.app().store.installation(plugin.companion.install_id().unwrap()).unwrap().unwrap();
        expect(&mut failures, stored.site_url == new_url, || format!("{label}: broker has {}", stored.site_url));
        let call = plugin.get_json("/api/orders");
        expect(&mut failures, call.is_ok(), || format!("{label}: call after the move: {call:?}"));
    }
    report("site moved", failures, faults.len());
}

// ---- registration ----------------------------------------------------------------------

/// `POST /installations` is the one unsigned call. It is idempotent by
/// install id and secret (the broker accepts a repeat as the same
/// installation), so the step machine retries it on 5xx and network failures
/// like a keyed call, and the proof round is part of the same operation.
/// Ownership proof on: the fault hits the first POST (answered 202 +
/// challenge) or the one after the proof (201).
///
/// * first POST, fault before the broker: retried; 202, proof, 201 (3 sends);
/// * first POST, answer lost after the broker stored it: the retry (no proof
///   served: the plugin never saw the challenge) is answered
///   `403 ownership_proof_invalid`, and the machine starts over once in the
///   same operation with a fresh id (persisted first), which completes;
/// * first POST, a mangled 202: `registration_rejected` (malformed
///   challenge), not retried; the broker's pending record then refuses the
///   repeat (403), and that repeat starts over with a fresh id and completes;
/// * the POST after the proof, any fault: the same id and secret end
///   registered (retried when unavailable, a mangled 201 is still a 201).
#[test]
fn registration_under_every_fault() {
    let rig = rig(true);
    let mut failures = Vec::new();
    let faults = all_faults();
    for second in [false, true] {
        for fault in &faults {
            let label = format!("register ({} POST) {}", if second { "second" } else { "first" }, fault.name());
            let mut plugin = rig.plugin();
            let reg = registration(rig.site.url(), "wordpress");
            if second {
                // Up to the challenge, without faults: the host defers the
                // proof, then its route goes live (the site serves it).
                plugin.defer_proofs = true;
                match plugin.register(&reg) {
                    Ok(RegistrationOutcome::OwnershipChallenge(proof)) => rig.site.serve_proof(&proof),
                    other => failures.push(format!("{label}: want the challenge owed, got {other:?}")),
                }
                plugin.defer_proofs = false;
            }
            let (id, secret) = (plugin.companion.install_id().map(str::to_string), secret_of(&plugin.companion));
            rig.proxy.reset_seen();
            rig.proxy.fail_times(Some("POST"), "/installations", fault.clone(), 1);
            let result = plugin.register(&reg);
            let sends = rig.proxy.count("POST", "/installations");
            rig.proxy.clear();
            check_state(&plugin, &label, &mut failures);
            let lost_challenge = !second && fault.forwards();
            let want_sends = match (second, is_unavailable(fault), fault.forwards()) {
                (false, true, false) => 3, // fault, retry (202), after the proof (201)
                (false, true, true) => 4,  // the answer lost, the retry refused, fresh id (202), after the proof (201)
                (false, false, _) => 1,    // a mangled 202
                (true, true, _) => 2,      // fault, retry (201)
                (true, false, _) => 1,     // a mangled 201
            };
            expect(&mut failures, sends == want_sends, || format!("{label}: {sends} sends, want {want_sends}"));
            if lost_challenge {
                let fresh_id = |plugin: &PluginHost| plugin.companion.install_id().map(str::to_string) != id;
                if is_unavailable(fault) {
                    expect(
                        &mut failures,
                        matches!(result, Ok(RegistrationOutcome::Registered)) && fresh_id(&plugin),
                        || format!("{label}: want registered under a fresh id in the same operation, got {result:?}"),
                    );
                } else {
                    expect(
                        &mut failures,
                        matches!(&result, Err(Error::RegistrationRejected { status: 202, reason }) if reason == "malformed_challenge"),
                        || format!("{label}: want registration_rejected(202, malformed_challenge), got {result:?}"),
                    );
                    check_state(&plugin, &format!("{label} (rejected)"), &mut failures);
                    // The same id again: the broker's record, whose challenge the
                    // plugin never saw, refuses it (403); the machine starts over.
                    let again = plugin.register(&reg);
                    expect(
                        &mut failures,
                        matches!(again, Ok(RegistrationOutcome::Registered)) && fresh_id(&plugin),
                        || format!("{label}: repeat after a lost challenge: {again:?}"),
                    );
                }
            } else {
                expect(&mut failures, matches!(result, Ok(RegistrationOutcome::Registered)), || {
                    format!("{label}: want registered, got {result:?}")
                });
                if second {
                    expect(
                        &mut failures,
                        plugin.companion.install_id().map(str::to_string) == id
                            && secret_of(&plugin.companion) == secret,
                        || format!("{label}: a new installation was made instead of completing the pending one"),
                    );
                }
            }
            check_state(&plugin, &format!("{label} (after)"), &mut failures);
            // Registered for real at the broker: a signed connect is accepted.
            expect(&mut failures, plugin.companion.status() == Status::Registered, || {
                format!("{label}: not registered in the end: {:?}", plugin.companion.status())
            });
            if plugin.companion.status() == Status::Registered {
                let ok = plugin.connect(&Browser::default(), &rig.return_url(), None, Decision::Approve("opr_reg"));
                expect(&mut failures, ok.is_ok(), || format!("{label}: connect after registering: {ok:?}"));
            }
        }
    }
    report("registration", failures, faults.len() * 2);
}

// ---- connect and callback (browser), completion (signed) ------------------------------------

/// The browser's `GET /connect` and the broker's `GET /callback` under
/// faults, as a reconnect of a connected plugin: the connect does not
/// complete (the browser never reaches the return URL) or completes; either
/// way the state is valid, a failed reconnect keeps the current token — and
/// that token still works, since nothing the browser does replaces the
/// grant (only the plugin's signed completion does) — and connecting again
/// works (a new link: the one a fault interrupted is used up).
#[test]
fn connect_and_callback_under_every_fault() {
    let rig = rig(false);
    let mut plugin = rig.connected("opr_conn", None);
    let browser = Browser::default();
    let mut failures = Vec::new();
    let faults = all_faults();
    for path in ["/connect", "/callback"] {
        for fault in &faults {
            let label = format!("GET {path} {}", fault.name());
            let token = token_of(&plugin.companion);
            rig.proxy.fail_times(Some("GET"), path, fault.clone(), 1);
            let result = plugin.connect(&browser, &rig.return_url(), None, Decision::Approve("opr_conn"));
            rig.proxy.clear();
            // A fault that answers instead of the broker stops the browser.
            expect(&mut failures, fault.forwards() || result.is_err(), || format!("{label}: the connect went through"));
            if let Some(restored) = check_state(&plugin, &label, &mut failures) {
                match &result {
                    Ok(account) => expect(
                        &mut failures,
                        restored.status() == Status::Connected
                            && token_of(&restored) != token
                            && account.id == "opr_conn",
                        || format!("{label}: completed but not with a new token and the account: {account:?}"),
                    ),
                    Err(e) => {
                        expect(&mut failures, e.code() == "callback_invalid", || format!("{label}: {e:?}"));
                        expect(
                            &mut failures,
                            token_of(&restored) == token && restored.status() == Status::Connected,
                            || format!("{label}: a failed reconnect lost the current token"),
                        );
                        let call = plugin.get_json("/api/orders");
                        expect(&mut failures, call.is_ok(), || format!("{label}: old token refused: {call:?}"));
                    }
                }
            }
            let again = plugin.connect(&browser, &rig.return_url(), None, Decision::Approve("opr_conn"));
            expect(&mut failures, again.is_ok(), || format!("{label}: no recovery: {again:?}"));
            let call = plugin.get_json("/api/orders");
            expect(&mut failures, call.is_ok(), || format!("{label}: call after reconnect: {call:?}"));
        }
    }
    report("connect/callback", failures, faults.len() * 2);
}

/// The signed `POST /connect/complete` under faults, as a reconnect: it
/// carries an Idempotency-Key, so an unavailable answer is retried with the
/// same key — and when the broker had already completed (the answer was
/// lost), the retry is answered with a new broker token for the same grant.
/// Either way the state is valid, at most the policy's attempts are sent,
/// success means a new, working token, and connecting again works.
#[test]
fn connect_completion_under_every_fault() {
    let rig = rig(false);
    let mut plugin = rig.connected("opr_complete", None);
    let browser = Browser::default();
    let mut failures = Vec::new();
    let faults = all_faults();
    for fault in &faults {
        let label = format!("POST /connect/complete {}", fault.name());
        let token = token_of(&plugin.companion);
        rig.proxy.reset_seen();
        rig.proxy.fail_times(Some("POST"), "/connect/complete", fault.clone(), 1);
        let result = plugin.connect(&browser, &rig.return_url(), None, Decision::Approve("opr_complete"));
        rig.proxy.clear();
        let sent = rig.proxy.count("POST", "/connect/complete");
        expect(&mut failures, (1..=MAX_ATTEMPTS as usize).contains(&sent), || format!("{label}: {sent} attempts"));
        if is_unavailable(fault) && !matches!(fault, Fault::Status { retry_after: Some(_), .. }) {
            // Retried with the same key; the second attempt answers.
            expect(&mut failures, result.is_ok() && sent == 2, || format!("{label}: {result:?} after {sent} attempts"));
        }
        if let Some(restored) = check_state(&plugin, &label, &mut failures) {
            match &result {
                Ok(account) => {
                    expect(
                        &mut failures,
                        restored.status() == Status::Connected
                            && token_of(&restored) != token
                            && account.id == "opr_complete",
                        || format!("{label}: completed but not with a new token and the account: {account:?}"),
                    );
                    let call = plugin.get_json("/api/orders");
                    expect(&mut failures, call.is_ok(), || format!("{label}: the new token is refused: {call:?}"));
                }
                Err(e) => expect(&mut failures, token_of(&restored) == token, || {
                    format!("{label}: a failed completion dropped the current token: {e:?}")
                }),
            }
        }
        let again = plugin.connect(&browser, &rig.return_url(), None, Decision::Approve("opr_complete"));
        expect(&mut failures, again.is_ok(), || format!("{label}: no recovery: {again:?}"));
        let call = plugin.get_json("/api/orders");
        expect(&mut failures, call.is_ok(), || format!("{label}: call after reconnect: {call:?}"));
    }
    report("connect completion", failures, faults.len());
}

/// A registration whose 202 challenge was lost (the broker acted, the answer
/// did not arrive) is not stranded: the machine retries the POST (same id
/// and secret, no proof served, since it never saw a challenge), the broker
/// answers `403 ownership_proof_invalid` as PROTOCOL.md §5.1 says, and the
/// machine starts over in the same operation with a fresh id, persisted
/// before it is sent, which proves ownership and completes.
#[test]
fn lost_ownership_challenge_is_recovered_in_the_same_operation() {
    let rig = rig(true);
    let mut plugin = rig.plugin();
    let reg = registration(rig.site.url(), "wordpress");
    rig.proxy.fail_times(Some("POST"), "/installations", Fault::DropAfterForward, 1);
    assert_eq!(plugin.register(&reg).expect("one operation completes"), RegistrationOutcome::Registered);
    assert_eq!(rig.proxy.count("POST", "/installations"), 4, "lost, retried (403), fresh id (202), after the proof");
    assert_eq!(plugin.last_trace.proofs.len(), 1, "one proof, for the fresh id");
    assert_eq!(plugin.companion.status(), Status::Registered);
    assert_eq!(plugin.persisted.as_deref(), Some(plugin.companion.to_json().as_str()), "everything is persisted");
    let ids: std::collections::BTreeSet<String> = rig
        .proxy
        .seen()
        .iter()
        .filter(|s| s.method == "POST" && s.path() == "/installations")
        .filter_map(|s| serde_json::from_slice::<serde_json::Value>(&s.body).ok())
        .filter_map(|v| v["install_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids.len(), 2, "a fresh install id after the 403: {ids:?}");
}

/// A 401 whose body is not the broker's JSON (an HTML page from a proxy, a
/// cut-off error object) is not a reconnect: `client_error`, no retry, and
/// the broker token stays (a garbled answer must not disconnect anyone).
#[test]
fn garbled_401_keeps_the_connection() {
    let rig = rig(false);
    let mut plugin = rig.connected("opr_401", None);
    let mut failures = Vec::new();
    let bodies = [
        ("text/html", "<html><body><h1>401 Authorization Required</h1></body></html>"),
        ("application/json", r#"{"error":"stora_reconnect_requ"#),
        ("application/json", r#"{"unexpected":"stora_reconnect_required"}"#),
        ("text/plain", ""),
    ];
    for (content_type, body) in bodies {
        let label = format!("401 {content_type} {body:?}");
        let before = plugin.companion.to_json();
        plugin.persisted = Some(before.clone());
        rig.proxy.reset_seen();
        let fault = Fault::Status { status: 401, retry_after: None, content_type, body: body.to_string() };
        rig.proxy.fail_always(Some("GET"), "/api/orders", fault);
        let result = plugin.call(ApiRequest::new("GET", "/api/orders"));
        let sends = rig.proxy.count("GET", "/api/orders");
        rig.proxy.clear();
        expect(&mut failures, matches!(&result, Err(Error::ClientError { status: 401, .. })), || {
            format!("{label}: want client_error 401, got {result:?}")
        });
        expect(&mut failures, sends == 1, || format!("{label}: {sends} sends"));
        if check_state(&plugin, &label, &mut failures).is_some() {
            expect(&mut failures, plugin.companion.to_json() == before, || format!("{label}: state changed"));
        }
        let after = plugin.get_json("/api/orders");
        expect(&mut failures, after.is_ok(), || format!("{label}: no recovery: {after:?}"));
    }
    report("garbled 401", failures, bodies.len());
}

/// A site move to a broker that asks for an ownership proof: the `202`
/// challenge is lost after the broker recorded the move; the keyed PATCH is
/// retried, the broker answers a new challenge, and the same operation
/// completes the move with the proof (`ServeProof`, then the registration
/// POST) — the same installation, connected throughout.
#[test]
fn site_move_with_a_lost_challenge_completes() {
    let rig = rig(true);
    let mut plugin = rig.connected("opr_move_proof", None);
    let id = plugin.companion.install_id().unwrap().to_string();
    let new_url = format!("{}/moved", rig.site.url());
    plugin.companion.check_site(&new_url).unwrap();
    plugin.persisted = Some(plugin.companion.to_json());
    rig.proxy.reset_seen();
    rig.proxy.fail_times(Some("PATCH"), "/installations/", Fault::DropAfterForward, 1);
    let call = plugin.companion.start_site_moved().unwrap();
    let result = plugin.drive(call);
    assert!(matches!(result, Ok(Completion::SiteMoved)), "{result:?}");
    assert_eq!(rig.proxy.count("PATCH", "/installations/"), 2, "the keyed PATCH was retried once");
    assert_eq!(rig.proxy.count("POST", "/installations"), 1, "one registration round");
    assert_eq!(plugin.last_trace.proofs_served, 1);
    let mut failures = Vec::new();
    check_state(&plugin, "site move, lost 202", &mut failures);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(plugin.companion.status(), Status::Connected);
    assert_eq!(plugin.companion.install_id(), Some(id.as_str()));
    assert_eq!(plugin.companion.site_url(), Some(new_url.as_str()));
    plugin.get_json("/api/orders").expect("connected at the new address");
}

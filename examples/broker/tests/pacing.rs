//! Per-operator pacing, `Tessera-Origin` and the headers the proxy passes
//! through, against a real fake Stora and the broker on 127.0.0.1
//! ([`tessera_broker::harness::Env`]). Calls are signed once and sent raw
//! ([`PluginHost::send_signed`]: no step-machine retry hides a 429).

use std::time::{Duration, Instant};

use tessera_broker::harness::{Env, EnvOptions, LogChoice};
use tessera_broker::pacing::Pacing;
use tessera_broker::plugin_host::PluginHost;
use tessera_core::{ApiRequest, Response};

fn env(pacing: Pacing, stora: fake_stora::Config) -> Env {
    Env::start(EnvOptions { pacing, stora, log: LogChoice::Off, ..EnvOptions::default() }).expect("environment starts")
}

fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn origin(resp: &Response) -> Option<&str> {
    header(resp, "tessera-origin")
}

fn get(plugin: &mut PluginHost, path: &str) -> Response {
    plugin.send_signed(&ApiRequest::new("GET", path)).expect("the broker answers")
}

fn operator_counters(env: &Env, operator: &str) -> fake_stora::OperatorCounters {
    env.stora.counters().operators.get(operator).cloned().unwrap_or_default()
}

fn error_code(resp: &Response) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
    value.get("error")?.as_str().map(str::to_string)
}

/// (a) 15 calls at once from three installations of one operator: the
/// broker queues the ones beyond 10/s, Stora never answers 429.
#[test]
fn a_burst_from_one_operator_is_queued_not_refused() {
    let env = env(Pacing::default(), fake_stora::Config::default());
    let plugins: Vec<PluginHost> = (0..3).map(|_| env.connected_plugin("opr_pace").expect("connects")).collect();
    let started = Instant::now();
    let threads: Vec<_> = plugins
        .into_iter()
        .map(|mut plugin| {
            std::thread::spawn(move || (0..5).map(|_| get(&mut plugin, "/api/orders")).collect::<Vec<_>>())
        })
        .collect();
    let answers: Vec<Response> = threads.into_iter().flat_map(|t| t.join().expect("caller thread")).collect();
    let elapsed = started.elapsed();

    assert_eq!(answers.len(), 15);
    for resp in &answers {
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        assert_eq!(origin(resp), Some("stora"));
    }
    let stora = operator_counters(&env, "opr_pace");
    assert_eq!(stora.rate_limited, 0, "Stora never had to refuse");
    assert_eq!(
        stora.api_requests,
        15 + 3 + 3,
        "the burst, and the three account lookups and webhook registrations at connect"
    );
    assert!(elapsed >= Duration::from_millis(500), "the calls beyond 10/s waited ({elapsed:?})");

    let metrics: serde_json::Value = serde_json::from_slice(&env.admin("GET", "/admin/metrics").body).unwrap();
    let lane = &metrics["pacing"]["per_operator"]["opr_pace"];
    assert_eq!(lane["sent"], 15 + 3, "the burst and the webhook registrations, each in its slot");
    assert_eq!(lane["noted"], 3, "the account lookups at connect (the operator is not known before)");
    assert!(lane["paced"].as_u64().unwrap() >= 5, "{lane}");
    assert_eq!(lane["refused"], 0);
}

/// (b) With a short queue, the calls beyond the budget are answered by the
/// broker (429, Retry-After) and never reach Stora.
#[test]
fn beyond_the_queue_the_broker_answers_429_itself() {
    let pacing = Pacing { max_queue_ms: 100, ..Pacing::default() };
    let env = env(pacing, fake_stora::Config::default());
    let mut plugin = env.connected_plugin("opr_short").expect("connects");
    let before = operator_counters(&env, "opr_short");
    let answers: Vec<Response> = (0..15).map(|_| get(&mut plugin, "/api/orders")).collect();
    let after = operator_counters(&env, "opr_short");

    let ok = answers.iter().filter(|r| r.status == 200).count();
    let refused: Vec<&Response> = answers.iter().filter(|r| r.status == 429).collect();
    assert_eq!(ok + refused.len(), 15, "only 200s and the broker's 429s");
    assert!(refused.len() >= 5, "at most 10 a second go out ({} refused)", refused.len());
    for resp in &refused {
        assert_eq!(origin(resp), Some("broker"));
        assert_eq!(error_code(resp).as_deref(), Some("rate_limited"));
        let secs: u64 = header(resp, "retry-after").expect("Retry-After").parse().expect("whole seconds");
        assert!((1..=2).contains(&secs), "{secs}");
    }
    assert_eq!(after.api_requests - before.api_requests, ok as u64, "a refused call never reached Stora");
    assert_eq!(after.rate_limited, 0);
    let metrics: serde_json::Value = serde_json::from_slice(&env.admin("GET", "/admin/metrics").body).unwrap();
    assert_eq!(metrics["pacing"]["per_operator"]["opr_short"]["refused"], refused.len());
}

/// (c) `Tessera-Origin`: `stora` on Stora's answers (success and error),
/// `broker` on the broker's own (non-proxy routes, 502 when Stora is down).
#[test]
fn every_answer_says_where_it_came_from() {
    let env = env(Pacing::default(), fake_stora::Config::default());
    let mut plugin = env.connected_plugin("opr_origin").expect("connects");

    let ok = get(&mut plugin, "/api/orders");
    assert_eq!((ok.status, origin(&ok)), (200, Some("stora")));
    let date = header(&ok, "date").expect("the broker's answer carries its Date");
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    assert_eq!(header(&ok, "content-type"), Some("application/json"));

    let missing = get(&mut plugin, "/api/orders/ord_nope");
    assert_eq!((missing.status, origin(&missing)), (404, Some("stora")), "Stora's error, passed through");

    let metrics = env.admin("GET", "/admin/metrics");
    assert_eq!((metrics.status, origin(&metrics)), (200, Some("broker")));
    let unknown = env.http(tessera_core::Request {
        method: "GET".into(),
        url: format!("{}/nowhere", env.broker.url()),
        headers: Vec::new(),
        body: Vec::new(),
    });
    assert_eq!((unknown.status, origin(&unknown)), (404, Some("broker")));
    let wrong_method = env.http(tessera_core::Request {
        method: "GET".into(),
        url: format!("{}/installations", env.broker.url()),
        headers: Vec::new(),
        body: Vec::new(),
    });
    assert_eq!((wrong_method.status, origin(&wrong_method)), (405, Some("broker")));
    let unsigned = env.http(tessera_core::Request {
        method: "GET".into(),
        url: format!("{}/api/orders", env.broker.url()),
        headers: Vec::new(),
        body: Vec::new(),
    });
    assert_eq!((unsigned.status, origin(&unsigned)), (401, Some("broker")));

    // Stora stops: the broker's own 502.
    let Env { stora, broker, .. } = env;
    drop(stora);
    let down = get(&mut plugin, "/api/orders");
    assert_eq!((down.status, origin(&down)), (502, Some("broker")));
    assert_eq!(error_code(&down).as_deref(), Some("stora_unavailable"));
    drop(broker);
}

/// (d) Stora's own 429 passes through with its rate-limit headers.
#[test]
fn storas_429_passes_through_with_its_headers() {
    let stora = fake_stora::Config { rate_per_sec: 2, rate_per_min: 4, ..Default::default() };
    let env = env(Pacing::off(), stora);
    let mut plugin = env.connected_plugin("opr_limited").expect("connects");
    let answers: Vec<Response> = (0..6).map(|_| get(&mut plugin, "/api/orders")).collect();
    let limited: Vec<&Response> = answers.iter().filter(|r| r.status == 429).collect();
    assert!(!limited.is_empty(), "Stora's limit is 2/s and 4/min");
    assert_eq!(operator_counters(&env, "opr_limited").rate_limited, limited.len() as u64);
    for resp in limited {
        assert_eq!(origin(resp), Some("stora"));
        // Today's fake sends Retry-After; Stora (and the new fake) send
        // RateLimit-Limit and RateLimit-Reset: whichever came, it is here.
        let retry_after = header(resp, "retry-after");
        let reset = header(resp, "ratelimit-reset");
        assert!(retry_after.is_some() || reset.is_some(), "{:?}", resp.headers);
        if let Some(reset) = reset {
            let reset: i64 = reset.parse().expect("epoch seconds");
            assert!(reset >= tessera_broker::plugin_host::wall_now() - 1);
            let limit = header(resp, "ratelimit-limit").expect("RateLimit-Limit with RateLimit-Reset");
            assert!(limit.parse::<u32>().is_ok(), "{limit}");
        }
        if let Some(id) = header(resp, "request-id") {
            assert!(id.starts_with("req_"), "{id}");
        }
    }
}

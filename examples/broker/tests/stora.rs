//! End-to-end: Stora as its documentation describes it (API 2025-09), through
//! the reference broker: an action recorded as a Timeline Event, and
//! Stora's 24-hour idempotent replay of a retried action and its event.

use tessera_broker::harness::{Env, EnvOptions};
use tessera_broker::plugin_host::{Browser, Decision, PluginHost, registration};
use tessera_core::{ApiRequest, Completion, RemoteStep, TimelineEvent};

fn connected(env: &Env, operator: &str) -> PluginHost {
    let mut plugin = env.plugin();
    plugin.register(&registration(env.site.url(), "wordpress")).expect("registers");
    let scope = "public.contact:write public.timeline_event:write";
    plugin.connect(&Browser::default(), &env.return_url(), Some(scope), Decision::Approve(operator)).expect("connects");
    plugin
}

fn enquiry(key: &str) -> ApiRequest {
    let mut req = ApiRequest::json(
        "POST",
        "/api/contacts",
        r#"{"name":"Ada Lovelace","metadata":{"plugin.enquiry":"enq-42"}}"#.to_owned(),
    );
    req.headers.push(("Idempotency-Key".into(), key.into()));
    req
}

fn event() -> TimelineEvent {
    TimelineEvent {
        source_id: "storefront_sync".into(),
        template_id: "website_enquiry".into(),
        description: Some("Website enquiry via Storefront Sync".into()),
        external_url: Some("https://shop.example/enquiries/enq-42".into()),
        variables: vec![("name".into(), "Ada Lovelace".into())],
        ..TimelineEvent::default()
    }
}

fn record(plugin: &mut PluginHost, key: &str) -> (u16, serde_json::Value, RemoteStep) {
    let call = plugin.companion.start_recorded_call(enquiry(key), event()).expect("starts");
    match plugin.drive(call).expect("the action succeeds") {
        Completion::Recorded { response, event } => {
            (response.status, serde_json::from_slice(&response.body).expect("JSON"), event)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_action_and_its_retry_record_one_timeline_event() {
    let env = Env::start(EnvOptions::default()).expect("environment starts");
    let mut plugin = connected(&env, "opr_timeline");
    let (status, contact, step) = record(&mut plugin, "enquiry-42");
    assert_eq!((status, &step), (201, &RemoteStep::Ok));
    assert_eq!(contact["metadata"]["plugin.enquiry"], "enq-42", "the plugin's reference lives in Stora");

    let timeline = env.stora.store().timeline("opr_timeline");
    assert_eq!(timeline.len(), 1);
    let entry = &timeline[0];
    assert_eq!(entry["template"]["id"], "website_enquiry");
    assert_eq!(entry["external"]["id"], "enquiry-42", "external.id is the action's key");
    assert_eq!(entry["external"]["url"], "https://shop.example/enquiries/enq-42");
    assert_eq!(entry["variables"]["name"], "Ada Lovelace");

    // The same action again (a host retrying after a lost answer): Stora
    // replays the contact and the event under their keys; nothing doubles.
    let (status, again, step) = record(&mut plugin, "enquiry-42");
    assert_eq!((status, &step), (201, &RemoteStep::Ok));
    assert_eq!(again["id"], contact["id"], "the same contact, replayed");
    assert_eq!(env.stora.store().timeline("opr_timeline").len(), 1, "one event");
    let replays: Vec<_> = env.stora.store().requests().into_iter().filter(|r| r.idempotent_replayed).collect();
    assert_eq!(replays.len(), 2, "the contact and the event were replayed");
    assert_eq!(replays[1].idempotency_key.as_deref(), Some("tle-enquiry-42"));
    assert_eq!(env.stora.counters().posts_without_idempotency_key, 0);
}

#[test]
fn a_failed_event_keeps_the_action_and_a_failed_action_sends_no_event() {
    let env = Env::start(EnvOptions::default()).expect("environment starts");
    let mut plugin = connected(&env, "opr_timeline_fail");
    env.stora_control("faults", serde_json::json!({"status": 500, "count": 1, "path_prefix": "/2025-09/timeline"}));
    let (status, _, step) = record(&mut plugin, "enquiry-43");
    assert_eq!(status, 201, "the contact stands");
    match step {
        RemoteStep::Failed(e) => assert_eq!((e.code(), e.status()), ("upstream_failed", Some(500))),
        other => panic!("{other:?}"),
    }
    assert!(env.stora.store().timeline("opr_timeline_fail").is_empty());

    // Stora refuses the action (its metadata rules): no event is sent.
    let mut bad = enquiry("enquiry-44");
    bad.body = br#"{"name":"Ada","metadata":{"Not Valid":"x"}}"#.to_vec();
    let call = plugin.companion.start_recorded_call(bad, event()).expect("starts");
    let err = plugin.drive(call).unwrap_err();
    assert_eq!((err.code(), err.reason()), ("client_error", Some("invalid_content")));
    assert!(err.request_id().is_some());
    assert!(env.stora.store().requests().iter().all(|r| r.idempotency_key.as_deref() != Some("tle-enquiry-44")));
}

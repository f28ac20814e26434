//! Timeline Events (core/src/timeline.rs) and "do the action, then record
//! it" (core/src/machine/record.rs): every limit at the limit and one over,
//! the request, and how a recorded call ends.

use tessera_core::TimelineEvent;
use tessera_core::internals::timeline::timeline_key;
use tessera_core::{ApiRequest, Completion, Error, Event, RemoteStep, Response};

use super::machine::{connected, error, run, status};

fn event() -> TimelineEvent {
    TimelineEvent {
        source_id: "src_1".into(),
        template_id: "tpl_1".into(),
        external_url: Some("https://shop.example/x".into()),
        ..TimelineEvent::default()
    }
}

/// (code, field) of the error `e` gives.
fn refused(e: TimelineEvent) -> (&'static str, &'static str) {
    match e.validate().unwrap_err() {
        Error::InvalidInput { field, .. } => ("invalid_input", field),
        Error::InvalidUrl { field, .. } => ("invalid_url", field),
        Error::TooLarge { field, .. } => ("too_large", field),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ids_at_and_over_100_visible_ascii_characters() {
    for field in ["source_id", "template_id", "contact_id", "site_id"] {
        let set = |v: &str| {
            let mut e = event();
            match field {
                "source_id" => e.source_id = v.into(),
                "template_id" => e.template_id = v.into(),
                "contact_id" => e.contact_id = Some(v.into()),
                _ => e.site_id = Some(v.into()),
            }
            e
        };
        set(&"i".repeat(100)).validate().unwrap();
        set("!~").validate().unwrap();
        assert_eq!(refused(set(&"i".repeat(101))), ("invalid_input", field));
        assert_eq!(refused(set("")), ("invalid_input", field));
        for bad in ["a b", "é", "a\u{7f}", "a\t"] {
            assert_eq!(refused(set(bad)), ("invalid_input", field), "{bad:?}");
        }
    }
}

#[test]
fn description_at_and_over_1000_characters() {
    TimelineEvent { description: Some("😀".repeat(1000)), ..event() }.validate().unwrap();
    let over = TimelineEvent { description: Some("a".repeat(1001)), ..event() };
    assert_eq!(refused(over), ("invalid_input", "description"));
}

#[test]
fn external_url_is_required() {
    assert_eq!(refused(TimelineEvent { external_url: None, ..event() }), ("invalid_input", "external_url"));
}

#[test]
fn external_url_https_and_at_most_2048_bytes() {
    let url = |u: String| TimelineEvent { external_url: Some(u), ..event() };
    let prefix = "https://shop.example/";
    url(format!("{prefix}{}", "a".repeat(2048 - prefix.len()))).validate().unwrap();
    assert_eq!(refused(url(format!("{prefix}{}", "a".repeat(2049 - prefix.len())))), ("too_large", "external_url"));
    assert_eq!(refused(url("http://shop.example/".into())), ("invalid_url", "external_url"));
    assert_eq!(refused(url("shop.example/x".into())), ("invalid_url", "external_url"));
    // Normalising can grow a URL past the bound: the sent form is what counts.
    let grows = url(format!("{prefix}?q={}", "%7e".repeat((2048 - prefix.len() - 3) / 3)));
    let _ = grows.to_request("k");
}

#[test]
fn variables_count_names_values() {
    let with = |vars: Vec<(String, String)>| TimelineEvent { variables: vars, ..event() };
    let n = |count: usize| (0..count).map(|i| (format!("v{i}"), "x".to_owned())).collect::<Vec<_>>();
    with(n(50)).validate().unwrap();
    assert_eq!(refused(with(n(51))), ("invalid_input", "variables"));
    with(vec![("n".repeat(40), "x".into())]).validate().unwrap();
    with(vec![("az09_.".into(), "".into())]).validate().unwrap();
    for bad in ["n".repeat(41), String::new(), "A".into(), "a-b".into(), "a:b".into(), "é".into()] {
        assert_eq!(refused(with(vec![(bad.clone(), "x".into())])), ("invalid_input", "variables"), "{bad:?}");
    }
    with(vec![("v".into(), "😀".repeat(500))]).validate().unwrap();
    assert_eq!(refused(with(vec![("v".into(), "😀".repeat(501))])), ("invalid_input", "variables"));
    let twice = vec![("v".into(), "1".into()), ("v".into(), "2".into())];
    assert_eq!(refused(with(twice)), ("invalid_input", "variables"));
}

#[test]
fn request_shape_and_external_id_bounds() {
    let req = event().to_request(&"e".repeat(124)).unwrap();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/api/timeline/events"));
    assert_eq!(req.headers[0], ("content-type".into(), "application/json".into()));
    assert_eq!(req.headers[1], ("idempotency-key".into(), format!("tle-{}", "e".repeat(124))));
    for bad in ["e".repeat(125), String::new(), "a b".into(), "a/b".into()] {
        assert!(matches!(event().to_request(&bad), Err(Error::InvalidInput { field: "external_id", .. })), "{bad:?}");
    }
    assert_eq!(timeline_key("abc"), "tle-abc");
    // An invalid event is refused by to_request too.
    assert!(TimelineEvent { source_id: String::new(), ..event() }.to_request("k").is_err());
}

fn recorded(run: &super::machine::Run) -> (&Response, &RemoteStep) {
    match &run.result {
        Ok(Completion::Recorded { response, event }) => (response, event),
        other => panic!("{other:?}"),
    }
}

#[test]
fn recorded_call_sends_the_event_after_the_action() {
    let mut c = connected(70);
    let call = c.start_recorded_call(ApiRequest::json("POST", "/api/contacts", "{}"), event()).unwrap();
    let run = run(&mut c, call, vec![status(201), status(201)]);
    assert_eq!(run.trace, "send POST, send POST, done recorded");
    let key = run.sent[0].header("idempotency-key").unwrap().to_owned();
    assert_eq!(run.sent[1].url, "https://broker.example/api/timeline/events");
    assert_eq!(run.sent[1].header("idempotency-key").unwrap(), format!("tle-{key}"));
    let body = String::from_utf8(run.sent[1].body.clone()).unwrap();
    assert!(body.contains(&format!(r#""external":{{"id":"{key}","url":"https://shop.example/x"}}"#)), "{body}");
    let (response, step) = recorded(&run);
    assert_eq!((response.status, step), (201, &RemoteStep::Ok));
}

#[test]
fn a_failed_event_keeps_the_action_response() {
    let mut c = connected(71);
    let call = c.start_recorded_call(ApiRequest::json("POST", "/api/contacts", "{}"), event()).unwrap();
    let run = run(&mut c, call, vec![status(200), error(422, "invalid_content")]);
    let (response, step) = recorded(&run);
    assert_eq!(response.status, 200);
    assert_eq!(step.error().map(Error::code), Some("client_error"));
}

#[test]
fn a_reconnect_while_recording_drops_the_token_and_still_returns_the_action() {
    let mut c = connected(72);
    let call = c.start_recorded_call(ApiRequest::new("GET", "/api/orders"), event()).unwrap();
    let run = run(&mut c, call, vec![status(200), error(401, "stora_reconnect_required")]);
    assert_eq!(run.trace, "send GET, send POST, persist, done recorded");
    let (_, step) = recorded(&run);
    assert_eq!(step.error().map(Error::code), Some("reconnect_required"));
    assert!(c.state().broker_token().is_none());
}

#[test]
fn a_failed_action_sends_no_event() {
    let mut c = connected(73);
    let call = c.start_recorded_call(ApiRequest::json("POST", "/api/contacts", "{}"), event()).unwrap();
    let run = run(&mut c, call, vec![error(409, "conflict")]);
    assert_eq!(run.trace, "send POST, done client_error");
    assert_eq!(run.sent.len(), 1);
}

#[test]
fn checks_come_before_any_io() {
    let c = connected(74);
    let bad = TimelineEvent { template_id: String::new(), ..event() };
    assert_eq!(c.start_recorded_call(ApiRequest::new("GET", "/api/x"), bad).unwrap_err().code(), "invalid_input");
    let mut keyed = ApiRequest::json("POST", "/api/contacts", "{}");
    keyed.headers.push(("Idempotency-Key".into(), "k".repeat(125)));
    assert_eq!(c.start_recorded_call(keyed.clone(), event()).unwrap_err().code(), "invalid_input");
    keyed.headers[1].1 = format!(" {} ", "k".repeat(124));
    c.start_recorded_call(keyed, event()).unwrap();
    // start_call's own checks apply.
    let fresh = tessera_core::Companion::create(tessera_core::Config::new("https://broker.example")).unwrap();
    assert!(fresh.start_recorded_call(ApiRequest::new("GET", "/api/x"), event()).is_err());
    let _ = Event::Start;
}

//! Test controls under `/_control/` and the operator's timeline page under
//! `/_operator/`. Control errors are plain `400 {"error":"invalid_request"}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::{DEFAULT_OPERATOR, ErrorCode, Fault, WebhookControls};
use crate::{Shared, html_escape, json_response};

fn parse_json<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Option<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(T::default());
    }
    serde_json::from_slice(body).ok()
}

fn bad_body(what: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid_request", "error_description": what}))
}

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, body)
}

/// `GET /_control/counters`.
pub async fn counters(State(shared): State<Arc<Shared>>) -> Response {
    ok(serde_json::to_value(shared.lock().counters()).unwrap_or_default())
}

/// `GET /_control/requests`.
pub async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    ok(serde_json::to_value(shared.lock().requests()).unwrap_or_default())
}

/// `GET /_control/grants?operator=`.
pub async fn grants(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    ok(serde_json::to_value(shared.lock().grants(q.get("operator").map(String::as_str))).unwrap_or_default())
}

#[derive(Deserialize, Default)]
struct OperatorBody {
    #[serde(default)]
    operator: Option<String>,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    secs: Option<i64>,
}

/// `POST /_control/revoke_grant {operator}`.
pub async fn revoke_grant(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(OperatorBody { operator: Some(operator), .. }) = parse_json(&body) else {
        return bad_body("JSON {operator} expected");
    };
    ok(json!({"revoked": shared.lock().revoke_operator(&operator)}))
}

/// `POST /_control/expire_tokens {operator?}`.
pub async fn expire_tokens(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(OperatorBody { operator, .. }) = parse_json(&body) else {
        return bad_body("JSON {operator?} expected");
    };
    let mut store = shared.lock();
    let now = store.clock();
    ok(json!({"expired": store.expire_tokens(operator.as_deref(), now)}))
}

/// `POST /_control/consume {operator, count}`: spends rate budget as the
/// operator's other integrations would.
pub async fn consume(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(OperatorBody { operator: Some(operator), count, .. }) = parse_json(&body) else {
        return bad_body("JSON {operator, count} expected");
    };
    let mut store = shared.lock();
    let now = store.clock();
    let (accepted, refused) = store.consume(&operator, count.unwrap_or(1), now);
    ok(json!({"accepted": accepted, "refused": refused}))
}

/// `POST /_control/advance_clock {secs}`: answers `{"offset", "now"}`.
pub async fn advance_clock(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(OperatorBody { secs: Some(secs), .. }) = parse_json(&body).filter(|b: &OperatorBody| b.secs >= Some(0))
    else {
        return bad_body("JSON {secs} (not negative) expected");
    };
    let mut store = shared.lock();
    let offset = store.advance_clock(secs);
    ok(json!({"offset": offset, "now": store.clock()}))
}

/// `POST /_control/faults`.
pub async fn faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(fault) = parse_json::<Fault>(&body) else {
        return bad_body("a fault object expected");
    };
    if fault.code.as_deref().is_some_and(|c| ErrorCode::parse(c).is_none()) {
        return bad_body("code must be a documented Stora error code");
    }
    if fault.status.is_some_and(|s| !(100..=599).contains(&s)) {
        return bad_body("status must be 100..=599");
    }
    shared.lock().inject(fault);
    ok(json!({}))
}

/// `POST /_control/clear_faults`.
pub async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().clear_faults();
    ok(json!({}))
}

#[derive(Deserialize, Default)]
struct ConfigBody {
    operator: Option<String>,
    access_ttl_secs: Option<i64>,
    rate_per_sec: Option<u32>,
    rate_per_min: Option<u32>,
}

/// `POST /_control/config {access_ttl_secs?, rate_per_sec?, rate_per_min?}`,
/// or with `operator` the limits of that operator only.
pub async fn config(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(c) = parse_json::<ConfigBody>(&body) else {
        return bad_body("JSON {operator?, access_ttl_secs?, rate_per_sec?, rate_per_min?} expected");
    };
    let mut store = shared.lock();
    match c.operator {
        Some(operator) if c.access_ttl_secs.is_none() => {
            store.set_operator_limits(&operator, c.rate_per_sec, c.rate_per_min)
        }
        Some(_) => return bad_body("access_ttl_secs is not per operator"),
        None => store.configure(c.access_ttl_secs, c.rate_per_sec, c.rate_per_min),
    }
    ok(json!({}))
}

/// `POST /_control/reset`.
pub async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().reset();
    ok(json!({}))
}

fn operator_of(q: &HashMap<String, String>) -> String {
    q.get("operator").filter(|o| !o.is_empty()).cloned().unwrap_or_else(|| DEFAULT_OPERATOR.to_string())
}

/// `GET /_control/timeline?operator=` (default `opr_demo`): the events,
/// oldest first.
pub async fn timeline(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    ok(Value::Array(shared.lock().timeline(&operator_of(&q))))
}

fn text(v: &Value) -> String {
    html_escape(v.as_str().unwrap_or(""))
}

/// `GET /_operator/timeline?operator=`: the operator's timeline as an HTML
/// page (every value escaped).
pub async fn operator_timeline(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let operator = operator_of(&q);
    let events = shared.lock().timeline(&operator);
    let mut rows = String::new();
    for e in &events {
        let variables: Vec<String> = e["variables"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| format!("{}={}", html_escape(k), text(v))).collect())
            .unwrap_or_default();
        let external = match (e["external"]["url"].as_str(), e["external"]["id"].as_str()) {
            (Some(url), id) => format!("<a href=\"{}\">{}</a>", html_escape(url), html_escape(id.unwrap_or(url))),
            _ => String::new(),
        };
        rows.push_str(&format!(
            "<tr class=\"event\" id=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>\n",
            text(&e["id"]),
            e["created_at"],
            text(&e["template"]["id"]),
            text(&e["source"]["id"]),
            text(&e["contact"]["id"]),
            text(&e["site"]["id"]),
            text(&e["description"]),
            external,
            variables.join(", "),
        ));
    }
    let name = html_escape(&operator);
    Html(format!(
        "<!doctype html>\n<html><head><title>Stora timeline: {name}</title></head>\n<body>\n\
         <h1>Timeline of {name}</h1>\n<p id=\"count\">{count} events</p>\n<table id=\"timeline\">\n\
         <tr><th>id</th><th>created</th><th>template</th><th>source</th><th>contact</th><th>site</th>\
         <th>description</th><th>external</th><th>variables</th></tr>\n{rows}</table>\n</body></html>\n",
        count = events.len(),
    ))
    .into_response()
}

#[derive(Deserialize, Default)]
struct EventBody {
    operator: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    #[serde(default)]
    data: Value,
}

/// `POST /_control/events {operator, type, data}`: emits an event of
/// `operator` whose `data.object` is `data`; answers `{"event", "queued"}`.
pub async fn emit_event(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(EventBody { operator: Some(operator), event_type: Some(event_type), data }) = parse_json(&body) else {
        return bad_body("JSON {operator, type, data} expected");
    };
    let mut store = shared.lock();
    let before = store.pending_deliveries();
    let now = store.clock();
    let event = store.emit(&operator, &event_type, data, now);
    let queued = store.pending_deliveries().saturating_sub(before);
    ok(json!({"event": event, "queued": queued}))
}

/// `POST /_control/webhooks {duplicates?, fail_first?, stale_timestamp?,
/// bad_signature?, retry_base_ms?}`: replaces the delivery controls.
pub async fn webhooks(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(controls) = parse_json::<WebhookControls>(&body) else {
        return bad_body("JSON {duplicates?, fail_first?, stale_timestamp?, bad_signature?, retry_base_ms?} expected");
    };
    shared.lock().set_webhook_controls(controls);
    ok(json!({}))
}

/// `GET /_control/deliveries`: every delivery attempt, oldest first, and
/// how many deliveries are still waiting.
pub async fn deliveries(State(shared): State<Arc<Shared>>) -> Response {
    let store = shared.lock();
    ok(json!({"attempts": store.deliveries(), "pending": store.pending_deliveries()}))
}

/// `GET /_control/webhook_endpoints?operator=`: the endpoints, no secrets.
pub async fn webhook_endpoints(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    ok(serde_json::to_value(shared.lock().webhook_endpoints(q.get("operator").map(String::as_str))).unwrap_or_default())
}

//! Webhooks, free of HTTP: the endpoints an API client registers, the
//! events the model emits on its real mutations, and the outbox the
//! delivery thread ([`crate::delivery`]) works through.
//!
//! **Assumed shape** (Stora's documentation names signed webhooks and
//! their header, not the endpoints API; this follows Stripe's):
//!
//! * `POST /2025-09/webhook_endpoints` `{"url", "enabled_events": ["*"] |
//!   [types]}` (any valid access token, no scope) → `201
//!   {"webhook_endpoint": {"id": "we_…", "url", "enabled_events",
//!   "secret": "whsec_…", "created_at"}}`; the secret is only ever in this
//!   answer. `url`: an absolute `https://` URL, or `http://` on a loopback
//!   host (the fake's allowance for brokers under test); else `422
//!   invalid_content`.
//! * `DELETE /2025-09/webhook_endpoints/{id}` → `204`; an endpoint of
//!   another (operator, client_id) is `404 resource_not_found`.
//! * Endpoints belong to (operator, client_id). Revoking a grant does **not**
//!   delete its endpoints (the client deletes them, as with Stripe).
//! * Every event of an operator goes to every endpoint of that operator
//!   (whatever the client) whose `enabled_events` has `*` or its type.
//! * Event: `{"id": "evt_…", "type", "api_version": "2025-09", "created_at":
//!   <epoch secs of the fake's clock>, "data": {"object": {…}}}`, emitted by
//!   `PATCH orders/{id}` (`order.updated`), `POST contacts`
//!   (`contact.created`), `PATCH contacts/{id}` (`contact.updated`), `POST
//!   timeline/events` (`timeline_event.created`) when they change something
//!   (an `Idempotency-Key` replay emits nothing), and by `POST
//!   /_control/events`.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Store;
use super::errors::{ApiAnswer, ErrorCode, detail, request_id};

/// The event types the fake emits (an endpoint may name these, or `*`).
pub const EVENT_TYPES: &[&str] =
    &["order.updated", "contact.created", "contact.updated", "timeline_event.created", "test.event"];

/// Most deliveries waiting in the outbox; beyond, the oldest is dropped
/// (counted in [`WebhookState::dropped`]).
pub const OUTBOX_CAP: usize = 10_000;
/// How many delivery attempts [`Store::deliveries`] keeps.
pub const DELIVERY_LOG_CAP: usize = 2000;
/// Attempts per delivery (the first and four retries).
pub const MAX_ATTEMPTS: u32 = 5;

/// A registered endpoint.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `we_…`.
    pub id: String,
    /// Owner: the operator …
    pub operator: String,
    /// … and the API client.
    pub client_id: String,
    /// Where deliveries go.
    pub url: String,
    /// `["*"]` or event types.
    pub enabled_events: Vec<String>,
    /// `whsec_…`: the HMAC key.
    pub secret: String,
    /// Epoch seconds (fake's clock).
    pub created_at: i64,
}

/// An endpoint without its secret (`GET /_control/webhook_endpoints`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// `we_…`.
    pub id: String,
    /// Operator.
    pub operator: String,
    /// API client.
    pub client_id: String,
    /// URL.
    pub url: String,
    /// Enabled events.
    pub enabled_events: Vec<String>,
}

/// Test controls of deliveries (`POST /_control/webhooks`); every field
/// absent is its default.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WebhookControls {
    /// Each event is delivered this many extra times (separate deliveries,
    /// each with its own retries): Stora may deliver an event more than once.
    #[serde(default)]
    pub duplicates: u32,
    /// The first `n` attempts of every delivery are sent and then counted
    /// as failed whatever the receiver answered (an answer lost on the way
    /// back, or a timeout), so they are retried.
    #[serde(default)]
    pub fail_first: u32,
    /// Sign with a timestamp ten minutes old.
    #[serde(default)]
    pub stale_timestamp: bool,
    /// Sign with another key.
    #[serde(default)]
    pub bad_signature: bool,
    /// Pause before the first retry, doubled for each next one (default
    /// 100 ms: 100, 200, 400, 800 ms — far faster than a real provider's
    /// schedule of minutes to hours, so that tests finish).
    #[serde(default)]
    pub retry_base_ms: Option<u64>,
}

/// One delivery waiting in the outbox.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The raw body `{"event": {…}}`.
    pub body: String,
    /// The event id (for the log).
    pub event_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// Where to.
    pub url: String,
    /// The key to sign with.
    pub secret: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before.
    pub due: Instant,
}

/// One delivery attempt as the fake made it (`GET /_control/deliveries`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The event.
    pub event_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The receiver's status; 0 when no answer came (refused, timeout).
    pub status: u16,
    /// Whether the fake counted it as delivered (2xx, and not turned into
    /// a failure by `fail_first`).
    pub delivered: bool,
}

/// The webhook part of the fake's state.
#[derive(Debug, Default)]
pub struct WebhookState {
    pub(crate) endpoints: BTreeMap<String, Endpoint>,
    pub(crate) outbox: VecDeque<Pending>,
    pub(crate) log: Vec<DeliveryRecord>,
    pub(crate) controls: WebhookControls,
    /// Deliveries taken by the thread and not finished.
    pub(crate) in_flight: usize,
    /// Deliveries dropped because the outbox was full.
    pub dropped: u64,
    /// Events emitted.
    pub emitted: u64,
}

fn url_allowed(url: &str) -> bool {
    if super::timeline::is_https_url(url) {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]") && !url.chars().any(|c| c.is_whitespace())
}

impl Store {
    /// `POST webhook_endpoints`.
    pub(crate) fn create_endpoint(
        &mut self,
        body: &Map<String, Value>,
        operator: &str,
        client_id: &str,
        now: i64,
    ) -> ApiAnswer {
        let mut problems = Vec::new();
        let url = body.get("url").and_then(Value::as_str).unwrap_or("");
        if !url_allowed(url) || url.len() > 2048 {
            problems.push(detail("url", "must be an absolute https URL"));
        }
        let events: Vec<String> = match body.get("enabled_events").and_then(Value::as_array) {
            Some(list) if !list.is_empty() => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        };
        let known = |e: &String| e == "*" || EVENT_TYPES.contains(&e.as_str());
        let count = body.get("enabled_events").and_then(Value::as_array).map_or(0, Vec::len);
        if events.is_empty() || events.len() != count || !events.iter().all(known) {
            problems.push(detail("enabled_events", "must be [\"*\"] or a list of known event types"));
        }
        if !problems.is_empty() {
            return ApiAnswer::error(ErrorCode::InvalidContent, "the request content is invalid")
                .with_details(problems);
        }
        let endpoint = Endpoint {
            id: format!("we_{}", &request_id()[4..]),
            operator: operator.to_string(),
            client_id: client_id.to_string(),
            url: url.to_string(),
            enabled_events: events,
            // With the canary, and remembered as issued: leak tests search for it.
            secret: self.new_token("whsec_"),
            created_at: now,
        };
        let answer = json!({"webhook_endpoint": {
            "id": endpoint.id, "url": endpoint.url, "enabled_events": endpoint.enabled_events,
            "secret": endpoint.secret, "created_at": now,
        }});
        self.webhooks.endpoints.insert(endpoint.id.clone(), endpoint);
        ApiAnswer::json(201, answer)
    }

    /// `DELETE webhook_endpoints/{id}`: only the owner's.
    pub(crate) fn delete_endpoint(&mut self, id: &str, operator: &str, client_id: &str) -> ApiAnswer {
        let owned = self.webhooks.endpoints.get(id).is_some_and(|e| e.operator == operator && e.client_id == client_id);
        if !owned {
            return ApiAnswer::error(ErrorCode::ResourceNotFound, "no such webhook endpoint");
        }
        self.webhooks.endpoints.remove(id);
        ApiAnswer::json(204, Value::Null)
    }

    /// Emits an event of `operator`: queues one delivery per matching
    /// endpoint (more with `duplicates`). Returns the event.
    pub fn emit(&mut self, operator: &str, event_type: &str, object: Value, now: i64) -> Value {
        let event = json!({
            "id": format!("evt_{}", &request_id()[4..]),
            "type": event_type,
            "api_version": "2025-09",
            "created_at": now,
            "data": {"object": object},
        });
        self.webhooks.emitted += 1;
        let body = json!({"event": event}).to_string();
        let copies = 1 + self.webhooks.controls.duplicates;
        let targets: Vec<Endpoint> = self
            .webhooks
            .endpoints
            .values()
            .filter(|e| e.operator == operator)
            .filter(|e| e.enabled_events.iter().any(|t| t == "*" || t == event_type))
            .cloned()
            .collect();
        for endpoint in targets {
            for _ in 0..copies {
                if self.webhooks.outbox.len() >= OUTBOX_CAP {
                    self.webhooks.outbox.pop_front();
                    self.webhooks.dropped += 1;
                }
                self.webhooks.outbox.push_back(Pending {
                    body: body.clone(),
                    event_id: event["id"].as_str().unwrap_or("").to_string(),
                    endpoint_id: endpoint.id.clone(),
                    url: endpoint.url.clone(),
                    secret: endpoint.secret.clone(),
                    attempts: 0,
                    due: Instant::now(),
                });
            }
        }
        event
    }

    /// The endpoints (of one operator), without secrets.
    pub fn webhook_endpoints(&self, operator: Option<&str>) -> Vec<EndpointInfo> {
        self.webhooks
            .endpoints
            .values()
            .filter(|e| operator.is_none_or(|o| e.operator == o))
            .map(|e| EndpointInfo {
                id: e.id.clone(),
                operator: e.operator.clone(),
                client_id: e.client_id.clone(),
                url: e.url.clone(),
                enabled_events: e.enabled_events.clone(),
            })
            .collect()
    }

    /// The secret of an endpoint (tests that sign deliveries themselves,
    /// and leak searches).
    pub fn webhook_secret(&self, id: &str) -> Option<String> {
        self.webhooks.endpoints.get(id).map(|e| e.secret.clone())
    }

    /// Replaces the delivery controls.
    pub fn set_webhook_controls(&mut self, controls: WebhookControls) {
        self.webhooks.controls = controls;
    }

    /// The delivery controls in force.
    pub fn webhook_controls(&self) -> WebhookControls {
        self.webhooks.controls.clone()
    }

    /// Every delivery attempt made (the last [`DELIVERY_LOG_CAP`]), oldest first.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.webhooks.log.clone()
    }

    /// Deliveries not finished: waiting (first attempts and retries) or
    /// being sent.
    pub fn pending_deliveries(&self) -> usize {
        self.webhooks.outbox.len() + self.webhooks.in_flight
    }

    /// Takes the deliveries due at `now` (the delivery thread).
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Pending> {
        let (due, later): (Vec<Pending>, Vec<Pending>) = self.webhooks.outbox.drain(..).partition(|p| p.due <= now);
        self.webhooks.outbox = later.into();
        self.webhooks.in_flight += due.len();
        due
    }

    /// Records an attempt and queues its retry when it failed and attempts
    /// remain.
    pub(crate) fn delivery_done(&mut self, mut pending: Pending, status: u16) {
        self.webhooks.in_flight = self.webhooks.in_flight.saturating_sub(1);
        pending.attempts += 1;
        let delivered = (200..300).contains(&status) && pending.attempts > self.webhooks.controls.fail_first;
        if self.webhooks.log.len() >= DELIVERY_LOG_CAP {
            self.webhooks.log.remove(0);
        }
        self.webhooks.log.push(DeliveryRecord {
            event_id: pending.event_id.clone(),
            endpoint_id: pending.endpoint_id.clone(),
            attempt: pending.attempts,
            status,
            delivered,
        });
        if delivered || pending.attempts >= MAX_ATTEMPTS {
            return;
        }
        let base = self.webhooks.controls.retry_base_ms.unwrap_or(100);
        pending.due = Instant::now() + Duration::from_millis(base << (pending.attempts - 1).min(16));
        if self.webhooks.outbox.len() >= OUTBOX_CAP {
            self.webhooks.dropped += 1;
            return;
        }
        self.webhooks.outbox.push_back(pending);
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    #[test]
    fn endpoints_events_and_retries() {
        let mut store = Store::new(Config::default());
        let body = |v: Value| v.as_object().unwrap().clone();
        let bad =
            store.create_endpoint(&body(json!({"url": "http://example.com/h", "enabled_events": ["x"]})), "o", "c", 1);
        assert_eq!(bad.status, 422);
        assert_eq!(bad.body["error"]["details"].as_array().unwrap().len(), 2);
        let made = store.create_endpoint(
            &body(json!({"url": "http://127.0.0.1:9/h", "enabled_events": ["order.updated"]})),
            "o",
            "c",
            1,
        );
        assert_eq!(made.status, 201);
        let id = made.body["webhook_endpoint"]["id"].as_str().unwrap().to_string();
        assert!(made.body["webhook_endpoint"]["secret"].as_str().unwrap().starts_with("whsec_"));
        store.emit("o", "contact.created", json!({}), 5);
        store.emit("other", "order.updated", json!({}), 5);
        assert_eq!(store.pending_deliveries(), 0, "not enabled, not this operator");
        store.set_webhook_controls(WebhookControls { duplicates: 1, fail_first: 1, ..Default::default() });
        let event = store.emit("o", "order.updated", json!({"id": "ord_1"}), 5);
        assert_eq!(event["data"]["object"]["id"], "ord_1");
        let due = store.take_due(Instant::now());
        assert_eq!(due.len(), 2, "with one duplicate");
        for p in due {
            store.delivery_done(p, 200);
        }
        assert_eq!(store.pending_deliveries(), 2, "the first attempts count as failed");
        assert_eq!(store.take_due(Instant::now()).len(), 0, "retried later");
        assert!(store.deliveries().iter().all(|d| !d.delivered && d.attempt == 1));
        assert_eq!(store.delete_endpoint(&id, "o", "other-client").status, 404);
        assert_eq!(store.delete_endpoint(&id, "o", "c").status, 204);
    }
}

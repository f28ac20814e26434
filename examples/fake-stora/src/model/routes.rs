//! The `/2025-09/` routes and the per-operator data behind them (orders
//! seeded from three fixed ones, contacts seeded from two, timeline events).
//!
//! | route | scope |
//! |---|---|
//! | `GET account` | none |
//! | `GET orders`, `GET orders/{id}` | `public.order:read` |
//! | `PATCH orders/{id}` (metadata only) | `public.order:write` |
//! | `GET contacts`, `GET contacts/{id}` | `public.contact:read` |
//! | `POST contacts`, `PATCH contacts/{id}` | `public.contact:write` |
//! | `POST timeline/events`, `PATCH timeline/events/{id}` | `public.timeline_event:write` |
//! | `POST webhook_endpoints`, `DELETE webhook_endpoints/{id}` | none ([`super::webhooks`]) |
//!
//! List routes take `limit` (1..=100, default 20) and answer
//! `{"data": [...], "has_more": bool}`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::api::ApiRequest;
use super::errors::{ApiAnswer, ErrorCode, detail, request_id};
use super::{Store, metadata, operator_name, timeline};

/// Default page size of list routes.
pub const DEFAULT_LIMIT: usize = 20;

/// One operator's mutable data.
#[derive(Clone, Debug)]
pub(crate) struct OperatorData {
    orders: BTreeMap<String, Value>,
    contacts: BTreeMap<String, Value>,
    events: Vec<Value>,
}

impl OperatorData {
    fn seed(operator: &str) -> Self {
        let orders = [
            ("ord_1001", "A-12", "active", 12900),
            ("ord_1002", "B-03", "active", 8900),
            ("ord_1003", "C-21", "moving_out", 15900),
        ]
        .into_iter()
        .map(|(id, unit, status, amount)| {
            let order = json!({"id": id, "operator": operator, "unit": unit, "status": status,
                               "monthly_price": {"amount": amount, "currency": "GBP"}, "metadata": {}});
            (id.to_string(), order)
        })
        .collect();
        let contacts =
            [("con_0001", "Ada Lovelace", "ada@example.com"), ("con_0002", "Alan Turing", "alan@example.com")]
                .into_iter()
                .map(|(id, name, email)| {
                    (
                        id.to_string(),
                        json!({"id": id, "operator": operator, "name": name, "email": email, "metadata": {}}),
                    )
                })
                .collect();
        OperatorData { orders, contacts, events: Vec::new() }
    }
}

enum Route<'a> {
    Account,
    ListOrders,
    GetOrder(&'a str),
    PatchOrder(&'a str),
    ListContacts,
    CreateContact,
    GetContact(&'a str),
    PatchContact(&'a str),
    CreateEvent,
    PatchEvent(&'a str),
    CreateEndpoint,
    DeleteEndpoint(&'a str),
}

/// The route and the scope it needs.
fn resolve<'a>(method: &str, segments: &[&'a str]) -> Option<(Option<&'static str>, Route<'a>)> {
    Some(match (method, segments) {
        ("GET", ["account"]) => (None, Route::Account),
        ("GET", ["orders"]) => (Some("public.order:read"), Route::ListOrders),
        ("GET", ["orders", id]) => (Some("public.order:read"), Route::GetOrder(id)),
        ("PATCH", ["orders", id]) => (Some("public.order:write"), Route::PatchOrder(id)),
        ("GET", ["contacts"]) => (Some("public.contact:read"), Route::ListContacts),
        ("POST", ["contacts"]) => (Some("public.contact:write"), Route::CreateContact),
        ("GET", ["contacts", id]) => (Some("public.contact:read"), Route::GetContact(id)),
        ("PATCH", ["contacts", id]) => (Some("public.contact:write"), Route::PatchContact(id)),
        ("POST", ["timeline", "events"]) => (Some("public.timeline_event:write"), Route::CreateEvent),
        ("PATCH", ["timeline", "events", id]) => (Some("public.timeline_event:write"), Route::PatchEvent(id)),
        ("POST", ["webhook_endpoints"]) => (None, Route::CreateEndpoint),
        ("DELETE", ["webhook_endpoints", id]) => (None, Route::DeleteEndpoint(id)),
        _ => return None,
    })
}

/// Whether an `Accept` header admits a JSON answer (absent = yes).
pub fn accepts_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return true };
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let refused = parts.any(|p| p.replace(' ', "").strip_prefix("q=").is_some_and(|q| q.parse() == Ok(0.0)));
        !refused && matches!(media.as_str(), "*/*" | "application/*" | "application/json")
    })
}

/// The `limit` query parameter.
fn limit(query: Option<&str>) -> Result<usize, ApiAnswer> {
    let value = form_urlencoded::parse(query.unwrap_or("").as_bytes()).find(|(k, _)| k == "limit").map(|(_, v)| v);
    match value {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v.parse::<usize>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| {
            ApiAnswer::error(ErrorCode::InvalidUrlParam, "limit must be an integer from 1 to 100")
                .with_details(vec![detail("limit", "must be an integer from 1 to 100")])
        }),
    }
}

fn list(items: Vec<Value>, limit: usize) -> ApiAnswer {
    let has_more = items.len() > limit;
    ApiAnswer::json(200, json!({"data": items.into_iter().take(limit).collect::<Vec<_>>(), "has_more": has_more}))
}

/// The body as a JSON object, or 400 `invalid_request`.
fn object(body: &[u8]) -> Result<Map<String, Value>, ApiAnswer> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiAnswer::error(ErrorCode::InvalidRequest, "the body must be a JSON object")),
    }
}

fn invalid_content(details: Vec<Value>) -> ApiAnswer {
    ApiAnswer::error(ErrorCode::InvalidContent, "the request content is invalid").with_details(details)
}

fn not_found(what: &str) -> ApiAnswer {
    ApiAnswer::error(ErrorCode::ResourceNotFound, &format!("no such {what}"))
}

/// Applies `name`, `email` and `metadata` of `patch` to a contact.
fn apply_contact(contact: &mut Value, patch: &Map<String, Value>) -> Result<(), Vec<Value>> {
    let mut problems = Vec::new();
    for field in ["name", "email"] {
        match patch.get(field) {
            None => {}
            Some(v @ (Value::Null | Value::String(_))) if v.as_str().is_none_or(|s| s.chars().count() <= 255) => {
                contact[field] = v.clone();
            }
            Some(_) => problems.push(detail(field, "must be a string of at most 255 characters or null")),
        }
    }
    if let Some(patch) = patch.get("metadata") {
        let current = contact["metadata"].as_object().cloned().unwrap_or_default();
        match metadata::merge(&current, patch) {
            Ok(next) => contact["metadata"] = Value::Object(next),
            Err(mut details) => problems.append(&mut details),
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

impl Store {
    fn data(&mut self, operator: &str) -> &mut OperatorData {
        self.data.entry(operator.to_string()).or_insert_with(|| OperatorData::seed(operator))
    }

    /// The operator's timeline events, oldest first.
    pub fn timeline(&self, operator: &str) -> Vec<Value> {
        self.data.get(operator).map(|d| d.events.clone()).unwrap_or_default()
    }

    /// The operator's orders (with their current metadata).
    pub fn orders(&mut self, operator: &str) -> Vec<Value> {
        self.data(operator).orders.values().cloned().collect()
    }

    /// Answers a routed, authenticated, rate-limited request of `caller`
    /// (operator, client_id).
    pub(crate) fn route(&mut self, req: &ApiRequest<'_>, caller: (&str, &str), scope: &str, now: i64) -> ApiAnswer {
        let (operator, client_id) = caller;
        if !accepts_json(req.accept) {
            return ApiAnswer::error(ErrorCode::InvalidFormat, "this endpoint only answers application/json");
        }
        let segments: Vec<&str> = req.route_path().trim_matches('/').split('/').collect();
        let Some((needed, route)) = resolve(req.method, &segments) else {
            return ApiAnswer::error(ErrorCode::InvalidEndpoint, "no such endpoint");
        };
        if let Some(needed) = needed
            && !scope.split(' ').any(|s| s == needed)
        {
            return ApiAnswer::error(ErrorCode::Forbidden, &format!("the grant lacks the scope {needed}"));
        }
        self.run(route, req, (operator, client_id), scope, now).unwrap_or_else(|answer| answer)
    }

    fn run(
        &mut self,
        route: Route<'_>,
        req: &ApiRequest<'_>,
        (operator, client_id): (&str, &str),
        scope: &str,
        now: i64,
    ) -> Result<ApiAnswer, ApiAnswer> {
        Ok(match route {
            Route::Account => {
                ApiAnswer::json(200, json!({"id": operator, "name": operator_name(operator), "scope": scope}))
            }
            Route::ListOrders => {
                let limit = limit(req.query)?;
                list(self.orders(operator), limit)
            }
            Route::GetOrder(id) => {
                ApiAnswer::json(200, self.data(operator).orders.get(id).cloned().ok_or_else(|| not_found("order"))?)
            }
            Route::PatchOrder(id) => {
                let order = self.data(operator).orders.get(id).cloned().ok_or_else(|| not_found("order"))?;
                let patch = object(req.body)?;
                let mut problems: Vec<Value> =
                    patch.keys().filter(|k| *k != "metadata").map(|k| detail(k, "cannot be updated")).collect();
                let current = order["metadata"].as_object().cloned().unwrap_or_default();
                let next = match patch.get("metadata").map(|p| metadata::merge(&current, p)) {
                    Some(Ok(next)) => next,
                    Some(Err(mut details)) => {
                        problems.append(&mut details);
                        current
                    }
                    None => current,
                };
                if !problems.is_empty() {
                    return Err(invalid_content(problems));
                }
                let mut order = order;
                let changed = order["metadata"] != Value::Object(next.clone());
                order["metadata"] = Value::Object(next);
                self.data(operator).orders.insert(id.to_string(), order.clone());
                if changed {
                    self.emit(operator, "order.updated", order.clone(), now);
                }
                ApiAnswer::json(200, order)
            }
            Route::ListContacts => {
                let limit = limit(req.query)?;
                list(self.data(operator).contacts.values().cloned().collect(), limit)
            }
            Route::GetContact(id) => {
                ApiAnswer::json(200, self.data(operator).contacts.get(id).cloned().ok_or_else(|| not_found("contact"))?)
            }
            Route::CreateContact => {
                let body = object(req.body)?;
                let id = format!("con_{}", 1000 + self.contacts_created + 1);
                let mut contact = json!({"id": id, "operator": operator, "name": null, "email": null, "metadata": {}});
                apply_contact(&mut contact, &body).map_err(invalid_content)?;
                self.contacts_created += 1;
                self.data(operator).contacts.insert(id, contact.clone());
                self.emit(operator, "contact.created", contact.clone(), now);
                ApiAnswer::json(201, contact)
            }
            Route::PatchContact(id) => {
                let before = self.data(operator).contacts.get(id).cloned().ok_or_else(|| not_found("contact"))?;
                let body = object(req.body)?;
                let mut contact = before.clone();
                apply_contact(&mut contact, &body).map_err(invalid_content)?;
                self.data(operator).contacts.insert(id.to_string(), contact.clone());
                if contact != before {
                    self.emit(operator, "contact.updated", contact.clone(), now);
                }
                ApiAnswer::json(200, contact)
            }
            Route::CreateEvent => {
                let body = object(req.body)?;
                let id = format!("tle_{}", &request_id()[4..]);
                let event = timeline::create(&body, &id, now).map_err(invalid_content)?;
                self.data(operator).events.push(event.clone());
                self.emit(operator, "timeline_event.created", event.clone(), now);
                ApiAnswer::json(201, event)
            }
            Route::CreateEndpoint => self.create_endpoint(&object(req.body)?, operator, client_id, now),
            Route::DeleteEndpoint(id) => self.delete_endpoint(id, operator, client_id),
            Route::PatchEvent(id) => {
                let events = &mut self.data(operator).events;
                let index = events.iter().position(|e| e["id"] == id).ok_or_else(|| not_found("timeline event"))?;
                let body = object(req.body)?;
                let next = timeline::patch(&events[index], &body, now).map_err(invalid_content)?;
                events[index] = next.clone();
                ApiAnswer::json(200, next)
            }
        })
    }
}

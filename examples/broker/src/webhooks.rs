//! Stora's webhooks, delivered to the plugin by pull (`docs/PROTOCOL.md`
//! §14): the broker registers one endpoint at Stora per connection, receives
//! and checks the signed deliveries, queues each event once per
//! installation ([`crate::store::events`]), and the plugin pulls them with a
//! signed call and a cursor — which works behind the firewalls and hosts
//! that block inbound requests to a site.
//!
//! * [`register`]: at connect completion (and lazily on the next pull when
//!   that failed), `POST /2025-09/webhook_endpoints` with the URL
//!   `{public_url}/webhooks/stora/{hook_id}` (24 random bytes: the URL is
//!   not guessable, but the signature is what authenticates a delivery)
//!   and `enabled_events: ["*"]`; Stora's endpoint id and the sealed secret
//!   are stored. A failure never fails the connect: it is logged
//!   (`webhook_registration_failed`) and counted.
//! * [`forget`]: disconnect, deregistration and idle expiry delete the
//!   endpoint at Stora (best effort) and here, with the queued events.
//! * [`receive`]: `POST /webhooks/stora/{hook_id}`.
//! * [`pull`]: `GET /events?after=&limit=`.
//!
//! Nothing here logs a delivery's body or a secret: the call's log line has
//! the route, the status and the error code, as every other.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tessera_core::internals::secret::ct_eq;

use crate::crypto::random_id;
use crate::handlers::{Step, check_broker_token, check_enabled, db, verify_signed};
use crate::refresh::fresh_access_token;
use crate::store::NewEvent;
use crate::{App, Incoming, Reply};

/// Largest delivery body accepted.
pub const MAX_WEBHOOK_BODY: usize = 256 * 1024;

/// Largest distance between a delivery's `t` and the broker clock (seconds).
pub const TOLERANCE_SECS: i64 = 300;

/// Page size of `GET /events` when the plugin names none, and the largest.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest page of `GET /events`.
pub const MAX_LIMIT: i64 = 100;

// ---- endpoints at Stora ---------------------------------------------------------------

/// A failed registration is tried again by a pull at most this often
/// (seconds, per installation and process): a Stora that keeps refusing is
/// not asked on every pull.
pub const REGISTRATION_RETRY_SECS: i64 = 300;

/// Whether a pull may try to register `install_id`'s endpoint again now
/// (and records that it does).
fn retry_due(app: &App, install_id: &str) -> bool {
    let now = app.now();
    let mut retries = app.webhook_retries.lock().unwrap_or_else(|e| e.into_inner());
    match retries.get(install_id) {
        Some(&at) if now - at < REGISTRATION_RETRY_SECS => false,
        _ => {
            retries.insert(install_id.to_string(), now);
            true
        }
    }
}

/// Registers an endpoint at Stora for the installation's connection and
/// stores it, replacing (and deleting at Stora, best effort) the previous
/// one. Whether it worked; a failure is logged and counted, never fatal.
pub fn register(app: &App, install_id: &str) -> bool {
    let result = (|| -> Result<(), &'static str> {
        let access = fresh_access_token(app, install_id, None).map_err(|_| "no_access_token")?;
        let hook_id = random_id("", 24);
        let body = json!({"url": format!("{}/webhooks/stora/{hook_id}", app.public_url), "enabled_events": ["*"]});
        let headers = [
            ("content-type".to_string(), "application/json".to_string()),
            ("accept".to_string(), "application/json".to_string()),
            // A lost answer retried by Stora's client libraries would
            // otherwise make two endpoints; the broker itself does not retry.
            ("idempotency-key".to_string(), random_id("whk_", 18)),
        ];
        // An API call like any other: it takes a slot of the operator's budget.
        if !matches!(app.pacer.acquire(&access.operator, app.shared_store()), Ok(Ok(_))) {
            return Err("rate_limited");
        }
        let answer = app
            .stora
            .forward("POST", "webhook_endpoints", &headers, body.to_string().as_bytes(), &access.token)
            .map_err(|_| "stora_unavailable")?;
        if answer.status != 201 {
            return Err("stora_refused");
        }
        let created: Value = serde_json::from_slice(&answer.body).map_err(|_| "stora_answer")?;
        let endpoint = &created["webhook_endpoint"];
        let (Some(stora_id), Some(secret)) = (endpoint["id"].as_str(), endpoint["secret"].as_str()) else {
            return Err("stora_answer");
        };
        let previous = app
            .store
            .save_webhook_endpoint(install_id, &hook_id, stora_id, secret.as_bytes(), app.now())
            .map_err(|_| "storage")?;
        if let Some(previous) = previous {
            // The replaced connection's endpoint: deliveries to its hook now
            // answer 404. Deleted with the new grant's token, which reaches
            // it when the operator is the same (a reconnect).
            delete_at_stora(app, &access, &previous);
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            app.observer.webhooks(|w| w.registrations += 1);
            true
        }
        Err(reason) => {
            app.observer.webhooks(|w| w.registration_failures += 1);
            app.observer.event_because("webhook_registration_failed", install_id, None, Some(reason));
            false
        }
    }
}

fn delete_at_stora(app: &App, access: &crate::refresh::Access, stora_id: &str) {
    // Stora's ids are `we_` + hex; anything else is not put in a path.
    if !stora_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return;
    }
    // Best effort, but within the operator's budget: no slot, no call.
    if !matches!(app.pacer.acquire(&access.operator, app.shared_store()), Ok(Ok(_))) {
        return;
    }
    let _ = app.stora.forward("DELETE", &format!("webhook_endpoints/{stora_id}"), &[], &[], &access.token);
}

/// Forgets the installation's endpoint and queued events, deleting the
/// endpoint at Stora first (best effort: with the grant's token, which may
/// be refreshed for it). Called before the grant is revoked.
pub fn forget(app: &App, install_id: &str) {
    let Ok(Some(endpoint)) = app.store.webhook_endpoint_of(install_id) else {
        return;
    };
    if let Ok(access) = fresh_access_token(app, install_id, None) {
        delete_at_stora(app, &access, &endpoint.stora_endpoint_id);
    }
    let _ = app.store.delete_webhook_endpoint(install_id);
}

// ---- POST /webhooks/stora/{hook_id} ------------------------------------------------------

/// `X-Stora-Signature: t=<unix ts>,v1=<hex>[,v1=<hex>…]`: the core's
/// reader of that shape (Tessera's own pushes use it too).
pub use tessera_core::internals::events::parse_timestamped_signature as parse_signature;

/// HMAC-SHA256 of `"<t>.<body>"` under `secret`.
pub fn expected_signature(secret: &[u8], t: &str, body: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn refused(app: &App, status: u16, code: &str, reason: &'static str, description: &str) -> Reply {
    app.observer.webhook_refused(reason);
    Reply::error(status, code, description)
}

/// `POST /webhooks/stora/{hook_id}` (from Stora, not signed by a plugin):
/// unknown hook `404`; a body over 256 KiB `413`; the signature header
/// malformed or no `v1` matching `400 signature_invalid`; `t` more than
/// 300 s from the broker clock `400 signature_expired`; a body that is not
/// `{"event": {id, type, api_version, created_at, data}}` `400
/// invalid_request`. Otherwise the event is queued once per installation
/// and `200 {"received": true}` answers — a duplicate too, so that Stora
/// stops delivering it.
pub fn receive(app: &App, req: &Incoming) -> Reply {
    app.observer.webhooks(|w| w.received += 1);
    let hook_id = req.segment(2).unwrap_or("");
    if req.body.len() > MAX_WEBHOOK_BODY {
        return refused(app, 413, "invalid_request", "too_large", "the delivery is larger than 256 KiB");
    }
    let endpoint = match app.store.webhook_endpoint(hook_id) {
        Ok(Some(endpoint)) => endpoint,
        Ok(None) => return refused(app, 404, "not_found", "unknown_hook", "no such webhook endpoint"),
        Err(_) => return refused(app, 500, "internal", "storage", "storage error"),
    };
    let id = endpoint.install_id.clone();
    receive_checked(app, req, &endpoint).unwrap_or_else(|r| r).for_install(&id)
}

fn receive_checked(app: &App, req: &Incoming, endpoint: &crate::store::WebhookEndpoint) -> Step<Reply> {
    let invalid = |what: &str| refused(app, 400, "signature_invalid", "signature_invalid", what);
    let header = req.header("x-stora-signature").ok_or_else(|| invalid("X-Stora-Signature is missing"))?;
    let (t_text, t, candidates) = parse_signature(header).ok_or_else(|| invalid("X-Stora-Signature is malformed"))?;
    if (app.now() - t).abs() > TOLERANCE_SECS {
        return Err(refused(
            app,
            400,
            "signature_expired",
            "signature_expired",
            "the signature's timestamp is more than 300 s away",
        ));
    }
    let expected = expected_signature(&endpoint.secret, t_text, &req.body);
    // Every candidate is compared (no early exit on a match's position).
    let matched = candidates.iter().fold(false, |found, v1| ct_eq(v1, &expected) | found);
    if !matched {
        return Err(invalid("no signature matches"));
    }
    let bad = || {
        refused(
            app,
            400,
            "invalid_request",
            "invalid_request",
            "expected {\"event\": {id, type, api_version, created_at, data}}",
        )
    };
    let body: Value = serde_json::from_slice(&req.body).map_err(|_| bad())?;
    let event = &body["event"];
    let text = |key: &str, max: usize| event[key].as_str().filter(|s| !s.is_empty() && s.len() <= max);
    let (Some(event_id), Some(event_type), Some(api_version), Some(created_at)) =
        (text("id", 255), text("type", 255), text("api_version", 32), event["created_at"].as_i64())
    else {
        return Err(bad());
    };
    if !event["data"].is_object() {
        return Err(bad());
    }
    let data = event["data"].to_string();
    let new = NewEvent { event_id, event_type, api_version, created_at, data: &data };
    let inserted = app
        .store
        .insert_event(&endpoint.install_id, &new, app.now())
        .map_err(|_| refused(app, 500, "internal", "storage", "storage error"))?;
    if inserted {
        app.observer.event_queued(&endpoint.install_id);
        crate::push::after_queued(app, &endpoint.install_id, &new, &event["data"]);
    } else {
        app.observer.webhooks(|w| w.duplicates += 1);
    }
    Ok(Reply::json(200, json!({"received": true})))
}

// ---- GET /events ---------------------------------------------------------------------

/// `GET /events?after=<cursor>&limit=<1..100>` (signed by the plugin, with
/// its broker token, exactly like `/api/…`): the installation's events after
/// the cursor, oldest first — `200 {"events": [{id, type, api_version,
/// created_at, data}], "cursor", "has_more"}`, `cursor` being the position
/// of the last event returned (or the `after` given, or `"0"`). A cursor
/// that is not a decimal number, or a bad limit: `400 invalid_request`. A
/// connection whose endpoint registration failed is registered again first.
pub fn pull(app: &App, req: &Incoming) -> Reply {
    let (verified, installation) = match verify_signed(app, req, &check_enabled) {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    let id = installation.install_id.clone();
    let result = (|| {
        check_broker_token(app, &verified)?;
        let bad = |what: &str| Reply::error(400, "invalid_request", what);
        let after = match req.param("after") {
            None => 0,
            Some(a) if (1..=18).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_digit()) => {
                a.parse::<i64>().map_err(|_| bad("after must be a cursor from a previous answer"))?
            }
            Some(_) => return Err(bad("after must be a cursor from a previous answer")),
        };
        let limit = match req.param("limit").map(|l| l.parse::<i64>()) {
            None => DEFAULT_LIMIT,
            Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => return Err(bad("limit must be 1 to 100")),
        };
        if db(app.store.webhook_endpoint_of(&id))?.is_none() && retry_due(app, &id) {
            register(app, &id);
        }
        // One row more than asked tells whether more follow.
        let mut rows = db(app.store.events_after(&id, after, limit + 1, app.now()))?;
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let cursor = rows.last().map_or(after, |e| e.seq).to_string();
        let events: Vec<Value> = rows
            .into_iter()
            .map(|e| {
                json!({
                    "id": e.event_id,
                    "type": e.event_type,
                    "api_version": e.api_version,
                    "created_at": e.created_at,
                    "data": serde_json::from_str::<Value>(&e.data).unwrap_or(Value::Null),
                })
            })
            .collect();
        Ok(Reply::json(200, json!({"events": events, "cursor": cursor, "has_more": has_more}))
            .with_header("cache-control", "no-store"))
    })();
    result.unwrap_or_else(|r| r).for_install(&id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_headers() {
        let hex = "ab".repeat(32);
        let header = format!("t=1700000000, v1={hex},v0=zz,v1={hex}");
        let (t, secs, v1) = parse_signature(&header).unwrap();
        assert_eq!((t, secs, v1.len()), ("1700000000", 1_700_000_000, 2));
        assert_eq!(v1[0], [0xab; 32]);
        for bad in [
            "v1=".to_string() + &hex,
            "t=1".into(),
            format!("t=1,t=2,v1={hex}"),
            format!("t=-1,v1={hex}"),
            format!("t=1,v1={}", &hex[..62]),
            format!("t=1,v1={}", "zz".repeat(32)),
            format!("t=1;v1={hex}"),
            String::new(),
        ] {
            assert!(parse_signature(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn expected_signature_is_hmac_over_t_dot_body() {
        // Computed independently (Python's hmac module).
        let mac = expected_signature(b"whsec_test", "1700000000", br#"{"event":{}}"#);
        let want = "16d843402bfb247c88dea8232b7466df772f4d7c8fb13e83ec89a19070d3fb18";
        let hex = |m: [u8; 32]| m.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(hex(mac), want);
        assert_ne!(hex(expected_signature(b"whsec_test", "1700000001", br#"{"event":{}}"#)), want);
    }
}

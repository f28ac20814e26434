//! A test double of the public Stora API (version 2025-09), for Tessera's
//! end-to-end tests and demo. It follows Stora's documentation; where the
//! documentation leaves a choice open, the assumption is stated here.
//!
//! # OAuth 2.0
//!
//! * `GET /oauth2/authorize` (`client_id`, `redirect_uri`,
//!   `response_type=code`, `scope`, `state`) shows a consent page listing the
//!   requested scopes with **Approve** and **Deny** links (`#approve`,
//!   `#deny`). Appending `&operator=opr_x` to the approve link picks the
//!   signed-in operator (default `opr_demo`). Scopes are
//!   `public.order:read`, `public.order:write`, `public.contact:read`,
//!   `public.contact:write`, `public.timeline_event:write`; any other scope
//!   redirects with `error=invalid_scope`. The default scope is
//!   `public.order:read`.
//! * `POST /oauth2/token`: a form body or (documented) an `application/json`
//!   object of strings; client credentials in the body or HTTP Basic. Grants
//!   `authorization_code` and `refresh_token`. `expires_in` is a duration
//!   (7200 s by default). Every refresh rotates the refresh token and
//!   revokes the presented one; a used or revoked grant answers
//!   `400 {"error":"invalid_grant"}`. **Reuse detection**, as providers that
//!   rotate on every use do (OAuth 2.0 Security BCP): presenting an
//!   already-rotated refresh token of a live grant revokes the whole grant
//!   (its current pair too) and answers `invalid_grant`; every reuse is
//!   counted (`refresh_reuse`, in the counters and per grant).
//! * `GET /oauth2/token/info` (Bearer access token):
//!   `{"scope", "expires_in", "operator", "client_id"}`, where `expires_in`
//!   is the **absolute** expiry in epoch seconds, as documented there.
//! * `POST /oauth2/revoke` (JSON `{token, client_id, client_secret}`):
//!   revoking either token revokes the pair.
//!
//! OAuth endpoints keep RFC 6749 errors (`{"error", "error_description"}`).
//!
//! # API routes under `/2025-09/`
//!
//! See [`model::routes`] for the route/scope table (`GET account` needs no
//! scope). Orders (three fixed ones) and contacts (two fixed ones) are
//! stored per operator and carry `metadata` (default `{}`), updated by JSON
//! merge-patch ([`model::metadata`]). Timeline events
//! (`POST timeline/events`, `PATCH timeline/events/{id}`) are validated as
//! [`model::timeline`] describes and stored per operator.
//!
//! Every API answer carries a fresh `Request-Id: req_<24 hex>` header. Every
//! API error has the nested body
//! `{"error":{"code","type","message","details","links","request_id"}}`
//! with a documented code: unknown route or method `404 invalid_endpoint`,
//! unknown order/contact/event `404 resource_not_found`, missing scope
//! `403 forbidden`, bad/missing/expired token `401 invalid_token` (with
//! `WWW-Authenticate`), body not a JSON object `400 invalid_request`, field
//! validation `422 invalid_content` (with `details` entries
//! `{"field","issue"}`), bad `limit` `422 invalid_url_param`, an `Accept`
//! without JSON `406 invalid_format`, `Idempotency-Key` reuse with another
//! request `409 conflict`, rate limit `429 too_many_requests`.
//!
//! Assumptions: `type` is `api_error` for the `api_error` code and every 5xx
//! and `invalid_request_error` for everything else; `links` is always empty;
//! a replayed answer keeps its stored body (and so its original
//! `request_id`) but gets a fresh `Request-Id` header; the order of checks is
//! fault, token, rate limit, idempotency, `Accept`, route, scope, resource,
//! body.
//!
//! **Rate limits** ([`model::rate`]): per operator, shared by every client
//! and installation, 10/s and 60/min by default (fixed windows of the fake's
//! clock). 429 carries `RateLimit-Limit` (the limit that was hit) and
//! `RateLimit-Reset` (absolute epoch seconds of that window's end), no
//! `Retry-After`.
//!
//! **Idempotency** ([`model::idempotency`]): any POST may carry
//! `Idempotency-Key`; the first processed answer (success or 4xx/5xx,
//! injected faults included, 401 and 429 excluded) is stored for 86400 s of
//! the fake's clock per (operator, client_id) and replayed with
//! `Idempotent-Replayed: true`; the key with another method, path, query or
//! body answers 409 `conflict`. POSTs without a key are accepted and counted
//! (`posts_without_idempotency_key`, total and per operator).
//!
//! # Test controls
//!
//! Under `/_control/`: `GET counters`, `GET requests` (each record with
//! `request_id` and `idempotent_replayed`), `GET grants?operator=` (with
//! `refresh_reuse` and the grant's last refreshes, `refresh_records`: when,
//! and when the access token each one replaced was issued and expires),
//! `GET timeline?operator=` (JSON array, oldest first; default operator
//! `opr_demo`), `POST revoke_grant {operator}`,
//! `POST expire_tokens {operator?}`,
//! `POST faults {status?, code?, message?, latency_ms?, retry_after?, count?,
//! skip?, path_prefix?}` (an API fault answers the nested body with `code`,
//! default the status's documented code, 5xx → `internal_server_error`;
//! latency-only faults delay and pass through), `POST clear_faults`,
//! `POST config {access_ttl_secs?, rate_per_sec?, rate_per_min?}` or
//! `{operator, rate_per_sec?, rate_per_min?}` for one operator,
//! `POST consume {operator, count}` (spend rate budget as the operator's
//! other integrations would), `POST advance_clock {secs}` (moves the fake's
//! clock: token expiry, rate windows, idempotency expiry, timestamps),
//! `POST reset` (everything, clock offset included). The operator's
//! timeline as HTML: `GET /_operator/timeline?operator=opr_x`.
//!
//! # Webhooks (assumptions: see [`model::webhooks`] and [`delivery`])
//!
//! `POST /2025-09/webhook_endpoints` `{url, enabled_events}` → `201
//! {"webhook_endpoint": {id, url, enabled_events, secret, created_at}}` (the
//! secret only in this answer), `DELETE /2025-09/webhook_endpoints/{id}` →
//! `204`; endpoints belong to (operator, client_id) and outlive a revoked
//! grant. The model's real mutations emit events (`order.updated`,
//! `contact.created`, `contact.updated`, `timeline_event.created`), each
//! delivered by a background thread, signed with `X-Stora-Signature:
//! t=…,v1=…` and retried (five attempts, 100 ms doubling: faster than a
//! real schedule). Test controls: `POST /_control/events {operator, type,
//! data}` (emits an event whose `data.object` is `data`), `POST
//! /_control/webhooks {duplicates?, fail_first?, stale_timestamp?,
//! bad_signature?, retry_base_ms?}` (replaces the controls; absent fields
//! are 0 / false / default), `GET /_control/deliveries` (every attempt:
//! `{event_id, endpoint_id, attempt, status, delivered}`, status 0 = no
//! answer), `GET /_control/webhook_endpoints?operator=` (no secrets).
//!
//! Start one in-process with [`FakeStora::start`] (binds `127.0.0.1` on an
//! ephemeral port, stops when dropped) or run the `fake-stora` binary.

mod control;
pub mod delivery;
pub mod model;
mod oauth_http;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};

pub use model::{
    ApiAnswer, ApiRequest, Config, Counters, DeliveryRecord, EndpointInfo, ErrorCode, Fault, GrantInfo,
    OperatorCounters, RequestRecord, Store, WebhookControls,
};

/// Shared state of one running fake.
pub struct Shared {
    store: Mutex<Store>,
}

impl Shared {
    /// Locks the store (for direct inspection from Rust tests).
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fake's axum router (for embedding in another server).
pub fn router(shared: Arc<Shared>) -> Router {
    let public = Router::new()
        .route("/oauth2/authorize", get(oauth_http::authorize))
        .route("/oauth2/authorize/decision", get(oauth_http::decision))
        .route("/oauth2/token", post(oauth_http::token))
        .route("/oauth2/token/info", get(oauth_http::token_info))
        .route("/oauth2/revoke", post(oauth_http::revoke))
        .route("/2025-09/{*path}", any(api))
        .layer(middleware::from_fn_with_state(shared.clone(), faults));
    let control = Router::new()
        .route("/_control/counters", get(control::counters))
        .route("/_control/requests", get(control::requests))
        .route("/_control/grants", get(control::grants))
        .route("/_control/timeline", get(control::timeline))
        .route("/_control/revoke_grant", post(control::revoke_grant))
        .route("/_control/expire_tokens", post(control::expire_tokens))
        .route("/_control/consume", post(control::consume))
        .route("/_control/advance_clock", post(control::advance_clock))
        .route("/_control/faults", post(control::faults))
        .route("/_control/clear_faults", post(control::clear_faults))
        .route("/_control/config", post(control::config))
        .route("/_control/reset", post(control::reset))
        .route("/_control/events", post(control::emit_event))
        .route("/_control/webhooks", post(control::webhooks))
        .route("/_control/deliveries", get(control::deliveries))
        .route("/_control/webhook_endpoints", get(control::webhook_endpoints))
        .route("/_operator/timeline", get(control::operator_timeline));
    public.merge(control).fallback(unknown_route).with_state(shared)
}

/// A fake Stora running on its own thread, on `127.0.0.1` and an ephemeral
/// port. Dropping it stops the server.
pub struct FakeStora {
    url: String,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The webhook delivery thread and its stop flag.
    deliveries: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl FakeStora {
    /// Binds `127.0.0.1:0` and starts serving.
    pub fn start(config: Config) -> std::io::Result<FakeStora> {
        Self::start_on(config, 0)
    }

    /// Binds `127.0.0.1:port` (0 = ephemeral) and starts serving.
    pub fn start_on(config: Config, port: u16) -> std::io::Result<FakeStora> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared { store: Mutex::new(Store::new(config)) });
        let app = router(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let thread = std::thread::Builder::new().name("fake-stora".into()).spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("fake-stora: {e}");
                        return;
                    }
                };
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = rx => {}
                }
            });
            // Dropping the runtime cancels open connections.
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let deliveries = delivery::start(shared.clone(), stop.clone())?;
        Ok(FakeStora { url, shared, shutdown: Some(tx), thread: Some(thread), deliveries: Some((stop, deliveries)) })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Locks the store for direct inspection or control.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.shared.lock()
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.store().counters()
    }
}

impl Drop for FakeStora {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.deliveries.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A fault taken by the middleware for an API request.
#[derive(Clone)]
struct TakenFault(Fault);

/// Applies injected faults (never to `/_control/`): sleeps the latency,
/// then answers a status fault itself on OAuth paths (RFC 6749 body) or
/// hands it to the API pipeline on `/2025-09/` paths.
async fn faults(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let fault = shared.lock().take_fault(&path);
    let Some(fault) = fault else { return next.run(req).await };
    if let Some(ms) = fault.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let Some(status) = fault.status else { return next.run(req).await };
    if path.starts_with("/2025-09/") {
        req.extensions_mut().insert(TakenFault(fault));
        return next.run(req).await;
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let error = match status {
        503 => "temporarily_unavailable",
        500..=599 => "server_error",
        _ => "invalid_request",
    };
    let mut resp = json_response(code, json!({"error": error, "error_description": "fault injected by the test"}));
    if let Some(secs) = fault.retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// The bearer token of `Authorization`, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
}

fn answer_response(answer: ApiAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // 204 carries no body at all.
    let mut resp =
        if status == StatusCode::NO_CONTENT { status.into_response() } else { json_response(status, answer.body) };
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, value);
        }
    }
    resp
}

async fn api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    fault: Option<axum::Extension<TakenFault>>,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let req = ApiRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        bearer: bearer(&headers),
        idempotency_key: header("idempotency-key"),
        accept: header("accept"),
        body: &body,
        fault: fault.map(|f| f.0.0),
    };
    let answer = {
        let mut store = shared.lock();
        let now = store.clock();
        store.api(&req, now)
    };
    answer_response(answer)
}

/// Any other path: `404 invalid_endpoint` in Stora's shape.
async fn unknown_route() -> Response {
    let request_id = model::errors::request_id();
    answer_response(
        ApiAnswer::error(ErrorCode::InvalidEndpoint, "no such endpoint")
            .finish(&request_id)
            .with_header("request-id", request_id),
    )
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

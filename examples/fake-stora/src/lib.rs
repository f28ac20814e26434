//! A test double of the public Stora API, for Tessera's end-to-end tests and
//! demo. It implements only documented behaviour:
//!
//! * `GET /oauth2/authorize` (`client_id`, `redirect_uri`, `response_type=code`,
//!   `scope`, `state`) shows a consent page with **Approve** and **Deny**
//!   links (`#approve`, `#deny`). Appending `&operator=opr_x` to the approve
//!   link picks the signed-in operator (default `opr_demo`).
//! * `POST /oauth2/token` (form-encoded; client credentials in the form or
//!   HTTP Basic) with the `authorization_code` and `refresh_token` grants.
//!   Access tokens expire (7200 s by default). Every refresh rotates the
//!   refresh token and revokes the presented one at once; a used or revoked
//!   grant answers `400 {"error":"invalid_grant"}`.
//! * `POST /oauth2/revoke` (JSON `{token, client_id, client_secret}`):
//!   revoking either token revokes the pair.
//! * API routes under `/2025-09/`: `GET account`, `GET orders`,
//!   `GET orders/{id}`, `GET contacts`, `POST contacts` (needs
//!   `Idempotency-Key`; a repeated key replays the first answer). Per-operator
//!   rate limits (10 req/s, 60 req/min) answer 429 with `Retry-After`.
//! * Test controls under `/_control/`: `GET counters`, `GET requests`,
//!   `GET grants`, `POST revoke_grant {operator}`,
//!   `POST expire_tokens {operator?}`, `POST faults {status?, latency_ms?,
//!   retry_after?, count?, skip?, path_prefix?}`, `POST clear_faults`,
//!   `POST config {access_ttl_secs?,
//!   rate_per_sec?, rate_per_min?}`, `POST reset`.
//!
//! Start one in-process with [`FakeStora::start`] (binds `127.0.0.1` on an
//! ephemeral port, stops when dropped) or run the `fake-stora` binary.

pub mod model;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

pub use model::{Config, Counters, Fault, GrantInfo, OperatorCounters, RequestRecord, Store};

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

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The fake's axum router (for embedding in another server).
pub fn router(shared: Arc<Shared>) -> Router {
    let public = Router::new()
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/authorize/decision", get(decision))
        .route("/oauth2/token", post(token))
        .route("/oauth2/revoke", post(revoke))
        .route("/2025-09/{*path}", any(api))
        .layer(middleware::from_fn_with_state(shared.clone(), faults));
    let control = Router::new()
        .route("/_control/counters", get(control_counters))
        .route("/_control/requests", get(control_requests))
        .route("/_control/grants", get(control_grants))
        .route("/_control/revoke_grant", post(control_revoke_grant))
        .route("/_control/expire_tokens", post(control_expire_tokens))
        .route("/_control/faults", post(control_faults))
        .route("/_control/clear_faults", post(control_clear_faults))
        .route("/_control/config", post(control_config))
        .route("/_control/reset", post(control_reset));
    public.merge(control).with_state(shared)
}

/// A fake Stora running on its own thread, on `127.0.0.1` and an ephemeral
/// port. Dropping it stops the server.
pub struct FakeStora {
    url: String,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
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
        Ok(FakeStora { url, shared, shutdown: Some(tx), thread: Some(thread) })
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
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---- middleware ---------------------------------------------------------------

/// Applies injected latency and status faults (never to `/_control/`).
async fn faults(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let fault = shared.lock().take_fault(&path);
    if let Some(fault) = fault {
        if let Some(ms) = fault.latency_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(status) = fault.status {
            if path.starts_with("/2025-09/") {
                let key = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok());
                let query = req.uri().query();
                shared.lock().record_faulted(req.method().as_str(), &path, query, key, status);
            }
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut resp = json_response(
                status,
                json!({"error": "injected_fault", "error_description": "fault injected by the test"}),
            );
            if let Some(secs) = fault.retry_after {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return resp;
        }
    }
    next.run(req).await
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

// ---- OAuth --------------------------------------------------------------------

async fn authorize(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str);
    let result = shared.lock().authorize(
        get("client_id").unwrap_or(""),
        get("redirect_uri").unwrap_or(""),
        get("response_type").unwrap_or(""),
        get("scope"),
        get("state"),
    );
    match result {
        Ok(txn) => {
            let scope = shared.lock().pending_scope(&txn).unwrap_or_default();
            let client = html_escape(get("client_id").unwrap_or(""));
            let base = format!("/oauth2/authorize/decision?txn={}", model::percent_encode(&txn));
            Html(format!(
                "<!doctype html>\n<html><head><title>Stora: authorize {client}</title></head>\n<body>\n\
                 <h1>Allow {client} to access your Stora account?</h1>\n\
                 <p>Requested access: <code>{scope}</code></p>\n\
                 <p><a id=\"approve\" href=\"{base}&amp;decision=approve\">Approve</a>\n\
                 <a id=\"deny\" href=\"{base}&amp;decision=deny\">Deny</a></p>\n\
                 </body></html>\n",
                scope = html_escape(&scope),
            ))
            .into_response()
        }
        Err(Ok(message)) => (
            StatusCode::BAD_REQUEST,
            Html(format!(
                "<!doctype html><html><body><h1>Authorization error</h1><p>{}</p></body></html>",
                html_escape(&message)
            )),
        )
            .into_response(),
        Err(Err(url)) => Redirect::to(&url).into_response(),
    }
}

async fn decision(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let approve = q.get("decision").map(String::as_str) == Some("approve");
    let txn = q.get("txn").map(String::as_str).unwrap_or("");
    let operator = q.get("operator").map(String::as_str);
    match shared.lock().decide(txn, approve, operator, now()) {
        Some(url) => Redirect::to(&url).into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            Html("<!doctype html><html><body><h1>Unknown or finished authorization</h1></body></html>"),
        )
            .into_response(),
    }
}

/// Client credentials from the form or from HTTP Basic.
fn client_credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> (String, String) {
    if let (Some(id), Some(secret)) = (form.get("client_id"), form.get("client_secret")) {
        return (id.clone(), secret.clone());
    }
    use base64::Engine as _;
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    match basic.as_deref().and_then(|s| s.split_once(':')) {
        Some((id, secret)) => (id.to_string(), secret.to_string()),
        None => (form.get("client_id").cloned().unwrap_or_default(), String::new()),
    }
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = match serde_urlencoded_pairs(&body) {
        Some(f) => f,
        None => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_request", "error_description": "form-encoded body expected"}),
            );
        }
    };
    let (client_id, client_secret) = client_credentials(&headers, &form);
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let result = {
        let mut store = shared.lock();
        match get("grant_type") {
            "authorization_code" => {
                store.exchange_code(&client_id, &client_secret, get("code"), get("redirect_uri"), now())
            }
            "refresh_token" => store.refresh(&client_id, &client_secret, get("refresh_token"), now()),
            _ => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "unsupported_grant_type", "error_description": "use authorization_code or refresh_token"}),
                );
            }
        }
    };
    match result {
        Ok(tokens) => {
            let mut resp = json_response(StatusCode::OK, serde_json::to_value(tokens).unwrap_or_default());
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => json_response(StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), e.body()),
    }
}

fn serde_urlencoded_pairs(body: &[u8]) -> Option<HashMap<String, String>> {
    let text = std::str::from_utf8(body).ok()?;
    if !text.contains('=') {
        return None;
    }
    Some(form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

#[derive(Deserialize)]
struct RevokeBody {
    token: String,
    client_id: String,
    client_secret: String,
}

async fn revoke(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<RevokeBody>(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "JSON {token, client_id, client_secret} expected"}),
        );
    };
    match shared.lock().revoke(&body.client_id, &body.client_secret, &body.token) {
        Ok(()) => json_response(StatusCode::OK, json!({})),
        Err(e) => json_response(StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), e.body()),
    }
}

// ---- API ----------------------------------------------------------------------

async fn api(State(shared): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let full_path = uri.path();
    let path = full_path.strip_prefix("/2025-09").unwrap_or(full_path);
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let idempotency_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let answer =
        shared.lock().api(method.as_str(), path, full_path, uri.query(), bearer, idempotency_key, &body, now());
    let mut resp =
        json_response(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), answer.body);
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, value);
        }
    }
    resp
}

// ---- test controls --------------------------------------------------------------

async fn control_counters(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, serde_json::to_value(shared.lock().counters()).unwrap_or_default())
}

async fn control_requests(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, serde_json::to_value(shared.lock().requests()).unwrap_or_default())
}

async fn control_grants(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let grants = shared.lock().grants(q.get("operator").map(String::as_str));
    json_response(StatusCode::OK, serde_json::to_value(grants).unwrap_or_default())
}

#[derive(Deserialize, Default)]
struct OperatorBody {
    #[serde(default)]
    operator: Option<String>,
}

fn parse_json<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Option<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(T::default());
    }
    serde_json::from_slice(body).ok()
}

fn bad_control_body() -> Response {
    json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid_request", "error_description": "bad JSON body"}))
}

async fn control_revoke_grant(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(OperatorBody { operator: Some(operator) }) = parse_json::<OperatorBody>(&body) else {
        return bad_control_body();
    };
    let revoked = shared.lock().revoke_operator(&operator);
    json_response(StatusCode::OK, json!({"revoked": revoked}))
}

async fn control_expire_tokens(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(OperatorBody { operator }) = parse_json::<OperatorBody>(&body) else {
        return bad_control_body();
    };
    let expired = shared.lock().expire_tokens(operator.as_deref(), now());
    json_response(StatusCode::OK, json!({"expired": expired}))
}

async fn control_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(fault) = parse_json::<Fault>(&body) else {
        return bad_control_body();
    };
    shared.lock().inject(fault);
    json_response(StatusCode::OK, json!({}))
}

async fn control_clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().clear_faults();
    json_response(StatusCode::OK, json!({}))
}

#[derive(Deserialize, Default)]
struct ConfigBody {
    access_ttl_secs: Option<i64>,
    rate_per_sec: Option<u32>,
    rate_per_min: Option<u32>,
}

async fn control_config(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(c) = parse_json::<ConfigBody>(&body) else {
        return bad_control_body();
    };
    shared.lock().configure(c.access_ttl_secs, c.rate_per_sec, c.rate_per_min);
    json_response(StatusCode::OK, json!({}))
}

async fn control_reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().reset();
    json_response(StatusCode::OK, json!({}))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

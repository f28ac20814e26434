//! The fake's state and rules, free of HTTP: OAuth grants and tokens
//! ([`oauth`]), per-operator rate limits ([`rate`]), `Idempotency-Key`
//! replay ([`idempotency`]), the API pipeline and routes ([`api`],
//! [`routes`]), metadata and timeline validation ([`metadata`],
//! [`timeline`]), Stora's error bodies ([`errors`]), injected faults and
//! counters. Every rule takes `now` (epoch seconds of the fake's clock) so it
//! is easy to test; the HTTP layer passes [`Store::clock`].

pub mod api;
pub mod errors;
pub mod idempotency;
pub mod metadata;
pub mod oauth;
pub mod rate;
pub mod routes;
pub mod timeline;
pub mod webhooks;

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub use api::ApiRequest;
pub use errors::{ApiAnswer, ErrorCode};
pub use oauth::{CODE_TTL_SECS, DEFAULT_SCOPE, KNOWN_SCOPES, OAuthError, TokenInfo, TokenSet};
pub use rate::{Limited, RateOverride};
pub use webhooks::{DeliveryRecord, EndpointInfo, WebhookControls};

/// Operator used when the consent step does not name one.
pub const DEFAULT_OPERATOR: &str = "opr_demo";

/// How many recent API requests [`Store::requests`] keeps.
const REQUEST_LOG_CAP: usize = 2000;

/// Configuration of a fake Stora instance.
#[derive(Clone, Debug)]
pub struct Config {
    /// The partner app's OAuth client id.
    pub client_id: String,
    /// The partner app's OAuth client secret.
    pub client_secret: String,
    /// Further `(client_id, client_secret)` pairs the fake accepts (other
    /// API clients of the same operators; they share the rate limits).
    pub extra_clients: Vec<(String, String)>,
    /// Accepted `redirect_uri` prefixes. Real Stora requires an exact
    /// registered URI; the fake accepts any URI starting with one of these so
    /// a broker on an ephemeral port can be used without registration.
    pub redirect_uri_prefixes: Vec<String>,
    /// Access-token lifetime in seconds (Stora: 7200).
    pub access_ttl_secs: i64,
    /// Per-operator limit per second (Stora: 10); 0 disables it.
    pub rate_per_sec: u32,
    /// Per-operator limit per minute (Stora: 60); 0 disables it.
    pub rate_per_min: u32,
    /// Prepended to every authorization code, access token and refresh
    /// token issued (default empty), so leak tests can recognise them.
    pub token_canary: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            client_id: "tessera-demo-client".into(),
            client_secret: "tessera-demo-client-secret".into(),
            extra_clients: Vec::new(),
            redirect_uri_prefixes: vec!["http://127.0.0.1:".into(), "http://localhost:".into()],
            access_ttl_secs: 7200,
            rate_per_sec: 10,
            rate_per_min: 60,
            token_canary: String::new(),
        }
    }
}

/// Event counters, readable through `GET /_control/counters`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counters {
    /// `GET /oauth2/authorize` requests that showed a consent page.
    pub authorize_requests: u64,
    /// Consents approved.
    pub approvals: u64,
    /// Consents denied.
    pub denials: u64,
    /// Successful `authorization_code` exchanges.
    pub code_exchanges: u64,
    /// Successful `refresh_token` grants (each one a rotation).
    pub refreshes: u64,
    /// Token requests answered `invalid_grant`.
    pub invalid_grants: u64,
    /// Refresh tokens presented again after they were rotated (reuse
    /// detection: a live grant is revoked whole; each is also an
    /// `invalid_grant`).
    #[serde(default)]
    pub refresh_reuse: u64,
    /// `POST /oauth2/revoke` calls with valid client credentials.
    pub revokes: u64,
    /// Grants revoked (by the revoke endpoint or the control route).
    pub grants_revoked: u64,
    /// API requests received (before authentication and rate limits).
    pub api_requests: u64,
    /// Requests answered 429.
    pub rate_limited: u64,
    /// Requests answered by an injected fault.
    pub injected_faults: u64,
    /// API POSTs that carried no `Idempotency-Key` (accepted, but counted).
    #[serde(default)]
    pub posts_without_idempotency_key: u64,
    /// Answers replayed from the idempotency store.
    #[serde(default)]
    pub idempotent_replays: u64,
    /// Per-operator breakdown.
    pub operators: BTreeMap<String, OperatorCounters>,
}

/// Per-operator counters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OperatorCounters {
    /// Successful refreshes of this operator's grants.
    pub refreshes: u64,
    /// Revocations of this operator's grants.
    pub revokes: u64,
    /// Authenticated API requests.
    pub api_requests: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Authenticated API POSTs without an `Idempotency-Key`.
    #[serde(default)]
    pub posts_without_idempotency_key: u64,
}

/// One API request as the fake saw it (for asserting retries and
/// `Idempotency-Key` reuse).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path (without query), exactly as received.
    pub path: String,
    /// Query (without `?`), exactly as received.
    #[serde(default)]
    pub query: Option<String>,
    /// Operator, when the bearer token was valid.
    pub operator: Option<String>,
    /// The `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
    /// Status the fake answered.
    pub status: u16,
    /// Whether the answer was replayed from the idempotency store.
    #[serde(default)]
    pub idempotent_replayed: bool,
    /// The `Request-Id` the fake sent.
    #[serde(default)]
    pub request_id: String,
}

/// A fault to inject into the next matching requests.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Fault {
    /// Requests whose path starts with this are affected (default `/2025-09/`).
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Answer with this status instead of handling the request.
    #[serde(default)]
    pub status: Option<u16>,
    /// Documented error code of the answer (API paths); default: the code of
    /// the status ([`ErrorCode::for_status`]), e.g. 500 →
    /// `internal_server_error`.
    #[serde(default)]
    pub code: Option<String>,
    /// `error.message` of the answer (default: "fault injected by the test").
    #[serde(default)]
    pub message: Option<String>,
    /// `Retry-After` seconds to send with an injected status.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Delay the answer by this many milliseconds.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// How many requests the fault applies to (default 1).
    #[serde(default)]
    pub count: Option<u32>,
    /// Let this many matching requests through untouched first (default 0):
    /// a fault on the second call of a sequence (the broker's retry).
    #[serde(default)]
    pub skip: Option<u32>,
}

/// Summary of a grant for `GET /_control/grants` (no token values).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GrantInfo {
    /// Grant id.
    pub id: u64,
    /// Operator who consented.
    pub operator: String,
    /// Granted scope.
    pub scope: String,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Refreshes performed on it.
    pub refreshes: u64,
    /// Client the grant was issued to.
    #[serde(default)]
    pub client_id: String,
    /// Times one of its already-rotated refresh tokens was presented again
    /// (the first one revoked it).
    #[serde(default)]
    pub refresh_reuse: u64,
    /// Its most recent refreshes (at most [`REFRESH_RECORDS_CAP`]), oldest
    /// first.
    #[serde(default)]
    pub refresh_records: Vec<RefreshRecord>,
}

/// How many refreshes [`GrantInfo::refresh_records`] keeps per grant.
pub const REFRESH_RECORDS_CAP: usize = 256;

/// One successful refresh of a grant, with the life of the access token it
/// replaced: a refresh made long before that token was due is a redundant
/// one (two brokers refreshing the same grant one after the other).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefreshRecord {
    /// When (the fake's clock, epoch milliseconds).
    pub at_ms: i64,
    /// When the replaced access token was issued (epoch milliseconds).
    pub replaced_issued_ms: i64,
    /// When the replaced access token expires (epoch seconds).
    pub replaced_expires_at: i64,
}

struct PendingAuthorization {
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
}

struct AuthCode {
    client_id: String,
    redirect_uri: String,
    scope: String,
    operator: String,
    expires_at: i64,
    used_by: Option<u64>,
}

struct Grant {
    client_id: String,
    operator: String,
    scope: String,
    revoked: bool,
    refresh_token: String,
    refreshes: u64,
    refresh_reuse: u64,
    /// The current pair's access token: issued (ms), expires (s).
    issued_ms: i64,
    expires_at: i64,
    refresh_records: std::collections::VecDeque<RefreshRecord>,
}

struct AccessToken {
    grant: u64,
    expires_at: i64,
}

/// Everything the fake remembers. Guarded by one mutex in the HTTP layer.
pub struct Store {
    config: Config,
    initial: Config,
    next_id: u64,
    clock_offset: i64,
    pending: HashMap<String, PendingAuthorization>,
    codes: HashMap<String, AuthCode>,
    grants: BTreeMap<u64, Grant>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, u64>,
    /// Refresh tokens already rotated away → their grant (reuse detection).
    rotated: HashMap<String, u64>,
    rate: HashMap<String, rate::Window>,
    rate_overrides: HashMap<String, RateOverride>,
    idempotency: HashMap<idempotency::Scope, idempotency::Stored>,
    data: HashMap<String, routes::OperatorData>,
    contacts_created: usize,
    faults: Vec<Fault>,
    counters: Counters,
    requests: Vec<RequestRecord>,
    issued: Vec<String>,
    webhooks: webhooks::WebhookState,
}

/// A random URL-safe token with a readable prefix.
pub fn random_token(prefix: &str) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("OS randomness");
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The wall clock in epoch seconds.
pub fn wall_clock() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Store {
    /// A fresh store.
    pub fn new(config: Config) -> Self {
        Store {
            initial: config.clone(),
            config,
            next_id: 1,
            clock_offset: 0,
            pending: HashMap::new(),
            codes: HashMap::new(),
            grants: BTreeMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            rotated: HashMap::new(),
            rate: HashMap::new(),
            rate_overrides: HashMap::new(),
            idempotency: HashMap::new(),
            data: HashMap::new(),
            contacts_created: 0,
            faults: Vec::new(),
            counters: Counters::default(),
            requests: Vec::new(),
            issued: Vec::new(),
            webhooks: webhooks::WebhookState::default(),
        }
    }

    /// The current configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Changes the access-token lifetime and/or the global rate limits.
    pub fn configure(&mut self, access_ttl_secs: Option<i64>, rate_per_sec: Option<u32>, rate_per_min: Option<u32>) {
        if let Some(v) = access_ttl_secs {
            self.config.access_ttl_secs = v;
        }
        if let Some(v) = rate_per_sec {
            self.config.rate_per_sec = v;
        }
        if let Some(v) = rate_per_min {
            self.config.rate_per_min = v;
        }
    }

    /// Forgets everything (grants, orders' metadata, contacts, timeline,
    /// idempotency keys, overrides, clock offset) and restores the
    /// configuration given at start.
    pub fn reset(&mut self) {
        *self = Store::new(self.initial.clone());
    }

    /// The fake's clock: the wall clock moved by [`Store::advance_clock`].
    pub fn clock(&self) -> i64 {
        wall_clock() + self.clock_offset
    }

    /// The fake's clock in milliseconds (refresh records).
    pub fn clock_ms(&self) -> i64 {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        wall + self.clock_offset * 1000
    }

    /// Moves the fake's clock forward by `secs` (negative values are
    /// ignored); returns the total offset.
    pub fn advance_clock(&mut self, secs: i64) -> i64 {
        self.clock_offset += secs.max(0);
        self.clock_offset
    }

    /// The counters.
    pub fn counters(&self) -> Counters {
        self.counters.clone()
    }

    /// Contacts created through `POST contacts` (a replayed
    /// `Idempotency-Key` creates none).
    pub fn created_contacts(&self) -> usize {
        self.contacts_created
    }

    /// Every authorization code, access token, refresh token and webhook
    /// endpoint secret issued since the start (or the last reset), oldest
    /// first: what leak tests search for.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.issued.clone()
    }

    /// A new token with the canary and `prefix`, remembered as issued.
    pub(crate) fn new_token(&mut self, prefix: &str) -> String {
        let token = random_token(&format!("{}{prefix}", self.config.token_canary));
        self.issued.push(token.clone());
        token
    }

    /// Recent API requests, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.requests.clone()
    }

    fn log_request(&mut self, record: RequestRecord) {
        if self.requests.len() >= REQUEST_LOG_CAP {
            self.requests.remove(0);
        }
        self.requests.push(record);
    }

    /// Grants, optionally of one operator.
    pub fn grants(&self, operator: Option<&str>) -> Vec<GrantInfo> {
        self.grants
            .iter()
            .filter(|(_, g)| operator.is_none_or(|o| g.operator == o))
            .map(|(id, g)| GrantInfo {
                id: *id,
                operator: g.operator.clone(),
                scope: g.scope.clone(),
                revoked: g.revoked,
                refreshes: g.refreshes,
                client_id: g.client_id.clone(),
                refresh_reuse: g.refresh_reuse,
                refresh_records: g.refresh_records.iter().cloned().collect(),
            })
            .collect()
    }

    fn operator_counters(&mut self, operator: &str) -> &mut OperatorCounters {
        self.counters.operators.entry(operator.to_string()).or_default()
    }

    /// Queues a fault.
    pub fn inject(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// Takes the first queued fault matching `path`, consuming one use.
    pub fn take_fault(&mut self, path: &str) -> Option<Fault> {
        let index = self.faults.iter().position(|f| {
            path.starts_with(f.path_prefix.as_deref().unwrap_or("/2025-09/")) && f.count.unwrap_or(1) > 0
        })?;
        let fault = &mut self.faults[index];
        if let Some(skip) = fault.skip.filter(|s| *s > 0) {
            fault.skip = Some(skip - 1);
            return None;
        }
        let remaining = fault.count.unwrap_or(1) - 1;
        fault.count = Some(remaining);
        let taken = fault.clone();
        if remaining == 0 {
            self.faults.remove(index);
        }
        if taken.status.is_some() {
            self.counters.injected_faults += 1;
        }
        Some(taken)
    }
}

/// Display name of an operator.
pub fn operator_name(operator: &str) -> String {
    match operator {
        DEFAULT_OPERATOR => "Northwind Self Storage".to_string(),
        other => format!("Operator {other}"),
    }
}

/// Appends form-encoded parameters to a URL.
pub fn append_query(url: &str, params: &[(&str, &str)]) -> String {
    let mut out = url.to_string();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        out.push(sep);
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(v));
        sep = '&';
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;

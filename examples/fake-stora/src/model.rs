//! The fake's state and rules, free of HTTP: authorization codes, grants,
//! token rotation, revocation, per-operator rate limits, injected faults and
//! counters. Every method takes `now` (unix seconds) so the rules are easy to
//! test; the HTTP layer passes the wall clock.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Scopes the fake knows. `account:read` is implied by any grant.
pub const KNOWN_SCOPES: &[&str] = &["orders:read", "contacts:read", "contacts:write", "account:read"];

/// Scope used when an authorization request names none.
pub const DEFAULT_SCOPE: &str = "orders:read";

/// Authorization codes live this long (seconds).
pub const CODE_TTL_SECS: i64 = 600;

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
}

/// A successful token answer.
#[derive(Clone, Debug, Serialize)]
pub struct TokenSet {
    /// Bearer access token.
    pub access_token: String,
    /// Always "Bearer".
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The (new) refresh token.
    pub refresh_token: String,
    /// Granted scope.
    pub scope: String,
}

/// An OAuth error answer (`error` per RFC 6749 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status (400 or 401).
    pub status: u16,
    /// `error` code.
    pub error: &'static str,
    /// Human description.
    pub description: String,
}

impl OAuthError {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status, error, description: description.into() }
    }
    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": self.error, "error_description": self.description})
    }
}

/// What the API layer should answer.
#[derive(Debug)]
pub struct ApiAnswer {
    /// Status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl ApiAnswer {
    fn json(status: u16, body: Value) -> Self {
        ApiAnswer { status, body, headers: Vec::new() }
    }
    fn error(status: u16, code: &str, description: &str) -> Self {
        Self::json(status, json!({"error": code, "error_description": description}))
    }
}

struct PendingAuthorization {
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
    operator: String,
    scope: String,
    revoked: bool,
    refresh_token: String,
    refreshes: u64,
}

struct AccessToken {
    grant: u64,
    expires_at: i64,
}

#[derive(Default)]
struct RateWindow {
    second: i64,
    second_count: u32,
    minute: i64,
    minute_count: u32,
}

/// Everything the fake remembers. Guarded by one mutex in the HTTP layer.
pub struct Store {
    config: Config,
    initial: Config,
    next_id: u64,
    pending: HashMap<String, PendingAuthorization>,
    codes: HashMap<String, AuthCode>,
    grants: BTreeMap<u64, Grant>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, u64>,
    rate: HashMap<String, RateWindow>,
    faults: Vec<Fault>,
    counters: Counters,
    requests: Vec<RequestRecord>,
    created_contacts: HashMap<(String, String), Value>,
    issued: Vec<String>,
}

/// A random URL-safe token with a readable prefix.
pub fn random_token(prefix: &str) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("OS randomness");
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl Store {
    /// A fresh store.
    pub fn new(config: Config) -> Self {
        Store {
            initial: config.clone(),
            config,
            next_id: 1,
            pending: HashMap::new(),
            codes: HashMap::new(),
            grants: BTreeMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            rate: HashMap::new(),
            faults: Vec::new(),
            counters: Counters::default(),
            requests: Vec::new(),
            created_contacts: HashMap::new(),
            issued: Vec::new(),
        }
    }

    /// The current configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Changes the access-token lifetime and/or rate limits.
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

    /// Forgets everything and restores the configuration given at start.
    pub fn reset(&mut self) {
        *self = Store::new(self.initial.clone());
    }

    /// The counters.
    pub fn counters(&self) -> Counters {
        self.counters.clone()
    }

    /// Contacts created through `POST contacts` (a repeated Idempotency-Key
    /// creates none).
    pub fn created_contacts(&self) -> usize {
        self.created_contacts.len()
    }

    /// Every authorization code, access token and refresh token issued
    /// since the start (or the last reset), oldest first: what leak tests
    /// search for.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.issued.clone()
    }

    /// A new token with the canary and `prefix`, remembered as issued.
    fn new_token(&mut self, prefix: &str) -> String {
        let token = random_token(&format!("{}{prefix}", self.config.token_canary));
        self.issued.push(token.clone());
        token
    }

    /// Recent API requests, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.requests.clone()
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
            })
            .collect()
    }

    fn operator_counters(&mut self, operator: &str) -> &mut OperatorCounters {
        self.counters.operators.entry(operator.to_string()).or_default()
    }

    // ---- faults -----------------------------------------------------------

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

    // ---- authorization ------------------------------------------------------

    /// Validates an authorization request and returns the consent
    /// transaction id. `Err(Ok(msg))` = show an error page (never redirect to
    /// an unverified URI); `Err(Err(url))` = redirect with an error.
    #[allow(clippy::result_large_err)]
    pub fn authorize(
        &mut self,
        client_id: &str,
        redirect_uri: &str,
        response_type: &str,
        scope: Option<&str>,
        state: Option<&str>,
    ) -> Result<String, Result<String, String>> {
        if client_id != self.config.client_id {
            return Err(Ok("unknown client_id".into()));
        }
        if !self.config.redirect_uri_prefixes.iter().any(|p| redirect_uri.starts_with(p.as_str())) {
            return Err(Ok("redirect_uri is not registered for this client".into()));
        }
        if response_type != "code" {
            return Err(Err(error_redirect(redirect_uri, "unsupported_response_type", state)));
        }
        let scope = normalise_scope(scope.unwrap_or(DEFAULT_SCOPE));
        let Some(scope) = scope else {
            return Err(Err(error_redirect(redirect_uri, "invalid_scope", state)));
        };
        self.counters.authorize_requests += 1;
        let txn = random_token("txn_");
        self.pending.insert(
            txn.clone(),
            PendingAuthorization { redirect_uri: redirect_uri.to_string(), scope, state: state.map(str::to_string) },
        );
        Ok(txn)
    }

    /// Scope shown on the consent page of a pending transaction.
    pub fn pending_scope(&self, txn: &str) -> Option<String> {
        self.pending.get(txn).map(|p| p.scope.clone())
    }

    /// The operator's decision on the consent page. Returns the URL to
    /// redirect the browser to, or `None` for an unknown transaction.
    pub fn decide(&mut self, txn: &str, approve: bool, operator: Option<&str>, now: i64) -> Option<String> {
        let pending = self.pending.remove(txn)?;
        if !approve {
            self.counters.denials += 1;
            return Some(error_redirect(&pending.redirect_uri, "access_denied", pending.state.as_deref()));
        }
        self.counters.approvals += 1;
        let code = self.new_token("code_");
        self.codes.insert(
            code.clone(),
            AuthCode {
                client_id: self.config.client_id.clone(),
                redirect_uri: pending.redirect_uri.clone(),
                scope: pending.scope,
                operator: operator.filter(|o| !o.is_empty()).unwrap_or(DEFAULT_OPERATOR).to_string(),
                expires_at: now + CODE_TTL_SECS,
                used_by: None,
            },
        );
        let mut params = vec![("code", code.as_str())];
        if let Some(state) = pending.state.as_deref() {
            params.push(("state", state));
        }
        Some(append_query(&pending.redirect_uri, &params))
    }

    // ---- tokens -------------------------------------------------------------

    fn check_client(&self, client_id: &str, client_secret: &str) -> Result<(), OAuthError> {
        // A real server compares in constant time; this is a test double.
        if client_id == self.config.client_id && client_secret == self.config.client_secret {
            Ok(())
        } else {
            Err(OAuthError::new(401, "invalid_client", "client authentication failed"))
        }
    }

    fn issue(&mut self, grant_id: u64, now: i64) -> TokenSet {
        let access_token = self.new_token("sat_");
        let refresh_token = self.new_token("srt_");
        self.access.insert(
            access_token.clone(),
            AccessToken { grant: grant_id, expires_at: now + self.config.access_ttl_secs },
        );
        self.refresh.insert(refresh_token.clone(), grant_id);
        let grant = self.grants.get_mut(&grant_id).expect("grant exists");
        grant.refresh_token = refresh_token.clone();
        TokenSet {
            access_token,
            token_type: "Bearer",
            expires_in: self.config.access_ttl_secs,
            refresh_token,
            scope: grant.scope.clone(),
        }
    }

    fn invalid_grant(&mut self, description: &str) -> OAuthError {
        self.counters.invalid_grants += 1;
        OAuthError::new(400, "invalid_grant", description)
    }

    /// `grant_type=authorization_code`.
    pub fn exchange_code(
        &mut self,
        client_id: &str,
        client_secret: &str,
        code: &str,
        redirect_uri: &str,
        now: i64,
    ) -> Result<TokenSet, OAuthError> {
        self.check_client(client_id, client_secret)?;
        let Some(entry) = self.codes.get(code) else {
            return Err(self.invalid_grant("unknown authorization code"));
        };
        if let Some(grant_id) = entry.used_by {
            // RFC 6749 §4.1.2: a reused code revokes what it issued.
            self.revoke_grant(grant_id);
            return Err(self.invalid_grant("authorization code already used"));
        }
        if entry.expires_at <= now {
            return Err(self.invalid_grant("authorization code expired"));
        }
        if entry.client_id != client_id || entry.redirect_uri != redirect_uri {
            return Err(self.invalid_grant("redirect_uri or client does not match the code"));
        }
        let grant_id = self.next_id;
        self.next_id += 1;
        let (operator, scope) = (entry.operator.clone(), entry.scope.clone());
        self.codes.get_mut(code).expect("code").used_by = Some(grant_id);
        self.grants
            .insert(grant_id, Grant { operator, scope, revoked: false, refresh_token: String::new(), refreshes: 0 });
        self.counters.code_exchanges += 1;
        Ok(self.issue(grant_id, now))
    }

    /// `grant_type=refresh_token`: rotates the refresh token; the presented
    /// one is revoked at once.
    pub fn refresh(
        &mut self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
        now: i64,
    ) -> Result<TokenSet, OAuthError> {
        self.check_client(client_id, client_secret)?;
        let Some(grant_id) = self.refresh.remove(refresh_token) else {
            return Err(self.invalid_grant("refresh token is invalid, used or revoked"));
        };
        let grant = self.grants.get_mut(&grant_id).expect("grant exists");
        if grant.revoked {
            return Err(self.invalid_grant("grant revoked"));
        }
        grant.refreshes += 1;
        let operator = grant.operator.clone();
        self.counters.refreshes += 1;
        self.operator_counters(&operator).refreshes += 1;
        Ok(self.issue(grant_id, now))
    }

    fn revoke_grant(&mut self, grant_id: u64) -> bool {
        let Some(grant) = self.grants.get_mut(&grant_id) else {
            return false;
        };
        if grant.revoked {
            return false;
        }
        grant.revoked = true;
        let operator = grant.operator.clone();
        self.refresh.retain(|_, g| *g != grant_id);
        self.access.retain(|_, t| t.grant != grant_id);
        self.counters.grants_revoked += 1;
        self.operator_counters(&operator).revokes += 1;
        true
    }

    /// `POST /oauth2/revoke`: revoking either token revokes the pair. Unknown
    /// tokens are not an error (RFC 7009 §2.2).
    pub fn revoke(&mut self, client_id: &str, client_secret: &str, token: &str) -> Result<(), OAuthError> {
        self.check_client(client_id, client_secret)?;
        self.counters.revokes += 1;
        let grant = self.refresh.get(token).copied().or_else(|| self.access.get(token).map(|t| t.grant));
        if let Some(grant) = grant {
            self.revoke_grant(grant);
        }
        Ok(())
    }

    /// Control: the operator removed the app in Stora. Returns how many
    /// grants were revoked.
    pub fn revoke_operator(&mut self, operator: &str) -> usize {
        let ids: Vec<u64> =
            self.grants.iter().filter(|(_, g)| g.operator == operator && !g.revoked).map(|(id, _)| *id).collect();
        ids.into_iter().filter(|id| self.revoke_grant(*id)).count()
    }

    /// Control: access tokens (of one operator, or all) expire now.
    pub fn expire_tokens(&mut self, operator: Option<&str>, now: i64) -> usize {
        let mut n = 0;
        for token in self.access.values_mut() {
            let matches = operator.is_none_or(|o| self.grants.get(&token.grant).is_some_and(|g| g.operator == o));
            if matches && token.expires_at > now {
                token.expires_at = now;
                n += 1;
            }
        }
        n
    }

    // ---- API ----------------------------------------------------------------

    /// Records an API request answered by an injected fault.
    pub fn record_faulted(
        &mut self,
        method: &str,
        path: &str,
        query: Option<&str>,
        idempotency_key: Option<&str>,
        status: u16,
    ) {
        self.counters.api_requests += 1;
        self.log_request(RequestRecord {
            method: method.to_string(),
            path: path.to_string(),
            query: query.map(str::to_string),
            operator: None,
            idempotency_key: idempotency_key.map(str::to_string),
            status,
        });
    }

    fn log_request(&mut self, record: RequestRecord) {
        if self.requests.len() >= REQUEST_LOG_CAP {
            self.requests.remove(0);
        }
        self.requests.push(record);
    }

    /// Handles one `/2025-09/...` request (path without the version prefix).
    #[allow(clippy::too_many_arguments)]
    pub fn api(
        &mut self,
        method: &str,
        path: &str,
        full_path: &str,
        query: Option<&str>,
        bearer: Option<&str>,
        idempotency_key: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> ApiAnswer {
        self.counters.api_requests += 1;
        let mut operator = None;
        let answer = self.api_inner(method, path, bearer, idempotency_key, body, now, &mut operator);
        self.log_request(RequestRecord {
            method: method.to_string(),
            path: full_path.to_string(),
            query: query.map(str::to_string),
            operator,
            idempotency_key: idempotency_key.map(str::to_string),
            status: answer.status,
        });
        answer
    }

    #[allow(clippy::too_many_arguments)]
    fn api_inner(
        &mut self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        idempotency_key: Option<&str>,
        body: &[u8],
        now: i64,
        operator_out: &mut Option<String>,
    ) -> ApiAnswer {
        let Some(bearer) = bearer else {
            return invalid_token("missing bearer token");
        };
        let Some(token) = self.access.get(bearer) else {
            return invalid_token("unknown or revoked access token");
        };
        if token.expires_at <= now {
            return invalid_token("the access token expired");
        }
        let grant = &self.grants[&token.grant];
        let (operator, scope) = (grant.operator.clone(), grant.scope.clone());
        *operator_out = Some(operator.clone());

        // Per-operator limits, shared by everything the operator uses.
        let (per_sec, per_min) = (self.config.rate_per_sec, self.config.rate_per_min);
        let window = self.rate.entry(operator.clone()).or_default();
        if window.second != now {
            window.second = now;
            window.second_count = 0;
        }
        if window.minute != now / 60 {
            window.minute = now / 60;
            window.minute_count = 0;
        }
        let retry_after = if per_sec > 0 && window.second_count >= per_sec {
            Some(1)
        } else if per_min > 0 && window.minute_count >= per_min {
            Some(60 - now % 60)
        } else {
            None
        };
        if let Some(retry_after) = retry_after {
            self.counters.rate_limited += 1;
            self.operator_counters(&operator).rate_limited += 1;
            let mut answer = ApiAnswer::error(429, "rate_limited", "rate limit exceeded");
            answer.headers.push(("retry-after", retry_after.max(1).to_string()));
            return answer;
        }
        window.second_count += 1;
        window.minute_count += 1;
        self.operator_counters(&operator).api_requests += 1;

        let has = |s: &str| scope.split(' ').any(|x| x == s);
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            ("GET", ["account"]) => {
                ApiAnswer::json(200, json!({"id": operator, "name": operator_name(&operator), "scope": scope}))
            }
            ("GET", ["orders"]) if has("orders:read") => {
                ApiAnswer::json(200, json!({"data": orders(&operator), "has_more": false}))
            }
            ("GET", ["orders", id]) if has("orders:read") => {
                match orders(&operator).into_iter().find(|o| o["id"] == *id) {
                    Some(order) => ApiAnswer::json(200, order),
                    None => ApiAnswer::error(404, "not_found", "no such order"),
                }
            }
            ("GET", ["contacts"]) if has("contacts:read") => {
                ApiAnswer::json(200, json!({"data": contacts(&operator), "has_more": false}))
            }
            ("POST", ["contacts"]) if has("contacts:write") => {
                let Some(key) = idempotency_key else {
                    return ApiAnswer::error(
                        400,
                        "idempotency_key_required",
                        "POST requests need an Idempotency-Key header",
                    );
                };
                let cache_key = (operator.clone(), key.to_string());
                if let Some(previous) = self.created_contacts.get(&cache_key) {
                    let mut answer = ApiAnswer::json(201, previous.clone());
                    answer.headers.push(("idempotent-replayed", "true".into()));
                    return answer;
                }
                let Ok(input) = serde_json::from_slice::<Value>(body) else {
                    return ApiAnswer::error(400, "invalid_request", "body must be JSON");
                };
                let contact = json!({
                    "id": format!("con_{}", 1000 + self.created_contacts.len() + 1),
                    "name": input.get("name").cloned().unwrap_or(Value::Null),
                    "email": input.get("email").cloned().unwrap_or(Value::Null),
                });
                self.created_contacts.insert(cache_key, contact.clone());
                ApiAnswer::json(201, contact)
            }
            (_, ["orders"] | ["orders", _] | ["contacts"]) => {
                ApiAnswer::error(403, "insufficient_scope", "the grant lacks the scope")
            }
            _ => ApiAnswer::error(404, "not_found", "no such route"),
        }
    }
}

fn invalid_token(description: &str) -> ApiAnswer {
    let mut answer = ApiAnswer::error(401, "invalid_token", description);
    answer
        .headers
        .push(("www-authenticate", format!("Bearer error=\"invalid_token\", error_description=\"{description}\"")));
    answer
}

/// Display name of an operator.
pub fn operator_name(operator: &str) -> String {
    match operator {
        DEFAULT_OPERATOR => "Northwind Self Storage".to_string(),
        other => format!("Operator {other}"),
    }
}

fn orders(operator: &str) -> Vec<Value> {
    [
        ("ord_1001", "A-12", "active", 12900),
        ("ord_1002", "B-03", "active", 8900),
        ("ord_1003", "C-21", "moving_out", 15900),
    ]
    .into_iter()
    .map(|(id, unit, status, amount)| {
        json!({"id": id, "operator": operator, "unit": unit, "status": status,
               "monthly_price": {"amount": amount, "currency": "GBP"}})
    })
    .collect()
}

fn contacts(operator: &str) -> Vec<Value> {
    [("con_0001", "Ada Lovelace", "ada@example.com"), ("con_0002", "Alan Turing", "alan@example.com")]
        .into_iter()
        .map(|(id, name, email)| json!({"id": id, "operator": operator, "name": name, "email": email}))
        .collect()
}

/// Sorts, deduplicates and validates a space-separated scope.
fn normalise_scope(scope: &str) -> Option<String> {
    let mut parts: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if parts.is_empty() || parts.iter().any(|p| !KNOWN_SCOPES.contains(p)) {
        return None;
    }
    parts.sort_unstable();
    parts.dedup();
    Some(parts.join(" "))
}

fn error_redirect(redirect_uri: &str, error: &str, state: Option<&str>) -> String {
    let mut params = vec![("error", error)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    append_query(redirect_uri, &params)
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
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new(Config::default())
    }

    fn connect(s: &mut Store, operator: &str, now: i64) -> TokenSet {
        let cfg = s.config().clone();
        let txn = s
            .authorize(&cfg.client_id, "http://127.0.0.1:9/cb", "code", Some("orders:read contacts:read"), Some("st"))
            .ok()
            .unwrap();
        let url = s.decide(&txn, true, Some(operator), now).unwrap();
        let code = url.split("code=").nth(1).unwrap().split('&').next().unwrap();
        s.exchange_code(&cfg.client_id, &cfg.client_secret, code, "http://127.0.0.1:9/cb", now).unwrap()
    }

    #[test]
    fn refresh_rotates_and_revokes_previous() {
        let mut s = store();
        let cfg = s.config().clone();
        let t1 = connect(&mut s, "opr_a", 100);
        let t2 = s.refresh(&cfg.client_id, &cfg.client_secret, &t1.refresh_token, 101).unwrap();
        assert_ne!(t1.refresh_token, t2.refresh_token);
        let err = s.refresh(&cfg.client_id, &cfg.client_secret, &t1.refresh_token, 102).unwrap_err();
        assert_eq!(err.error, "invalid_grant");
        assert_eq!(s.counters().refreshes, 1);
    }

    #[test]
    fn code_is_single_use_and_reuse_revokes() {
        let mut s = store();
        let cfg = s.config().clone();
        let txn = s.authorize(&cfg.client_id, "http://127.0.0.1:9/cb", "code", None, None).ok().unwrap();
        let url = s.decide(&txn, true, None, 0).unwrap();
        let code = url.split("code=").nth(1).unwrap().to_string();
        let t = s.exchange_code(&cfg.client_id, &cfg.client_secret, &code, "http://127.0.0.1:9/cb", 0).unwrap();
        let again = s.exchange_code(&cfg.client_id, &cfg.client_secret, &code, "http://127.0.0.1:9/cb", 0);
        assert_eq!(again.unwrap_err().error, "invalid_grant");
        let answer = s.api("GET", "/orders", "/2025-09/orders", None, Some(&t.access_token), None, b"", 1);
        assert_eq!(answer.status, 401);
    }

    #[test]
    fn revoking_access_token_revokes_pair() {
        let mut s = store();
        let cfg = s.config().clone();
        let t = connect(&mut s, "opr_a", 0);
        s.revoke(&cfg.client_id, &cfg.client_secret, &t.access_token).unwrap();
        let err = s.refresh(&cfg.client_id, &cfg.client_secret, &t.refresh_token, 1).unwrap_err();
        assert_eq!(err.error, "invalid_grant");
        assert!(s.grants(Some("opr_a"))[0].revoked);
    }

    #[test]
    fn rate_limits_per_operator() {
        let mut s = store();
        let a = connect(&mut s, "opr_a", 0);
        let b = connect(&mut s, "opr_b", 0);
        let now = 120;
        for _ in 0..10 {
            let r = s.api("GET", "/orders", "/2025-09/orders", None, Some(&a.access_token), None, b"", now);
            assert_eq!(r.status, 200);
        }
        let r = s.api("GET", "/orders", "/2025-09/orders", None, Some(&a.access_token), None, b"", now);
        assert_eq!(r.status, 429);
        assert!(r.headers.iter().any(|(h, v)| *h == "retry-after" && v == "1"));
        let r = s.api("GET", "/orders", "/2025-09/orders", None, Some(&b.access_token), None, b"", now);
        assert_eq!(r.status, 200, "another operator is not limited");
        // 60 per minute.
        let mut t = now + 1;
        let mut ok = 10;
        while ok < 60 {
            let r = s.api("GET", "/orders", "/2025-09/orders", None, Some(&a.access_token), None, b"", t);
            if r.status == 200 {
                ok += 1;
            } else {
                t += 1;
            }
        }
        let r = s.api("GET", "/orders", "/2025-09/orders", None, Some(&a.access_token), None, b"", t + 1);
        assert_eq!(r.status, 429);
    }

    #[test]
    fn expired_access_token_is_rejected() {
        let mut s = store();
        let t = connect(&mut s, "opr_a", 0);
        assert_eq!(s.expire_tokens(Some("opr_a"), 10), 1);
        let r = s.api("GET", "/orders", "/2025-09/orders", None, Some(&t.access_token), None, b"", 10);
        assert_eq!(r.status, 401);
        assert_eq!(r.body["error"], "invalid_token");
    }

    #[test]
    fn idempotent_post() {
        let mut s = store();
        let cfg = s.config().clone();
        let txn =
            s.authorize(&cfg.client_id, "http://127.0.0.1:9/cb", "code", Some("contacts:write"), None).ok().unwrap();
        let url = s.decide(&txn, true, None, 0).unwrap();
        let code = url.split("code=").nth(1).unwrap().to_string();
        let t = s.exchange_code(&cfg.client_id, &cfg.client_secret, &code, "http://127.0.0.1:9/cb", 0).unwrap();
        let body = br#"{"name":"Grace"}"#;
        let a = s.api("POST", "/contacts", "/2025-09/contacts", None, Some(&t.access_token), Some("k1"), body, 1);
        let b = s.api("POST", "/contacts", "/2025-09/contacts", None, Some(&t.access_token), Some("k1"), body, 1);
        assert_eq!(a.status, 201);
        assert_eq!(a.body, b.body);
        let c = s.api("POST", "/contacts", "/2025-09/contacts", None, Some(&t.access_token), None, body, 1);
        assert_eq!(c.status, 400);
    }
}

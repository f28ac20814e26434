//! The API pipeline for `/2025-09/...`, in order: injected fault (answers at
//! once; stored under its `Idempotency-Key` unless 401/429), authentication
//! (401 `invalid_token`, not stored), the operator's rate limit (429, not
//! stored), idempotency replay or conflict, then the route
//! ([`super::routes`]), whose answer is stored when the POST carried a key.
//! Every answer gets a fresh `Request-Id` header and every error body its
//! `request_id`.

use super::errors::{ApiAnswer, ErrorCode, request_id};
use super::idempotency::{Fingerprint, Lookup, Scope};
use super::{Fault, RequestRecord, Store};

/// One API request, as the HTTP layer hands it over.
#[derive(Clone, Debug, Default)]
pub struct ApiRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Full path, e.g. `/2025-09/orders`.
    pub path: &'a str,
    /// Query without `?`.
    pub query: Option<&'a str>,
    /// Bearer token from `Authorization`.
    pub bearer: Option<&'a str>,
    /// `Idempotency-Key` header.
    pub idempotency_key: Option<&'a str>,
    /// `Accept` header.
    pub accept: Option<&'a str>,
    /// Raw body.
    pub body: &'a [u8],
    /// A fault the middleware took for this request (latency already spent).
    pub fault: Option<Fault>,
}

impl<'a> ApiRequest<'a> {
    /// A request with no headers, query or body.
    pub fn new(method: &'a str, path: &'a str) -> Self {
        ApiRequest { method, path, ..Default::default() }
    }

    /// The path without the version prefix.
    pub fn route_path(&self) -> &'a str {
        self.path.strip_prefix("/2025-09").unwrap_or(self.path)
    }

    fn fingerprint(&self) -> Fingerprint {
        let target = match self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.to_string(),
        };
        Fingerprint { method: self.method.to_string(), target, body: self.body.to_vec() }
    }
}

/// 401 `invalid_token` with its `WWW-Authenticate` header.
pub fn invalid_token(description: &str) -> ApiAnswer {
    ApiAnswer::error(ErrorCode::InvalidToken, description)
        .with_header("www-authenticate", format!("Bearer error=\"invalid_token\", error_description=\"{description}\""))
}

/// The answer of an injected status fault.
pub fn fault_answer(fault: &Fault, status: u16) -> ApiAnswer {
    let code = fault.code.as_deref().and_then(ErrorCode::parse).unwrap_or_else(|| ErrorCode::for_status(status));
    let message = fault.message.as_deref().unwrap_or("fault injected by the test");
    let mut answer = ApiAnswer::coded(status, code.as_str(), message);
    if let Some(secs) = fault.retry_after {
        answer = answer.with_header("retry-after", secs.to_string());
    }
    // Only an invalid_token fault is a token refusal (RFC 6750 challenge); a
    // 401 with another code stands for a gateway's or another layer's 401.
    if status == 401 && code == ErrorCode::InvalidToken {
        answer = answer.with_header("www-authenticate", "Bearer error=\"invalid_token\"");
    }
    answer
}

/// Who is calling: (operator, client_id, scope).
type Caller = (String, String, String);

impl Store {
    /// Handles one `/2025-09/...` request at `now`.
    pub fn api(&mut self, req: &ApiRequest<'_>, now: i64) -> ApiAnswer {
        self.counters.api_requests += 1;
        let request_id = request_id();
        let keyless_post = req.method == "POST" && req.idempotency_key.is_none();
        if keyless_post {
            self.counters.posts_without_idempotency_key += 1;
        }
        let caller = self.authenticate(req.bearer, now).map(|(grant, _)| {
            let g = &self.grants[&grant];
            (g.operator.clone(), g.client_id.clone(), g.scope.clone())
        });
        if let (Ok((operator, _, _)), true) = (&caller, keyless_post) {
            self.operator_counters(&operator.clone()).posts_without_idempotency_key += 1;
        }
        let mut replayed = false;
        let answer = self.api_answer(req, now, &caller, &request_id, &mut replayed);
        let answer = answer.finish(&request_id).with_header("request-id", request_id.clone());
        self.log_request(RequestRecord {
            method: req.method.to_string(),
            path: req.path.to_string(),
            query: req.query.map(str::to_string),
            operator: caller.ok().map(|c| c.0),
            idempotency_key: req.idempotency_key.map(str::to_string),
            status: answer.status,
            idempotent_replayed: replayed,
            request_id,
        });
        answer
    }

    fn api_answer(
        &mut self,
        req: &ApiRequest<'_>,
        now: i64,
        caller: &Result<Caller, &'static str>,
        request_id: &str,
        replayed: &mut bool,
    ) -> ApiAnswer {
        let key = req.idempotency_key.filter(|_| req.method == "POST");
        let scope_of = |c: &Caller, key: &str| -> Scope { (c.0.clone(), c.1.clone(), key.to_string()) };
        if let Some(status) = req.fault.as_ref().and_then(|f| f.status) {
            let answer = fault_answer(req.fault.as_ref().expect("fault"), status).finish(request_id);
            if let (Ok(c), Some(key)) = (caller, key)
                && !matches!(status, 401 | 429)
            {
                self.idempotency_store(scope_of(c, key), req.fingerprint(), &answer, now);
            }
            return answer;
        }
        let (operator, client_id, scope) = match caller {
            Ok((operator, client_id, scope)) => (operator.clone(), client_id.clone(), scope.clone()),
            Err(reason) => return invalid_token(reason),
        };
        if let Err(limited) = self.spend(&operator, now) {
            self.counters.rate_limited += 1;
            self.operator_counters(&operator).rate_limited += 1;
            return ApiAnswer::error(ErrorCode::TooManyRequests, "rate limit exceeded")
                .with_header("ratelimit-limit", limited.limit.to_string())
                .with_header("ratelimit-reset", limited.reset.to_string());
        }
        self.operator_counters(&operator).api_requests += 1;
        let scope_key = match (caller, key) {
            (Ok(c), Some(key)) => Some(scope_of(c, key)),
            _ => None,
        };
        if let Some(scope_key) = &scope_key {
            match self.idempotency_lookup(scope_key, &req.fingerprint(), now) {
                Lookup::Replay(answer) => {
                    *replayed = true;
                    return answer;
                }
                Lookup::Conflict(answer) => return answer,
                Lookup::Fresh => {}
            }
        }
        let answer = self.route(req, (&operator, &client_id), &scope, now).finish(request_id);
        if let Some(scope_key) = scope_key {
            self.idempotency_store(scope_key, req.fingerprint(), &answer, now);
        }
        answer
    }
}

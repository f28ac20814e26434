//! The broker's client for Stora: code exchange, refresh, revoke and the
//! API forward. Synchronous (ureq) on purpose: the HTTP handlers run their
//! logic on tokio's blocking pool, so the flow reads top to bottom.
//!
//! The client secret lives only here and only goes into request bodies sent
//! to Stora; it is never logged and never returned to a caller.

use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::store::NewTokens;

/// Largest Stora response body the broker reads.
const MAX_BODY: u64 = 4 * 1024 * 1024;

/// The headers of Stora's answer to a forwarded API call that go back to
/// the plugin (lowercase); every other header stays at the broker.
/// `RateLimit-Reset` is an absolute UTC epoch second: the plugin compares it
/// with the `Date` of the broker's answer (hyper sets it on every answer).
pub const PASSTHROUGH_HEADERS: &[&str] = &[
    "content-type",
    "ratelimit-limit",
    "ratelimit-reset",
    "request-id",
    "idempotent-replayed",
    "retry-after",
    "www-authenticate",
];

/// Why a Stora call failed.
#[derive(Debug)]
pub enum StoraError {
    /// `400 {"error":"invalid_grant"}`: the code or refresh token is used,
    /// expired or revoked. For a refresh this means the operator must
    /// reconnect.
    InvalidGrant,
    /// Any other non-success answer (status and Stora's `error` code).
    Status(u16, String),
    /// Network failure or unreadable answer.
    Transport(String),
}

impl std::fmt::Display for StoraError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoraError::InvalidGrant => f.write_str("invalid_grant"),
            StoraError::Status(status, code) => write!(f, "status {status} ({code})"),
            StoraError::Transport(e) => write!(f, "transport: {e}"),
        }
    }
}

/// What Stora answered to a forwarded API call.
pub struct Forwarded {
    /// Status.
    pub status: u16,
    /// Headers worth passing back to the plugin.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Forwarded {
    /// Stora's error code: the nested `error.code` of its API errors, or an
    /// OAuth-style `error` (read as the plugin reads it, by the core).
    pub fn error_code(&self) -> Option<String> {
        tessera_core::internals::classify::error_code(&self.body)
    }

    /// A `401` that says the access token itself was refused (RFC 6750
    /// §3.1 `invalid_token`, in the JSON body or the `WWW-Authenticate`
    /// challenge). Only this answer is about the grant; any other 401 (a
    /// gateway's, another error code, an HTML page) says nothing about it.
    pub fn is_invalid_token(&self) -> bool {
        if self.status != 401 {
            return false;
        }
        let challenge = self.headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("www-authenticate")
                && value.split(',').any(|p| p.trim().trim_start_matches("Bearer ").trim() == "error=\"invalid_token\"")
        });
        challenge || self.error_code().as_deref() == Some("invalid_token")
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: String,
    expires_in: i64,
    #[serde(default)]
    scope: String,
}

/// An OAuth endpoint's refusal: `400 invalid_grant` as [`StoraError::InvalidGrant`],
/// anything else with the RFC 6749 `error` code of its body (`http_{status}`
/// without one).
fn oauth_error(status: u16, body: &[u8]) -> StoraError {
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| format!("http_{status}"));
    if status == 400 && code == "invalid_grant" { StoraError::InvalidGrant } else { StoraError::Status(status, code) }
}

/// Stora's OAuth and API endpoints, with this partner's client credentials.
pub struct StoraClient {
    base: String,
    client_id: String,
    client_secret: Zeroizing<String>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for StoraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoraClient")
            .field("base", &self.base)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// A ureq agent that returns every status as a response, never follows
/// redirects and gives up after `timeout`.
pub fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .max_idle_connections(256)
        .max_idle_connections_per_host(128)
        .user_agent("tessera-broker/0.1")
        .build()
        .into()
}

impl StoraClient {
    /// A client for the Stora instance at `base` (e.g. `https://api.stora…`).
    pub fn new(base: &str, client_id: &str, client_secret: &str) -> StoraClient {
        StoraClient {
            base: base.trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            client_secret: Zeroizing::new(client_secret.to_string()),
            agent: http_agent(Duration::from_secs(15)),
        }
    }

    /// Base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The authorize URL the operator's browser is sent to.
    pub fn authorize_url(&self, redirect_uri: &str, scope: &str, state: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", state)
            .finish();
        format!("{}/oauth2/authorize?{query}", self.base)
    }

    /// `grant_type=authorization_code`.
    pub fn exchange_code(&self, code: &str, redirect_uri: &str, now: i64) -> Result<NewTokens, StoraError> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", &self.client_secret)
            .finish();
        self.token_request(Zeroizing::new(form), now)
    }

    /// `grant_type=refresh_token`. Stora rotates: the refresh token passed in
    /// is dead once this returns `Ok`, so the caller must persist the new
    /// pair before anything else.
    pub fn refresh(&self, refresh_token: &str, now: i64) -> Result<NewTokens, StoraError> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token)
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", &self.client_secret)
            .finish();
        self.token_request(Zeroizing::new(form), now)
    }

    fn token_request(&self, form: Zeroizing<String>, now: i64) -> Result<NewTokens, StoraError> {
        let mut resp = self
            .agent
            .post(format!("{}/oauth2/token", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .send(form.as_bytes())
            .map_err(|e| StoraError::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| StoraError::Transport(e.to_string()))?;
        if status != 200 {
            return Err(oauth_error(status, &body));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| StoraError::Transport("token answer is not the expected JSON".into()))?;
        Ok(NewTokens {
            access_token: Zeroizing::new(answer.access_token),
            refresh_token: Zeroizing::new(answer.refresh_token),
            expires_at: now + answer.expires_in,
            scope: answer.scope,
        })
    }

    /// `POST /oauth2/revoke`; revoking either token revokes the pair. A
    /// refusal carries Stora's OAuth `error` code (`http_{status}` without one).
    pub fn revoke(&self, token: &str) -> Result<(), StoraError> {
        let body = Zeroizing::new(
            serde_json::json!({
                "token": token,
                "client_id": self.client_id,
                "client_secret": self.client_secret.as_str(),
            })
            .to_string(),
        );
        let mut resp = self
            .agent
            .post(format!("{}/oauth2/revoke", self.base))
            .header("content-type", "application/json")
            .send(body.as_bytes())
            .map_err(|e| StoraError::Transport(e.to_string()))?;
        match resp.status().as_u16() {
            200 => Ok(()),
            status => Err(oauth_error(
                status,
                &resp.body_mut().with_config().limit(MAX_BODY).read_to_vec().unwrap_or_default(),
            )),
        }
    }

    /// `GET {base}/2025-09/account` with a fresh access token: the Stora
    /// account a grant belongs to (`id`, `name`), checked with the very
    /// check the plugin applies to it ([`tessera_core::Account::new`],
    /// `docs/PROTOCOL.md` §5.4.1).
    pub fn account(&self, access_token: &str) -> Result<tessera_core::Account, StoraError> {
        let answer =
            self.forward("GET", "account", &[("accept".into(), "application/json".into())], &[], access_token)?;
        if answer.status != 200 {
            let code = answer.error_code().unwrap_or_else(|| format!("http_{}", answer.status));
            return Err(StoraError::Status(answer.status, code));
        }
        let invalid = || StoraError::Transport("the account answer is not the expected JSON".into());
        let value: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| invalid())?;
        let id = value.get("id").and_then(|v| v.as_str()).ok_or_else(invalid)?;
        let name = value.get("name").and_then(|v| v.as_str()).unwrap_or("");
        tessera_core::Account::new(id, name).map_err(|_| invalid())
    }

    /// Forwards an API call to `{base}/2025-09/{path_and_query}` with the
    /// operator's access token. Only a fixed set of request headers is
    /// passed on (content type, accept, Idempotency-Key); the plugin's
    /// `Authorization` and signature headers stay at the broker.
    pub fn forward(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(String, String)],
        body: &[u8],
        access_token: &str,
    ) -> Result<Forwarded, StoraError> {
        let url = format!("{}/2025-09/{}", self.base, path_and_query.trim_start_matches('/'));
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("authorization", format!("Bearer {access_token}"));
        for (name, value) in headers {
            if matches!(name.as_str(), "content-type" | "accept" | "idempotency-key") {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        let result = if body.is_empty() {
            builder.body(()).map(|r| self.agent.run(r))
        } else {
            builder.body(body.to_vec()).map(|r| self.agent.run(r))
        };
        let mut resp = result
            .map_err(|e| StoraError::Transport(e.to_string()))?
            .map_err(|e| StoraError::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter(|(name, _)| PASSTHROUGH_HEADERS.contains(&name.as_str()))
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| StoraError::Transport(e.to_string()))?;
        Ok(Forwarded { status, headers, body })
    }
}

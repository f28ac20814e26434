//! Authorization-proxy mode (docs/PROTOCOL.md §13): API calls go straight to
//! Stora with the installation's own access token; a refresh goes through
//! the proxy, one at a time per installation, under a host lock.
//!
//! The refresh round: `Lock` → the host feeds the stored state (`Locked`) →
//! a newer pair another worker stored is adopted, and used if it is fresh →
//! else the signed `POST {refresh}` → the new pair is persisted **before**
//! it is used → `Unlock` → the call goes on. A refresh token seen rotated
//! away is never sent again. (lock.rs: what else runs under the lock.)

use super::lock::LockPurpose;
use super::{Action, Call, Completion, Op, Pending};
use crate::classify::{OutcomeKind, classify};
use crate::companion::{Companion, Purpose};
use crate::config::ProxyConfig;
use crate::entropy::Entropy;
use crate::error::{Error, Result};
use crate::http::{ApiRequest, Request, Response, normalize_headers, normalize_method};
use crate::json::{self, ObjectWriter, Value};
use crate::sign::SignOptions;
use crate::state::{Account, StoraTokens, fingerprint};
use crate::url::Url;

/// Longest `code_context` accepted in a callback.
pub const MAX_CODE_CONTEXT: usize = 4096;

/// The reconnect reason after the proxy answered `invalid_grant`.
const INVALID_GRANT: &str = "invalid_grant";
/// The reconnect reason after Stora refused a just-refreshed access token.
const INVALID_TOKEN: &str = "invalid_token";
/// The reconnect reason after a refresh answered 2xx with an unreadable pair.
const INVALID_ANSWER: &str = "invalid_refresh_answer";
/// Refusals of the access token (`401 invalid_token`) one call handles.
const MAX_REFUSALS: u32 = 3;

/// A refresh in progress on a call.
#[derive(Clone, Debug)]
pub(super) struct RefreshRound {
    /// Fingerprint of the access token that was too old or refused: a stored
    /// pair with another one is a refresh some other worker already did.
    stale_access: String,
    /// The refresh request is out; its answer is the next response.
    pub(super) sending: bool,
}

impl Companion {
    /// The proxy configuration, in proxy mode.
    #[cfg(feature = "proxy")]
    pub(crate) fn proxy_config(&self) -> Option<&ProxyConfig> {
        self.state.config.proxy.as_ref()
    }

    /// Without the `proxy` feature there is never one (a proxy configuration
    /// is refused): every proxy-mode path is dead code, and not linked.
    #[cfg(not(feature = "proxy"))]
    pub(crate) fn proxy_config(&self) -> Option<&ProxyConfig> {
        None
    }

    /// The refresh request is out: its answer is the next response.
    pub(super) fn refreshing(&self, call: &Call) -> bool {
        self.proxy_config().is_some() && call.refresh.as_ref().is_some_and(|r| r.sending)
    }

    /// Proxy mode: the Stora URL of an API path (`/api/<rest>`; no dot
    /// segment may climb out of the versioned base).
    pub(crate) fn stora_url(&self, path: &str) -> Result<Url> {
        let proxy = self.proxy_config().ok_or(Error::Internal("not in proxy mode"))?;
        let rest = path
            .strip_prefix("/api/")
            .ok_or(Error::InvalidInput { field: "path", reason: "must start with /api/ in proxy mode" })?;
        let route = rest.split(['?', '#']).next().unwrap_or_default();
        let dot = |seg: &str| {
            let lower = seg.to_ascii_lowercase().replace("%2e", ".");
            lower == "." || lower == ".."
        };
        if route.split('/').any(dot) {
            return Err(Error::InvalidInput { field: "path", reason: "must not have . or .. segments" });
        }
        let base = Url::parse(&proxy.stora_api_url, "stora_api_url")?;
        base.append_path(&format!("/{rest}"), "path")
    }

    /// Proxy mode: the checks of [`Companion::start_call`] — the path maps to
    /// Stora and there is a token pair.
    pub(super) fn proxy_call_preflight(&self, req: &ApiRequest) -> Result<()> {
        normalize_method(&req.method)?;
        crate::http::check_body(&req.body)?;
        normalize_headers(&req.headers)?;
        if req.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization")) {
            return Err(Error::InvalidInput { field: "headers", reason: "authorization is the companion's to set" });
        }
        self.stora_url(&req.path)?;
        self.usable_installation()?;
        if self.state.tokens.is_none() {
            return Err(self.not_connected());
        }
        Ok(())
    }

    /// Why there is no pair: `reconnect_required` with its reason, or `not_connected`.
    fn not_connected(&self) -> Error {
        match &self.state.reconnect_reason {
            Some(reason) => Error::ReconnectRequired { reason: reason.clone() },
            None => Error::NotConnected,
        }
    }

    /// An API call's next attempt in proxy mode: the refresh round first when
    /// the access token expires within the margin, else the request to Stora.
    pub(super) fn send_direct(&mut self, call: &mut Call, now: i64) -> Action {
        let margin = self.proxy_config().map_or(0, |p| p.refresh_margin_secs);
        let Some(tokens) = &self.state.tokens else {
            let err = self.not_connected();
            return self.fail(call, err);
        };
        if !call.token_refreshed && tokens.expiring(now, margin) {
            return self.begin_refresh(call);
        }
        match self.direct_request(call, tokens) {
            Ok(request) => {
                call.attempts += 1;
                call.awaiting_response = true;
                Action::Send(request)
            }
            Err(e) => self.fail(call, e),
        }
    }

    fn direct_request(&self, call: &Call, tokens: &StoraTokens) -> Result<Request> {
        let url = self.stora_url(&call.req.path)?;
        let mut headers: Vec<(String, String)> = normalize_headers(&call.req.headers)?
            .into_iter()
            .filter(|(k, _)| k != "idempotency-key" && k != "accept")
            .collect();
        headers.push(("authorization".into(), format!("Bearer {}", tokens.access.expose())));
        headers.push(("accept".into(), "application/json".into()));
        if let Some(key) = &call.idempotency_key {
            headers.push(("idempotency-key".into(), key.clone()));
        }
        Ok(Request {
            method: normalize_method(&call.req.method)?,
            url: url.as_string(),
            headers,
            body: call.req.body.clone(),
        })
    }

    /// Starts the refresh round (or its check after Stora refused the
    /// token): take the installation's lock first.
    pub(super) fn begin_refresh(&mut self, call: &mut Call) -> Action {
        let Some(tokens) = &self.state.tokens else { return self.fail(call, Error::NotConnected) };
        call.refresh = Some(RefreshRound { stale_access: fingerprint(&tokens.access), sending: false });
        self.take_lock(call, LockPurpose::Refresh)
    }

    /// The lock is held and `stored` is what the host has stored now.
    pub(super) fn on_locked(&mut self, call: &mut Call, stored: &str, now: i64, entropy: &mut dyn Entropy) -> Action {
        if let Err(e) = self.merge_stored(stored, true) {
            return self.fail(call, e);
        }
        let margin = self.proxy_config().map_or(0, |p| p.refresh_margin_secs);
        let stale = call.refresh.as_ref().map(|r| r.stale_access.clone()).unwrap_or_default();
        let Some(tokens) = &self.state.tokens else {
            let err = self.not_connected();
            return self.fail(call, err);
        };
        if fingerprint(&tokens.access) != stale && !tokens.expiring(now, margin) {
            // Another worker refreshed (or reconnected) while this one
            // waited: use its pair, once more at most.
            call.token_refreshed = true;
            call.refresh = None;
            call.pending.push_back(Pending::Resend);
            return self.release(call);
        }
        if call.token_refreshed {
            // Stora refused the pair this call already refreshed or adopted,
            // and it is still the stored one: it is no good.
            return self.drop_pair(call, INVALID_TOKEN);
        }
        if self.state.retired_refresh.as_deref() == Some(fingerprint(&tokens.refresh).as_str()) {
            // The store lost the rotation's write: this refresh token is dead
            // at Stora, and sending it could only get the grant revoked.
            return self.drop_pair(call, INVALID_GRANT);
        }
        self.send_refresh(call, now, entropy)
    }

    /// The signed `POST {refresh}` with the held refresh token.
    pub(super) fn send_refresh(&mut self, call: &mut Call, now: i64, entropy: &mut dyn Entropy) -> Action {
        let Some(tokens) = &self.state.tokens else { return self.fail(call, Error::NotConnected) };
        let mut body = String::new();
        let mut o = ObjectWriter::new(&mut body);
        o.str("refresh_token", tokens.refresh.expose());
        o.end();
        let body = zeroize::Zeroizing::new(body);
        let route = self.proxy_config().map(|p| p.refresh.clone()).unwrap_or_default();
        let req = ApiRequest::json("POST", &route, body.as_bytes().to_vec());
        match self.sign_as(&req, &SignOptions { now, ..Default::default() }, entropy, Purpose::Installation) {
            Ok(request) => {
                if let Some(round) = &mut call.refresh {
                    round.sending = true;
                }
                call.awaiting_response = true;
                Action::Send(request)
            }
            Err(e) => self.fail(call, e),
        }
    }

    /// The proxy's answer to the refresh.
    pub(super) fn on_refresh_answer(&mut self, call: &mut Call, resp: &Response, now: i64) -> Action {
        if let Some(round) = &mut call.refresh {
            round.sending = false;
        }
        let outcome = classify(resp, now.saturating_add(self.state.clock_offset));
        if outcome.kind == OutcomeKind::Ok {
            return match parse_tokens(&resp.body, now) {
                Ok((tokens, _)) => {
                    if let Some(old) = &self.state.tokens
                        && old.refresh != tokens.refresh
                    {
                        self.state.retired_refresh = Some(fingerprint(&old.refresh));
                    }
                    self.set_pair(Some(tokens));
                    call.token_refreshed = true;
                    call.refresh = None;
                    call.pending.push_back(Pending::Unlock);
                    call.pending.push_back(Pending::Resend);
                    Action::Persist(self.state.to_json())
                }
                // Stora has rotated already: the old refresh token is dead
                // and the new one unreadable. Only a reconnect helps.
                Err(_) => self.drop_pair(call, INVALID_ANSWER),
            };
        }
        if outcome.kind == OutcomeKind::SignatureExpired && !call.skew_retried && outcome.server_date.is_some() {
            // Refused before Stora was asked: learn the offset, sign again once.
            call.skew_retried = true;
            self.state.clock_offset = crate::clock::offset_from(outcome.server_date.unwrap_or(now), now);
            call.pending.push_back(Pending::Refresh);
            return Action::Persist(self.state.to_json());
        }
        call.refresh = None;
        if outcome.code.as_deref() == Some(INVALID_GRANT) {
            return self.drop_pair(call, INVALID_GRANT);
        }
        // Anything else: the pair is kept (the refresh may not have happened)
        // and not retried (a refresh token is single use: a blind second
        // try could only be refused, and Stora revokes a grant on reuse).
        let err = outcome.to_error(call.attempts).unwrap_or(Error::Internal("outcome"));
        self.fail(call, err)
    }

    /// The refresh request got no readable answer.
    pub(super) fn on_refresh_lost(&mut self, call: &mut Call) -> Action {
        call.refresh = None;
        self.fail(call, Error::ServerUnavailable { status: None, attempts: call.attempts })
    }

    /// Replaces the pair (`None`: drops it) as a new token generation.
    pub(super) fn set_pair(&mut self, tokens: Option<StoraTokens>) {
        self.state.tokens = tokens;
        self.state.token_generation = self.state.token_generation.saturating_add(1);
        self.state.refresh();
    }

    /// The pair is no good (`invalid_grant`, a refresh token already rotated
    /// away, Stora refusing a fresh token, an unreadable refresh answer): it
    /// is dropped, its refresh token recorded as retired, and the call ends
    /// with `reconnect_required` once that is stored (under the lock).
    fn drop_pair(&mut self, call: &mut Call, reason: &str) -> Action {
        call.refresh = None;
        if let Some(old) = &self.state.tokens {
            self.state.retired_refresh = Some(fingerprint(&old.refresh));
        }
        self.set_pair(None);
        self.state.reconnect_reason = Some(reason.into());
        self.state.refresh();
        call.pending.push_back(Pending::Fail(Error::ReconnectRequired { reason: reason.into() }));
        Action::Persist(self.state.to_json())
    }

    /// Stora refused the access token (`401 invalid_token`): check under the
    /// lock — another worker's newer pair is used, else the pair is
    /// refreshed once; a pair refused after that is dropped.
    pub(super) fn on_token_refused(&mut self, call: &mut Call) -> Action {
        call.refusals += 1;
        if call.refusals > MAX_REFUSALS {
            return self.fail(call, Error::ReconnectRequired { reason: INVALID_TOKEN.into() });
        }
        self.begin_refresh(call)
    }

    /// The proxy's answer to the code exchange: the first pair and the account.
    pub(super) fn proxy_connect_answer(&mut self, call: &mut Call, resp: &Response, now: i64) -> Action {
        match parse_tokens(&resp.body, now) {
            Ok((tokens, Some(account))) => {
                self.set_pair(Some(tokens));
                self.state.retired_refresh = None;
                self.state.account = Some(account.clone());
                self.state.reconnect_reason = None;
                self.persist_then_done(call, Ok(Completion::Connected { account }))
            }
            Ok((_, None)) => self.fail(call, malformed()),
            Err(e) => self.fail(call, e),
        }
    }

    /// The body of `POST {token}`.
    pub(crate) fn token_body(code: &str, code_context: &str, state: &str, return_url: &str) -> String {
        let mut body = String::new();
        let mut o = ObjectWriter::new(&mut body);
        o.str("code", code);
        o.str("code_context", code_context);
        o.str("state", state);
        o.str("return_url", return_url);
        o.end();
        body
    }

    /// The request of `POST {revoke}` for the held refresh token.
    pub(crate) fn revoke_request(&self) -> Option<ApiRequest> {
        let proxy = self.proxy_config()?;
        let tokens = self.state.tokens.as_ref()?;
        let mut body = String::new();
        let mut o = ObjectWriter::new(&mut body);
        o.str("token", tokens.refresh.expose());
        o.end();
        Some(ApiRequest::json("POST", &proxy.revoke, zeroize::Zeroizing::new(body).as_bytes().to_vec()))
    }
}

/// Stora refused the access token: `401` with `invalid_token` as its code or
/// in its `WWW-Authenticate` challenge (RFC 6750 §3).
pub(super) fn token_refused(outcome: &crate::classify::Outcome, resp: &Response) -> bool {
    outcome.status == 401
        && (outcome.code.as_deref() == Some("invalid_token")
            || resp.header("www-authenticate").is_some_and(|v| v.contains("error=\"invalid_token\"")))
}

/// `Op`s whose requests go to the proxy without an `Idempotency-Key`.
pub(super) fn keyless(companion: &Companion, op: Op) -> bool {
    companion.proxy_config().is_some() && op == Op::ConnectComplete
}

/// A `code_context` as the proxy issues it: 1-4096 characters of base64url and `.`.
pub(crate) fn check_code_context(ctx: &str) -> Result<()> {
    if ctx.is_empty()
        || ctx.len() > MAX_CODE_CONTEXT
        || !ctx.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(Error::CallbackInvalid("code_context is not a valid code context"));
    }
    Ok(())
}

/// `{"access_token","refresh_token","expires_in","scope"[,"account"]}`.
fn parse_tokens(body: &[u8], now: i64) -> Result<(StoraTokens, Option<Account>)> {
    let value = json::parse(body).map_err(|_| malformed())?;
    let text = |key: &str| -> Result<String> { member(&value, key)?.as_str().map(str::to_owned).ok_or_else(malformed) };
    let expires_in =
        member(&value, "expires_in")?.as_i64().filter(|s| (1..=31_536_000).contains(s)).ok_or_else(malformed)?;
    let scope = match value.get("scope").map_err(|_| malformed())? {
        None | Some(Value::Null) => String::new(),
        Some(v) => v.as_str().ok_or_else(malformed)?.to_owned(),
    };
    let access = zeroize::Zeroizing::new(text("access_token")?);
    let refresh = zeroize::Zeroizing::new(text("refresh_token")?);
    let tokens = StoraTokens::new(&access, &refresh, now.saturating_add(expires_in), &scope)?;
    let account = match value.get("account").map_err(|_| malformed())? {
        None | Some(Value::Null) => None,
        Some(a) => {
            let id = member(a, "id")?.as_str().ok_or_else(malformed)?;
            let name = member(a, "name")?.as_str().ok_or_else(malformed)?;
            Some(Account::new(id, name)?)
        }
    };
    Ok((tokens, account))
}

fn malformed() -> Error {
    Error::CallbackInvalid("the proxy's token answer is malformed")
}

fn member<'a>(v: &'a Value, key: &str) -> Result<&'a Value> {
    v.get(key).map_err(|_| malformed())?.ok_or_else(malformed)
}

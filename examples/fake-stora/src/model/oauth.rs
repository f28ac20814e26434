//! OAuth 2.0: the consent transaction, authorization codes, grants, token
//! rotation, revocation and token introspection (`/oauth2/token/info`).
//! Errors here keep RFC 6749's flat shape (`{"error","error_description"}`).

use serde::Serialize;
use serde_json::{Value, json};

use super::{AccessToken, AuthCode, DEFAULT_OPERATOR, Grant, PendingAuthorization, Store, append_query, random_token};

/// Scopes the fake knows (Stora's `public.<resource>:<read|write>`).
/// `GET account` needs none of them.
pub const KNOWN_SCOPES: &[&str] = &[
    "public.order:read",
    "public.order:write",
    "public.contact:read",
    "public.contact:write",
    "public.timeline_event:write",
];

/// Scope used when an authorization request names none.
pub const DEFAULT_SCOPE: &str = "public.order:read";

/// Authorization codes live this long (seconds).
pub const CODE_TTL_SECS: i64 = 600;

/// What the consent page says a scope allows.
pub fn scope_description(scope: &str) -> &'static str {
    match scope {
        "public.order:read" => "Read your orders",
        "public.order:write" => "Update your orders' metadata",
        "public.contact:read" => "Read your contacts",
        "public.contact:write" => "Create and update contacts",
        "public.timeline_event:write" => "Add events to your timeline",
        _ => "Unknown access",
    }
}

/// A successful token answer.
#[derive(Clone, Debug, Serialize)]
pub struct TokenSet {
    /// Bearer access token.
    pub access_token: String,
    /// Always "Bearer".
    pub token_type: &'static str,
    /// Seconds until the access token expires (a duration, 7200 by default).
    pub expires_in: i64,
    /// The (new) refresh token.
    pub refresh_token: String,
    /// Granted scope.
    pub scope: String,
}

/// `GET /oauth2/token/info`: what an access token allows.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TokenInfo {
    /// Granted scope.
    pub scope: String,
    /// Absolute epoch seconds at which the token expires (documented as
    /// absolute on this endpoint, unlike the token response).
    pub expires_in: i64,
    /// Operator who consented.
    pub operator: String,
    /// Client the token was issued to.
    pub client_id: String,
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
    /// An error with its status.
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status, error, description: description.into() }
    }
    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": self.error, "error_description": self.description})
    }
}

/// Sorts, deduplicates and validates a space-separated scope.
pub fn normalise_scope(scope: &str) -> Option<String> {
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

impl Store {
    fn known_client(&self, client_id: &str) -> bool {
        client_id == self.config.client_id || self.config.extra_clients.iter().any(|(id, _)| id == client_id)
    }

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
        if !self.known_client(client_id) {
            return Err(Ok("unknown client_id".into()));
        }
        if !self.config.redirect_uri_prefixes.iter().any(|p| redirect_uri.starts_with(p.as_str())) {
            return Err(Ok("redirect_uri is not registered for this client".into()));
        }
        if response_type != "code" {
            return Err(Err(error_redirect(redirect_uri, "unsupported_response_type", state)));
        }
        let Some(scope) = normalise_scope(scope.unwrap_or(DEFAULT_SCOPE)) else {
            return Err(Err(error_redirect(redirect_uri, "invalid_scope", state)));
        };
        self.counters.authorize_requests += 1;
        let txn = random_token("txn_");
        self.pending.insert(
            txn.clone(),
            PendingAuthorization {
                client_id: client_id.to_string(),
                redirect_uri: redirect_uri.to_string(),
                scope,
                state: state.map(str::to_string),
            },
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
                client_id: pending.client_id,
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

    fn check_client(&self, client_id: &str, client_secret: &str) -> Result<(), OAuthError> {
        // A real server compares in constant time; this is a test double.
        let main = client_id == self.config.client_id && client_secret == self.config.client_secret;
        if main || self.config.extra_clients.iter().any(|(id, s)| id == client_id && s == client_secret) {
            Ok(())
        } else {
            Err(OAuthError::new(401, "invalid_client", "client authentication failed"))
        }
    }

    fn issue(&mut self, grant_id: u64, now: i64) -> TokenSet {
        let access_token = self.new_token("sat_");
        let refresh_token = self.new_token("srt_");
        let expires_at = now + self.config.access_ttl_secs;
        self.access.insert(access_token.clone(), AccessToken { grant: grant_id, expires_at });
        self.refresh.insert(refresh_token.clone(), grant_id);
        let issued_ms = self.clock_ms();
        let grant = self.grants.get_mut(&grant_id).expect("grant exists");
        grant.refresh_token = refresh_token.clone();
        grant.issued_ms = issued_ms;
        grant.expires_at = expires_at;
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
        let grant = Grant {
            client_id: client_id.to_string(),
            operator: entry.operator.clone(),
            scope: entry.scope.clone(),
            revoked: false,
            refresh_token: String::new(),
            refreshes: 0,
            refresh_reuse: 0,
            issued_ms: 0,
            expires_at: 0,
            refresh_records: Default::default(),
        };
        self.codes.get_mut(code).expect("code").used_by = Some(grant_id);
        self.grants.insert(grant_id, grant);
        self.counters.code_exchanges += 1;
        Ok(self.issue(grant_id, now))
    }

    /// `grant_type=refresh_token`: rotates the refresh token; the presented
    /// one is revoked at once. Presenting an already-rotated refresh token
    /// again is **reuse**, which providers that rotate on every use treat as
    /// a stolen token (OAuth 2.0 Security BCP, refresh token rotation): the
    /// whole grant is revoked (its current pair included) and the answer is
    /// `invalid_grant`. A broker that loses a rotated pair, or two brokers
    /// that refresh the same grant one after the other with the same token,
    /// lose the operator's connection this way.
    pub fn refresh(
        &mut self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
        now: i64,
    ) -> Result<TokenSet, OAuthError> {
        self.check_client(client_id, client_secret)?;
        let Some(grant_id) = self.refresh.remove(refresh_token) else {
            if let Some(grant_id) = self.rotated.get(refresh_token).copied() {
                self.counters.refresh_reuse += 1;
                if let Some(grant) = self.grants.get_mut(&grant_id) {
                    grant.refresh_reuse += 1;
                }
                if self.revoke_grant(grant_id) {
                    return Err(self.invalid_grant("refresh token reused: the grant is revoked"));
                }
            }
            return Err(self.invalid_grant("refresh token is invalid, used or revoked"));
        };
        let clock_ms = self.clock_ms();
        let grant = self.grants.get_mut(&grant_id).expect("grant exists");
        if grant.revoked || grant.client_id != client_id {
            return Err(self.invalid_grant("grant revoked or issued to another client"));
        }
        grant.refreshes += 1;
        if grant.refresh_records.len() >= super::REFRESH_RECORDS_CAP {
            grant.refresh_records.pop_front();
        }
        grant.refresh_records.push_back(super::RefreshRecord {
            at_ms: clock_ms,
            replaced_issued_ms: grant.issued_ms,
            replaced_expires_at: grant.expires_at,
        });
        let operator = grant.operator.clone();
        self.rotated.insert(refresh_token.to_string(), grant_id);
        self.counters.refreshes += 1;
        self.operator_counters(&operator).refreshes += 1;
        Ok(self.issue(grant_id, now))
    }

    pub(crate) fn revoke_grant(&mut self, grant_id: u64) -> bool {
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

    /// The grant behind a live access token: `(grant id, expires_at)`, or
    /// why the token is refused.
    pub(crate) fn authenticate(&self, bearer: Option<&str>, now: i64) -> Result<(u64, i64), &'static str> {
        let bearer = bearer.ok_or("missing bearer token")?;
        let token = self.access.get(bearer).ok_or("unknown or revoked access token")?;
        if token.expires_at <= now {
            return Err("the access token expired");
        }
        Ok((token.grant, token.expires_at))
    }

    /// `GET /oauth2/token/info`.
    pub fn token_info(&self, bearer: Option<&str>, now: i64) -> Result<TokenInfo, OAuthError> {
        let (grant, expires_at) =
            self.authenticate(bearer, now).map_err(|e| OAuthError::new(401, "invalid_token", e))?;
        let grant = &self.grants[&grant];
        Ok(TokenInfo {
            scope: grant.scope.clone(),
            expires_in: expires_at,
            operator: grant.operator.clone(),
            client_id: grant.client_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn connect(s: &mut Store, operator: &str, scope: &str, now: i64) -> TokenSet {
        let cfg = s.config().clone();
        let txn = s.authorize(&cfg.client_id, "http://127.0.0.1:9/cb", "code", Some(scope), Some("st")).ok().unwrap();
        let url = s.decide(&txn, true, Some(operator), now).unwrap();
        let code = url.split("code=").nth(1).unwrap().split('&').next().unwrap();
        s.exchange_code(&cfg.client_id, &cfg.client_secret, code, "http://127.0.0.1:9/cb", now).unwrap()
    }

    #[test]
    fn refresh_rotates_and_revokes_previous() {
        let mut s = Store::new(Config::default());
        let cfg = s.config().clone();
        let t1 = connect(&mut s, "opr_a", "public.order:read", 100);
        let t2 = s.refresh(&cfg.client_id, &cfg.client_secret, &t1.refresh_token, 101).unwrap();
        assert_ne!(t1.refresh_token, t2.refresh_token);
        let err = s.refresh(&cfg.client_id, &cfg.client_secret, &t1.refresh_token, 102).unwrap_err();
        assert_eq!(err.error, "invalid_grant");
        assert_eq!(s.counters().refreshes, 1);
    }

    #[test]
    fn refresh_reuse_revokes_the_whole_grant() {
        let mut s = Store::new(Config::default());
        let cfg = s.config().clone();
        let t1 = connect(&mut s, "opr_a", "public.order:read", 100);
        let t2 = s.refresh(&cfg.client_id, &cfg.client_secret, &t1.refresh_token, 101).unwrap();
        assert!(s.token_info(Some(&t2.access_token), 102).is_ok());
        // The rotated token again: reuse. The grant dies with its live pair.
        let err = s.refresh(&cfg.client_id, &cfg.client_secret, &t1.refresh_token, 102).unwrap_err();
        assert_eq!((err.status, err.error), (400, "invalid_grant"));
        assert!(err.description.contains("reused"), "{}", err.description);
        assert!(s.token_info(Some(&t2.access_token), 102).is_err(), "the current access token is revoked");
        let err = s.refresh(&cfg.client_id, &cfg.client_secret, &t2.refresh_token, 103).unwrap_err();
        assert_eq!(err.error, "invalid_grant", "the current refresh token is revoked");
        let grant = &s.grants(Some("opr_a"))[0];
        assert!(grant.revoked);
        assert_eq!((grant.refreshes, grant.refresh_reuse), (1, 1));
        // Once more: still reuse (counted), the grant stays revoked once.
        let err = s.refresh(&cfg.client_id, &cfg.client_secret, &t1.refresh_token, 104).unwrap_err();
        assert!(!err.description.contains("reused"), "{}", err.description);
        let c = s.counters();
        assert_eq!((c.refresh_reuse, c.grants_revoked, c.invalid_grants), (2, 1, 3));
        assert_eq!(s.grants(Some("opr_a"))[0].refresh_reuse, 2);
    }

    #[test]
    fn revoked_or_unknown_tokens_are_not_reuse() {
        let mut s = Store::new(Config::default());
        let cfg = s.config().clone();
        let t = connect(&mut s, "opr_a", "public.order:read", 0);
        assert!(s.refresh(&cfg.client_id, &cfg.client_secret, "srt_never_issued", 1).is_err());
        s.revoke(&cfg.client_id, &cfg.client_secret, &t.access_token).unwrap();
        assert!(s.refresh(&cfg.client_id, &cfg.client_secret, &t.refresh_token, 2).is_err());
        assert_eq!(s.counters().refresh_reuse, 0);
        assert_eq!(s.grants(Some("opr_a"))[0].refresh_reuse, 0);
    }

    #[test]
    fn refresh_records_carry_the_replaced_token_life() {
        let mut s = Store::new(Config::default());
        let cfg = s.config().clone();
        let now = s.clock();
        let t1 = connect(&mut s, "opr_a", "public.order:read", now);
        let t2 = s.refresh(&cfg.client_id, &cfg.client_secret, &t1.refresh_token, now + 1).unwrap();
        s.refresh(&cfg.client_id, &cfg.client_secret, &t2.refresh_token, now + 2).unwrap();
        let records = s.grants(Some("opr_a"))[0].refresh_records.clone();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].replaced_expires_at, now + 7200);
        assert_eq!(records[1].replaced_expires_at, now + 1 + 7200);
        assert!(records.iter().all(|r| r.replaced_issued_ms <= r.at_ms && r.at_ms > 0));
    }

    #[test]
    fn code_is_single_use_and_reuse_revokes() {
        let mut s = Store::new(Config::default());
        let cfg = s.config().clone();
        let txn = s.authorize(&cfg.client_id, "http://127.0.0.1:9/cb", "code", None, None).ok().unwrap();
        let url = s.decide(&txn, true, None, 0).unwrap();
        let code = url.split("code=").nth(1).unwrap().to_string();
        let t = s.exchange_code(&cfg.client_id, &cfg.client_secret, &code, "http://127.0.0.1:9/cb", 0).unwrap();
        assert_eq!(t.scope, DEFAULT_SCOPE);
        let again = s.exchange_code(&cfg.client_id, &cfg.client_secret, &code, "http://127.0.0.1:9/cb", 0);
        assert_eq!(again.unwrap_err().error, "invalid_grant");
        assert!(s.token_info(Some(&t.access_token), 1).is_err(), "reuse revoked the grant");
    }

    #[test]
    fn revoking_access_token_revokes_pair() {
        let mut s = Store::new(Config::default());
        let cfg = s.config().clone();
        let t = connect(&mut s, "opr_a", "public.order:read", 0);
        s.revoke(&cfg.client_id, &cfg.client_secret, &t.access_token).unwrap();
        let err = s.refresh(&cfg.client_id, &cfg.client_secret, &t.refresh_token, 1).unwrap_err();
        assert_eq!(err.error, "invalid_grant");
        assert!(s.grants(Some("opr_a"))[0].revoked);
    }

    #[test]
    fn scopes_and_token_info() {
        let mut s = Store::new(Config::default());
        let cfg = s.config().clone();
        for bad in ["orders:read", "public.order:read account:read", ""] {
            let r = s.authorize(&cfg.client_id, "http://127.0.0.1:9/cb", "code", Some(bad), None);
            assert!(matches!(r, Err(Err(ref url)) if url.contains("error=invalid_scope")), "{bad}");
        }
        let t = connect(&mut s, "opr_a", "public.timeline_event:write public.contact:read", 50);
        let info = s.token_info(Some(&t.access_token), 60).unwrap();
        assert_eq!(info.scope, "public.contact:read public.timeline_event:write");
        assert_eq!(info.expires_in, 50 + 7200);
        assert_eq!(info.operator, "opr_a");
        assert_eq!(s.token_info(Some(&t.access_token), 50 + 7200).unwrap_err().error, "invalid_token");
        assert_eq!(s.expire_tokens(Some("opr_a"), 70), 1);
        assert!(s.token_info(Some(&t.access_token), 70).is_err());
    }
}

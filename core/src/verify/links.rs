//! URL-signed links and ownership proofs, broker side: the connect URL
//! (docs/PROTOCOL.md §5.3), the uninstall ticket (§5.9) and the ownership
//! proof (§5.2), each checked in the same sans-IO shape as a request — what
//! needs no secret first, then the secret the broker looked up — and refused
//! with the wire answer ([`Refusal`]).

use super::{Refusal, count_mac};
use crate::connect::{
    CONNECT_CONTEXT, CONNECT_TTL_SECS, ConnectParams, MAX_CALLBACK, UNINSTALL_CONTEXT, check_return_url, check_ts,
    connect_pairs, get, link_signature, query_of, unique_pairs,
};
use crate::error::{Error, Result};
use crate::secret::{Secret, ct_eq};

/// A connect URL whose parameters are well formed and in time, waiting for
/// the secret of its [`install_id`](Self::install_id).
pub struct ConnectUrlAwaitingSecret {
    params: ConnectParams,
    sig: String,
    now: i64,
}

/// Step 1 of verifying a connect URL (absolute, or just its query) at broker
/// time `now`: its parameters, and `ts` within the connect lifetime.
pub fn begin_connect_url(url: &str, now: i64) -> Result<ConnectUrlAwaitingSecret, Refusal> {
    parse_connect_url(url, now).map_err(|e| Refusal::new(e, now))
}

fn parse_connect_url(url: &str, now: i64) -> Result<ConnectUrlAwaitingSecret> {
    if url.len() > MAX_CALLBACK {
        return Err(Error::TooLarge { field: "url", limit: MAX_CALLBACK });
    }
    let pairs =
        unique_pairs(query_of(url)).ok_or(Error::SignatureMalformed("malformed or repeated query parameter"))?;
    if pairs.iter().any(|(k, _)| !matches!(k.as_str(), "install_id" | "state" | "return_url" | "scope" | "ts" | "sig"))
    {
        return Err(Error::SignatureMalformed("unexpected query parameter"));
    }
    let need = |k| get(&pairs, k).ok_or(Error::SignatureMalformed("missing connect parameter"));
    let (install_id, state, return_url, sig) = (need("install_id")?, need("state")?, need("return_url")?, need("sig")?);
    let scope = get(&pairs, "scope");
    let ts = check_ts(get(&pairs, "ts"), now, CONNECT_TTL_SECS)?;
    Ok(ConnectUrlAwaitingSecret {
        params: ConnectParams {
            install_id: install_id.to_owned(),
            state: state.to_owned(),
            return_url: return_url.to_owned(),
            scope: scope.map(str::to_owned),
            ts,
        },
        sig: sig.to_owned(),
        now,
    })
}

impl ConnectUrlAwaitingSecret {
    /// The installation whose secret the broker must look up.
    pub fn install_id(&self) -> &str {
        &self.params.install_id
    }

    /// Step 2: checks `sig` with the installation's `secret` (`None` when the
    /// broker knows no such installation), then the return URL.
    pub fn check(self, secret: Option<&Secret>) -> Result<ConnectParams, Refusal> {
        let refuse = |e| Refusal::new(e, self.now);
        let secret = secret.ok_or_else(|| refuse(Error::UnknownInstallation))?;
        let p = &self.params;
        let ts_text = p.ts.to_string();
        let pairs = connect_pairs(&p.install_id, &p.state, &p.return_url, p.scope.as_deref(), &ts_text);
        count_mac();
        let want = link_signature(secret, CONNECT_CONTEXT, &pairs);
        if !ct_eq(want.as_bytes(), self.sig.as_bytes()) {
            return Err(refuse(Error::SignatureInvalid));
        }
        check_return_url(&p.return_url).map_err(refuse)?;
        Ok(self.params)
    }
}

/// An uninstall ticket whose parameters are well formed and in time, waiting
/// for the secret of its [`install_id`](Self::install_id).
pub struct TicketAwaitingSecret {
    install_id: String,
    ts: i64,
    sig: String,
    now: i64,
}

/// Step 1 of verifying an uninstall ticket (the URL or its query) for
/// `install_id` (taken from the path) at broker time `now`: `sig` present,
/// `ts` at most `max_age_secs` old.
pub fn begin_uninstall_ticket(
    install_id: &str,
    url_or_query: &str,
    now: i64,
    max_age_secs: i64,
) -> Result<TicketAwaitingSecret, Refusal> {
    parse_ticket(install_id, url_or_query, now, max_age_secs).map_err(|e| Refusal::new(e, now))
}

fn parse_ticket(install_id: &str, url_or_query: &str, now: i64, max_age_secs: i64) -> Result<TicketAwaitingSecret> {
    if url_or_query.len() > MAX_CALLBACK {
        return Err(Error::TooLarge { field: "url", limit: MAX_CALLBACK });
    }
    let pairs = unique_pairs(query_of(url_or_query))
        .ok_or(Error::SignatureMalformed("malformed or repeated query parameter"))?;
    let sig = get(&pairs, "sig").ok_or(Error::SignatureMissing)?;
    let ts = check_ts(get(&pairs, "ts"), now, max_age_secs)?;
    Ok(TicketAwaitingSecret { install_id: install_id.to_owned(), ts, sig: sig.to_owned(), now })
}

impl TicketAwaitingSecret {
    /// The installation whose secret the broker must look up.
    pub fn install_id(&self) -> &str {
        &self.install_id
    }

    /// Step 2: checks `sig` with the installation's `secret` (`None` when the
    /// broker knows no such installation). Returns the ticket's `ts`.
    pub fn check(self, secret: Option<&Secret>) -> Result<i64, Refusal> {
        let refuse = |e| Refusal::new(e, self.now);
        let secret = secret.ok_or_else(|| refuse(Error::UnknownInstallation))?;
        let ts_text = self.ts.to_string();
        count_mac();
        let want = link_signature(secret, UNINSTALL_CONTEXT, &[("install_id", &self.install_id), ("ts", &ts_text)]);
        if !ct_eq(want.as_bytes(), self.sig.as_bytes()) {
            return Err(refuse(Error::SignatureInvalid));
        }
        Ok(self.ts)
    }
}

// `Debug` never prints a link's `sig`: an uninstall ticket is a bearer
// capability for days, a connect URL one until it is used.
impl std::fmt::Debug for ConnectUrlAwaitingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectUrlAwaitingSecret").field("params", &self.params).field("sig", &"[redacted]").finish()
    }
}

impl std::fmt::Debug for TicketAwaitingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketAwaitingSecret")
            .field("install_id", &self.install_id)
            .field("ts", &self.ts)
            .field("sig", &"[redacted]")
            .finish()
    }
}

/// Checks an ownership proof fetched from the site (constant time) at broker
/// time `now`; a mismatch is `403 ownership_proof_invalid`.
pub fn check_ownership_proof(
    secret: &Secret,
    install_id: &str,
    challenge: &str,
    proof: &str,
    now: i64,
) -> Result<(), Refusal> {
    crate::registration::verify_ownership_proof(secret, install_id, challenge, proof).map_err(|e| Refusal::new(e, now))
}

/// Both steps of [`begin_connect_url`] with a lookup.
pub fn verify_connect_url(
    url: &str,
    now: i64,
    secret_for: &mut dyn FnMut(&str) -> Option<Secret>,
) -> Result<ConnectParams> {
    let pending = begin_connect_url(url, now)?;
    let secret = secret_for(pending.install_id());
    Ok(pending.check(secret.as_ref())?)
}

/// Both steps of [`begin_uninstall_ticket`] with a lookup.
pub fn verify_uninstall_ticket(
    install_id: &str,
    url_or_query: &str,
    now: i64,
    max_age_secs: i64,
    secret_for: &mut dyn FnMut(&str) -> Option<Secret>,
) -> Result<i64> {
    let pending = begin_uninstall_ticket(install_id, url_or_query, now, max_age_secs)?;
    let secret = secret_for(pending.install_id());
    Ok(pending.check(secret.as_ref())?)
}

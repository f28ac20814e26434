//! The plugin's half (design items 6–8): three signed routes that use the
//! OAuth client secret on the installation's behalf and keep nothing.
//!
//! Each is verified as every signed broker call is (docs/PROTOCOL.md §7, the
//! broker's verifier and replay store; the installation known, and for
//! `/token` and `/refresh` enabled and not waiting for an ownership proof —
//! `/revoke`, like the broker's disconnect, is open in every status), its
//! body read strictly by the core
//! (`400 invalid_request` otherwise), then Stora is asked:
//!
//! * [`token`] — `POST /token`: the code context checked against the
//!   signer and the body, the code exchanged, the account read;
//! * [`refresh`] — `POST /refresh`: the refresh token rotated;
//! * [`revoke`] — `POST /revoke`: the grant revoked (idempotent).
//!
//! Stora's `invalid_grant` is `400 invalid_grant`; Stora unreachable or
//! failing is `502 upstream_failed`. Token answers are `Cache-Control: no-store`.

use tessera_broker::handlers::{Admit, Step, check_enabled, verify_signed};
use tessera_broker::stora::StoraError;
use tessera_broker::store::NewTokens;
use tessera_broker::{Incoming, Origin, Reply};
use tessera_core::internals::json::ObjectWriter;
use tessera_core::{Account, CodeContext, RefreshRequest, Refusal, RevokeRequest, TokenRequest, Verified};
use zeroize::Zeroizing;

use crate::ProxyApp;

/// What a signed route does once the request verified.
type Signed = fn(&ProxyApp, &Incoming, &Verified) -> Step<Reply>;

/// Verifies the signed request of an installation `admit` accepts, then
/// runs `then`; the answer is tagged with the installation for the log line.
fn signed(p: &ProxyApp, req: &Incoming, admit: Admit<'_>, then: Signed) -> Reply {
    let (verified, installation) = match verify_signed(&p.registry, req, admit) {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    then(p, req, &verified).unwrap_or_else(|reply| reply).for_install(&installation.install_id)
}

/// A refusal of the core's checks, answered as the core words it.
fn refused(refusal: Refusal) -> Reply {
    Reply::refusal(&refusal)
}

/// Stora's refusal or failure: `400 invalid_grant` for a code or refresh
/// token that is used, expired or revoked; `502 upstream_failed` for the rest
/// (unreachable, 5xx, or an answer the proxy cannot use).
fn upstream(error: StoraError) -> Reply {
    match error {
        StoraError::InvalidGrant => Reply::error(400, "invalid_grant", "Stora refused the code or refresh token"),
        _ => Reply::error(502, "upstream_failed", "Stora could not be reached or failed"),
    }
}

/// `200`, `Cache-Control: no-store`: the tokens Stora issued (`expires_in`
/// in seconds from `now`), and the account when there is one.
fn tokens_answer(tokens: &NewTokens, now: i64, account: Option<&Account>) -> Reply {
    let mut out = Zeroizing::new(String::with_capacity(512));
    let mut o = ObjectWriter::new(&mut out);
    o.str("access_token", &tokens.access_token);
    o.str("refresh_token", &tokens.refresh_token);
    o.i64("expires_in", tokens.expires_at - now);
    o.str("scope", &tokens.scope);
    if let Some(account) = account {
        let mut a = ObjectWriter::new(o.key("account"));
        a.str("id", &account.id);
        a.str("name", &account.name);
        a.end();
    }
    o.end();
    json_answer(out.as_bytes())
}

/// A `200` JSON answer that no cache may keep.
fn json_answer(body: &[u8]) -> Reply {
    Reply {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into()), ("cache-control".into(), "no-store".into())],
        body: body.to_vec(),
        install_id: None,
        error: None,
        origin: Origin::Broker,
    }
}

/// `POST /token` `{"code","code_context","state","return_url"}` (signed).
///
/// The code context must verify under the proxy key and bind this code to
/// the signing installation, this return URL and this state (`400
/// code_context_invalid | code_context_expired | code_context_mismatch`).
/// Then Stora exchanges the code (`redirect_uri` = the proxy's callback) and
/// the account is read with the new access token; if that fails the new grant
/// is revoked. Answer: `{"access_token","refresh_token","expires_in","scope",
/// "account":{"id","name"}}`.
pub fn token(p: &ProxyApp, req: &Incoming) -> Reply {
    signed(p, req, &check_enabled, token_inner)
}

fn token_inner(p: &ProxyApp, req: &Incoming, verified: &Verified) -> Step<Reply> {
    let stora = &p.registry.stora;
    let body = TokenRequest::parse(&req.body).map_err(refused)?;
    let now = p.now();
    CodeContext::verify(p.key(), &body.code_context, &body.exchange(&verified.install_id), now).map_err(refused)?;
    let tokens = stora.exchange_code(body.code.expose(), &p.callback_url(), now).map_err(upstream)?;
    let account = stora.account(&tokens.access_token).map_err(|e| {
        // Nobody would hold this grant: end it at Stora (best effort).
        let _ = stora.revoke(&tokens.refresh_token);
        upstream(e)
    })?;
    Ok(tokens_answer(&tokens, now, Some(&account)))
}

/// `POST /refresh` `{"refresh_token"}` (signed): Stora's `refresh_token`
/// grant. Stora rotates: the answer's pair replaces the installation's, the
/// presented refresh token is dead. Answer:
/// `{"access_token","refresh_token","expires_in","scope"}`.
pub fn refresh(p: &ProxyApp, req: &Incoming) -> Reply {
    signed(p, req, &check_enabled, refresh_inner)
}

fn refresh_inner(p: &ProxyApp, req: &Incoming, _: &Verified) -> Step<Reply> {
    let body = RefreshRequest::parse(&req.body).map_err(refused)?;
    let now = p.now();
    let tokens = p.registry.stora.refresh(body.refresh_token.expose(), now).map_err(upstream)?;
    Ok(tokens_answer(&tokens, now, None))
}

/// `POST /revoke` `{"token"}` (signed): Stora's revocation of the grant
/// (revoking the refresh token revokes the pair). `200 {}`, also for a token
/// Stora no longer knows (an RFC 7009 `200`, or its `invalid_grant` /
/// `invalid_token`): revoking is idempotent.
pub fn revoke(p: &ProxyApp, req: &Incoming) -> Reply {
    // Ending a grant is always allowed, as the broker's disconnect: a
    // disabled installation, or one whose site move awaits its proof, may
    // still revoke the tokens it holds.
    signed(p, req, &|_| Ok(()), revoke_inner)
}

fn revoke_inner(p: &ProxyApp, req: &Incoming, _: &Verified) -> Step<Reply> {
    let body = RevokeRequest::parse(&req.body).map_err(refused)?;
    match p.registry.stora.revoke(body.token.expose()) {
        Ok(()) | Err(StoraError::InvalidGrant) => Ok(json_answer(b"{}")),
        Err(StoraError::Status(400, code)) if code == "invalid_token" => Ok(json_answer(b"{}")),
        Err(e) => Err(upstream(e)),
    }
}

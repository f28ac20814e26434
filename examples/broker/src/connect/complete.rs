//! `POST /connect/complete` (`docs/PROTOCOL.md` §5.4.1): the signed exchange
//! of a connect code for the installation's grant and a broker token.

use serde_json::json;
use tessera_core::internals::secret::ct_eq;
use zeroize::Zeroizing;

use super::{CODE_TTL_SECS, sweep};
use crate::crypto::{random_id, token_hash};
use crate::handlers::{Step, check_enabled, db, verify_signed};
use crate::store::{AttemptStage, CodedAttempt};
use crate::{App, Incoming, Reply};

fn code_invalid() -> Reply {
    Reply::error(
        400,
        "connect_code_invalid",
        "the connect code is unknown, expired, used, cancelled or not this installation's",
    )
}

/// `POST /connect/complete` `{"code","state"}` (signed by the installation,
/// `Idempotency-Key` required): the round's Stora tokens become the
/// installation's grant (the previous one is revoked at Stora and its broker
/// token dies), and the answer carries a fresh broker token and the account.
/// The same exchange repeated with the same key (a lost answer) mints a new
/// token for the same grant; anything else is `400 connect_code_invalid`.
pub fn connect_complete(app: &App, req: &Incoming) -> Reply {
    let (verified, installation) = match verify_signed(app, req, &check_enabled) {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    let id = installation.install_id.clone();
    // Whether this request made the installation's grant (not a retry).
    let mut fresh = false;
    let result = (|| {
        sweep(app);
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let (Some(code), Some(state)) =
            (body.get("code").and_then(|v| v.as_str()), body.get("state").and_then(|v| v.as_str()))
        else {
            return Err(Reply::error(400, "invalid_request", "expected {\"code\": …, \"state\": …}"));
        };
        let Some(key) = verified.idempotency_key.as_deref() else {
            return Err(Reply::error(400, "invalid_request", "an Idempotency-Key is required"));
        };
        let now = app.now();
        let find = || -> Step<CodedAttempt> {
            let round = db(app.store.attempt_by_code(&token_hash(code)))?.ok_or_else(code_invalid)?;
            let bound = ct_eq(round.install_id.as_bytes(), id.as_bytes())
                && ct_eq(round.plugin_state.as_bytes(), state.as_bytes());
            if !bound || round.code_expires_at < now {
                return Err(code_invalid());
            }
            Ok(round)
        };
        let mut round = find()?;
        let broker_token = Zeroizing::new(random_id("btk_", 32));
        if round.stage == AttemptStage::Authorized {
            let _lock = crate::refresh::lock_grant(app, &id)?;
            let completed = db(app.store.complete_attempt(
                &round.broker_state,
                key,
                &token_hash(&broker_token),
                now + CODE_TTL_SECS,
                now,
            ))?;
            match completed {
                Some(completed) => {
                    // The replaced grant: revoked at Stora, best effort.
                    if let Some(previous) = completed.previous_refresh {
                        let _ = app.stora.revoke(&previous);
                    }
                    fresh = true;
                    return Ok(answer(&broker_token, &round));
                }
                // Completed (or cancelled) by a concurrent request: look again.
                None => round = find()?,
            }
        }
        let same_key = round.completion_key.as_deref().is_some_and(|k| ct_eq(k.as_bytes(), key.as_bytes()));
        if round.stage != AttemptStage::Completed || !same_key {
            return Err(code_invalid());
        }
        // The plugin's retry after a lost answer: a new token for the same grant.
        let _lock = crate::refresh::lock_grant(app, &id)?;
        if !db(app.store.reissue_broker_token(&id, &round.broker_state, &token_hash(&broker_token)))? {
            return Err(code_invalid());
        }
        Ok(answer(&broker_token, &round))
    })();
    if fresh {
        // Stora's webhooks for the new grant (the grant's lock is released):
        // a failure is retried on the plugin's next pull, never fatal here.
        crate::webhooks::register(app, &id);
    }
    result.unwrap_or_else(|r| r).for_install(&id)
}

/// `200 {"broker_token", "account": {"id", "name"}}`, never cached.
fn answer(broker_token: &str, round: &CodedAttempt) -> Reply {
    Reply::json(
        200,
        json!({"broker_token": broker_token, "account": {"id": round.account_id, "name": round.account_name}}),
    )
    .with_header("cache-control", "no-store")
}

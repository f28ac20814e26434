//! Completing a connect (docs/PROTOCOL.md §5.4, §5.4.1): the browser comes
//! back with `state` and a single-use connect code; the plugin checks the
//! callback locally, then exchanges the code for a broker token with a
//! signed `POST {connect_complete}`. The installation's grant changes at the
//! broker only then, so a browser alone can never swap the Stora account.

use super::proxy::check_code_context;
use super::{Action, Call, Completion, Op, Pending};
use crate::companion::Companion;
use crate::connect::{CONNECT_TTL_SECS, check_connect_code, parse_callback};
use crate::error::{Error, Result, sanitize_code};
use crate::http::{ApiRequest, Response};
use crate::json;
use crate::secret::{BrokerToken, ct_eq};
use crate::state::Account;

impl Companion {
    /// Starts completing a connect from the callback (the full return URL,
    /// `?query` or the bare query), at local time `now`.
    ///
    /// Checked here, before any I/O: size and syntax (`too_large`,
    /// `callback_invalid`), a pending connect (`invalid_state`), `state` in
    /// constant time (`callback_state_mismatch`); the pending connect is kept
    /// on these. Then it is consumed — the returned call persists that first —
    /// and the call ends `callback_expired` after 10 minutes,
    /// `callback_denied` for an `error=` callback, `callback_invalid` without
    /// a well-formed `code`, or else sends the signed exchange and ends
    /// [`Completion::Connected`] with the Stora account. On any failure a
    /// previously held broker token is kept.
    pub fn start_complete_connect(&mut self, callback: &str, now: i64) -> Result<Call> {
        let cb = parse_callback(callback)?;
        let pending = self.state.pending_connect.as_ref().ok_or(Error::InvalidState("no connect is pending"))?;
        if !ct_eq(pending.state.as_bytes(), cb.state.as_bytes()) {
            return Err(Error::CallbackStateMismatch);
        }
        let expired = now.abs_diff(pending.created) > CONNECT_TTL_SECS as u64;
        let proxy = self.proxy_config().map(|p| p.token.clone());
        let failure = if expired {
            Some(Error::CallbackExpired)
        } else if let Some(code) = &cb.error {
            Some(Error::CallbackDenied { code: sanitize_code(code) })
        } else {
            match (cb.code.as_deref(), &proxy, cb.code_context.as_deref()) {
                (None, _, _) => Some(Error::CallbackInvalid("missing code")),
                (Some(_), Some(_), None) => Some(Error::CallbackInvalid("missing code_context")),
                (Some(code), Some(_), Some(ctx)) => {
                    check_connect_code(code).and_then(|()| check_code_context(ctx)).err()
                }
                (Some(code), None, _) => check_connect_code(code).err(),
            }
        };
        // Checked before the pending connect is consumed: the exchange is
        // signed with a usable registration (else nothing is consumed).
        if failure.is_none() {
            self.usable_installation()?;
        }
        // The state matched: this attempt is used up whatever happens next.
        let return_url = self.state.pending_connect.take().map(|p| p.return_url).unwrap_or_default();
        self.state.refresh();
        let body = match (&failure, cb.code.as_deref(), cb.code_context.as_deref()) {
            (None, Some(code), Some(ctx)) if proxy.is_some() => {
                Companion::token_body(code, ctx, &cb.state, &return_url)
            }
            (None, Some(code), _) => format!("{{\"code\":\"{code}\",\"state\":\"{}\"}}", cb.state),
            _ => String::new(),
        };
        let route = proxy.unwrap_or_else(|| self.state.config.routes.connect_complete.clone());
        let mut call = Call::new(Op::ConnectComplete, ApiRequest::json("POST", &route, body.into_bytes()));
        call.local_failure = failure;
        Ok(call)
    }

    /// The Stora account this installation is connected to (while it holds a
    /// broker token, or in proxy mode Stora's token pair): show it to the
    /// operator.
    pub fn account(&self) -> Option<&Account> {
        let connected = self.state.broker_token.is_some() || self.state.tokens.is_some();
        self.state.account.as_ref().filter(|_| connected)
    }

    /// The first step: persist the consumed pending connect, then send the
    /// exchange (or end with the local failure).
    pub(super) fn begin_connect_completion(&mut self, call: &mut Call) -> Action {
        match call.local_failure.take() {
            Some(err) => call.pending.push_back(Pending::Emit(Action::Done(Err(err)))),
            None => call.pending.push_back(Pending::Resend),
        }
        Action::Persist(self.state.to_json())
    }

    /// A 2xx answer to the exchange: the broker token and the account.
    pub(super) fn connect_answer(&mut self, call: &mut Call, resp: &Response) -> Action {
        match parse_connect_answer(&resp.body) {
            Ok((token, account)) => {
                self.state.broker_token = Some(token);
                self.state.account = Some(account.clone());
                self.state.reconnect_reason = None;
                self.persist_then_done(call, Ok(Completion::Connected { account }))
            }
            Err(e) => self.fail(call, e),
        }
    }
}

/// `{"broker_token":"…","account":{"id":"…","name":"…"}}` (a duplicate
/// member makes the answer malformed).
fn parse_connect_answer(body: &[u8]) -> Result<(BrokerToken, Account)> {
    let value = json::parse(body).map_err(|_| malformed())?;
    let token = BrokerToken::new(&zeroize::Zeroizing::new(text(&value, "broker_token")?))?;
    let account = member(&value, "account")?;
    Ok((token, Account::new(&text(account, "id")?, &text(account, "name")?)?))
}

fn malformed() -> Error {
    Error::CallbackInvalid("the broker's answer to the connect completion is malformed")
}

fn member<'a>(v: &'a json::Value, key: &str) -> Result<&'a json::Value> {
    v.get(key).map_err(|_| malformed())?.ok_or_else(malformed)
}

fn text(v: &json::Value, key: &str) -> Result<String> {
    member(v, key)?.as_str().map(str::to_owned).ok_or_else(malformed)
}

//! Leaving: disconnect, the uninstall plan and "the site moved" (the signed
//! requests that change the installation itself rather than call the API).

use super::{Action, Call, Completion, Op, Pending, RemoteStep, UninstallReport};
use crate::companion::{Companion, Purpose};
use crate::error::{Error, Result};
use crate::http::ApiRequest;
use crate::registration::{Registration, check_registration};

/// Attempts per remote step of the uninstall plan.
pub const UNINSTALL_MAX_ATTEMPTS: u32 = 2;

fn uninstall_plan(companion: &Companion) -> Option<(Op, ApiRequest)> {
    let state = &companion.state;
    let inst = state.installation.as_ref()?;
    // A copy must never touch the original; an unconfirmed registration has
    // nothing at the broker worth a signed request (its pending record
    // expires). A confirmed one waiting for a site-move proof still does.
    if state.site_mismatch.is_some() || inst.invalid_reason.is_some() || !inst.confirmed {
        return None;
    }
    if let Some(revoke) = companion.revoke_request() {
        Some((Op::UninstallDisconnect, revoke))
    } else if state.broker_token.is_some() {
        Some((Op::UninstallDisconnect, ApiRequest::new("POST", &state.config.routes.disconnect)))
    } else {
        Some((Op::UninstallDeregister, deregister_request(companion, &inst.id)))
    }
}

fn deregister_request(companion: &Companion, id: &str) -> ApiRequest {
    ApiRequest::new("DELETE", &format!("{}/{id}", companion.state.config.routes.installations))
}

impl Companion {
    /// Starts a disconnect: `POST /disconnect`; the broker token is dropped
    /// locally whatever the broker says. Allowed while a site move waits for
    /// its ownership proof (signed with the unchanged secret).
    pub fn start_disconnect(&self) -> Result<Call> {
        if self.proxy_config().is_some() {
            // Proxy mode: `POST {revoke}` with the refresh token; the tokens
            // are dropped locally whatever the proxy says.
            self.signing_installation(Purpose::Leave)?;
            let req = self.revoke_request().ok_or(Error::NotConnected)?;
            return Ok(Call::new(Op::Disconnect, req));
        }
        let req = ApiRequest::new("POST", &self.state.config.routes.disconnect);
        self.sign_preflight(&req, Purpose::Leave)?;
        if self.state.broker_token.is_none() {
            return Err(Error::NotConnected);
        }
        Ok(Call::new(Op::Disconnect, req))
    }

    /// Starts the uninstall plan: disconnect, deregister, then wipe local state
    /// whatever happened, reporting which remote steps failed. A site copy
    /// (mismatch) skips the remote steps: it must never deregister the original.
    pub fn start_uninstall(&self) -> Call {
        match uninstall_plan(self) {
            Some((op, req)) => Call::new(op, req),
            None => Call::new(Op::UninstallLocal, ApiRequest::new("DELETE", &self.state.config.routes.installations)),
        }
    }

    /// Starts "reset this installation": the uninstall plan's remote steps
    /// with the old secret (disconnect when connected, deregister; best
    /// effort, [`UNINSTALL_MAX_ATTEMPTS`] each, skipped for a site copy), then
    /// the local state is wiped and persisted, and a new installation (a new
    /// id and secret, persisted before the POST) registers as
    /// [`Companion::start_registration`] does, ownership proof included.
    /// Completes as [`Completion::Reset`]; a failed registration ends in its
    /// error, with the old installation already gone locally (register again).
    pub fn start_reset(&self, reg: &Registration) -> Result<Call> {
        check_registration(reg)?;
        let mut call = self.start_uninstall();
        call.registration = Some(reg.clone());
        call.reset = true;
        Ok(call)
    }

    /// Starts "the site moved": `PATCH /installations/{id}` with the new URL.
    /// Only while a site mismatch is recorded. When the broker asks the new
    /// address for an ownership proof, the same operation serves it
    /// ([`Action::ServeProof`]) and completes the registration round.
    pub fn start_site_moved(&self) -> Result<Call> {
        let inst = self.state.installation.as_ref().filter(|i| i.confirmed).ok_or(Error::NotRegistered)?;
        let current = self.state.site_mismatch.as_ref().ok_or(Error::InvalidState("no site mismatch to resolve"))?;
        let mut body = String::new();
        let mut o = crate::json::ObjectWriter::new(&mut body);
        o.str("site_url", current);
        o.end();
        let path = format!("{}/{}", self.state.config.routes.installations, inst.id);
        Ok(Call::new(Op::SiteMoved, ApiRequest::json("PATCH", &path, body)))
    }

    pub(super) fn next_uninstall_stage(&mut self, call: &mut Call, disconnect: RemoteStep) -> Action {
        call.disconnect_step = disconnect;
        self.drop_connection();
        let id = match &self.state.installation {
            Some(inst) => inst.id.clone(),
            None => return self.finish_uninstall(call, RemoteStep::Skipped),
        };
        let req = deregister_request(self, &id);
        call.reset_for(Op::UninstallDeregister, req);
        call.pending.push_back(Pending::Resend);
        // Persist the dropped token before going on, so a crash here cannot resurrect it.
        self.state.refresh();
        Action::Persist(self.state.to_json())
    }

    pub(super) fn finish_uninstall(&mut self, call: &mut Call, deregister: RemoteStep) -> Action {
        let report = UninstallReport {
            disconnect: std::mem::replace(&mut call.disconnect_step, RemoteStep::Skipped),
            deregister,
        };
        let config = self.state.config.clone();
        self.state = crate::state::State::new(config);
        if call.reset {
            // The old installation is gone locally: persist that, then
            // register afresh on the same call.
            call.reset_steps = Some((report.disconnect, report.deregister));
            let path = self.state.config.routes.installations.clone();
            call.reset_for(Op::Register, ApiRequest::new("POST", &path));
            call.pending.push_back(Pending::BeginRegistration);
            self.state.refresh();
            return Action::Persist(self.state.to_json());
        }
        self.persist_then_done(call, Ok(Completion::Uninstalled(report)))
    }
}

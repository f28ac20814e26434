//! Registration on the step machine, with the ownership-proof round as a
//! continuation the host serves ([`Action::ServeProof`]) and the machine
//! resumes; "the site moved" joins it when the broker asks the new address
//! for a proof.

use super::{Action, Call, Completion, MAX_PROOF_ROUNDS, Op, Pending};
use crate::companion::Companion;
use crate::entropy::Entropy;
use crate::error::{Error, Result};
use crate::http::{ApiRequest, Response};
use crate::registration::{OwnershipProof, Registration, RegistrationOutcome, check_registration, parse_challenge};

impl Companion {
    /// Starts registering this installation with the broker: a new one, one
    /// still pending (same install id and secret: the POST is idempotent by
    /// install id), one the broker no longer accepts (a fresh id), or the
    /// ownership round of a site move. The new secret is persisted before
    /// anything is sent.
    pub fn start_registration(&self, reg: &Registration) -> Result<Call> {
        self.registration_reuses(&check_registration(reg)?)?;
        if self.state.site_mismatch.is_some() && self.state.installation.as_ref().is_some_and(|i| i.confirmed) {
            return Err(Error::InvalidState("resolve the site mismatch first (a copy, or the site moved)"));
        }
        let path = self.state.config.routes.installations.clone();
        let mut call = Call::new(Op::Register, ApiRequest::new("POST", &path));
        call.registration = Some(reg.clone());
        Ok(call)
    }

    /// First step: create or refresh the installation, persist it, then send.
    pub(super) fn begin_registration(&mut self, call: &mut Call, entropy: &mut dyn Entropy) -> Action {
        let Some(reg) = call.registration.clone() else {
            return self.fail(call, Error::Internal("registration without its input"));
        };
        if let Err(e) = self.prepare_registration(&reg, entropy) {
            return self.fail(call, e);
        }
        // Resuming a round whose proof was deferred: the host serves it again
        // before the POST that makes the broker fetch it.
        match self.ownership_proof() {
            Ok(proof) => {
                call.proof_rounds += 1;
                call.pending.push_back(Pending::Emit(Action::ServeProof(proof)));
            }
            Err(_) => call.pending.push_back(Pending::Resend),
        }
        Action::Persist(self.state.to_json())
    }

    /// A 2xx or 4xx answer to the registration POST.
    pub(super) fn on_registration_answer(
        &mut self,
        call: &mut Call,
        resp: &Response,
        now: i64,
        entropy: &mut dyn Entropy,
    ) -> Action {
        let before = self.state.to_json();
        let result = self.handle_registration_response_at(resp, now);
        if result.is_err() && self.state.installation.is_none() && !call.started_over && call.registration.is_some() {
            // The broker challenged an id whose challenge never arrived (or
            // already holds it): start over once, with a fresh id and secret,
            // persisted before they are sent.
            call.started_over = true;
            call.proof_rounds = 0;
            let path = call.req.path.clone();
            call.reset_for(Op::Register, ApiRequest::new("POST", &path));
            return self.begin_registration(call, entropy);
        }
        match result {
            Ok(RegistrationOutcome::Registered) => {
                let done = self.registration_completion(call, RegistrationOutcome::Registered);
                self.persist_then_done(call, Ok(done))
            }
            Ok(RegistrationOutcome::OwnershipChallenge(proof)) => self.serve_proof(call, proof),
            Err(e) if self.state.to_json() != before => self.persist_then_done(call, Err(e)),
            Err(e) => self.fail(call, e),
        }
    }

    /// Persist the challenge, then ask the host to serve its proof (bounded).
    pub(super) fn serve_proof(&mut self, call: &mut Call, proof: OwnershipProof) -> Action {
        self.state.refresh();
        if call.proof_rounds >= MAX_PROOF_ROUNDS {
            let done = self.awaiting_completion(call, proof);
            return self.persist_then_done(call, Ok(done));
        }
        call.proof_rounds += 1;
        call.pending.push_back(Pending::Emit(Action::ServeProof(proof)));
        Action::Persist(self.state.to_json())
    }

    /// The proof is served: send the registration again so the broker fetches it.
    pub(super) fn resend_registration(&mut self, call: &mut Call, now: i64, entropy: &mut dyn Entropy) -> Action {
        let req = call.req.clone();
        call.reset_for(Op::Register, req);
        self.send(call, now, entropy)
    }

    /// The host cannot serve the proof now: end with the challenge kept
    /// (already persisted); a later `start_registration` resumes.
    pub(super) fn proof_deferred(&mut self, call: &mut Call) -> Action {
        match self.ownership_proof() {
            Ok(proof) => {
                let done = self.awaiting_completion(call, proof);
                Action::Done(Ok(done))
            }
            Err(e) => self.fail(call, e),
        }
    }

    fn awaiting_completion(&self, call: &mut Call, proof: OwnershipProof) -> Completion {
        self.registration_completion(call, RegistrationOutcome::OwnershipChallenge(proof))
    }

    /// How a registration round ends: as itself, as a site move, or as a reset.
    fn registration_completion(&self, call: &mut Call, outcome: RegistrationOutcome) -> Completion {
        if call.site_move {
            return Completion::SiteMoved;
        }
        match call.reset_steps.take() {
            Some((disconnect, deregister)) => Completion::Reset { disconnect, deregister, registration: outcome },
            None => Completion::Registration(outcome),
        }
    }

    /// The broker's 2xx to `PATCH /installations/{id}`: 200 moved; 202 the new
    /// address must prove ownership, which continues as a registration round
    /// signed by nothing but the proof (the secret is unchanged).
    pub(super) fn site_moved_answer(&mut self, call: &mut Call, resp: &Response) -> Action {
        let challenge = if resp.status == 202 {
            match parse_challenge(&resp.body) {
                Ok(c) => Some(c),
                Err(e) => return self.fail(call, e),
            }
        } else {
            None
        };
        let moved_to = self.state.site_mismatch.take();
        if let (Some(inst), Some(current)) = (&mut self.state.installation, moved_to) {
            inst.site_url = current;
            inst.challenge = challenge.clone();
        }
        if challenge.is_none() {
            return self.persist_then_done(call, Ok(Completion::SiteMoved));
        }
        let path = self.state.config.routes.installations.clone();
        call.reset_for(Op::Register, ApiRequest::new("POST", &path));
        call.site_move = true;
        match self.ownership_proof() {
            Ok(proof) => self.serve_proof(call, proof),
            Err(e) => self.fail(call, e),
        }
    }
}

//! What the core's step machine and completions look like in JavaScript:
//! plain `{ type, ... }` actions and completion objects.

use tessera_core::{Action, Completion, OwnershipProof, RegistrationOutcome, RemoteStep};
use wasm_bindgen::prelude::*;

use crate::convert::{Obj, request_out, response_out};
use crate::error::to_js;

/// `{ result, error }`: `error` is the step's TesseraError, or `null`.
fn remote_step(step: &RemoteStep) -> JsValue {
    Obj::new().set("result", step.as_str()).set("error", step.error().map_or(JsValue::NULL, to_js)).done()
}

/// `{ outcome: "registered" }` or `{ outcome: "ownership_challenge", proof }`.
pub(crate) fn registration_out(outcome: &RegistrationOutcome) -> JsValue {
    let out = Obj::new().set("outcome", outcome.as_str());
    match outcome {
        RegistrationOutcome::Registered => out.done(),
        RegistrationOutcome::OwnershipChallenge(proof) => out.set("proof", proof_out(proof)).done(),
    }
}

/// What an operation completes with, as the JS API returns it.
pub(crate) fn completion_out(completion: &Completion) -> JsValue {
    match completion {
        Completion::Response(resp) => response_out(resp),
        Completion::Registration(outcome) => registration_out(outcome),
        Completion::Disconnected { remote } => Obj::new().set("remote", remote_step(remote)).done(),
        Completion::Uninstalled(report) => Obj::new()
            .set("disconnect", remote_step(&report.disconnect))
            .set("deregister", remote_step(&report.deregister))
            .done(),
        Completion::Reset { disconnect, deregister, registration } => Obj::new()
            .set("disconnect", remote_step(disconnect))
            .set("deregister", remote_step(deregister))
            .set("registration", registration_out(registration))
            .done(),
        Completion::SiteMoved => JsValue::UNDEFINED,
        Completion::Connected { account } => Obj::new().set("account", account_out(account)).done(),
        Completion::PreviousRevoked { revoked } => Obj::new().set("revoked", *revoked).done(),
        Completion::Recorded { response, event } => crate::records::recorded_out(response, event),
        Completion::Events(page) => crate::events::page_out(page),
    }
}

/// `{ id, name }`: the Stora account a connect completed with.
pub(crate) fn account_out(account: &tessera_core::Account) -> JsValue {
    Obj::new().set("id", account.id.as_str()).set("name", account.name.as_str()).done()
}

/// An action as `{ type, ... }`; a failed `Done` is thrown as its TesseraError.
pub(crate) fn action_out(action: Action) -> Result<JsValue, JsValue> {
    Ok(match action {
        Action::Send(req) => Obj::new().set("type", "send").set("request", request_out(&req)).done(),
        Action::Sleep(ms) => Obj::new().set("type", "sleep").set("ms", ms as f64).done(),
        Action::Persist(state) => Obj::new().set("type", "persist").set("state", state).done(),
        Action::ServeProof(proof) => Obj::new().set("type", "serve_proof").set("proof", proof_out(&proof)).done(),
        // Proxy mode: the installation's refresh lock (docs/HOST-CONTRACT.md §3).
        Action::Lock(name) => Obj::new().set("type", "lock").set("name", name).done(),
        Action::Unlock(name) => Obj::new().set("type", "unlock").set("name", name).done(),
        Action::Done(Err(e)) => return Err(to_js(&e)),
        Action::Done(Ok(completion)) => Obj::new().set("type", "done").set("value", completion_out(&completion)).done(),
    })
}

/// `{ url, path, body }`: the ownership proof to serve.
pub(crate) fn proof_out(p: &OwnershipProof) -> JsValue {
    Obj::new().set("url", p.url.as_str()).set("path", p.path.as_str()).set("body", p.body.as_str()).done()
}

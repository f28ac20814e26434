//! "Revoke a previous installation" (docs/PROTOCOL.md §5.11): after
//! "Register again" the plugin is a new installation, and the old one may
//! still hold a Stora grant that the lost secret can no longer reach. The new
//! installation, once it proved its site, asks the broker to end it.

use super::{Action, Call, Completion, Op};
use crate::classify::Outcome;
use crate::companion::Companion;
use crate::error::{Error, Result};
use crate::http::ApiRequest;
use crate::sign::is_profile_token;

/// The broker's answer when nothing of the previous installation is left.
pub const PREVIOUS_NOT_FOUND: &str = "previous_installation_not_found";

impl Companion {
    /// Starts revoking the previous installation `install_id` of this site
    /// (its grant at Stora, its registration at the broker) with a request
    /// signed by this installation. The host keeps its install id outside the
    /// sealed state to have it here; it is not a secret. Ends
    /// [`Completion::PreviousRevoked`]: `revoked` is `false` when the broker
    /// had nothing left of it. A broker that did not see this installation
    /// prove its site answers `ownership_proof_required` (a `client_error`).
    pub fn start_revoke_previous(&self, install_id: &str) -> Result<Call> {
        if !is_profile_token(install_id) {
            return Err(Error::InvalidInput { field: "install_id", reason: "must be an install id" });
        }
        let inst = self.usable_installation()?;
        if inst.id == install_id {
            return Err(Error::InvalidInput { field: "install_id", reason: "is this installation's own id" });
        }
        let path = format!("{}/{}/revoke-previous", self.state.config.routes.installations, inst.id);
        self.broker.append_path(&path, "routes")?;
        let body = format!("{{\"install_id\":\"{install_id}\"}}");
        Ok(Call::new(Op::RevokePrevious, ApiRequest::json("POST", &path, body.into_bytes())))
    }

    /// A `404 previous_installation_not_found` also ends the operation well.
    pub(super) fn previous_gone(outcome: &Outcome) -> bool {
        outcome.status == 404 && outcome.code.as_deref() == Some(PREVIOUS_NOT_FOUND)
    }

    pub(super) fn previous_revoked(outcome: &Outcome) -> Action {
        Action::Done(Ok(Completion::PreviousRevoked { revoked: !Self::previous_gone(outcome) }))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Companion, Config, Registration, Response, SeededEntropy};

    #[test]
    fn its_own_or_a_malformed_id_is_refused_before_anything_is_sent() {
        let mut c = Companion::create(Config::new("https://broker.example")).unwrap();
        let reg = Registration {
            site_url: "https://shop.example".into(),
            admin_email: "a@shop.example".into(),
            platform: "wordpress".into(),
            plugin_version: "1".into(),
        };
        c.registration_request(&reg, &mut SeededEntropy::new([3; 32])).unwrap();
        c.handle_registration_response_at(&Response::new(201, vec![]), 1_700_000_000).unwrap();
        let own = c.install_id().unwrap().to_owned();
        for id in [own.as_str(), "", "ins_\"x", "ins x"] {
            assert_eq!(c.start_revoke_previous(id).unwrap_err().code(), "invalid_input", "{id:?}");
        }
        assert!(c.start_revoke_previous("ins_cHJldmlvdXMtaW5zdGFsbA").is_ok());
    }
}

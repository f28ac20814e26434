//! Install registration (docs/PROTOCOL.md §5.1 and §5.2).

use zeroize::Zeroizing;

use crate::encoding::b64url_encode;
use crate::error::{Error, Result};
use crate::json::{self, ObjectWriter};
use crate::secret::{Secret, ct_eq};
use crate::signature::hmac_sha256;
use crate::state::Installation;

/// What the host says about itself when registering.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Registration {
    /// The site's public URL (`home_url()` in WordPress).
    pub site_url: String,
    /// The administrator's email.
    pub admin_email: String,
    /// Host platform, `[a-z0-9._-]{1,32}` (e.g. `wordpress`, `chrome-extension`).
    pub platform: String,
    /// Plugin version, 1-32 visible ASCII characters.
    pub plugin_version: String,
}

/// The JSON body of `POST /installations` (it carries the secret).
pub(crate) fn registration_body(inst: &Installation) -> String {
    let mut out = String::with_capacity(256);
    let mut o = ObjectWriter::new(&mut out);
    o.str("install_id", &inst.id);
    o.str("site_url", &inst.site_url);
    o.str("admin_email", &inst.admin_email);
    o.str("secret", &Zeroizing::new(inst.secret.to_base64url()));
    o.str("platform", &inst.platform);
    o.str("plugin_version", &inst.plugin_version);
    o.end();
    out
}

/// What a registration response means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistrationOutcome {
    /// 201: registered.
    Registered,
    /// 202: serve `proof` at `url`, then send the registration request again.
    OwnershipChallenge(OwnershipProof),
}

impl RegistrationOutcome {
    /// `registered` or `ownership_challenge`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RegistrationOutcome::Registered => "registered",
            RegistrationOutcome::OwnershipChallenge(_) => "ownership_challenge",
        }
    }
}

/// An ownership proof the host must serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnershipProof {
    /// Absolute URL the broker will fetch: `{site_url}/.well-known/tessera/{install_id}`.
    pub url: String,
    /// Path part of `url` below the site URL: `/.well-known/tessera/{install_id}`.
    pub path: String,
    /// The response body to serve (`text/plain`).
    pub body: String,
}

/// Largest 202 body read for a challenge.
const MAX_CHALLENGE_BODY: usize = 16 * 1024;

const OWNERSHIP_CONTEXT: &str = "tessera-ownership-v1";

/// Path of the ownership proof below the site URL.
pub fn ownership_path(install_id: &str) -> String {
    format!("/.well-known/tessera/{install_id}")
}

/// `base64url(HMAC(secret, "tessera-ownership-v1\n" + install_id + "\n" + challenge))`.
pub fn ownership_proof(secret: &Secret, install_id: &str, challenge: &str) -> String {
    let msg = format!("{OWNERSHIP_CONTEXT}\n{install_id}\n{challenge}");
    b64url_encode(&hmac_sha256(secret.expose(), msg.as_bytes()))
}

/// Broker side: checks a proof fetched from the site, in constant time.
pub fn verify_ownership_proof(secret: &Secret, install_id: &str, challenge: &str, proof: &str) -> Result<()> {
    let want = ownership_proof(secret, install_id, challenge);
    if ct_eq(want.as_bytes(), proof.trim().as_bytes()) { Ok(()) } else { Err(Error::OwnershipProofInvalid) }
}

/// Reads `{"challenge": …}` from a 202 answer and checks it.
pub(crate) fn parse_challenge(body: &[u8]) -> Result<String> {
    let malformed = || Error::RegistrationRejected { status: 202, reason: "malformed_challenge".into() };
    if body.len() > MAX_CHALLENGE_BODY {
        return Err(malformed());
    }
    let value = json::parse(body).map_err(|_| malformed())?;
    let challenge = value.get("challenge").ok().flatten().and_then(json::Value::as_str).ok_or_else(malformed)?;
    check_challenge(challenge)?;
    Ok(challenge.to_owned())
}

/// Checks that a challenge is a profile token of 16-128 characters.
pub(crate) fn check_challenge(challenge: &str) -> Result<()> {
    if challenge.len() >= 16 && crate::sign::is_profile_token(challenge) {
        Ok(())
    } else {
        Err(Error::RegistrationRejected { status: 202, reason: "malformed_challenge".into() })
    }
}

/// "Looks like an email": one `@`, a non-empty local part, a dotted domain of
/// ASCII letters, digits, hyphens or non-ASCII characters (internationalised
/// names); no spaces or controls; at most 254 bytes.
pub fn check_email(email: &str) -> Result<()> {
    let bad = |reason| Err(Error::InvalidInput { field: "admin_email", reason });
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must be a single address without spaces");
    }
    let Some((local, domain)) = email.split_once('@') else { return bad("must contain @") };
    if local.is_empty() || local.len() > 64 || domain.contains('@') || local.contains(['<', '>', '"', ',', ';']) {
        return bad("has an invalid local part");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
        });
    if !domain_ok {
        return bad("has an invalid domain");
    }
    Ok(())
}

/// Browser-extension origins accepted as a site identity (an extension has no
/// web site: its installation's origin stands in for one).
pub(crate) const EXTENSION_SCHEMES: [&str; 2] = ["chrome-extension", "moz-extension"];

/// A browser-extension id as it appears in its origin: 1-64 of `[A-Za-z0-9-]`.
pub(crate) fn is_extension_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The normalised identity of a site URL: an `http(s)` URL without query or
/// trailing slash, or a browser-extension origin (`chrome-extension://<id>`,
/// `moz-extension://<uuid>`).
pub fn site_identity(url: &str, field: &'static str) -> Result<String> {
    for scheme in EXTENSION_SCHEMES {
        let Some(rest) = url.strip_prefix(scheme).and_then(|r| r.strip_prefix("://")) else { continue };
        let id = rest.strip_suffix('/').unwrap_or(rest).to_ascii_lowercase();
        if !is_extension_id(&id) {
            return Err(Error::InvalidUrl { field, reason: "an extension origin must be scheme://<id> with no path" });
        }
        return Ok(format!("{scheme}://{id}"));
    }
    Ok(crate::url::Url::parse(url, field)?.site_identity())
}

/// Checks everything a registration's input must satisfy.
pub(crate) fn check_registration(reg: &Registration) -> Result<String> {
    check_meta(reg)?;
    check_email(&reg.admin_email)?;
    site_identity(&reg.site_url, "site_url")
}

/// Checks platform and plugin version.
pub(crate) fn check_meta(reg: &Registration) -> Result<()> {
    let platform_ok = !reg.platform.is_empty()
        && reg.platform.len() <= 32
        && reg.platform.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !platform_ok {
        return Err(Error::InvalidInput { field: "platform", reason: "must be 1-32 of [a-z0-9._-]" });
    }
    let version_ok = !reg.plugin_version.is_empty()
        && reg.plugin_version.len() <= 32
        && reg.plugin_version.bytes().all(|b| b.is_ascii_graphic());
    if !version_ok {
        return Err(Error::InvalidInput { field: "plugin_version", reason: "must be 1-32 visible ASCII characters" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.com", "ops@münchen.de"] {
            assert!(check_email(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "a@b", "@b.co", "a@@b.co", "a b@c.co", "a@b..co", "a@-b.co", "a@b.co\n", "<a>@b.co"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn site_identities() {
        assert_eq!(site_identity("HTTPS://Shop.example/blog/", "s").unwrap(), "https://shop.example/blog");
        assert_eq!(
            site_identity("chrome-extension://abcdefghijklmnopabcdefghijklmnop/", "s").unwrap(),
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
        );
        assert!(site_identity("chrome-extension://abc/options.html", "s").is_err());
        assert!(site_identity("chrome-extension://", "s").is_err());
        assert!(site_identity("file:///etc", "s").is_err());
    }

    #[test]
    fn proof_round_trip() {
        let s = Secret::from_bytes(&[5; 32]).unwrap();
        let p = ownership_proof(&s, "ins_x", "challenge-0123456789");
        assert!(verify_ownership_proof(&s, "ins_x", "challenge-0123456789", &p).is_ok());
        assert!(verify_ownership_proof(&s, "ins_y", "challenge-0123456789", &p).is_err());
        assert!(check_challenge("short").is_err());
    }
}

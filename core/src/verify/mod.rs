//! Broker-side verification of the Tessera signature profile, as a sans-IO
//! sequence (the pattern of quinn-proto and rustls' unbuffered API): the
//! verifier never calls back into the broker.
//!
//! 1. [`Verifier::begin`] checks everything that needs no secret: parse
//!    (bounded), the `tessera` label selected explicitly, `alg`/`tag`/`keyid`/
//!    `nonce`, `expires = created + 300`, the covered components, the time
//!    window and the body digest. It yields an [`AwaitingSecret`].
//! 2. The broker looks up the secret of [`AwaitingSecret::keyid`] — however
//!    it likes, synchronously or not — and hands it to
//!    [`AwaitingSecret::check`], which checks the MAC (constant time), once.
//!    It yields an [`AwaitingReplay`].
//! 3. The broker records [`AwaitingReplay::replay_key`] until
//!    [`AwaitingReplay::expires_at`] in its replay store and hands the store's
//!    [`ReplayAnswer`] to [`AwaitingReplay::finish`], which yields the
//!    [`Verified`] request.
//!
//! Every step's failure is a [`Refusal`]: the error, and the wire answer the
//! broker sends for it (status, code, headers, body). The nonce is recorded
//! only after the MAC verified, so a forged request cannot burn one.
//! [`Verifier::verify`] runs the three steps with a closure and a
//! [`ReplayStore`], for brokers that have both at hand.
//!
//! Connect URLs and uninstall tickets follow the same two-step shape
//! ([`begin_connect_url`], [`begin_uninstall_ticket`]); an ownership proof
//! needs no lookup ([`check_ownership_proof`]).

mod links;
mod parse;
mod refusal;
mod replay;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use links::{
    ConnectUrlAwaitingSecret, TicketAwaitingSecret, begin_connect_url, begin_uninstall_ticket, check_ownership_proof,
    verify_connect_url, verify_uninstall_ticket,
};
pub use refusal::Refusal;
pub use replay::{DEFAULT_REPLAY_PER_INSTALLATION, MemoryReplayStore, ReplayAnswer, ReplayStore};

use crate::error::{Error, Result};
use crate::http::{MAX_BODY, Request};
use crate::secret::{BrokerToken, Secret, ct_eq};
use crate::sfv::{BareItem, Member, parse_dictionary};
use crate::sign::{DERIVED, LABEL, OPTIONAL_HEADERS};
use crate::signature::{MessageView, covered_components, hmac_sha256, signature_base};
use crate::url::Url;
use parse::{Fields, profile_params, single_byte_seq};

/// Default accepted clock difference, in seconds.
pub const DEFAULT_WINDOW_SECS: i64 = 300;
/// Largest accepted [`Verifier::window_secs`] (a day).
pub const MAX_WINDOW_SECS: i64 = 86_400;

/// What a successful verification established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The installation (`keyid`).
    pub install_id: String,
    /// `created`.
    pub created: i64,
    /// `expires`.
    pub expires: i64,
    /// `nonce`.
    pub nonce: String,
    /// The covered `Idempotency-Key`, if any.
    pub idempotency_key: Option<String>,
    /// The covered bearer token (`Authorization: Bearer …`), if any: a
    /// [`BrokerToken`], so `Debug` prints it redacted and it is zeroised on drop.
    pub bearer: Option<BrokerToken>,
}

/// Verifies signed requests (broker side).
#[derive(Clone, Debug)]
pub struct Verifier {
    /// Accepted difference between `created` and the broker clock, seconds
    /// (0 to [`MAX_WINDOW_SECS`]; anything else is `invalid_input`).
    pub window_secs: i64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier { window_secs: DEFAULT_WINDOW_SECS }
    }
}

/// A request whose signature is well formed and in time and whose body
/// matches its digest, waiting for the secret of its [`keyid`](Self::keyid).
pub struct AwaitingSecret {
    verified: Verified,
    mac: [u8; 32],
    /// The signature base, or `None` when it cannot be built (a covered
    /// header is missing, a value holds CR/LF): `signature_invalid`, decided
    /// after the installation is known. It holds the bearer token: zeroised.
    base: Option<Zeroizing<String>>,
    now: i64,
}

impl std::fmt::Debug for AwaitingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwaitingSecret").field("verified", &self.verified).finish_non_exhaustive()
    }
}

/// A request whose MAC verified, waiting for the replay store's answer.
#[derive(Debug)]
pub struct AwaitingReplay {
    verified: Verified,
    key: String,
    now: i64,
}

/// How many MACs verification computed (requests, connect URLs, tickets):
/// test builds only, where the bindings' tests prove a verification
/// computes its MAC once.
#[cfg(feature = "test-hooks")]
pub fn mac_checks() -> u64 {
    MAC_CHECKS.load(std::sync::atomic::Ordering::Relaxed)
}

#[cfg(feature = "test-hooks")]
static MAC_CHECKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts one MAC computation (test builds only).
fn count_mac() {
    #[cfg(feature = "test-hooks")]
    MAC_CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// `HMAC-SHA256(secret, data)` compared in constant time with `mac`.
pub(crate) fn mac_matches(secret: &Secret, data: &[u8], mac: &[u8]) -> bool {
    count_mac();
    ct_eq(&hmac_sha256(secret.expose(), data), mac)
}

impl Verifier {
    /// Step 1: checks everything about `req` (its `url` absolute, as the
    /// broker's public URL for it) that needs no secret, at broker time `now`.
    pub fn begin(&self, req: &Request, now: i64) -> Result<AwaitingSecret, Refusal> {
        self.parse(req, now).map_err(|e| Refusal::new(e, now))
    }

    /// Runs the three steps: `secret_for` maps a keyid (install id) to its
    /// secret, `replay` remembers nonces.
    pub fn verify(
        &self,
        req: &Request,
        now: i64,
        secret_for: &mut dyn FnMut(&str) -> Option<Secret>,
        replay: &mut dyn ReplayStore,
    ) -> Result<Verified> {
        let pending = self.begin(req, now)?;
        let secret = secret_for(pending.keyid());
        Ok(pending.check(secret.as_ref())?.record_in(replay)?)
    }

    fn parse(&self, req: &Request, now: i64) -> Result<AwaitingSecret> {
        if !(0..=MAX_WINDOW_SECS).contains(&self.window_secs) {
            return Err(Error::InvalidInput { field: "window_secs", reason: "must be 0 to 86400 seconds" });
        }
        if req.body.len() > MAX_BODY {
            return Err(Error::TooLarge { field: "body", limit: MAX_BODY });
        }
        let url = Url::parse(&req.url, "url")?;
        let method = crate::http::normalize_method(&req.method)?;

        let fields = Fields::of(req);
        let (Some(input), Some(sigs)) = (fields.get("signature-input"), fields.get("signature")) else {
            return Err(Error::SignatureMissing);
        };
        let input = parse_dictionary(input).map_err(Error::SignatureMalformed)?;
        // The common shape `tessera=:…:` is decoded directly; anything else is parsed.
        let fast_mac = single_byte_seq(sigs, LABEL);
        let sigs = match fast_mac {
            Some(_) => Vec::new(),
            None => parse_dictionary(sigs).map_err(Error::SignatureMalformed)?,
        };
        let Some((_, member)) = input.iter().find(|(k, _)| k == LABEL) else {
            return Err(Error::SignatureMissing);
        };
        let Member::InnerList(list) = member else {
            return Err(Error::SignatureMalformed("signature-input member must be an inner list"));
        };
        let mac = match (fast_mac, sigs.iter().find(|(k, _)| k == LABEL)) {
            (Some(b), _) => b,
            (None, Some((_, Member::Item(item)))) => match &item.bare {
                BareItem::ByteSeq(b) => b.clone(),
                _ => return Err(Error::SignatureMalformed("signature must be a 32-byte byte sequence")),
            },
            (None, Some(_)) => return Err(Error::SignatureMalformed("signature must be a byte sequence")),
            (None, None) => return Err(Error::SignatureMissing),
        };
        let mac: [u8; 32] =
            mac.try_into().map_err(|_| Error::SignatureMalformed("signature must be a 32-byte byte sequence"))?;
        let profile = profile_params(list)?;

        let covered = covered_components(list)?;
        if covered.iter().any(|c| !DERIVED.contains(c) && !OPTIONAL_HEADERS.contains(c)) {
            return Err(Error::SignatureMalformed("covers a component outside the profile"));
        }
        if DERIVED.iter().any(|d| !covered.contains(d)) || !covered.contains(&"content-digest") {
            return Err(Error::SignatureMalformed("a required component is not covered"));
        }
        for h in OPTIONAL_HEADERS {
            if fields.get(h).is_some() && !covered.contains(&h) {
                return Err(Error::SignatureMalformed("a present profile header is not covered"));
            }
        }

        if now.abs_diff(profile.created) > self.window_secs as u64 || profile.expires < now {
            return Err(Error::SignatureExpired);
        }

        let digest_field =
            fields.get("content-digest").ok_or(Error::SignatureMalformed("content-digest is missing"))?;
        let want = match single_byte_seq(digest_field, "sha-256") {
            Some(b) => b,
            None => {
                let digests = parse_dictionary(digest_field).map_err(Error::SignatureMalformed)?;
                match digests.iter().find(|(k, _)| k == "sha-256") {
                    Some((_, Member::Item(item))) => match &item.bare {
                        BareItem::ByteSeq(b) => b.clone(),
                        _ => return Err(Error::SignatureMalformed("content-digest sha-256 must be a byte sequence")),
                    },
                    _ => return Err(Error::SignatureMalformed("content-digest lacks sha-256")),
                }
            }
        };
        if !ct_eq(&want, &Sha256::digest(&req.body)) {
            return Err(Error::DigestMismatch);
        }

        let authority = url.authority();
        let msg = MessageView::of(&method, &url, &authority, &req.headers);
        let base = signature_base(&msg, list).ok().map(Zeroizing::new);
        let bearer = fields
            .get("authorization")
            .and_then(|a| a.strip_prefix("Bearer ").map(|t| BrokerToken::presented(t.trim())));
        Ok(AwaitingSecret {
            verified: Verified {
                install_id: profile.keyid,
                created: profile.created,
                expires: profile.expires,
                nonce: profile.nonce,
                idempotency_key: fields.get("idempotency-key").map(str::to_owned),
                bearer,
            },
            mac,
            base,
            now,
        })
    }
}

impl AwaitingSecret {
    /// The installation whose secret the broker must look up (the signature's
    /// `keyid`, a profile token).
    pub fn keyid(&self) -> &str {
        &self.verified.install_id
    }

    /// Step 2: checks the MAC with the installation's `secret` (`None` when
    /// the broker knows no such installation: `unknown_installation`).
    pub fn check(self, secret: Option<&Secret>) -> Result<AwaitingReplay, Refusal> {
        let refuse = |e| Refusal::new(e, self.now);
        let secret = secret.ok_or_else(|| refuse(Error::UnknownInstallation))?;
        let base = self.base.as_ref().ok_or_else(|| refuse(Error::SignatureInvalid))?;
        if !mac_matches(secret, base.as_bytes(), &self.mac) {
            return Err(refuse(Error::SignatureInvalid));
        }
        let key = format!("{}:{}", self.verified.install_id, self.verified.nonce);
        Ok(AwaitingReplay { verified: self.verified, key, now: self.now })
    }
}

impl AwaitingReplay {
    /// The key to record: `install_id + ":" + nonce` (an install id never
    /// contains `:`). A store bounds each installation — the part before the
    /// first `:` — on its own (docs/PROTOCOL.md §7.2).
    pub fn replay_key(&self) -> &str {
        &self.key
    }

    /// The installation the request is from.
    pub fn install_id(&self) -> &str {
        &self.verified.install_id
    }

    /// Until when (unix seconds, inclusive) the key must be kept: the
    /// signature's `expires`, after which the time check refuses the request
    /// whatever the window.
    pub fn expires_at(&self) -> i64 {
        self.verified.expires
    }

    /// Broker time of the verification, as given to [`Verifier::begin`].
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Step 3: the replay store's answer for [`replay_key`](Self::replay_key).
    pub fn finish(self, answer: ReplayAnswer) -> Result<Verified, Refusal> {
        match answer {
            ReplayAnswer::Fresh => Ok(self.verified),
            ReplayAnswer::Seen => Err(Refusal::new(Error::Replayed, self.now)),
            ReplayAnswer::Full => Err(Refusal::new(Error::ReplayStoreFull, self.now)),
        }
    }

    /// Step 3 with a [`ReplayStore`]: records the key in `store` and finishes.
    pub fn record_in(self, store: &mut dyn ReplayStore) -> Result<Verified, Refusal> {
        let result = store.check_and_insert(&self.key, self.verified.expires, self.now);
        let answer = ReplayAnswer::from_store(result).map_err(|e| Refusal::new(e, self.now))?;
        self.finish(answer)
    }
}

#[cfg(test)]
mod tests;

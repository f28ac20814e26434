//! Broker-side verification of the Tessera signature profile.
//!
//! Order of checks: parse (bounded), select the `tessera` label explicitly,
//! check `alg`/`tag`/`keyid`/`nonce`, required components, the time window,
//! the body digest, then the MAC (constant time), and only then record the
//! nonce — so a forged request cannot burn a nonce. Anything but an explicit
//! success is a failure, each with its own code.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::http::{MAX_BODY, Request};
use crate::secret::{Secret, ct_eq};
use crate::sfv::{BareItem, InnerList, Member, parse_dictionary};
use crate::sign::{ALG, DERIVED, LABEL, OPTIONAL_HEADERS, TAG, is_profile_token};
use crate::signature::{MessageView, covered_components, hmac_sha256, signature_base};
use crate::url::Url;

/// Default accepted clock difference, in seconds.
pub const DEFAULT_WINDOW_SECS: i64 = 300;
/// Largest accepted [`Verifier::window_secs`] (a day).
pub const MAX_WINDOW_SECS: i64 = 86_400;

/// Remembers nonces until they can no longer verify.
pub trait ReplayStore {
    /// Records `key` until `expires_at` (unix seconds). Returns
    /// [`Error::Replayed`] if `key` is already live, [`Error::ReplayStoreFull`]
    /// if there is no room (fail closed).
    fn check_and_insert(&mut self, key: &str, expires_at: i64, now: i64) -> Result<()>;
}

/// An in-memory [`ReplayStore`] with bounded memory: entries expire, and when
/// `capacity` live entries exist new requests are refused rather than an
/// unexpired nonce being forgotten.
#[derive(Debug)]
pub struct MemoryReplayStore {
    capacity: usize,
    live: HashMap<String, i64>,
    by_expiry: BinaryHeap<Reverse<(i64, String)>>,
}

impl MemoryReplayStore {
    /// A store holding at most `capacity` live nonces.
    pub fn new(capacity: usize) -> MemoryReplayStore {
        MemoryReplayStore { capacity: capacity.max(1), live: HashMap::new(), by_expiry: BinaryHeap::new() }
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no entry is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Forgets entries whose expiry has passed. An entry expiring at `now`
    /// is still live: the verifier accepts `created + window == now`.
    fn purge(&mut self, now: i64) {
        while let Some(Reverse((exp, _))) = self.by_expiry.peek() {
            if *exp >= now {
                break;
            }
            let Some(Reverse((exp, key))) = self.by_expiry.pop() else { break };
            if self.live.get(&key) == Some(&exp) {
                self.live.remove(&key);
            }
        }
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        MemoryReplayStore::new(100_000)
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_insert(&mut self, key: &str, expires_at: i64, now: i64) -> Result<()> {
        self.purge(now);
        if self.live.contains_key(key) {
            return Err(Error::Replayed);
        }
        if self.live.len() >= self.capacity {
            return Err(Error::ReplayStoreFull);
        }
        self.live.insert(key.to_owned(), expires_at);
        self.by_expiry.push(Reverse((expires_at, key.to_owned())));
        Ok(())
    }
}

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
    /// The covered bearer token (`Authorization: Bearer …`), if any.
    pub bearer: Option<String>,
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

struct Profile {
    created: i64,
    expires: i64,
    nonce: String,
    keyid: String,
}

/// The header fields verification reads, each with all of its field lines
/// combined with `", "` (borrowed when there is one line), found in one pass.
struct Fields<'a> {
    values: [Option<Cow<'a, str>>; FIELD_NAMES.len()],
}

const FIELD_NAMES: [&str; 6] =
    ["signature-input", "signature", "content-digest", "content-type", "authorization", "idempotency-key"];

impl<'a> Fields<'a> {
    fn of(req: &'a Request) -> Fields<'a> {
        let mut values: [Option<Cow<'a, str>>; FIELD_NAMES.len()] = Default::default();
        for (k, v) in &req.headers {
            let Some(i) = FIELD_NAMES.iter().position(|n| n.len() == k.len() && k.eq_ignore_ascii_case(n)) else {
                continue;
            };
            let v = v.trim();
            values[i] = Some(match values[i].take() {
                None => Cow::Borrowed(v),
                Some(first) => {
                    let mut all = first.into_owned();
                    all.push_str(", ");
                    all.push_str(v);
                    Cow::Owned(all)
                }
            });
        }
        Fields { values }
    }

    fn get(&self, name: &str) -> Option<&str> {
        let i = FIELD_NAMES.iter().position(|n| *n == name)?;
        self.values[i].as_deref()
    }
}

/// A dictionary field that is exactly `label=:base64:` (one member, a byte
/// sequence, no parameters), decoded without the general parser. `None` for
/// any other shape, which then goes through [`parse_dictionary`] as usual.
fn single_byte_seq(field: &str, label: &str) -> Option<Vec<u8>> {
    let b64 = field.strip_prefix(label)?.strip_prefix("=:")?.strip_suffix(':')?;
    if !b64.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
        return None;
    }
    crate::encoding::b64_decode(b64)
}
fn profile_params(list: &InnerList) -> Result<Profile> {
    let (mut created, mut expires, mut nonce, mut alg, mut keyid, mut tag) = (None, None, None, None, None, None);
    for (k, v) in &list.params {
        match (k.as_str(), v) {
            ("created", BareItem::Integer(n)) => created = Some(*n),
            ("expires", BareItem::Integer(n)) => expires = Some(*n),
            ("nonce", BareItem::String(s)) => nonce = Some(s.clone()),
            ("alg", BareItem::String(s)) => alg = Some(s.clone()),
            ("keyid", BareItem::String(s)) => keyid = Some(s.clone()),
            ("tag", BareItem::String(s)) => tag = Some(s.clone()),
            _ => return Err(Error::SignatureMalformed("unexpected or mistyped signature parameter")),
        }
    }
    let (Some(created), Some(expires), Some(nonce), Some(alg), Some(keyid), Some(tag)) =
        (created, expires, nonce, alg, keyid, tag)
    else {
        return Err(Error::SignatureMalformed("missing signature parameter"));
    };
    if alg != ALG {
        return Err(Error::SignatureMalformed("alg must be hmac-sha256"));
    }
    if tag != TAG {
        return Err(Error::SignatureMalformed("tag must be tessera-v1"));
    }
    if !is_profile_token(&nonce) || !is_profile_token(&keyid) {
        return Err(Error::SignatureMalformed("nonce and keyid must be [A-Za-z0-9._~-]"));
    }
    if expires <= created || expires - created > 3600 {
        return Err(Error::SignatureMalformed("expires must follow created by at most an hour"));
    }
    Ok(Profile { created, expires, nonce, keyid })
}

impl Verifier {
    /// Verifies `req` (its `url` absolute, as the broker's public URL for it)
    /// at broker time `now`. `secret_for` maps a keyid (install id) to its
    /// secret; `replay` remembers nonces.
    pub fn verify(
        &self,
        req: &Request,
        now: i64,
        secret_for: &mut dyn FnMut(&str) -> Option<Secret>,
        replay: &mut dyn ReplayStore,
    ) -> Result<Verified> {
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
            (Some(b), _) if b.len() == 32 => b,
            (Some(_), _) => return Err(Error::SignatureMalformed("signature must be a 32-byte byte sequence")),
            (None, Some((_, Member::Item(item)))) => match &item.bare {
                BareItem::ByteSeq(b) if b.len() == 32 => b.clone(),
                _ => return Err(Error::SignatureMalformed("signature must be a 32-byte byte sequence")),
            },
            (None, Some(_)) => return Err(Error::SignatureMalformed("signature must be a byte sequence")),
            (None, None) => return Err(Error::SignatureMissing),
        };
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

        let secret = secret_for(&profile.keyid).ok_or(Error::UnknownInstallation)?;
        let authority = url.authority();
        let msg = MessageView::of(&method, &url, &authority, &req.headers);
        let base = signature_base(&msg, list).map_err(|_| Error::SignatureInvalid)?;
        if !ct_eq(&hmac_sha256(secret.expose(), base.as_bytes()), &mac) {
            return Err(Error::SignatureInvalid);
        }

        let keep_until = profile.expires.max(profile.created.saturating_add(self.window_secs));
        replay.check_and_insert(&format!("{}:{}", profile.keyid, profile.nonce), keep_until, now)?;

        let bearer = fields.get("authorization").and_then(|a| a.strip_prefix("Bearer ").map(|t| t.trim().to_owned()));
        Ok(Verified {
            install_id: profile.keyid,
            created: profile.created,
            expires: profile.expires,
            nonce: profile.nonce,
            idempotency_key: fields.get("idempotency-key").map(str::to_owned),
            bearer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_store_expires_and_bounds() {
        let mut s = MemoryReplayStore::new(2);
        s.check_and_insert("a", 10, 0).unwrap();
        assert_eq!(s.check_and_insert("a", 10, 5), Err(Error::Replayed));
        s.check_and_insert("b", 20, 5).unwrap();
        assert_eq!(s.check_and_insert("c", 20, 5), Err(Error::ReplayStoreFull));
        // "a" expires at 10: still live at 10, gone at 11.
        assert_eq!(s.check_and_insert("a", 10, 10), Err(Error::Replayed));
        assert_eq!(s.check_and_insert("c", 20, 10), Err(Error::ReplayStoreFull));
        s.check_and_insert("c", 20, 11).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.check_and_insert("a", 30, 21).is_ok());
    }
}

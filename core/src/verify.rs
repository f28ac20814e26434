//! Broker-side verification of the Tessera signature profile.
//!
//! Order of checks: parse (bounded), select the `tessera` label explicitly,
//! check `alg`/`tag`/`keyid`/`nonce`, `expires = created + 300`, required
//! components, the time window, the body digest, then the MAC (constant
//! time), and only then record the nonce — so a forged request cannot burn a
//! nonce. Anything but an explicit success is a failure, each with its own
//! code. The replay store bounds each installation on its own
//! ([`MemoryReplayStore`]).

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::http::{MAX_BODY, Request};
use crate::secret::{BrokerToken, Secret, ct_eq};
use crate::sfv::{BareItem, InnerList, Member, parse_dictionary};
use crate::sign::{ALG, DERIVED, LABEL, OPTIONAL_HEADERS, TAG, VALIDITY_SECS, is_profile_token};
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
    ///
    /// The verifier's key is `install_id + ":" + nonce` (an install id never
    /// contains `:`). A store MUST bound what each installation may hold on
    /// its own, so that one installation filling its share is refused
    /// without refusing any other (docs/PROTOCOL.md §7.2).
    fn check_and_insert(&mut self, key: &str, expires_at: i64, now: i64) -> Result<()>;
}

/// Live nonces one installation may hold in a [`MemoryReplayStore::default`]
/// store. A nonce lives at most `window + 300` seconds (300 with clocks in
/// step); a plugin within Stora's rate limits (60 calls a minute) holds a
/// few hundred.
pub const DEFAULT_REPLAY_PER_INSTALLATION: usize = 1_000;

/// The installation a replay key belongs to: the part before the first `:`
/// (the whole key is the installation `""`'s when it has none).
fn installation_of(key: &str) -> &str {
    key.split_once(':').map_or("", |(installation, _)| installation)
}

/// An in-memory [`ReplayStore`] bounded per installation: entries expire,
/// and when an installation has `per_installation` live entries its new
/// requests are refused ([`Error::ReplayStoreFull`]) rather than an
/// unexpired nonce being forgotten. Other installations are unaffected:
/// there is no shared limit one installation could exhaust. Memory is at
/// most `per_installation` entries for each installation that verified a
/// request within the last `window + 300` seconds — only installations the
/// broker knows, whose MAC verified, reach the store.
#[derive(Debug)]
pub struct MemoryReplayStore {
    per_installation: usize,
    live: HashMap<String, i64>,
    /// Live entries per installation (no entry for an installation with none).
    counts: HashMap<String, usize>,
    by_expiry: BinaryHeap<Reverse<(i64, String)>>,
}

impl MemoryReplayStore {
    /// A store holding at most `per_installation` (at least 1) live nonces
    /// for each installation.
    pub fn new(per_installation: usize) -> MemoryReplayStore {
        MemoryReplayStore {
            per_installation: per_installation.max(1),
            live: HashMap::new(),
            counts: HashMap::new(),
            by_expiry: BinaryHeap::new(),
        }
    }

    /// Live entries, all installations together.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Live entries of one installation.
    pub fn len_for(&self, installation: &str) -> usize {
        self.counts.get(installation).copied().unwrap_or(0)
    }

    /// Whether no entry is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Forgets entries whose expiry has passed. An entry expiring at `now`
    /// is still live: the verifier accepts `now == expires`.
    fn purge(&mut self, now: i64) {
        while let Some(Reverse((exp, _))) = self.by_expiry.peek() {
            if *exp >= now {
                break;
            }
            let Some(Reverse((exp, key))) = self.by_expiry.pop() else { break };
            if self.live.get(&key) == Some(&exp) {
                self.live.remove(&key);
                let installation = installation_of(&key);
                if let Some(n) = self.counts.get_mut(installation) {
                    *n -= 1;
                    if *n == 0 {
                        self.counts.remove(installation);
                    }
                }
            }
        }
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        MemoryReplayStore::new(DEFAULT_REPLAY_PER_INSTALLATION)
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_insert(&mut self, key: &str, expires_at: i64, now: i64) -> Result<()> {
        self.purge(now);
        if self.live.contains_key(key) {
            return Err(Error::Replayed);
        }
        let installation = installation_of(key);
        if self.len_for(installation) >= self.per_installation {
            return Err(Error::ReplayStoreFull);
        }
        *self.counts.entry(installation.to_owned()).or_insert(0) += 1;
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
    // The profile fixes the validity: a signer cannot ask for a nonce to be
    // kept longer (nor for a longer-lived capture).
    if created.checked_add(VALIDITY_SECS) != Some(expires) {
        return Err(Error::SignatureInvalid);
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

        // The time check refuses the request once `now > expires`, whatever
        // the window: the nonce need not be kept any longer.
        replay.check_and_insert(&format!("{}:{}", profile.keyid, profile.nonce), profile.expires, now)?;

        let bearer = fields
            .get("authorization")
            .and_then(|a| a.strip_prefix("Bearer ").map(|t| BrokerToken::presented(t.trim())));
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
    use crate::sign::LABEL;
    use crate::signature::hmac_sign_generic;

    #[test]
    fn replay_store_expires_and_bounds() {
        let mut s = MemoryReplayStore::new(2);
        s.check_and_insert("i:a", 10, 0).unwrap();
        assert_eq!(s.check_and_insert("i:a", 10, 5), Err(Error::Replayed));
        s.check_and_insert("i:b", 20, 5).unwrap();
        assert_eq!(s.check_and_insert("i:c", 20, 5), Err(Error::ReplayStoreFull));
        // "a" expires at 10: still live at 10, gone at 11.
        assert_eq!(s.check_and_insert("i:a", 10, 10), Err(Error::Replayed));
        assert_eq!(s.check_and_insert("i:c", 20, 10), Err(Error::ReplayStoreFull));
        s.check_and_insert("i:c", 20, 11).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.check_and_insert("i:a", 30, 21).is_ok());
    }

    #[test]
    fn replay_store_is_bounded_per_installation() {
        let mut s = MemoryReplayStore::new(3);
        for n in 0..3 {
            s.check_and_insert(&format!("flood:{n}"), 100, 0).unwrap();
        }
        // The flooder's share is full: it alone is refused...
        assert_eq!(s.check_and_insert("flood:x", 100, 1), Err(Error::ReplayStoreFull));
        assert_eq!(s.len_for("flood"), 3);
        // ...every other installation keeps its whole share.
        for other in ["a", "b", "c"] {
            for n in 0..3 {
                s.check_and_insert(&format!("{other}:{n}"), 50, 1).unwrap();
            }
            assert_eq!(s.check_and_insert(&format!("{other}:x"), 50, 1), Err(Error::ReplayStoreFull));
        }
        assert_eq!(s.len(), 12);
        // A replay is still `replayed`, even with the share full.
        assert_eq!(s.check_and_insert("flood:0", 100, 1), Err(Error::Replayed));
        // Expiry gives an installation its share back (and forgets it).
        assert!(s.check_and_insert("a:y", 60, 51).is_ok());
        assert_eq!((s.len_for("a"), s.len_for("b"), s.len_for("flood")), (1, 0, 3));
        assert!(!s.counts.contains_key("b"), "an installation with no live nonce is forgotten");
        assert_eq!(s.check_and_insert("flood:x", 100, 51), Err(Error::ReplayStoreFull));
        assert!(s.check_and_insert("flood:x", 200, 101).is_ok());
        // A key without `:` belongs to the installation "".
        assert_eq!(installation_of("nocolon"), "");
        assert_eq!(installation_of("ins_1:n:x"), "ins_1");
        // At least one per installation.
        let mut one = MemoryReplayStore::new(0);
        one.check_and_insert("a:1", 5, 0).unwrap();
        assert_eq!(one.check_and_insert("a:2", 5, 0), Err(Error::ReplayStoreFull));
        one.check_and_insert("b:1", 5, 0).unwrap();
        assert_eq!(MemoryReplayStore::default().per_installation, DEFAULT_REPLAY_PER_INSTALLATION);
    }

    const NOW: i64 = 1_700_000_000;
    const SECRET: [u8; 32] = [7; 32];

    /// A request signed for the profile, with `expires` = `created + delta`.
    fn signed(keyid: &str, nonce: &str, created: i64, delta: i64) -> Request {
        let mut req = Request {
            method: "GET".into(),
            url: "https://broker.example/api/orders".into(),
            headers: vec![("content-digest".into(), crate::signature::content_digest(b""))],
            body: Vec::new(),
        };
        let input = format!(
            r#"{LABEL}=("@method" "@authority" "@path" "@query" "content-digest");created={created};expires={};nonce="{nonce}";alg="hmac-sha256";keyid="{keyid}";tag="tessera-v1""#,
            created + delta
        );
        let (_, sig) = hmac_sign_generic(&req, &input, &SECRET).unwrap();
        req.headers.push(("signature-input".into(), input));
        req.headers.push(("signature".into(), sig));
        req
    }

    fn verify(req: &Request, now: i64, store: &mut MemoryReplayStore) -> Result<Verified> {
        Verifier::default().verify(req, now, &mut |_| Some(Secret::from_bytes(&SECRET).unwrap()), store)
    }

    #[test]
    fn expires_is_exactly_created_plus_300() {
        let mut store = MemoryReplayStore::new(10);
        for delta in [3600, 301, 299, 1, 0, -1] {
            let req = signed("ins_a", &format!("n{delta}"), NOW, delta);
            assert_eq!(verify(&req, NOW, &mut store), Err(Error::SignatureInvalid), "expires = created + {delta}");
        }
        assert!(store.is_empty(), "a refused signature stores no nonce");
        // Decided before the MAC: even without a secret.
        let long = signed("ins_a", "n", NOW, 3600);
        assert_eq!(Verifier::default().verify(&long, NOW, &mut |_| None, &mut store), Err(Error::SignatureInvalid));
        let ok = verify(&signed("ins_a", "ok", NOW, 300), NOW, &mut store).unwrap();
        assert_eq!(ok.expires, NOW + 300);
    }

    #[test]
    fn a_nonce_is_kept_until_expires_and_no_longer() {
        // With a wide window the request still stops verifying at `expires`,
        // so the store keeps the nonce exactly that long.
        let wide = Verifier { window_secs: 3600 };
        let lookup = &mut |_: &str| Some(Secret::from_bytes(&SECRET).unwrap());
        let mut store = MemoryReplayStore::new(1);
        let req = signed("ins_a", "n1", NOW, 300);
        wide.verify(&req, NOW, lookup, &mut store).unwrap();
        assert_eq!(wide.verify(&req, NOW + 300, lookup, &mut store), Err(Error::Replayed));
        assert_eq!(wide.verify(&req, NOW + 301, lookup, &mut store), Err(Error::SignatureExpired));
        // Gone at expires + 1: the installation's share is free again.
        let next = signed("ins_a", "n2", NOW + 301, 300);
        wide.verify(&next, NOW + 301, lookup, &mut store).unwrap();
    }

    #[test]
    fn a_flood_from_one_installation_leaves_the_others_alone() {
        let mut store = MemoryReplayStore::new(5);
        for n in 0..5 {
            verify(&signed("ins_flood", &format!("n{n}"), NOW, 300), NOW, &mut store).unwrap();
        }
        assert_eq!(verify(&signed("ins_flood", "n5", NOW, 300), NOW, &mut store), Err(Error::ReplayStoreFull));
        for n in 0..5 {
            verify(&signed("ins_other", &format!("n{n}"), NOW, 300), NOW, &mut store).unwrap();
        }
        assert_eq!(store.len_for("ins_flood"), 5);
        assert_eq!(store.len_for("ins_other"), 5);
    }

    /// Issue 14: `Verified.bearer` is a `BrokerToken`, so logging what the
    /// verifier established never prints the token.
    #[test]
    fn verified_debug_does_not_print_the_bearer() {
        // Any text after "Bearer " is presented as is (here with a character
        // `BrokerToken::new` refuses): the broker finds it unknown.
        for token in ["btk_liveSECRETtoken", "btk_SECRET,not-b64token"] {
            let mut req = Request {
                method: "GET".into(),
                url: "https://broker.example/api/orders".into(),
                headers: vec![
                    ("authorization".into(), format!("Bearer {token}")),
                    ("content-digest".into(), crate::signature::content_digest(b"")),
                ],
                body: Vec::new(),
            };
            let input = format!(
                r#"{LABEL}=("@method" "@authority" "@path" "@query" "authorization" "content-digest");created={NOW};expires={};nonce="nb{}";alg="hmac-sha256";keyid="ins_a";tag="tessera-v1""#,
                NOW + 300,
                token.len()
            );
            let (_, sig) = hmac_sign_generic(&req, &input, &SECRET).unwrap();
            req.headers.push(("signature-input".into(), input));
            req.headers.push(("signature".into(), sig));
            let v = verify(&req, NOW, &mut MemoryReplayStore::new(10)).unwrap();
            assert_eq!(v.bearer.as_ref().map(BrokerToken::expose), Some(token));
            for text in [format!("{v:?}"), format!("{v:#?}"), format!("{:?}", v.bearer)] {
                assert!(!text.contains("SECRET"), "{text}");
                assert!(text.contains("[redacted]"), "{text}");
            }
        }
    }
}

//! Parsing the signature fields of a request: the parts of verification that
//! need no secret (docs/PROTOCOL.md §7.2, checks 4–13 and 20).

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::http::Request;
use crate::sfv::{BareItem, InnerList};
use crate::sign::{ALG, TAG, VALIDITY_SECS, is_profile_token};

/// The `tessera` member's parameters, checked against the profile.
pub(super) struct Profile {
    pub(super) created: i64,
    pub(super) expires: i64,
    pub(super) nonce: String,
    pub(super) keyid: String,
}

/// The header fields verification reads, each with all of its field lines
/// combined with `", "` (borrowed when there is one line), found in one pass.
pub(super) struct Fields<'a> {
    values: [Option<Cow<'a, str>>; FIELD_NAMES.len()],
}

const FIELD_NAMES: [&str; 6] =
    ["signature-input", "signature", "content-digest", "content-type", "authorization", "idempotency-key"];

impl<'a> Fields<'a> {
    pub(super) fn of(req: &'a Request) -> Fields<'a> {
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

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        let i = FIELD_NAMES.iter().position(|n| *n == name)?;
        self.values[i].as_deref()
    }
}

/// A dictionary field that is exactly `label=:base64:` (one member, a byte
/// sequence, no parameters), decoded without the general parser. `None` for
/// any other shape, which then goes through [`parse_dictionary`] as usual.
pub(super) fn single_byte_seq(field: &str, label: &str) -> Option<Vec<u8>> {
    let b64 = field.strip_prefix(label)?.strip_prefix("=:")?.strip_suffix(':')?;
    if !b64.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
        return None;
    }
    crate::encoding::b64_decode(b64)
}
pub(super) fn profile_params(list: &InnerList) -> Result<Profile> {
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

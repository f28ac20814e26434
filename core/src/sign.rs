//! The Tessera RFC 9421 signing profile (docs/PROTOCOL.md §6).
//!
//! Label `tessera`; covered components, in order, `"@method" "@authority"
//! "@path" "@query"` then `"content-type" "content-digest" "authorization"
//! "idempotency-key"` when present; parameters `created;expires;nonce;alg;keyid;tag`.
//! Like aws-sigv4's `sign()`, the signer returns the complete request for the
//! host to send as-is.

use crate::encoding::{b64url_encode, push_int};
use crate::entropy::{Entropy, random};
use crate::error::{Error, Result};
use crate::http::{Request, check_body, normalize_headers, normalize_method};
use crate::secret::{BrokerToken, Secret};
use crate::signature::{content_digest, hmac_sha256, push_b64};
use crate::url::Url;

/// The signature label.
pub const LABEL: &str = "tessera";
/// The `tag` parameter.
pub const TAG: &str = "tessera-v1";
/// The `alg` parameter.
pub const ALG: &str = "hmac-sha256";
/// Seconds between `created` and `expires`.
pub const VALIDITY_SECS: i64 = 300;
/// Derived components always covered, in order.
pub const DERIVED: [&str; 4] = ["@method", "@authority", "@path", "@query"];
/// Headers covered when present, in order.
pub const OPTIONAL_HEADERS: [&str; 4] = ["content-type", "content-digest", "authorization", "idempotency-key"];
/// Content-Type sent with a POST, PUT or PATCH whose caller gave none.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// Headers the signer owns: a caller-supplied value is replaced.
const OWNED_HEADERS: [&str; 4] = ["content-digest", "authorization", "signature", "signature-input"];

/// Caller-controlled inputs of one signature; fixing them makes output reproducible.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignOptions {
    /// Unix seconds used as `created` (the learned clock offset is added by
    /// [`crate::Companion`]).
    pub now: i64,
    /// `nonce` parameter; 16 random bytes (base64url) when `None`.
    pub nonce: Option<String>,
    /// `Idempotency-Key`; for POST/PATCH a UUIDv4 is generated when neither this
    /// nor a caller `idempotency-key` header is given.
    pub idempotency_key: Option<String>,
}

/// Whether `s` is a profile-safe parameter value: `[A-Za-z0-9._~-]`, 1..=128 chars.
pub fn is_profile_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
}

/// A UUIDv4 string from 16 random bytes.
pub fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::encoding::hex(&b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Whether the method is idempotent by definition (RFC 9110 §9.2.2).
pub fn is_idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE")
}

/// Everything needed to sign one request.
pub(crate) struct SignInput<'a> {
    pub secret: &'a Secret,
    pub keyid: &'a str,
    pub method: &'a str,
    pub url: &'a Url,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub token: Option<&'a BrokerToken>,
}

/// Appends the profile's signature-params value to `out`: the covered
/// components and `created;expires;nonce;alg;keyid;tag`, in exactly that
/// order. `nonce` and `keyid` are profile tokens, so they need no escaping.
fn write_profile_params(out: &mut String, components: &[&str], created: i64, nonce: &str, keyid: &str) {
    out.push('(');
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push('"');
        out.push_str(c);
        out.push('"');
    }
    out.push_str(");created=");
    push_int(out, created);
    out.push_str(";expires=");
    push_int(out, created.saturating_add(VALIDITY_SECS));
    out.push_str(";nonce=\"");
    out.push_str(nonce);
    out.push_str("\";alg=\"");
    out.push_str(ALG);
    out.push_str("\";keyid=\"");
    out.push_str(keyid);
    out.push_str("\";tag=\"");
    out.push_str(TAG);
    out.push('"');
}

/// Capacity of the signature base and of `Signature-Input` (a typical request
/// fits; longer ones grow).
const BASE_CAPACITY: usize = 768;
const SIG_INPUT_CAPACITY: usize = 256;

/// The signature base of a request being signed, in one pass: the same text
/// as [`crate::signature::signature_base_parts`] over the same message. Every
/// header here is already normalised (lowercase names; values trimmed,
/// without CR or LF: `normalize_headers`, or made by the signer from profile
/// tokens, a digest and a validated broker token), so the generic builder's
/// lookups, trimming and checks are not repeated; every covered header is
/// present (the components are chosen from `headers`).
fn profile_base(
    method: &str,
    url: &Url,
    authority: &str,
    headers: &[(String, String)],
    components: &[&str],
    params: &str,
) -> String {
    let mut base = String::with_capacity(BASE_CAPACITY);
    for &name in components {
        base.push('"');
        base.push_str(name);
        base.push_str("\": ");
        match name {
            "@method" => base.push_str(method),
            "@authority" => base.push_str(authority),
            "@path" => base.push_str(url.path()),
            "@query" => {
                base.push('?');
                base.push_str(url.query().unwrap_or(""));
            }
            header => {
                // Several fields of one name: their values joined with ", " (RFC 9421 §2.1).
                let mut first = true;
                for (_, v) in headers.iter().filter(|(k, _)| k == header) {
                    if !first {
                        base.push_str(", ");
                    }
                    base.push_str(v);
                    first = false;
                }
            }
        }
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(params);
    base
}

/// Signs one request under the profile.
pub(crate) fn sign(input: &SignInput<'_>, opts: &SignOptions, entropy: &mut dyn Entropy) -> Result<Request> {
    let method = normalize_method(input.method)?;
    check_body(input.body)?;
    // `created` and `expires` go on the wire: 1970 to 9999 only (a `now`
    // near i64::MAX overflowed `expires`; found by fuzzing,
    // fuzz_targets/state_json.rs, through a state blob's clock offset).
    crate::clock::wire_time(opts.now)?;
    if !is_profile_token(input.keyid) {
        return Err(Error::InvalidInput { field: "keyid", reason: "must be [A-Za-z0-9._~-]" });
    }
    let mut extra = normalize_headers(input.headers)?;
    extra.retain(|(k, _)| !OWNED_HEADERS.contains(&k.as_str()));

    let drawn;
    let nonce: &str = match &opts.nonce {
        Some(n) if is_profile_token(n) => n,
        Some(_) => {
            return Err(Error::InvalidInput { field: "nonce", reason: "must be 1-128 characters of [A-Za-z0-9._~-]" });
        }
        None => {
            drawn = b64url_encode(&random::<16>(entropy));
            &drawn
        }
    };
    let caller_key = extra.iter().position(|(k, _)| k == "idempotency-key").map(|i| extra.remove(i).1);
    let idempotency_key = match opts.idempotency_key.clone().or(caller_key) {
        Some(k) => {
            if !is_profile_token(&k) {
                return Err(Error::InvalidInput {
                    field: "idempotency_key",
                    reason: "must be 1-128 characters of [A-Za-z0-9._~-]",
                });
            }
            Some(k)
        }
        None if matches!(method.as_str(), "POST" | "PATCH") => Some(uuid_v4(random::<16>(entropy))),
        None => None,
    };

    // Header order on the wire: covered headers in profile order, then the rest.
    let mut headers: Vec<(String, String)> = Vec::with_capacity(extra.len() + 6);
    if let Some(i) = extra.iter().position(|(k, _)| k == "content-type") {
        headers.push(extra.remove(i));
    } else if matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        // HTTP stacks add a Content-Type to such requests when there is none
        // (WordPress: form-urlencoded; fetch: text/plain), and an uncovered one
        // fails verification. Send and cover one ourselves.
        headers.push(("content-type".into(), DEFAULT_CONTENT_TYPE.into()));
    }
    headers.push(("content-digest".into(), content_digest(input.body)));
    if let Some(t) = input.token {
        let mut auth = String::with_capacity(7 + t.expose().len());
        auth.push_str("Bearer ");
        auth.push_str(t.expose());
        headers.push(("authorization".into(), auth));
    }
    if let Some(k) = idempotency_key {
        headers.push(("idempotency-key".into(), k));
    }
    // The derived components, then the covered headers present (all of them
    // are at the front of `headers` here, in profile order).
    let mut components: [&str; 8] = [""; 8];
    components[..4].copy_from_slice(&DERIVED);
    let mut n = 4;
    for h in OPTIONAL_HEADERS {
        if headers.iter().any(|(k, _)| k == h) {
            components[n] = h;
            n += 1;
        }
    }
    let components = &components[..n];
    headers.extend(extra);

    // `Signature-Input` is `tessera=` + the signature-params value; the base ends with the same value.
    let mut sig_input = String::with_capacity(SIG_INPUT_CAPACITY);
    sig_input.push_str(LABEL);
    sig_input.push('=');
    write_profile_params(&mut sig_input, components, opts.now, nonce, input.keyid);
    let params = &sig_input[LABEL.len() + 1..];
    let authority = input.url.authority();
    let base = profile_base(&method, input.url, &authority, &headers, components, params);
    let mac = hmac_sha256(input.secret.expose(), base.as_bytes());
    let mut sig = String::with_capacity(LABEL.len() + 48);
    sig.push_str(LABEL);
    sig.push_str("=:");
    push_b64(&mut sig, &mac);
    sig.push(':');
    headers.push(("signature-input".into(), sig_input));
    headers.push(("signature".into(), sig));
    Ok(Request { method, url: input.url.as_string(), headers, body: input.body.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    #[test]
    fn uuid_shape() {
        let u = uuid_v4([0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(u.len(), 36);
    }

    #[test]
    fn signs_get_with_canonical_fields() {
        let secret = Secret::from_bytes(&[1; 32]).unwrap();
        let url = Url::parse("https://broker.example/api/orders?limit=3", "url").unwrap();
        let req = sign(
            &SignInput {
                secret: &secret,
                keyid: "ins_abc",
                method: "get",
                url: &url,
                headers: &[],
                body: b"",
                token: None,
            },
            &SignOptions { now: 1_700_000_000, nonce: Some("n0nce".into()), idempotency_key: None },
            &mut SeededEntropy::new([0; 32]),
        )
        .unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(
            req.header("signature-input").unwrap(),
            r#"tessera=("@method" "@authority" "@path" "@query" "content-digest");created=1700000000;expires=1700000300;nonce="n0nce";alg="hmac-sha256";keyid="ins_abc";tag="tessera-v1""#
        );
        assert!(req.header("idempotency-key").is_none());
        assert_eq!(req.header("content-digest").unwrap(), "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
    }

    #[test]
    fn one_pass_base_equals_the_generic_base() {
        use crate::signature::{MessageView, signature_base_parts};
        let url = Url::parse("https://broker.example:8443/api/x?b=2&a=1", "url").unwrap();
        let headers: Vec<(String, String)> = vec![
            ("content-type".into(), "application/json".into()),
            ("content-digest".into(), "sha-256=:x:".into()),
            ("authorization".into(), "Bearer t".into()),
            ("idempotency-key".into(), "k1".into()),
            ("content-type".into(), "text/plain".into()),
            ("x-other".into(), "v".into()),
        ];
        let components =
            ["@method", "@authority", "@path", "@query", "content-type", "content-digest", "authorization"];
        let params = "(\"@method\");created=1";
        let authority = url.authority();
        let fast = profile_base("POST", &url, &authority, &headers, &components, params);
        let msg = MessageView::of("POST", &url, &authority, &headers);
        assert_eq!(fast, signature_base_parts(&msg, &components, params).unwrap());
        assert!(fast.contains("\"content-type\": application/json, text/plain\n"), "{fast}");
    }

    #[test]
    fn post_gets_idempotency_key_and_rejects_bad_nonce() {
        let secret = Secret::from_bytes(&[1; 32]).unwrap();
        let url = Url::parse("https://broker.example/api/x", "url").unwrap();
        let input = SignInput {
            secret: &secret,
            keyid: "ins_abc",
            method: "POST",
            url: &url,
            headers: &[],
            body: b"{}",
            token: None,
        };
        let req =
            sign(&input, &SignOptions { now: 1, ..Default::default() }, &mut SeededEntropy::new([0; 32])).unwrap();
        assert_eq!(req.header("idempotency-key").unwrap().len(), 36);
        let bad = SignOptions { now: 1, nonce: Some("a b".into()), idempotency_key: None };
        assert!(sign(&input, &bad, &mut SeededEntropy::new([0; 32])).is_err());
    }
}

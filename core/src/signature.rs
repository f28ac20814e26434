//! A generic RFC 9421 signature base builder and the HMAC-SHA256 primitive.
//!
//! The Tessera profile ([`crate::sign`], [`crate::verify`]) is built on this;
//! it is generic enough to reproduce RFC 9421 Appendix B.2.5 exactly.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::encoding::b64_encode;
use crate::error::{Error, Result};
use crate::sfv::{BareItem, InnerList, write_inner_list};

/// The parts of a request message that covered components are derived from.
#[derive(Clone, Copy, Debug)]
pub struct MessageView<'a> {
    /// Uppercase method.
    pub method: &'a str,
    /// `http` or `https`.
    pub scheme: &'a str,
    /// Normalised `host[:port]`.
    pub authority: &'a str,
    /// Path, never empty.
    pub path: &'a str,
    /// Query without `?`, if any.
    pub query: Option<&'a str>,
    /// Header fields (any case names).
    pub headers: &'a [(String, String)],
}

impl<'a> MessageView<'a> {
    /// The view of a request to `url` (`authority` is `url.authority()`, kept
    /// by the caller so the view can borrow it).
    pub fn of(method: &'a str, url: &'a crate::url::Url, authority: &'a str, headers: &'a [(String, String)]) -> Self {
        MessageView { method, scheme: url.scheme(), authority, path: url.path(), query: url.query(), headers }
    }

    /// The value of one component identifier (RFC 9421 §2.1, §2.2).
    pub fn component_value(&self, name: &str) -> Result<String> {
        let mut out = String::new();
        self.write_component_value(&mut out, name)?;
        Ok(out)
    }

    /// Appends the value of one component identifier to `out`.
    pub fn write_component_value(&self, out: &mut String, name: &str) -> Result<()> {
        match name {
            "@method" => out.push_str(self.method),
            "@scheme" => out.push_str(self.scheme),
            "@authority" => out.push_str(self.authority),
            "@path" => out.push_str(self.path),
            "@query" => {
                out.push('?');
                out.push_str(self.query.unwrap_or(""));
            }
            "@request-target" => {
                out.push_str(self.path);
                if let Some(q) = self.query {
                    out.push('?');
                    out.push_str(q);
                }
            }
            "@target-uri" => {
                out.push_str(self.scheme);
                out.push_str("://");
                out.push_str(self.authority);
                out.push_str(self.path);
                if let Some(q) = self.query {
                    out.push('?');
                    out.push_str(q);
                }
            }
            n if n.starts_with('@') => {
                return Err(Error::SignatureMalformed("unsupported derived component"));
            }
            header => {
                if header.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(Error::SignatureMalformed("component names must be lowercase"));
                }
                let mut found = false;
                for (_, v) in self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(header)) {
                    let v = v.trim();
                    if v.bytes().any(|b| b == b'\n' || b == b'\r') {
                        return Err(Error::SignatureMalformed("header value has a line break"));
                    }
                    if found {
                        out.push_str(", ");
                    }
                    out.push_str(v);
                    found = true;
                }
                if !found {
                    return Err(Error::SignatureMalformed("a covered header is missing"));
                }
            }
        }
        Ok(())
    }
}

/// The covered component names of a signature-params inner list. Component
/// parameters (`;sf`, `;key`, `;bs`, `;req`, …) are outside the profile and
/// rejected; so are duplicates.
pub fn covered_components(params: &InnerList) -> Result<Vec<&str>> {
    let mut names: Vec<&str> = Vec::with_capacity(params.items.len());
    for item in &params.items {
        let BareItem::String(name) = &item.bare else {
            return Err(Error::SignatureMalformed("component identifiers must be strings"));
        };
        if !item.params.is_empty() {
            return Err(Error::SignatureMalformed("component parameters are not supported"));
        }
        if names.contains(&name.as_str()) {
            return Err(Error::SignatureMalformed("a component is covered twice"));
        }
        names.push(name);
    }
    Ok(names)
}

/// Builds the signature base (RFC 9421 §2.5) for `msg` and the
/// signature-params inner list `params`.
pub fn signature_base(msg: &MessageView<'_>, params: &InnerList) -> Result<String> {
    let mut params_text = String::with_capacity(320);
    write_inner_list(&mut params_text, params);
    signature_base_parts(msg, &covered_components(params)?, &params_text)
}

/// Builds the signature base from the covered component names and the
/// already-serialised signature-params value.
pub fn signature_base_parts(msg: &MessageView<'_>, components: &[&str], params_text: &str) -> Result<String> {
    let mut base = String::with_capacity(640 + params_text.len());
    for name in components {
        base.push('"');
        base.push_str(name);
        base.push_str("\": ");
        msg.write_component_value(&mut base, name)?;
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(params_text);
    Ok(base)
}

/// Signs `req` with HMAC-SHA256 under `key` for one signature-input member
/// (`label=(...);params`), as any RFC 9421 signer would; returns the signature
/// base and the `Signature` field value (`label=:base64:`). This is the generic
/// path RFC 9421 Appendix B.2.5 is reproduced with.
pub fn hmac_sign_generic(req: &crate::http::Request, signature_input: &str, key: &[u8]) -> Result<(String, String)> {
    let url = crate::url::Url::parse(&req.url, "url")?;
    let dict = crate::sfv::parse_dictionary(signature_input).map_err(Error::SignatureMalformed)?;
    let [(label, crate::sfv::Member::InnerList(params))] = dict.as_slice() else {
        return Err(Error::SignatureMalformed("expected exactly one inner-list member"));
    };
    let authority = url.authority();
    let method = crate::http::normalize_method(&req.method)?;
    let msg = MessageView::of(&method, &url, &authority, &req.headers);
    let base = signature_base(&msg, params)?;
    let sig = b64_encode(&hmac_sha256(key, base.as_bytes()));
    Ok((base, format!("{label}=:{sig}:")))
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The `Content-Digest` value (RFC 9530) for `body`: `sha-256=:…:`.
pub fn content_digest(body: &[u8]) -> String {
    let mut out = String::with_capacity(54);
    out.push_str("sha-256=:");
    push_b64(&mut out, &Sha256::digest(body));
    out.push(':');
    out
}

/// Appends standard padded base64 of `bytes` to `out` (the same text as
/// [`b64_encode`], without its intermediate string: the signer's hot path).
pub(crate) fn push_b64(out: &mut String, bytes: &[u8]) {
    const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // 48 input bytes → 64 characters per block, written through a stack buffer.
    for block in bytes.chunks(48) {
        let mut buf = [0u8; 64];
        let mut n = 0;
        for chunk in block.chunks(3) {
            let b0 = u32::from(chunk[0]);
            let b1 = chunk.get(1).map_or(0, |&b| u32::from(b));
            let b2 = chunk.get(2).map_or(0, |&b| u32::from(b));
            let v = b0 << 16 | b1 << 8 | b2;
            buf[n] = STD[(v >> 18) as usize & 63];
            buf[n + 1] = STD[(v >> 12) as usize & 63];
            buf[n + 2] = if chunk.len() > 1 { STD[(v >> 6) as usize & 63] } else { b'=' };
            buf[n + 3] = if chunk.len() > 2 { STD[v as usize & 63] } else { b'=' };
            n += 4;
        }
        // Only alphabet bytes and '=' were written: always ASCII.
        out.push_str(std::str::from_utf8(&buf[..n]).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::b64_decode;
    use crate::sfv::{Item, Member, parse_dictionary};

    /// RFC 9421 Appendix B.2.5: HMAC-SHA256 with the shared test key.
    #[test]
    fn rfc9421_b_2_5() {
        let key =
            b64_decode("uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==")
                .unwrap();
        let headers = vec![
            ("Host".to_string(), "example.com".to_string()),
            ("Date".to_string(), "Tue, 20 Apr 2021 02:07:55 GMT".to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
            (
                "Content-Digest".to_string(),
                "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
                    .to_string(),
            ),
            ("Content-Length".to_string(), "18".to_string()),
        ];
        let msg = MessageView {
            method: "POST",
            scheme: "https",
            authority: "example.com",
            path: "/foo",
            query: Some("param=Value&Pet=dog"),
            headers: &headers,
        };
        let input = parse_dictionary(
            r#"sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret""#,
        )
        .unwrap();
        let Member::InnerList(params) = &input[0].1 else { panic!("inner list") };
        let base = signature_base(&msg, params).unwrap();
        assert_eq!(
            base,
            "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\"@authority\": example.com\n\"content-type\": application/json\n\"@signature-params\": (\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\""
        );
        let sig = b64_encode(&hmac_sha256(&key, base.as_bytes()));
        assert_eq!(sig, "pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=");
    }

    #[test]
    fn push_b64_matches_b64_encode() {
        let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for len in [0, 1, 2, 3, 4, 5, 31, 32, 33, 47, 48, 49, 95, 96, 97, 200, data.len()] {
            let mut out = String::from("x");
            push_b64(&mut out, &data[..len]);
            assert_eq!(out, format!("x{}", b64_encode(&data[..len])), "length {len}");
        }
    }

    #[test]
    fn empty_body_digest() {
        assert_eq!(content_digest(b""), "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
    }

    #[test]
    fn rejects_component_params_and_duplicates() {
        let mut l = InnerList { items: vec![], params: vec![] };
        l.items.push(Item {
            bare: BareItem::String("@method".into()),
            params: vec![("req".into(), BareItem::Boolean(true))],
        });
        assert!(covered_components(&l).is_err());
        l.items[0].params.clear();
        l.items.push(l.items[0].clone());
        assert!(covered_components(&l).is_err());
    }
}

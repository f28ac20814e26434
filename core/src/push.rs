//! Pushed events (docs/PROTOCOL.md §14.4), optional: a site that accepts
//! inbound requests registers a URL on its own origin, and the broker POSTs
//! each of Stora's events it queues for the installation there at once,
//! signed with the installation's secret. The pull (§14.3) stays the source
//! of truth: a push never moves the cursor, and the next pull brings the
//! same events again (keep events by id).
//!
//! The signature: `Tessera-Push-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256(secret, "tessera-push-v1\n" + install_id + "\n" + t + "\n" +
//! raw body)>` — the shape of Stora's own webhook header, with a context
//! string no RFC 9421 signature base (which starts with `"@method"`) can
//! begin with, so neither kind of signature stands in for the other.
//!
//! ```
//! use tessera_core::{Companion, Config, Registration, Response, SeededEntropy, sign_push};
//!
//! # let mut rng = SeededEntropy::new([7; 32]);
//! let mut plugin = Companion::create(Config::new("https://broker.example"))?;
//! # plugin.registration_request(&Registration { site_url: "https://shop.example".into(), admin_email: "a@shop.example".into(), platform: "wordpress".into(), plugin_version: "1".into() }, &mut rng)?;
//! # plugin.handle_registration_response_at(&Response::new(201, vec![]), 1_700_000_000)?;
//! // The broker signs a delivery with the installation's secret …
//! let inst = plugin.state().installation().unwrap();
//! let body = br#"{"events":[{"id":"evt_1","type":"contact.created","api_version":"2025-09","created_at":1700000000,"data":{"object":{"id":"con_1"}}}]}"#;
//! let header = sign_push(&inst.secret, &inst.id, body, 1_700_000_000);
//! // … and the plugin verifies it before using anything of it.
//! let events = plugin.verify_push(&[("Tessera-Push-Signature".into(), header)], body, 1_700_000_030)?;
//! assert_eq!(events[0].event_type, "contact.created");
//! # Ok::<(), tessera_core::Error>(())
//! ```

use crate::companion::Companion;
use crate::error::{Error, Result};
use crate::events::{StoraEvent, event};
use crate::http::{ApiRequest, find_header};
use crate::json::{self, Value};
use crate::secret::{Secret, ct_eq};
use crate::signature::hmac_sha256;
use crate::url::Url;

/// The header that carries a push's signature.
pub const PUSH_SIGNATURE_HEADER: &str = "tessera-push-signature";
/// What the MAC of a push starts with (domain separation).
pub const PUSH_CONTEXT: &str = "tessera-push-v1";
/// A push signed further than this from the plugin's clock (corrected by
/// the learned offset) is refused, in either direction.
pub const PUSH_TOLERANCE_SECS: i64 = 300;
/// Largest push body accepted: one event of Stora's (at most 256 KiB) and
/// its envelope.
pub const MAX_PUSH_BODY: usize = 320 * 1024;
/// Most events one push carries.
pub const MAX_PUSH_EVENTS: usize = 10;
/// The broker path the push URL is registered at (`PUT`, `DELETE`).
pub const PUSH_PATH: &str = "/events/push";
/// Longest push URL.
pub const MAX_PUSH_URL: usize = 2048;

/// `t=…,v1=<hex>[,v1=…]`: the timestamp as sent (it is signed as text), its
/// value, and every `v1` (at most 8). Other keys are ignored; `None` when
/// `t` is missing, not 1 to 12 digits or given twice, or a `v1` is not 64
/// hex digits. The shape of Stora's `X-Stora-Signature`, which the
/// reference broker reads with this too.
pub fn parse_timestamped_signature(header: &str) -> Option<(&str, i64, Vec<[u8; 32]>)> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=')?;
        match key {
            "t" if t.is_none() && (1..=12).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) => {
                t = Some(value)
            }
            "t" => return None,
            "v1" if v1.len() < 8 => v1.push(unhex(value)?),
            "v1" => return None,
            _ => {}
        }
    }
    let t = t?;
    (!v1.is_empty()).then(|| (t, t.parse().unwrap_or(i64::MAX), v1))
}

fn unhex(hex: &str) -> Option<[u8; 32]> {
    // Hex digits only: `from_str_radix` alone would also take a sign ("+f").
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *o = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

fn push_mac(secret: &Secret, install_id: &str, t: &str, body: &[u8]) -> [u8; 32] {
    let mut msg = Vec::with_capacity(PUSH_CONTEXT.len() + install_id.len() + t.len() + 3 + body.len());
    for part in [PUSH_CONTEXT.as_bytes(), b"\n", install_id.as_bytes(), b"\n", t.as_bytes(), b"\n", body] {
        msg.extend_from_slice(part);
    }
    hmac_sha256(secret.expose(), &msg)
}

/// Broker side: the `Tessera-Push-Signature` value of a push of `body` to
/// the installation `install_id` holding `secret`, signed at `now`.
pub fn sign_push(secret: &Secret, install_id: &str, body: &[u8], now: i64) -> String {
    let t = now.to_string();
    let mac = push_mac(secret, install_id, &t, body);
    let mut out = format!("t={t},v1=");
    for b in mac {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Checks a push URL against the installation's site URL and returns it
/// normalised: absolute, on the site's origin (same scheme, host and port:
/// the broker POSTs nowhere else) over http(s) (an extension has no URL to
/// push to), no fragment or credentials, at most
/// [`MAX_PUSH_URL`] bytes. Broker and plugin apply the same rule.
pub fn check_push_url(site_url: &str, url: &str) -> Result<String> {
    const FIELD: &str = "push_url";
    if url.len() > MAX_PUSH_URL {
        return Err(Error::TooLarge { field: FIELD, limit: MAX_PUSH_URL });
    }
    let push = Url::parse(url, FIELD)?;
    let site = Url::parse(site_url, "site_url")?;
    if !matches!(push.scheme(), "https" | "http") {
        return Err(Error::InvalidUrl { field: FIELD, reason: "must be an http(s) URL" });
    }
    if push.scheme() != site.scheme() || push.authority() != site.authority() {
        return Err(Error::InvalidUrl { field: FIELD, reason: "must be on the site's own origin" });
    }
    Ok(push.as_string())
}

/// Reads a push body: `{"events": [1 to 10 events]}`, each as in a pull.
fn parse_push(body: &[u8]) -> Result<Vec<StoraEvent>> {
    let bad = Error::ResponseInvalid;
    let root = json::parse(body).map_err(|_| bad("not JSON"))?;
    let items = match root.get("events").map_err(|_| bad("a member appears twice"))? {
        Some(Value::Array(items)) => items,
        _ => return Err(bad("events must be an array")),
    };
    if items.is_empty() || items.len() > MAX_PUSH_EVENTS {
        return Err(bad("a push carries 1 to 10 events"));
    }
    items.iter().map(event).collect()
}

impl Companion {
    /// Verifies a push the broker sent to the site (the raw body as
    /// received, the request's headers) at local time `now`, and returns its
    /// events; nothing of the body is read before the signature verified.
    /// Refusals: no installation `not_registered`; a body over
    /// [`MAX_PUSH_BODY`] `too_large`; the header missing `signature_missing`,
    /// malformed `signature_malformed`; signed more than 300 s from `now`
    /// (corrected by the learned clock offset) `signature_expired`; no `v1`
    /// matching `signature_invalid`; a body that is not `{"events": [1 to
    /// 10 events]}` `response_invalid`. Answer the broker `2xx` only on
    /// success (a refusal's [`Error::wire_code`] is the answer to send).
    ///
    /// A replay of a captured push within the window delivers the same
    /// events again, which keeping events by id absorbs (delivery is at
    /// least once in any case); it never moves the cursor.
    pub fn verify_push(&self, headers: &[(String, String)], body: &[u8], now: i64) -> Result<Vec<StoraEvent>> {
        let inst = self.state.installation.as_ref().ok_or(Error::NotRegistered)?;
        if body.len() > MAX_PUSH_BODY {
            return Err(Error::TooLarge { field: "body", limit: MAX_PUSH_BODY });
        }
        let header = find_header(headers, PUSH_SIGNATURE_HEADER).ok_or(Error::SignatureMissing)?;
        let (t_text, t, candidates) =
            parse_timestamped_signature(header).ok_or(Error::SignatureMalformed("Tessera-Push-Signature"))?;
        let local = now.saturating_add(self.state.clock_offset);
        if t.saturating_sub(local).unsigned_abs() > PUSH_TOLERANCE_SECS.unsigned_abs() {
            return Err(Error::SignatureExpired);
        }
        let expected = push_mac(&inst.secret, &inst.id, t_text, body);
        // Every candidate is compared: no early exit on a match's position.
        let matched = candidates.iter().fold(false, |found, v1| ct_eq(v1, &expected) | found);
        if !matched {
            return Err(Error::SignatureInvalid);
        }
        parse_push(body)
    }

    /// The signed call that registers `url` as this site's push URL (`PUT
    /// /events/push {"url": …}`), or with `None` stops the pushes (`DELETE
    /// /events/push`): run it with [`Companion::start_call`]. `url` is
    /// checked first ([`check_push_url`] against the registered site URL).
    pub fn push_registration_request(&self, url: Option<&str>) -> Result<ApiRequest> {
        let inst = self.usable_installation()?;
        let Some(url) = url else { return Ok(ApiRequest::new("DELETE", PUSH_PATH)) };
        let url = check_push_url(&inst.site_url, url)?;
        let mut body = String::with_capacity(url.len() + 12);
        let mut o = json::ObjectWriter::new(&mut body);
        o.str("url", &url);
        o.end();
        Ok(ApiRequest::json("PUT", PUSH_PATH, body))
    }
}

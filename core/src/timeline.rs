//! Stora Timeline Events: the record of a plugin-originated action on the
//! operator's timeline (`POST /2025-09/timeline/events`, scope
//! `public.timeline_event:write`; through the broker `POST
//! /api/timeline/events`).
//!
//! [`TimelineEvent::to_request`] builds that request with a deterministic
//! body and an `Idempotency-Key` derived from the action it records
//! ([`timeline_key`]); [`crate::Companion::start_recorded_call`] does the
//! action and then records it.
//!
//! ```
//! use tessera_core::TimelineEvent;
//!
//! let event = TimelineEvent {
//!     source_id: "src_1".into(),
//!     template_id: "tpl_unit_reserved".into(),
//!     contact_id: Some("con_9".into()),
//!     external_url: Some("https://shop.example/rentals/7".into()),
//!     variables: vec![("unit".into(), "A-12".into())],
//!     ..TimelineEvent::default()
//! };
//! let req = event.to_request("order-7")?;
//! assert_eq!(req.path, "/api/timeline/events");
//! assert_eq!(String::from_utf8(req.body).unwrap(),
//!     r#"{"source":{"id":"src_1"},"template":{"id":"tpl_unit_reserved"},"contact":{"id":"con_9"},"external":{"id":"order-7","url":"https://shop.example/rentals/7"},"variables":{"unit":"A-12"}}"#);
//! assert!(req.headers.contains(&("idempotency-key".into(), "tle-order-7".into())));
//! # Ok::<(), tessera_core::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::http::ApiRequest;
use crate::json::ObjectWriter;
use crate::url::Url;

/// The broker path events are posted to.
pub const EVENTS_PATH: &str = "/api/timeline/events";
/// Source, template, contact and site ids: at most this many characters.
pub const MAX_ID_CHARS: usize = 100;
/// The description: at most this many characters (Unicode scalar values).
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// `external.url`: at most this many bytes (after normalisation).
pub const MAX_EXTERNAL_URL: usize = 2048;
/// At most this many variables.
pub const MAX_VARIABLES: usize = 50;
/// A variable name: at most this many characters of `[a-z0-9_.]`.
pub const MAX_VARIABLE_KEY_CHARS: usize = 40;
/// A variable value: at most this many characters (Unicode scalar values).
pub const MAX_VARIABLE_VALUE_CHARS: usize = 500;
/// `external.id`: at most this many characters. It is also the key the
/// event's `Idempotency-Key` derives from ([`timeline_key`]), and an
/// idempotency key is at most 128 characters of `[A-Za-z0-9._~-]`, so the
/// usable length is 124.
pub const MAX_EXTERNAL_ID_CHARS: usize = 124;

/// The `Idempotency-Key` of the event recording the action whose key is
/// `action_key`: `"tle-" + action_key`. The same action key always gives the
/// same event key, so a retried action (same key) replays the event at Stora
/// instead of recording a second one.
pub fn timeline_key(action_key: &str) -> String {
    let mut key = String::with_capacity(4 + action_key.len());
    key.push_str("tle-");
    key.push_str(action_key);
    key
}

/// One Timeline Event, before it is sent. Strings only, by construction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimelineEvent {
    /// `source.id`: the partner's event source at Stora.
    pub source_id: String,
    /// `template.id`: the event template.
    pub template_id: String,
    /// `contact.id`, when the event concerns a contact.
    pub contact_id: Option<String>,
    /// `site.id`, when the event concerns a site.
    pub site_id: Option<String>,
    /// A free-text description.
    pub description: Option<String>,
    /// `external.url`: an absolute `https` URL where the action can be seen.
    /// Required (Stora's `external` object carries an id and a url; the id
    /// is the action's key); `Option` only so that a missing one is a typed
    /// error rather than a construction failure.
    pub external_url: Option<String>,
    /// Template variables, written in this order; names are unique.
    pub variables: Vec<(String, String)>,
}

fn chars_over(s: &str, max: usize) -> bool {
    s.chars().take(max + 1).count() > max
}

/// Ids: 1 to [`MAX_ID_CHARS`] visible ASCII characters (no spaces or controls).
fn check_id(field: &'static str, id: &str) -> Result<()> {
    if id.is_empty() || chars_over(id, MAX_ID_CHARS) {
        return Err(Error::InvalidInput { field, reason: "must be 1 to 100 characters" });
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidInput { field, reason: "must be visible ASCII characters" });
    }
    Ok(())
}

/// The normalised `external.url`.
fn external_url(text: &str) -> Result<String> {
    const FIELD: &str = "external_url";
    if text.len() > MAX_EXTERNAL_URL {
        return Err(Error::TooLarge { field: FIELD, limit: MAX_EXTERNAL_URL });
    }
    let url = Url::parse(text, FIELD)?;
    if url.scheme() != "https" {
        return Err(Error::InvalidUrl { field: FIELD, reason: "must be an https URL" });
    }
    let normalised = url.as_string();
    if normalised.len() > MAX_EXTERNAL_URL {
        return Err(Error::TooLarge { field: FIELD, limit: MAX_EXTERNAL_URL });
    }
    Ok(normalised)
}

fn check_variables(variables: &[(String, String)]) -> Result<()> {
    const FIELD: &str = "variables";
    let bad = |reason| Error::InvalidInput { field: FIELD, reason };
    if variables.len() > MAX_VARIABLES {
        return Err(bad("more than 50 variables"));
    }
    for (i, (key, value)) in variables.iter().enumerate() {
        if key.is_empty() || chars_over(key, MAX_VARIABLE_KEY_CHARS) {
            return Err(bad("name must be 1 to 40 characters"));
        }
        if !key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.') {
            return Err(bad("name may only contain a-z, 0-9, '_' and '.'"));
        }
        if chars_over(value, MAX_VARIABLE_VALUE_CHARS) {
            return Err(bad("value is longer than 500 characters"));
        }
        if variables[..i].iter().any(|(k, _)| k == key) {
            return Err(bad("a name appears twice"));
        }
    }
    Ok(())
}

/// Checks an `external.id`: 1 to [`MAX_EXTERNAL_ID_CHARS`] characters of
/// `[A-Za-z0-9._~-]` (it becomes part of the event's `Idempotency-Key`).
pub fn check_external_id(external_id: &str) -> Result<()> {
    let ok = !external_id.is_empty()
        && external_id.len() <= MAX_EXTERNAL_ID_CHARS
        && external_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b));
    if !ok {
        return Err(Error::InvalidInput {
            field: "external_id",
            reason: "must be 1 to 124 characters of [A-Za-z0-9._~-]",
        });
    }
    Ok(())
}

impl TimelineEvent {
    /// Checks every field, in declaration order: source and template ids,
    /// then contact and site ids when given (1 to 100 visible ASCII
    /// characters), the description (at most 1000 characters), the external
    /// URL (required; absolute `https`, at most 2048 bytes), the variables (at most 50;
    /// names 1 to 40 characters of `[a-z0-9_.]`, unique; values at most 500
    /// characters). Characters are Unicode scalar values.
    pub fn validate(&self) -> Result<()> {
        check_id("source_id", &self.source_id)?;
        check_id("template_id", &self.template_id)?;
        if let Some(id) = &self.contact_id {
            check_id("contact_id", id)?;
        }
        if let Some(id) = &self.site_id {
            check_id("site_id", id)?;
        }
        if let Some(d) = &self.description
            && chars_over(d, MAX_DESCRIPTION_CHARS)
        {
            return Err(Error::InvalidInput { field: "description", reason: "is longer than 1000 characters" });
        }
        match &self.external_url {
            Some(url) => external_url(url)?,
            None => {
                return Err(Error::InvalidInput {
                    field: "external_url",
                    reason: "is required (Stora's external object has an id and an https url)",
                });
            }
        };
        check_variables(&self.variables)
    }

    /// The event's JSON body, members in the documented order (`source`,
    /// `template`, `contact`, `site`, `description`, `external`, `variables`;
    /// absent optional members omitted, `variables` always written).
    pub fn body(&self, external_id: &str) -> Result<String> {
        self.validate()?;
        check_external_id(external_id)?;
        let url = self.external_url.as_deref().map(external_url).transpose()?;
        let mut out = String::with_capacity(256);
        let mut o = ObjectWriter::new(&mut out);
        let id_object = |o: &mut ObjectWriter<'_>, name: &str, id: &str| {
            let mut inner = ObjectWriter::new(o.key(name));
            inner.str("id", id);
            inner.end();
        };
        id_object(&mut o, "source", &self.source_id);
        id_object(&mut o, "template", &self.template_id);
        if let Some(id) = &self.contact_id {
            id_object(&mut o, "contact", id);
        }
        if let Some(id) = &self.site_id {
            id_object(&mut o, "site", id);
        }
        if let Some(d) = &self.description {
            o.str("description", d);
        }
        let mut external = ObjectWriter::new(o.key("external"));
        external.str("id", external_id);
        if let Some(url) = &url {
            external.str("url", url);
        }
        external.end();
        let mut vars = ObjectWriter::new(o.key("variables"));
        for (k, v) in &self.variables {
            vars.str(k, v);
        }
        vars.end();
        o.end();
        Ok(out)
    }

    /// `POST /api/timeline/events` recording the action `external_id`
    /// (`external.id`), with `content-type: application/json` and
    /// `idempotency-key: ` [`timeline_key`]`(external_id)`.
    pub fn to_request(&self, external_id: &str) -> Result<ApiRequest> {
        let body = self.body(external_id)?;
        let mut req = ApiRequest::json("POST", EVENTS_PATH, body);
        req.headers.push(("idempotency-key".into(), timeline_key(external_id)));
        Ok(req)
    }
}

//! Timeline Events and Stora metadata: PHP arrays ↔ core values for
//! `Companion::callAndRecord()`, `timelineEventRequest()`,
//! `validateMetadata()` and `metadataPatch()`. Shapes only; every rule is the core's.

use ext_php_rs::boxed::ZBox;
use ext_php_rs::types::{ZendHashTable, Zval};
use tessera_core::metadata::{Metadata, MetadataPatch};
use tessera_core::{ApiRequest, RemoteStep, Response, TimelineEvent};

use crate::convert::{
    Assoc, binary_zval, check_keys, entries, headers_to_php, key_text, member, response_to_php, shape_failure, utf8,
};
use crate::errors::{Res, exception_object, invalid};

/// The keys of a Timeline Event array.
const EVENT_KEYS: [&str; 7] =
    ["source_id", "template_id", "contact_id", "site_id", "description", "external_url", "variables"];

fn opt_text(ht: &ZendHashTable, key: &str, field: &'static str) -> Res<Option<String>> {
    member(ht, key).map(|z| utf8(z, field).map(str::to_owned)).transpose()
}

fn required_text(ht: &ZendHashTable, key: &str, field: &'static str) -> Res<String> {
    opt_text(ht, key, field)?.ok_or_else(|| invalid(field, "is missing"))
}

/// `['key' => 'value', …]` in the array's order (integer keys as their decimal form).
fn string_map(ht: &ZendHashTable, field: &'static str) -> Res<Vec<(String, String)>> {
    entries(ht).map(|(k, v)| Ok((key_text(&k, field)?, utf8(v, field)?.to_owned()))).collect()
}

/// `['source_id' => …, 'template_id' => …, 'contact_id' => ?, 'site_id' => ?,
/// 'description' => ?, 'external_url' => ?, 'variables' => ?['name' => 'value']]`.
/// Any other key is refused, named with its path (`event.sourceId`; did you
/// mean `source_id`?).
pub fn event_from_php(ht: &ZendHashTable) -> Res<TimelineEvent> {
    check_keys(ht, |k| EVENT_KEYS.contains(&k), "event").map_err(|message| shape_failure(&message))?;
    let variables = match member(ht, "variables") {
        None => Vec::new(),
        Some(z) => string_map(
            z.array().ok_or_else(|| invalid("event.variables", "must be an array of name => value"))?,
            "event.variables",
        )?,
    };
    Ok(TimelineEvent {
        source_id: required_text(ht, "source_id", "event.source_id")?,
        template_id: required_text(ht, "template_id", "event.template_id")?,
        contact_id: opt_text(ht, "contact_id", "event.contact_id")?,
        site_id: opt_text(ht, "site_id", "event.site_id")?,
        description: opt_text(ht, "description", "event.description")?,
        external_url: opt_text(ht, "external_url", "event.external_url")?,
        variables,
    })
}

/// `['method' => 'POST', 'path' => …, 'headers' => […], 'body' => …]`.
pub fn api_request_to_php(r: &ApiRequest) -> ZBox<ZendHashTable> {
    Assoc::new()
        .str("method", &r.method)
        .str("path", &r.path)
        .with("headers", headers_to_php(&r.headers))
        .with("body", binary_zval(&r.body))
        .build()
}

/// A metadata array (`key => string`).
pub fn metadata_from_php(ht: &ZendHashTable, field: &'static str) -> Res<Metadata> {
    Ok(string_map(ht, field)?.into_iter().collect())
}

/// A metadata patch (`key => string|null`, `null` deletes).
pub fn patch_from_php(ht: &ZendHashTable) -> Res<MetadataPatch> {
    entries(ht)
        .map(|(k, v)| {
            let value = if v.is_null() { None } else { Some(utf8(v, "changes")?.to_owned()) };
            Ok((key_text(&k, "changes")?, value))
        })
        .collect()
}

/// `['response' => [...], 'event' => ['ok' => true] | ['ok' => false, 'error' => TesseraException]]`.
pub fn recorded_to_php(response: &Response, event: &RemoteStep) -> Zval {
    let mut yes = Zval::new();
    yes.set_bool(event.error().is_none());
    let event = match event.error() {
        Some(e) => Assoc::new().with("ok", yes).with("error", exception_object(e)),
        None => Assoc::new().with("ok", yes),
    };
    let mut resp = Zval::new();
    resp.set_hashtable(response_to_php(response));
    Assoc::new().with("response", resp).with("event", event.zval()).zval()
}

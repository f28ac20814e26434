//! Timeline Events and Stora metadata: `CompanionCore.startRecordedCall`
//! ("do the action, then record it") and the pure helpers behind
//! `timelineEventRequest`, `validateMetadata` and `metadataPatch`.

use tessera_core::RemoteStep;
use tessera_core::metadata;
use tessera_core::{Response, TimelineEvent};
use wasm_bindgen::prelude::*;

use crate::companion::{WasmCall, WasmCompanion, api_request};
use crate::convert::{Obj, api_request_out, headers_in, response_out};
use crate::error::{IntoJs, to_js};

/// A Timeline Event from its parts (`variables`: flat `[name, value, …]`).
#[allow(clippy::too_many_arguments)]
fn event_in(
    source_id: String,
    template_id: String,
    contact_id: Option<String>,
    site_id: Option<String>,
    description: Option<String>,
    external_url: Option<String>,
    variables: Vec<String>,
) -> TimelineEvent {
    TimelineEvent {
        source_id,
        template_id,
        contact_id,
        site_id,
        description,
        external_url,
        variables: headers_in(variables),
    }
}

/// `{ response, event: { ok: true } | { ok: false, error } }`.
pub(crate) fn recorded_out(response: &Response, event: &RemoteStep) -> JsValue {
    let event = match event.error() {
        Some(e) => Obj::new().set("ok", false).set("error", to_js(e)).done(),
        None => Obj::new().set("ok", true).done(),
    };
    Obj::new().set("response", response_out(response)).set("event", event).done()
}

#[wasm_bindgen(js_class = CompanionCore)]
impl WasmCompanion {
    /// `Companion::start_recorded_call`.
    #[wasm_bindgen(js_name = startRecordedCall)]
    #[allow(clippy::too_many_arguments)]
    pub fn start_recorded_call(
        &self,
        method: String,
        path: String,
        headers: Vec<String>,
        body: Vec<u8>,
        source_id: String,
        template_id: String,
        contact_id: Option<String>,
        site_id: Option<String>,
        description: Option<String>,
        external_url: Option<String>,
        variables: Vec<String>,
    ) -> Result<WasmCall, JsValue> {
        let event = event_in(source_id, template_id, contact_id, site_id, description, external_url, variables);
        self.inner.start_recorded_call(api_request(method, path, headers, body), event).js().map(WasmCall)
    }
}

/// `TimelineEvent::to_request` → `{ method, path, headers: [[name, value]…], body }` (body a string).
#[wasm_bindgen(js_name = timelineEventRequestCore)]
#[allow(clippy::too_many_arguments)]
pub fn timeline_event_request(
    source_id: String,
    template_id: String,
    contact_id: Option<String>,
    site_id: Option<String>,
    description: Option<String>,
    external_url: Option<String>,
    variables: Vec<String>,
    external_id: &str,
) -> Result<JsValue, JsValue> {
    let event = event_in(source_id, template_id, contact_id, site_id, description, external_url, variables);
    Ok(api_request_out(event.to_request(external_id).js()?))
}

/// `metadata::validate_pairs` of a flat `[key, value, …]` list.
#[wasm_bindgen(js_name = validateMetadataCore)]
pub fn validate_metadata(flat: Vec<String>) -> Result<(), JsValue> {
    metadata::validate_pairs(&headers_in(flat)).js()
}

/// `metadata::merge_patch_body_pairs`: `set` flat `[key, value, …]`,
/// `deleted` keys, `current` flat pairs when `has_current`.
#[wasm_bindgen(js_name = metadataPatchCore)]
pub fn metadata_patch(
    set: Vec<String>,
    deleted: Vec<String>,
    has_current: bool,
    current: Vec<String>,
) -> Result<String, JsValue> {
    let mut changes: Vec<(String, Option<String>)> = deleted.into_iter().map(|k| (k, None)).collect();
    changes.extend(headers_in(set).into_iter().map(|(k, v)| (k, Some(v))));
    let current = has_current.then(|| headers_in(current));
    metadata::merge_patch_body_pairs(&changes, current.as_deref()).js()
}

//! Stora's events pulled from the broker (docs/PROTOCOL.md §14.3):
//! `CompanionCore.startPullEvents` (run by the JS driver, ends with a page),
//! `acknowledgeEvents`, `eventsCursor` and `persistedState`. Conversion only:
//! the page's checks and the cursor's rules are the core's.

use tessera_core::internals::events::DEFAULT_PULL_LIMIT;
use tessera_core::{EventPage, StoraEvent};
use wasm_bindgen::prelude::*;

use crate::companion::{WasmCall, WasmCompanion};
use crate::convert::Obj;
use crate::error::IntoJs;

/// `{ id, type, apiVersion, createdAt, dataJson }` (the JS glue adds `data`,
/// parsed from `dataJson`); a pull's and a push's.
pub(crate) fn event_out(e: &StoraEvent) -> JsValue {
    Obj::new()
        .set("id", e.id.as_str())
        .set("type", e.event_type.as_str())
        .set("apiVersion", e.api_version.as_str())
        .set("createdAt", e.created_at as f64)
        .set("dataJson", e.data_json.as_str())
        .done()
}

/// `{ events: [...], cursor, hasMore }`: what `Completion::Events` carries.
pub(crate) fn page_out(page: &EventPage) -> JsValue {
    let events: js_sys::Array = page.events.iter().map(event_out).collect();
    Obj::new().set("events", events).set("cursor", page.cursor.as_str()).set("hasMore", page.has_more).done()
}

#[wasm_bindgen(js_class = CompanionCore)]
impl WasmCompanion {
    /// `Companion::start_pull_events`; `limit` absent: the core's default.
    /// A JS number saturates into `u32` (negative → 0), so the core's range
    /// check sees every out-of-range value as out of range.
    #[wasm_bindgen(js_name = startPullEvents)]
    pub fn start_pull_events(&self, limit: Option<f64>) -> Result<WasmCall, JsValue> {
        let limit = limit.map_or(DEFAULT_PULL_LIMIT, |n| n as u32);
        self.inner.start_pull_events(limit).js().map(WasmCall)
    }

    /// `Companion::acknowledge_events`: whether the stored cursor moved.
    #[wasm_bindgen(js_name = acknowledgeEvents)]
    pub fn acknowledge_events(&mut self, cursor: &str) -> Result<bool, JsValue> {
        self.inner.acknowledge_events(cursor).js()
    }

    /// `Companion::events_cursor`.
    #[wasm_bindgen(js_name = eventsCursor)]
    pub fn events_cursor(&self) -> Option<String> {
        self.inner.events_cursor().map(str::to_owned)
    }

    /// `Companion::persisted_state`: what a driver's persist would hand over
    /// now (sealed with the seal key when there is one).
    #[wasm_bindgen(js_name = persistedState)]
    pub fn persisted_state(&mut self) -> Result<String, JsValue> {
        self.with_entropy(|c, e| c.persisted_state(e)).js()
    }
}

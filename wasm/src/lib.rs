//! # tessera-wasm
//!
//! The wasm-bindgen binding of [`tessera_core`], shipped as the npm package
//! `tessera-companion`. These exports are the low layer: the package's
//! hand-written ES modules (`wasm/js/`) wrap them into the documented
//! JavaScript API (plain objects in and out, `TesseraError`, async drivers).
//!
//! The binding is thin on purpose: it converts types and nothing else. Every
//! check, policy and string the user sees comes from the core. It never
//! panics on any input (a panic aborts the wasm instance): JavaScript values
//! are type-checked by the wrapper, numeric conversions saturate, and every
//! core error becomes a `TesseraError`.

#![warn(missing_docs)]

#[cfg(feature = "broker")]
mod broker;
mod companion;
mod convert;
mod error;
mod events;
mod lowlevel;
mod outcome;
#[cfg(feature = "broker")]
mod push;
mod records;

#[cfg(feature = "broker")]
pub use broker::WasmReplayStore;
pub use companion::{WasmCall, WasmCompanion};
#[cfg(feature = "broker")]
pub use lowlevel::hmac_sign_generic;
pub use lowlevel::{classify, content_digest};
#[cfg(feature = "broker")]
pub use push::{push_registration_request_core, sign_push_core, verify_push_core};
pub use records::{metadata_patch, timeline_event_request, validate_metadata};

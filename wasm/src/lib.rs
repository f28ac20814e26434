//! Placeholder while the core lands.
use wasm_bindgen::prelude::*;

/// Version of the binding.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

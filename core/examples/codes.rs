//! Prints the core's table of error codes ([`tessera_core::CODES`]) as JSON,
//! one row per code in enum order:
//! `[{"code":..,"kind":..,"wire_status":..,"wire_code":..}, …]`.
//!
//! The binding suites compare their declarations against it:
//! `cargo run -q -p tessera-core --example codes > codes.json`.
use serde_json::{Value, json};
use tessera_core::CODES;

fn main() {
    let rows: Vec<Value> = CODES
        .iter()
        .map(|c| {
            json!({
                "code": c.code,
                "kind": c.kind.as_str(),
                "wire_status": c.wire_status,
                "wire_code": c.wire_code,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&Value::Array(rows)).expect("a JSON array of plain values serialises");
    println!("{text}");
}

#!/usr/bin/env bash
# Rust: formatting, lints and every workspace test (unit, property, vectors, doc).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The MAC counter of test builds (core feature test-hooks): one MAC per verification.
cargo test --locked -p tessera-core --features test-hooks --test mac_count

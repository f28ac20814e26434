#!/usr/bin/env bash
# End-to-end: the reference broker (examples/broker) and the fake Stora
# (examples/fake-stora) on 127.0.0.1, ephemeral ports, SQLite in temporary
# directories; every server stops by itself.
#   1. Rust: tessera-core's Companion over real HTTP (examples/broker/tests/e2e.rs)
#   2. the demo binary (scripts/demo.sh without setup) must exit 0
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"
target_dir="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"

log "e2e (Rust): plugin -> broker -> fake Stora"
cargo test --locked -p tessera-broker -p fake-stora

log "e2e: the demo"
cargo build --quiet --locked -p tessera-broker --bins
timeout 300 "$target_dir/debug/tessera-demo" >/dev/null
echo "demo: exit 0"

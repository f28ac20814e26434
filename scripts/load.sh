#!/usr/bin/env bash
# Load measurement of the reference broker, loopback only and bounded:
# N installations (default 16) each make M signed calls (default 200) in
# parallel through the broker to the fake Stora, for at most S seconds
# (default 60). Prints requests/s, p50/p90/p99 latency and the verification
# cost per request. Release build.
#
#   scripts/load.sh [--installations N] [--calls M] [--max-seconds S]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TESSERA_ROOT"
log "building tessera-load (release)"
cargo build --quiet --locked --release -p tessera-broker --bin tessera-load
target_dir="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"
exec timeout 900 "$target_dir/release/tessera-load" "$@"

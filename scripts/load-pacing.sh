#!/usr/bin/env bash
# Load test of the broker's per-operator pacing, loopback only and bounded:
# the fake Stora with Stora's limits (10/s, 60/min per operator), the broker
# with its default pacing, K installations (default 5) of ONE operator
# calling GET /api/orders through the broker without pause for N seconds
# (default 75). Prints calls sent, answered 200, broker 429s, Stora 429s
# (must be 0), the Stora request rate against the 60/min ceiling and the
# latency of queued calls; exits non-zero if Stora answered any 429.
# Release build. Not part of the test command.
#
#   scripts/load-pacing.sh [--secs N] [--installations K] [--hammer]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TESSERA_ROOT"
log "building pacing-load (release)"
cargo build --quiet --locked --release -p tessera-broker --bin pacing-load
target_dir="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"
exec timeout 900 "$target_dir/release/pacing-load" "$@"

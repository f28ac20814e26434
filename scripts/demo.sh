#!/usr/bin/env bash
# The main job: on a bare machine, set up (scripts/setup.sh), then run the
# whole Tessera lifecycle against the reference broker and a fake Stora on
# this machine (SQLite in a temporary directory, 127.0.0.1 only): register,
# connect, signed API calls, token expiry and refresh, revocation at Stora,
# reconnect, an action recorded as a Stora Timeline Event (with the plugin's
# reference in Stora metadata), a burst of 15 calls from two installations of
# one operator paced by the broker (Stora's 429 count: 0), kill switch,
# disconnect, uninstall. Prints each step as an
# operator would read it and exits 0. The servers stop by themselves.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$TESSERA_ROOT/scripts/setup.sh"
cd "$TESSERA_ROOT"
log "building the demo (reference broker, fake Stora, tessera-core)"
cargo build --quiet --locked -p tessera-broker --bin tessera-demo
target_dir="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"
log "running the demo"
exec timeout 300 "$target_dir/debug/tessera-demo"

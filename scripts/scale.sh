#!/usr/bin/env bash
# The broker scaled out (issue 19), measured on loopback and bounded: a fake
# Stora whose access tokens expire every few seconds, three tessera-broker
# processes on one throwaway PostgreSQL (scripts/pg.sh) behind one front, and
# the same load on SQLite with one process, side by side. N installations (W
# concurrent workers each) call the API for S seconds; some signed requests
# are replayed to another process. Prints calls/s, p50/p99, refreshes at
# Stora per access-token expiry (must be 1), lost grants, replays accepted
# and refresh-token reuse at Stora (all three must be 0); exits 1 if one of
# those does not hold. Release build. Not part of the test command.
#
#   scripts/scale.sh [--backend sqlite|postgres|both (default both)] [--instances K]
#                    [--installations N] [--workers W] [--secs S] [--access-ttl SECS]
#                    [--margin SECS] [--replay-every R]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TESSERA_ROOT"
log "building tessera-broker and tessera-scale (release)"
nice cargo build --quiet --locked --release -p tessera-broker --bin tessera-broker --bin tessera-scale
target_dir="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"
args=("$@")
[[ " $* " == *" --backend "* ]] || args=(--backend both "${args[@]}")
if [[ " ${args[*]} " != *" --backend sqlite "* ]]; then
    . scripts/pg.sh
    pg_start
fi
status=0
timeout 1500 "$target_dir/release/tessera-scale" "${args[@]}" || status=$?
exit "$status"

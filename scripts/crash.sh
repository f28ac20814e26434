#!/usr/bin/env bash
# Crash injection (issue 19): for each point of the broker's refresh
# (before_stora, after_stora, before_write, after_write), a broker process is
# killed with SIGKILL at that point, started again, and the plugin carries
# on; prints per point what became of the grant (still usable / usable after
# a reconnect / lost) and Stora's counters. Two processes on a throwaway
# PostgreSQL (scripts/pg.sh) by default; --backend sqlite: one process on a
# SQLite file. Builds tessera-broker with the feature crash-points in its own
# target directory (never the default or demo build). Not part of the test
# command.
#
#   scripts/crash.sh [--backend postgres|sqlite] [--points p1,p2,...]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TESSERA_ROOT"
export CARGO_TARGET_DIR="${TESSERA_CRASH_TARGET_DIR:-$TESSERA_ROOT/target/crash-points}"
log "building tessera-broker --features crash-points and tessera-crash (in $CARGO_TARGET_DIR)"
nice cargo build --quiet --locked -p tessera-broker --features crash-points --bin tessera-broker --bin tessera-crash
if [[ " $* " != *" --backend sqlite "* ]]; then
    . scripts/pg.sh
    pg_start
fi
status=0
timeout 600 "$CARGO_TARGET_DIR/debug/tessera-crash" "$@" || status=$?
exit "$status"

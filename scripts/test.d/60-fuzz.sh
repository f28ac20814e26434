#!/usr/bin/env bash
# Fuzz smoke: every cargo-fuzz target in fuzz/ for a few seconds (default 10,
# FUZZ_SMOKE_SECS), two at a time, from seeds built out of tests/vectors/.
# Fails on any crash or oracle violation. The long run is scripts/fuzz.sh
# with a larger budget (README "Fuzzing").
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
FUZZ_JOBS=${FUZZ_JOBS:-2} bash "$TESSERA_ROOT/scripts/fuzz.sh" "${FUZZ_SMOKE_SECS:-10}"

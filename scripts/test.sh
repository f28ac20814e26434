#!/usr/bin/env bash
# Runs every test: setup first, then each suite in scripts/test.d/ in order.
# Ends with one closing line: "suites: N passed, N failed".
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$TESSERA_ROOT/scripts/setup.sh" || { echo "setup failed"; exit 1; }
passed=0; failed=0; failed_names=()
for suite in "$TESSERA_ROOT"/scripts/test.d/*.sh; do
    name=$(basename "$suite" .sh)
    log "suite: $name"
    start=$(date +%s)
    if bash "$suite"; then
        passed=$((passed + 1)); log "suite $name passed in $(( $(date +%s) - start ))s"
    else
        failed=$((failed + 1)); failed_names+=("$name"); log "suite $name FAILED in $(( $(date +%s) - start ))s"
    fi
done
[ $failed -eq 0 ] || log "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]

#!/usr/bin/env bash
# Fuzzes tessera-core with cargo-fuzz (libFuzzer): builds every target in
# fuzz/ (release, debug assertions on, nightly), writes seed corpora from
# tests/vectors/ (scripts/fuzz-seeds.py), runs each target for a bounded time
# and prints one table: target, executions, exec/s, corpus size, crashes.
# Exits non-zero when any target crashed (or did not run).
#
#   bash scripts/fuzz.sh [seconds-per-target] [target...]      (default: 60 s, every target)
#
# Environment: FUZZ_JOBS (targets run at once, 1 or 2; default 1),
# FUZZ_RSS_MB (libFuzzer -rss_limit_mb; default 2048), FUZZ_TIMEOUT (seconds
# one input may take before it counts as a finding; default 10),
# FUZZ_SANITIZER (cargo fuzz -s; default none: tessera-core forbids unsafe
# code, so AddressSanitizer would only cost executions; `address` for a run
# that includes unsafe dependency code under ASan), FUZZ_RUNS (stop a target
# after this many executions, e.g. 10000000, when that comes before the time).
# Working corpora grow in fuzz/corpus/<target>, seeds are rewritten in
# fuzz/seeds/<target>, crash inputs land in fuzz/artifacts/<target>/ and logs
# in fuzz/logs/ (all git-ignored). Turn a crash into a regression test in
# core/tests/fuzz_regressions.rs.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

secs=${1:-60}
[ $# -gt 0 ] && shift
case "$secs" in '' | *[!0-9]*) echo "usage: $0 [seconds-per-target] [target...]" >&2; exit 2 ;; esac
jobs=${FUZZ_JOBS:-1}
rss=${FUZZ_RSS_MB:-2048}
timeout_s=${FUZZ_TIMEOUT:-10}
sanitizer=${FUZZ_SANITIZER:-none}
runs=${FUZZ_RUNS:--1}

cd "$TESSERA_ROOT/fuzz"
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo +nightly fuzz list); fi

log "fuzz: building ${#targets[@]} target(s) (release, debug assertions)"
build_start=$(date +%s)
if [ $# -gt 0 ]; then
    for t in "${targets[@]}"; do cargo +nightly fuzz build -a -s "$sanitizer" "$t"; done
else
    cargo +nightly fuzz build -a -s "$sanitizer"
fi
log "fuzz: built in $(($(date +%s) - build_start)) s"
python3 "$TESSERA_ROOT/scripts/fuzz-seeds.py" seeds

bin_dir=target/$(rustc +nightly -vV | awk '/^host:/ { print $2 }')/release
mkdir -p logs

# run_one TARGET: one bounded libFuzzer run; writes logs/TARGET.log and logs/TARGET.row.
run_one() {
    local t=$1 before after
    mkdir -p "corpus/$t" "seeds/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    "$bin_dir/$t" "corpus/$t" "seeds/$t" \
        -max_total_time="$secs" -runs="$runs" -print_final_stats=1 -rss_limit_mb="$rss" -timeout="$timeout_s" \
        -artifact_prefix="artifacts/$t/" >"logs/$t.log" 2>&1 || true
    after=$(find "artifacts/$t" -type f | wc -l)
    local execs rate
    execs=$(awk '/^stat::number_of_executed_units/ { print $NF }' "logs/$t.log" | tail -1)
    rate=$(awk '/^stat::average_exec_per_sec/ { print $NF }' "logs/$t.log" | tail -1)
    printf '%s %s %s %s %s\n' "$t" "${execs:--}" "${rate:--}" "$(find "corpus/$t" -type f | wc -l)" \
        "$((after - before))" >"logs/$t.row"
}

log "fuzz: ${#targets[@]} target(s) × ${secs} s, ${jobs} at a time"
for t in "${targets[@]}"; do
    rm -f "logs/$t.row"
    run_one "$t" &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
wait

failed=0
printf '\n%-20s %14s %10s %8s %8s\n' target executions exec/s corpus crashes
for t in "${targets[@]}"; do
    if [ ! -s "logs/$t.row" ]; then
        printf '%-20s %14s %10s %8s %8s\n' "$t" - - - "did not run"
        failed=1
        continue
    fi
    read -r name execs rate corpus crashes <"logs/$t.row"
    printf '%-20s %14s %10s %8s %8s\n' "$name" "$execs" "$rate" "$corpus" "$crashes"
    if [ "$crashes" != 0 ] || [ "$execs" = - ]; then
        failed=1
        echo "    see fuzz/logs/$t.log and fuzz/artifacts/$t/" >&2
    fi
done
[ $failed -eq 0 ] || { echo "fuzz: FINDINGS (or a target did not run)"; exit 1; }
echo "fuzz: no crashes"

#!/usr/bin/env bash
# Mutation testing of the core: proves that tessera-core's own tests notice
# when one of its checks is broken. cargo-mutants changes the code one small
# way at a time (a `>` becomes `>=`, a function returns a constant, a `||`
# becomes `&&`), runs `cargo test -p tessera-core --lib --tests` against each
# change, and reports the mutants no test caught. The files examined and the
# settings are in .cargo/mutants.toml; core/mutants-equivalent.txt lists the
# mutants that change nothing observable, each with its reason. Any other
# survivor fails this script (scripts/mutants-report.py prints the table).
#
#   bash scripts/mutants.sh            every examined file (about 1,050 mutants,
#                                      about 5 s each: 1.5-2.5 h on two cores); also
#                                      fails when a listed equivalent mutant no
#                                      longer survives
#   bash scripts/mutants.sh --quick    only the lines changed by the last commit
#                                      (TESSERA_MUTANTS_BASE=<rev> for another base);
#                                      runs in the test command (suite 02-mutants)
#   bash scripts/mutants.sh -- --re '^core/src/verify' one file (any
#                                      cargo-mutants arguments after --)
#   bash scripts/mutants.sh --drivers  hand-made mutants of the PHP extension's
#                                      driver (scripts/driver-mutants-ext.sh); the
#                                      npm and pure-PHP driver mutants run in their
#                                      suites
#
# Environment: MUTANTS_JOBS (mutants built and tested at once; default 2 for
# the whole core, 1 for --quick, where a second job's cold build costs more
# than it saves),
# MUTANTS_OUT (where cargo-mutants writes mutants.out/; default
# target/mutants-out).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TESSERA_ROOT"

mode=full
case "${1:-}" in
    --full) shift ;;
    --quick) mode=quick; shift ;;
    --drivers) exec bash "$TESSERA_ROOT/scripts/driver-mutants-ext.sh" ;;
    '' | --) ;;
    *) echo "usage: $0 [--full | --quick | --drivers] [-- cargo-mutants arguments]" >&2; exit 2 ;;
esac
if [ "${1:-}" = -- ]; then shift; fi
# Anything after `--` goes to cargo-mutants, e.g. `-- --re '^core/src/verify'` (not
# --file, which adds to .cargo/mutants.toml's files instead of narrowing them).
extra=("$@")

cargo mutants --version >/dev/null 2>&1 || { echo "cargo-mutants is missing: run bash scripts/setup.sh" >&2; exit 1; }
# Each job builds in its own copy of the tree (under /tmp) with its own target
# directory: a shared one would make the jobs wait on each other's lock and
# could test one job's binary against another's mutant.
unset CARGO_TARGET_DIR
out=${MUTANTS_OUT:-$TESSERA_ROOT/target/mutants-out}
mkdir -p "$out"
equivalent="$TESSERA_ROOT/core/mutants-equivalent.txt"
jobs=${MUTANTS_JOBS:-$([ "$mode" = quick ] && echo 1 || echo 2)}
args=(-j "$jobs" --output "$out" --no-shuffle "${extra[@]}")

if [ "$mode" = quick ]; then
    base=${TESSERA_MUTANTS_BASE:-HEAD~1}
    if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
        log "mutants: no base revision $base (a first commit): nothing to compare"
        exit 0
    fi
    git diff "$base" HEAD -- core/src >"$out/changes.diff"
    args+=(--in-diff "$out/changes.diff")
    if [ ! -s "$out/changes.diff" ]; then
        log "mutants: no core source changed since $(git rev-parse --short "$base")"
        exit 0
    fi
    listed=$(cargo mutants --list "${args[@]}") || { echo "cargo mutants --list failed" >&2; exit 1; }
    listed=$(printf '%s' "$listed" | grep -c . || true)
    if [ "$listed" = 0 ]; then
        log "mutants: no examined core line changed since $(git rev-parse --short "$base")"
        exit 0
    fi
    log "mutants: $listed mutant(s) in the lines changed since $(git rev-parse --short "$base")"
else
    log "mutants: $(cargo mutants --list "${args[@]}" 2>/dev/null | grep -c .) mutants of the examined core files"
fi

start=$(date +%s)
# cargo-mutants exits non-zero when a mutant survives; the report decides.
cargo mutants "${args[@]}" || true
report=(python3 "$TESSERA_ROOT/scripts/mutants-report.py" "$out/mutants.out/outcomes.json" "$equivalent")
[ "$mode" = full ] && report+=(--full)
echo
status=0
"${report[@]}" || status=$?
log "mutants ($mode) ran in $(( $(date +%s) - start )) s"
exit $status

#!/usr/bin/env bash
# Mutation testing, quick mode: every mutant cargo-mutants makes of the core
# lines the last commit changed must be caught by the core's own tests, or be
# listed as equivalent in core/mutants-equivalent.txt. Seconds when the commit
# leaves core/src alone; otherwise about 90 s (the core and its test
# dependencies built once in a copy of the tree) plus about 5 s per mutant. The
# whole core is `bash scripts/mutants.sh` (README "Mutation testing").
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
MUTANTS_OUT="$out" bash "$TESSERA_ROOT/scripts/mutants.sh" --quick

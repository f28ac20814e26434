#!/usr/bin/env bash
# Mutation testing (scripts/mutants.sh, suite 02-mutants), idempotent:
# cargo-mutants, built from crates.io with the machine's toolchain.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

if cargo mutants --version >/dev/null 2>&1; then
    log "cargo-mutants present ($(cargo mutants --version))"
else
    log "installing cargo-mutants (about 2 minutes)"
    cargo install cargo-mutants --locked --quiet || cargo install cargo-mutants --quiet
    cargo mutants --version >/dev/null || { echo "cargo-mutants did not install" >&2; exit 1; }
fi

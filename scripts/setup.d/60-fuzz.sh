#!/usr/bin/env bash
# Fuzzing (scripts/fuzz.sh, suite 60-fuzz), idempotent: a nightly toolchain
# (cargo-fuzz needs -Z flags) and cargo-fuzz itself.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

if cargo +nightly --version >/dev/null 2>&1; then
    log "nightly toolchain present ($(cargo +nightly --version))"
else
    log "installing the nightly toolchain (minimal profile)"
    timeout 600 rustup toolchain install nightly --profile minimal >/dev/null
    cargo +nightly --version >/dev/null || { echo "cargo +nightly is not available" >&2; exit 1; }
fi

if cargo fuzz --version >/dev/null 2>&1; then
    log "cargo-fuzz present ($(cargo fuzz --version))"
else
    log "installing cargo-fuzz (about 2 minutes)"
    cargo install cargo-fuzz --locked --quiet || cargo install cargo-fuzz --quiet
    cargo fuzz --version >/dev/null || { echo "cargo-fuzz did not install" >&2; exit 1; }
fi

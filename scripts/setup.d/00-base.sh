#!/usr/bin/env bash
# Base tools: the host Rust toolchain's components and the C toolchain.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_debs build-essential pkg-config ca-certificates curl
rustup component add rustfmt clippy >/dev/null 2>&1 || true

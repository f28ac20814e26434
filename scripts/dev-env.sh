#!/usr/bin/env bash
# The one command to develop against a local broker: a fake Stora, the
# reference broker and a stand-in for the plugin's site on 127.0.0.1, running
# until Ctrl-C (README.md, "Develop against a local broker").
#
#   bash scripts/dev-env.sh [tessera-e2e-env flags]   e.g. --env-file /tmp/tessera-env.json
#
# Runs the base setup (idempotent: skips what is installed), builds
# tessera-e2e-env and replaces itself with it, so standard output is exactly
# its one JSON line and signals reach it. `--help` lists every flag.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TESSERA_ROOT"
bash scripts/setup.d/00-base.sh >&2
target_dir="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"
log "dev-env: building tessera-e2e-env"
cargo build --quiet --locked -p tessera-broker --features demo --bin tessera-e2e-env >&2
exec "$target_dir/debug/tessera-e2e-env" "$@"

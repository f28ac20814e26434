#!/usr/bin/env bash
# Idempotent setup: installs everything the build, the tests and the demo need
# on a bare machine of this kind (Debian packages, cargo tools, npm packages).
# Each piece lives in scripts/setup.d/ and skips what is already there.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for piece in "$TESSERA_ROOT"/scripts/setup.d/*.sh; do
    log "setup: $(basename "$piece")"
    bash "$piece"
done

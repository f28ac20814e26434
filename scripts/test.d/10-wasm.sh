#!/usr/bin/env bash
# The npm package tessera-companion: build it (scripts/build-wasm.sh), unpack
# the `npm pack` tarball where the tests resolve `tessera-companion`, and run
# the node:test suites in wasm/test against it (shared vectors, API, driver,
# interop with an independent RFC 9421 implementation, types).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"

bash scripts/build-wasm.sh

# Tests import the published artefact, not the sources: unpack the tarball.
mods="$TESSERA_ROOT/wasm/test/node_modules"
rm -rf "$mods" && mkdir -p "$mods/tessera-companion"
tar -xzf wasm/dist/tessera-companion-*.tgz -C "$mods/tessera-companion" --strip-components=1

log "tsc: the public .d.ts and a typed usage sample"
(cd wasm && node_modules/.bin/tsc -p test/types/tsconfig.json)

log "node --test wasm/test"
cd wasm/test
node --test --test-reporter=spec ./*.test.mjs

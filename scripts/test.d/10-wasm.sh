#!/usr/bin/env bash
# The npm package tessera-companion: build it (scripts/build-wasm.sh) and its
# test build (--test-hooks: the same plus useSeededEntropy and a fixed connect
# state, never published), unpack the `npm pack` tarballs, and run the
# node:test suites in wasm/test (shared vectors, API, driver, interop with an
# independent RFC 9421 implementation, types) against the test build, and
# shipped.test.mjs against the published one (no test hooks in it).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"

bash scripts/build-wasm.sh
bash scripts/build-wasm.sh --test-hooks

# Tests import the packed artefacts, not the sources: unpack the tarballs.
# The published one first, where tsc checks the public .d.ts against it.
mods="$TESSERA_ROOT/wasm/test/node_modules"
rm -rf "$mods" && mkdir -p "$mods/tessera-companion"
tar -xzf wasm/dist/tessera-companion-*.tgz -C "$mods/tessera-companion" --strip-components=1

log "tsc: the public .d.ts and a typed usage sample"
(cd wasm && node_modules/.bin/tsc -p test/types/tsconfig.json)

# Then the published package moves aside (shipped.test.mjs imports it from
# there) and the test build takes its place.
mkdir -p "$mods/.shipped"
mv "$mods/tessera-companion" "$mods/.shipped/tessera-companion"
mkdir -p "$mods/tessera-companion"
tar -xzf wasm/dist-test/tessera-companion-*.tgz -C "$mods/tessera-companion" --strip-components=1

# The core's table of error codes: codes.test.mjs checks the package's
# ErrorCode/ErrorKind unions and the errors' wireStatus/wireCode against it.
TESSERA_CODES_JSON="$mods/.codes.json"
cargo run -q --locked -p tessera-core --example codes >"$TESSERA_CODES_JSON"
export TESSERA_CODES_JSON

log "node --test wasm/test"
cd wasm/test
node --test --test-reporter=spec ./*.test.mjs

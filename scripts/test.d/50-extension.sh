#!/usr/bin/env bash
# The example MV3 extension (examples/browser-extension) in Debian's Chromium:
# playwright-core drives /usr/bin/chromium (headless, fresh profile) with the
# extension built from the npm package tessera-companion, against the
# reference broker and the fake Stora (tessera-e2e-env --no-ownership-proof,
# 127.0.0.1, ephemeral ports; it stops when the test process ends or after
# 600 s); then the extension's authorization-proxy build (build.mjs
# --proxy-url) against the reference proxy and the fake Stora
# (tessera-proxy-env, short-lived access tokens), in a fresh profile.
# Screenshots of each step: artifacts/extension/*.png.
# Needs scripts/setup.d/50-browser.sh (chromium, tests/extension/node_modules).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"
target_dir="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"

log "extension: build tessera-e2e-env and tessera-proxy-env"
cargo build --quiet --locked -p tessera-broker --features demo --bin tessera-e2e-env
cargo build --quiet --locked -p tessera-proxy --bin tessera-proxy-env

log "extension: build the npm package"
# The package as published (the `npm pack` tarball), rebuilt so a stale one is never tested.
bash scripts/build-wasm.sh
pkg=$(mktemp -d)
trap 'rm -rf "$pkg"' EXIT
tar -xzf wasm/dist/tessera-companion-*.tgz -C "$pkg" --strip-components=1

log "extension: Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}') + playwright-core"
cd tests/extension
TESSERA_E2E_ENV="$target_dir/debug/tessera-e2e-env" \
TESSERA_PROXY_ENV="$target_dir/debug/tessera-proxy-env" \
TESSERA_COMPANION_PKG="$pkg" \
TESSERA_ARTIFACTS="$TESSERA_ROOT/artifacts/extension" \
    timeout 300 node --test --test-reporter=spec ./extension.test.mjs

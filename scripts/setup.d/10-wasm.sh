#!/usr/bin/env bash
# WASM toolchain for the npm package tessera-companion (wasm/), idempotent:
#  1. a Rust standard library for wasm32-unknown-unknown: Debian's
#     rustc-web/cargo-web/rust-web-src + lld-22 (scripts/build-wasm.sh builds
#     std itself with -Zbuild-std);
#  2. wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock;
#  3. Node >= 20 and the npm dev dependencies under wasm/ (npm ci, from the
#     committed package-lock.json): binaryen's wasm-opt, the interop peer, tsc.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"

need_debs ca-certificates gzip

# ---- 1. wasm32 standard library ------------------------------------------------
# Debian's rustc-web + rust-web-src + lld-22: scripts/build-wasm.sh builds std
# with -Zbuild-std and immediate-abort panics, which is what keeps the plugin
# module within its 84 KiB gzipped gate (rustup's prebuilt std carries the
# panic machinery). Verified recipe: ../shared/TOOLCHAIN.md.
need_debs rustc-web cargo-web rust-web-src lld-22
[ -x /usr/bin/rustc ] && [ -x /usr/lib/llvm-22/bin/wasm-ld ] && [ -d /usr/lib/rustlib/src/rust/library ] \
    || { echo "Debian wasm toolchain incomplete" >&2; exit 1; }
log "wasm32: Debian rustc-web + rust-web-src + lld-22 present"

# ---- 2. wasm-bindgen-cli matching Cargo.lock -------------------------------------
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$want" ] || { echo "wasm-bindgen not found in Cargo.lock" >&2; exit 1; }
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" = "$want" ]; then
    log "wasm-bindgen-cli $want present"
else
    log "installing wasm-bindgen-cli $want (a few minutes)"
    # No --locked: a version it pins is not served any more. Only the
    # wasm-bindgen binary, without the test runner's TLS stack, and a light
    # release profile: the CLI only rewrites one small module (byte-identical
    # output; about 5 CPU-minutes to build here).
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=0 \
        cargo install wasm-bindgen-cli --version "$want" --no-default-features --bin wasm-bindgen --quiet
    wasm-bindgen --version | grep -q " $want" || { echo "wasm-bindgen-cli $want did not install" >&2; exit 1; }
fi

# ---- 3. Node and the npm dev dependencies ------------------------------------------
command -v node >/dev/null || need_debs nodejs npm
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' \
    || { echo "Node >= 20 is required (found $(node --version))" >&2; exit 1; }
cd wasm
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
    && [ -x node_modules/.bin/wasm-opt ]; then
    log "npm dev dependencies present"
else
    log "npm ci (wasm/)"
    npm ci --no-audit --no-fund --loglevel=error
fi

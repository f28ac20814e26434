#!/usr/bin/env bash
# Builds the npm package tessera-companion from wasm/:
#   wasm/pkg/                              the ready-to-publish folder
#   wasm/dist/tessera-companion-<v>.tgz    `npm pack` of that folder
# With --test-hooks, the test build instead (never published; the wasm suite
# runs on it): the same package plus the test hooks (useSeededEntropy, a fixed
# connect `state`, the broker's macChecks) from cargo feature `test-hooks` and
# wasm/test-hooks/, in
# wasm/pkg-test/ and wasm/dist-test/. Same cargo target dir: only the binding
# crate is rebuilt.
# Needs scripts/setup.d/10-wasm.sh (run by scripts/setup.sh) first.
# Env: TESSERA_WASM_TOOLCHAIN=rustup|debian to force a toolchain (default:
# Debian's rustc-web with -Zbuild-std and immediate-abort panics, which gives
# the smallest module; rustup's prebuilt wasm32 std only when Debian's is absent).
set -euo pipefail
shopt -s inherit_errexit # a failed cargo build inside $(cargo_wasm …) must stop the build
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TESSERA_ROOT"

target_dir="$TESSERA_ROOT/target/wasm"
triple=wasm32-unknown-unknown
profile=wasm-release
pkg="$TESSERA_ROOT/wasm/pkg"
dist="$TESSERA_ROOT/wasm/dist"
hooks=()
if [ "${1:-}" = "--test-hooks" ]; then
    pkg="$TESSERA_ROOT/wasm/pkg-test"
    dist="$TESSERA_ROOT/wasm/dist-test"
    hooks=(--features test-hooks)
fi

toolchain=${TESSERA_WASM_TOOLCHAIN:-}
if [ -z "$toolchain" ]; then
    sysroot=$(rustc --print sysroot 2>/dev/null || true)
    if [ -x /usr/bin/rustc ] && [ -x /usr/lib/llvm-22/bin/wasm-ld ] && [ -d /usr/lib/rustlib/src/rust/library ]; then
        toolchain=debian
    elif [ -n "$sysroot" ] && [ -d "$sysroot/lib/rustlib/$triple/lib" ]; then
        toolchain=rustup
    else
        echo "no wasm32 toolchain: run scripts/setup.sh" >&2; exit 1
    fi
fi

# Three modules from the one binding crate:
#   tessera_wasm     the plugin side (no verification exports, no
#                    authorization-proxy mode): what browser extensions ship,
#                    held to the 84 KiB gzipped gate;
#   tessera_proxy    the plugin side with authorization-proxy mode (docs/PROTOCOL.md
#                    §13), the entry `tessera-companion/proxy` (proxy/ in the
#                    package: the same JS beside its own module), gated at 88 KiB;
#   tessera_broker   everything, for brokers on Node (loaded on first use).
# strip=false here: wasm-bindgen reads the target_features section that `strip`
# removes; wasm-opt strips debug info and producers from the final module.
# simd128 (every current browser, Node >= 16.4): SHA-256 ~15% faster, module smaller.
simd="-Ctarget-feature=+simd128"
cargo_wasm() { # cargo_wasm <features args...>: builds, prints the .wasm path
    case "$toolchain" in
        rustup)
            CARGO_TARGET_DIR="$target_dir/rustup" CARGO_PROFILE_WASM_RELEASE_STRIP=false RUSTFLAGS="$simd" \
                cargo build --locked --quiet --target $triple --profile $profile -p tessera-wasm "$@"
            echo "$target_dir/rustup/$triple/$profile/tessera_wasm.wasm"
            ;;
        debian)
            # Debian's Rust ships std sources, not a prebuilt wasm32 std: build it,
            # with panics as bare traps and no panic locations (no panic
            # formatting: ~12% smaller), and the hot std crates at opt-level 3
            # like rustup's prebuilt std (memcpy, allocator: ~25% faster signs).
            CARGO_TARGET_DIR="$target_dir/debian" CARGO_PROFILE_WASM_RELEASE_STRIP=false \
            RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
            RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-22/bin/wasm-ld \
            RUSTFLAGS="$simd -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none" \
                /usr/bin/cargo build --locked --quiet --target $triple --profile $profile \
                --config "profile.$profile.package.core.opt-level=3" \
                --config "profile.$profile.package.alloc.opt-level=3" \
                --config "profile.$profile.package.dlmalloc.opt-level=3" \
                -Zbuild-std=std,panic_abort -p tessera-wasm "$@"
            echo "$target_dir/debian/$triple/$profile/tessera_wasm.wasm"
            ;;
        *) echo "unknown TESSERA_WASM_TOOLCHAIN=$toolchain" >&2; exit 1 ;;
    esac
}

rm -rf "$pkg" && mkdir -p "$pkg/proxy" "$dist"
optimising=() # wasm-opt (the slow step) of one module runs while cargo builds the next
for variant in tessera_wasm tessera_proxy tessera_broker; do
    features=("${hooks[@]}")
    out_dir="$pkg" out_name="$variant"
    case "$variant" in
        tessera_wasm) features+=(--no-default-features) ;;
        tessera_proxy) features+=(--no-default-features --features proxy); out_dir="$pkg/proxy" out_name=tessera_wasm ;;
    esac
    log "cargo build $variant ($toolchain, --profile $profile ${features[*]})"
    out=$(cargo_wasm "${features[@]}")
    # One ESM glue per module for every environment: the Node entry
    # instantiates it synchronously from the file, the browser entry through
    # an explicit init(). (Copied at once: the next build overwrites `out`.)
    wasm-bindgen --target web --no-typescript --out-dir "$out_dir" --out-name "$out_name" "$out"
    wasm_file="$out_dir/${out_name}_bg.wasm"
    (
    raw_before=$(stat -c %s "$wasm_file")
    "$TESSERA_ROOT/wasm/node_modules/.bin/wasm-opt" -Oz --strip-debug --strip-producers --enable-simd \
        --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-reference-types --enable-multivalue \
        "$wasm_file" -o "$wasm_file.opt"
    mv "$wasm_file.opt" "$wasm_file"
    raw=$(stat -c %s "$wasm_file")
    gz=$(gzip -9 -c "$wasm_file" | wc -c)
    log "${variant}_bg.wasm: $raw bytes raw ($raw_before before wasm-opt -Oz), $gz bytes gzipped"
    if [ ${#hooks[@]} -gt 0 ]; then
        : # a test build (never shipped) carries the hooks: the gates are the published build's
    elif [ "$variant" = tessera_wasm ]; then
        # The gate: what a browser extension ships, 84 KiB gzipped (docs/DESIGN.md,
        # decisions of December 2026: cold start is what is measured and
        # optimised; size is a gate, not the goal). 80 KiB until Stora's
        # events (issue 19: the pull, its page checks and cursor, +3.8 KiB)
        # came to the plugin side, with the module at 78.8 KiB before them.
        goal=$((84 * 1024))
        limit=${TESSERA_WASM_GZ_LIMIT:-$goal}
        [ "$gz" -le "$limit" ] || { echo "tessera_wasm_bg.wasm is $gz bytes gzipped, over the $limit-byte budget" >&2; exit 1; }
    elif [ "$variant" = tessera_proxy ]; then
        # What a proxy-mode extension ships instead (opt-in): 88 KiB gzipped.
        limit=${TESSERA_WASM_PROXY_GZ_LIMIT:-$((88 * 1024))}
        [ "$gz" -le "$limit" ] || { echo "proxy/tessera_wasm_bg.wasm is $gz bytes gzipped, over the $limit-byte budget" >&2; exit 1; }
    fi
    ) &
    optimising+=($!)
done
for job in "${optimising[@]}"; do wait "$job"; done

# Hand-written package files.
cp "$TESSERA_ROOT"/wasm/js/*.js "$TESSERA_ROOT"/wasm/js/*.d.ts "$pkg/"
cp "$TESSERA_ROOT/wasm/npm/package.json" "$TESSERA_ROOT/wasm/npm/README.md" "$pkg/"
# The proxy entry: the plugin-side JS beside its own module (no broker exports:
# brokers import tessera-companion/broker).
# The module-bound files are copies (each entry has its own instance); the rest
# are the root's, re-exported, so that TesseraError is one class for both.
for f in api.js driver.js ready.js records.js index.web.js index.web.d.ts; do
    cp "$TESSERA_ROOT/wasm/js/$f" "$pkg/proxy/"
done
for f in conv.js error.js locks.js; do
    printf '// The root entry'"'"'s %s: one TesseraError class for both entries.\nexport * from "../%s";\n' "$f" "$f" >"$pkg/proxy/$f"
done
grep -v 'export \* from "./broker.js";' "$TESSERA_ROOT/wasm/js/index.node.js" >"$pkg/proxy/index.node.js"
if [ ${#hooks[@]} -gt 0 ]; then
    # The test build's JS and types: the hooks appended to the module that owns Companion.
    cat "$TESSERA_ROOT/wasm/test-hooks/api.js" >>"$pkg/api.js"
    cat "$TESSERA_ROOT/wasm/test-hooks/index.web.d.ts" >>"$pkg/index.web.d.ts"
    cat "$TESSERA_ROOT/wasm/test-hooks/api.js" >>"$pkg/proxy/api.js"
    cat "$TESSERA_ROOT/wasm/test-hooks/index.web.d.ts" >>"$pkg/proxy/index.web.d.ts"
    # The broker module's hook (macChecks: the core's count of verification MACs).
    cat "$TESSERA_ROOT/wasm/test-hooks/broker.js" >>"$pkg/broker.js"
    cat "$TESSERA_ROOT/wasm/test-hooks/broker.d.ts" >>"$pkg/broker.d.ts"
fi

crate_version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
pkg_version=$(node -p 'require(process.argv[1]).version' "$pkg/package.json")
[ "$crate_version" = "$pkg_version" ] || {
    echo "wasm/npm/package.json version $pkg_version != workspace version $crate_version" >&2; exit 1; }

rm -f "$dist"/tessera-companion-*.tgz
(cd "$pkg" && npm pack --pack-destination "$dist" --loglevel=error >/dev/null)
log "package: ${pkg#"$TESSERA_ROOT"/}/ and $(ls "$dist"/tessera-companion-*.tgz | sed "s|$TESSERA_ROOT/||")"

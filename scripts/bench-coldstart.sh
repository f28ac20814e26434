#!/usr/bin/env bash
# Cold start of the npm package tessera-companion in a real MV3 service worker
# (Debian's Chromium, headless), against a wasm-free worker: medians and p90
# of forced wakes, warm (the extension's renderer process alive) and cold (a
# new process), with the breakdown fetch / compile / instantiate / first calls.
# Measurements, not a test (not part of scripts/test.sh); a few minutes.
#
#   bash scripts/bench-coldstart.sh [--wakes N] [--baseline PKG] [--no-build]
#
#   --wakes N        wakes per column (default 25; at least 20 for the README)
#   --baseline PKG   a second package measured in the same run, interleaved
#                    (e.g. the previous build): an npm tarball (.tgz) or an
#                    unpacked package directory
#   --no-build       measure wasm/pkg as it is instead of rebuilding it
#
# The package measured is the `npm pack` tarball scripts/build-wasm.sh makes,
# as suite 50-extension tests it. Needs scripts/setup.sh (Chromium, the wasm
# toolchain). The driver is tests/extension/coldstart.mjs (DevTools over a
# pipe, no Playwright: nothing attaches to the workers being timed).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TESSERA_ROOT"

wakes=25
baseline=""
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --wakes) wakes="${2:?--wakes needs a number}"; shift 2 ;;
        --baseline) baseline="${2:?--baseline needs a package}"; shift 2 ;;
        --no-build) build=""; shift ;;
        *) echo "unknown argument: $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ -x /usr/bin/chromium ] || { echo "no /usr/bin/chromium: run scripts/setup.sh" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# unpack SRC DEST: an npm tarball or a package directory → DEST
unpack() {
    mkdir -p "$2"
    if [ -d "$1" ]; then cp -a "$1"/. "$2"/
    else tar -xzf "$1" -C "$2" --strip-components=1
    fi
}

if [ -n "$build" ]; then
    log "coldstart: build the npm package"
    bash scripts/build-wasm.sh
    unpack "$(ls wasm/dist/tessera-companion-*.tgz)" "$work/package"
else
    [ -f wasm/pkg/index.web.js ] || { echo "no wasm/pkg: run scripts/build-wasm.sh" >&2; exit 1; }
    unpack wasm/pkg "$work/package"
fi
base_env=()
if [ -n "$baseline" ]; then
    [ -e "$baseline" ] || { echo "no baseline package at $baseline" >&2; exit 1; }
    unpack "$baseline" "$work/baseline"
    base_env=(TESSERA_COMPANION_PKG_BASE="$work/baseline")
fi

log "coldstart: Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), $wakes wakes per column"
env TESSERA_COMPANION_PKG="$work/package" "${base_env[@]}" COLDSTART_WAKES="$wakes" \
    timeout 1800 node tests/extension/coldstart.mjs

#!/usr/bin/env bash
# The two lifecycle programs of examples/lifecycle — what a newcomer writes
# first — run as written against one tessera-e2e-env (fake Stora + reference
# broker + site stand-in on 127.0.0.1), consent approved by the programs
# themselves (TESSERA_AUTO_CONSENT=1):
#   1. Node: examples/lifecycle/node/lifecycle.mjs on the packed npm package
#      (configured through TESSERA_ENV_FILE, the env's JSON line);
#   2. PHP: examples/lifecycle/php/lifecycle.php on the extension tessera.so
#      (configured through TESSERA_BROKER_URL, _SITE_URL, _RETURN_URL,
#      _STORA_URL), then on the pure-PHP package with `php -n` (TESSERA_ENV_FILE).
# Each must exit 0 and print its seven step lines in order, the last one
# "uninstalled: deregistration ok". Builds nothing when the artifacts of
# 10-wasm / 20-php / 30-e2e are there and newer than their sources.
# TESSERA_E2E_ENV: a tessera-e2e-env binary to use instead of building one.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"
target_dir="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"
started=$SECONDS

# stale ARTIFACT SOURCE...: the artifact is missing or a source file is newer.
stale() {
    local artifact=$1
    shift
    [ ! -e "$artifact" ] || [ -n "$(find "$@" -newer "$artifact" -type f | head -n 1)" ]
}

# The environment binary (30-e2e.sh built it in a full run: then a no-op).
env_bin="${TESSERA_E2E_ENV:-}"
if [ -z "$env_bin" ]; then
    cargo build --quiet --locked -p tessera-broker --bins
    env_bin="$target_dir/debug/tessera-e2e-env"
fi

# The npm package as published, unpacked where `npm install <tarball>` puts it (as 30-e2e.sh does).
tgz=$(ls wasm/dist/tessera-companion-*.tgz 2>/dev/null | head -n 1 || true)
if [ -z "$tgz" ] || stale "$tgz" wasm/src wasm/js wasm/npm wasm/Cargo.toml core/src core/Cargo.toml; then
    bash scripts/build-wasm.sh
    tgz=$(ls wasm/dist/tessera-companion-*.tgz | head -n 1)
fi
mods="$TESSERA_ROOT/examples/lifecycle/node/node_modules"
rm -rf "$mods" && mkdir -p "$mods/tessera-companion"
tar -xzf "$tgz" -C "$mods/tessera-companion" --strip-components=1

# The extension (20-php.sh / 30-e2e.sh built it in a full run).
ext="$target_dir/php/tessera.so"
if stale "$ext" php-ext/src php-ext/Cargo.toml core/src core/Cargo.toml Cargo.lock; then
    ext=$(bash scripts/build-php.sh | tail -n 1)
fi

# One environment for the three runs. Our end of its stdin stays open while we run: if this
# script is killed, the pipe closes and the environment stops by itself.
work=$(mktemp -d)
env_pid=""
cleanup() {
    if [ -n "$env_pid" ]; then
        kill -TERM "$env_pid" 2>/dev/null || true # it stops cleanly, its temporary directory too
        wait "$env_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
# The env's lifetime does not depend on stdin by default: ask for it, so the
# env also goes when this script dies; --max-lifetime bounds a hung run.
coproc ENV { exec "$env_bin" --exit-on-stdin-close --max-lifetime 300 --quiet; }
env_pid=$ENV_PID
IFS= read -r -t 30 line <&"${ENV[0]}" || { echo "35-lifecycle: tessera-e2e-env did not start" >&2; exit 1; }
printf '%s\n' "$line" >"$work/env.json"
field() { php -n -r 'echo json_decode(file_get_contents($argv[1]), true)[$argv[2]];' "$work/env.json" "$1"; }

expected="created registered connect started connected called disconnected uninstalled"
# run NAME CREATED CMD...: runs one program (60 s at most) and shows its output; it must exit 0 and
# print the seven steps in order, its "created" line ending in CREATED and its last line a completed
# deregistration.
run() {
    local name=$1 created=$2 out status=0 steps
    shift 2
    log "lifecycle: $name"
    out=$(TESSERA_AUTO_CONSENT=1 timeout 60 "$@" </dev/null) || status=$?
    printf '%s\n' "$out"
    steps=$(printf '%s\n' "$out" | sed -n 's/^\([a-z ]*\): .*/\1/p' | paste -sd ' ')
    if [ "$status" -ne 0 ] || [ "$steps" != "$expected" ] || ! grep -q "^created: .*$created\$" <<<"$out" \
        || ! printf '%s\n' "$out" | tail -n 1 | grep -q '^uninstalled: deregistration ok'; then
        echo "35-lifecycle: $name: exit status $status, steps '$steps'; expected 0, '$expected'," \
            "'created: …$created' and a last line 'uninstalled: deregistration ok …'" >&2
        exit 1
    fi
    echo "$name: exit 0, all steps, uninstalled"
}

run "Node, examples/lifecycle/node/lifecycle.mjs (TESSERA_ENV_FILE)" "" \
    env TESSERA_ENV_FILE="$work/env.json" node examples/lifecycle/node/lifecycle.mjs
run "PHP, examples/lifecycle/php/lifecycle.php on the extension (TESSERA_*_URL)" "(the tessera extension)" \
    env TESSERA_BROKER_URL="$(field broker_url)" TESSERA_SITE_URL="$(field site_url)" \
    TESSERA_RETURN_URL="$(field return_url)" TESSERA_STORA_URL="$(field stora_url)" \
    php -d "extension=$ext" examples/lifecycle/php/lifecycle.php
run "PHP, examples/lifecycle/php/lifecycle.php on the pure-PHP package, php -n (TESSERA_ENV_FILE)" "(pure PHP)" \
    env TESSERA_ENV_FILE="$work/env.json" php -n examples/lifecycle/php/lifecycle.php

echo "lifecycle: 3 runs in $((SECONDS - started)) s"

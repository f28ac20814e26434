#!/usr/bin/env bash
# End-to-end: the reference broker (examples/broker) and the fake Stora
# (examples/fake-stora) on 127.0.0.1, ephemeral ports, SQLite in temporary
# directories; every server stops by itself.
#   1. Rust: tessera-core's Companion over real HTTP (examples/broker/tests/e2e.rs)
#   2. the demo binary (what scripts/demo.sh runs after setup) must exit 0
#   3. Node: the built npm package tessera-companion (tests/e2e/node)
#   4. PHP: the built extension tessera.so, then the pure-PHP package with no
#      extension loaded (tests/e2e/php, TESSERA_IMPL=pure)
#   5. Scaled out: suite 1's e2e.rs and suite 3's broker tests again, against
#      three broker instances on one throwaway PostgreSQL (scripts/pg.sh)
#      behind one front that spreads requests over them: cross-instance
#      refresh, replay and pacing (issue 19)
# Suites 3 and 4 start `tessera-e2e-env` (fake Stora + broker + site) and, for
# authorization-proxy mode, `tessera-proxy-env` (fake Stora + proxy + site) themselves.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"
target_dir="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"

log "e2e (Rust): plugin -> broker -> fake Stora"
cargo test --locked -p tessera-broker -p fake-stora

log "e2e: the demo"
cargo build --quiet --locked -p tessera-broker -p tessera-proxy --bins
timeout 300 "$target_dir/debug/tessera-demo" >/dev/null
echo "demo: exit 0"
export TESSERA_E2E_ENV="$target_dir/debug/tessera-e2e-env"
# Proxy mode's suites start tessera-proxy-env (fake Stora + proxy + site).
export TESSERA_PROXY_ENV="$target_dir/debug/tessera-proxy-env"

log "e2e (Node): the npm package tessera-companion"
# The package as published: the `npm pack` tarball of scripts/build-wasm.sh
# (test.d/10-wasm.sh built it in a full run; rebuilt here only when missing or
# older than its sources, so a stale tarball is never tested).
tgz=$(ls wasm/dist/tessera-companion-*.tgz 2>/dev/null | head -n 1 || true)
if [ -z "$tgz" ] || [ -n "$(find wasm/src wasm/js wasm/npm wasm/Cargo.toml core/src core/Cargo.toml -newer "$tgz" -type f | head -n 1)" ]; then
    bash scripts/build-wasm.sh
fi
mods="$TESSERA_ROOT/tests/e2e/node/node_modules"
rm -rf "$mods" && mkdir -p "$mods/tessera-companion"
tar -xzf wasm/dist/tessera-companion-*.tgz -C "$mods/tessera-companion" --strip-components=1
(cd tests/e2e/node && timeout 300 node --test --test-reporter=spec ./*.test.mjs)

log "e2e (PHP): the extension tessera.so"
ext=$(bash scripts/build-php.sh | tail -n 1)
timeout 300 php -d "extension=$ext" /usr/bin/phpunit -c tests/e2e/php/phpunit.xml

log "e2e (PHP): the pure-PHP package (php -n, no extension)"
# dom ... xmlwriter are PHPUnit's needs, posix the race test's; the package needs none.
TESSERA_IMPL=pure timeout 300 php -n -d extension=dom -d extension=mbstring -d extension=tokenizer -d extension=xml \
    -d extension=xmlwriter -d extension=posix /usr/bin/phpunit -c tests/e2e/php/phpunit.xml

log "e2e (scaled out): 3 broker instances on one PostgreSQL, behind one front"
# The harness reads these switches (examples/broker/src/harness.rs): every
# environment gets its own database on this server and three instances.
started=$(date +%s)
. scripts/pg.sh
pg_start
export TESSERA_TEST_INSTANCES=3 TESSERA_TEST_DATABASE_URL="$DATABASE_URL"
cargo test --locked -p tessera-broker --lib --test e2e --test scale
# The broker's Node tests (the proxy-mode files start no broker).
(cd tests/e2e/node && timeout 300 node --test --test-reporter=spec e2e.test.mjs errors.test.mjs faults.test.mjs secrets.test.mjs)
pg_stop
echo "scaled out: $(( $(date +%s) - started )) s"

#!/usr/bin/env bash
# Release build of the PHP extension `tessera`.
#
#   scripts/build-php.sh                 -> target/php/tessera.so (what ships, stripped)
#   scripts/build-php.sh --test-hooks    -> target/php/tessera-test.so (cargo feature
#                                           `test-hooks`: adds the test-only functions the
#                                           PHP suite uses, Tessera\Testing\panic(),
#                                           useSeededEntropy(), useClock(), connectUrl()
#                                           with a fixed state; never shipped)
#
# Load it with `php -d extension=$PWD/target/php/tessera.so`.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TESSERA_ROOT"
target_dir="${CARGO_TARGET_DIR:-$TESSERA_ROOT/target}"
features=()
out=tessera.so
if [ "${1:-}" = "--test-hooks" ]; then
    features=(--features test-hooks)
    out=tessera-test.so
fi
log "building the PHP extension ($out)"
cargo build --release --locked -p tessera-php "${features[@]}"
mkdir -p "$target_dir/php"
if [ "$out" = tessera.so ]; then
    # What ships carries no symbol table (the test build keeps it for valgrind).
    strip -o "$target_dir/php/$out.tmp" "$target_dir/release/libtessera.so"
else
    cp "$target_dir/release/libtessera.so" "$target_dir/php/$out.tmp"
fi
mv -f "$target_dir/php/$out.tmp" "$target_dir/php/$out"
echo "$target_dir/php/$out"

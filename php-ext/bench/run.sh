#!/usr/bin/env bash
# Measurements (not a test): builds the shipping extension, prints its
# stripped size, then runs bench.php (signing throughput against a pure-PHP
# signer of the same profile, and per-call overhead). About 15 s.
#
#   bash php-ext/bench/run.sh [seconds per signer and case, default 3]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
so=$(bash "$root/scripts/build-php.sh" | tail -n 1)
echo "tessera.so (stripped): $(stat -c %s "$so") bytes"
php -d extension="$so" "$root/php-ext/bench/bench.php" "${1:-3}"

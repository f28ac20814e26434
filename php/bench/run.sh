#!/usr/bin/env bash
# Measurements (not a test): the pure-PHP package against the native extension,
# side by side (php/bench/bench.php: sign GET, sign POST 1 KiB, verify,
# seal/open, call(), and load + first sign in fresh processes with opcache).
# Builds the shipping extension and Composer's autoloader first. About 30 s.
#
#   bash php/bench/run.sh [seconds per case and implementation, default 1]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
so=$(bash "$root/scripts/build-php.sh" | tail -n 1)
if command -v composer >/dev/null; then
    COMPOSER_HOME="$(mktemp -d)" COMPOSER_ALLOW_SUPERUSER=1 composer dump-autoload -d "$root/php" --no-interaction --quiet
fi
php -n -d extension="$so" -d zend_extension=opcache -d opcache.enable_cli=1 -d opcache.jit=off "$root/php/bench/bench.php" "${1:-1}"

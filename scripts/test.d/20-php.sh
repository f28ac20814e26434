#!/usr/bin/env bash
# PHP extension: release build, stub check, PHPUnit suite, and the same suite
# under valgrind (about 85 s on top of the builds; see php-ext/README.md).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"

# What ships: the stub must describe exactly this build.
so=$(bash scripts/build-php.sh | tail -n 1)
log "stub check"
php -d extension="$so" php-ext/tests/stub-check.php php-ext/tessera.stub.php

# The suite runs on the build with the test-only panic hook (same code plus
# Tessera\Testing\panic()).
test_so=$(bash scripts/build-php.sh --test-hooks | tail -n 1)
log "phpunit"
RUST_BACKTRACE=0 php -d extension="$test_so" "$(command -v phpunit)" -c php-ext/phpunit.xml
log "phpunit under valgrind"
bash php-ext/tests/valgrind.sh "$test_so"

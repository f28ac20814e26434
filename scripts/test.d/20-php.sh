#!/usr/bin/env bash
# PHP: the extension and the pure-PHP package (php/), one suite for both.
#   1. stub check: php-ext/tessera.stub.php against the extension, and against
#      the pure-PHP classes (names, arguments, defaults, returns); the test
#      hooks are absent from the shipped tessera.so and the pure-PHP package,
#      present in the test build and php/tests/testing.php
#      (php-ext/tests/test-hooks-check.php); the exception classes of the
#      stub, the extension and pure PHP against the core's table of error
#      codes (php-ext/tests/codes-check.php)
#   2. PHPUnit (php-ext/tests) against the extension (the --test-hooks build)
#   3. the same PHPUnit suite against the pure-PHP package, loaded through
#      Composer's generated autoloader, under `php -n` without the extension
#      (only PHPUnit's own dom/mbstring/tokenizer/xml/xmlwriter added)
#   3s. the shared tests of php/tests/*Test.php (ArrayKeysTest, ReadmeSnippetsTest,
#      …: not under either phpunit.xml's directory) against the extension, then
#      against pure PHP, through a generated config listing the files
#   3a. pure PHP's lower layer (php/phpunit-internal.xml: ports of the
#      core's unit tests, the Rust oracle fixtures, and with the extension
#      loaded an in-process differential of the two)
#   3b. deliberately wrong pure-PHP drivers: MachineTest against copies of
#      the package with one driver rule broken each must fail, every script
#      that exercises the rule among the failed (php/tests/wrong-drivers.php,
#      about 15 s; the extension's twin, a rebuild per mutant, is
#      scripts/driver-mutants-ext.sh, not run here)
#   4. the differential test: both implementations in one process, 20,000
#      generated cases compared byte for byte (php/tests/differential.php),
#      after a self-test that a planted difference is caught
#   5. the extension's suite under valgrind (about 85 s; see php-ext/README.md)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TESSERA_ROOT"
phpunit="$(command -v phpunit)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# The last line PHPUnit prints: "OK (216 tests, 12256 assertions)" or
# "Tests: 216, Assertions: 12150, Skipped: 2."
summary() { grep -E '^(OK \(|Tests: )' "$1" | tail -n 1; }

# What ships: the stub must describe exactly this build, and the pure package the stub.
so=$(bash scripts/build-php.sh | tail -n 1)
log "stub check"
php -d extension="$so" php-ext/tests/stub-check.php php-ext/tessera.stub.php
php -n php-ext/tests/stub-check.php --pure php-ext/tessera.stub.php
log "error codes: the stub, the extension and pure PHP against the core's table"
cargo run -q --locked -p tessera-core --example codes >"$out/codes.json"
php -n php-ext/tests/codes-check.php "$out/codes.json" --stub php-ext/tessera.stub.php
php -n -d extension="$so" php-ext/tests/codes-check.php "$out/codes.json" --ext php-ext/src/errors.rs
php -n php-ext/tests/codes-check.php "$out/codes.json" --pure

# The suite runs on the test build: the same code plus Tessera\Testing\panic()
# and the test hooks Tessera\Testing\useSeededEntropy(), useClock() and
# connectUrl() with a fixed state, which what ships must not have.
test_so=$(bash scripts/build-php.sh --test-hooks | tail -n 1)
log "test hooks: absent from what ships, present in the test builds"
php -n -d extension="$so" php-ext/tests/test-hooks-check.php shipped "$so"
php -n -d extension="$test_so" php-ext/tests/test-hooks-check.php test
php -n php-ext/tests/test-hooks-check.php pure
log "phpunit: the extension"
RUST_BACKTRACE=0 php -d extension="$test_so" "$phpunit" -c php-ext/phpunit.xml 2>&1 | tee "$out/extension"
ext_summary=$(summary "$out/extension")

log "phpunit: pure PHP (php -n, no extension; through Composer's autoloader)"
COMPOSER_HOME="$out/composer" COMPOSER_ALLOW_SUPERUSER=1 composer dump-autoload -d php --no-interaction
TESSERA_PURE_LOADER=composer php -n -d extension=dom -d extension=mbstring -d extension=tokenizer -d extension=xml -d extension=xmlwriter \
    -d memory_limit=-1 "$phpunit" -c php/phpunit.xml -v 2>&1 | tee "$out/pure"
pure_summary=$(summary "$out/pure")

log "phpunit: php/tests/*Test.php, against the extension then pure PHP"
# Only the top level: php/tests/Internal is the lower layer's (phpunit-internal.xml).
shared_config() { # bootstrap
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo "<phpunit bootstrap=\"$1\" colors=\"false\" cacheResult=\"false\" failOnWarning=\"true\" failOnRisky=\"true\" beStrictAboutOutputDuringTests=\"true\"><testsuites><testsuite name=\"php-tests\">"
    for f in "$TESSERA_ROOT"/php/tests/*Test.php; do echo "<file>$f</file>"; done
    echo '</testsuite></testsuites></phpunit>'
}
shared_config "$TESSERA_ROOT/php-ext/tests/bootstrap.php" >"$out/shared-ext.xml"
shared_config "$TESSERA_ROOT/php/tests/bootstrap.php" >"$out/shared-pure.xml"
RUST_BACKTRACE=0 php -d extension="$test_so" "$phpunit" -c "$out/shared-ext.xml" 2>&1 | tee "$out/shared-ext"
shared_ext_summary=$(summary "$out/shared-ext")
TESSERA_PURE_LOADER=composer php -n -d extension=dom -d extension=mbstring -d extension=tokenizer -d extension=xml -d extension=xmlwriter \
    -d memory_limit=-1 "$phpunit" -c "$out/shared-pure.xml" 2>&1 | tee "$out/shared-pure"
shared_pure_summary=$(summary "$out/shared-pure")

log "phpunit: pure PHP's lower layer (ports of the core's unit tests, oracle fixtures, an in-process differential)"
php -d extension="$test_so" -d memory_limit=-1 "$phpunit" -c php/phpunit-internal.xml 2>&1 | tee "$out/internal"
internal_summary=$(summary "$out/internal")

log "wrong drivers: pure-PHP driver mutants must fail the machine scripts"
php -n php/tests/wrong-drivers.php "$phpunit"

log "differential: extension vs pure PHP"
# First a planted difference must be caught and shrunk (about 1 s), then the
# real run (a new seed each time, printed; TESSERA_DIFF_SEED fixes it).
php -n -d extension="$test_so" php/tests/differential.php --self-test --seed=9 --cases=3000 2>/dev/null | tail -n 1
php -n -d extension="$test_so" php/tests/differential.php ${TESSERA_DIFF_SEED:+--seed="$TESSERA_DIFF_SEED"}

log "php results"
echo "extension: $ext_summary"
echo "pure PHP:  $pure_summary"
echo "internal:  $internal_summary"
echo "php/tests: extension $shared_ext_summary; pure PHP $shared_pure_summary"

log "phpunit under valgrind"
bash php-ext/tests/valgrind.sh "$test_so"

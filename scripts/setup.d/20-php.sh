#!/usr/bin/env bash
# PHP extension toolchain: PHP 8.2 headers + CLI (ext-php-rs runs php-config and
# bindgen at build time, bindgen needs libclang), PHPUnit 9.6 and valgrind for
# the PHP suite, Composer for the pure-PHP package's autoloader (php/:
# `composer dump-autoload -d php`, no network), and a real PSR-18 client for
# the transport tests (php/tests/HttpPsr18Test.php: Guzzle with its PSR-7/17
# factories and the PSR interfaces, autoloaders under /usr/share/php, on PHP's
# default include path; php8.2-curl for Guzzle's curl handler, which the
# extension run uses, while the `php -n` pure run uses its stream handler).
# Installs only what is missing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_debs php8.2-dev php8.2-cli libclang-dev clang phpunit valgrind binutils composer
need_debs php-guzzlehttp-guzzle php-guzzlehttp-psr7 php-psr-http-client php-psr-http-factory php-psr-http-message php8.2-curl

#!/usr/bin/env bash
# PHP extension toolchain: PHP 8.2 headers + CLI (ext-php-rs runs php-config and
# bindgen at build time, bindgen needs libclang), PHPUnit 9.6 and valgrind for
# the PHP suite, Composer for the pure-PHP package's autoloader (php/:
# `composer dump-autoload -d php`, no network). Installs only what is missing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_debs php8.2-dev php8.2-cli libclang-dev clang phpunit valgrind binutils composer

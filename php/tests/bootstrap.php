<?php

/**
 * Bootstrap of the extension's suite (php-ext/tests) in pure mode
 * (php/phpunit.xml): the pure-PHP package provides `Tessera\…`, loaded
 * through the autoloader Composer generates for it (`composer dump-autoload
 * -d php`); then php-ext/tests/bootstrap.php (TESSERA_IMPL=pure) checks that
 * the extension is not loaded and loads the suite's helpers.
 *
 * Without php/vendor/ the Composer-less loader php/autoload.php is used, with
 * a notice; TESSERA_PURE_LOADER=composer (CI) makes Composer's a requirement.
 */

declare(strict_types=1);

(static function (): void {
    $composer = __DIR__ . '/../vendor/autoload.php';
    if (is_file($composer)) {
        require $composer;
        fwrite(STDERR, "pure PHP loaded through Composer's php/vendor/autoload.php\n");
        return;
    }
    if (getenv('TESSERA_PURE_LOADER') === 'composer') {
        fwrite(STDERR, "php/vendor/autoload.php is missing: run `composer dump-autoload -d php` first\n");
        exit(2);
    }
    require __DIR__ . '/../autoload.php';
    fwrite(STDERR, "pure PHP loaded through php/autoload.php (no php/vendor/: `composer dump-autoload -d php` for Composer's)\n");
})();

putenv('TESSERA_IMPL=pure');
require __DIR__ . '/../../php-ext/tests/bootstrap.php';

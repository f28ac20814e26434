<?php

declare(strict_types=1);

// A tiny PSR-4 autoloader for `Tessera\Pure\` → php/src/, so the internal
// suite runs without Composer: `phpunit -c php/phpunit-internal.xml`.
spl_autoload_register(static function (string $class): void {
    $prefix = 'Tessera\\Pure\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/../../src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});

spl_autoload_register(static function (string $class): void {
    $prefix = 'Tessera\\Pure\\Tests\\Internal\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});

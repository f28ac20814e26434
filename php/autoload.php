<?php

/**
 * Loads the pure-PHP Tessera without Composer:
 *
 *     require __DIR__ . '/path/to/tessera-php/autoload.php';
 *
 * A PSR-4 loader for `Tessera\Pure\` (→ src/), then the `Tessera\…` aliases
 * (src/aliases.php: only when the `tessera` extension is not loaded).
 */

declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'Tessera\\Pure\\', 13) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . strtr(substr($class, 13), '\\', '/') . '.php';
    if (is_file($file)) {
        require $file;
    }
});

require __DIR__ . '/src/aliases.php';

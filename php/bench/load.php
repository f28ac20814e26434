<?php
/**
 * One request of the load benchmark (php/bench/bench.php runs it): the time
 * from the start of the script to the end of the first signed request —
 * loading Tessera (the pure-PHP package through php/autoload.php or Composer's
 * vendor/autoload.php; nothing for the extension, loaded at startup),
 * restoring a companion from its state and signing one GET. Prints
 * microseconds. A fresh CLI process each time, or a request to PHP's built-in
 * server (opcache in shared memory across requests, as under PHP-FPM).
 *
 *   php [-d extension=tessera.so] php/bench/load.php extension|autoload|composer STATE_FILE
 *   php -S 127.0.0.1:PORT php/bench/load.php   then GET /?mode=...&state=STATE_FILE
 */

[$mode, $file] = PHP_SAPI === 'cli-server' ? [$_GET['mode'] ?? '', $_GET['state'] ?? ''] : [$argv[1], $argv[2]];
$state = file_get_contents($file); // the plugin's get_option(): not Tessera's cost
$t0 = hrtime(true);
if ($mode === 'autoload') {
    require __DIR__ . '/../autoload.php';
} elseif ($mode === 'composer') {
    require __DIR__ . '/../vendor/autoload.php';
}
$c = Tessera\Companion::importState($state);
$c->signRequest(['method' => 'GET', 'path' => '/api/orders?limit=3']);
$t1 = hrtime(true);
if ((new ReflectionClass($c))->isInternal() !== ($mode === 'extension')) {
    echo "load.php: not the implementation asked for\n";
    exit(2);
}
echo intdiv($t1 - $t0, 1000), "\n";

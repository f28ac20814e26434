<?php
/**
 * Measurements (not a test): the pure-PHP package against the native
 * extension, side by side in one run — sign GET, sign POST 1 KiB, verify,
 * seal, open, a whole call() against a scripted transport — both in this
 * process (`Tessera\Companion` is the extension's, `Tessera\Pure\Companion`
 * the package's), then the cost of loading the package: autoload + restore +
 * first sign, with opcache on: in a fresh CLI process each time (opcache's
 * file cache, so every process after the first starts warm), and per request
 * of PHP's built-in server (opcache in shared memory across requests, as
 * under PHP-FPM or mod_php).
 *
 *   php -n -d extension=$PWD/target/php/tessera.so -d zend_extension=opcache -d opcache.enable_cli=1 \
 *       php/bench/bench.php [seconds per case and implementation, default 1]
 *
 * php/bench/run.sh builds the extension and runs this. Goals (issue 13):
 * pure-PHP sign within 3x the extension and under 25 µs; load + first sign
 * under 2 ms with opcache.
 */

declare(strict_types=1);

if (!extension_loaded('tessera')) {
    fwrite(STDERR, "load the extension: php -n -d extension=/path/to/tessera.so ... php/bench/bench.php\n");
    exit(2);
}
require __DIR__ . '/../autoload.php'; // Tessera\Pure\… (no aliases: the extension is loaded)

$seconds = (float) ($argv[1] ?? 1.0);
const T0 = 1700000000;
const IMPLS = ['extension' => 'Tessera\\', 'pure PHP' => 'Tessera\\Pure\\'];

/** µs per call of $f: the best of 3 rounds of $seconds/3 each (after a warm-up). */
function measure(callable $f, float $seconds): float
{
    for ($i = 0; $i < 200; $i++) {
        $f();
    }
    $best = INF;
    for ($round = 0; $round < 3; $round++) {
        $n = 0;
        $start = hrtime(true);
        $until = $start + (int) ($seconds / 3 * 1e9);
        do {
            for ($i = 0; $i < 100; $i++) {
                $f();
            }
            $n += 100;
            $now = hrtime(true);
        } while ($now < $until);
        $best = min($best, ($now - $start) / $n / 1000);
    }
    return $best;
}

/** A connected companion of either implementation, and its secret. */
function connected(string $ns): array
{
    $C = $ns . 'Companion';
    $c = $C::create(['broker_url' => 'https://broker.example']);
    $secret = null;
    $c->register(
        ['site_url' => 'https://shop.example', 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1.0.0'],
        function (array $r) use (&$secret): array {
            $secret = json_decode($r['body'], true)['secret'];
            return ['status' => 201, 'headers' => [], 'body' => '{}'];
        },
    );
    $url = $c->connectUrl('https://shop.example/wp-admin/admin.php?page=x');
    parse_str((string) parse_url($url, PHP_URL_QUERY), $q);
    $c->completeConnect('state=' . $q['state'] . '&code=cc_bench_code_0123456789', fn (array $r): array => ['status' => 200, 'headers' => [],
        'body' => '{"broker_token":"btk_bench_token_0123456789","account":{"id":"op_bench","name":"Bench Storage"}}']);
    return [$c, $secret];
}

$load = sys_getloadavg();
printf("PHP %s, %d CPUs, opcache %s, load average %.2f %.2f %.2f at start\n", PHP_VERSION, (int) shell_exec('nproc'),
    ini_get('opcache.enable_cli') ? 'on' : 'off', ...$load);

$body1k = '{"note":"' . str_repeat('x', 1013) . '"}'; // 1 KiB of JSON
$key = 'wp-salts-and-keys-0123456789abcdef';
$rows = [];
$results = [];
// The same signed request for both verifiers (the extension signs it).
[$signer, $signerSecret] = connected('Tessera\\');
$signed = $signer->signRequest(['method' => 'GET', 'path' => '/api/orders?limit=3'], T0);
foreach (IMPLS as $label => $ns) {
    [$c, $secret] = connected($ns);
    $V = $ns . 'Verifier';
    $C = $ns . 'Companion';
    $verifier = new $V();
    $secretFor = fn (string $id): ?string => $signerSecret;
    $replay = fn (string $k, int $exp, int $now): bool => true; // a shared store that accepts: the verify work only
    $state = $c->exportState();
    $sealed = $c->sealState($key);
    $ok = fn (array $r): array => ['status' => 200, 'headers' => ['content-type' => 'application/json'], 'body' => '{"data":[]}'];
    $cases = [
        'sign GET' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/api/orders?limit=3']),
        'sign POST 1 KiB' => fn () => $c->signRequest(['method' => 'POST', 'path' => '/api/contacts', 'headers' => ['Content-Type' => 'application/json'], 'body' => $body1k]),
        'verify (GET)' => fn () => $verifier->verify($signed, $secretFor, $replay, T0),
        'seal state' => fn () => $c->sealState($key),
        'open state' => fn () => $C::openState($sealed, $key),
        'call() GET, scripted 200' => fn () => $c->call(['method' => 'GET', 'path' => '/api/orders'], $ok),
        'importState + exportState' => fn () => $C::importState($state)->exportState(),
    ];
    foreach ($cases as $name => $f) {
        $results[$name][$label] = measure($f, $seconds);
    }
}

// Load + first sign, fresh processes, opcache on with a file cache.
$so = null;
foreach (file('/proc/self/maps') ?: [] as $line) {
    if (preg_match('#\s(/\S*tessera[^/\s]*\.so)$#', trim($line), $m)) {
        $so = $m[1];
    }
}
$stateFile = tempnam(sys_get_temp_dir(), 'tessera-bench-state');
file_put_contents($stateFile, connected('Tessera\\')[0]->exportState());
$cache = sys_get_temp_dir() . '/tessera-bench-opcache-' . getmypid();
@mkdir($cache);
$opcache = '-d zend_extension=opcache -d opcache.enable_cli=1 -d opcache.file_cache=' . escapeshellarg($cache) . ' -d opcache.jit=off';
$php = escapeshellarg(PHP_BINARY) . ' -n';
$script = escapeshellarg(__DIR__ . '/load.php');
$runs = 40;
$loads = [
    'extension' => "$php -d extension=" . escapeshellarg((string) $so) . " $opcache $script extension",
    'pure PHP (php/autoload.php)' => "$php $opcache $script autoload",
];
if (is_file(__DIR__ . '/../vendor/autoload.php')) {
    $loads['pure PHP (Composer autoload)'] = "$php $opcache $script composer";
}
$loads['pure PHP (autoload.php), opcache off'] = "$php $script autoload";
$loadUs = [];
$stats = function (array $t): array {
    sort($t);
    return [$t[intdiv(count($t), 2)], $t[(int) floor(count($t) * 0.9)]];
};
foreach ($loads as $name => $cmd) {
    $t = [];
    for ($i = 0; $i <= $runs; $i++) {
        $out = shell_exec("$cmd " . escapeshellarg($stateFile) . ' 2>&1');
        if (!preg_match('/^\d+$/', trim((string) $out))) {
            fwrite(STDERR, "load run failed ($name): $out\n");
            exit(1);
        }
        if ($i > 0) { // the first run fills the file cache
            $t[] = (int) trim($out);
        }
    }
    $loadUs["CLI: $name"] = $stats($t);
}
// The same per request of PHP's built-in server: opcache in shared memory,
// kept across requests, as PHP-FPM or mod_php keep it (what a WordPress host runs).
foreach (['extension' => 'extension', 'pure PHP (php/autoload.php)' => 'autoload'] as $name => $mode) {
    $probe = stream_socket_server('tcp://127.0.0.1:0');
    $port = (int) substr(strrchr(stream_socket_get_name($probe, false), ':'), 1);
    fclose($probe);
    $server = proc_open([PHP_BINARY, '-n', ...($mode === 'extension' ? ['-d', 'extension=' . $so] : []), '-d', 'zend_extension=opcache', '-d', 'opcache.enable=1',
        '-d', 'opcache.jit=off', '-S', "127.0.0.1:$port", __DIR__ . '/load.php'], [0 => ['file', '/dev/null', 'r'], 1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes);
    $url = "http://127.0.0.1:$port/?mode=$mode&state=" . rawurlencode($stateFile);
    for ($i = 0; $i < 50 && @file_get_contents($url) === false; $i++) {
        usleep(100000); // the server starts; this first request also fills opcache
    }
    $t = [];
    for ($i = 0; $i < $runs; $i++) {
        $out = (string) @file_get_contents($url);
        if (!preg_match('/^\d+$/', trim($out))) {
            fwrite(STDERR, "server load run failed ($name): $out\n");
            exit(1);
        }
        $t[] = (int) trim($out);
    }
    $loadUs["server: $name"] = $stats($t);
    proc_terminate($server);
    proc_close($server);
}
unlink($stateFile);
exec('rm -rf ' . escapeshellarg($cache));

// The table.
printf("\n%-30s %12s %12s %8s\n", 'per call (best of 3 rounds)', 'extension', 'pure PHP', 'ratio');
foreach ($results as $name => $r) {
    printf("%-30s %9.2f µs %9.2f µs %7.1fx\n", $name, $r['extension'], $r['pure PHP'], $r['pure PHP'] / $r['extension']);
}
printf("\n%-52s %10s %10s\n", "load + restore + first sign ($runs runs each)", 'median', 'p90');
echo "  CLI: a fresh process each time, opcache file cache (warm); server: php -S, opcache in shared memory\n";
foreach ($loadUs as $name => [$median, $p90]) {
    printf("%-52s %7.2f ms %7.2f ms\n", $name, $median / 1000, $p90 / 1000);
}
$pureLoad = $loadUs['CLI: pure PHP (php/autoload.php)'][0] / 1000;
$pureServer = $loadUs['server: pure PHP (php/autoload.php)'][0] / 1000;
$sign = $results['sign GET'];
$post = $results['sign POST 1 KiB'];
printf("\ngoals: pure-PHP sign GET %.1f µs (< 25 µs: %s), %.1fx the extension (<= 3x: %s); sign POST 1 KiB %.1fx (%s);\n"
    . "       load + first sign with opcache %.2f ms per request under php -S, %.2f ms per fresh CLI process (< 2 ms: %s, %s)\n",
    $sign['pure PHP'], $sign['pure PHP'] < 25 ? 'yes' : 'NO', $sign['pure PHP'] / $sign['extension'], $sign['pure PHP'] / $sign['extension'] <= 3 ? 'yes' : 'NO',
    $post['pure PHP'] / $post['extension'], $post['pure PHP'] / $post['extension'] <= 3 ? 'yes' : 'NO', $pureServer, $pureLoad,
    $pureServer < 2 ? 'yes' : 'NO', $pureLoad < 2 ? 'yes' : 'NO');
$load = sys_getloadavg();
printf("load average %.2f %.2f %.2f at the end (other processes on this machine skew the numbers)\n", ...$load);

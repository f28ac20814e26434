<?php
/**
 * Measurements (not a test): signing throughput of the extension against a
 * straightforward pure-PHP signer of the same profile (hash_hmac/hash, what a
 * plugin author would write by hand), and the per-call overhead of a trivial
 * extension method.
 *
 *   php -d extension=$PWD/target/php/tessera.so php-ext/bench/bench.php [seconds per signer and case, default 3]
 *
 * The pure-PHP signer is first checked to produce byte-identical requests to
 * the extension for fixed inputs, so both do the same work.
 */

declare(strict_types=1);

use Tessera\Companion;

if (!extension_loaded('tessera')) {
    fwrite(STDERR, "load the extension: php -d extension=/path/to/tessera.so php-ext/bench/bench.php\n");
    exit(2);
}
$seconds = (float) ($argv[1] ?? 3.0);

/** The Tessera signing profile in plain PHP, for a normalised broker URL + path. */
final class PhpSigner
{
    public function __construct(
        private string $brokerUrl,
        private string $installId,
        private string $secret,      // raw bytes
        private ?string $token,
    ) {
    }

    private static function b64url(string $bytes): string
    {
        return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
    }

    private static function uuid4(): string
    {
        $b = random_bytes(16);
        $b[6] = chr((ord($b[6]) & 0x0f) | 0x40);
        $b[8] = chr((ord($b[8]) & 0x3f) | 0x80);
        $h = bin2hex($b);
        return substr($h, 0, 8) . '-' . substr($h, 8, 4) . '-' . substr($h, 12, 4) . '-' . substr($h, 16, 4) . '-' . substr($h, 20);
    }

    /** @param array{method: string, path: string, headers?: array<string, string>, body?: string} $req */
    public function sign(array $req, ?int $now = null, ?string $nonce = null, ?string $idempotencyKey = null): array
    {
        $now ??= time();
        $nonce ??= self::b64url(random_bytes(16));
        $method = strtoupper($req['method']);
        $body = $req['body'] ?? '';
        $url = $this->brokerUrl . $req['path'];
        $parts = parse_url($url);
        $authority = $parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : '');
        $path = $parts['path'] ?? '/';
        $query = isset($parts['query']) ? '?' . $parts['query'] : '?';

        $headers = [];
        foreach ($req['headers'] ?? [] as $k => $v) {
            $headers[strtolower($k)] = trim($v);
        }
        unset($headers['authorization'], $headers['content-digest'], $headers['signature'], $headers['signature-input']);
        $headers['content-digest'] = 'sha-256=:' . base64_encode(hash('sha256', $body, true)) . ':';
        if ($this->token !== null) {
            $headers['authorization'] = 'Bearer ' . $this->token;
        }
        if (!isset($headers['idempotency-key']) && ($idempotencyKey !== null || $method === 'POST' || $method === 'PATCH')) {
            $headers['idempotency-key'] = $idempotencyKey ?? self::uuid4();
        }

        $components = ['"@method"', '"@authority"', '"@path"', '"@query"'];
        $base = "\"@method\": $method\n\"@authority\": $authority\n\"@path\": $path\n\"@query\": $query\n";
        foreach (['content-type', 'content-digest', 'authorization', 'idempotency-key'] as $h) {
            if (isset($headers[$h])) {
                $components[] = "\"$h\"";
                $base .= "\"$h\": {$headers[$h]}\n";
            }
        }
        $params = '(' . implode(' ', $components) . ')'
            . ";created=$now;expires=" . ($now + 300) . ";nonce=\"$nonce\";alg=\"hmac-sha256\";keyid=\"{$this->installId}\";tag=\"tessera-v1\"";
        $base .= "\"@signature-params\": $params";
        $sig = base64_encode(hash_hmac('sha256', $base, $this->secret, true));

        $out = [];
        foreach (['content-type', 'content-digest', 'authorization', 'idempotency-key'] as $h) {
            if (isset($headers[$h])) {
                $out[$h] = $headers[$h];
                unset($headers[$h]);
            }
        }
        $out += $headers;
        $out['signature-input'] = "tessera=$params";
        $out['signature'] = "tessera=:$sig:";
        return ['method' => $method, 'url' => $url, 'headers' => $out, 'body' => $body];
    }
}

// A connected companion (no network: the broker's answers are given by hand).
$c = Companion::create(['broker_url' => 'https://broker.example']);
$reg = $c->registrationRequest(['site_url' => 'https://shop.example', 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1.0.0']);
$secret = json_decode($reg['body'], true)['secret'];
$c->handleRegistrationResponse(['status' => 201, 'headers' => [], 'body' => '{}']);
parse_str((string) parse_url($c->connectUrl('https://shop.example/cb'), PHP_URL_QUERY), $q);
$c->completeConnect(
    "state={$q['state']}&code=cc_bench0123456789abcd",
    fn (array $request): array => ['status' => 200, 'headers' => [], 'body' => '{"broker_token":"btk_bench_token","account":{"id":"op_bench","name":"Bench"}}'],
);
$php = new PhpSigner('https://broker.example', (string) $c->installId(), base64_decode(strtr($secret, '-_', '+/')), 'btk_bench_token');

$requests = [
    'GET /api/orders?limit=3' => ['method' => 'GET', 'path' => '/api/orders?limit=3'],
    'POST 1 KiB JSON' => ['method' => 'POST', 'path' => '/api/events', 'headers' => ['Content-Type' => 'application/json'], 'body' => json_encode(['items' => str_repeat('x', 1000)])],
];

// Same profile, byte for byte, for fixed inputs.
foreach ($requests as $name => $req) {
    $a = $c->signRequest($req, 1700000000, 'bench-nonce', 'bench-idem');
    $b = $php->sign($req, 1700000000, 'bench-nonce', 'bench-idem');
    if ($a !== $b) {
        fwrite(STDERR, "the pure-PHP signer differs from the extension for $name:\n" . var_export([$a, $b], true) . "\n");
        exit(1);
    }
}

/** Runs $f repeatedly for about $seconds; returns calls per second. */
function rate(callable $f, float $seconds): float
{
    $n = 0;
    $batch = 1000;
    $start = hrtime(true);
    $deadline = $start + (int) ($seconds * 1e9);
    do {
        for ($i = 0; $i < $batch; $i++) {
            $f();
        }
        $n += $batch;
        $now = hrtime(true);
    } while ($now < $deadline);
    return $n / (($now - $start) / 1e9);
}

function median(array $xs): float
{
    sort($xs);
    $n = count($xs);
    return $n % 2 ? $xs[intdiv($n, 2)] : ($xs[$n / 2 - 1] + $xs[$n / 2]) / 2;
}

// The machine may be shared: alternate short runs of both signers and report
// medians (and the median of the per-round ratios).
$rounds = 9;
printf("PHP %s, %s; %d alternating rounds of %.2f s per signer and case\n", PHP_VERSION, php_uname('m'), $rounds, $seconds / $rounds);
printf("%-26s %14s %14s %8s\n", 'signing (fresh nonce)', 'extension/s', 'pure PHP/s', 'ratio');
foreach ($requests as $name => $req) {
    $ext = $pure = $ratio = [];
    for ($r = 0; $r < $rounds; $r++) {
        $e = rate(fn () => $c->signRequest($req), $seconds / $rounds);
        $p = rate(fn () => $php->sign($req), $seconds / $rounds);
        $ext[] = $e;
        $pure[] = $p;
        $ratio[] = $e / $p;
    }
    printf("%-26s %14s %14s %7.2fx\n", $name, number_format(median($ext)), number_format(median($pure)), median($ratio));
}

final class Noop
{
    public function status(): string
    {
        return 'connected';
    }
}
$noop = new Noop();
$n = 1_000_000;
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $c->status();
}
$ext = (hrtime(true) - $t) / $n;
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $noop->status();
}
$user = (hrtime(true) - $t) / $n;
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    strlen('connected');
}
$builtin = (hrtime(true) - $t) / $n;
printf("trivial method: Companion::status() %.0f ns/call; PHP method returning a string %.0f ns/call; loop + strlen() %.0f ns/call\n", $ext, $user, $builtin);

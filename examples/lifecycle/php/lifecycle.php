<?php
// The lifecycle of a web-site installation (a WordPress-style plugin) with Tessera, against a local
// broker and the fake Stora (`bash scripts/dev-env.sh`; see ../README.md). Runs on the `tessera`
// extension when it is loaded, else on the pure-PHP package (php -n works too).
declare(strict_types=1);

use Tessera\Companion;
use Tessera\Exception\TransportException;

extension_loaded('tessera') || require dirname(__DIR__, 3) . '/php/autoload.php'; // or Composer's, or a bundled copy
$file = getenv('TESSERA_ENV_FILE') ? json_decode(file_get_contents(getenv('TESSERA_ENV_FILE')), true) : [];
$env = fn (string $name) => getenv('TESSERA_' . strtoupper($name)) ?: ($file[$name] ?? null);
[$brokerUrl, $siteUrl, $returnUrl] = [$env('broker_url'), $env('site_url'), $env('return_url')];
if (!$brokerUrl || !$siteUrl || !$returnUrl) throw new RuntimeException('set TESSERA_ENV_FILE or TESSERA_*_URL');

/** The transport: send once, never follow a redirect, return every status; no answer → TransportException. */
function send(array $req): array
{
    $headers = array_map(fn ($n, $v) => "$n: $v", array_keys($req['headers'] ?? []), $req['headers'] ?? []);
    $context = stream_context_create(['http' => ['method' => $req['method'], 'header' => $headers,
        'content' => $req['body'] ?? '', 'ignore_errors' => true, 'follow_location' => 0, 'timeout' => 15]]);
    $body = @file_get_contents($req['url'], false, $context);
    if ($body === false || empty($http_response_header)) {
        throw new TransportException('cannot reach ' . parse_url($req['url'], PHP_URL_HOST));
    }
    preg_match_all('/^([^:]+):\s*(.*)$/m', implode("\n", array_slice($http_response_header, 1)), $h);
    $headers = array_change_key_case(array_combine($h[1], $h[2])); // one value per name is enough here
    return ['status' => (int) explode(' ', $http_response_header[0])[1], 'headers' => $headers, 'body' => $body];
}

// The options table stand-in (get_option / update_option); the seal key comes from wp-config.php's salts.
$option = sys_get_temp_dir() . '/tessera-lifecycle-' . getmypid() . '.state';
$key = random_bytes(32); // LOGGED_IN_KEY . LOGGED_IN_SALT
$persist = fn (string $sealed) => file_put_contents($option, $sealed); // arrives sealed: store it as is
$stored = is_file($option) ? file_get_contents($option) : false;     // get_option() is false on a fresh site

$c = $stored === false
    ? Companion::create(config: ['broker_url' => $brokerUrl], sealKey: $key)
    : Companion::openState(sealed: $stored, keyMaterial: $key);
echo 'created: a companion for ', $brokerUrl, extension_loaded('tessera') ? ' (the tessera extension)' : ' (pure PHP)', "\n";

// A WordPress plugin serves the proof from a REST route; the dev env's site stand-in takes it by PUT.
$serveProof = fn (array $proof) => send(['method' => 'PUT', 'url' => $siteUrl . $proof['path'], 'body' => $proof['body']]);
$c->register(
    registration: ['site_url' => $siteUrl, 'admin_email' => 'owner@shop.example', 'platform' => 'wordpress',
        'plugin_version' => '1.0.0'],
    transport: send(...), persist: $persist, serveProof: $serveProof,
);
echo "registered: installation {$c->installId()} (status {$c->status()})\n";

// Next request (the settings page): reopen the stored state, show the Connect button.
$c = Companion::openState(sealed: file_get_contents($option), keyMaterial: $key);
$connectUrl = $c->connectUrl(returnUrl: $returnUrl);
$persist($c->sealState(keyMaterial: $key)); // the pending connect is part of the state
echo "connect started: the operator opens the connect URL in a browser and approves at Stora\n";

$auto = getenv('TESSERA_AUTO_CONSENT') === '1';
$callback = $auto ? approve($connectUrl, $returnUrl, $env('stora_url')) : ask($connectUrl);
$account = $c->completeConnect(callback: $callback, transport: send(...), persist: $persist)['account'];
echo "connected: Stora account {$account['name']} ({$account['id']})\n";

$res = $c->call(request: ['method' => 'GET', 'path' => '/api/orders?limit=5'], transport: send(...), persist: $persist);
$orders = json_decode($res['body'], true)['data'];
printf("called: GET /api/orders answered %d with %d orders\n", $res['status'], count($orders));

$remote = $c->disconnect(transport: send(...), persist: $persist)['remote'];
echo "disconnected: {$remote['result']} (status {$c->status()})\n";
$report = $c->uninstall(transport: send(...), persist: $persist);
unlink($option); // delete_option()
echo "uninstalled: deregistration {$report['deregister']['result']} (status {$c->status()})\n";

/** Without a browser: print the URL, read back the address the browser ended on. */
function ask(string $url): string
{
    echo "Open in a browser, click Continue, then Approve:\n  $url\nPaste the address it ends on (the settings page):\n> ";
    return trim((string) fgets(STDIN));
}

/** TESSERA_AUTO_CONSENT=1 (the test runner): a browser that clicks Continue, then Approve on the fake Stora. */
function approve(string $url, string $returnUrl, ?string $storaUrl): string
{
    $cookies = []; // host => "name=value": the broker binds the round to the browser
    for ($hops = 0; $hops < 10 && !str_starts_with($url, $returnUrl); $hops++) {
        $host = parse_url($url, PHP_URL_HOST) . ':' . parse_url($url, PHP_URL_PORT);
        $r = send(['method' => 'GET', 'url' => $url, 'headers' => array_filter(['cookie' => $cookies[$host] ?? ''])]);
        $cookies[$host] = explode(';', $r['headers']['set-cookie'] ?? $cookies[$host] ?? '')[0];
        $id = $storaUrl && str_starts_with($url, $storaUrl) ? 'approve' : 'continue';
        $link = preg_match("/id=\"$id\" href=\"([^\"]+)\"/", $r['body'], $m) ? html_entity_decode($m[1]) : null;
        $next = $r['headers']['location'] ?? $link ?? throw new RuntimeException("consent stopped at $url: TESSERA_STORA_URL?");
        $url = str_contains($next, '://') ? $next : preg_replace('#^(\w+://[^/]+).*#', '$1', $url) . $next;
    }
    return $url;
}

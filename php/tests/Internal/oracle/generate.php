<?php

declare(strict_types=1);

/*
 * Regenerates php/tests/Internal/fixtures/oracle.jsonl: generated inputs for
 * the lower layer, answered by the Rust core through the oracle program
 * (core/examples/php_oracle.rs). Run after a deliberate core change, then review the diff:
 *
 *   cargo build --release -p tessera-core --example php_oracle
 *   php php/tests/Internal/oracle/generate.php target/release/examples/php_oracle [cases-per-op]
 */

use Tessera\Pure\Tests\Internal\OracleGen as G;

require __DIR__ . '/../bootstrap.php';

$oracle = $argv[1] ?? exit("usage: generate.php <oracle binary> [cases per op] [seed] [output file]\n");
$per = (int) ($argv[2] ?? 150);
mt_srand((int) ($argv[3] ?? 20261202));
$g = new G();
$cases = [];
$add = static function (array $c) use (&$cases): void {
    $cases[] = $c;
};

for ($i = 0; $i < $per * 2; $i++) {
    $add(['op' => 'url', 'text' => $g->url(), 'tail' => $g->tail()]);
}
for ($i = 0; $i < $per * 2; $i++) {
    $add(['op' => 'sfv', 'text' => $g->sfvText()]);
}
for ($i = 0; $i < $per; $i++) {
    $add(['op' => 'date', 'text' => $g->date(), 't' => G::pick([0, -5, \PHP_INT_MAX, \PHP_INT_MIN, mt_rand(0, 253_402_300_799), 951_868_799])]);
}
for ($i = 0; $i < $per * 2; $i++) {
    $add(['op' => 'json', 'hex' => bin2hex($g->jsonBytes())]);
}
for ($i = 0; $i < $per; $i++) {
    $s = G::junk(10);
    $add(['op' => 'jsonw', 'text' => $s . "\x00\x1f\x7f\u{2028}"]);
    $add(['op' => 'b64', 'text' => G::pick([base64_encode(G::bytes(mt_rand(0, 9))), rtrim(strtr(base64_encode(G::bytes(mt_rand(0, 9))), '+/', '-_'), '='), G::mutate(base64_encode(G::bytes(mt_rand(1, 9))))])]);
    $add(['op' => 'pct', 'text' => G::junk(6)]);
    $add(['op' => 'email', 'text' => $g->email()]);
    $add(['op' => 'site', 'text' => $g->site()]);
    $add(['op' => 'proof'] + $g->proofCase());
    $add(['op' => 'classify'] + $g->classifyCase());
    $add(['op' => 'generic'] + $g->genericCase());
    $add(['op' => 'seeded', 'seed' => bin2hex(G::bytes(32)), 'lens' => [mt_rand(0, 70), 16, 0, 33, mt_rand(1, 100)]]);
    $pt = G::bytes(mt_rand(0, 40));
    $key = G::bytes(G::pick([0, 15, 16, 32, 64]));
    $add(['op' => 'seal', 'pt' => bin2hex($pt), 'key' => bin2hex($key), 'nonce' => bin2hex(G::bytes(24))]);
    $nonce = G::bytes(24);
    $k2 = G::bytes(32);
    $sealed = \Tessera\Pure\Internal\Seal::seal($pt, $k2, $nonce);
    $sealed = G::pick([$sealed, " {$sealed}\n", "\u{a0}{$sealed}", G::mutate($sealed), substr($sealed, 0, 20), 'tsv1.', "tsv1.\u{e9}",
        $sealed . '=']);
    $add(['op' => 'open', 'sealed' => $sealed, 'key' => bin2hex(G::pick([$k2, $k2, G::bytes(32), 'short']))]);
    $now = 1_700_000_000;
    $add(['op' => 'connect', 'url' => $g->connectUrl($now), 'now' => $now + G::pick([0, 0, 5, -5]),
        'secrets' => ['ins_O9w3RAV1LOPU_4UYwjMgeg' => $g->secret()]]);
    $add(['op' => 'ticket', 'install_id' => G::pick(['ins_O9w3RAV1LOPU_4UYwjMgeg', 'ins_O9w3RAV1LOPU_4UYwjMgeg', 'ins_x']),
        'url' => $g->ticket($now), 'now' => $now, 'max_age' => G::pick([2_592_000, 0, 10]),
        'secrets' => ['ins_O9w3RAV1LOPU_4UYwjMgeg' => $g->secret(), 'ins_x' => $g->secret()]]);
    $add(['op' => 'linksig', 'secret' => $g->secret(), 'context' => G::pick(['tessera-connect-v1', 'tessera-uninstall-v1']),
        'pairs' => [['install_id', 'ins_a'], ['state', G::junk(4)], ['return_url', $g->url()]]]);
    $reqs = [];
    for ($j = mt_rand(1, 4); $j > 0; $j--) {
        [$r, $t] = $g->signedRequest();
        $r['now'] = $t + (G::chance(70) ? 0 : G::pick([300, 301, -300, -301]));
        $reqs[] = G::chance(50) ? $g->mutateRequest($r) : $r;
        if (G::chance(30)) {
            $reqs[] = $r;
        }
    }
    $add(['op' => 'verify', 'secrets' => ['ins_O9w3RAV1LOPU_4UYwjMgeg' => $g->secret()], 'requests' => $reqs,
        'window' => G::chance(85) ? 300 : G::pick([0, 600, 86_400, 86_401, -1]), 'capacity' => G::pick([1024, 1, 2])]);
}

// Issue 14 item 2: `expires` other than `created + 300` (validly MACed) and
// the per-installation replay bound (two installations, small shares).
// Appended after the cases above, so their inputs stay the same.
for ($i = 0; $i < intdiv($per, 3); $i++) {
    $reqs = [];
    for ($j = mt_rand(2, 8); $j > 0; $j--) {
        [$r, $t] = $g->signedRequest();
        $r['now'] = $t + (G::chance(80) ? 0 : G::pick([300, 301]));
        $reqs[] = G::chance(25) ? $g->withExpires($r, G::pick([3600, 301, 299, 0, -1, 300])) : $r;
        if (G::chance(20)) {
            $reqs[] = $r;
        }
    }
    $add(['op' => 'verify', 'secrets' => ['ins_O9w3RAV1LOPU_4UYwjMgeg' => $g->signingSecret(), 'ins_other' => $g->signingSecret()],
        'requests' => $reqs, 'window' => G::pick([300, 300, 600, 86_400]), 'capacity' => G::pick([1, 2, 3])]);
}

// The connect completion (docs/PROTOCOL.md §5.4.1): return URLs that carry
// `code` (refused) or `broker_token` (allowed now), and account checks.
// Appended, so the inputs above stay the same.
for ($i = 0; $i < intdiv($per, 3); $i++) {
    $ret = G::pick(['https://s.example/cb?code=1', 'https://s.example/cb?broker_token=1', 'https://s.example/cb?a=1&%63ode=x',
        'https://s.example/cb?codes=1', 'chrome-extension://abcdef/o.html?code', 'https://s.example/cb?x=' . G::junk(3)]);
    $add(['op' => 'connect', 'url' => $g->connectUrl($now, $ret), 'now' => $now + G::pick([0, 5, -5]),
        'secrets' => ['ins_O9w3RAV1LOPU_4UYwjMgeg' => $g->secret()]]);
    $add(['op' => 'account', 'id' => G::accountText(), 'name' => G::accountText()]);
    $add(['op' => 'account', 'id' => G::pick(['op_7', 'x']), 'name' => G::accountText()]);
}

$inFile = tempnam(sys_get_temp_dir(), 'oracle');
file_put_contents($inFile, implode("\n", array_map(fn ($c) => json_encode($c, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES), $cases)) . "\n");
$proc = proc_open([$oracle], [0 => ['file', $inFile, 'r'], 1 => ['pipe', 'w']], $pipes);
$out = explode("\n", rtrim(stream_get_contents($pipes[1]), "\n"));
unlink($inFile);
if (proc_close($proc) !== 0 || \count($out) !== \count($cases)) {
    exit("oracle failed\n");
}
$lines = [];
foreach ($cases as $i => $c) {
    $lines[] = json_encode(['in' => $c, 'out' => json_decode($out[$i], true, 512, JSON_THROW_ON_ERROR)], JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES);
}
$target = $argv[4] ?? __DIR__ . '/../fixtures/oracle.jsonl';
@mkdir(\dirname($target));
file_put_contents($target, implode("\n", $lines) . "\n");
echo \count($cases), " cases\n";

<?php

/**
 * Deliberately wrong drivers: the machine-script replay (php-ext/tests/
 * MachineTest.php) must catch a pure-PHP driver that breaks the host contract
 * (docs/HOST-CONTRACT.md). For each hand-made mutant below, the package (php/
 * src and autoload.php) is copied to a temporary directory, one exact snippet
 * of the driver (src/Internal/Host.php) or its glue (src/Companion.php) is
 * replaced (it must occur exactly once), and MachineTest runs against the copy
 * in a child `php -n` (TESSERA_IMPL=pure, TESSERA_PURE_DIR=the copy). Each
 * mutant must fail it, and every script that exercises the broken rule must be
 * among the failed ones (MachineTest lists them in TESSERA_REPLAY_FAILED). An
 * unmutated copy must pass, so the harness itself is sound. The JS twin is
 * wasm/test/machine.test.mjs ("deliberately wrong drivers"); the extension's
 * is scripts/driver-mutants-ext.sh.
 *
 *   php -n php/tests/wrong-drivers.php [/usr/bin/phpunit]
 *
 * Prints one line per mutant (how many scripts and tests failed); exits 1 if
 * a mutant survives or the unmutated copy fails.
 *
 *   php -n php/tests/wrong-drivers.php --check "NAME" failed.json
 *
 * checks a list of failed scripts (TESSERA_REPLAY_FAILED) against the scripts
 * that exercise mutant NAME's rule (scripts/driver-mutants-ext.sh, whose
 * mutants of php-ext/src/host.rs break the same rules): exits 1 if one of
 * them is missing.
 */

declare(strict_types=1);

const ROOT = __DIR__ . '/../..';
/** Run this many children at once (2 cores). */
const PARALLEL = 2;

/** @return list<array> every replayable script of tests/vectors/machine*.json, with its file */
function scripts(): array
{
    $out = [];
    foreach (glob(ROOT . '/tests/vectors/machine*.json') as $file) {
        foreach (json_decode((string) file_get_contents($file), true, 512, JSON_THROW_ON_ERROR)['scripts'] as $s) {
            // As MachineTest::unreplayable(): a PHP transport's only transport error is `network`.
            foreach ($s['steps'] as $step) {
                if ($step['event']['type'] === 'transport_error' && $step['event']['kind'] !== 'network') {
                    continue 2;
                }
            }
            $out[] = $s + ['file' => basename($file)];
        }
    }
    return $out;
}

/** @return list<string> "file: name" of the scripts matching $pred */
function where(callable $pred): array
{
    return array_values(array_map(fn ($s) => "{$s['file']}: {$s['name']}", array_filter(scripts(), $pred)));
}

/** @return list<string> the scripts with a step matching $pred */
function with_step(callable $pred): array
{
    return where(fn ($s) => array_filter($s['steps'], $pred) !== []);
}

/** @return list<array{name: string, file: string, from: string, to: string, mustFail: list<string>}> */
function mutants(): array
{
    $action = fn (string $type) => fn ($st) => ($st['action']['type'] ?? null) === $type;
    $event = fn (string $type) => fn ($st) => $st['event']['type'] === $type;
    return [
        [
            'name' => 'skips the persist',
            'file' => 'src/Internal/Host.php',
            'from' => '($this->persist)($state);',
            'to' => '',
            'mustFail' => with_step($action('persist')),
        ],
        [
            'name' => 'retries a failed transport on its own',
            'file' => 'src/Internal/Host.php',
            'from' => "return Event::transportError(Event::NETWORK);\n            }\n            throw \$e;",
            'to' => "try {\n                    \$z = (\$this->transport)(\$arr);\n                } catch (\\Throwable \$again) {\n"
                . "                    return Event::transportError(Event::NETWORK);\n                }\n            } else {\n                throw \$e;\n            }",
            'mustFail' => with_step($event('transport_error')),
        ],
        [
            'name' => 'takes any exception from the transport for a transport error',
            'file' => 'src/Internal/Host.php',
            'from' => 'if (self::isTransportException($e)) {',
            'to' => 'if (true) {',
            // The host's own exception (the script's abort) must abandon the operation.
            'mustFail' => where(fn ($s) => array_filter(
                array_keys($s['steps']),
                fn ($i) => $i > 0 && $s['steps'][$i]['event']['type'] === 'abort' && ($s['steps'][$i - 1]['action']['type'] ?? null) === 'send',
            ) !== []),
        ],
        [
            'name' => 'reads the clock again after sleeping',
            'file' => 'src/Internal/Host.php',
            'from' => 'Action::SLEEP => $this->sleep($action->ms),',
            'to' => 'Action::SLEEP => [$this->sleep($action->ms), $hooks->now()][0],',
            'mustFail' => with_step($action('sleep')),
        ],
        [
            'name' => 'reads the clock before sending instead of before feeding the answer',
            'file' => 'src/Internal/Host.php',
            'from' => 'Action::SEND => $this->send($action->request),',
            'to' => 'Action::SEND => [$hooks->now(), $this->send($action->request)][1],',
            'mustFail' => with_step($action('send')),
        ],
        [
            'name' => 'sleeps seconds instead of milliseconds',
            'file' => 'src/Internal/Host.php',
            'from' => '($this->sleep)($ms);',
            'to' => '($this->sleep)(intdiv($ms, 1000));',
            'mustFail' => with_step(fn ($st) => ($st['action']['type'] ?? null) === 'sleep' && $st['action']['ms'] !== intdiv($st['action']['ms'], 1000)),
        ],
        [
            'name' => 'does not sleep',
            'file' => 'src/Internal/Host.php',
            'from' => "if (\$this->sleep !== null) {\n            (\$this->sleep)(\$ms);\n        } else {",
            'to' => 'if ($this->sleep === null) {',

            'mustFail' => with_step($action('sleep')),
        ],
        [
            'name' => 'serves the proof even when told to defer',
            'file' => 'src/Internal/Host.php',
            'from' => 'return $served === false ? Event::proofDeferred() : Event::proofServed();',
            'to' => 'return Event::proofServed();',
            'mustFail' => with_step($event('proof_deferred')),
        ],
        [
            'name' => 'skips the unlock',
            'file' => 'src/Internal/Host.php',
            'from' => 'Action::UNLOCK => $this->unlock((string) $action->name),',
            'to' => 'Action::UNLOCK => Event::unlocked(),',
            'mustFail' => with_step($action('unlock')),
        ],
        [
            'name' => 'drops the account from the connect completion',
            'file' => 'src/Companion.php',
            'from' => 'return Binding::run($this, fn (CompanionCore $c): Call => Machine::startCompleteConnect($c, $callback, $now), $host);',
            'to' => 'Binding::run($this, fn (CompanionCore $c): Call => Machine::startCompleteConnect($c, $callback, $now), $host);' . "\n            return [];",
            'mustFail' => where(fn ($s) => isset(end($s['steps'])['action']['result']['connected'])),
        ],
        [
            'name' => 'pulls the default number of events whatever the host asks',
            'file' => 'src/Companion.php',
            'from' => "\$limit = Convert::optInt(\$limit, 'limit') ?? Events::DEFAULT_PULL_LIMIT;",
            'to' => '$limit = Events::DEFAULT_PULL_LIMIT;',
            'mustFail' => where(fn ($s) => $s['operation']['op'] === 'pull_events' && $s['operation']['limit'] !== 50),
        ],
        [
            'name' => 'says an acknowledged page moved the cursor when it did not',
            'file' => 'src/Companion.php',
            'from' => 'return $moved;',
            'to' => 'return true;',
            'mustFail' => where(fn ($s) => ($s['acknowledged'] ?? null) === false),
        ],
    ];
}

function copy_tree(string $from, string $to): void
{
    mkdir($to, 0777, true);
    foreach (scandir($from) as $entry) {
        if ($entry === '.' || $entry === '..') {
            continue;
        }
        is_dir("$from/$entry") ? copy_tree("$from/$entry", "$to/$entry") : copy("$from/$entry", "$to/$entry");
    }
}

function remove_tree(string $dir): void
{
    foreach (scandir($dir) as $entry) {
        if ($entry !== '.' && $entry !== '..') {
            is_dir("$dir/$entry") && !is_link("$dir/$entry") ? remove_tree("$dir/$entry") : unlink("$dir/$entry");
        }
    }
    rmdir($dir);
}

/** A copy of the package (src/, autoload.php) in $dir, with $from replaced by $to in $file. */
function package_copy(string $dir, ?array $m): void
{
    copy_tree(ROOT . '/php/src', "$dir/src");
    copy(ROOT . '/php/autoload.php', "$dir/autoload.php");
    if ($m === null) {
        return;
    }
    $source = (string) file_get_contents("$dir/{$m['file']}");
    file_put_contents("$dir/{$m['file']}", str_replace($m['from'], $m['to'], $source));
}

if (($argv[1] ?? null) === '--check') {
    $m = array_values(array_filter(mutants(), fn ($m) => $m['name'] === ($argv[2] ?? null)))[0]
        ?? throw new RuntimeException('no mutant named "' . ($argv[2] ?? '') . '"');
    $failed = json_decode((string) file_get_contents($argv[3]), true, 512, JSON_THROW_ON_ERROR);
    $missed = array_values(array_diff($m['mustFail'], $failed));
    if ($missed !== []) {
        fwrite(STDERR, "scripts that exercise the rule and still replay:\n  " . implode("\n  ", $missed) . "\n");
        exit(1);
    }
    printf("%d of %d scripts fail (%d exercise the rule)\n", count($failed), count(scripts()), count($m['mustFail']));
    exit(0);
}

$phpunit = $argv[1] ?? '/usr/bin/phpunit';
$tmp = sys_get_temp_dir() . '/tessera-wrong-drivers-' . getmypid();
mkdir($tmp);
register_shutdown_function(fn () => is_dir($tmp) && remove_tree($tmp));

$runs = [['name' => null, 'mutant' => null]];
foreach (mutants() as $m) {
    if ($m['mustFail'] === []) {
        throw new RuntimeException("mutant \"{$m['name']}\": no script exercises the rule");
    }
    $n = substr_count((string) file_get_contents(ROOT . "/php/{$m['file']}"), $m['from']);
    if ($n !== 1) {
        throw new RuntimeException("mutant \"{$m['name']}\": the snippet occurs $n times in php/{$m['file']}, not once:\n{$m['from']}");
    }
    $runs[] = ['name' => $m['name'], 'mutant' => $m];
}

/** Starts MachineTest on the package copy $i. */
function start(int $i, array $run, string $tmp, string $phpunit): array
{
    $dir = "$tmp/$i";
    package_copy("$dir/php", $run['mutant']);
    $cmd = [PHP_BINARY, '-n'];
    foreach (['dom', 'mbstring', 'tokenizer', 'xml', 'xmlwriter'] as $ext) {
        array_push($cmd, '-d', "extension=$ext");
    }
    array_push($cmd, '-d', 'memory_limit=-1', $phpunit, '-c', ROOT . '/php-ext/phpunit.xml', '--filter', 'MachineTest');
    $env = ['TESSERA_IMPL' => 'pure', 'TESSERA_PURE_DIR' => "$dir/php", 'TESSERA_REPLAY_FAILED' => "$dir/failed.json"] + getenv();
    $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/out", 'w'], 2 => ['file', "$dir/out", 'a']], $pipes, ROOT, $env);
    if ($proc === false) {
        throw new RuntimeException('could not start phpunit');
    }
    return ['proc' => $proc, 'dir' => $dir] + $run;
}

$t0 = microtime(true);
$total = count(scripts());
$pending = array_keys($runs);
$running = [];
$bad = [];
$lines = [];
while ($pending !== [] || $running !== []) {
    while (count($running) < PARALLEL && $pending !== []) {
        $i = array_shift($pending);
        $running[$i] = start($i, $runs[$i], $tmp, $phpunit);
    }
    foreach ($running as $i => $r) {
        $status = proc_get_status($r['proc']);
        if ($status['running']) {
            continue;
        }
        unset($running[$i]);
        proc_close($r['proc']);
        $rc = $status['exitcode'];
        $out = (string) file_get_contents("{$r['dir']}/out");
        $failed = is_file("{$r['dir']}/failed.json") ? json_decode((string) file_get_contents("{$r['dir']}/failed.json"), true) : null;
        preg_match_all('/^(OK \(.*\)|Tests: .*)$/m', $out, $m);
        $summary = end($m[0]) ?: '(no PHPUnit summary)';
        if ($r['mutant'] === null) {
            if ($rc !== 0 || $failed !== []) {
                $bad[] = "the unmutated package fails MachineTest (exit $rc):\n$out";
            } else {
                $lines[$i] = sprintf("unmutated copy: all %d scripts replay; %s", $total, $summary);
            }
            continue;
        }
        if ($failed === null) {
            $bad[] = "mutant \"{$r['name']}\": MachineTest did not get to replay the scripts (exit $rc):\n$out";
            continue;
        }
        $missed = array_values(array_diff($r['mutant']['mustFail'], $failed));
        if ($rc === 0 || $missed !== []) {
            $bad[] = "mutant \"{$r['name']}\" survives (exit $rc); scripts that exercise the rule and still replay:\n  "
                . implode("\n  ", $missed);
            continue;
        }
        $lines[$i] = sprintf("mutant \"%s\": %d of %d scripts fail (%d exercise the rule); %s", $r['name'], count($failed), $total, count($r['mutant']['mustFail']), $summary);
    }
    if ($running !== []) {
        usleep(20_000);
    }
}
ksort($lines);
echo implode("\n", $lines), "\n";
foreach ($bad as $b) {
    fwrite(STDERR, "\n$b\n");
}
$mutants = count($runs) - 1;
printf("wrong pure-PHP drivers: %d of %d mutants caught, unmutated copy %s (%.1f s)\n", $mutants - count(array_filter($bad, fn ($b) => str_starts_with($b, 'mutant'))), $mutants, array_filter($bad, fn ($b) => !str_starts_with($b, 'mutant')) === [] ? 'passes' : 'FAILS', microtime(true) - $t0);
exit($bad === [] ? 0 : 1);

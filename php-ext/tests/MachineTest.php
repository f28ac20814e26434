<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\TesseraException;
use Tessera\Exception\TransportException;

/** The driver did something the script does not say (thrown from a callable: it propagates unchanged). */
final class ReplayMismatch extends \Exception
{
}

/** The script's host stops driving here (`abort`): the PHP host's way is an exception of its own. */
final class ReplayAbort extends \Exception
{
}

/**
 * The scripted side of one machine script: the broker (what the transport
 * reaches), sleep, persist, serveProof and the clock. Each callable checks
 * that the action it is asked for is the script's next action, byte for byte,
 * and answers with the next step's event.
 */
final class ScriptedHost
{
    /** Index of the step whose action comes next. */
    public int $k = 0;
    /** How often the clock was read. */
    public int $clockReads = 0;
    /** The first difference found, even if the driver swallowed the exception that reported it. */
    public ?string $firstMismatch = null;
    /** @var list<array> */
    private array $steps;

    public function __construct(array $script)
    {
        $this->steps = $script['steps'];
    }

    private function mismatch(string $what): ReplayMismatch
    {
        $this->firstMismatch ??= "step {$this->k}: $what";
        return new ReplayMismatch("step {$this->k}: $what");
    }

    /** The next action, which must be of type $type. */
    private function expect(string $type): array
    {
        $action = $this->steps[$this->k]['action'] ?? null;
        if (($action['type'] ?? null) !== $type) {
            throw $this->mismatch("the driver did $type, the script expects " . json_encode($action));
        }
        return $action;
    }

    /** The event that answers the current action (the next step's). */
    private function answer(): array
    {
        $this->k++;
        $event = $this->steps[$this->k]['event'] ?? null;
        if ($event === null) {
            throw $this->mismatch('the script has no event left');
        }
        return $event;
    }

    /** The clock: read once per event, just before the event is fed. */
    public function clock(): int
    {
        if ($this->clockReads !== $this->k) {
            throw $this->mismatch("clock read {$this->clockReads} times before this event");
        }
        if (!isset($this->steps[$this->k])) {
            throw $this->mismatch('the clock was read past the end of the script (a refused start went on?)');
        }
        $this->clockReads++;
        return $this->steps[$this->k]['now'];
    }

    /** The scripted broker: one request, one scripted answer. */
    public function broker(array $request): array
    {
        $action = $this->expect('send');
        $got = ['method' => $request['method'], 'url' => $request['url'], 'headers' => pairs($request['headers']), 'body' => $request['body']];
        if ($got !== $action['request']) {
            throw $this->mismatch('request ' . json_encode($got) . ' differs from ' . json_encode($action['request']));
        }
        $event = $this->answer();
        return match ($event['type']) {
            'response' => ['status' => $event['status'], 'headers' => php_headers($event['headers']), 'body' => $event['body']],
            'transport_error' => throw new TransportException("scripted {$event['kind']} failure"),
            'abort' => throw new ReplayAbort(),
            default => throw $this->mismatch("a send answered by {$event['type']}"),
        };
    }

    public function sleep(int $ms): void
    {
        $action = $this->expect('sleep');
        if ($ms !== $action['ms']) {
            throw $this->mismatch("slept $ms ms, the script says {$action['ms']}");
        }
        $this->answerWith('slept');
    }

    public function persist(string $state): void
    {
        $action = $this->expect('persist');
        if ($state !== $action['state']) {
            throw $this->mismatch("persisted a different state:\n$state\n{$action['state']}");
        }
        $this->answerWith('persisted');
    }

    public function serveProof(array $proof): bool
    {
        $action = $this->expect('serve_proof');
        if ($proof !== $action['proof']) {
            throw $this->mismatch('proof ' . json_encode($proof) . ' differs from ' . json_encode($action['proof']));
        }
        return match ($this->answer()['type']) {
            'proof_served' => true,
            'proof_deferred' => false,
            'abort' => throw new ReplayAbort(),
            default => throw $this->mismatch('a proof answered by something else'),
        };
    }

    /** The host lock (proxy mode): the script's `locked` state once held, `null` for `lock_unavailable`. */
    public function lock(string $name): ?string
    {
        $action = $this->expect('lock');
        if ($name !== $action['name']) {
            throw $this->mismatch("locked $name, the script says {$action['name']}");
        }
        $event = $this->answer();
        return match ($event['type']) {
            'locked' => $event['state'],
            'lock_unavailable' => null,
            'abort' => throw new ReplayAbort(),
            default => throw $this->mismatch("a lock answered by {$event['type']}"),
        };
    }

    public function unlock(string $name): void
    {
        $action = $this->expect('unlock');
        if ($name !== $action['name']) {
            throw $this->mismatch("unlocked $name, the script says {$action['name']}");
        }
        $this->answerWith('unlocked');
    }

    private function answerWith(string $type): void
    {
        $event = $this->answer();
        if ($event['type'] !== $type) {
            throw $this->mismatch("answered by {$event['type']}, not $type");
        }
    }

    /** After the operation: the script's `done` (or its abort) must be next, and last. */
    public function finish(array $script, array $outcome): void
    {
        if (isset($script['start_error'])) {
            if ($this->k !== 0 || $this->clockReads !== 0) {
                throw $this->mismatch('a refused start acted');
            }
            if ($outcome !== ['error' => $script['start_error']]) {
                throw $this->mismatch('start: ' . json_encode($outcome) . ", expected error {$script['start_error']}");
            }
            return;
        }
        if ($outcome === ['abort' => true]) {
            if (($this->steps[$this->k]['event']['type'] ?? null) !== 'abort' || $this->k !== count($this->steps) - 1) {
                throw $this->mismatch('aborted where the script does not');
            }
            return;
        }
        $action = $this->expect('done');
        $expected = isset($action['error']) ? ['error' => $action['error']] : ['result' => $action['result']];
        if ($outcome !== $expected) {
            throw $this->mismatch('done with ' . json_encode($outcome) . ', expected ' . json_encode($expected));
        }
        if ($this->k !== count($this->steps) - 1) {
            throw $this->mismatch('done before the script ends');
        }
    }
}

/** @return list<array{string, string}> request headers as the script's pairs, in order */
function pairs(array $headers): array
{
    $out = [];
    foreach ($headers as $name => $value) {
        $out[] = [(string) $name, $value];
    }
    return $out;
}

/** @return array<string, string|list<string>> the script's header pairs as a PHP response's headers */
function php_headers(array $pairs): array
{
    $out = [];
    foreach ($pairs as [$name, $value]) {
        if (!isset($out[$name])) {
            $out[$name] = $value;
        } else {
            $out[$name] = [...(array) $out[$name], $value];
        }
    }
    return $out;
}

/**
 * Every script in tests/vectors/machine*.json (docs/HOST-CONTRACT.md §6),
 * replayed through the extension's real driver (`register()`, `call()`,
 * `disconnect()`, `uninstall()`, `reset()`, `siteMoved()`, `completeConnect()`,
 * `pullEvents()` then `acknowledgeEvents()` when the script acknowledges) with scripted callables
 * (the refresh lock of `setRefreshLock()` too), the
 * script's seed (`useSeededEntropy`) and clock (`useClock`): every action must
 * equal the script's, the completion or error its `done`, and `exportState()` its
 * final state. Hosts that break the contract (following a redirect, retrying
 * on their own) must fail the replay.
 */
final class MachineTest extends TestCase
{
    /**
     * Scripts a PHP host cannot produce: the event has no PHP form. A PHP HTTP
     * stack always shows a 3xx (fed as a Response, which other scripts
     * cover); `transport_error` of kind `redirect` is a browser `fetch`'s
     * `opaqueredirect` (docs/HOST-CONTRACT.md §3), and a PHP transport's only
     * transport error is `TransportException` (kind `network`).
     */
    private static function unreplayable(array $script): ?string
    {
        foreach ($script['steps'] as $step) {
            if ($step['event']['type'] === 'transport_error' && $step['event']['kind'] !== 'network') {
                return "transport_error {$step['event']['kind']} has no PHP form";
            }
        }
        return null;
    }

    /** @return list<array> every script of every machine file */
    private static function scripts(): array
    {
        $files = glob(VECTORS . '/machine*.json');
        self::assertNotEmpty($files, 'no tests/vectors/machine*.json');
        $scripts = [];
        foreach ($files as $file) {
            $doc = json_decode((string) file_get_contents($file), true, 512, JSON_THROW_ON_ERROR);
            foreach ($doc['scripts'] as $script) {
                $scripts[] = $script + ['file' => basename($file)];
            }
        }
        return $scripts;
    }

    /**
     * The script's form of a page of events (`completion_json` of
     * core/tests/machine.rs): `data_json` exactly, and `data` checked to be
     * `data_json` decoded as documented.
     */
    private static function page(array $page): array
    {
        $events = [];
        foreach ($page['events'] as $e) {
            if ($e['data'] !== json_decode($e['data_json'], true, 512, JSON_BIGINT_AS_STRING)) {
                throw new ReplayMismatch("event {$e['id']}: data is not data_json decoded");
            }
            unset($e['data']);
            $events[] = $e;
        }
        return ['events' => $events, 'cursor' => $page['cursor'], 'has_more' => $page['has_more']];
    }

    /** The script's form of a remote step. */
    private static function step(array $s): array
    {
        return ['result' => $s['result'], 'error' => $s['error'] instanceof TesseraException ? $s['error']->getErrorCode() : $s['error']];
    }

    /**
     * Replays one script through the driver.
     *
     * @param (\Closure(ScriptedHost): callable)|null $transport the host's transport (default: straight to the scripted broker)
     * @return string|null null when it replays, else the first difference
     */
    private static function replay(array $script, ?\Closure $transport = null): ?string
    {
        $name = "{$script['file']}: {$script['name']}";
        $c = Companion::importState($script['state']);
        \Tessera\Testing\useSeededEntropy($c, hex2bin($script['seed']));
        $h = new ScriptedHost($script);
        // completeConnect() reads the clock once to check the callback before
        // the driver starts: that reading is the script's `now`; every later
        // one is the next event's (ScriptedHost::clock()).
        $startRead = $script['operation']['op'] === 'complete_connect';
        \Tessera\Testing\useClock($c, function () use ($h, $script, &$startRead): int {
            if ($startRead) {
                $startRead = false;
                return $script['now'];
            }
            return $h->clock();
        });
        $send = $transport !== null ? $transport($h) : fn (array $r): array => $h->broker($r);
        $sleep = fn (int $ms) => $h->sleep($ms);
        $persist = fn (string $s) => $h->persist($s);
        $serveProof = fn (array $p): bool => $h->serveProof($p);
        // The refresh lock (authorization-proxy mode): given in every mode,
        // a broker-mode driver must never take it.
        $c->setRefreshLock(fn (string $name): ?string => $h->lock($name), fn (string $name) => $h->unlock($name));
        $op = $script['operation'];
        $acknowledged = null;
        try {
            $result = match ($op['op']) {
                'register' => ['registration' => $c->register($op['registration'], $send, $sleep, $persist, $serveProof)],
                'call' => (function () use ($c, $op, $send, $sleep, $persist) {
                    $r = $op['request'];
                    $response = $c->call(['method' => $r['method'], 'path' => $r['path'], 'headers' => php_headers($r['headers']), 'body' => $r['body']], $send, $sleep, $persist);
                    return ['response' => ['status' => $response['status'], 'body' => $response['body']]];
                })(),
                'call_and_record' => (function () use ($c, $op, $send, $sleep, $persist) {
                    $r = $op['request'];
                    $request = ['method' => $r['method'], 'path' => $r['path'], 'headers' => php_headers($r['headers']), 'body' => $r['body']];
                    $out = $c->callAndRecord($request, $op['event'], $send, $sleep, $persist);
                    $event = $out['event']['ok']
                        ? ['result' => 'ok', 'error' => null]
                        : ['result' => 'failed', 'error' => $out['event']['error']->getErrorCode()];
                    return ['recorded' => ['response' => ['status' => $out['response']['status'], 'body' => $out['response']['body']], 'event' => $event]];
                })(),
                'disconnect' => ['disconnected' => ['remote' => self::step($c->disconnect($send, $sleep, $persist)['remote'])]],
                'uninstall' => (function () use ($c, $send, $sleep, $persist) {
                    $report = $c->uninstall($send, $sleep, $persist);
                    return ['uninstalled' => ['disconnect' => self::step($report['disconnect']), 'deregister' => self::step($report['deregister'])]];
                })(),
                'reset' => (function () use ($c, $op, $send, $sleep, $persist, $serveProof) {
                    $report = $c->reset($op['registration'], $send, $sleep, $persist, $serveProof);
                    return ['reset' => ['disconnect' => self::step($report['disconnect']), 'deregister' => self::step($report['deregister']), 'registration' => $report['registration']]];
                })(),
                'site_moved' => ['site_moved' => $c->siteMoved($send, $sleep, $persist, $serveProof) ?? []],
                'complete_connect' => ['connected' => $c->completeConnect($op['callback'], $send, $sleep, $persist)],
                'revoke_previous' => ['previous_revoked' => $c->revokePrevious($op['install_id'], $send, $sleep, $persist)],
                'pull_events' => (function () use ($c, $op, $send, $sleep, $persist, &$acknowledged) {
                    $page = $c->pullEvents($send, $sleep, $persist, $op['limit']);
                    // The host handled the page: acknowledge it when the script says so.
                    if ($op['acknowledge']) {
                        $acknowledged = $c->acknowledgeEvents($page['cursor']);
                    }
                    return ['events' => self::page($page)];
                })(),
            };
            $outcome = ['result' => $result];
        } catch (ReplayMismatch $m) {
            return "$name: {$m->getMessage()}";
        } catch (ReplayAbort $a) {
            $outcome = ['abort' => true];
        } catch (TesseraException $e) {
            $outcome = isset($script['start_error'])
                ? ['error' => $e->getErrorCode()]
                : ['error' => ['code' => $e->getErrorCode(), 'status' => $e->getStatus()]];
        } finally {
            \Tessera\Testing\useClock($c, null);
        }
        // A driver that caught the ReplayMismatch (a catch-all around its own retry) still fails.
        if ($h->firstMismatch !== null) {
            return "$name: {$h->firstMismatch} (the driver went on)";
        }
        try {
            $h->finish($script, $outcome);
        } catch (ReplayMismatch $m) {
            return "$name: {$m->getMessage()}";
        }
        if ($acknowledged !== ($script['acknowledged'] ?? null)) {
            return "$name: acknowledging the page moved the cursor: " . json_encode($acknowledged) . ', expected ' . json_encode($script['acknowledged'] ?? null);
        }
        if ($c->exportState() !== $script['final_state']) {
            return "$name: the final state differs:\n{$c->exportState()}\n{$script['final_state']}";
        }
        return null;
    }

    public function testEveryMachineScriptReplaysThroughTheDriver(): void
    {
        $replayed = 0;
        $skipped = [];
        $failures = [];
        $failed = [];
        foreach (self::scripts() as $script) {
            if (($why = self::unreplayable($script)) !== null) {
                $skipped[] = "{$script['name']} ($why)";
                continue;
            }
            $error = self::replay($script);
            if ($error !== null) {
                $failures[] = $error;
                $failed[] = "{$script['file']}: {$script['name']}";
            }
            $replayed++;
        }
        // TESSERA_REPLAY_FAILED=file: the scripts that failed, a JSON list of
        // "machine-….json: name" (php/tests/wrong-drivers.php reads it).
        if (($report = getenv('TESSERA_REPLAY_FAILED')) !== false && $report !== '') {
            file_put_contents($report, json_encode($failed, JSON_THROW_ON_ERROR));
        }
        $this->assertSame([], $failures, implode("\n\n", $failures));
        // PHPUnit is strict about output: the count goes to stderr.
        fwrite(STDERR, sprintf("\nmachine scripts replayed through the PHP driver: %d (not replayable by a PHP host: %s)\n", $replayed, implode('; ', $skipped) ?: 'none'));
        $this->assertGreaterThanOrEqual(40, $replayed);
        $this->assertLessThanOrEqual(2, count($skipped), 'only the hidden-redirect scripts have no PHP form');
    }

    /** Scripts where the broker answers a send with $match(event). */
    private static function scriptsWhere(callable $match): array
    {
        return array_values(array_filter(
            self::scripts(),
            fn ($s) => self::unreplayable($s) === null && array_filter($s['steps'], fn ($step) => $match($step['event'])) !== [],
        ));
    }

    /**
     * A transport that follows redirects (it answers a 3xx with what the
     * Location would have said) fails every script with a 3xx, while the
     * right transport replays them.
     */
    public function testATransportThatFollowsRedirectsFailsTheReplay(): void
    {
        $scripts = self::scriptsWhere(fn ($e) => $e['type'] === 'response' && $e['status'] >= 300 && $e['status'] < 400);
        $this->assertGreaterThanOrEqual(2, count($scripts));
        $following = fn (ScriptedHost $h) => function (array $request) use ($h): array {
            $r = $h->broker($request);
            if ($r['status'] >= 300 && $r['status'] < 400) {
                // The redirect target's answer, as curl with FOLLOWLOCATION would return it.
                return ['status' => 200, 'headers' => ['content-type' => 'application/json'], 'body' => '{"followed":true}'];
            }
            return $r;
        };
        foreach ($scripts as $script) {
            $this->assertNull(self::replay($script), $script['name']);
            $this->assertNotNull(self::replay($script, $following), "{$script['name']}: a redirect-following host replayed it");
        }
    }

    /**
     * A transport that retries on its own (it asks the broker again after a
     * 5xx, a 408 or a network failure) fails every script with such a
     * failure, while the right transport replays them.
     */
    public function testATransportThatRetriesOnItsOwnFailsTheReplay(): void
    {
        $failed = fn ($e) => ($e['type'] === 'response' && ($e['status'] >= 500 || $e['status'] === 408)) || $e['type'] === 'transport_error';
        $scripts = self::scriptsWhere($failed);
        $this->assertGreaterThanOrEqual(5, count($scripts));
        $retrying = fn (ScriptedHost $h) => function (array $request) use ($h): array {
            try {
                $r = $h->broker($request);
            } catch (TransportException $e) {
                return $h->broker($request);
            }
            return $r['status'] >= 500 || $r['status'] === 408 ? $h->broker($request) : $r;
        };
        foreach ($scripts as $script) {
            $this->assertNull(self::replay($script), $script['name']);
            $this->assertNotNull(self::replay($script, $retrying), "{$script['name']}: a self-retrying host replayed it");
        }
    }

    /** The replay is not a tautology: a script with one action changed fails it. */
    public function testAChangedScriptFailsTheReplay(): void
    {
        $mutated = 0;
        foreach (self::scripts() as $script) {
            if (self::unreplayable($script) !== null) {
                continue;
            }
            foreach ($script['steps'] as $i => $step) {
                $bad = $script;
                $action = &$bad['steps'][$i]['action'];
                match ($action['type'] ?? null) {
                    'sleep' => $action['ms']++,
                    'persist' => $action['state'] = str_replace('"v":1', '"v":2', $action['state']),
                    'send' => $action['request']['headers'] = [],
                    'serve_proof' => $action['proof']['body'] .= 'x',
                    'lock', 'unlock' => $action['name'] .= 'x',
                    'done' => $action = ['type' => 'sleep', 'ms' => 1],
                    null => null,
                };
                unset($action);
                if ($bad['steps'][$i]['action'] === null) {
                    continue;
                }
                $this->assertNotNull(self::replay($bad), "{$script['name']}: step $i changed still replays");
                $mutated++;
            }
        }
        $this->assertGreaterThan(100, $mutated);
    }
}

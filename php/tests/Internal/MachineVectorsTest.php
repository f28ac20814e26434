<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\Action;
use Tessera\Pure\Internal\ApiRequest;
use Tessera\Pure\Internal\Call;
use Tessera\Pure\Internal\CompanionCore;
use Tessera\Pure\Internal\Config;
use Tessera\Pure\Internal\Completion;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\Event;
use Tessera\Pure\Internal\Events;
use Tessera\Pure\Internal\Machine;
use Tessera\Pure\Internal\Registration;
use Tessera\Pure\Internal\RemoteStep;
use Tessera\Pure\Internal\Request;
use Tessera\Pure\Internal\Response;
use Tessera\Pure\Internal\Seal;
use Tessera\Pure\Internal\SeededEntropy;
use Tessera\Pure\Internal\StoraEvent;

/**
 * The step-machine vectors replayed on the sans-IO layer (`replay` in
 * core/tests/machine.rs: every action compared, then the final state), and
 * callback.json driven as core/tests/vectors.rs `compute_callback` does.
 * The public driver replays the same scripts in php-ext/tests/MachineTest.php.
 */
final class MachineVectorsTest extends Support
{
    private const FILES = ['machine-register', 'machine-call', 'machine-leave', 'machine-connect', 'machine-proxy'];

    /** @return list<array<string, mixed>> */
    private static function scripts(string $file): array
    {
        $json = file_get_contents(self::root() . '/tests/vectors/' . $file . '.json');
        self::assertIsString($json);
        return json_decode($json, true, 512, JSON_THROW_ON_ERROR)['scripts'];
    }

    public function testEveryMachineScriptReplays(): void
    {
        $count = 0;
        foreach (self::FILES as $file) {
            foreach (self::scripts($file) as $script) {
                $this->replay($script);
                $count++;
            }
        }
        self::assertGreaterThanOrEqual(16, \count(self::scripts('machine-connect')));
        self::assertGreaterThan(16, $count);
    }

    /**
     * Issue 14: with a seal key every persist action carries the state sealed
     * under it (`seal_state`'s format, a fresh nonce from the call's
     * entropy), which opens to the companion's state at that step; the other
     * actions keep their kinds (their random values move on: sealing draws
     * 24 bytes).
     */
    public function testWithASealKeyEveryPersistIsSealed(): void
    {
        $key = '0123456789abcdef-host-key-material';
        $persists = 0;
        foreach (self::FILES as $file) {
            foreach (self::scripts($file) as $script) {
                $name = $script['name'];
                $c = CompanionCore::fromJson($script['state']);
                $c->setSealKey($key);
                $rng = new SeededEntropy(hex2bin($script['seed']));
                try {
                    $call = self::start($c, $script['operation'], $script['now']);
                } catch (CoreError) {
                    continue;
                }
                foreach ($script['steps'] as $i => $step) {
                    // Proxy mode: the host hands back what it stored, sealed.
                    $event = $step['event']['type'] === 'locked'
                        ? Event::locked(Seal::seal($step['event']['state'], $key, str_repeat('n', 24)))
                        : self::event($step['event']);
                    if ($event === null) {
                        break;
                    }
                    $action = Machine::step($c, $call, $event, $step['now'], $rng);
                    self::assertSame($step['action']['type'], self::actionJson($action)['type'], "{$name}: step {$i}");
                    if ($action->type === Action::PERSIST) {
                        $persists++;
                        self::assertStringStartsWith('tsv1.', (string) $action->state, "{$name}: step {$i}");
                        self::assertSame($c->toJson(), Seal::open((string) $action->state, $key), "{$name}: step {$i}");
                        self::assertSame($c->toJson(), CompanionCore::openState((string) $action->state, $key)->toJson());
                    }
                }
            }
        }
        self::assertGreaterThan(10, $persists);
        // openState keeps the key: what it persists is sealed the same way.
        $opened = CompanionCore::openState(CompanionCore::create(new Config('https://broker.example'))->sealState($key, new SeededEntropy(str_repeat('k', 32))), $key);
        self::assertNotNull($opened->sealKey);
        self::assertStringStartsWith('tsv1.', $opened->persistedForm($opened->toJson(), new SeededEntropy(str_repeat('p', 32))));
        self::assertSame($opened->toJson(), Seal::open($opened->persistedForm($opened->toJson(), new SeededEntropy(str_repeat('p', 32))), $key));
        // Without one, the JSON; a short key is refused and leaves none.
        $plain = CompanionCore::create(new Config('https://broker.example'));
        self::assertSame($plain->toJson(), $plain->persistedForm($plain->toJson(), new SeededEntropy(str_repeat('p', 32))));
        self::assertCoreError('invalid_input', fn () => $plain->setSealKey(str_repeat('k', 15)));
        self::assertNull($plain->sealKey);
        // The key prints as [redacted].
        $plain->setSealKey($key);
        self::assertStringNotContainsString('host-key-material', print_r($plain, true) . var_export($plain->sealKey, true) . json_encode($plain->sealKey));
    }

    /** @param array<string, mixed> $script */
    private function replay(array $script): void
    {
        $name = $script['name'];
        $c = CompanionCore::fromJson($script['state']);
        $rng = new SeededEntropy(hex2bin($script['seed']));
        try {
            $call = self::start($c, $script['operation'], $script['now']);
        } catch (CoreError $e) {
            self::assertSame($script['start_error'] ?? null, $e->code(), "{$name}: start failed");
            self::assertSame($script['final_state'], $c->toJson(), "{$name}: final state");
            return;
        }
        self::assertArrayNotHasKey('start_error', $script, "{$name}: start should fail");
        foreach ($script['steps'] as $i => $step) {
            $event = self::event($step['event']);
            if ($event === null) {
                break;
            }
            $action = Machine::step($c, $call, $event, $step['now'], $rng);
            self::assertSame(self::canon($step['action']), self::canon(self::actionJson($action)), "{$name}: step {$i}");
            $moved = self::acknowledge($c, $script['operation'], $action);
            if ($moved !== null) {
                self::assertSame($script['acknowledged'] ?? null, $moved, "{$name}: acknowledging the page moved the cursor");
            }
        }
        self::assertSame($script['final_state'], $c->toJson(), "{$name}: final state");
    }

    /**
     * A `pull_events` operation with `"acknowledge": true`: once it ended with
     * a page, the host acknowledges the page's cursor (before the final state
     * is compared). Returns whether the cursor moved (`acknowledge` of
     * core/tests/machine.rs).
     *
     * @param array<string, mixed> $op
     */
    private static function acknowledge(CompanionCore $c, array $op, Action $action): ?bool
    {
        if ($action->type !== Action::DONE || !$action->result instanceof Completion
            || $action->result->type !== Completion::EVENTS || ($op['acknowledge'] ?? null) !== true) {
            return null;
        }
        return Events::acknowledge($c, $action->result->page->cursor);
    }

    /** @param array<string, mixed> $op */
    private static function start(CompanionCore $c, array $op, int $now): Call
    {
        $reg = static fn (array $r): Registration => new Registration($r['site_url'], $r['admin_email'], $r['platform'], $r['plugin_version']);
        return match ($op['op']) {
            'register' => Machine::startRegistration($c, $reg($op['registration'])),
            'reset' => Machine::startReset($c, $reg($op['registration'])),
            'call' => Machine::startCall($c, new ApiRequest($op['request']['method'], $op['request']['path'], $op['request']['headers'], $op['request']['body'])),
            'disconnect' => Machine::startDisconnect($c),
            'uninstall' => Machine::startUninstall($c),
            'site_moved' => Machine::startSiteMoved($c),
            'complete_connect' => Machine::startCompleteConnect($c, $op['callback'], $now),
            'revoke_previous' => Machine::startRevokePrevious($c, $op['install_id']),
            'pull_events' => Events::startPull($c, $op['limit']),
            'call_and_record' => \Tessera\Pure\Internal\Record::startRecordedCall(
                $c,
                new ApiRequest($op['request']['method'], $op['request']['path'], $op['request']['headers'], $op['request']['body']),
                self::timelineEvent($op['event']),
            ),
        };
    }

    /** @param array<string, mixed> $e a script's event (snake_case, absent members omitted) */
    private static function timelineEvent(array $e): \Tessera\Pure\Internal\TimelineEvent
    {
        $variables = [];
        foreach ($e['variables'] ?? [] as $k => $v) {
            $variables[] = [(string) $k, $v];
        }
        return new \Tessera\Pure\Internal\TimelineEvent(
            $e['source_id'],
            $e['template_id'],
            $e['contact_id'] ?? null,
            $e['site_id'] ?? null,
            $e['description'] ?? null,
            $e['external_url'] ?? null,
            $variables,
        );
    }

    /** @param array<string, mixed> $e */
    private static function event(array $e): ?Event
    {
        return match ($e['type']) {
            'start' => Event::start(),
            'response' => Event::response(new Response($e['status'], $e['headers'], $e['body'])),
            'transport_error' => Event::transportError(Event::parseTransportError($e['kind']) ?? throw new \LogicException($e['kind'])),
            'slept' => Event::slept(),
            'persisted' => Event::persisted(),
            'proof_served' => Event::proofServed(),
            'proof_deferred' => Event::proofDeferred(),
            'locked' => Event::locked($e['state']),
            'lock_unavailable' => Event::lockUnavailable(),
            'unlocked' => Event::unlocked(),
            'abort' => null,
        };
    }

    /** `action_json` of core/tests/machine.rs. */
    private static function actionJson(Action $a): array
    {
        return match ($a->type) {
            Action::SEND => ['type' => 'send', 'request' => self::requestJson($a->request)],
            Action::SLEEP => ['type' => 'sleep', 'ms' => $a->ms],
            Action::PERSIST => ['type' => 'persist', 'state' => $a->state],
            Action::SERVE_PROOF => ['type' => 'serve_proof', 'proof' => ['url' => $a->proof->url, 'path' => $a->proof->path, 'body' => $a->proof->body]],
            Action::LOCK, Action::UNLOCK => ['type' => $a->type, 'name' => $a->name],
            default => $a->result instanceof CoreError
                ? ['type' => 'done', 'error' => ['code' => $a->result->code(), 'status' => $a->result->status()]]
                : ['type' => 'done', 'result' => self::completionJson($a->result)],
        };
    }

    private static function requestJson(Request $r): array
    {
        return ['method' => $r->method, 'url' => $r->url, 'headers' => $r->headers, 'body' => $r->body];
    }

    private static function stepJson(RemoteStep $s): array
    {
        return ['result' => $s->result, 'error' => $s->error?->code()];
    }

    private static function registrationJson(Completion $c): array
    {
        $p = $c->proof;
        return $p === null
            ? ['outcome' => 'registered']
            : ['outcome' => 'ownership_challenge', 'proof' => ['url' => $p->url, 'path' => $p->path, 'body' => $p->body]];
    }

    /** `completion_json` of core/tests/machine.rs. */
    private static function completionJson(Completion $c): array
    {
        return match ($c->type) {
            Completion::RESPONSE => ['response' => ['status' => $c->response->status, 'body' => $c->response->body]],
            Completion::REGISTRATION => ['registration' => self::registrationJson($c)],
            Completion::DISCONNECTED => ['disconnected' => ['remote' => self::stepJson($c->remote)]],
            Completion::UNINSTALLED => ['uninstalled' => ['disconnect' => self::stepJson($c->remote), 'deregister' => self::stepJson($c->deregister)]],
            Completion::RESET => ['reset' => ['disconnect' => self::stepJson($c->remote), 'deregister' => self::stepJson($c->deregister), 'registration' => self::registrationJson($c)]],
            Completion::SITE_MOVED => ['site_moved' => new \stdClass()],
            Completion::CONNECTED => ['connected' => ['account' => ['id' => $c->account->id, 'name' => $c->account->name]]],
            Completion::PREVIOUS_REVOKED => ['previous_revoked' => ['revoked' => $c->revoked]],
            Completion::RECORDED => ['recorded' => ['response' => ['status' => $c->response->status, 'body' => $c->response->body], 'event' => self::stepJson($c->remote)]],
            Completion::EVENTS => ['events' => [
                'events' => array_map(static fn (StoraEvent $e): array => [
                    'id' => $e->id, 'type' => $e->type, 'api_version' => $e->apiVersion,
                    'created_at' => $e->createdAt, 'data_json' => $e->dataJson,
                ], $c->page->events),
                'cursor' => $c->page->cursor,
                'has_more' => $c->page->hasMore,
            ]],
        };
    }

    /** Objects with sorted keys (serde_json's `Value` equality ignores member order). */
    private static function canon(mixed $v): mixed
    {
        if ($v instanceof \stdClass) {
            return [];
        }
        if (!\is_array($v)) {
            return $v;
        }
        if (!array_is_list($v)) {
            ksort($v);
        }
        return array_map([self::class, 'canon'], $v);
    }

    public function testCallbackVectors(): void
    {
        $cases = self::vectors('callback');
        self::assertGreaterThanOrEqual(23, \count($cases));
        foreach ($cases as $case) {
            $c = CompanionCore::fromJson($case['state']);
            $sent = [];
            $error = null;
            try {
                $call = Machine::startCompleteConnect($c, $case['callback'], $case['now']);
                $result = self::drive($c, $call, $case['now'], function (Request $r) use (&$sent, $case): Response {
                    $sent[] = [
                        'method' => $r->method,
                        'url' => $r->url,
                        'body' => $r->body,
                        'authorization' => $r->header('authorization') !== null,
                    ];
                    return new Response($case['answer']['status'], [], $case['answer']['body']);
                });
                if ($result instanceof CoreError) {
                    $error = $result->code();
                }
            } catch (CoreError $e) {
                $error = $e->code();
            }
            $out = ['status' => $c->status(), 'pendingConnect' => $c->state->pendingConnect !== null];
            $account = $c->account();
            if ($account !== null) {
                $out['account'] = ['id' => $account->id, 'name' => $account->name];
            }
            if ($sent !== []) {
                $out['sent'] = $sent;
            }
            if ($error !== null) {
                $out['error'] = $error;
            }
            self::assertSame(self::canon($case['expected']), self::canon($out), $case['name']);
        }
    }

    /** `drive` of core/tests/support/mod.rs. */
    private static function drive(CompanionCore $c, Call $call, int $now, callable $answer): Completion|CoreError
    {
        $entropy = new SeededEntropy(str_repeat("\x63", 32));
        $event = Event::start();
        for ($i = 0; $i < 64; $i++) {
            $action = Machine::step($c, $call, $event, $now, $entropy);
            $event = match ($action->type) {
                Action::SEND => Event::response($answer($action->request)),
                Action::SLEEP => Event::slept(),
                Action::PERSIST => Event::persisted(),
                Action::SERVE_PROOF => Event::proofServed(),
                default => null,
            };
            if ($event === null) {
                return $action->result;
            }
        }
        self::fail('the call did not end');
    }
}

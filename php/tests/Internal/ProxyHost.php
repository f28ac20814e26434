<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\Action;
use Tessera\Pure\Internal\Call;
use Tessera\Pure\Internal\CompanionCore;
use Tessera\Pure\Internal\Completion;
use Tessera\Pure\Internal\Config;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\Event;
use Tessera\Pure\Internal\Machine;
use Tessera\Pure\Internal\PendingConnect;
use Tessera\Pure\Internal\ProxyConfig;
use Tessera\Pure\Internal\Registration;
use Tessera\Pure\Internal\Request;
use Tessera\Pure\Internal\Response;
use Tessera\Pure\Internal\SeededEntropy;

/**
 * A plugin host in authorization-proxy mode for the internal suite (port of
 * core/tests/support/proxy_host.rs): one store (what it persisted last), a
 * lock that is free or not, and a trace of every action.
 */
abstract class ProxyHost extends Support
{
    protected const NOW = 1_700_000_000;
    protected const PROXY = 'https://proxy.example';
    protected const STORA = 'https://api.stora.example/2025-09';
    protected const RETURN = 'https://shop.example/wp-admin/admin.php?page=tessera';
    protected const STATE = 'pppppppppppppppppppppp';
    protected const CODE = 'code_c29tZS1zdG9yYS1jb2Rl';
    protected const CONTEXT = 'eyJhbGciOiJIUzI1NiJ9.eyJpaWQiOiJ4In0.c2ln';

    /** @var list<string> what the host did, in order */
    protected array $trace = [];
    /** @var list<Request> */
    protected array $sent = [];
    /** What the host stored last. */
    protected string $stored = '';
    protected bool $lockFree = true;

    protected static function config(string $stora = self::STORA): Config
    {
        return new Config(self::PROXY, proxy: new ProxyConfig($stora));
    }

    protected static function tokensAnswer(string $access, string $refresh, int $expiresIn): Response
    {
        return new Response(200, [], json_encode([
            'access_token' => $access, 'refresh_token' => $refresh, 'expires_in' => $expiresIn, 'scope' => 'units:read',
            'account' => ['id' => 'op_1', 'name' => 'Acme Storage'],
        ]));
    }

    protected static function registered(): CompanionCore
    {
        $c = CompanionCore::create(self::config());
        $c->registrationRequest(new Registration('https://shop.example', 'owner@shop.example', 'wordpress', '1.0.0'), new SeededEntropy(str_repeat("\x01", 32)));
        $c->handleRegistrationResponseAt(new Response(201, [], '{}'), self::NOW);
        return $c;
    }

    /** Drives `$call` as a host with a store and a lock; `$answer(Request): ?Response` (null: a network failure). */
    protected function drive(CompanionCore $c, Call $call, int $now, callable $answer): Completion|CoreError
    {
        $event = Event::start();
        $rng = new SeededEntropy(str_repeat("\x07", 32));
        for ($i = 0; $i < 40; $i++) {
            $action = Machine::step($c, $call, $event, $now, $rng);
            switch ($action->type) {
                case Action::SEND:
                    $this->trace[] = "send {$action->request->method} " . explode('?', $action->request->url)[0];
                    $this->sent[] = $action->request;
                    $resp = $answer($action->request);
                    $event = $resp === null ? Event::transportError(Event::NETWORK) : Event::response($resp);
                    break;
                case Action::SLEEP:
                    $event = Event::slept();
                    break;
                case Action::PERSIST:
                    $this->trace[] = 'persist';
                    $this->stored = (string) $action->state;
                    $event = Event::persisted();
                    break;
                case Action::LOCK:
                    $this->trace[] = "lock {$action->name}";
                    $event = $this->lockFree ? Event::locked($this->stored) : Event::lockUnavailable();
                    break;
                case Action::UNLOCK:
                    $this->trace[] = 'unlock';
                    $event = Event::unlocked();
                    break;
                case Action::DONE:
                    $this->trace[] = $action->result instanceof CoreError ? "done {$action->result->code()}" : 'done ok';
                    return $action->result;
                default:
                    self::fail("unexpected action {$action->type}");
            }
        }
        self::fail('the call did not finish: ' . implode(', ', $this->trace));
    }

    protected function reset(): void
    {
        $this->trace = [];
        $this->sent = [];
    }

    protected function trace(): string
    {
        return implode(', ', $this->trace);
    }

    /** Registered and connected through the proxy: `at_1`/`rt_1`, expiring an hour after NOW. */
    protected function connected(): CompanionCore
    {
        $c = self::registered();
        $c->state->pendingConnect = new PendingConnect(self::STATE, self::NOW, self::RETURN);
        $this->stored = $c->toJson();
        $callback = self::RETURN . '&state=' . self::STATE . '&code=' . self::CODE . '&code_context=' . self::CONTEXT;
        $done = $this->drive($c, Machine::startCompleteConnect($c, $callback, self::NOW), self::NOW, fn () => self::tokensAnswer('at_1', 'rt_1', 3600));
        self::assertInstanceOf(Completion::class, $done);
        self::assertSame('op_1', $done->account->id);
        return $c;
    }

    protected static function okAfterRefresh(string $access, string $refresh, int $expiresIn = 3600): \Closure
    {
        return fn (Request $r): Response => str_ends_with($r->url, '/refresh')
            ? self::tokensAnswer($access, $refresh, $expiresIn)
            : new Response(200, [], '[]');
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\InvalidInputException;
use Tessera\Exception\TesseraException;
use Tessera\Verifier;

/**
 * Bad input of every kind raises a TesseraException (never a fatal error, a
 * TypeError from the binding, or a crash).
 */
final class BadInputTest extends TestCase
{
    private const WRONG = ['int' => 42, 'float' => 1.5, 'bool' => true, 'null' => null, 'string' => 'text', 'array' => ['a' => 1], 'object' => 'OBJECT', 'closure' => 'CLOSURE'];

    private static function value(mixed $v): mixed
    {
        return match ($v) {
            'OBJECT' => new \stdClass(),
            'CLOSURE' => fn () => 1,
            default => $v,
        };
    }

    /**
     * Every method, every parameter, every wrong type: build the calls by
     * reflection so a new parameter is covered automatically.
     */
    public function testWrongTypesForEveryParameter(): void
    {
        [$c, $secret] = connected();
        $valid = [
            'config' => ['broker_url' => BROKER], 'json' => $c->exportState(), 'registration' => ['site_url' => SITE, 'admin_email' => 'a@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1'],
            'response' => ['status' => 200], 'returnUrl' => SITE . '/cb', 'scope' => null, 'now' => null, 'state' => null, 'callback' => 'state=x',
            'request' => ['method' => 'GET', 'path' => '/x', 'url' => BROKER . '/x'], 'nonce' => null, 'idempotencyKey' => null,
            'transport' => fn ($r) => ['status' => 200], 'sleep' => null, 'persist' => null, 'currentUrl' => SITE, 'keyMaterial' => str_repeat('k', 16),
            'sealed' => 'tsv1.x', 'windowSecs' => null, 'replayCapacity' => null, 'secretFor' => fn ($id) => null, 'replay' => null,
            'url' => BROKER . '/connect', 'installId' => 'ins_x', 'urlOrQuery' => 'ts=1', 'maxAgeSecs' => null, 'secret' => $secret,
            'challenge' => 'challenge-challenge', 'proof' => 'p', 'signatureInput' => 'a=("@method")', 'key' => 'k',
            'serveProof' => null, 'seed' => null, 'clock' => null, 'sealKey' => str_repeat('s', 16),
            'event' => ['source_id' => 'src_1', 'template_id' => 'tpl_1', 'external_url' => 'https://shop.example/x'], 'externalId' => 'k', 'metadata' => ['a' => 'b'],
            'changes' => ['a' => null], 'current' => null, 'lock' => fn ($n) => null, 'unlock' => fn ($n) => null,
            'limit' => null, 'cursor' => '1', 'headers' => ['tessera-push-signature' => 't=1,v1=' . str_repeat('0', 64)], 'body' => '{}',
        ];
        $checked = 0;
        // The declared types are the stub's (php-ext/tessera.stub.php, which
        // stub-check.php holds to the extension): the pure-PHP methods are
        // untyped on purpose, so that a wrong type is theirs to refuse.
        $stub = stub_description()['classes'];
        foreach ([Companion::class, Verifier::class] as $class) {
            foreach ((new \ReflectionClass($class))->getMethods() as $m) {
                if ($m->getName() === '__construct' && $class === Companion::class) {
                    continue;
                }
                if (in_array($m->getName(), PURE_MAGIC_METHODS, true) && impl() === IMPL_PURE) {
                    continue;
                }
                $declared = $stub[$class]['methods'][$m->getName()] ?? null;
                $this->assertNotNull($declared, "$class::{$m->getName()} is not in the stub");
                $this->assertSame(array_column($declared['params'], 'name'), array_map(fn ($p) => $p->getName(), $m->getParameters()), "$class::{$m->getName()}");
                foreach ($m->getParameters() as $i => $p) {
                    $type = (string) $declared['params'][$i]['type'];
                    if (impl() === IMPL_EXTENSION) {
                        $this->assertSame($type, (string) $p->getType(), "$class::{$m->getName()} \${$p->getName()}");
                    }
                    foreach (self::WRONG as $label => $wrong) {
                        if ($this->accepts($type, $label)) {
                            continue;
                        }
                        $args = [];
                        foreach ($m->getParameters() as $j => $q) {
                            if ($j !== $i && !array_key_exists($q->getName(), $valid)) {
                                $this->fail("no valid value for \${$q->getName()}");
                            }
                            $args[] = $j === $i ? self::value($wrong) : $valid[$q->getName()];
                        }
                        $target = $m->isStatic() ? null : ($class === Companion::class ? Companion::importState($c->exportState()) : new Verifier());
                        try {
                            $m->getName() === '__construct' ? new Verifier(...$args) : $m->invokeArgs($target, $args);
                            $this->fail("$class::{$m->getName()} accepted $label for \${$p->getName()}");
                        } catch (InvalidInputException $e) {
                            $this->assertSame('invalid_input', $e->getErrorCode());
                            $checked++;
                        }
                    }
                }
            }
        }
        $this->assertGreaterThan(150, $checked);
    }

    private function accepts(string $type, string $label): bool
    {
        $nullable = str_starts_with($type, '?');
        $base = ltrim($type, '?');
        return ($label === 'null' && $nullable)
            || ($base === 'array' && $label === 'array')
            || ($base === 'string' && $label === 'string')
            || ($base === 'int' && $label === 'int')
            || ($base === 'callable' && $label === 'closure');
    }

    public function testArgumentCountIsAnEngineError(): void
    {
        $this->expectException(\ArgumentCountError::class);
        Companion::create();
    }

    public function testNonUtf8Everywhere(): void
    {
        [$c] = connected();
        $bad = "caf\xe9";
        $cases = [
            'config key' => fn () => Companion::create(['broker_url' => BROKER, "rout\xff" => []]),
            'config value' => fn () => Companion::create(['broker_url' => "https://$bad.example"]),
            'json' => fn () => Companion::importState("{\"v\":1,\"x\":\"$bad\"}"),
            'path' => fn () => $c->signRequest(['method' => 'GET', 'path' => "/api/$bad"]),
            'method' => fn () => $c->signRequest(['method' => "G\xffT", 'path' => '/x']),
            'header name' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/x', 'headers' => ["X-$bad" => 'v']]),
            'header value' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/x', 'headers' => ['X-A' => $bad]]),
            'nonce' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/x'], null, $bad),
            'return url' => fn () => $c->connectUrl(SITE . "/$bad"),
            'callback' => fn () => $c->completeConnect("state=$bad", connect_transport()),
            'current url' => fn () => $c->checkSite("https://$bad.example"),
            'response header' => fn () => Companion::classify(['status' => 200, 'headers' => ['X' => $bad]]),
            'registration' => fn () => Companion::create(['broker_url' => BROKER])->registrationRequest(['site_url' => SITE, 'admin_email' => "$bad@shop.example", 'platform' => 'wordpress', 'plugin_version' => '1']),
        ];
        foreach ($cases as $name => $f) {
            try {
                $f();
                $this->fail("accepted non-UTF-8 $name");
            } catch (TesseraException $e) {
                $this->assertNotInstanceOf(\Tessera\Exception\TesseraException::class === get_class($e) ? \stdClass::class : \Error::class, $e, $name);
                $this->assertNotSame('internal', $e->getErrorCode(), $name);
            }
        }
        // Bodies are bytes: non-UTF-8 is fine there.
        $this->assertSame("\xff\xfe", $c->signRequest(['method' => 'POST', 'path' => '/x', 'body' => "\xff\xfe"])['body']);
    }

    public function testNulBytes(): void
    {
        [$c] = connected();
        foreach ([
            fn () => $c->signRequest(['method' => 'GET', 'path' => "/a\0b"]),
            fn () => $c->signRequest(['method' => 'GET', 'path' => '/x', 'headers' => ['X-A' => "a\0b"]]),
            fn () => $c->connectUrl(SITE . "/cb\0"),
            fn () => Companion::create(['broker_url' => "https://broker.example\0.evil"]),
        ] as $i => $f) {
            try {
                $f();
                $this->fail("accepted a NUL byte (case $i)");
            } catch (InvalidInputException $e) {
                $this->assertContains($e->getErrorCode(), ['invalid_input', 'invalid_url']);
            }
        }
    }

    public function testHugeInputs(): void
    {
        [$c] = connected();
        $mb = str_repeat('a', 1 << 20);
        $cases = [
            'body 8 MiB' => fn () => $c->signRequest(['method' => 'POST', 'path' => '/x', 'body' => str_repeat($mb, 8)]),
            'path 4 MiB' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/' . str_repeat($mb, 4)]),
            'header value 1 MiB' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/x', 'headers' => ['X-A' => $mb]]),
            'header name 1 MiB' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/x', 'headers' => [$mb => 'v']]),
            '100k headers' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/x', 'headers' => array_fill_keys(array_map(fn ($i) => "x-h$i", range(1, 100000)), 'v')]),
            'method 1 MiB' => fn () => $c->signRequest(['method' => $mb, 'path' => '/x']),
            'nonce 1 MiB' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/x'], null, $mb),
            'state json 16 MiB' => fn () => Companion::importState('{"v":1,"pad":"' . str_repeat($mb, 16) . '"}'),
            'sealed 8 MiB' => fn () => Companion::openState('tsv1.' . str_repeat($mb, 8), 'key-material-key'),
            'callback 4 MiB' => fn () => $c->completeConnect('state=' . str_repeat($mb, 4), connect_transport()),
            'return url 4 MiB' => fn () => $c->connectUrl(SITE . '/' . str_repeat($mb, 4)),
            'broker url 4 MiB' => fn () => Companion::create(['broker_url' => BROKER . '/' . str_repeat($mb, 4)]),
            'response body 8 MiB' => fn () => Companion::classify(['status' => 400, 'body' => '{"error":"' . str_repeat($mb, 8) . '"}']),
            'verify body 8 MiB' => fn () => (new Verifier(null, 8))->verify(['method' => 'POST', 'url' => BROKER . '/x', 'body' => str_repeat($mb, 8)], fn ($id) => null),
            'connect url 4 MiB' => fn () => Verifier::verifyConnectUrl(str_repeat($mb, 4), fn ($id) => null),
        ];
        foreach ($cases as $name => $f) {
            try {
                $r = $f();
                // Classifying a huge body is fine: the core only reads a bounded prefix.
                $this->assertSame('response body 8 MiB', $name, "accepted $name");
                $this->assertSame('client_error', $r['kind']);
            } catch (TesseraException $e) {
                $this->assertNotSame('internal', $e->getErrorCode(), $name);
            }
        }
    }

    public function testMalformedArrays(): void
    {
        [$c] = connected();
        $deep = [];
        for ($i = 0; $i < 200; $i++) {
            $deep = ['x' => $deep];
        }
        $self = ['broker_url' => BROKER];
        $self['routes'] = &$self;
        $cases = [
            'missing method' => fn () => $c->signRequest(['path' => '/x']),
            'missing path' => fn () => $c->signRequest(['method' => 'GET']),
            'list instead of map' => fn () => $c->signRequest(['GET', '/x']),
            'headers is a string' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/x', 'headers' => 'X-A: b']),
            'header value nested' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/x', 'headers' => ['X-A' => [['b']]]]),
            'header value int' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/x', 'headers' => ['X-A' => 5]]),
            'header object' => fn () => $c->signRequest(['method' => 'GET', 'path' => '/x', 'headers' => ['X-A' => new \stdClass()]]),
            'body array' => fn () => $c->signRequest(['method' => 'POST', 'path' => '/x', 'body' => ['a' => 1]]),
            'method int' => fn () => $c->signRequest(['method' => 1, 'path' => '/x']),
            'status string' => fn () => Companion::classify(['status' => '200']),
            'status negative' => fn () => Companion::classify(['status' => -1]),
            'status float' => fn () => Companion::classify(['status' => 200.0]),
            'config empty' => fn () => Companion::create([]),
            'config url int' => fn () => Companion::create(['broker_url' => 5]),
            'config retry wrong type' => fn () => Companion::create(['broker_url' => BROKER, 'retry' => ['max_attempts' => 'three']]),
            'config retry negative' => fn () => Companion::create(['broker_url' => BROKER, 'retry' => ['max_attempts' => -1]]),
            'config retry out of range' => fn () => Companion::create(['broker_url' => BROKER, 'retry' => ['max_attempts' => 1000]]),
            'config nan' => fn () => Companion::create(['broker_url' => BROKER, 'retry' => ['base_delay_ms' => NAN]]),
            'config object' => fn () => Companion::create(['broker_url' => BROKER, 'routes' => new \ArrayObject([])]),
            'config deep' => fn () => Companion::create(['broker_url' => BROKER, 'routes' => $deep]),
            'config self reference' => fn () => Companion::create($self),
            'registration missing key' => fn () => Companion::create(['broker_url' => BROKER])->registrationRequest(['site_url' => SITE]),
            'state not json' => fn () => Companion::importState('not json'),
            'state json array' => fn () => Companion::importState('[]'),
            'state deep json' => fn () => Companion::importState(str_repeat('[', 100000) . str_repeat(']', 100000)),
            'verify url missing' => fn () => (new Verifier(null, 8))->verify(['method' => 'GET'], fn ($id) => null),
        ];
        foreach ($cases as $name => $f) {
            try {
                $f();
                $this->fail("accepted $name");
            } catch (TesseraException $e) {
                $this->assertNotSame('internal', $e->getErrorCode(), $name);
                $this->assertTrue($e instanceof InvalidInputException || $e instanceof \Tessera\Exception\InvalidStateException, "$name: " . get_class($e));
            }
        }
    }

    public function testBadCallables(): void
    {
        [$c] = connected();
        foreach (['no_such_function', 'Nope::nope', [new \stdClass(), 'nope'], 123] as $bad) {
            try {
                $c->call(['method' => 'GET', 'path' => '/x'], $bad);
                $this->fail('accepted a non-callable transport');
            } catch (InvalidInputException $e) {
                $this->assertSame('invalid_input', $e->getErrorCode());
            }
        }
        // A string naming a function is a callable.
        $this->assertSame(200, $c->call(['method' => 'GET', 'path' => '/x'], __NAMESPACE__ . '\ok_transport')['status']);
    }

    public function testBadVerifierCallbacks(): void
    {
        [$c, $secret] = connected();
        $signed = $c->signRequest(['method' => 'GET', 'path' => '/api/x']);
        $v = new Verifier(null, 8);
        foreach ([fn ($id) => 42, fn ($id) => ['x'], fn ($id) => 'not base64url!', fn ($id) => 'c2hvcnQ'] as $i => $secretFor) {
            try {
                $v->verify($signed, $secretFor);
                $this->fail("accepted a bad secretFor result ($i)");
            } catch (InvalidInputException $e) {
                $this->assertSame('invalid_input', $e->getErrorCode());
            }
        }
        try {
            $v->verify($signed, fn ($id) => $secret, fn ($k, $e, $n) => 'yes');
            $this->fail('accepted a replay answer other than fresh/seen/full/true/false');
        } catch (InvalidInputException $e) {
            $this->assertSame('invalid_input', $e->getErrorCode());
            $this->assertStringContainsString('`replay`', $e->getMessage());
        }
        // An exception thrown by a callback propagates unchanged.
        $boom = new \DomainException('store down');
        try {
            $v->verify($signed, fn ($id) => $secret, fn ($k, $e, $n) => throw $boom);
            $this->fail();
        } catch (\DomainException $e) {
            $this->assertSame($boom, $e);
        }
    }
}

function ok_transport(array $request): array
{
    return ['status' => 200, 'headers' => [], 'body' => ''];
}

<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\CompanionCore;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\EventPage;
use Tessera\Pure\Internal\Events;
use Tessera\Pure\Internal\State;

/**
 * Stora's events pulled from the broker: ports of the unit tests of
 * core/src/events.rs (the same pages, the same messages), and the cursor's
 * life in the state (core/src/machine/pull.rs, core/src/state/json.rs).
 * The machine scripts "events: …" replay in MachineVectorsTest.
 */
final class EventsTest extends Support
{
    private const EVENT = '{"id":"evt_1","type":"order.updated","api_version":"2025-09","created_at":1760000000,"data":{"b":[1.5e3,{"x":null}],"a":"\u00e9\n"}}';

    private static function page(string $body): EventPage
    {
        return Events::parsePage($body, 5, 3);
    }

    public function testReadsAPageAndKeepsTheDataAsSent(): void
    {
        $p = self::page('{"events":[' . self::EVENT . '],"cursor":"7","has_more":true,"extra":1}');
        self::assertSame('7', $p->cursor);
        self::assertTrue($p->hasMore);
        $e = $p->events[0];
        self::assertSame(['evt_1', 'order.updated', '2025-09'], [$e->id, $e->type, $e->apiVersion]);
        self::assertSame(1760000000, $e->createdAt);
        self::assertSame("{\"b\":[1.5e3,{\"x\":null}],\"a\":\"\u{e9}\\n\"}", $e->dataJson);
        $empty = self::page('{"events":[],"cursor":"5","has_more":false}');
        self::assertSame([], $empty->events);
    }

    public function testRefusesWhatBreaksTheShape(): void
    {
        $cases = [
            ['[]', 'not an object'],
            ['{"events":{},"cursor":"7","has_more":false}', 'events must be an array'],
            ['{"events":[],"cursor":7,"has_more":false}', 'cursor must be a string'],
            ['{"events":[],"cursor":"","has_more":false}', 'cursor must be 1 to 18 decimal digits'],
            ['{"events":[],"cursor":"1234567890123456789","has_more":false}', 'cursor must be 1 to 18 decimal digits'],
            ['{"events":[],"cursor":"4","has_more":false}', 'cursor went backwards'],
            ['{"events":[],"cursor":"5","has_more":true}', 'has_more on a page without events'],
            ['{"events":[],"cursor":"5","has_more":"no"}', 'has_more must be a boolean'],
            ['{"events":[],"events":[],"cursor":"5","has_more":false}', 'a member appears twice'],
            // Beyond the Rust test's list: the other checks, in their order.
            ['{"events":[', 'not JSON'],
            ['{"events":[1,2,3,4],"cursor":"9","has_more":false}', 'more events than the limit asked for'],
            ['{"events":[1],"cursor":"9","has_more":false}', 'an event is not an object'],
        ];
        foreach ($cases as [$body, $why]) {
            self::assertCoreError('response_invalid', fn () => self::page($body), "the broker's answer is malformed: {$why}", $body);
        }
        $with = fn (string $e) => fn () => self::page('{"events":[' . $e . '],"cursor":"9","has_more":false}');
        $bad = fn (string $why) => "the broker's answer is malformed: {$why}";
        self::assertCoreError('response_invalid', $with(str_replace('"evt_1"', '""', self::EVENT)), $bad("an event's id must be 1 to 255 bytes"));
        self::assertCoreError('response_invalid', $with(str_replace('1760000000', '1.5', self::EVENT)), $bad("an event's created_at must be an integer"));
        // A member given twice in data is written as sent (json_decode keeps the last, as every binding's decoder).
        $twice = self::page('{"events":[' . str_replace('"x":null', '"x":1,"x":2', self::EVENT) . '],"cursor":"9","has_more":false}');
        self::assertStringContainsString('"x":1,"x":2', $twice->events[0]->dataJson, 'written as sent');
        self::assertCoreError('response_invalid', $with(self::EVENT . ',' . self::EVENT), $bad('an event appears twice'));
        self::assertCoreError('response_invalid', fn () => self::page('{"events":[' . self::EVENT . '],"cursor":"5","has_more":false}'), $bad('cursor went backwards'));
        self::assertCoreError('response_invalid', $with(str_replace('"order.updated"', '"' . str_repeat('t', 256) . '"', self::EVENT)), $bad("an event's type must be 1 to 255 bytes"));
        self::assertCoreError('response_invalid', $with(str_replace('"2025-09"', 'null', self::EVENT)), $bad("an event's api_version must be a string of at most 255 bytes"));
        self::assertCoreError('response_invalid', $with(str_replace('"data":{', '"data":[{', substr(self::EVENT, 0, -1)) . ']}'), $bad("an event's data must be an object"));
        // The kind is server_unavailable, with no status.
        $e = self::assertCoreError('response_invalid', fn () => self::page('[]'));
        self::assertSame(['server_unavailable', null], [$e->kind(), $e->status()]);
    }

    public function testPullPathsAndCursors(): void
    {
        self::assertSame('/events?limit=50', Events::pullPath(null, 50));
        self::assertSame('/events?after=42&limit=1', Events::pullPath('42', 1));
        self::assertCoreError('invalid_input', fn () => Events::pullPath(null, 0), 'invalid `limit`: must be 1 to 100');
        self::assertCoreError('invalid_input', fn () => Events::pullPath(null, 101));
        self::assertSame(7, Events::cursorValue('007'));
        self::assertSame(999_999_999_999_999_999, Events::cursorValue('999999999999999999'));
        self::assertNull(Events::cursorValue('-1'));
        self::assertNull(Events::cursorValue(''));
        self::assertNull(Events::cursorValue('1234567890123456789'));
    }

    /** The cursor: acknowledged forward only, stored as its decimal value, written last in the state and read back checked. */
    public function testTheCursorInTheState(): void
    {
        $script = json_decode((string) file_get_contents(self::root() . '/tests/vectors/machine-call.json'), true, 512, JSON_THROW_ON_ERROR)['scripts'];
        $connected = array_values(array_filter($script, fn ($s) => $s['name'] === 'events: first pull, page acknowledged'))[0]['state'];
        $c = CompanionCore::fromJson($connected);
        self::assertNull(Events::cursor($c));
        self::assertCoreError('invalid_input', fn () => Events::acknowledge($c, 'x'), 'invalid `cursor`: must be 1 to 18 decimal digits');
        self::assertTrue(Events::acknowledge($c, '007'));
        self::assertSame('7', Events::cursor($c));
        self::assertFalse(Events::acknowledge($c, '7'));
        self::assertFalse(Events::acknowledge($c, '6'));
        self::assertTrue(Events::acknowledge($c, '8'));
        self::assertStringEndsWith(',"site_mismatch":null,"events_cursor":"8"}', $c->toJson());
        self::assertSame('8', Events::cursor(CompanionCore::fromJson($c->toJson())));
        foreach (['"x"', '""', '"1234567890123456789"', '"-1"'] as $bad) {
            $json = str_replace('"events_cursor":"8"', '"events_cursor":' . $bad, $c->toJson());
            self::assertCoreError('state_corrupt', fn () => State::fromJson($json), 'state is corrupt: `events_cursor` must be 1 to 18 decimal digits', $bad);
        }
        self::assertCoreError('state_corrupt', fn () => State::fromJson(str_replace('"events_cursor":"8"', '"events_cursor":8', $c->toJson())), 'state is corrupt: `events_cursor` must be a string');
        self::assertNull(State::fromJson(str_replace('"events_cursor":"8"', '"events_cursor":null', $c->toJson()))->eventsCursor);
        // Without an installation there is nothing to acknowledge.
        $fresh = CompanionCore::fromJson(preg_replace('/"installation":\{[^}]*\}/', '"installation":null', $connected) ?? '');
        self::assertCoreError('not_registered', fn () => Events::acknowledge($fresh, '1'));
        self::assertCoreError('invalid_input', fn () => Events::acknowledge($fresh, '1x'));
    }

    /** Proxy mode has no broker queue; a limit is checked before the connection. */
    public function testPullsStartOnlyInBrokerModeWithinTheLimit(): void
    {
        $proxy = array_values(array_filter(
            json_decode((string) file_get_contents(self::root() . '/tests/vectors/machine-proxy.json'), true, 512, JSON_THROW_ON_ERROR)['scripts'],
            fn ($s) => str_contains($s['state'], '"tokens"'),
        ))[0]['state'];
        self::assertCoreError('invalid_state', fn () => Events::startPull(CompanionCore::fromJson($proxy), 0), 'invalid state: events are pulled from a broker; proxy mode has none');
        $fresh = CompanionCore::fromJson(CompanionCore::create(new \Tessera\Pure\Internal\Config('https://broker.example'))->toJson());
        self::assertCoreError('invalid_input', fn () => Events::startPull($fresh, 101));
        self::assertCoreError('not_registered', fn () => Events::startPull($fresh, 100));
        self::assertInstanceOf(CoreError::class, CoreError::responseInvalid('x'));
    }
}

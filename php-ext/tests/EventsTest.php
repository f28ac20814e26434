<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\InvalidInputException;
use Tessera\Exception\InvalidStateException;
use Tessera\Exception\ServerUnavailableException;

/**
 * Stora's events pulled from the broker (docs/PROTOCOL.md §14.3) as a PHP
 * host sees them: `pullEvents()` through the driver with a fake transport,
 * `acknowledgeEvents()` with a `$persist`, `eventsCursor()`. Every rule is
 * the core's; MachineTest replays the core's "events: …" scripts action by
 * action, these check the PHP shapes around them.
 */
final class EventsTest extends TestCase
{
    private const KEY = 'wp-logged-in-key|wp-logged-in-salt|seal';

    /** Two events as the broker sends them: a float written as `12.5e1`, an integer beyond PHP's, an escaped name, an extra member. */
    private const PAGE = '{"events":['
        . '{"id":"evt_1","type":"order.updated","api_version":"2025-09","created_at":1700000000,"data":{"object":{"id":"ord_1","total":12.5e1,"big":12345678901234567890}}},'
        . '{"id":"evt_2","type":"contact.created","api_version":"2025-09","created_at":1700000001,"data":{"object":{"id":"con_1","name":"Zo\u00eb"},"7":[true,null]},"extra":1}'
        . '],"cursor":"42","has_more":true}';

    private static function page(string $body = self::PAGE): array
    {
        return ['status' => 200, 'headers' => ['Content-Type' => 'application/json'], 'body' => $body];
    }

    public function testPullsAPageThroughTheDriver(): void
    {
        [$c] = connected();
        $t = new FakeTransport([response(503), self::page()]);
        $r = new Recorder();
        $page = $c->pullEvents($t, $r->sleep(), $r->persist());
        // One signed GET, retried after the 503; nothing persisted.
        $this->assertCount(2, $t->requests);
        $this->assertSame('GET', $t->requests[1]['method']);
        $this->assertSame(BROKER . '/events?limit=50', $t->requests[1]['url']);
        $this->assertSame('Bearer btk_test_token', $t->requests[1]['headers']['authorization']);
        $this->assertStringContainsString('"@query"', $t->requests[1]['headers']['signature-input']);
        $this->assertCount(1, $r->sleeps);
        $this->assertSame([], $r->persisted);
        $this->assertSame(['events', 'cursor', 'has_more'], array_keys($page));
        $this->assertSame('42', $page['cursor']);
        $this->assertTrue($page['has_more']);
        $this->assertCount(2, $page['events']);
        [$first, $second] = $page['events'];
        $this->assertSame(['id', 'type', 'api_version', 'created_at', 'data', 'data_json'], array_keys($first));
        $this->assertSame(['evt_1', 'order.updated', '2025-09', 1700000000], [$first['id'], $first['type'], $first['api_version'], $first['created_at']]);
        // data_json: Stora's `data` as sent (compact, numbers as written); data: it decoded.
        $this->assertSame('{"object":{"id":"ord_1","total":12.5e1,"big":12345678901234567890}}', $first['data_json']);
        $this->assertSame(['object' => ['id' => 'ord_1', 'total' => 125.0, 'big' => '12345678901234567890']], $first['data']);
        $this->assertSame('{"object":{"id":"con_1","name":"Zoë"},"7":[true,null]}', $second['data_json']);
        $this->assertSame(['object' => ['id' => 'con_1', 'name' => 'Zoë'], 7 => [true, null]], $second['data']);
        // The cursor moves only when the host acknowledges the page.
        $this->assertNull($c->eventsCursor());
        $this->assertArrayNotHasKey('events_cursor', json_decode($c->exportState(), true));
    }

    public function testAnAcknowledgedPageIsPersistedAndTheNextPullStartsAfterIt(): void
    {
        [$c] = connected();
        $page = $c->pullEvents(new FakeTransport([self::page()]), null, null, 2);
        $r = new Recorder();
        $this->assertTrue($c->acknowledgeEvents($page['cursor'], $r->persist()));
        $this->assertSame('42', $c->eventsCursor());
        $this->assertCount(1, $r->persisted);
        $this->assertSame($c->exportState(), $r->persisted[0]);
        $this->assertSame('42', json_decode($r->persisted[0], true)['events_cursor']);
        $this->assertSame('42', Companion::importState($r->persisted[0])->eventsCursor());
        // The same page again (or an older one): nothing moves, nothing is persisted.
        $this->assertFalse($c->acknowledgeEvents('42', $r->persist()));
        $this->assertFalse($c->acknowledgeEvents('41', $r->persist()));
        $this->assertCount(1, $r->persisted);
        // The next pull asks for what follows the cursor.
        $t = new FakeTransport([self::page('{"events":[],"cursor":"42","has_more":false}')]);
        $empty = $c->pullEvents($t, null, null, 3);
        $this->assertSame(BROKER . '/events?after=42&limit=3', $t->requests[0]['url']);
        $this->assertSame(['events' => [], 'cursor' => '42', 'has_more' => false], $empty);
        // Stored as its decimal value; without a persist callable it moves all the same.
        $this->assertTrue($c->acknowledgeEvents('0043'));
        $this->assertSame('43', $c->eventsCursor());
        $t = new FakeTransport([self::page('{"events":[],"cursor":"43","has_more":false}')]);
        $c->pullEvents($t);
        $this->assertSame(BROKER . '/events?after=43&limit=50', $t->requests[0]['url']);
    }

    public function testWithASealKeyTheAcknowledgedStateIsPersistedSealed(): void
    {
        [$plain] = connected();
        $c = Companion::importState($plain->exportState(), self::KEY);
        $r = new Recorder();
        $this->assertTrue($c->acknowledgeEvents('9', $r->persist()));
        $this->assertCount(1, $r->persisted);
        $this->assertStringStartsWith('tsv1.', $r->persisted[0]);
        $this->assertStringNotContainsString('btk_test_token', $r->persisted[0]);
        $opened = Companion::openState($r->persisted[0], self::KEY);
        $this->assertSame('9', $opened->eventsCursor());
        $this->assertSame($c->exportState(), $opened->exportState());
    }

    public function testAMalformedPageIsResponseInvalidAndTheCursorStays(): void
    {
        [$c] = connected();
        $c->acknowledgeEvents('5');
        $before = $c->exportState();
        $bad = [
            '{"events":{},"cursor":"7","has_more":false}' => 'events must be an array',
            '{"events":[],"cursor":"4","has_more":false}' => 'cursor went backwards',
            '{"events":[],"cursor":"6","has_more":true}' => 'has_more on a page without events',
            '{"events":[{"id":"evt_1","type":"t","api_version":"v","created_at":1,"data":{}},{"id":"evt_1","type":"t","api_version":"v","created_at":1,"data":{}}],"cursor":"6","has_more":false}'
                => 'an event appears twice',
            'not json' => 'not JSON',
        ];
        foreach ($bad as $body => $why) {
            $t = new FakeTransport([self::page($body), self::page()]);
            $r = new Recorder();
            try {
                $c->pullEvents($t, $r->sleep(), $r->persist());
                $this->fail("a malformed page was accepted: $body");
            } catch (ServerUnavailableException $e) {
                $this->assertSame('response_invalid', $e->getErrorCode(), $body);
                $this->assertSame("the broker's answer is malformed: $why", $e->getMessage());
                $this->assertNull($e->getStatus());
            }
            // Not retried, nothing persisted, the cursor where it was.
            $this->assertCount(1, $t->requests, $body);
            $this->assertSame([[], []], [$r->sleeps, $r->persisted]);
            $this->assertSame('5', $c->eventsCursor());
            $this->assertSame($before, $c->exportState());
        }
    }

    /** A member given twice in an event's data is kept as sent in `data_json`; `data` (json_decode) keeps the last. */
    public function testAMemberTwiceInDataIsKeptAsSent(): void
    {
        [$c] = connected();
        $body = '{"events":[{"id":"evt_1","type":"t","api_version":"v","created_at":1,"data":{"a":1,"b":{"c":true,"c":false},"a":2}}],"cursor":"6","has_more":false}';
        $page = $c->pullEvents(new FakeTransport([self::page($body)]));
        $this->assertCount(1, $page['events']);
        $this->assertSame('{"a":1,"b":{"c":true,"c":false},"a":2}', $page['events'][0]['data_json']);
        $this->assertSame(['a' => 2, 'b' => ['c' => false]], $page['events'][0]['data']);
    }

    public function testAcknowledgingRefusesWhatIsNotACursor(): void
    {
        [$c] = connected();
        $persisted = [];
        $persist = function (string $s) use (&$persisted): void {
            $persisted[] = $s;
        };
        foreach (['x', '', '-1', '1.5', '1234567890123456789'] as $cursor) {
            try {
                $c->acknowledgeEvents($cursor, $persist);
                $this->fail("acknowledged '$cursor'");
            } catch (InvalidInputException $e) {
                $this->assertSame('invalid_input', $e->getErrorCode());
                $this->assertSame('invalid `cursor`: must be 1 to 18 decimal digits', $e->getMessage());
            }
        }
        foreach ([[7, null], ['7', 'not callable']] as [$cursor, $callable]) {
            try {
                $c->acknowledgeEvents($cursor, $callable);
                $this->fail('a wrong argument was accepted');
            } catch (InvalidInputException $e) {
                $this->assertSame('invalid_input', $e->getErrorCode());
            }
        }
        $this->assertSame([], $persisted);
        $this->assertNull($c->eventsCursor());
        // Without an installation there is no cursor to move.
        try {
            Companion::create(['broker_url' => BROKER])->acknowledgeEvents('1');
            $this->fail('acknowledged without an installation');
        } catch (InvalidStateException $e) {
            $this->assertSame('not_registered', $e->getErrorCode());
        }
    }

    public function testWhatIsRefusedBeforeAnythingIsSent(): void
    {
        [$c] = connected();
        $t = new FakeTransport([]);
        foreach ([0, 101, -1, PHP_INT_MAX, '5', 5.0] as $limit) {
            try {
                $c->pullEvents($t, null, null, $limit);
                $this->fail('a limit of ' . var_export($limit, true) . ' was accepted');
            } catch (InvalidInputException $e) {
                $this->assertStringStartsWith('invalid `limit`: ', $e->getMessage());
            }
        }
        [$registered] = registered();
        $proxy = Companion::create(['broker_url' => 'https://proxy.example', 'proxy' => ['stora_api_url' => 'https://api.stora.example']]);
        foreach ([[$registered, 'not_connected'], [$proxy, 'invalid_state']] as [$companion, $code]) {
            try {
                $companion->pullEvents($t);
                $this->fail("pulled events: $code expected");
            } catch (InvalidStateException $e) {
                $this->assertSame($code, $e->getErrorCode());
            }
        }
        $this->assertSame([], $t->requests);
    }
}

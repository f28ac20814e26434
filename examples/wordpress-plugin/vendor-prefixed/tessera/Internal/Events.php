<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Stora's events, pulled from the broker (port of core/src/events.rs and
 * core/src/machine/pull.rs; docs/PROTOCOL.md §14.3): the broker receives
 * Stora's signed webhooks for the operator's connection and keeps a queue
 * per installation; the plugin pulls it with a signed `GET
 * {base}/events?after=<cursor>&limit=<n>`, so events reach sites that accept
 * no inbound request.
 *
 * {@see startPull()} runs the pull as an API call on the step machine
 * (retries, clock skew, reconnect mapping); its 2xx answer is read as an
 * {@see EventPage} checked against the documented shape ({@see pulled()}).
 * The cursor is kept in the state and only moves when the host says it
 * handled the page ({@see acknowledge()}): at least once; hosts de-duplicate
 * by the event id.
 */
final class Events
{
    /** The broker path the events are pulled from. */
    public const EVENTS_PULL_PATH = '/events';
    /** Most events one pull may ask for. */
    public const MAX_PULL_LIMIT = 100;
    /** What a host usually asks for (the broker's default). */
    public const DEFAULT_PULL_LIMIT = 50;
    /** A cursor is 1 to this many decimal digits. */
    public const MAX_CURSOR_DIGITS = 18;
    /** An event's `id` and `type`: 1 to this many bytes. */
    public const MAX_EVENT_NAME = 255;

    /** A cursor's value: 1 to 18 ASCII digits (`cursor_value`; 18 digits always fit a PHP int). */
    public static function cursorValue(string $cursor): ?int
    {
        $n = \strlen($cursor);
        if ($n === 0 || $n > self::MAX_CURSOR_DIGITS || strspn($cursor, '0123456789') !== $n) {
            return null;
        }
        return (int) $cursor;
    }

    /**
     * The path of a pull after `$after` (null: from the start) of at most
     * `$limit` events (`pull_path`).
     *
     * @throws CoreError invalid_input `limit` outside 1 to 100
     */
    public static function pullPath(?string $after, int $limit): string
    {
        if ($limit < 1 || $limit > self::MAX_PULL_LIMIT) {
            throw CoreError::invalidInput('limit', 'must be 1 to 100');
        }
        return $after !== null
            ? self::EVENTS_PULL_PATH . "?after={$after}&limit={$limit}"
            : self::EVENTS_PULL_PATH . "?limit={$limit}";
    }

    /**
     * Starts a pull of at most `$limit` (1 to 100) events after the stored
     * cursor, run exactly as {@see Machine::startCall()} runs a `GET`
     * (`start_pull_events`). Broker mode only (`invalid_state` in proxy
     * mode). Ends with `Completion::EVENTS`, or `response_invalid` for a 2xx
     * whose body breaks the documented shape; the cursor does not move.
     *
     * @throws CoreError
     */
    public static function startPull(CompanionCore $c, int $limit): Call
    {
        if ($c->state->config->proxy !== null) {
            throw CoreError::invalidState('events are pulled from a broker; proxy mode has none');
        }
        $after = $c->state->eventsCursor;
        $path = self::pullPath($after, $limit);
        $call = Machine::startCall($c, new ApiRequest('GET', $path));
        $call->pull = [$after === null ? null : self::cursorValue($after), $limit];
        return $call;
    }

    /** Where the next pull starts: the cursor of the last page acknowledged (`events_cursor`). */
    public static function cursor(CompanionCore $c): ?string
    {
        return $c->state->eventsCursor;
    }

    /**
     * Moves the cursor to `$cursor` (a page's) once the host handled that
     * page (`acknowledge_events`); the host then persists the state. Returns
     * whether it moved: a cursor not past the stored one leaves it where it
     * is. Stores the decimal value (`"007"` → `"7"`).
     *
     * @throws CoreError invalid_input `cursor` not 1 to 18 decimal digits; not_registered without an installation
     */
    public static function acknowledge(CompanionCore $c, string $cursor): bool
    {
        $position = self::cursorValue($cursor);
        if ($position === null) {
            throw CoreError::invalidInput('cursor', 'must be 1 to 18 decimal digits');
        }
        if ($c->state->installation === null) {
            throw CoreError::notRegistered();
        }
        $stored = $c->state->eventsCursor === null ? null : self::cursorValue($c->state->eventsCursor);
        if ($stored !== null && $stored >= $position) {
            return false;
        }
        $c->state->eventsCursor = (string) $position;
        return true;
    }

    /** A 2xx answer to an API call: a pull's page, or why it is refused; any other call's response (`pulled`). */
    public static function pulled(Call $call, Response $resp): Action
    {
        if ($call->pull === null) {
            return Action::done(Completion::response($resp));
        }
        try {
            return Action::done(Completion::events(self::parsePage($resp->body, $call->pull[0], $call->pull[1])));
        } catch (CoreError $e) {
            return Action::done($e);
        }
    }

    /**
     * Reads a 2xx answer to a pull sent after the cursor `$after` for at most
     * `$limit` events, checking the documented shape (`parse_page`): `events`
     * an array of at most `$limit` events with distinct ids; `cursor` 1 to 18
     * digits, not before `$after`, and past it when events came; `has_more` a
     * boolean, never `true` on an empty page. Other members are ignored.
     *
     * @throws CoreError response_invalid
     */
    public static function parsePage(string $body, ?int $after, int $limit): EventPage
    {
        try {
            $root = Json::parse($body);
        } catch (JsonParseError) {
            throw self::bad('not JSON');
        }
        if (!$root->isObject()) {
            throw self::bad('not an object');
        }
        $items = self::member($root, 'events')?->items();
        if ($items === null) {
            throw self::bad('events must be an array');
        }
        if (\count($items) > $limit) {
            throw self::bad('more events than the limit asked for');
        }
        $events = [];
        foreach ($items as $item) {
            $events[] = self::event($item);
        }
        $ids = [];
        foreach ($events as $e) {
            if (isset($ids[$e->id])) {
                throw self::bad('an event appears twice');
            }
            $ids[$e->id] = true;
        }
        $cursor = self::member($root, 'cursor')?->asStr() ?? throw self::bad('cursor must be a string');
        $position = self::cursorValue($cursor) ?? throw self::bad('cursor must be 1 to 18 decimal digits');
        $after ??= 0;
        if ($position < $after || ($events !== [] && $position === $after)) {
            throw self::bad('cursor went backwards');
        }
        $hasMore = self::member($root, 'has_more')?->asBool() ?? throw self::bad('has_more must be a boolean');
        if ($hasMore && $events === []) {
            throw self::bad('has_more on a page without events');
        }
        return new EventPage($events, $cursor, $hasMore);
    }

    private static function bad(string $why): CoreError
    {
        return CoreError::responseInvalid($why);
    }

    /** The member `$key` of `$obj`; a duplicate makes the answer ambiguous. @throws CoreError */
    private static function member(JsonValue $obj, string $key): ?JsonValue
    {
        try {
            return $obj->get($key);
        } catch (JsonDuplicateKey) {
            throw self::bad('a member appears twice');
        }
    }

    /** @throws CoreError */
    private static function name(JsonValue $obj, string $key, string $why): string
    {
        $s = self::member($obj, $key)?->asStr();
        if ($s === null || $s === '' || \strlen($s) > self::MAX_EVENT_NAME) {
            throw self::bad($why);
        }
        return $s;
    }

    /** Reads one event of a page, or of a push ({@see Push}) (`event`). @throws CoreError response_invalid */
    public static function event(JsonValue $v): StoraEvent
    {
        if (!$v->isObject()) {
            throw self::bad('an event is not an object');
        }
        $id = self::name($v, 'id', "an event's id must be 1 to 255 bytes");
        $type = self::name($v, 'type', "an event's type must be 1 to 255 bytes");
        $apiVersion = self::member($v, 'api_version')?->asStr();
        if ($apiVersion === null || \strlen($apiVersion) > self::MAX_EVENT_NAME) {
            throw self::bad("an event's api_version must be a string of at most 255 bytes");
        }
        $createdAt = self::member($v, 'created_at')?->asI64() ?? throw self::bad("an event's created_at must be an integer");
        $data = self::member($v, 'data');
        if ($data === null || !$data->isObject()) {
            throw self::bad("an event's data must be an object");
        }
        return new StoraEvent($id, $type, $apiVersion, $createdAt, self::write($data));
    }

    /**
     * `$v` as compact JSON (`write_value`), written as sent: a member given
     * twice is kept twice (every binding's decoder, `json_decode` included,
     * keeps the last).
     */
    private static function write(JsonValue $v): string
    {
        switch ($v->kind) {
            case JsonValue::NULL:
                return 'null';
            case JsonValue::BOOL:
                return $v->value ? 'true' : 'false';
            case JsonValue::NUMBER:
                return $v->value;
            case JsonValue::STRING:
                return Json::writeStr($v->value);
            case JsonValue::ARRAY:
                $out = [];
                foreach ($v->value as $item) {
                    $out[] = self::write($item);
                }
                return '[' . implode(',', $out) . ']';
            default:
                $out = [];
                foreach ($v->value as [$k, $item]) {
                    $out[] = Json::writeStr($k) . ':' . self::write($item);
                }
                return '{' . implode(',', $out) . '}';
        }
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * Type conversion between PHP values and core values, and nothing else (port
 * of `php-ext/src/convert.rs`). Arguments arrive untyped: a value of the
 * wrong type becomes a {@see CoreError} `invalid_input` naming the field,
 * with the extension's messages, never a `TypeError`.
 */
final class Convert
{
    /** Deepest nesting accepted when a PHP array becomes JSON (and so the guard against self-referencing arrays). */
    public const MAX_DEPTH = 32;

    private const NOT_EXPECTED = 'does not have the expected keys and types';

    // ---- arguments ----------------------------------------------------------------

    /** An `array` parameter (`ArrayArg::get`). @throws CoreError */
    public static function array(mixed $z, string $field): array
    {
        return is_array($z) ? $z : throw CoreError::invalidInput($field, 'must be an array');
    }

    /** The bytes of a PHP string (`bytes`). @throws CoreError */
    public static function bytes(#[\SensitiveParameter] mixed $z, string $field): string
    {
        return is_string($z) ? $z : throw CoreError::invalidInput($field, 'must be a string');
    }

    /** A PHP string that must be UTF-8 (`utf8`). @throws CoreError */
    public static function utf8(#[\SensitiveParameter] mixed $z, string $field): string
    {
        $s = self::bytes($z, $field);
        return Text::isUtf8($s) ? $s : throw CoreError::invalidInput($field, 'must be valid UTF-8');
    }

    /** A `?string` parameter as UTF-8 (`OptStrArg::utf8`). @throws CoreError */
    public static function optUtf8(#[\SensitiveParameter] mixed $z, string $field): ?string
    {
        return $z === null ? null : self::utf8($z, $field);
    }

    /** A `?string` parameter's bytes (`OptStrArg::bytes`). @throws CoreError */
    public static function optBytes(#[\SensitiveParameter] mixed $z, string $field): ?string
    {
        return $z === null ? null : self::bytes($z, $field);
    }

    /** A `?int` parameter (`OptIntArg::get`). @throws CoreError */
    public static function optInt(mixed $z, string $field): ?int
    {
        return $z === null || is_int($z) ? $z : throw CoreError::invalidInput($field, 'must be an integer');
    }

    /** A `callable` parameter (`CallableArg::get`). @throws CoreError */
    public static function callable(mixed $z, string $field): callable
    {
        return is_callable($z) ? $z : throw CoreError::invalidInput($field, 'must be callable');
    }

    /** A `?callable` parameter (`OptCallableArg::get`). @throws CoreError */
    public static function optCallable(mixed $z, string $field): ?callable
    {
        return $z === null ? null : self::callable($z, $field);
    }

    // ---- arrays -------------------------------------------------------------------

    /** A PHP array key as UTF-8 text (integer keys as their decimal form). @throws CoreError */
    private static function keyText(int|string $k, string $field): string
    {
        return is_int($k) ? (string) $k : self::utf8($k, $field);
    }

    /** A member of an associative array by name (missing and `null` are null). */
    public static function member(array $ht, string $key): mixed
    {
        return $ht[$key] ?? null;
    }

    /** @throws CoreError */
    private static function required(array $ht, string $key, string $field): mixed
    {
        return $ht[$key] ?? throw CoreError::invalidInput($field, 'is missing');
    }

    /** @throws CoreError */
    private static function optBody(array $ht, string $field): string
    {
        $z = $ht['body'] ?? null;
        return $z === null ? '' : self::bytes($z, $field);
    }

    /**
     * Headers: `['Name' => 'value', 'Other' => ['v1', 'v2']]`; a list value
     * gives one header per element. Missing or `null` is no headers;
     * `$field` names them in errors (`request.headers`).
     *
     * @return list<array{string, string}>
     * @throws CoreError
     */
    public static function headersFromPhp(array $ht, string $field): array
    {
        $z = $ht['headers'] ?? null;
        if ($z === null) {
            return [];
        }
        if (!is_array($z)) {
            throw CoreError::invalidInput($field, 'must be an array of name => value');
        }
        return self::headerMapFromPhp($z, $field);
    }

    /**
     * A headers array itself (`['Name' => 'value', 'Other' => ['v1', 'v2']]`,
     * as {@see headersFromPhp()} reads the `headers` member): one header per
     * value (`header_map_from_php`).
     *
     * @return list<array{string, string}>
     * @throws CoreError
     */
    public static function headerMapFromPhp(#[\SensitiveParameter] array $z, string $field): array
    {
        $out = [];
        foreach ($z as $k => $v) {
            $name = self::keyText($k, $field);
            if (is_array($v)) {
                foreach ($v as $item) {
                    $out[] = [$name, self::utf8($item, $field)];
                }
            } else {
                $out[] = [$name, self::utf8($v, $field)];
            }
        }
        return $out;
    }

    /** `['method' => …, 'path' => …, 'headers' => […], 'body' => …]`; any other key is refused ({@see Shape::checkKeys()}). @throws CoreError */
    public static function apiRequestFromPhp(#[\SensitiveParameter] array $ht): ApiRequest
    {
        Shape::checkKeys($ht, ['method', 'path', 'headers', 'body'], 'request');
        $method = self::utf8(self::required($ht, 'method', 'request.method'), 'request.method');
        $path = self::utf8(self::required($ht, 'path', 'request.path'), 'request.path');
        $headers = self::headersFromPhp($ht, 'request.headers');
        return new ApiRequest($method, $path, $headers, self::optBody($ht, 'request.body'));
    }

    /** `['method' => …, 'url' => …, 'headers' => […], 'body' => …]`. @throws CoreError */
    public static function requestFromPhp(array $ht): Request
    {
        $method = self::utf8(self::required($ht, 'method', 'request.method'), 'request.method');
        $url = self::utf8(self::required($ht, 'url', 'request.url'), 'request.url');
        $headers = self::headersFromPhp($ht, 'request.headers');
        return new Request($method, $url, $headers, self::optBody($ht, 'request.body'));
    }

    /** `['status' => int, 'headers' => […], 'body' => string]`. @throws CoreError */
    public static function responseFromPhp(array $ht): Response
    {
        $status = self::required($ht, 'status', 'response.status');
        if (!is_int($status) || $status < 0 || $status > 65535) {
            throw CoreError::invalidInput('response.status', 'must be an integer HTTP status');
        }
        return new Response($status, self::headersFromPhp($ht, 'response.headers'), self::optBody($ht, 'response.body'));
    }

    /** A value the host returned where an array was expected (`expect_array`). @throws CoreError */
    public static function expectArray(mixed $z, string $what): array
    {
        return is_array($z) ? $z : throw CoreError::invalidInput($what, 'must return an array');
    }

    // ---- core → PHP -----------------------------------------------------------------

    /**
     * Headers as `['name' => 'value']`; a repeated name keeps every value,
     * joined with `, ` (RFC 9110 §5.3).
     *
     * @param list<array{string, string}> $headers
     * @return array<string, string>
     */
    public static function headersToPhp(array $headers): array
    {
        $out = [];
        foreach ($headers as [$k, $v]) {
            if (array_key_exists($k, $out)) {
                $out[$k] .= ', ' . $v;
            } else {
                $out[$k] = $v;
            }
        }
        return $out;
    }

    /** A request for the host to send, ready for `wp_remote_request($r['url'], $r)`. */
    public static function requestToPhp(Request $r): array
    {
        return ['method' => $r->method, 'url' => $r->url, 'headers' => self::headersToPhp($r->headers), 'body' => $r->body];
    }

    /** A response, as the host gave it. */
    public static function responseToPhp(Response $r): array
    {
        return ['status' => $r->status, 'headers' => self::headersToPhp($r->headers), 'body' => $r->body];
    }

    /** An ownership proof: `['url' => …, 'path' => …, 'body' => …]`. */
    public static function proofToPhp(OwnershipProof $p): array
    {
        return ['url' => $p->url, 'path' => $p->path, 'body' => $p->body];
    }

    /** A remote step: `['result' => 'ok'|'skipped'|'failed', 'error' => ?TesseraException]`. */
    public static function remoteStepToPhp(RemoteStep $step): array
    {
        return ['result' => $step->asStr(), 'error' => $step->error === null ? null : PhpErrors::exception($step->error)];
    }

    /** How an operation of the step machine ended, as PHP (docs/HOST-CONTRACT.md §1). */
    public static function completionToPhp(Completion $completion): ?array
    {
        return match ($completion->type) {
            Completion::RESPONSE => self::responseToPhp($completion->response),
            Completion::REGISTRATION => $completion->proof === null
                ? ['outcome' => 'registered']
                : ['outcome' => 'ownership_challenge', 'proof' => self::proofToPhp($completion->proof)],
            Completion::DISCONNECTED => ['remote' => self::remoteStepToPhp($completion->remote)],
            Completion::UNINSTALLED => [
                'disconnect' => self::remoteStepToPhp($completion->remote),
                'deregister' => self::remoteStepToPhp($completion->deregister),
            ],
            Completion::RESET => [
                'disconnect' => self::remoteStepToPhp($completion->remote),
                'deregister' => self::remoteStepToPhp($completion->deregister),
                'registration' => $completion->proof === null
                    ? ['outcome' => 'registered']
                    : ['outcome' => 'ownership_challenge', 'proof' => self::proofToPhp($completion->proof)],
            ],
            Completion::CONNECTED => ['account' => self::accountToPhp($completion->account)],
            Completion::PREVIOUS_REVOKED => ['revoked' => $completion->revoked],
            Completion::RECORDED => Records::recordedToPhp($completion->response, $completion->remote),
            Completion::EVENTS => self::eventPageToPhp($completion->page),
            default => null, // SiteMoved
        };
    }

    /**
     * A page of Stora's events as the extension returns it (php-ext
     * `events.rs`): `['events' => [['id', 'type', 'api_version',
     * 'created_at', 'data', 'data_json'], …], 'cursor', 'has_more']`, `data`
     * being `data_json` decoded by `json_decode($json, true, 512,
     * JSON_BIGINT_AS_STRING)`.
     *
     * @throws CoreError internal when an event's data does not decode to an array
     */
    public static function eventPageToPhp(EventPage $page): array
    {
        return ['events' => self::eventsToPhp($page->events), 'cursor' => $page->cursor, 'has_more' => $page->hasMore];
    }

    /**
     * A list of events, each as `pullEvents()` gives it (`events_to_php`;
     * `verifyPush()`'s result).
     *
     * @param list<StoraEvent> $events
     * @return list<array{id: string, type: string, api_version: string, created_at: int, data: array, data_json: string}>
     * @throws CoreError internal when an event's data does not decode to an array
     */
    public static function eventsToPhp(array $events): array
    {
        $out = [];
        foreach ($events as $e) {
            $data = json_decode($e->dataJson, true, 512, \JSON_BIGINT_AS_STRING);
            $out[] = [
                'id' => $e->id,
                'type' => $e->type,
                'api_version' => $e->apiVersion,
                'created_at' => $e->createdAt,
                'data' => \is_array($data) ? $data : throw CoreError::internal("decoding an event's data"),
                'data_json' => $e->dataJson,
            ];
        }
        return $out;
    }

    /** An account as the extension returns it: `['id' => …, 'name' => …]`. */
    public static function accountToPhp(Account $account): array
    {
        return ['id' => $account->id, 'name' => $account->name];
    }

    /**
     * A classified response as the extension returns it (the serde form of
     * `Outcome`, keys sorted as serde_json writes them).
     */
    public static function outcomeToPhp(Outcome $o): array
    {
        return [
            'code' => $o->code,
            'description' => $o->description,
            'details' => $o->details,
            'from_stora' => $o->fromStora,
            'kind' => $o->kind,
            'request_id' => $o->requestId,
            'retry_after_ms' => $o->retryAfterMs,
            'server_date' => $o->serverDate,
            'status' => $o->status,
        ];
    }

    // ---- PHP arrays → the core's serde types -----------------------------------------

    /**
     * A PHP value as JSON (`to_json`): lists become arrays, other arrays
     * objects (an empty array is an empty object). The result is the JSON
     * value as PHP: `['a', …]` for arrays, `(object)`-free
     * `['__map' => [key => value]]` for objects, scalars as they are.
     *
     * @throws CoreError
     */
    public static function toJson(mixed $z, string $field, int $depth = 0): mixed
    {
        if ($depth > self::MAX_DEPTH) {
            throw CoreError::invalidInput($field, 'is nested too deeply');
        }
        if ($z === null || is_bool($z) || is_int($z)) {
            return $z;
        }
        if (is_float($z)) {
            return is_finite($z) ? $z : throw CoreError::invalidInput($field, 'contains a non-finite number');
        }
        if (is_string($z)) {
            return self::utf8($z, $field);
        }
        if (!is_array($z)) {
            throw CoreError::invalidInput($field, 'must contain only arrays and scalars');
        }
        if ($z !== [] && array_is_list($z)) {
            $items = [];
            foreach ($z as $v) {
                $items[] = self::toJson($v, $field, $depth + 1);
            }
            return new PhpJsonList($items);
        }
        $map = [];
        foreach ($z as $k => $v) {
            $map[self::keyText($k, $field)] = self::toJson($v, $field, $depth + 1);
        }
        return new PhpJsonMap($map);
    }

    /**
     * `Config` through its serde definition (`from_php::<Config>`): a map with
     * `broker_url` and optional `routes`/`retry` (fields defaulted), after
     * {@see Shape::check()} (unknown keys, missing keys and wrong types are
     * refused naming the key and its path).
     *
     * @throws CoreError
     */
    public static function configFromPhp(array $z): Config
    {
        Shape::check($z, Shape::CONFIG, 'config');
        $v = self::toJson($z, 'config');
        $fields = self::structFields($v, ['broker_url', 'routes', 'retry', 'proxy'], ['routes', 'retry', 'proxy'], 'config');
        $brokerUrl = self::serdeString($fields['broker_url'], 'config');
        $routes = new Routes();
        if (array_key_exists('routes', $fields)) {
            $names = ['installations', 'connect', 'disconnect', 'connect_complete'];
            $r = self::structFields($fields['routes'], $names, $names, 'config');
            foreach (['installations' => 'installations', 'connect' => 'connect', 'disconnect' => 'disconnect', 'connect_complete' => 'connectComplete'] as $k => $p) {
                if (array_key_exists($k, $r)) {
                    $routes->$p = self::serdeString($r[$k], 'config');
                }
            }
        }
        $retry = new RetryPolicy();
        if (array_key_exists('retry', $fields)) {
            $names = ['max_attempts', 'base_delay_ms', 'max_delay_ms', 'max_total_delay_ms', 'max_retry_after_ms'];
            $r = self::structFields($fields['retry'], $names, $names, 'config');
            if (array_key_exists('max_attempts', $r)) {
                $n = self::serdeU64($r['max_attempts'], 'config');
                $retry->maxAttempts = $n <= 4294967295 ? $n : throw CoreError::invalidInput('config', self::NOT_EXPECTED);
            }
            foreach (['base_delay_ms' => 'baseDelayMs', 'max_delay_ms' => 'maxDelayMs', 'max_total_delay_ms' => 'maxTotalDelayMs', 'max_retry_after_ms' => 'maxRetryAfterMs'] as $k => $p) {
                if (array_key_exists($k, $r)) {
                    $retry->$p = self::serdeU64($r[$k], 'config');
                }
            }
        }
        return new Config($brokerUrl, $routes, $retry, self::proxyFromJson($fields['proxy'] ?? null));
    }

    /** `Option<ProxyConfig>` through its serde definition (every field defaulted). @throws CoreError */
    private static function proxyFromJson(mixed $v): ?ProxyConfig
    {
        if ($v === null) {
            return null;
        }
        $proxy = new ProxyConfig();
        $names = ['stora_api_url', 'refresh_margin_secs', 'token', 'refresh', 'revoke'];
        $p = self::structFields($v, $names, $names, 'config');
        foreach (['stora_api_url' => 'storaApiUrl', 'token' => 'token', 'refresh' => 'refresh', 'revoke' => 'revoke'] as $k => $prop) {
            if (array_key_exists($k, $p)) {
                $proxy->$prop = self::serdeString($p[$k], 'config');
            }
        }
        if (array_key_exists('refresh_margin_secs', $p)) {
            $proxy->refreshMarginSecs = self::serdeU64($p['refresh_margin_secs'], 'config');
        }
        return $proxy;
    }

    /** `Registration` through its serde definition (four required strings), after {@see Shape::check()}. @throws CoreError */
    public static function registrationFromPhp(array $z): Registration
    {
        Shape::check($z, Shape::REGISTRATION, 'registration');
        $names = ['site_url', 'admin_email', 'platform', 'plugin_version'];
        $f = self::structFields(self::toJson($z, 'registration'), $names, [], 'registration');
        return new Registration(
            self::serdeString($f['site_url'], 'registration'),
            self::serdeString($f['admin_email'], 'registration'),
            self::serdeString($f['platform'], 'registration'),
            self::serdeString($f['plugin_version'], 'registration'),
        );
    }

    /**
     * The fields a derived serde `Deserialize` reads from a JSON value: from
     * an object by name (unknown names ignored), from an array by position
     * (missing trailing fields allowed only when defaulted, extra elements
     * refused); `null`, scalars: refused. Missing required fields: refused.
     *
     * @param list<string> $names the struct's fields, in declaration order
     * @param list<string> $defaulted the fields that have a default
     * @return array<string, mixed> the present fields
     * @throws CoreError
     */
    private static function structFields(mixed $v, array $names, array $defaulted, string $field): array
    {
        $out = [];
        if ($v instanceof PhpJsonMap) {
            foreach ($names as $n) {
                if (array_key_exists($n, $v->map)) {
                    $out[$n] = $v->map[$n];
                } elseif (!in_array($n, $defaulted, true)) {
                    throw CoreError::invalidInput($field, self::NOT_EXPECTED);
                }
            }
            return $out;
        }
        if ($v instanceof PhpJsonList) {
            if (count($v->items) > count($names)) {
                throw CoreError::invalidInput($field, self::NOT_EXPECTED);
            }
            foreach ($names as $i => $n) {
                if (array_key_exists($i, $v->items)) {
                    $out[$n] = $v->items[$i];
                } elseif (!in_array($n, $defaulted, true)) {
                    throw CoreError::invalidInput($field, self::NOT_EXPECTED);
                }
            }
            return $out;
        }
        throw CoreError::invalidInput($field, self::NOT_EXPECTED);
    }

    /** @throws CoreError */
    private static function serdeString(mixed $v, string $field): string
    {
        return is_string($v) ? $v : throw CoreError::invalidInput($field, self::NOT_EXPECTED);
    }

    /** A u64 from a JSON number: non-negative integers only (floats refused). @throws CoreError */
    private static function serdeU64(mixed $v, string $field): int
    {
        return is_int($v) && $v >= 0 ? $v : throw CoreError::invalidInput($field, self::NOT_EXPECTED);
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * Timeline Events and Stora metadata: PHP arrays ↔ core values (port of
 * `php-ext/src/records.rs`). Shapes only; every rule is the core's.
 */
final class Records
{
    /** @throws CoreError */
    private static function optText(array $ht, string $key): ?string
    {
        $z = Convert::member($ht, $key);
        return $z === null ? null : Convert::utf8($z, "event.{$key}");
    }

    /** @throws CoreError */
    private static function requiredText(array $ht, string $key): string
    {
        return self::optText($ht, $key) ?? throw CoreError::invalidInput("event.{$key}", 'is missing');
    }

    /** A PHP array key as UTF-8 text (integer keys as their decimal form). @throws CoreError */
    private static function keyText(int|string $k, string $field): string
    {
        return \is_int($k) ? (string) $k : Convert::utf8($k, $field);
    }

    /**
     * `['key' => 'value', …]` in the array's order.
     *
     * @return list<array{string, string}>
     * @throws CoreError
     */
    private static function stringMap(array $ht, string $field): array
    {
        $out = [];
        foreach ($ht as $k => $v) {
            $out[] = [self::keyText($k, $field), Convert::utf8($v, $field)];
        }
        return $out;
    }

    /** `['source_id' => …, 'template_id' => …, 'contact_id' => ?, …, 'variables' => ?[…]]`. @throws CoreError */
    public static function eventFromPhp(array $ht): TimelineEvent
    {
        Shape::checkKeys($ht, ['source_id', 'template_id', 'contact_id', 'site_id', 'description', 'external_url', 'variables'], 'event');
        $vars = Convert::member($ht, 'variables');
        if ($vars === null) {
            $variables = [];
        } elseif (\is_array($vars)) {
            $variables = self::stringMap($vars, 'event.variables');
        } else {
            throw CoreError::invalidInput('event.variables', 'must be an array of name => value');
        }
        return new TimelineEvent(
            self::requiredText($ht, 'source_id'),
            self::requiredText($ht, 'template_id'),
            self::optText($ht, 'contact_id'),
            self::optText($ht, 'site_id'),
            self::optText($ht, 'description'),
            self::optText($ht, 'external_url'),
            $variables,
        );
    }

    /** `['method' => 'POST', 'path' => …, 'headers' => […], 'body' => …]`. */
    public static function apiRequestToPhp(ApiRequest $r): array
    {
        return ['method' => $r->method, 'path' => $r->path, 'headers' => Convert::headersToPhp($r->headers), 'body' => $r->body];
    }

    /** A metadata array (`key => string`). @return array<string, string> @throws CoreError */
    public static function metadataFromPhp(array $ht, string $field): array
    {
        $out = [];
        foreach (self::stringMap($ht, $field) as [$k, $v]) {
            $out[$k] = $v;
        }
        return $out;
    }

    /** A metadata patch (`key => string|null`). @return array<string, ?string> @throws CoreError */
    public static function patchFromPhp(array $ht): array
    {
        $out = [];
        foreach ($ht as $k => $v) {
            $value = $v === null ? null : Convert::utf8($v, 'changes');
            $out[self::keyText($k, 'changes')] = $value;
        }
        return $out;
    }

    /** `['response' => […], 'event' => ['ok' => true] | ['ok' => false, 'error' => TesseraException]]`. */
    public static function recordedToPhp(Response $response, RemoteStep $event): array
    {
        $e = $event->error === null ? ['ok' => true] : ['ok' => false, 'error' => PhpErrors::exception($event->error)];
        return ['response' => Convert::responseToPhp($response), 'event' => $e];
    }
}

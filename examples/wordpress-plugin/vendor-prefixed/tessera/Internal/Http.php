<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Bounds and normalisation of the plain HTTP values the core builds and
 * reads (core/src/http.rs). Header lists are `[[name, value], ...]`.
 */
final class Http
{
    /** Largest body the core signs, verifies or reads (1 MiB). */
    public const MAX_BODY = 1 << 20;
    /** Largest single header value the core accepts (8 KiB). */
    public const MAX_HEADER_VALUE = 8 * 1024;
    /** Most headers the core accepts on one message. */
    public const MAX_HEADERS = 100;


    /**
     * First value of a header, by case-insensitive (ASCII) name.
     *
     * @param list<array{0: string, 1: string}> $headers
     */
    public static function findHeader(#[\SensitiveParameter] array $headers, string $name): ?string
    {
        foreach ($headers as [$k, $v]) {
            if (\strlen($k) === \strlen($name) && strcasecmp($k, $name) === 0) {
                return $v;
            }
        }
        return null;
    }

    /**
     * Checks a method token and returns it uppercased.
     *
     * @throws CoreError invalid_input (field `method`)
     */
    public static function normalizeMethod(string $method): string
    {
        if (preg_match('/^[A-Za-z]{1,16}$/D', $method) !== 1) {
            throw CoreError::invalidInput('method', 'must be an HTTP method token');
        }
        return Text::asciiUpper($method);
    }

    /**
     * Checks header names and values against RFC 9110 and the size bounds;
     * returns them with lowercase names and trimmed values.
     *
     * @param list<array{0: string, 1: string}> $headers
     * @return list<array{0: string, 1: string}>
     * @throws CoreError too_large / invalid_input (field `headers`)
     */
    public static function normalizeHeaders(#[\SensitiveParameter] array $headers): array
    {
        if (\count($headers) > self::MAX_HEADERS) {
            throw CoreError::tooLarge('headers', self::MAX_HEADERS);
        }
        $out = [];
        foreach ($headers as [$k, $v]) {
            // 1-64 tchar (a character class: strspn() would scan the set for every byte).
            if (preg_match('/^[A-Za-z0-9!#$%&\'*+.^_`|~-]{1,64}$/D', $k) !== 1) {
                throw CoreError::invalidInput('headers', 'header name is not a token');
            }
            if (\strlen($v) > self::MAX_HEADER_VALUE) {
                throw CoreError::tooLarge('headers', self::MAX_HEADER_VALUE);
            }
            if (preg_match('/[\r\n\x00\x80-\xFF]/', $v) === 1) {
                throw CoreError::invalidInput('headers', 'header value must be visible ASCII');
            }
            $out[] = [Text::asciiLower($k), Text::trimAscii($v)];
        }
        return $out;
    }

    /**
     * @throws CoreError too_large (field `body`)
     */
    public static function checkBody(#[\SensitiveParameter] string $body): void
    {
        if (\strlen($body) > self::MAX_BODY) {
            throw CoreError::tooLarge('body', self::MAX_BODY);
        }
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * A small, strict JSON reader and writer (core/src/json.rs). The reader
 * follows RFC 8259 exactly (no comments, no trailing commas, no lone
 * surrogates, no raw control characters, UTF-8 strings), bounds nesting
 * depth, keeps numbers as text and keeps duplicate members; errors give a
 * category and a byte offset, never input text. The writer escapes `"`, `\`
 * and control characters (`\n`-style where JSON has a short form, else
 * `\u00xx`) and writes everything else verbatim.
 */
final class Json
{
    /** Deepest nesting accepted by `parse`. */
    public const MAX_DEPTH = 32;

    /** @var array<string, string>|null */
    private static ?array $escapes = null;

    /**
     * Parses one JSON document (surrounding whitespace allowed, nothing else).
     *
     * @throws JsonParseError
     */
    public static function parse(#[\SensitiveParameter] string $input): JsonValue
    {
        return JsonParser::document($input);
    }

    /** `s` as a JSON string literal, quotes included. */
    public static function writeStr(#[\SensitiveParameter] string $s): string
    {
        if (self::$escapes === null) {
            $map = ['"' => '\\"', '\\' => '\\\\', "\n" => '\\n', "\r" => '\\r', "\t" => '\\t', "\x08" => '\\b',
                "\x0c" => '\\f'];
            for ($b = 0; $b < 0x20; $b++) {
                $map[\chr($b)] ??= \sprintf('\\u%04x', $b);
            }
            self::$escapes = $map;
        }
        return '"' . strtr($s, self::$escapes) . '"';
    }
}

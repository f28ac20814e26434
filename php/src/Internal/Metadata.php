<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * Stora metadata (port of core/src/metadata.rs): a flat object of strings,
 * at most 20 keys of `[a-z0-9._:-]{1,40}`, values at most 500 characters
 * (Unicode scalar values), updated by JSON merge-patch (`null` deletes).
 * Maps are `array<string, string>` ordered by key (byte order, as Rust's
 * `BTreeMap`); patches `array<string, ?string>`.
 */
final class Metadata
{
    public const MAX_KEYS = 20;
    public const MAX_KEY_CHARS = 40;
    public const MAX_VALUE_CHARS = 500;

    private const FIELD = 'metadata';

    /** Rust `chars().count()` of valid UTF-8: the bytes that are not continuation bytes. */
    public static function chars(string $s): int
    {
        return \strlen($s) - (int) preg_match_all('/[\x80-\xBF]/', $s);
    }

    /** @throws CoreError */
    private static function checkKey(string $key): void
    {
        $n = self::chars($key);
        if ($n === 0 || $n > self::MAX_KEY_CHARS) {
            throw CoreError::invalidInput(self::FIELD, 'key must be 1 to 40 characters');
        }
        if (preg_match('/^[a-z0-9._:-]+$/D', $key) !== 1) {
            throw CoreError::invalidInput(self::FIELD, "key may only contain a-z, 0-9, '.', '_', ':' and '-'");
        }
    }

    /** @throws CoreError */
    private static function checkValue(string $value): void
    {
        if (self::chars($value) > self::MAX_VALUE_CHARS) {
            throw CoreError::invalidInput(self::FIELD, 'value is longer than 500 characters');
        }
    }

    /** @throws CoreError */
    private static function checkCount(int $count): void
    {
        if ($count > self::MAX_KEYS) {
            throw CoreError::invalidInput(self::FIELD, 'more than 20 keys');
        }
    }

    /** A map ordered by key, byte order (Rust `BTreeMap<String, _>`); keys as strings. */
    public static function sorted(array $map): array
    {
        $out = [];
        foreach ($map as $k => $v) {
            $out[(string) $k] = $v;
        }
        uksort($out, static fn ($a, $b): int => strcmp((string) $a, (string) $b));
        return $out;
    }

    /**
     * Checks a metadata map: the key count first, then each key (length,
     * then characters) and its value, in key order.
     *
     * @param array<string, string> $metadata
     * @throws CoreError
     */
    public static function validate(array $metadata): void
    {
        $metadata = self::sorted($metadata);
        self::checkCount(\count($metadata));
        foreach ($metadata as $key => $value) {
            self::checkKey((string) $key);
            self::checkValue($value);
        }
    }

    /**
     * `$current` with `$changes` applied (a string sets, null removes). Does not validate.
     *
     * @param array<string, string> $current
     * @param array<string, ?string> $changes
     * @return array<string, string>
     */
    public static function applyMergePatch(array $current, array $changes): array
    {
        $out = self::sorted($current);
        foreach ($changes as $key => $change) {
            if ($change === null) {
                unset($out[(string) $key]);
            } else {
                $out[(string) $key] = $change;
            }
        }
        return self::sorted($out);
    }

    /**
     * The merge-patch body `{"metadata":{...}}`, keys in order, `null` for
     * deletions. Without `$current` at most 20 keys may be set; with it the
     * merged result must pass {@see validate()}.
     *
     * @param array<string, ?string> $changes
     * @param array<string, string>|null $current
     * @throws CoreError
     */
    public static function mergePatchBody(array $changes, ?array $current): string
    {
        $changes = self::sorted($changes);
        $set = 0;
        foreach ($changes as $key => $change) {
            self::checkKey((string) $key);
            if ($change !== null) {
                self::checkValue($change);
                $set++;
            }
        }
        if ($current !== null) {
            self::validate(self::applyMergePatch($current, $changes));
        } else {
            self::checkCount($set);
        }
        $inner = new ObjectWriter();
        foreach ($changes as $key => $change) {
            $inner->optStr((string) $key, $change);
        }
        $outer = new ObjectWriter();
        $outer->key('metadata');
        $outer->raw($inner->end());
        return $outer->end();
    }
}

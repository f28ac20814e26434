<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * A parsed JSON value (Rust `json::Value`): numbers keep their validated
 * source text, objects keep every member in document order (duplicates
 * included; `get` refuses an ambiguous name).
 */
final class JsonValue
{
    /** `null`. */
    public const NULL = 0;
    /** `true` / `false` (`value` bool). */
    public const BOOL = 1;
    /** A number (`value` its source text). */
    public const NUMBER = 2;
    /** A string (`value` the unescaped UTF-8 string). */
    public const STRING = 3;
    /** An array (`value` list<JsonValue>). */
    public const ARRAY = 4;
    /** An object (`value` list of `[name, JsonValue]`). */
    public const OBJECT = 5;

    private const U64_MAX = '18446744073709551615';

    /**
     * @param int $kind one of the constants
     * @param null|bool|string|list<JsonValue>|list<array{0: string, 1: JsonValue}> $value
     */
    public function __construct(public readonly int $kind, public readonly mixed $value = null)
    {
    }

    /**
     * The member `key` of an object: null when absent (or when this is not an
     * object).
     *
     * @throws JsonDuplicateKey when the key appears twice (an ambiguous document)
     */
    public function get(string $key): ?self
    {
        if ($this->kind !== self::OBJECT) {
            return null;
        }
        $found = null;
        foreach ($this->value as [$k, $v]) {
            if ($k === $key) {
                if ($found !== null) {
                    throw new JsonDuplicateKey($key);
                }
                $found = $v;
            }
        }
        return $found;
    }

    /** The string, if this is one. */
    public function asStr(): ?string
    {
        return $this->kind === self::STRING ? $this->value : null;
    }

    /**
     * The decimal text of the non-negative integer, if this is one that fits a
     * `u64` (the text itself: JSON integers have no leading zeros).
     */
    public function asU64Text(): ?string
    {
        if ($this->kind !== self::NUMBER) {
            return null;
        }
        $n = $this->value;
        $len = \strlen($n);
        if ($len === 0 || strspn($n, '0123456789') !== $len) {
            return null;
        }
        if ($len > 20 || ($len === 20 && strcmp($n, self::U64_MAX) > 0)) {
            return null;
        }
        return $n;
    }

    /** The non-negative integer, if this is one that fits a `u64` and a PHP int (null above PHP_INT_MAX). */
    public function asU64(): ?int
    {
        $t = $this->asU64Text();
        if ($t === null || \strlen($t) > 19 || (\strlen($t) === 19 && strcmp($t, (string) \PHP_INT_MAX) > 0)) {
            return null;
        }
        return (int) $t;
    }

    /** The integer, if this is one that fits an `i64`. */
    public function asI64(): ?int
    {
        if ($this->kind !== self::NUMBER) {
            return null;
        }
        $n = $this->value;
        $neg = $n !== '' && $n[0] === '-';
        $digits = $neg ? substr($n, 1) : $n;
        $len = \strlen($digits);
        if ($len === 0 || strspn($digits, '0123456789') !== $len) {
            return null;
        }
        $digits = ltrim($digits, '0');
        $len = \strlen($digits);
        $max = $neg ? '9223372036854775808' : '9223372036854775807';
        if ($len > 19 || ($len === 19 && strcmp($digits, $max) > 0)) {
            return null;
        }
        if ($neg && $digits === '9223372036854775808') {
            return \PHP_INT_MIN;
        }
        return $neg ? -(int) $digits : (int) $digits;
    }

    /** The boolean, if this is one. */
    public function asBool(): ?bool
    {
        return $this->kind === self::BOOL ? $this->value : null;
    }

    /** Whether this is an object. */
    public function isObject(): bool
    {
        return $this->kind === self::OBJECT;
    }

    /**
     * The members, if this is an object.
     *
     * @return list<array{0: string, 1: JsonValue}>|null
     */
    public function members(): ?array
    {
        return $this->kind === self::OBJECT ? $this->value : null;
    }

    /**
     * The items, if this is an array.
     *
     * @return list<JsonValue>|null
     */
    public function items(): ?array
    {
        return $this->kind === self::ARRAY ? $this->value : null;
    }
}

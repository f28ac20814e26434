<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Shared behaviour of the secret wrappers: the value lives outside the
 * object's properties (a private static WeakMap), so `var_dump`, `print_r`,
 * `var_export`, `(array)` casts, `get_object_vars` and `json_encode` never
 * see it; it prints as `[redacted]`; serialising and cloning are refused;
 * the value is zeroised (best effort, `sodium_memzero`) when the object dies.
 *
 * @internal
 */
trait RedactedValue
{
    /** @var \WeakMap<object, string>|null */
    private static ?\WeakMap $redactedValues = null;

    private function storeValue(#[\SensitiveParameter] string $value): void
    {
        if (self::$redactedValues === null) {
            self::$redactedValues = new \WeakMap();
        }
        self::$redactedValues[$this] = $value;
    }

    private function value(): string
    {
        return self::$redactedValues[$this] ?? '';
    }

    /**
     * What `var_dump` and `print_r` show.
     *
     * @return array<string, string>
     */
    public function __debugInfo(): array
    {
        return ['value' => '[redacted]'];
    }

    /** Always `[redacted]`. */
    public function __toString(): string
    {
        return '[redacted]';
    }

    /**
     * Refused: a secret is never serialised implicitly.
     *
     * @return array<string, mixed>
     * @throws \LogicException always
     */
    public function __serialize(): array
    {
        throw new \LogicException('Serialization of \'' . static::class . '\' is not allowed');
    }

    /**
     * Refused.
     *
     * @param array<string, mixed> $data
     * @throws \LogicException always
     */
    public function __unserialize(array $data): void
    {
        throw new \LogicException('Unserialization of \'' . static::class . '\' is not allowed');
    }

    /**
     * Refused: copies of a secret are not made implicitly.
     *
     * @throws \LogicException always
     */
    public function __clone()
    {
        throw new \LogicException('Trying to clone an uncloneable object of class ' . static::class);
    }

    /** Zeroises the value (best effort: other references to the same PHP string are left intact). */
    public function __destruct()
    {
        if (self::$redactedValues !== null && isset(self::$redactedValues[$this])) {
            $v = self::$redactedValues[$this];
            unset(self::$redactedValues[$this]);
            sodium_memzero($v);
        }
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Writes one JSON object member by member, in order (Rust
 * `json::ObjectWriter`); `end()` returns the text. For a nested value call
 * `key()` then `raw()` with the nested writer's `end()`.
 */
final class ObjectWriter
{
    private string $out = '{';
    private bool $first = true;

    /** Writes the member name (and the separator before it). */
    public function key(string $name): void
    {
        if (!$this->first) {
            $this->out .= ',';
        }
        $this->first = false;
        $this->out .= Json::writeStr($name) . ':';
    }

    /** Appends raw JSON text (the value after `key()`). */
    public function raw(#[\SensitiveParameter] string $json): void
    {
        $this->out .= $json;
    }

    /** A string member. */
    public function str(string $name, #[\SensitiveParameter] string $value): void
    {
        $this->key($name);
        $this->out .= Json::writeStr($value);
    }

    /** A string member, or `null`. */
    public function optStr(string $name, #[\SensitiveParameter] ?string $value): void
    {
        $this->key($name);
        $this->out .= $value === null ? 'null' : Json::writeStr($value);
    }

    /** An unsigned integer member (a non-negative int). */
    public function u64(string $name, int $value): void
    {
        $this->key($name);
        $this->out .= (string) $value;
    }

    /** A signed integer member. */
    public function i64(string $name, int $value): void
    {
        $this->key($name);
        $this->out .= (string) $value;
    }

    /** A boolean member. */
    public function bool(string $name, bool $value): void
    {
        $this->key($name);
        $this->out .= $value ? 'true' : 'false';
    }

    /** Closes the object and returns its text. */
    public function end(): string
    {
        return $this->out . '}';
    }
}

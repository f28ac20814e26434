<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** An RFC 8941 bare item (Rust `sfv::BareItem`). */
final class SfvBareItem
{
    /** Integer, at most 15 digits (`value` int). */
    public const INTEGER = 'integer';
    /** Decimal, in thousandths (`value` int). */
    public const DECIMAL = 'decimal';
    /** String of printable ASCII (`value` string). */
    public const STRING = 'string';
    /** Token (`value` string). */
    public const TOKEN = 'token';
    /** Byte sequence (`value` raw bytes). */
    public const BYTE_SEQ = 'byte_seq';
    /** Boolean (`value` bool). */
    public const BOOLEAN = 'boolean';

    /**
     * @param string $type one of the constants
     * @param int|string|bool $value
     */
    private function __construct(public readonly string $type, public readonly int|string|bool $value)
    {
    }

    /** An integer item. */
    public static function integer(int $v): self
    {
        return new self(self::INTEGER, $v);
    }

    /** A decimal item, in thousandths. */
    public static function decimal(int $thousandths): self
    {
        return new self(self::DECIMAL, $thousandths);
    }

    /** A string item. */
    public static function string(string $v): self
    {
        return new self(self::STRING, $v);
    }

    /** A token item. */
    public static function token(string $v): self
    {
        return new self(self::TOKEN, $v);
    }

    /** A byte-sequence item (raw bytes). */
    public static function byteSeq(string $bytes): self
    {
        return new self(self::BYTE_SEQ, $bytes);
    }

    /** A boolean item. */
    public static function boolean(bool $v): self
    {
        return new self(self::BOOLEAN, $v);
    }

    /** Structural equality. */
    public function equals(self $other): bool
    {
        return $this->type === $other->type && $this->value === $other->value;
    }
}

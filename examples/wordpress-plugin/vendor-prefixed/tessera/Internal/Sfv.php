<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * RFC 8941 structured fields: the subset RFC 9421 needs (core/src/sfv.rs).
 * Strict and bounded: every malformation is an error, never a guess.
 */
final class Sfv
{
    /** Longest field value parsed. */
    public const MAX_FIELD_LEN = 8 * 1024;

    /**
     * Parses a dictionary field value (RFC 8941 §4.2.2). A parse failure is
     * `signature_malformed` with the Rust `ParseError` text as its detail.
     *
     * @return list<array{0: string, 1: SfvItem|SfvInnerList}>
     * @throws CoreError signature_malformed
     */
    public static function parseDictionary(string $input): array
    {
        return SfvParser::dictionary($input);
    }

    /** Serialises a bare item canonically. */
    public static function writeBare(SfvBareItem $item): string
    {
        $v = $item->value;
        switch ($item->type) {
            case SfvBareItem::INTEGER:
                return (string) $v;
            case SfvBareItem::DECIMAL:
                \assert(\is_int($v));
                if ($v === \PHP_INT_MIN) {
                    return '-9223372036854775.808';
                }
                $sign = $v < 0 ? '-' : '';
                $a = abs($v);
                $frac = rtrim(\sprintf('%03d', $a % 1000), '0');
                return $sign . intdiv($a, 1000) . '.' . ($frac === '' ? '0' : $frac);
            case SfvBareItem::STRING:
                \assert(\is_string($v));
                return '"' . strtr($v, ['"' => '\\"', '\\' => '\\\\']) . '"';
            case SfvBareItem::TOKEN:
                return (string) $v;
            case SfvBareItem::BYTE_SEQ:
                \assert(\is_string($v));
                return ':' . base64_encode($v) . ':';
            default:
                return $v ? '?1' : '?0';
        }
    }

    /**
     * Serialises parameters canonically (`;key` for true, else `;key=value`).
     *
     * @param list<array{0: string, 1: SfvBareItem}> $params
     */
    public static function writeParams(array $params): string
    {
        $out = '';
        foreach ($params as [$k, $v]) {
            $out .= ';' . $k;
            if (!($v->type === SfvBareItem::BOOLEAN && $v->value === true)) {
                $out .= '=' . self::writeBare($v);
            }
        }
        return $out;
    }

    /** Serialises an inner list canonically. */
    public static function writeInnerList(SfvInnerList $list): string
    {
        $parts = [];
        foreach ($list->items as $item) {
            $parts[] = self::writeBare($item->bare) . self::writeParams($item->params);
        }
        return '(' . implode(' ', $parts) . ')' . self::writeParams($list->params);
    }
}

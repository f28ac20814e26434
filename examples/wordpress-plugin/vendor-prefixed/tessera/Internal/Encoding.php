<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Small encoding helpers: base64 variants, percent-encoding, hex
 * (core/src/encoding.rs). Decoders are strict: every byte string has exactly
 * one accepted encoding.
 */
final class Encoding
{
    /** RFC 3986 unreserved characters. */
    public const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';


    /** Unpadded base64url. */
    public static function b64urlEncode(#[\SensitiveParameter] string $bytes): string
    {
        return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
    }

    /** Decodes unpadded base64url; null on any malformation (padding, other characters, non-zero trailing bits). */
    public static function b64urlDecode(#[\SensitiveParameter] string $text): ?string
    {
        $len = \strlen($text);
        if ($len % 4 === 1 || preg_match('/^[A-Za-z0-9_-]*$/D', $text) !== 1) { // a class, not strspn()'s set scan per byte
            return null;
        }
        $std = strtr($text, '-_', '+/');
        $pad = (4 - $len % 4) % 4;
        $bytes = base64_decode($std . str_repeat('=', $pad), true);
        if ($bytes === false || self::b64urlEncode($bytes) !== $text) {
            return null;
        }
        return $bytes;
    }

    /** Standard padded base64. */
    public static function b64Encode(#[\SensitiveParameter] string $bytes): string
    {
        return base64_encode($bytes);
    }

    /** Decodes standard padded base64; null on any malformation (non-canonical padding or trailing bits included). */
    public static function b64Decode(#[\SensitiveParameter] string $text): ?string
    {
        $len = \strlen($text);
        if ($len % 4 !== 0) {
            return null;
        }
        $body = rtrim($text, '=');
        if ($len - \strlen($body) > 2 || preg_match('/^[A-Za-z0-9+\/]*$/D', $body) !== 1) {
            return null;
        }
        $bytes = base64_decode($text, true);
        if ($bytes === false || base64_encode($bytes) !== $text) {
            return null;
        }
        return $bytes;
    }

    /** Whether the byte is RFC 3986 unreserved. */
    public static function isUnreserved(int $b): bool
    {
        return ($b >= 0x30 && $b <= 0x39) || ($b >= 0x41 && $b <= 0x5A) || ($b >= 0x61 && $b <= 0x7A)
            || $b === 0x2D || $b === 0x2E || $b === 0x5F || $b === 0x7E;
    }

    /**
     * Percent-encodes every byte that is not RFC 3986 unreserved (uppercase
     * hex): the one canonical query encoding Tessera signs and emits.
     */
    public static function pctEncode(#[\SensitiveParameter] string $text): string
    {
        return rawurlencode($text);
    }

    /**
     * Decodes a query component (`+` is a space, `%XX` escapes); null when an
     * escape is malformed or the result is not UTF-8.
     */
    public static function pctDecodeQuery(#[\SensitiveParameter] string $text): ?string
    {
        if (preg_match('/%(?![0-9A-Fa-f]{2})/', $text) === 1) {
            return null;
        }
        $out = urldecode($text);
        return Text::isUtf8($out) ? $out : null;
    }

    /**
     * Splits `a=1&b=2` into decoded pairs (empty parts skipped, a part without
     * `=` has an empty value); null if any part fails to decode.
     *
     * @return list<array{0: string, 1: string}>|null
     */
    public static function parseQuery(#[\SensitiveParameter] string $query): ?array
    {
        $pairs = [];
        foreach (explode('&', $query) as $pair) {
            if ($pair === '') {
                continue;
            }
            $eq = strpos($pair, '=');
            [$k, $v] = $eq === false ? [$pair, ''] : [substr($pair, 0, $eq), substr($pair, $eq + 1)];
            $k = self::pctDecodeQuery($k);
            if ($k === null) {
                return null;
            }
            $v = self::pctDecodeQuery($v);
            if ($v === null) {
                return null;
            }
            $pairs[] = [$k, $v];
        }
        return $pairs;
    }

    /** Lowercase hex. */
    public static function hex(string $bytes): string
    {
        return bin2hex($bytes);
    }
}

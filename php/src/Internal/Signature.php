<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * A generic RFC 9421 signature base builder and the HMAC-SHA256 primitive
 * (core/src/signature.rs); generic enough to reproduce RFC 9421 Appendix
 * B.2.5 exactly.
 */
final class Signature
{
    /**
     * The covered component names of a signature-params inner list. Component
     * parameters and duplicates are outside the profile and rejected.
     *
     * @return list<string>
     * @throws CoreError signature_malformed
     */
    public static function coveredComponents(SfvInnerList $params): array
    {
        $names = [];
        foreach ($params->items as $item) {
            if ($item->bare->type !== SfvBareItem::STRING) {
                throw CoreError::signatureMalformed('component identifiers must be strings');
            }
            if ($item->params !== []) {
                throw CoreError::signatureMalformed('component parameters are not supported');
            }
            $name = $item->bare->value;
            \assert(\is_string($name));
            if (\in_array($name, $names, true)) {
                throw CoreError::signatureMalformed('a component is covered twice');
            }
            $names[] = $name;
        }
        return $names;
    }

    /**
     * The signature base (RFC 9421 §2.5) for `msg` and the signature-params
     * inner list `params`.
     *
     * @throws CoreError signature_malformed
     */
    public static function signatureBase(MessageView $msg, SfvInnerList $params): string
    {
        $paramsText = Sfv::writeInnerList($params);
        return self::signatureBaseParts($msg, self::coveredComponents($params), $paramsText);
    }

    /**
     * The signature base from the covered component names and the
     * already-serialised signature-params value.
     *
     * @param list<string> $components
     * @throws CoreError signature_malformed
     */
    public static function signatureBaseParts(MessageView $msg, array $components, string $paramsText): string
    {
        $base = '';
        foreach ($components as $name) {
            $base .= '"' . $name . '": ' . $msg->componentValue($name) . "\n";
        }
        return $base . '"@signature-params": ' . $paramsText;
    }

    /**
     * Signs `req` with HMAC-SHA256 under `key` for one signature-input member
     * (`label=(...);params`), as any RFC 9421 signer would.
     *
     * @return array{0: string, 1: string} the signature base and the `Signature` value (`label=:base64:`)
     * @throws CoreError invalid_url / too_large / invalid_input / signature_malformed
     */
    public static function hmacSignGeneric(
        #[\SensitiveParameter] Request $req,
        string $signatureInput,
        #[\SensitiveParameter] string $key,
    ): array
    {
        $url = Url::parse($req->url, 'url');
        $dict = Sfv::parseDictionary($signatureInput);
        if (\count($dict) !== 1 || !$dict[0][1] instanceof SfvInnerList) {
            throw CoreError::signatureMalformed('expected exactly one inner-list member');
        }
        [$label, $params] = $dict[0];
        $authority = $url->authority();
        $method = Http::normalizeMethod($req->method);
        $msg = MessageView::of($method, $url, $authority, $req->headers);
        $base = self::signatureBase($msg, $params);
        $sig = base64_encode(self::hmacSha256($key, $base));
        return [$base, $label . '=:' . $sig . ':'];
    }

    /** HMAC block size of SHA-256, and its pads (RFC 2104). */
    private const BLOCK = 64;
    private const IPAD = "\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36"
        . "\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36"
        . "\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36"
        . "\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36\x36";
    private const OPAD = "\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c"
        . "\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c"
        . "\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c"
        . "\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c";
    /** `Content-Digest` of the empty body (most GET requests), computed once. */
    private const EMPTY_DIGEST = 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:';

    /** Whether OpenSSL's SHA-256 is available (optional: `hash` is used otherwise). */
    private static ?bool $openssl = null;

    /**
     * SHA-256 of `data` (raw 32 bytes). OpenSSL's implementation when the
     * host has the extension (several times faster than `hash` on PHP 8.1-8.2),
     * else `hash`; the digest is the same.
     */
    public static function sha256(#[\SensitiveParameter] string $data): string
    {
        if (self::$openssl ??= \function_exists('openssl_digest')) {
            $d = openssl_digest($data, 'sha256', true);
            if (\is_string($d)) {
                return $d;
            }
        }
        return hash('sha256', $data, true);
    }

    /**
     * HMAC-SHA256 of `data` under `key` (raw 32 bytes): `hash_hmac`, or
     * RFC 2104 over {@see sha256()} when OpenSSL is there (the same MAC,
     * faster); the padded key copies are wiped.
     */
    public static function hmacSha256(#[\SensitiveParameter] string $key, #[\SensitiveParameter] string $data): string
    {
        if (!(self::$openssl ??= \function_exists('openssl_digest'))) {
            return hash_hmac('sha256', $data, $key, true);
        }
        $k = \strlen($key) > self::BLOCK ? self::sha256($key) : $key;
        $k .= str_repeat("\0", self::BLOCK - \strlen($k)); // a new string: $key itself is never written
        $ik = $k ^ self::IPAD;
        $ok = $k ^ self::OPAD;
        $inner = $ik . $data;
        $outer = $ok . self::sha256($inner);
        $mac = self::sha256($outer);
        // Wipe the key copies (sodium_memzero leaves a string shared with the caller alone).
        sodium_memzero($k);
        sodium_memzero($ik);
        sodium_memzero($ok);
        sodium_memzero($inner);
        sodium_memzero($outer);
        return $mac;
    }

    /** The `Content-Digest` value (RFC 9530) for `body`: `sha-256=:…:`. */
    public static function contentDigest(#[\SensitiveParameter] string $body): string
    {
        return $body === '' ? self::EMPTY_DIGEST : 'sha-256=:' . base64_encode(self::sha256($body)) . ':';
    }
}

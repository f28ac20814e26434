<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * The Tessera RFC 9421 signing profile (core/src/sign.rs): label `tessera`;
 * covered `"@method" "@authority" "@path" "@query"` then `content-type`,
 * `content-digest`, `authorization`, `idempotency-key` when present;
 * parameters `created;expires;nonce;alg;keyid;tag`. The signer returns the
 * complete request for the host to send as-is.
 */
final class Sign
{
    /** The signature label. */
    public const LABEL = 'tessera';
    /** The `tag` parameter. */
    public const TAG = 'tessera-v1';
    /** The `alg` parameter. */
    public const ALG = 'hmac-sha256';
    /** Seconds between `created` and `expires`. */
    public const VALIDITY_SECS = 300;
    /** Derived components always covered, in order. */
    public const DERIVED = ['@method', '@authority', '@path', '@query'];
    /** Headers covered when present, in order. */
    public const OPTIONAL_HEADERS = ['content-type', 'content-digest', 'authorization', 'idempotency-key'];
    /** Content-Type sent with a POST, PUT or PATCH whose caller gave none. */
    public const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
    /** Headers the signer owns: a caller-supplied value is replaced. */
    private const OWNED_HEADERS = ['content-digest', 'authorization', 'signature', 'signature-input'];
    private const TOKEN_REASON = 'must be 1-128 characters of [A-Za-z0-9._~-]';

    /** Whether `s` is a profile-safe parameter value: `[A-Za-z0-9._~-]`, 1..=128 characters. */
    public static function isProfileToken(string $s): bool
    {
        // A character class is a bitmap lookup; strspn() scans its 66-character set for every byte.
        return preg_match('/^[A-Za-z0-9._~-]{1,128}$/D', $s) === 1;
    }

    /** A UUIDv4 string from 16 random bytes. */
    public static function uuidV4(string $bytes): string
    {
        $bytes[6] = \chr((\ord($bytes[6]) & 0x0f) | 0x40);
        $bytes[8] = \chr((\ord($bytes[8]) & 0x3f) | 0x80);
        $h = bin2hex($bytes);
        return substr($h, 0, 8) . '-' . substr($h, 8, 4) . '-' . substr($h, 12, 4) . '-' . substr($h, 16, 4) . '-'
            . substr($h, 20, 12);
    }

    /** Whether the method is idempotent by definition (RFC 9110 §9.2.2). */
    public static function isIdempotent(string $method): bool
    {
        return \in_array($method, ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'], true);
    }

    /**
     * The profile's signature-params value: the covered components and
     * `created;expires;nonce;alg;keyid;tag`, in exactly that order.
     *
     * @param list<string> $components
     */
    public static function profileParamsText(array $components, int $created, string $nonce, string $keyid): string
    {
        return '("' . implode('" "', $components) . '");created=' . $created
            . ';expires=' . Ints::saturatingAdd($created, self::VALIDITY_SECS)
            . ';nonce="' . $nonce . '";alg="' . self::ALG . '";keyid="' . $keyid . '";tag="' . self::TAG . '"';
    }

    /**
     * Signs one request under the profile.
     *
     * @param list<array{0: string, 1: string}> $headers extra headers from the caller
     * @throws CoreError invalid_input / too_large / signature_malformed
     */
    public static function sign(
        Secret $secret,
        string $keyid,
        string $method,
        Url $url,
        #[\SensitiveParameter] array $headers,
        #[\SensitiveParameter] string $body,
        ?BrokerToken $token,
        SignOptions $opts,
        Entropy $entropy,
    ): Request {
        $method = Http::normalizeMethod($method);
        Http::checkBody($body);
        Clock::wireTime($opts->now);
        if (!self::isProfileToken($keyid)) {
            throw CoreError::invalidInput('keyid', 'must be [A-Za-z0-9._~-]');
        }
        $extra = [];
        if ($headers !== []) {
            foreach (Http::normalizeHeaders($headers) as $h) {
                if (!\in_array($h[0], self::OWNED_HEADERS, true)) {
                    $extra[] = $h;
                }
            }
        }

        if ($opts->nonce !== null) {
            if (!self::isProfileToken($opts->nonce)) {
                throw CoreError::invalidInput('nonce', self::TOKEN_REASON);
            }
            $nonce = $opts->nonce;
        } else {
            $nonce = Encoding::b64urlEncode($entropy->fill(16));
        }
        $callerKey = self::takeHeader($extra, 'idempotency-key');
        $idempotencyKey = $opts->idempotencyKey ?? $callerKey;
        if ($idempotencyKey !== null) {
            if (!self::isProfileToken($idempotencyKey)) {
                throw CoreError::invalidInput('idempotency_key', self::TOKEN_REASON);
            }
        } elseif ($method === 'POST' || $method === 'PATCH') {
            $idempotencyKey = self::uuidV4($entropy->fill(16));
        }

        // Header order on the wire: covered headers in profile order, then the rest.
        $out = [];
        $contentType = self::takeHeader($extra, 'content-type');
        if ($contentType !== null) {
            $out[] = ['content-type', $contentType];
        } elseif ($method === 'POST' || $method === 'PUT' || $method === 'PATCH') {
            $out[] = ['content-type', self::DEFAULT_CONTENT_TYPE];
        }
        $out[] = ['content-digest', Signature::contentDigest($body)];
        if ($token !== null) {
            $out[] = ['authorization', 'Bearer ' . $token->expose()];
        }
        if ($idempotencyKey !== null) {
            $out[] = ['idempotency-key', $idempotencyKey];
        }
        $components = self::DERIVED;
        foreach ($out as [$k]) {
            $components[] = $k;
        }
        foreach ($extra as $h) {
            $out[] = $h;
        }

        $params = self::profileParamsText($components, $opts->now, $nonce, $keyid);
        $base = self::signatureBase($method, $url, $out, $components, $params);
        $mac = Signature::hmacSha256($secret->expose(), $base);
        $out[] = ['signature-input', self::LABEL . '=' . $params];
        $out[] = ['signature', self::LABEL . '=:' . base64_encode($mac) . ':'];
        return new Request($method, $url->asString(), $out, $body);
    }

    /**
     * The signature base of what `sign` builds: the same text as
     * `Signature::signatureBaseParts(MessageView::of($method, $url, $url->authority(), $headers), …)`,
     * without its generic lookups — every name in `headers` is lowercase, every
     * value trimmed ASCII without CR or LF (`Http::normalizeHeaders` or the
     * signer's own), and every covered header is present.
     *
     * @param list<array{0: string, 1: string}> $headers
     * @param list<string> $components
     */
    private static function signatureBase(string $method, Url $url, #[\SensitiveParameter] array $headers, array $components, string $params): string
    {
        $base = '"@method": ' . $method . "\n\"@authority\": " . $url->authority() . "\n\"@path\": " . $url->path()
            . "\n\"@query\": ?" . $url->query() . "\n";
        for ($i = \count(self::DERIVED), $n = \count($components); $i < $n; $i++) {
            $name = $components[$i];
            $value = null;
            foreach ($headers as [$k, $v]) {
                if ($k === $name) {
                    $value = $value === null ? $v : $value . ', ' . $v;
                }
            }
            $base .= '"' . $name . '": ' . $value . "\n";
        }
        return $base . '"@signature-params": ' . $params;
    }

    /**
     * Removes the first header named `name` (already lowercase) from `headers`; returns its value.
     *
     * @param list<array{0: string, 1: string}> $headers
     */
    private static function takeHeader(array &$headers, string $name): ?string
    {
        foreach ($headers as $i => [$k, $v]) {
            if ($k === $name) {
                array_splice($headers, $i, 1);
                return $v;
            }
        }
        return null;
    }
}

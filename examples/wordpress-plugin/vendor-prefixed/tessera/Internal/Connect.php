<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * The browser connect flow and other URL-signed links (core/src/connect.rs).
 *
 * A URL-signed link carries `sig` = base64url(HMAC-SHA256(secret, canonical))
 * where canonical = `<context>\n<k1>=<v1>&<k2>=<v2>…`, each value
 * percent-encoded with every byte outside RFC 3986 unreserved escaped.
 */
final class Connect
{
    /** Context string of connect URLs. */
    public const CONNECT_CONTEXT = 'tessera-connect-v1';
    /** Context string of uninstall tickets. */
    public const UNINSTALL_CONTEXT = 'tessera-uninstall-v1';
    /** Lifetime of a pending connect (and of a connect URL), seconds. */
    public const CONNECT_TTL_SECS = 600;
    /** Tolerated clock lead of a link's `ts`, seconds. */
    public const FUTURE_SKEW_SECS = 300;
    /** Default maximum age of an uninstall ticket (7 days): a reusable bearer link, so short; hosts re-issue it. */
    public const UNINSTALL_TICKET_MAX_AGE_SECS = 7 * 24 * 3600;
    /** Longest callback URL accepted. */
    public const MAX_CALLBACK = 8 * 1024;
    /** Longest connect code accepted (docs/PROTOCOL.md §5.4). */
    public const MAX_CONNECT_CODE = 256;

    private const SCHEME_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-';

    /**
     * `k=v&…` with canonical percent-encoding of the values.
     *
     * @param list<array{0: string, 1: string}> $pairs
     */
    public static function canonicalQuery(#[\SensitiveParameter] array $pairs): string
    {
        $parts = [];
        foreach ($pairs as [$k, $v]) {
            $parts[] = $k . '=' . rawurlencode($v);
        }
        return implode('&', $parts);
    }

    /**
     * The `sig` value for a URL-signed link.
     *
     * @param list<array{0: string, 1: string}> $pairs
     */
    public static function linkSignature(Secret $secret, string $context, #[\SensitiveParameter] array $pairs): string
    {
        $canonical = $context . "\n" . self::canonicalQuery($pairs);
        return Encoding::b64urlEncode(Signature::hmacSha256($secret->expose(), $canonical));
    }

    /**
     * Checks a return URL: an absolute http(s) URL the strict URL model
     * accepts or a browser-extension page; visible ASCII, no fragment, no
     * backslash, at most 2048 bytes, and a query that decodes, repeats no
     * key and carries none of `state`, `code`, `error`.
     *
     * @throws CoreError invalid_url / too_large
     */
    public static function checkReturnUrl(#[\SensitiveParameter] string $url): void
    {
        if (\strlen($url) > 2048) {
            throw CoreError::tooLarge('return_url', 2048);
        }
        if (!Text::isAsciiGraphic($url)) {
            throw CoreError::invalidUrl('return_url', 'must be visible ASCII without spaces');
        }
        if (str_contains($url, '#')) {
            throw CoreError::invalidUrl('return_url', 'must not contain a fragment');
        }
        $sep = strpos($url, '://');
        if ($sep === false) {
            throw CoreError::invalidUrl('return_url', 'must be absolute');
        }
        $scheme = substr($url, 0, $sep);
        $rest = substr($url, $sep + 3);
        $schemeOk = $scheme !== '' && strspn($scheme[0], 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz') === 1
            && Text::allIn($scheme, self::SCHEME_CHARS);
        if (!$schemeOk || $rest === '') {
            throw CoreError::invalidUrl('return_url', 'must be absolute');
        }
        if (\in_array(Text::asciiLower($scheme), Registration::EXTENSION_SCHEMES, true)) {
            $id = substr($rest, 0, strcspn($rest, '/?'));
            if (!Registration::isExtensionId($id)) {
                throw CoreError::invalidUrl('return_url', 'an extension page must be scheme://<id>/path');
            }
        } else {
            Url::parse($url, 'return_url');
        }
        if (str_contains($url, '\\')) {
            throw CoreError::invalidUrl('return_url', 'must not contain a backslash');
        }
        $q = strpos($url, '?');
        if ($q !== false) {
            $pairs = self::uniquePairs(substr($url, $q + 1));
            if ($pairs === null) {
                throw CoreError::invalidUrl('return_url', 'has a query that does not percent-decode or repeats a key');
            }
            foreach ($pairs as [$k]) {
                if ($k === 'state' || $k === 'code' || $k === 'error' || $k === 'code_context') {
                    throw CoreError::invalidUrl('return_url', 'must not carry state, code, error or code_context in its query');
                }
            }
        }
    }

    /**
     * Checks a scope string: 1-256 visible ASCII characters or spaces.
     *
     * @throws CoreError invalid_input (field `scope`)
     */
    public static function checkScope(string $scope): void
    {
        $len = \strlen($scope);
        if ($len === 0 || $len > 256 || preg_match('/[^\x20-\x7E]/', $scope) === 1) {
            throw CoreError::invalidInput('scope', 'must be 1-256 visible ASCII characters');
        }
    }

    /**
     * Ordered connect-URL parameters (without `sig`).
     *
     * @return list<array{0: string, 1: string}>
     */
    public static function connectPairs(
        string $installId,
        string $state,
        #[\SensitiveParameter] string $returnUrl,
        ?string $scope,
        string $ts,
    ): array {
        $pairs = [['install_id', $installId], ['state', $state], ['return_url', $returnUrl]];
        if ($scope !== null) {
            $pairs[] = ['scope', $scope];
        }
        $pairs[] = ['ts', $ts];
        return $pairs;
    }

    /**
     * Checks a connect code: 16-256 characters of `[A-Za-z0-9-._~]`.
     *
     * @throws CoreError callback_invalid
     */
    public static function checkConnectCode(#[\SensitiveParameter] string $code): void
    {
        $charsetOk = strspn($code, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') === \strlen($code);
        if (\strlen($code) < 16 || \strlen($code) > self::MAX_CONNECT_CODE || !$charsetOk) {
            throw CoreError::callbackInvalid('code is not a valid connect code');
        }
    }

    /**
     * Parses a callback given as a full return URL, `?query` or bare query.
     *
     * @throws CoreError too_large / callback_invalid
     */
    public static function parseCallback(#[\SensitiveParameter] string $input): Callback
    {
        if (\strlen($input) > self::MAX_CALLBACK) {
            throw CoreError::tooLarge('callback', self::MAX_CALLBACK);
        }
        $pairs = self::uniquePairs(self::queryOf($input));
        if ($pairs === null) {
            throw CoreError::callbackInvalid('malformed or repeated query parameter');
        }
        $state = self::get($pairs, 'state');
        if ($state === null) {
            throw CoreError::callbackInvalid('missing state');
        }
        return new Callback($state, self::get($pairs, 'code'), self::get($pairs, 'error'), self::get($pairs, 'code_context'));
    }

    /** The query of a URL, `?query` or bare query (fragment dropped). */
    public static function queryOf(#[\SensitiveParameter] string $url): string
    {
        $hash = strpos($url, '#');
        $noFrag = $hash === false ? $url : substr($url, 0, $hash);
        $q = strpos($noFrag, '?');
        if ($q !== false) {
            return substr($noFrag, $q + 1);
        }
        return str_contains($noFrag, '://') ? '' : $noFrag;
    }

    /**
     * Decoded query pairs with each key at most once.
     *
     * @return list<array{0: string, 1: string}>|null
     */
    public static function uniquePairs(#[\SensitiveParameter] string $query): ?array
    {
        $pairs = Encoding::parseQuery($query);
        if ($pairs === null) {
            return null;
        }
        $seen = [];
        foreach ($pairs as [$k]) {
            if (isset($seen[$k])) {
                return null;
            }
            $seen[$k] = true;
        }
        return $pairs;
    }

    /**
     * The value of `key` among `pairs`, if any.
     *
     * @param list<array{0: string, 1: string}> $pairs
     */
    public static function get(array $pairs, string $key): ?string
    {
        foreach ($pairs as [$k, $v]) {
            if ($k === $key) {
                return $v;
            }
        }
        return null;
    }

    /**
     * A link's `ts`: unix seconds, at most `maxAge` old and at most
     * FUTURE_SKEW_SECS ahead of `now`.
     *
     * @throws CoreError signature_malformed / signature_expired
     */
    public static function checkTs(?string $ts, int $now, int $maxAge): int
    {
        $len = $ts === null ? 0 : \strlen($ts);
        if ($ts === null || $len === 0 || $len > 12 || strspn($ts, '0123456789') !== $len) {
            throw CoreError::signatureMalformed('ts must be unix seconds');
        }
        $t = (int) $ts;
        if ($t > Ints::saturatingAdd($now, self::FUTURE_SKEW_SECS) || Ints::saturatingSub($now, $t) > $maxAge) {
            throw CoreError::signatureExpired();
        }
        return $t;
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * A strict, small URL model for the profile Tessera signs (core/src/url.rs).
 *
 * Only absolute `http`/`https` URLs with a host are accepted, normalised —
 * lowercase scheme and host, no default port, a non-empty path without dot
 * segments, query characters limited to RFC 3986 unreserved, `%XX`, `=` and
 * `&`, no fragment, no userinfo — or rejected.
 */
final class Url
{
    /** Longest URL accepted anywhere. */
    public const MAX_URL = 4096;

    private const HOST_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.';
    private const IPV6_CHARS = '0123456789abcdefABCDEF:.';
    private const HEX = '0123456789abcdefABCDEF';
    private const PATH_KEEP = Encoding::UNRESERVED . "!$&'()*+,;=:@/";
    private const QUERY_KEEP = Encoding::UNRESERVED . '=&';
    /** Matches a path made of PATH_KEEP only (`$keep` of the path in `normalizePart`). */
    private const ALL_PATH_KEEP = '/^[A-Za-z0-9\-._~!$&\'()*+,;=:@\/]*$/D';
    /** Matches a query made of QUERY_KEEP only. */
    private const ALL_QUERY_KEEP = '/^[A-Za-z0-9\-._~=&]*$/D';
    private const PLUS_IN_QUERY = "has '+' in the query: write %20 for a space or %2B for a plus";
    /** A host WHATWG URLs read as an IPv4 address other than a dotted quad (core/src/url/host.rs). */
    private const NOT_DOTTED_QUAD = 'has a numeric host that is not a dotted-quad IPv4 address (a.b.c.d)';
    /** A valid IPv6 literal not written in its canonical form. */
    private const NOT_CANONICAL_IPV6 = 'has an IPv6 host not in canonical form (RFC 5952, e.g. [::1])';

    private function __construct(
        private string $scheme,
        private string $host,
        private ?int $port,
        private string $path,
        private ?string $query,
    ) {
    }

    /**
     * Parses and normalises `text`; `field` names the argument in errors.
     *
     * @throws CoreError invalid_url / too_large
     */
    public static function parse(#[\SensitiveParameter] string $text, string $field): self
    {
        if (\strlen($text) > self::MAX_URL) {
            throw CoreError::tooLarge($field, self::MAX_URL);
        }
        if (preg_match('/[\x00-\x20\x7F-\xFF]/', $text) === 1) {
            throw CoreError::invalidUrl($field, 'contains spaces, control or non-ASCII characters');
        }
        $sep = strpos($text, '://');
        if ($sep === false) {
            throw CoreError::invalidUrl($field, 'must be an absolute http(s) URL');
        }
        $scheme = Text::asciiLower(substr($text, 0, $sep));
        $rest = substr($text, $sep + 3);
        $defaultPort = match ($scheme) {
            'https' => 443,
            'http' => 80,
            default => throw CoreError::invalidUrl($field, 'scheme must be http or https'),
        };
        if (str_contains($rest, '#')) {
            throw CoreError::invalidUrl($field, 'must not contain a fragment');
        }
        $split = strcspn($rest, '/?');
        [$host, $port] = self::parseAuthority(substr($rest, 0, $split), $field);
        if ($port === $defaultPort) {
            $port = null;
        }
        [$path, $query] = self::normalizeTail('', substr($rest, $split), $field);
        return (new self($scheme, $host, $port, $path, $query))->withinBound($field);
    }

    /**
     * The URL, if its normalised form fits MAX_URL (normalising
     * percent-encodes, so a URL under the bound can grow past it).
     */
    private function withinBound(string $field): self
    {
        if (\strlen($this->asString()) > self::MAX_URL) {
            throw CoreError::tooLarge($field, self::MAX_URL);
        }
        return $this;
    }

    /** `http` or `https`. */
    public function scheme(): string
    {
        return $this->scheme;
    }

    /** Lowercase host (IPv6 hosts keep their brackets). */
    public function host(): string
    {
        return $this->host;
    }

    /** Explicit non-default port. */
    public function port(): ?int
    {
        return $this->port;
    }

    /** `host[:port]`, as covered by `@authority`. */
    public function authority(): string
    {
        return $this->port === null ? $this->host : $this->host . ':' . $this->port;
    }

    /** The normalised path, never empty. */
    public function path(): string
    {
        return $this->path;
    }

    /** The normalised query without `?`, if any. */
    public function query(): ?string
    {
        return $this->query;
    }

    /** Whether the host is a loopback name or address. */
    public function isLoopback(): bool
    {
        $h = $this->host;
        if ($h === 'localhost' || str_ends_with($h, '.localhost') || $h === '[::1]') {
            return true;
        }
        $octets = explode('.', $h);
        if (\count($octets) !== 4 || $octets[0] !== '127') {
            return false;
        }
        foreach ($octets as $o) {
            $len = \strlen($o);
            if ($len === 0 || $len > 3 || strspn($o, '0123456789') !== $len || (int) $o > 255) {
                return false;
            }
        }
        return true;
    }

    /**
     * This URL with `pathAndQuery` (starting with `/`) appended to the base
     * path — not resolved against it as a relative reference; the result is
     * normalised again, exactly as parsing the concatenation would.
     *
     * @throws CoreError invalid_url / too_large
     */
    public function appendPath(#[\SensitiveParameter] string $pathAndQuery, string $field): self
    {
        if (!str_starts_with($pathAndQuery, '/')) {
            throw CoreError::invalidUrl($field, 'path must start with /');
        }
        $base = rtrim($this->path, '/');
        $portLen = $this->port === null ? 0 : 1 + \strlen((string) $this->port);
        $total = \strlen($this->scheme) + 3 + \strlen($this->host) + $portLen + \strlen($base) + \strlen($pathAndQuery);
        if ($total > self::MAX_URL) {
            throw CoreError::tooLarge($field, self::MAX_URL);
        }
        if (preg_match('/[\x00-\x20\x7F-\xFF]/', $pathAndQuery) === 1) {
            throw CoreError::invalidUrl($field, 'contains spaces, control or non-ASCII characters');
        }
        if (str_contains($pathAndQuery, '#')) {
            throw CoreError::invalidUrl($field, 'must not contain a fragment');
        }
        [$path, $query] = self::normalizeTail($base, $pathAndQuery, $field);
        return (new self($this->scheme, $this->host, $this->port, $path, $query))->withinBound($field);
    }

    /** The URL without query and trailing slashes: the identity used to compare site URLs. */
    public function siteIdentity(): string
    {
        return $this->scheme . '://' . $this->authority() . rtrim($this->path, '/');
    }

    /** The normalised URL as text (what is signed is exactly this). */
    public function asString(): string
    {
        $out = $this->scheme . '://' . $this->authority() . $this->path;
        return $this->query === null ? $out : $out . '?' . $this->query;
    }

    /** Same as asString(). */
    public function __toString(): string
    {
        return $this->asString();
    }

    /** Structural equality (Rust `PartialEq`). */
    public function equals(self $other): bool
    {
        return $this->scheme === $other->scheme && $this->host === $other->host && $this->port === $other->port
            && $this->path === $other->path && $this->query === $other->query;
    }

    /**
     * @return array{0: string, 1: ?int}
     */
    private static function parseAuthority(string $authority, string $field): array
    {
        if ($authority === '') {
            throw CoreError::invalidUrl($field, 'has no host');
        }
        if (str_contains($authority, '@')) {
            throw CoreError::invalidUrl($field, 'must not contain user information');
        }
        if ($authority[0] === '[') {
            $close = strpos($authority, ']', 1);
            if ($close === false) {
                throw CoreError::invalidUrl($field, 'has an unclosed IPv6 bracket');
            }
            $inside = substr($authority, 1, $close - 1);
            $after = substr($authority, $close + 1);
            if ($inside === '' || !Text::allIn($inside, self::IPV6_CHARS)) {
                throw CoreError::invalidUrl($field, 'has an invalid IPv6 host');
            }
            $packed = @inet_pton($inside);
            if (!\is_string($packed) || \strlen($packed) !== 16) {
                throw CoreError::invalidUrl($field, 'has an invalid IPv6 host');
            }
            if (Text::asciiLower($inside) !== self::ipv6Canonical($packed)) {
                throw CoreError::invalidUrl($field, self::NOT_CANONICAL_IPV6);
            }
            $port = null;
            if ($after !== '') {
                if ($after[0] !== ':') {
                    throw CoreError::invalidUrl($field, 'has garbage after the IPv6 host');
                }
                $port = substr($after, 1);
            }
            $host = '[' . Text::asciiLower($inside) . ']';
        } else {
            $colon = strpos($authority, ':');
            [$h, $port] = $colon === false
                ? [$authority, null]
                : [substr($authority, 0, $colon), substr($authority, $colon + 1)];
            $valid = $h !== '' && \strlen($h) <= 253 && Text::allIn($h, self::HOST_CHARS)
                && $h[0] !== '.' && !str_contains($h, '..');
            if (!$valid) {
                throw CoreError::invalidUrl($field, 'has an invalid host name');
            }
            if (self::endsInANumber($h) && !self::isDottedQuad($h)) {
                throw CoreError::invalidUrl($field, self::NOT_DOTTED_QUAD);
            }
            $host = Text::asciiLower($h);
        }
        if ($port === null) {
            return [$host, null];
        }
        $len = \strlen($port);
        $n = ($len > 0 && $len <= 5 && strspn($port, '0123456789') === $len) ? (int) $port : 0;
        if ($n === 0 || $n > 65535) {
            throw CoreError::invalidUrl($field, 'has an invalid port');
        }
        return [$host, $n];
    }

    /**
     * WHATWG's "ends in a number" for a host of letters, digits, `-` and `.`:
     * the last label (one trailing empty label dropped) is all digits or a
     * `0x` hex number (`0x` alone included). Such a host is parsed as IPv4.
     */
    private static function endsInANumber(string $host): bool
    {
        if (str_ends_with($host, '.')) {
            $host = substr($host, 0, -1);
        }
        $dot = strrpos($host, '.');
        $last = $dot === false ? $host : substr($host, $dot + 1);
        if (str_starts_with($last, '0x') || str_starts_with($last, '0X')) {
            $digits = substr($last, 2);
            return strspn($digits, self::HEX) === \strlen($digits);
        }
        return $last !== '' && strspn($last, '0123456789') === \strlen($last);
    }

    /** Four decimal numbers 0–255 without leading zeros: how WHATWG writes IPv4. */
    private static function isDottedQuad(string $host): bool
    {
        $parts = explode('.', $host);
        if (\count($parts) !== 4) {
            return false;
        }
        foreach ($parts as $p) {
            $len = \strlen($p);
            if ($len === 0 || $len > 3 || strspn($p, '0123456789') !== $len || ($len > 1 && $p[0] === '0') || (int) $p > 255) {
                return false;
            }
        }
        return true;
    }

    /**
     * The 16-byte address as WHATWG (and RFC 5952) writes it: lowercase hex
     * without leading zeros, the first longest run of two or more zero pieces
     * as `::`, never a dotted IPv4 tail.
     */
    private static function ipv6Canonical(string $packed): string
    {
        /** @var array<int, int> $p */
        $p = array_values((array) unpack('n8', $packed));
        [$best, $bestLen] = [-1, 1];
        for ($i = 0; $i < 8;) {
            $run = 0;
            while ($i + $run < 8 && $p[$i + $run] === 0) {
                $run++;
            }
            if ($run > $bestLen) {
                [$best, $bestLen] = [$i, $run];
            }
            $i += max($run, 1);
        }
        $out = '';
        for ($i = 0; $i < 8;) {
            if ($i === $best) {
                $out .= $i === 0 ? '::' : ':';
                $i += $bestLen;
                continue;
            }
            $out .= dechex($p[$i]) . ($i < 7 ? ':' : '');
            $i++;
        }
        return $out;
    }

    /**
     * Normalises `tail` (a path with an optional `?query`) below `basePath`.
     *
     * @return array{0: string, 1: ?string}
     */
    private static function normalizeTail(string $basePath, string $tail, string $field): array
    {
        $q = strpos($tail, '?');
        [$path, $query] = $q === false ? [$tail, null] : [substr($tail, 0, $q), substr($tail, $q + 1)];
        $path = self::normalizePath($basePath . $path, $field);
        if ($query !== null) {
            $query = self::normalizePart($query, self::QUERY_KEEP, true, $field);
            if ($query === '') {
                $query = null;
            }
        }
        return [$path, $query];
    }

    private static function normalizePath(string $path, string $field): string
    {
        if ($path === '') {
            return '/';
        }
        if (strpbrk($path, '.%') === false) {
            return self::normalizePart($path, self::PATH_KEEP, false, $field);
        }
        foreach (explode('/', $path) as $seg) {
            $l = \strlen($seg);
            if ($l === 0 || $l > 6) {
                continue;
            }
            $s = Text::asciiLower($seg);
            if ($s === '.' || $s === '..' || $s === '%2e' || $s === '%2e%2e' || $s === '.%2e' || $s === '%2e.') {
                throw CoreError::invalidUrl($field, 'must not contain dot segments');
            }
        }
        return self::normalizePart($path, self::PATH_KEEP, false, $field);
    }

    /** Uppercases `%xx` escapes, percent-encodes bytes outside `keep`. */
    private static function normalizePart(string $part, string $keep, bool $isQuery, string $field): string
    {
        // The common case, all kept: a character class is a bitmap lookup, where
        // strspn() scans its ~80-character set for every byte.
        if (preg_match($isQuery ? self::ALL_QUERY_KEEP : self::ALL_PATH_KEEP, $part) === 1) {
            return $part;
        }
        $n = \strlen($part);
        $run = strspn($part, $keep);
        $out = substr($part, 0, $run);
        $i = $run;
        while ($i < $n) {
            $b = $part[$i];
            if ($b === '%') {
                if ($i + 2 >= $n) {
                    throw CoreError::invalidUrl($field, 'has a truncated %-escape');
                }
                $hex = substr($part, $i + 1, 2);
                if (strspn($hex, self::HEX) !== 2) {
                    throw CoreError::invalidUrl($field, 'has an invalid %-escape');
                }
                $out .= '%' . Text::asciiUpper($hex);
                $i += 3;
            } else {
                if ($isQuery && $b === '+') {
                    throw CoreError::invalidUrl($field, self::PLUS_IN_QUERY);
                }
                $out .= \sprintf('%%%02X', \ord($b));
                $i++;
            }
            $run = strspn($part, $keep, $i);
            $out .= substr($part, $i, $run);
            $i += $run;
        }
        return $out;
    }
}

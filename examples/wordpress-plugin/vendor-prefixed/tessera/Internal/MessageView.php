<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * The parts of a request message that covered components are derived from
 * (Rust `signature::MessageView`).
 */
final class MessageView
{
    /**
     * @param string $method uppercase method
     * @param string $scheme `http` or `https`
     * @param string $authority normalised `host[:port]`
     * @param string $path path, never empty
     * @param string|null $query query without `?`, if any
     * @param list<array{0: string, 1: string}> $headers header fields (any case names)
     */
    public function __construct(
        public readonly string $method,
        public readonly string $scheme,
        public readonly string $authority,
        public readonly string $path,
        public readonly ?string $query,
        #[\SensitiveParameter] public readonly array $headers,
    ) {
    }

    /**
     * The view of a request to `url`.
     *
     * @param list<array{0: string, 1: string}> $headers
     */
    public static function of(string $method, Url $url, string $authority, #[\SensitiveParameter] array $headers): self
    {
        return new self($method, $url->scheme(), $authority, $url->path(), $url->query(), $headers);
    }

    /**
     * The value of one component identifier (RFC 9421 §2.1, §2.2).
     *
     * @throws CoreError signature_malformed
     */
    public function componentValue(string $name): string
    {
        switch ($name) {
            case '@method':
                return $this->method;
            case '@scheme':
                return $this->scheme;
            case '@authority':
                return $this->authority;
            case '@path':
                return $this->path;
            case '@query':
                return '?' . ($this->query ?? '');
            case '@request-target':
                return $this->query === null ? $this->path : $this->path . '?' . $this->query;
            case '@target-uri':
                $uri = $this->scheme . '://' . $this->authority . $this->path;
                return $this->query === null ? $uri : $uri . '?' . $this->query;
        }
        if (str_starts_with($name, '@')) {
            throw CoreError::signatureMalformed('unsupported derived component');
        }
        if (strpbrk($name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') !== false) {
            throw CoreError::signatureMalformed('component names must be lowercase');
        }
        $values = [];
        $len = \strlen($name);
        foreach ($this->headers as [$k, $v]) {
            if (\strlen($k) !== $len || strcasecmp($k, $name) !== 0) {
                continue;
            }
            $v = Text::trim($v);
            if (strpbrk($v, "\r\n") !== false) {
                throw CoreError::signatureMalformed('header value has a line break');
            }
            $values[] = $v;
        }
        if ($values === []) {
            throw CoreError::signatureMalformed('a covered header is missing');
        }
        return implode(', ', $values);
    }
}

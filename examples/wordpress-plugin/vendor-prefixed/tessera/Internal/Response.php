<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** A response the host received (Rust `http::Response`). */
final class Response
{
    /**
     * @param int $status HTTP status code (0..=65535, a Rust u16)
     * @param list<array{0: string, 1: string}> $headers as received (any case)
     * @param string $body body bytes
     */
    public function __construct(
        public readonly int $status,
        #[\SensitiveParameter] public readonly array $headers = [],
        #[\SensitiveParameter] public readonly string $body = '',
    ) {
    }

    /** First value of a header, by case-insensitive name. */
    public function header(string $name): ?string
    {
        return Http::findHeader($this->headers, $name);
    }

    /** A copy with one more header (Rust `with_header`). */
    public function withHeader(string $name, string $value): self
    {
        return new self($this->status, [...$this->headers, [$name, $value]], $this->body);
    }

    /**
     * What `var_dump`/`print_r` show: credentials redacted, body elided
     * (an answer may carry a token: a connect completion's broker token, a proxy's Stora tokens).
     *
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return [
            'status' => $this->status,
            'headers' => Request::debugHeaders($this->headers),
            'body' => '<' . \strlen($this->body) . ' bytes>',
        ];
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * What the plugin asks to send to the broker (Rust `http::ApiRequest`): the
 * path is relative to the broker base URL and may carry a query.
 */
final class ApiRequest
{
    /**
     * @param string $method any case (normalised to uppercase when signed)
     * @param string $path below the broker base URL, e.g. `/api/orders?limit=3`
     * @param list<array{0: string, 1: string}> $headers extra headers
     * @param string $body body bytes
     */
    public function __construct(
        public readonly string $method,
        public readonly string $path,
        #[\SensitiveParameter] public readonly array $headers = [],
        #[\SensitiveParameter] public readonly string $body = '',
    ) {
    }

    /** A JSON request: sets `content-type: application/json` (Rust `ApiRequest::json`). */
    public static function json(string $method, string $path, string $body): self
    {
        return new self($method, $path, [['content-type', 'application/json']], $body);
    }

    /**
     * What `var_dump`/`print_r` show: credentials redacted, body elided
     * (a revoke carries a refresh token, a code exchange the code).
     *
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return [
            'method' => $this->method,
            'path' => $this->path,
            'headers' => Request::debugHeaders($this->headers),
            'body' => '<' . \strlen($this->body) . ' bytes>',
        ];
    }
}

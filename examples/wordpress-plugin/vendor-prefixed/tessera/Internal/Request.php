<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * A request for the host to send (Rust `http::Request`). Dumping it redacts
 * credential headers and elides the body (a registration body carries the
 * secret).
 */
final class Request
{
    private const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

    /**
     * @param string $method uppercase method
     * @param string $url absolute URL
     * @param list<array{0: string, 1: string}> $headers in the order to send them
     * @param string $body body bytes (empty for none)
     */
    public function __construct(
        public readonly string $method,
        public readonly string $url,
        #[\SensitiveParameter] public readonly array $headers,
        #[\SensitiveParameter] public readonly string $body = '',
    ) {
    }

    /** First value of a header, by case-insensitive name. */
    public function header(string $name): ?string
    {
        return Http::findHeader($this->headers, $name);
    }

    /**
     * What `var_dump`/`print_r` show: credentials redacted, body elided.
     *
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return [
            'method' => $this->method,
            'url' => $this->url,
            'headers' => self::debugHeaders($this->headers),
            'body' => '<' . \strlen($this->body) . ' bytes>',
        ];
    }

    /**
     * Header pairs for `var_dump`/`print_r`, credential values redacted.
     *
     * @param list<array{0: string, 1: string}> $headers
     * @return list<array{0: string, 1: string}>
     */
    public static function debugHeaders(array $headers): array
    {
        $out = [];
        foreach ($headers as [$k, $v]) {
            $redact = \in_array(Text::asciiLower($k), self::CREDENTIAL_HEADERS, true);
            $out[] = [$k, $redact ? '[redacted]' : $v];
        }
        return $out;
    }
}

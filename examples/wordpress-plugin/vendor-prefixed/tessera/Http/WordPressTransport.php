<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Http;

use StorefrontSync\Vendor\Tessera\Exception\TransportException;
use StorefrontSync\Vendor\Tessera\Internal\Binding;
use StorefrontSync\Vendor\Tessera\Internal\CoreError;
use StorefrontSync\Vendor\Tessera\Internal\Convert;
use StorefrontSync\Vendor\Tessera\Internal\Http;
use StorefrontSync\Vendor\Tessera\Internal\PhpErrors;

/**
 * The transport of WordPress's HTTP API: pass it wherever Tessera takes a
 * `$transport`.
 *
 *     $companion->call($apiRequest, new \Tessera\Http\WordPressTransport());
 *
 * Each request goes out once through `wp_remote_request()` with its method,
 * headers and body as Tessera signed them, `'redirection' => 0` (WordPress
 * follows five redirects by default; a signed request is never redirected:
 * a 3xx comes back as the response) and the timeout given here. Every
 * response comes back whatever its status (`status` from
 * `wp_remote_retrieve_response_code()`, `headers` from
 * `wp_remote_retrieve_headers()`, `body` from `wp_remote_retrieve_body()`).
 * A `WP_Error` (no response at all) becomes a `TransportException` carrying
 * its `get_error_message()`, with the request's header values and body
 * replaced by `[redacted]`.
 *
 * Same class as the extension's `Tessera\Http\WordPressTransport` (the
 * `Tessera\…` name is an alias of this one when the extension is not
 * loaded). Calling it outside WordPress throws `InvalidStateException`.
 */
final class WordPressTransport
{
    /** Seconds WordPress waits for each request. */
    private int $timeoutSeconds;

    /**
     * @param int|null $timeoutSeconds seconds WordPress waits for each request (1 or more; null: 15)
     * @throws \Tessera\Exception\InvalidInputException when it is not a positive integer
     */
    public function __construct($timeoutSeconds = 15)
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 1);
        $timeoutSeconds ??= 15;
        if (!is_int($timeoutSeconds) || $timeoutSeconds < 1) {
            throw PhpErrors::exception(CoreError::invalidInput('timeoutSeconds', 'must be a positive integer'));
        }
        $this->timeoutSeconds = $timeoutSeconds;
    }

    /**
     * Sends one request through `wp_remote_request()` and returns the response.
     *
     * @param array{method: string, url: string, headers?: array<string, string|list<string>>, body?: string} $request
     * @return array{status: int, headers: array<string, string|list<string>>, body: string}
     * @throws \Tessera\Exception\TransportException on a `WP_Error` (no response)
     * @throws \Tessera\Exception\InvalidInputException when `$request` is not a request
     * @throws \Tessera\Exception\InvalidStateException outside WordPress (no `wp_remote_request()`)
     */
    public function __invoke($request): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 1);
        try {
            $parsed = Convert::requestFromPhp(Convert::array($request, 'request'));
            if (count($parsed->headers) > Http::MAX_HEADERS) {
                throw CoreError::tooLarge('headers', Http::MAX_HEADERS);
            }
            if (!function_exists('wp_remote_request')) {
                throw CoreError::invalidState('WordPressTransport runs inside WordPress only: wp_remote_request() is not defined');
            }
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
        $response = wp_remote_request($parsed->url, [
            'method' => $parsed->method,
            'headers' => Convert::headersToPhp($parsed->headers),
            'body' => $parsed->body,
            'timeout' => $this->timeoutSeconds,
            'redirection' => 0,
        ]);
        if (is_wp_error($response)) {
            $what = 'wp_remote_request() got no response: ' . $response->get_error_message();
            // No header value (one, or a space- or comma-separated piece of one: a bearer
            // token) nor the body in the message; pieces under 8 bytes are too common to
            // be secret. Longest first. As `redact()` in php-ext/src/transports.rs.
            $pieces = [$parsed->body];
            foreach ($parsed->headers as [, $value]) {
                array_push($pieces, $value, ...(preg_split('/[ \t,]+/', $value) ?: []));
            }
            $pieces = array_unique(array_filter($pieces, static fn (string $p): bool => strlen($p) >= 8));
            usort($pieces, static fn (string $a, string $b): int => strlen($b) <=> strlen($a) ?: strcmp($a, $b));
            throw new TransportException(str_replace($pieces, '[redacted]', $what));
        }
        $status = wp_remote_retrieve_response_code($response);
        if (!is_int($status)) {
            throw new TransportException('wp_remote_request() returned a response without a status');
        }
        $headers = wp_remote_retrieve_headers($response);
        return [
            'status' => $status,
            'headers' => is_object($headers) ? $headers->getAll() : (array) $headers,
            'body' => (string) wp_remote_retrieve_body($response),
        ];
    }
}

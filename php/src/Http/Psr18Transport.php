<?php

declare(strict_types=1);

namespace Tessera\Pure\Http;

use Tessera\Pure\Exception\TransportException;
use Tessera\Pure\Internal\Binding;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\Convert;
use Tessera\Pure\Internal\Http;
use Tessera\Pure\Internal\PhpErrors;

/**
 * The transport of any PSR-18 HTTP client (Guzzle, Symfony's Psr18Client, …):
 * pass it wherever Tessera takes a `$transport`.
 *
 *     $transport = new \Tessera\Http\Psr18Transport($client, $requestFactory, $streamFactory);
 *     $companion->call($apiRequest, $transport);
 *
 * Each request is built exactly as Tessera signed it (method, URL, every
 * header with `withHeader()`, the body stream only when the body is not
 * empty) and sent once with `sendRequest()`; every response comes back
 * whatever its status. Any `Psr\Http\Client\ClientExceptionInterface` (a
 * network error, or a request the client could not send) means no response:
 * it becomes a `TransportException` whose message names the client's
 * exception class and quotes its message with the request's header values and
 * body replaced by `[redacted]`, and which keeps no reference to it (it may
 * hold the signed request). Any other exception propagates.
 *
 * The client must not follow redirects (a signed request is never
 * redirected; Tessera answers a 3xx itself): Guzzle `['allow_redirects' =>
 * false]`, Symfony `HttpClient::create(['max_redirects' => 0])`. This class
 * cannot configure the client it is given.
 *
 * Same class as the extension's `Tessera\Http\Psr18Transport` (the
 * `Tessera\…` name is an alias of this one when the extension is not
 * loaded). The PSR interfaces are needed only when it is constructed.
 */
final class Psr18Transport
{
    /** @var object the PSR-18 client */
    private object $client;
    /** @var object the PSR-17 request factory */
    private object $requests;
    /** @var object the PSR-17 stream factory */
    private object $streams;

    /**
     * @param \Psr\Http\Client\ClientInterface $client sends the requests (configured not to follow redirects)
     * @param \Psr\Http\Message\RequestFactoryInterface $requests makes the PSR-7 requests
     * @param \Psr\Http\Message\StreamFactoryInterface $streams makes the request bodies
     * @throws \Tessera\Exception\InvalidInputException when an argument does not implement its interface
     */
    public function __construct($client, $requests, $streams)
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 3, 3);
        foreach ([
            'client' => [$client, 'Psr\\Http\\Client\\ClientInterface'],
            'requests' => [$requests, 'Psr\\Http\\Message\\RequestFactoryInterface'],
            'streams' => [$streams, 'Psr\\Http\\Message\\StreamFactoryInterface'],
        ] as $field => [$value, $interface]) {
            // is_a() of an object does not autoload: no PSR package is needed to load this class.
            if (!is_object($value) || !is_a($value, $interface)) {
                throw PhpErrors::exception(CoreError::invalidInput($field, "must implement {$interface}"));
            }
        }
        $this->client = $client;
        $this->requests = $requests;
        $this->streams = $streams;
    }

    /**
     * Sends one request as given and returns the response.
     *
     * @param array{method: string, url: string, headers?: array<string, string|list<string>>, body?: string} $request
     * @return array{status: int, headers: array<string, list<string>>, body: string}
     * @throws \Tessera\Exception\TransportException when the client sent no response
     * @throws \Tessera\Exception\InvalidInputException when `$request` is not a request, or one the
     *         PSR-7 implementation refuses (`InvalidArgumentException`)
     */
    public function __invoke($request): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 1);
        try {
            $parsed = Convert::requestFromPhp(Convert::array($request, 'request'));
            if (count($parsed->headers) > Http::MAX_HEADERS) {
                throw CoreError::tooLarge('headers', Http::MAX_HEADERS);
            }
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
        try {
            $message = $this->requests->createRequest($parsed->method, $parsed->url);
            foreach ($request['headers'] ?? [] as $name => $value) {
                $message = $message->withHeader((string) $name, $value);
            }
            if ($parsed->body !== '') {
                $message = $message->withBody($this->streams->createStream($parsed->body));
            }
        } catch (\InvalidArgumentException) {
            // PSR-7's "invalid method, URI, header or body".
            throw PhpErrors::exception(CoreError::invalidInput('request', 'the PSR-7 implementation refused its method, URL, a header or the body'));
        }
        try {
            $response = $this->client->sendRequest($message);
        } catch (\Throwable $e) {
            if (!is_a($e, 'Psr\\Http\\Client\\ClientExceptionInterface')) {
                throw $e;
            }
            $what = 'the HTTP client sent no response (' . get_class($e) . '): ' . $e->getMessage();
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
        return [
            'status' => $response->getStatusCode(),
            'headers' => $response->getHeaders(),
            'body' => (string) $response->getBody(),
        ];
    }
}

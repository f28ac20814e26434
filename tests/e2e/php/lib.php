<?php

declare(strict_types=1);

/* HTTP helpers shared by the e2e tests: a transport over PHP's stream wrapper and a redirect-following "browser". */

namespace Tessera\E2E;

use Tessera\Companion;
use Tessera\Exception\TransportException;

/**
 * Sends a request with PHP's HTTP stream wrapper. Every status is a
 * response; redirects are not followed; a failure to connect throws
 * TransportException (what Companion::call expects).
 *
 * @param array{method: string, url: string, headers?: array<string, string|list<string>>, body?: string} $req
 * @return array{status: int, headers: array<string, string>, body: string}
 */
function http_send(array $req): array
{
    $lines = [];
    foreach ($req['headers'] ?? [] as $name => $value) {
        foreach ((array) $value as $v) {
            $lines[] = "$name: $v";
        }
    }
    $context = stream_context_create(['http' => [
        'method' => $req['method'],
        'header' => implode("\r\n", $lines),
        'content' => $req['body'] ?? '',
        'ignore_errors' => true,
        'follow_location' => 0,
        'timeout' => 30,
        'protocol_version' => 1.1,
    ]]);
    $http_response_header = [];
    $body = @file_get_contents($req['url'], false, $context);
    if ($body === false || $http_response_header === []) {
        throw new TransportException('could not reach ' . parse_url($req['url'], PHP_URL_HOST));
    }
    preg_match('#^HTTP/\S+ (\d{3})#', $http_response_header[0], $m);
    $headers = [];
    foreach (array_slice($http_response_header, 1) as $line) {
        [$name, $value] = array_map('trim', explode(':', $line, 2)) + [1 => ''];
        $headers[strtolower($name)] = $value;
    }
    return ['status' => (int) $m[1], 'headers' => $headers, 'body' => $body];
}

/** Resolves a Location header against the current URL. */
function resolve(string $current, string $location): string
{
    if (str_contains($location, '://')) {
        return $location;
    }
    $p = parse_url($current);
    return $p['scheme'] . '://' . $p['host'] . (isset($p['port']) ? ':' . $p['port'] : '') . $location;
}

/**
 * Follows redirects like a browser until a page, or a redirect to a URL that
 * starts with $stopAt (not fetched).
 *
 * @return array{returned: bool, url: string, status: int, body: string}
 */
function browse(string $url, string $stopAt): array
{
    for ($i = 0; $i < 10; $i++) {
        if (str_starts_with($url, $stopAt)) {
            return ['returned' => true, 'url' => $url, 'status' => 0, 'body' => ''];
        }
        $r = http_send(['method' => 'GET', 'url' => $url, 'headers' => ['accept' => 'text/html'], 'body' => '']);
        if (in_array($r['status'], [301, 302, 303, 307, 308], true) && isset($r['headers']['location'])) {
            $url = resolve($url, $r['headers']['location']);
            continue;
        }
        return ['returned' => false, 'url' => $url, 'status' => $r['status'], 'body' => $r['body']];
    }
    throw new \RuntimeException('too many redirects');
}

/** Records the sleeps the core asks for (without sleeping) and the persisted state. */
final class Host
{
    /** @var list<int> */
    public array $sleeps = [];
    public ?string $persisted = null;
    /** @var list<string> everything persisted, in order */
    public array $persistedAll = [];
    /** @var list<int> */
    public array $statuses = [];

    public function transport(): callable
    {
        return function (array $req): array {
            $r = http_send($req);
            $this->statuses[] = $r['status'];
            return $r;
        };
    }

    public function sleep(): callable
    {
        return function (int $ms): void {
            $this->sleeps[] = $ms;
        };
    }

    public function persist(): callable
    {
        return function (string $state): void {
            $this->persisted = $state;
            $this->persistedAll[] = $state;
        };
    }

    /** Companion::call with this host's callables; returns the decoded JSON body. */
    public function getJson(Companion $c, string $path): array
    {
        $this->statuses = [];
        $this->sleeps = [];
        $r = $c->call(['method' => 'GET', 'path' => $path], $this->transport(), $this->sleep(), $this->persist());
        return json_decode($r['body'], true);
    }
}


<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\Http;
use Tessera\Pure\Internal\Request;
use Tessera\Pure\Internal\Response;
use Tessera\Pure\Internal\Url;

/** Ports of core/src/url.rs and core/src/http.rs tests, plus edge cases. */
final class UrlHttpTest extends Support
{
    private static function n(string $s): string
    {
        return Url::parse($s, 'url')->asString();
    }

    public function testNormalises(): void
    {
        self::assertSame('https://broker.example/', self::n('HTTPS://Broker.Example:443'));
        self::assertSame('http://127.0.0.1:8080/a/b?x=1&y=%2F', self::n('http://127.0.0.1:8080/a/b?x=1&y=%2f'));
        self::assertSame('https://a.example/p?q=a%3Ab', self::n('https://a.example/p?q=a:b'));
        self::assertSame('https://a.example/p', self::n('https://a.example/p?'));
        self::assertSame('http://[::1]/', self::n('http://[::1]:80/'));
        self::assertSame('https://a.example/%5C%22%3C%3E', self::n('https://a.example/\\"<>'));
        self::assertSame('https://a.example/?x=%27%2A', self::n("https://a.example?x='*"));
        self::assertSame('https://[fe80::1]:8443/', self::n('https://[FE80::1]:8443'));
        self::assertSame('https://a.example/', (string) Url::parse('https://a.example', 'u'));
    }

    public function testRejects(): void
    {
        $cases = [
            'ftp://a.example/' => 'scheme must be http or https',
            'https://' => 'has no host',
            'https://user@a.example/' => 'must not contain user information',
            'https://a.example/#frag' => 'must not contain a fragment',
            'https://a.example/../x' => 'must not contain dot segments',
            'https://a.example/a/./b' => 'must not contain dot segments',
            'https://a.example/%2e%2e/x' => 'must not contain dot segments',
            'https://a.example/.%2E/x' => 'must not contain dot segments',
            'https://a.example:0/' => 'has an invalid port',
            'https://a.example:99999/' => 'has an invalid port',
            'https://a.example:/' => 'has an invalid port',
            'https://a.example/x?y=a+b' => "has '+' in the query: write %20 for a space or %2B for a plus",
            'https://a b/' => 'contains spaces, control or non-ASCII characters',
            "https://a.example/\u{e9}" => 'contains spaces, control or non-ASCII characters',
            'https://a.example/%zz' => 'has an invalid %-escape',
            'https://a.example/%4' => 'has a truncated %-escape',
            '/relative' => 'must be an absolute http(s) URL',
            'https://[::1/' => 'has an unclosed IPv6 bracket',
            'https://[::1]x/' => 'has garbage after the IPv6 host',
            'https://[]/' => 'has an invalid IPv6 host',
            'https://a..b/' => 'has an invalid host name',
            'https://.a/' => 'has an invalid host name',
        ];
        foreach ($cases as $bad => $reason) {
            self::assertCoreError('invalid_url', fn () => Url::parse($bad, 'url'), "invalid URL in `url`: {$reason}", $bad);
        }
        self::assertCoreError('too_large', fn () => Url::parse('https://a.example/' . str_repeat('a', 4080), 'site_url'), '`site_url` is too large (limit 4096)');
        // Under the bound as typed, over it once percent-encoded.
        self::assertCoreError('too_large', fn () => Url::parse('https://a.example/' . str_repeat('"', 1400), 'u'));
    }

    public function testJoinEqualsParsingTheConcatenation(): void
    {
        $bases = ['https://b.example', 'https://b.example/', 'http://127.0.0.1:8080/t/', 'https://b.example/a/b'];
        $tails = ['/', '/api/x?a=1&b=%2f', '/api/x?', '/api/x?q=a:b', '/a/../b', '/x#f', '/x y', '/x?q=a+b', '/%zz', '/a//b'];
        foreach ($bases as $b) {
            $base = Url::parse($b, 'u');
            foreach ($tails as $t) {
                $full = $base->scheme() . '://' . $base->authority() . rtrim($base->path(), '/') . $t;
                $want = null;
                $wantErr = null;
                try {
                    $want = Url::parse($full, 'p');
                } catch (\Tessera\Pure\Internal\CoreError $e) {
                    $wantErr = $e->getMessage();
                }
                try {
                    $got = $base->appendPath($t, 'p');
                    self::assertNotNull($want, "{$b} + {$t}");
                    self::assertTrue($got->equals($want), "{$b} + {$t}");
                } catch (\Tessera\Pure\Internal\CoreError $e) {
                    self::assertSame($wantErr, $e->getMessage(), "{$b} + {$t}");
                }
            }
        }
    }

    public function testLoopbackAndJoin(): void
    {
        self::assertTrue(Url::parse('http://localhost:3000', 'u')->isLoopback());
        self::assertTrue(Url::parse('http://127.0.0.1', 'u')->isLoopback());
        self::assertTrue(Url::parse('http://app.localhost', 'u')->isLoopback());
        self::assertTrue(Url::parse('http://[::1]:8080', 'u')->isLoopback());
        self::assertFalse(Url::parse('http://127.example.com', 'u')->isLoopback());
        self::assertFalse(Url::parse('http://127.evil.example.com', 'u')->isLoopback());
        // Numeric hosts other than dotted quads are refused (WHATWG reads them as IPv4).
        $quad = 'invalid URL in `u`: has a numeric host that is not a dotted-quad IPv4 address (a.b.c.d)';
        foreach (['http://127.0.0.256', 'http://127.0.0.0001', 'http://2130706433', 'http://0x7f.1', 'http://127.1', 'http://1.2.3.4.'] as $bad) {
            self::assertCoreError('invalid_url', fn () => Url::parse($bad, 'u'), $quad);
        }
        $v6 = 'invalid URL in `u`: has an IPv6 host not in canonical form (RFC 5952, e.g. [::1])';
        foreach (['http://[::FFFF:1.2.3.4]', 'http://[0:0::1]', 'http://[::0001]'] as $bad) {
            self::assertCoreError('invalid_url', fn () => Url::parse($bad, 'u'), $v6);
        }
        self::assertCoreError('invalid_url', fn () => Url::parse('http://[1:2]', 'u'), 'invalid URL in `u`: has an invalid IPv6 host');
        self::assertTrue(Url::parse('http://127.1.2.3:9', 'u')->isLoopback());
        $base = Url::parse('https://b.example/tessera/', 'u');
        self::assertSame('https://b.example/tessera/api/x?a=1', $base->appendPath('/api/x?a=1', 'p')->asString());
        self::assertCoreError('invalid_url', fn () => $base->appendPath('api', 'p'), 'invalid URL in `p`: path must start with /');
        self::assertSame('https://s.example/blog', Url::parse('https://S.example/blog/', 'u')->siteIdentity());
        self::assertSame('https://s.example:8443', Url::parse('https://s.example:8443//?q=1', 'u')->siteIdentity());
    }

    public function testRequestDebugRedactsCredentialsAndBody(): void
    {
        $r = new Request('POST', 'https://b.example/installations', [['Authorization', 'Bearer btk_SECRET'], ['x-a', 'b'],
            ['COOKIE', 'SECRET=1']], '{"secret":"SECRET"}');
        $text = print_r($r, true) . var_export($r->__debugInfo(), true);
        ob_start();
        var_dump($r);
        $text .= (string) ob_get_clean();
        self::assertStringNotContainsString('SECRET', $text);
        self::assertStringContainsString('[redacted]', $text);
        self::assertStringContainsString('x-a', $text);
        self::assertStringContainsString('<19 bytes>', $text);
    }

    public function testHeadersAreChecked(): void
    {
        self::assertSame([['content-type', 'a/b']], Http::normalizeHeaders([['Content-Type', " a/b \x0B\x0C"]]));
        self::assertSame([['x', "\x01a\x1f"]], Http::normalizeHeaders([['x', "\x01a\x1f"]]));
        self::assertCoreError('invalid_input', fn () => Http::normalizeHeaders([['bad name', 'x']]), 'invalid `headers`: header name is not a token');
        self::assertCoreError('invalid_input', fn () => Http::normalizeHeaders([['', 'x']]));
        self::assertCoreError('invalid_input', fn () => Http::normalizeHeaders([[str_repeat('a', 65), 'x']]));
        self::assertCoreError('invalid_input', fn () => Http::normalizeHeaders([['x', "a\r\nb"]]), 'invalid `headers`: header value must be visible ASCII');
        self::assertCoreError('invalid_input', fn () => Http::normalizeHeaders([['x', "a\x00"]]));
        self::assertCoreError('invalid_input', fn () => Http::normalizeHeaders([['x', "\u{e9}"]]));
        self::assertCoreError('too_large', fn () => Http::normalizeHeaders([['x', str_repeat('a', Http::MAX_HEADER_VALUE + 1)]]), '`headers` is too large (limit 8192)');
        self::assertCoreError('too_large', fn () => Http::normalizeHeaders(array_fill(0, 101, ['x', 'y'])), '`headers` is too large (limit 100)');
        self::assertSame(100, \count(Http::normalizeHeaders(array_fill(0, 100, ['x', 'y']))));
        self::assertSame('GET', Http::normalizeMethod('get'));
        self::assertSame('PROPFIND', Http::normalizeMethod('PropFind'));
        foreach (['GE T', '', 'G1', str_repeat('A', 17), "G\u{e9}"] as $bad) {
            self::assertCoreError('invalid_input', fn () => Http::normalizeMethod($bad), 'invalid `method`: must be an HTTP method token');
        }
        self::assertCoreError('too_large', fn () => Http::checkBody(str_repeat("\0", Http::MAX_BODY + 1)), '`body` is too large (limit 1048576)');
        Http::checkBody(str_repeat("\0", Http::MAX_BODY));
        $resp = (new Response(200))->withHeader('Date', 'x')->withHeader('date', 'y');
        self::assertSame('x', $resp->header('DATE'));
        self::assertNull($resp->header('dat'));
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\Connect;
use Tessera\Pure\Internal\Encoding;
use Tessera\Pure\Internal\HttpDate;
use Tessera\Pure\Internal\Registration;
use Tessera\Pure\Internal\Secret;
use Tessera\Pure\Internal\SeededEntropy;
use Tessera\Pure\Internal\Sign;
use Tessera\Pure\Internal\SignOptions;
use Tessera\Pure\Internal\Url;

/**
 * Generates hostile and ordinary inputs for the oracle operations
 * (deterministic for a given mt_srand seed). Text inputs are valid UTF-8, as
 * Rust `&str` requires.
 */
final class OracleGen
{
    private const PIECES = ['a', 'Z', '0', '9', '-', '.', '_', '~', '%', '%2', '%2e', '%2E', '%zz', '%41', '%c3%a9', '%FF', '+',
        '=', '&', '?', '#', '/', '//', ':', '@', '[', ']', '!', '$', "'", '(', ')', '*', ',', ';', ' ', "\t", "\n", '"',
        '\\', '<', '>', '^', '`', '{', '|', '}', "\u{e9}", "\u{a0}", "\u{3000}", "\u{1F600}", "\x7f", "\x01", 'abc',
        'state', 'error', 'broker_token', 'x'];

    /** @var list<string> */
    private array $secrets = [];

    public function __construct()
    {
        for ($i = 0; $i < 3; $i++) {
            $this->secrets[] = Encoding::b64urlEncode(hash('sha256', 'oracle-secret-' . $i, true));
        }
    }

    public static function pick(array $a): mixed
    {
        return $a[mt_rand(0, \count($a) - 1)];
    }

    public static function chance(int $percent): bool
    {
        return mt_rand(1, 100) <= $percent;
    }

    public static function bytes(int $n): string
    {
        $s = '';
        for ($i = 0; $i < $n; $i++) {
            $s .= \chr(mt_rand(0, 255));
        }
        return $s;
    }

    public static function junk(int $max = 8): string
    {
        $s = '';
        $n = mt_rand(0, $max);
        for ($i = 0; $i < $n; $i++) {
            $s .= self::pick(self::PIECES);
        }
        return $s;
    }

    /** An account id or name for `account` (Account::new): often valid, else too long or with a control character. */
    public static function accountText(): string
    {
        $base = self::pick(['op_1', '', 'Acme Self Storage', "\u{e9}t\u{e9}", "\u{1F600}", "a\u{a0}b\u{2028}c", self::junk(6)]);
        return match (mt_rand(0, 7)) {
            0 => $base . self::pick(["\x00", "\x1f", "\t", "\n", "\x7f", "\u{80}", "\u{85}", "\u{9f}", "\u{a0}", "\u{ad}", "\u{200b}"]),
            1 => str_repeat(self::pick(['a', "\u{e9}", "\u{1F600}"]), self::pick([127, 128, 129, 199, 200, 201])),
            default => $base,
        };
    }

    /** Inserts, deletes or replaces a piece at a random place (keeps UTF-8 valid when `s` is ASCII-split-safe). */
    public static function mutate(string $s): string
    {
        $chars = preg_split('//u', $s, -1, PREG_SPLIT_NO_EMPTY) ?: [];
        $n = \count($chars);
        $at = mt_rand(0, $n);
        switch (mt_rand(0, 2)) {
            case 0:
                array_splice($chars, $at, 0, [self::pick(self::PIECES)]);
                break;
            case 1:
                if ($n > 0) {
                    array_splice($chars, min($at, $n - 1), 1);
                }
                break;
            default:
                if ($n > 0) {
                    $chars[min($at, $n - 1)] = self::pick(self::PIECES);
                }
        }
        return implode('', $chars);
    }

    public function url(): string
    {
        $scheme = self::chance(70) ? self::pick(['https', 'http', 'HTTPS']) : self::pick(['Http', 'ftp', '', 'chrome-extension']);
        $host = self::chance(50) ? self::pick(['broker.example', 'B.Example', 'localhost', '127.0.0.1', '[::1]', 'h.example:8080', 'h.example:443']) : self::pick(['broker.example', 'B.Example', 'localhost', 'a.localhost', '127.0.0.1', '127.1.2.3', '127.0.0.256',
            '127.example.com', '[::1]', '[::1', '[FE80::1]', '[::g]', 'a..b', '.a', 'a-b.example', '', 'user@h.example',
            'h.example:443', 'h.example:80', 'h.example:0', 'h.example:8080', 'h.example:99999', 'h.example:', 'h.example:+1',
            '[::1]:8443', '[::1]x', str_repeat('a', 254), 'xn--mnchen-3ya.de']);
        $path = '';
        $segs = mt_rand(0, 4);
        for ($i = 0; $i < $segs; $i++) {
            $path .= '/' . (self::chance(60) ? self::pick(['api', 'x', 'orders', 'A', '~u', '%7e', 'p:q@r', '']) : self::pick(['api', 'x', '.', '..', '%2e', '%2E%2e', '.%2e', 'a b', "\u{e9}", '%zz', '%4', '%7e', '~u',
                'p:q@r', '', 'A', "it's", '%2F']));
        }
        if (self::chance(10)) {
            $path .= '/';
        }
        $url = $scheme . '://' . $host . $path;
        if (self::chance(50)) {
            $url .= '?' . (self::chance(50) ? self::pick(['a=1', 'limit=3', 'a=%2f&b=2', '']) : self::pick(['', 'a=1', 'a=1&b=%2f', 'q=a:b', 'q=a+b', 'x=%zz', 'x=%', 'limit=3&x', 'a=é', 'a=[1]',
                'a=1&&b', 'k=' . self::junk(4)]));
        }
        if (self::chance(10)) {
            $url .= '#f';
        }
        if (self::chance(5)) {
            $url .= str_repeat('a', mt_rand(3900, 4200));
        }
        if (self::chance(3)) {
            $url = 'https://h.example/' . str_repeat('%', 1) . str_repeat(' ', mt_rand(1300, 1400));
        }
        if (self::chance(10)) {
            $url = self::mutate($url);
        }
        return $url;
    }

    public function tail(): string
    {
        $t = self::pick(['/', '/api/x?a=1&b=%2f', '/api/x?', '/api/x?q=a:b', '/a/../b', '/x#f', '/x y', '/x?q=a+b', '/%zz',
            '/a//b', 'api', '', '/é', '/' . str_repeat('b', 4090), '/ok?' . self::junk(3)]);
        return self::chance(20) ? self::mutate($t) : $t;
    }

    public function sfvText(): string
    {
        $members = [];
        $n = mt_rand(0, 4);
        for ($i = 0; $i < $n; $i++) {
            $key = self::pick(['sig1', 'a', '*k', 'tessera', 'A', '1a', 'k-._*', str_repeat('k', 64), str_repeat('k', 65), 'sha-256']);
            $m = $key;
            if (self::chance(85)) {
                $m .= '=' . (self::chance(40) ? $this->innerList() : $this->sfvItem());
            } elseif (self::chance(50)) {
                $m .= $this->sfvParams();
            }
            $members[] = $m;
        }
        $sep = self::pick([', ', ',', ' , ', ",\t", ' ,  ']);
        $s = self::pick(['', ' ', '  ']) . implode($sep, $members) . self::pick(['', ' ', "\t", ',', ', ']);
        if (self::chance(5)) {
            $s = implode(',', array_map(fn ($i) => "k{$i}=1", range(0, mt_rand(60, 70))));
        }
        return self::chance(25) ? self::mutate($s) : $s;
    }

    private function bareText(): string
    {
        return match (mt_rand(0, 6)) {
            0 => (string) mt_rand(-999, 99999) . self::pick(['', '0000000000', '00000000000000']),
            1 => self::pick(['1.5', '-0.25', '123456789012.123', '1234567890123.1', '1.', '1.2345', '.5', '-', '-.5', '0.000', '1.2.3']),
            2 => '"' . self::pick(['', 'x', 'a\\"b', 'a\\\\b', '\\x', 'é', "a\tb", '@method', 'content-digest', 'tessera-v1',
                'hmac-sha256', 'ins_abc']) . self::pick(['"', '"', '']),
            3 => self::pick(['tok', 'tok/x:y', 'Tok*', '*', 'a%b', 'x=y']),
            4 => ':' . self::pick(['aGk=', '', 'aGk', 'zz', 'aGk=aGk=', 'Zh==', base64_encode(self::bytes(32))]) . self::pick([':', ':', '']),
            5 => self::pick(['?1', '?0', '?2', '?']),
            default => self::pick(['', '(', ')', '=', ';']),
        };
    }

    private function sfvParams(): string
    {
        $s = '';
        $n = mt_rand(0, 3);
        for ($i = 0; $i < $n; $i++) {
            $s .= ';' . self::pick(['', ' ']) . self::pick(['created', 'expires', 'nonce', 'keyid', 'alg', 'tag', 'req', 'X', 'a'])
                . (self::chance(80) ? '=' . $this->bareText() : '');
        }
        if (self::chance(3)) {
            $s = implode('', array_map(fn ($i) => ";p{$i}=1", range(0, 33)));
        }
        return $s;
    }

    private function sfvItem(): string
    {
        return $this->bareText() . $this->sfvParams();
    }

    private function innerList(): string
    {
        $items = [];
        $n = mt_rand(0, 5);
        for ($i = 0; $i < $n; $i++) {
            $items[] = self::chance(70)
                ? '"' . self::pick(['@method', '@authority', '@path', '@query', 'content-digest', 'date', 'content-type', '@status']) . '"'
                : $this->sfvItem();
        }
        return '(' . self::pick(['', ' ']) . implode(self::pick([' ', '  ', '']), $items) . self::pick(['', ' ']) . ')'
            . $this->sfvParams();
    }

    public function date(): string
    {
        $t = self::pick([0, 784_111_777, 951_782_400, 1_700_000_000, 253_402_300_799, mt_rand(0, 4_102_444_800)]);
        $f = HttpDate::format($t);
        $s = match (mt_rand(0, 4)) {
            0 => $f,
            1 => gmdate('l, d-M-y H:i:s', $t) . ' GMT',
            2 => gmdate('D M ', $t) . str_pad(gmdate('j', $t), 2, ' ', STR_PAD_LEFT) . gmdate(' H:i:s Y', $t),
            3 => self::pick(['', 'soon', '3', ' 120 ', '9999999999', '99999999999', 'Sun, 06 Nov 1994 08:49:37 UTC',
                'Mon, 06 Nov 1994 08:49:37 GMT', 'Thu, 29 Feb 2001 00:00:00 GMT', 'Tue, 29 Feb 2000 00:00:00 GMT',
                'Sonntag, 06-Nov-94 08:49:37 GMT', 'Sun Nov 6 08:49:37 1994', '-1', '+5', '1e3']),
            default => self::pick(["\u{a0}", ' ', "\t", "\u{3000}", '']) . $f . self::pick(["\u{2028}", ' ', "\n", '', 'é']),
        };
        return self::chance(15) ? self::mutate($s) : $s;
    }

    public function jsonDoc(int $depth = 0): string
    {
        $r = $depth > 3 ? mt_rand(0, 4) : mt_rand(0, 7);
        return match ($r) {
            0 => self::pick(['null', 'true', 'false', 'nul', 'truex', 'NaN']),
            1 => self::pick(['0', '-0', '1', '-1', '1.5e3', '1E+2', '01', '1.', '-', '.5', '+1', '18446744073709551615',
                '18446744073709551616', '9223372036854775807', '9223372036854775808', '-9223372036854775808',
                '-9223372036854775809', '1e', '00']),
            2, 3 => '"' . self::pick(['', 'x', 'a\\"b', '\\u00e9', '\\ud83d\\ude00', '\\ud800', '\\udc00', '\\ud800\\u0041', '\\x',
                "\u{e9}", "a\nb", '\\/\\b\\f\\n\\r\\t', "\xff", "\xc3", '\\u12', 'hunter2']) . self::pick(['"', '"', '"', '']),
            4 => self::pick(['{}', '[]', '{', '[1,]', '{"a":1,}', "{'a':1}", '// c', '[' . str_repeat('[', 31) . str_repeat(']', 32),
                str_repeat('[', 33) . str_repeat(']', 33), str_repeat('{"a":', 33) . '1' . str_repeat('}', 33)]),
            5, 6 => '{' . implode(',', array_map(fn () => '"' . self::pick(['a', 'error', 'code', 'challenge', 'v', 'a']) . '"'
                . self::pick([':', ' : ', '']) . $this->jsonDoc($depth + 1), range(0, mt_rand(0, 3)))) . '}',
            default => '[' . implode(self::pick([',', ' , ']), array_map(fn () => $this->jsonDoc($depth + 1), range(0, mt_rand(0, 3)))) . ']',
        };
    }

    public function jsonBytes(): string
    {
        $d = self::pick(['', ' ', "\n"]) . $this->jsonDoc() . self::pick(['', ' ', "\t\r\n", ' {}', 'x']);
        if (self::chance(15) && $d !== '') {
            $i = mt_rand(0, \strlen($d) - 1);
            $d[$i] = \chr(mt_rand(0, 255));
        }
        if (self::chance(10)) {
            $d = substr($d, 0, mt_rand(0, \strlen($d)));
        }
        return $d;
    }

    public function email(): string
    {
        if (self::chance(40)) {
            return self::pick(['a', 'first.last+tag', 'ops', 'x_y']) . '@' . self::pick(['b.co', 'sub.example.com', 'münchen.de', 'xn--d.example']);
        }
        $e = self::pick(['a', 'first.last+tag', '', '<a>', 'a b', str_repeat('l', 65), 'x"y', 'ops'])
            . self::pick(['@', '@', '@@', '']) . self::pick(['b.co', 'sub.example.com', 'münchen.de', 'b', 'b..co', '-b.co',
                'b-.co', 'b.co\n', 'b.co', "b.co\u{a0}", 'ex_ample.com', str_repeat('d', 64) . '.com', 'a@b.co']);
        return self::chance(20) ? self::mutate($e) : $e;
    }

    public function site(): string
    {
        $s = self::chance(40)
            ? self::pick(['chrome-extension://', 'moz-extension://', 'Chrome-Extension://', 'chrome-extension:/'])
                . self::pick(['abcdefghijklmnopabcdefghijklmnop', 'ABCdef', '0b1c-2d3e', 'ab_cd', '', 'abc/options.html',
                    str_repeat('a', 65)]) . self::pick(['', '/', '//'])
            : $this->url();
        return $s;
    }

    public function secret(): string
    {
        return self::chance(75) ? $this->secrets[0] : self::pick($this->secrets);
    }

    /** The secret signedRequest() signs with (base64url). */
    public function signingSecret(): string
    {
        return $this->secrets[0];
    }

    /**
     * `r` (from signedRequest) with `expires` set to `created + delta` and the
     * signature recomputed, as a signer choosing its own validity would.
     *
     * @param array<string, mixed> $r
     * @return array<string, mixed>
     */
    public function withExpires(array $r, int $delta): array
    {
        foreach ($r['headers'] as $i => [$k, $v]) {
            if ($k === 'signature-input' && preg_match('/;created=(\d+);expires=\d+;/', $v, $m) === 1) {
                $input = str_replace($m[0], ';created=' . $m[1] . ';expires=' . ((int) $m[1] + $delta) . ';', $v);
                $req = new \Tessera\Pure\Internal\Request($r['method'], $r['url'], $r['headers'], hex2bin($r['body']));
                [, $sig] = \Tessera\Pure\Internal\Signature::hmacSignGeneric($req, $input, Secret::fromBase64url($this->secrets[0])->expose());
                $r['headers'][$i][1] = $input;
                foreach ($r['headers'] as $j => [$k2]) {
                    if ($k2 === 'signature') {
                        $r['headers'][$j][1] = $sig;
                    }
                }
            }
        }
        return $r;
    }

    /** A signed request (as arrays) and the time it was signed at. */
    public function signedRequest(): array
    {
        $secret = Secret::fromBase64url($this->secrets[0]);
        $keyid = self::chance(85) ? 'ins_O9w3RAV1LOPU_4UYwjMgeg' : 'ins_other';
        $method = self::pick(['GET', 'POST', 'put', 'DELETE', 'PATCH']);
        $url = Url::parse(self::pick(['https://broker.example', 'https://B.example:8443/t/', 'http://127.0.0.1:8080']), 'u')
            ->appendPath(self::pick(['/api/orders?limit=3', '/api/x', '/api/q?a=%2f&b', '/disconnect']), 'p');
        $headers = [];
        if (self::chance(40)) {
            $headers[] = ['Content-Type', self::pick(['application/json', ' text/plain ', 'a/b; charset=utf-8'])];
        }
        if (self::chance(20)) {
            $headers[] = ['X-Extra', 'v'];
        }
        if (self::chance(15)) {
            $headers[] = ['idempotency-key', 'caller-key-1'];
        }
        $body = self::pick(['', '{}', '{"a":1}', self::bytes(mt_rand(0, 50))]);
        $now = self::chance(70) ? 1_700_000_000 : 1_700_000_000 + mt_rand(-400, 400);
        $token = self::chance(50) ? \Tessera\Pure\Internal\BrokerToken::new('btk_' . Encoding::b64urlEncode(self::bytes(8))) : null;
        $entropy = new SeededEntropy(hash('sha256', (string) mt_rand(), true));
        $req = Sign::sign($secret, $keyid, $method, $url, $headers, $body, $token, new SignOptions($now), $entropy);
        return [['method' => $req->method, 'url' => $req->url, 'headers' => $req->headers, 'body' => bin2hex($req->body)], $now];
    }

    /**
     * @param array<string, mixed> $r
     * @return array<string, mixed>
     */
    public function mutateRequest(array $r): array
    {
        $h = $r['headers'];
        switch (mt_rand(0, 12)) {
            case 0:
                if ($h !== []) {
                    array_splice($h, mt_rand(0, \count($h) - 1), 1);
                }
                break;
            case 1:
                $i = mt_rand(0, \count($h) - 1);
                $h[$i][0] = strtoupper($h[$i][0]);
                break;
            case 2:
                $i = mt_rand(0, \count($h) - 1);
                $h[$i][1] = self::pick([' ', "\u{a0}", "\t", "\u{3000}"]) . $h[$i][1] . self::pick([' ', "\u{2028}", '']);
                break;
            case 3:
                $i = mt_rand(0, \count($h) - 1);
                $h[] = $h[$i];
                break;
            case 4:
                $i = mt_rand(0, \count($h) - 1);
                $h[$i][1] = self::mutate($h[$i][1]);
                break;
            case 5:
                $r['body'] = bin2hex(self::bytes(3));
                break;
            case 6:
                $r['url'] = self::mutate($r['url']);
                break;
            case 7:
                $r['method'] = self::pick(['get', 'POST', 'G E T', '', 'HEAD']);
                break;
            case 8:
                $h[] = [self::pick(['signature', 'signature-input', 'content-digest', 'authorization', 'content-type',
                    'idempotency-key']), self::pick(['x', 'tessera=:' . base64_encode(self::bytes(32)) . ':', 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:', 'Bearer zz'])];
                break;
            case 9:
                foreach ($h as $i => [$k, $v]) {
                    if ($k === 'signature-input') {
                        $h[$i][1] = self::pick([self::mutate($v), 'other=(), ' . $v, $v . ', other=()', str_replace('tessera=', 'x=', $v),
                            str_replace(';tag="tessera-v1"', '', $v), str_replace('expires=', 'expires=1', $v),
                            str_replace('"hmac-sha256"', '"hmac-sha512"', $v), str_replace('"@query" ', '', $v),
                            str_replace(');', ' "date");', $v), str_replace(');', ');foo=1;', $v)]);
                    }
                }
                break;
            case 10:
                foreach ($h as $i => [$k, $v]) {
                    if ($k === 'signature') {
                        $h[$i][1] = self::pick([self::mutate($v), 'tessera=:' . base64_encode(self::bytes(31)) . ':', 'tessera=()',
                            'tessera=?1', 'x=:aGk=:', $v . ', x=:aGk=:', 'tessera=:' . base64_encode(self::bytes(32)) . ':;p=1', '']);
                    }
                }
                break;
            case 11:
                foreach ($h as $i => [$k, $v]) {
                    if ($k === 'content-digest') {
                        $h[$i][1] = self::pick(['sha-512=:aGk=:, ' . $v, $v . ', sha-512=:aGk=:', 'sha-256=1', 'sha-256=()',
                            'sha-256=:aGk=:', self::mutate($v), 'sha-256=:' . base64_encode(hash('sha256', '', true)) . ':']);
                    }
                }
                break;
            default:
                break;
        }
        $r['headers'] = array_values($h);
        return $r;
    }

    /** A connect URL (often valid) for `connect`; `$ret` the return URL, else a picked one. */
    public function connectUrl(int $now, ?string $ret = null): string
    {
        $secret = Secret::fromBase64url($this->secrets[0]);
        $ts = (string) ($now + self::pick([0, -601, 301, -10, 299]));
        $scope = self::chance(50) ? self::pick(['orders:read', 'a b', '', 'é']) : null;
        $ret ??= self::pick(['https://s.example/cb', 'chrome-extension://abcdef/options.html', 'https://s.example/cb?state=1',
            'https://x#f', 'ftp://s.example/', 'https://s.example/cb?a=%2F&b', 'https://evil.example\\@shop.example/',
            'moz-extension://0b1c-2d3e/c.html?x=1', 'https://s.example:99999/cb', '1http://x']);
        $pairs = Connect::connectPairs('ins_O9w3RAV1LOPU_4UYwjMgeg', 'st-' . mt_rand(0, 99), $ret, $scope, $ts);
        $sig = Connect::linkSignature($secret, Connect::CONNECT_CONTEXT, $pairs);
        $pairs[] = ['sig', $sig];
        if (self::chance(10)) {
            $pairs[] = self::pick([['extra', '1'], ['sig', 'x'], ['ts', $ts]]);
        }
        if (self::chance(10)) {
            array_splice($pairs, mt_rand(0, \count($pairs) - 1), 1);
        }
        $q = implode('&', array_map(fn ($p) => $p[0] . '=' . rawurlencode($p[1]), $pairs));
        $url = self::pick(['https://broker.example/connect?', '?', '', 'https://broker.example/connect?', 'https://b.example/connect?x#']) . $q;
        return self::chance(10) ? self::mutate($url) : $url;
    }

    /** An uninstall ticket URL or query for `ins_O9w3RAV1LOPU_4UYwjMgeg`. */
    public function ticket(int $now): string
    {
        $secret = Secret::fromBase64url($this->secrets[0]);
        $ts = (string) ($now - self::pick([0, 10, 2_592_000, 2_592_001, -301, -300]));
        if (self::chance(5)) {
            $ts = '0' . $ts;
        }
        $sig = Connect::linkSignature($secret, Connect::UNINSTALL_CONTEXT, [['install_id', 'ins_O9w3RAV1LOPU_4UYwjMgeg'], ['ts', ltrim($ts, '0')]]);
        $q = self::chance(50) ? "ts={$ts}&sig={$sig}" : self::pick(["ts={$ts}&sig={$sig}", "sig={$sig}&ts={$ts}", "ts={$ts}", "sig={$sig}", "ts={$ts}&sig={$sig}&ts=1",
            "ts=abc&sig={$sig}", "ts={$ts}&sig=%zz"]);
        $url = self::pick(['https://b.example/installations/ins_O9w3RAV1LOPU_4UYwjMgeg/uninstall?', '?', '', '?', 'https://b.example/x']) . $q;
        return self::chance(15) ? self::mutate($url) : $url;
    }

    public function proofCase(): array
    {
        $secret = $this->secret();
        $challenge = self::pick(['challenge-0123456789', 'short', 'c-' . bin2hex(self::bytes(10))]);
        $id = self::pick(['ins_x', 'ins_y']);
        $proof = Registration::ownershipProof(Secret::fromBase64url($this->secrets[0]), 'ins_x', $challenge);
        $proof = self::pick([$proof, " {$proof}\n", "\u{a0}{$proof}\u{3000}", self::mutate($proof), '']);
        return ['secret' => $secret, 'install_id' => $id, 'challenge' => $challenge, 'proof' => $proof];
    }

    public function classifyCase(): array
    {
        $status = self::pick([200, 204, 299, 300, 302, 307, 399, 400, 401, 403, 404, 408, 409, 422, 429, 499, 500, 503, 599, 600, 199, 100, 0, 65535]);
        $headers = [];
        if (self::chance(50)) {
            $headers[] = [self::pick(['Date', 'date', 'DATE']), $this->date()];
        }
        if (self::chance(60)) {
            $headers[] = [self::pick(['Retry-After', 'retry-after']), self::pick([$this->date(), '3', '0', ' 7 ', '9999999999',
                '99999999999', '-1', 'soon', '', '86401'])];
        }
        if (self::chance(10)) {
            $headers[] = ['retry-after', '1'];
        }
        if (self::chance(40)) {
            $headers[] = [self::pick(['RateLimit-Reset', 'ratelimit-reset']), self::pick(['1700000009', '999999999', '1000000000', '4', '0',
                ' 1700000060 ', '-4', '', '999999999999', '9999999999999', '1e9', (string) \PHP_INT_MAX])];
        }
        if (self::chance(40)) {
            $headers[] = [self::pick(['Tessera-Origin', 'tessera-origin']), self::pick(['stora', 'STORA', ' Stora ', 'broker', 'stora-x', '', "stora\u{a0}"])];
        }
        $body = self::pick(['', '{"error":{"code":"api_error","request_id":"req_1"}}', '{"error":{"code":"conflict","request_id":"req_<b>"}}',
            '{"error":{"request_id":"x"},"code":"top"}', '{"error":{"code":7,"request_id":null}}', '{"error":{"code":"a","code":"b"}}',
            '{"error":{"code":"internal_server_error","type":"api_error","message":"m","details":[],"links":[],"request_id":"req_0123"}}',
            '{"error":{"code":"stora_reconnect_required"}}', '{"error":{}}', '{"error":[]}', '{"error":{"request_id":"' . "\u{1F600}" . '"}}',
            '{"error":"stora_reconnect_required"}', '{"error":"broker_token_invalid"}',
            '{"code":"installation_disabled","type":"about:blank"}', '{"error":"signature_invalid"}', '{"error":"unknown_installation"}',
            '{"error":"signature_expired"}', '{"error":1,"code":"x"}', '{"error":"a","error":"b","code":"c"}', 'not json',
            '{"error":"access_denied<script>"}', '{"error":"' . "\u{1F600}" . '"}', '{"error":"' . str_repeat('a', 70) . '"}',
            '[]', '{"error":null}', $this->jsonDoc()]);
        return ['status' => $status, 'headers' => $headers, 'body' => bin2hex($body),
            'now' => self::pick([0, 784_111_770, 1_700_000_000, \PHP_INT_MIN, \PHP_INT_MAX, -1])];
    }

    public function genericCase(): array
    {
        $components = [];
        $n = mt_rand(0, 5);
        for ($i = 0; $i < $n; $i++) {
            $components[] = '"' . self::pick(['@method', '@authority', '@path', '@query', '@scheme', '@request-target',
                '@target-uri', '@status', 'date', 'content-type', 'Content-Type', 'x-multi', 'missing', '']) . '"'
                . (self::chance(10) ? ';req' : '');
        }
        $input = self::pick(['sig', 'sig-b25', 'a']) . '=(' . implode(' ', $components) . ')'
            . self::pick([';created=1618884473;keyid="test-shared-secret"', '', ';alg="hmac-sha256"', ';x=?0;y=:aGk=:;z=1.50']);
        if (self::chance(10)) {
            $input = self::pick(['sig=?1', 'a=(), b=()', '', 'sig=("date"']);
        }
        if (self::chance(10)) {
            $input = self::mutate($input);
        }
        $headers = [['Date', 'Tue, 20 Apr 2021 02:07:55 GMT'], ['Content-Type', self::pick(['application/json', " a/b \u{a0}", "a\nb"])],
            ['x-multi', 'one'], ['X-Multi', ' two ']];
        return ['method' => self::pick(['POST', 'get', 'G1']), 'url' => self::pick(['https://example.com/foo?param=Value&Pet=dog',
            'http://EXAMPLE.com:80/', $this->url()]), 'headers' => $headers, 'input' => $input,
            'key' => bin2hex(self::bytes(mt_rand(0, 70)))];
    }
}

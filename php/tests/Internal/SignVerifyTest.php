<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\BrokerToken;
use Tessera\Pure\Internal\Clock;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\Encoding;
use Tessera\Pure\Internal\MemoryReplayStore;
use Tessera\Pure\Internal\MessageView;
use Tessera\Pure\Internal\Refusal;
use Tessera\Pure\Internal\Request;
use Tessera\Pure\Internal\Secret;
use Tessera\Pure\Internal\SeededEntropy;
use Tessera\Pure\Internal\Sfv;
use Tessera\Pure\Internal\SfvBareItem;
use Tessera\Pure\Internal\SfvInnerList;
use Tessera\Pure\Internal\SfvItem;
use Tessera\Pure\Internal\Sign;
use Tessera\Pure\Internal\Signature;
use Tessera\Pure\Internal\SignOptions;
use Tessera\Pure\Internal\Url;
use Tessera\Pure\Internal\Verifier;

/**
 * Ports of core/src/signature.rs, sign.rs and verify.rs tests; the shared
 * vectors rfc9421.json, verify.json and the signing part of signing.json.
 */
final class SignVerifyTest extends Support
{
    private static function seeded(int $byte = 0): SeededEntropy
    {
        return new SeededEntropy(str_repeat(\chr($byte), 32));
    }

    public function testRfc9421B25(): void
    {
        $key = Encoding::b64Decode('uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==');
        self::assertNotNull($key);
        $headers = [['Host', 'example.com'], ['Date', 'Tue, 20 Apr 2021 02:07:55 GMT'], ['Content-Type', 'application/json'],
            ['Content-Digest', 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:'],
            ['Content-Length', '18']];
        $msg = new MessageView('POST', 'https', 'example.com', '/foo', 'param=Value&Pet=dog', $headers);
        $params = Sfv::parseDictionary('sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"')[0][1];
        self::assertInstanceOf(SfvInnerList::class, $params);
        $base = Signature::signatureBase($msg, $params);
        self::assertSame("\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\"@authority\": example.com\n\"content-type\": application/json\n"
            . '"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"', $base);
        self::assertSame('pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=', base64_encode(Signature::hmacSha256($key, $base)));
    }

    public function testRfc9421Vectors(): void
    {
        foreach (self::vectors('rfc9421') as $c) {
            $r = $c['request'];
            [$base, $sig] = Signature::hmacSignGeneric(
                new Request($r['method'], $r['url'], self::pairs($r['headers']), $r['body']),
                $c['signatureInput'],
                (string) Encoding::b64Decode($c['keyBase64']),
            );
            self::assertSame($c['expected']['signatureBase'], $base, $c['name']);
            self::assertSame($c['expected']['signature'], $sig, $c['name']);
        }
    }

    public function testComponentValues(): void
    {
        $m = new MessageView('GET', 'https', 'a.example:8443', '/p', 'x=1', [['X-A', ' 1 '], ['x-a', "\u{a0}2"], ['B', "a\u{2028}"]]);
        self::assertSame('?x=1', $m->componentValue('@query'));
        self::assertSame('/p?x=1', $m->componentValue('@request-target'));
        self::assertSame('https://a.example:8443/p?x=1', $m->componentValue('@target-uri'));
        self::assertSame('https', $m->componentValue('@scheme'));
        self::assertSame('1, 2', $m->componentValue('x-a'));
        self::assertSame('a', $m->componentValue('b'));
        $n = new MessageView('GET', 'http', 'h', '/', null, [['y', "a\nb"]]);
        self::assertSame('?', $n->componentValue('@query'));
        self::assertSame('/', $n->componentValue('@request-target'));
        self::assertCoreError('signature_malformed', fn () => $n->componentValue('@status'), 'the signature is malformed: unsupported derived component');
        self::assertCoreError('signature_malformed', fn () => $n->componentValue('Y'), 'the signature is malformed: component names must be lowercase');
        self::assertCoreError('signature_malformed', fn () => $n->componentValue('y'), 'the signature is malformed: header value has a line break');
        self::assertCoreError('signature_malformed', fn () => $n->componentValue('z'), 'the signature is malformed: a covered header is missing');
    }

    public function testEmptyBodyDigest(): void
    {
        self::assertSame('sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:', Signature::contentDigest(''));
    }

    public function testRejectsComponentParamsAndDuplicates(): void
    {
        $withParam = new SfvInnerList([new SfvItem(SfvBareItem::string('@method'), [['req', SfvBareItem::boolean(true)]])]);
        self::assertCoreError('signature_malformed', fn () => Signature::coveredComponents($withParam), 'the signature is malformed: component parameters are not supported');
        $dup = new SfvInnerList([new SfvItem(SfvBareItem::string('@method')), new SfvItem(SfvBareItem::string('@method'))]);
        self::assertCoreError('signature_malformed', fn () => Signature::coveredComponents($dup), 'the signature is malformed: a component is covered twice');
        $token = new SfvInnerList([new SfvItem(SfvBareItem::token('x'))]);
        self::assertCoreError('signature_malformed', fn () => Signature::coveredComponents($token), 'the signature is malformed: component identifiers must be strings');
        $req = new Request('GET', 'https://a.example/', [], '');
        self::assertCoreError('signature_malformed', fn () => Signature::hmacSignGeneric($req, 'a=(), b=()', 'k'), 'the signature is malformed: expected exactly one inner-list member');
        self::assertCoreError('signature_malformed', fn () => Signature::hmacSignGeneric($req, 'a=1', 'k'));
        self::assertCoreError('invalid_url', fn () => Signature::hmacSignGeneric(new Request('GET', 'nope', [], ''), 'A', 'k'));
        self::assertCoreError('invalid_input', fn () => Signature::hmacSignGeneric(new Request('G T', 'https://a.example', [], ''), 'a=()', 'k'));
    }

    public function testUuidShape(): void
    {
        self::assertSame('ffffffff-ffff-4fff-bfff-ffffffffffff', Sign::uuidV4(str_repeat("\xff", 16)));
        self::assertSame('00000000-0000-4000-8000-000000000000', Sign::uuidV4(str_repeat("\x00", 16)));
        self::assertTrue(Sign::isIdempotent('PUT'));
        self::assertFalse(Sign::isIdempotent('get'));
        self::assertFalse(Sign::isIdempotent('POST'));
        self::assertTrue(Sign::isProfileToken(str_repeat('a', 128)));
        self::assertFalse(Sign::isProfileToken(str_repeat('a', 129)));
        self::assertFalse(Sign::isProfileToken(''));
        self::assertFalse(Sign::isProfileToken('a b'));
    }

    public function testSignsGetWithCanonicalFields(): void
    {
        $secret = Secret::fromBytes(str_repeat("\x01", 32));
        $url = Url::parse('https://broker.example/api/orders?limit=3', 'url');
        $req = Sign::sign($secret, 'ins_abc', 'get', $url, [], '', null, new SignOptions(1_700_000_000, 'n0nce'), self::seeded());
        self::assertSame('GET', $req->method);
        self::assertSame('tessera=("@method" "@authority" "@path" "@query" "content-digest");created=1700000000;expires=1700000300;'
            . 'nonce="n0nce";alg="hmac-sha256";keyid="ins_abc";tag="tessera-v1"', $req->header('signature-input'));
        self::assertNull($req->header('idempotency-key'));
        self::assertSame('sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:', $req->header('content-digest'));
    }

    public function testPostGetsIdempotencyKeyAndRejectsBadNonce(): void
    {
        $secret = Secret::fromBytes(str_repeat("\x01", 32));
        $url = Url::parse('https://broker.example/api/x', 'url');
        $req = Sign::sign($secret, 'ins_abc', 'POST', $url, [], '{}', null, new SignOptions(1), self::seeded());
        self::assertSame(36, \strlen((string) $req->header('idempotency-key')));
        self::assertSame('application/octet-stream', $req->header('content-type'));
        self::assertCoreError('invalid_input', fn () => Sign::sign($secret, 'ins_abc', 'POST', $url, [], '', null, new SignOptions(1, 'a b'), self::seeded()),
            'invalid `nonce`: must be 1-128 characters of [A-Za-z0-9._~-]');
        self::assertCoreError('invalid_input', fn () => Sign::sign($secret, 'ins_abc', 'POST', $url, [], '', null, new SignOptions(1, null, 'a b'), self::seeded()),
            'invalid `idempotency_key`: must be 1-128 characters of [A-Za-z0-9._~-]');
        self::assertCoreError('invalid_input', fn () => Sign::sign($secret, 'ins abc', 'GET', $url, [], '', null, new SignOptions(1), self::seeded()),
            'invalid `keyid`: must be [A-Za-z0-9._~-]');
        self::assertCoreError('invalid_input', fn () => Sign::sign($secret, 'ins_abc', 'GET', $url, [], '', null, new SignOptions(-1), self::seeded()),
            'invalid `now`: must be unix seconds from 1970 to 9999');
        // Signer-owned headers are replaced; the caller's idempotency key and content type are used and covered.
        $req = Sign::sign($secret, 'ins_abc', 'patch', $url, [['Authorization', 'x'], ['Signature', 'y'], ['Idempotency-Key', 'k-1'],
            ['X-Other', ' v '], ['Content-Type', 'text/plain']], 'b', BrokerToken::new('btk_1'), new SignOptions(5, 'n'), self::seeded());
        self::assertSame([['content-type', 'text/plain'], ['content-digest', Signature::contentDigest('b')], ['authorization', 'Bearer btk_1'],
            ['idempotency-key', 'k-1'], ['x-other', 'v']], \array_slice($req->headers, 0, 5));
        self::assertStringStartsWith('tessera=("@method" "@authority" "@path" "@query" "content-type" "content-digest" "authorization" "idempotency-key");created=5;expires=305;', (string) $req->header('signature-input'));
    }

    public function testSignsLikeTheSigningVectors(): void
    {
        $checked = 0;
        foreach (self::vectors('signing') as $c) {
            $state = json_decode($c['state'], true);
            $inst = $state['installation'] ?? null;
            if ($inst === null || $state['site_mismatch'] !== null) {
                continue; // companion-level refusals (not_registered, site_mismatch): the upper layer's
            }
            $o = $c['options'];
            $r = $c['request'];
            $got = null;
            try {
                $url = Url::parse($state['config']['broker_url'], 'broker_url')->appendPath($r['path'], 'path');
                $now = Clock::corrected($o['now'], $state['clock_offset']);
                $token = $state['broker_token'] === null ? null : BrokerToken::new($state['broker_token']);
                $req = Sign::sign(Secret::fromBase64url($inst['secret']), $inst['id'], $r['method'], $url, self::pairs($r['headers']),
                    $r['body'], $token, new SignOptions($now, $o['nonce'], $o['idempotencyKey']), self::seeded());
                $headers = [];
                foreach ($req->headers as [$k, $v]) {
                    $headers[$k] = $v;
                }
                $got = ['method' => $req->method, 'url' => $req->url, 'headers' => $headers, 'body' => $req->body];
            } catch (CoreError $e) {
                $got = ['error' => $e->code()];
            }
            self::assertSame($c['expected'], $got, $c['name']);
            $checked++;
        }
        self::assertGreaterThanOrEqual(17, $checked);
    }

    public function testVerifyVectorsInOrderWithOneReplayStore(): void
    {
        foreach (self::vectors('verify') as $c) {
            // 64 live nonces per installation, as in every runner (tests/vectors/README.md).
            $store = new MemoryReplayStore(64);
            $verifier = new Verifier();
            $secrets = $c['secrets'];
            $got = [];
            foreach ($c['requests'] as $r) {
                try {
                    // The three steps, each failure a Refusal with its wire answer.
                    $pending = $verifier->begin(new Request($r['method'], $r['url'], self::pairs($r['headers']), $r['body']), $c['now']);
                    $k = $pending->keyid();
                    $v = $pending->check(isset($secrets[$k]) ? Secret::fromBase64url($secrets[$k]) : null)->recordIn($store);
                    $got[] = ['installId' => $v->installId, 'nonce' => $v->nonce, 'created' => $v->created];
                } catch (Refusal $e) {
                    $got[] = ['error' => $e->error()->code(), 'answer' => self::answer($e)];
                }
            }
            self::assertSame($c['expected'], $got, $c['name']);
        }
    }

    /**
     * A refusal's wire answer as the vectors write it (headers an ordered object).
     *
     * @return array{status: int, code: string, headers: array<string, string>, body: string}
     */
    public static function answer(Refusal $r): array
    {
        $headers = [];
        foreach ($r->headers() as [$k, $v]) {
            $headers[$k] = $v;
        }
        return ['status' => $r->status(), 'code' => $r->code(), 'headers' => $headers, 'body' => $r->body()];
    }

    public function testSignThenVerifyRoundTrip(): void
    {
        $secret = Secret::fromBytes(str_repeat("\x07", 32));
        $url = Url::parse('https://b.example/t', 'u')->appendPath('/api/x?b=2&a=1', 'p');
        $req = Sign::sign($secret, 'ins_1', 'POST', $url, [['content-type', 'application/json']], '{"a":1}', BrokerToken::new('btk_x'),
            new SignOptions(1_700_000_000), self::seeded(3));
        $store = new MemoryReplayStore();
        $v = (new Verifier())->verify($req, 1_700_000_100, fn () => $secret, $store);
        self::assertSame('ins_1', $v->installId);
        self::assertSame('btk_x', $v->bearer);
        self::assertSame(1_700_000_300, $v->expires);
        self::assertSame($req->header('idempotency-key'), $v->idempotencyKey);
        self::assertSame(1, $store->len());
        self::assertCoreError('replayed', fn () => (new Verifier())->verify($req, 1_700_000_100, fn () => $secret, $store));
        self::assertCoreError('invalid_input', fn () => (new Verifier(86_401))->verify($req, 1, fn () => $secret, $store), 'invalid `window_secs`: must be 0 to 86400 seconds');
        self::assertCoreError('signature_expired', fn () => (new Verifier(0))->verify($req, 1_700_000_001, fn () => $secret, new MemoryReplayStore()));
        self::assertCoreError('unknown_installation', fn () => (new Verifier())->verify($req, 1_700_000_000, fn () => null, new MemoryReplayStore()));
        $other = Secret::fromBytes(str_repeat("\x08", 32));
        $fresh = new MemoryReplayStore();
        self::assertCoreError('signature_invalid', fn () => (new Verifier())->verify($req, 1_700_000_000, fn () => $other, $fresh));
        self::assertTrue($fresh->isEmpty(), 'a forged request burns no nonce');
        $big = new Request('GET', 'https://b.example/', [], str_repeat('a', (1 << 20) + 1));
        self::assertCoreError('too_large', fn () => (new Verifier())->verify($big, 1, fn () => null, new MemoryReplayStore()));
    }

    public function testReplayStoreExpiresAndBounds(): void
    {
        $s = new MemoryReplayStore(2);
        $s->checkAndInsert('i:a', 10, 0);
        self::assertCoreError('replayed', fn () => $s->checkAndInsert('i:a', 10, 5), 'the request was already seen (replay)');
        $s->checkAndInsert('i:b', 20, 5);
        self::assertCoreError('replay_store_full', fn () => $s->checkAndInsert('i:c', 20, 5), 'the replay store is full');
        // "a" expires at 10: still live at 10, gone at 11.
        self::assertCoreError('replayed', fn () => $s->checkAndInsert('i:a', 10, 10));
        self::assertCoreError('replay_store_full', fn () => $s->checkAndInsert('i:c', 20, 10));
        $s->checkAndInsert('i:c', 20, 11);
        self::assertSame(2, $s->len());
        $s->checkAndInsert('i:a', 30, 21);
        self::assertSame(1, (new class () {
            public function len(): int
            {
                $m = new MemoryReplayStore(0);
                $m->checkAndInsert('1', 5, 0);
                return $m->len();
            }
        })->len());
    }

    public function testReplayStoreIsBoundedPerInstallation(): void
    {
        $s = new MemoryReplayStore(3);
        for ($n = 0; $n < 3; $n++) {
            $s->checkAndInsert("flood:{$n}", 100, 0);
        }
        // The flooder's share is full: it alone is refused...
        self::assertCoreError('replay_store_full', fn () => $s->checkAndInsert('flood:x', 100, 1));
        self::assertSame(3, $s->lenFor('flood'));
        // ...every other installation keeps its whole share.
        foreach (['a', 'b', 'c'] as $other) {
            for ($n = 0; $n < 3; $n++) {
                $s->checkAndInsert("{$other}:{$n}", 50, 1);
            }
            self::assertCoreError('replay_store_full', fn () => $s->checkAndInsert("{$other}:x", 50, 1));
        }
        self::assertSame(12, $s->len());
        // A replay is still `replayed`, even with the share full.
        self::assertCoreError('replayed', fn () => $s->checkAndInsert('flood:0', 100, 1));
        // Expiry gives an installation its share back (and forgets it).
        $s->checkAndInsert('a:y', 60, 51);
        self::assertSame([1, 0, 3], [$s->lenFor('a'), $s->lenFor('b'), $s->lenFor('flood')]);
        $counts = (fn () => $this->counts)->call($s);
        self::assertArrayNotHasKey('b', $counts, 'an installation with no live nonce is forgotten');
        self::assertCoreError('replay_store_full', fn () => $s->checkAndInsert('flood:x', 100, 51));
        $s->checkAndInsert('flood:x', 200, 101);
        // A key without `:` belongs to the installation "".
        self::assertSame('', MemoryReplayStore::installationOf('nocolon'));
        self::assertSame('ins_1', MemoryReplayStore::installationOf('ins_1:n:x'));
        // Numeric install ids (PHP array keys become ints) count the same.
        $num = new MemoryReplayStore(1);
        $num->checkAndInsert('123:a', 5, 0);
        self::assertSame(1, $num->lenFor('123'));
        self::assertCoreError('replay_store_full', fn () => $num->checkAndInsert('123:b', 5, 0));
        $num->checkAndInsert('123:b', 9, 6);
        // At least one per installation.
        $one = new MemoryReplayStore(0);
        $one->checkAndInsert('a:1', 5, 0);
        self::assertCoreError('replay_store_full', fn () => $one->checkAndInsert('a:2', 5, 0));
        $one->checkAndInsert('b:1', 5, 0);
        $default = (fn () => $this->perInstallation)->call(new MemoryReplayStore());
        self::assertSame(MemoryReplayStore::DEFAULT_PER_INSTALLATION, $default);
        self::assertSame(1_000, $default);
    }

    private const NOW = 1_700_000_000;

    /** A request signed for the profile, with `expires` = `created + delta`. */
    private static function signedWith(string $keyid, string $nonce, int $created, int $delta): Request
    {
        $headers = [['content-digest', Signature::contentDigest('')]];
        $req = new Request('GET', 'https://broker.example/api/orders', $headers, '');
        $input = 'tessera=("@method" "@authority" "@path" "@query" "content-digest");created=' . $created . ';expires='
            . ($created + $delta) . ';nonce="' . $nonce . '";alg="hmac-sha256";keyid="' . $keyid . '";tag="tessera-v1"';
        [, $sig] = Signature::hmacSignGeneric($req, $input, str_repeat("\x07", 32));
        return new Request('GET', $req->url, [...$headers, ['signature-input', $input], ['signature', $sig]], '');
    }

    private static function verifyWith(Request $req, int $now, MemoryReplayStore $store, ?Verifier $v = null): \Tessera\Pure\Internal\Verified
    {
        return ($v ?? new Verifier())->verify($req, $now, fn () => Secret::fromBytes(str_repeat("\x07", 32)), $store);
    }

    public function testExpiresIsExactlyCreatedPlus300(): void
    {
        $store = new MemoryReplayStore(10);
        foreach ([3600, 301, 299, 1, 0, -1] as $delta) {
            $req = self::signedWith('ins_a', "n{$delta}", self::NOW, $delta);
            self::assertCoreError('signature_invalid', fn () => self::verifyWith($req, self::NOW, $store), null, "expires = created + {$delta}");
        }
        self::assertTrue($store->isEmpty(), 'a refused signature stores no nonce');
        // Decided before the MAC: even without a secret.
        $long = self::signedWith('ins_a', 'n', self::NOW, 3600);
        self::assertCoreError('signature_invalid', fn () => (new Verifier())->verify($long, self::NOW, fn () => null, $store));
        self::assertSame(self::NOW + 300, self::verifyWith(self::signedWith('ins_a', 'ok', self::NOW, 300), self::NOW, $store)->expires);
    }

    public function testANonceIsKeptUntilExpiresAndNoLonger(): void
    {
        // With a wide window the request still stops verifying at `expires`,
        // so the store keeps the nonce exactly that long.
        $wide = new Verifier(3600);
        $store = new MemoryReplayStore(1);
        $req = self::signedWith('ins_a', 'n1', self::NOW, 300);
        self::verifyWith($req, self::NOW, $store, $wide);
        self::assertCoreError('replayed', fn () => self::verifyWith($req, self::NOW + 300, $store, $wide));
        self::assertCoreError('signature_expired', fn () => self::verifyWith($req, self::NOW + 301, $store, $wide));
        // Gone at expires + 1: the installation's share is free again.
        self::verifyWith(self::signedWith('ins_a', 'n2', self::NOW + 301, 300), self::NOW + 301, $store, $wide);
    }

    public function testAFloodFromOneInstallationLeavesTheOthersAlone(): void
    {
        $store = new MemoryReplayStore(5);
        for ($n = 0; $n < 5; $n++) {
            self::verifyWith(self::signedWith('ins_flood', "n{$n}", self::NOW, 300), self::NOW, $store);
        }
        self::assertCoreError('replay_store_full', fn () => self::verifyWith(self::signedWith('ins_flood', 'n5', self::NOW, 300), self::NOW, $store));
        for ($n = 0; $n < 5; $n++) {
            self::verifyWith(self::signedWith('ins_other', "n{$n}", self::NOW, 300), self::NOW, $store);
        }
        self::assertSame([5, 5], [$store->lenFor('ins_flood'), $store->lenFor('ins_other')]);
    }
}

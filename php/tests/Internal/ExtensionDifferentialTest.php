<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\Classify;
use Tessera\Pure\Internal\Connect;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\MemoryReplayStore;
use Tessera\Pure\Internal\Registration;
use Tessera\Pure\Internal\Request;
use Tessera\Pure\Internal\Response;
use Tessera\Pure\Internal\Secret;
use Tessera\Pure\Internal\Signature;
use Tessera\Pure\Internal\Verifier;
use Tessera\Pure\Internal\VerifyLinks;

/**
 * A small in-process differential against the native extension (skipped
 * when `tessera.so` is not loaded): generated classify, generic-signing,
 * verify (one replay store per sequence), connect-URL, uninstall-ticket and
 * ownership-proof inputs go through both; results, error codes and messages
 * must be identical.
 *
 *   php -d extension=$PWD/target/php/tessera.so /usr/bin/phpunit -c php/phpunit-internal.xml
 */
final class ExtensionDifferentialTest extends Support
{
    /** Cases per test; `TESSERA_DIFF_ROUNDS` raises it for a longer run. */
    private int $rounds = 400;

    protected function setUp(): void
    {
        if (!\extension_loaded('tessera')) {
            self::markTestSkipped('the tessera extension is not loaded');
        }
        $this->rounds = max(1, (int) (getenv('TESSERA_DIFF_ROUNDS') ?: 400));
        mt_srand(crc32($this->getName()) + (int) getenv('TESSERA_DIFF_SEED'));
    }

    /**
     * Pairs as the extension's header array (same-named lines grouped into a
     * list) and back, so both sides see exactly the same header lines.
     *
     * @param list<array{0: string, 1: string}> $pairs
     * @return array{0: array<string, string|list<string>>, 1: list<array{0: string, 1: string}>}
     */
    private static function headers(array $pairs): array
    {
        $assoc = [];
        foreach ($pairs as [$k, $v]) {
            $assoc[$k][] = $v;
        }
        $ext = array_map(fn (array $vs) => \count($vs) === 1 ? $vs[0] : $vs, $assoc);
        return [$ext, Support::pairs($ext)];
    }

    /**
     * @return array{error: string, message: string}|mixed
     */
    private static function ext(callable $fn): mixed
    {
        try {
            return $fn();
        } catch (\Tessera\Exception\TesseraException $e) {
            return ['error' => $e->getErrorCode(), 'message' => $e->getMessage()];
        }
    }

    private static function pure(callable $fn): mixed
    {
        try {
            return $fn();
        } catch (CoreError $e) {
            return ['error' => $e->code(), 'message' => $e->getMessage()];
        }
    }

    /** @param array<string, mixed> $in */
    private static function same(mixed $ext, mixed $pure, array $in): void
    {
        self::assertSame($ext, $pure, json_encode($in, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE) ?: '');
    }

    public function testClassify(): void
    {
        $g = new OracleGen();
        for ($i = 0; $i < $this->rounds; $i++) {
            $c = $g->classifyCase();
            [$ext, $pairs] = self::headers($c['headers']);
            $body = hex2bin($c['body']);
            $e = self::ext(fn () => \Tessera\Companion::classify(['status' => $c['status'], 'headers' => $ext, 'body' => $body], $c['now']));
            $o = Classify::classify(new Response($c['status'], $pairs, $body), $c['now']);
            self::same($e, \Tessera\Pure\Internal\Convert::outcomeToPhp($o), $c);
        }
    }

    public function testHmacSignGeneric(): void
    {
        $g = new OracleGen();
        for ($i = 0; $i < $this->rounds; $i++) {
            $c = $g->genericCase();
            [$ext, $pairs] = self::headers($c['headers']);
            $key = hex2bin($c['key']);
            $e = self::ext(fn () => \Tessera\Verifier::hmacSignGeneric(['method' => $c['method'], 'url' => $c['url'], 'headers' => $ext, 'body' => ''], $c['input'], $key));
            $p = self::pure(function () use ($c, $pairs, $key) {
                [$base, $sig] = Signature::hmacSignGeneric(new Request($c['method'], $c['url'], $pairs, ''), $c['input'], $key);
                return ['signature_base' => $base, 'signature' => $sig];
            });
            self::same($e, $p, $c);
        }
    }

    public function testVerifySequences(): void
    {
        $g = new OracleGen();
        $n = 0;
        for ($i = 0; $i < $this->rounds / 2; $i++) {
            $secrets = ['ins_O9w3RAV1LOPU_4UYwjMgeg' => $g->secret()];
            $window = OracleGen::chance(85) ? 300 : OracleGen::pick([0, 600, 86_400]);
            $extVerifier = new \Tessera\Verifier($window, 1024);
            $pureVerifier = new Verifier($window);
            $store = new MemoryReplayStore(1024);
            for ($j = mt_rand(1, 4); $j > 0; $j--) {
                [$r, $t] = $g->signedRequest();
                $now = $t + (OracleGen::chance(70) ? 0 : OracleGen::pick([300, 301, -300, -301]));
                foreach (OracleGen::chance(30) ? [$r, $r] : [OracleGen::chance(50) ? $g->mutateRequest($r) : $r] as $req) {
                    [$ext, $pairs] = self::headers($req['headers']);
                    $body = hex2bin($req['body']);
                    $e = self::ext(fn () => $extVerifier->verify(['method' => $req['method'], 'url' => $req['url'], 'headers' => $ext, 'body' => $body],
                        fn (string $k) => $secrets[$k] ?? null, null, $now));
                    $p = self::pure(function () use ($pureVerifier, $req, $pairs, $body, $now, $secrets, $store) {
                        $v = $pureVerifier->verify(new Request($req['method'], $req['url'], $pairs, $body), $now,
                            fn (string $k) => isset($secrets[$k]) ? Secret::fromBase64url($secrets[$k]) : null, $store);
                        return ['install_id' => $v->installId, 'created' => $v->created, 'expires' => $v->expires, 'nonce' => $v->nonce,
                            'idempotency_key' => $v->idempotencyKey, 'bearer' => $v->bearer];
                    });
                    if (\is_array($e) && !isset($e['error'])) {
                        ksort($e);
                        ksort($p);
                    }
                    self::same($e, $p, $req + ['now' => $now]);
                    $n++;
                }
            }
        }
        self::assertGreaterThan(300, $n);
    }

    public function testConnectUrlsTicketsAndProofs(): void
    {
        $g = new OracleGen();
        for ($i = 0; $i < $this->rounds; $i++) {
            $now = 1_700_000_000 + OracleGen::pick([0, 0, 5, -5]);
            $secret = $g->secret();
            $url = $g->connectUrl(1_700_000_000);
            $e = self::ext(fn () => \Tessera\Verifier::verifyConnectUrl($url, fn (string $k) => $k === 'ins_O9w3RAV1LOPU_4UYwjMgeg' ? $secret : null, $now));
            $p = self::pure(function () use ($url, $now, $secret) {
                $c = VerifyLinks::verifyConnectUrl($url, $now, fn (string $k) => $k === 'ins_O9w3RAV1LOPU_4UYwjMgeg' ? Secret::fromBase64url($secret) : null);
                return ['install_id' => $c->installId, 'state' => $c->state, 'return_url' => $c->returnUrl, 'scope' => $c->scope, 'ts' => $c->ts];
            });
            if (\is_array($e) && !isset($e['error'])) {
                ksort($e);
                ksort($p);
            }
            self::same($e, $p, ['url' => $url, 'now' => $now]);

            $id = OracleGen::pick(['ins_O9w3RAV1LOPU_4UYwjMgeg', 'ins_x']);
            $ticket = $g->ticket(1_700_000_000);
            $maxAge = OracleGen::pick([2_592_000, 0, 10]);
            $e = self::ext(fn () => \Tessera\Verifier::verifyUninstallTicket($id, $ticket, fn () => $secret, $maxAge, 1_700_000_000));
            $p = self::pure(fn () => VerifyLinks::verifyUninstallTicket($id, $ticket, 1_700_000_000, $maxAge, fn () => Secret::fromBase64url($secret)));
            self::same($e, $p, ['ticket' => $ticket, 'id' => $id]);

            $pc = $g->proofCase();
            $e = self::ext(fn () => \Tessera\Verifier::verifyOwnershipProof($pc['secret'], $pc['install_id'], $pc['challenge'], $pc['proof']));
            $p = self::pure(fn () => Registration::verifyOwnershipProof(Secret::fromBase64url($pc['secret']), $pc['install_id'], $pc['challenge'], $pc['proof']));
            self::same($e, $p, $pc);
        }
    }
}

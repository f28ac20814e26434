<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\HttpDate;
use Tessera\Pure\Internal\Refusal;
use Tessera\Pure\Internal\ReplayAnswer;
use Tessera\Pure\Internal\ReplayStore;
use Tessera\Pure\Internal\Request;
use Tessera\Pure\Internal\Secret;
use Tessera\Pure\Internal\Signature;
use Tessera\Pure\Internal\Verifier;
use Tessera\Pure\Internal\VerifyLinks;

/**
 * Ports of core/src/verify/tests.rs (the sans-IO sequence) and
 * core/src/verify/refusal.rs tests; the shared vectors verify_links.json.
 */
final class VerifySequenceTest extends Support
{
    private const NOW = 1_700_000_000;

    private static function signed(string $keyid, string $nonce, int $created, int $delta): Request
    {
        $headers = [['content-digest', Signature::contentDigest('')]];
        $req = new Request('GET', 'https://broker.example/api/orders', $headers, '');
        $input = 'tessera=("@method" "@authority" "@path" "@query" "content-digest");created=' . $created . ';expires='
            . ($created + $delta) . ';nonce="' . $nonce . '";alg="hmac-sha256";keyid="' . $keyid . '";tag="tessera-v1"';
        [, $sig] = Signature::hmacSignGeneric($req, $input, str_repeat("\x07", 32));
        return new Request('GET', $req->url, [...$headers, ['signature-input', $input], ['signature', $sig]], '');
    }

    /** @return Refusal the refusal `$f` throws */
    private static function refused(callable $f): Refusal
    {
        try {
            $f();
        } catch (Refusal $r) {
            return $r;
        }
        self::fail('expected a refusal');
    }

    public function testTheSequenceAsksForTheSecretThenTheStore(): void
    {
        $secret = Secret::fromBytes(str_repeat("\x07", 32));
        $req = self::signed('ins_a', 'seq', self::NOW, 300);
        $pending = (new Verifier())->begin($req, self::NOW);
        self::assertSame('ins_a', $pending->keyid());
        $text = print_r($pending, true);
        self::assertStringContainsString('ins_a', $text);
        self::assertStringNotContainsString('base', $text);
        $before = Verifier::macChecks();
        $checked = $pending->check($secret);
        self::assertSame(1, Verifier::macChecks() - $before, 'the MAC is computed once');
        self::assertSame(['ins_a:seq', 'ins_a', self::NOW + 300, self::NOW], [$checked->replayKey(), $checked->installId(), $checked->expiresAt(), $checked->now()]);
        self::assertSame('seq', $checked->finish(ReplayAnswer::Fresh)->nonce);

        $answer = fn (ReplayAnswer $a) => (new Verifier())->begin($req, self::NOW)->check($secret)->finish($a);
        $seen = self::refused(fn () => $answer(ReplayAnswer::Seen));
        self::assertSame([401, 'replayed', 'replayed'], [$seen->status(), $seen->code(), $seen->error()->code()]);
        $full = self::refused(fn () => $answer(ReplayAnswer::Full));
        self::assertSame([503, 'replay_store_full'], [$full->status(), $full->code()]);

        // Unknown installation and a wrong secret stop before the store.
        $unknown = self::refused(fn () => (new Verifier())->begin($req, self::NOW)->check(null));
        self::assertSame([401, 'unknown_installation'], [$unknown->status(), $unknown->code()]);
        $forged = self::refused(fn () => (new Verifier())->begin($req, self::NOW)->check(Secret::fromBytes(str_repeat("\x08", 32))));
        self::assertSame('signature_invalid', $forged->code());

        // Out of its window: refused at the first step, with the broker's Date.
        $late = self::refused(fn () => (new Verifier())->begin($req, self::NOW + 301));
        self::assertSame([401, 'signature_expired'], [$late->status(), $late->code()]);
        self::assertContains(['date', HttpDate::format(self::NOW + 301)], $late->headers());
    }

    public function testAFailingStoreRefuses(): void
    {
        $broken = new class () implements ReplayStore {
            public function checkAndInsert(string $key, int $expiresAt, int $now): void
            {
                throw CoreError::internal('store down');
            }
        };
        $req = self::signed('ins_a', 'broken', self::NOW, 300);
        $refusal = self::refused(fn () => (new Verifier())->begin($req, self::NOW)->check(Secret::fromBytes(str_repeat("\x07", 32)))->recordIn($broken));
        self::assertSame([500, 'internal'], [$refusal->status(), $refusal->code()]);
    }

    public function testTheAnswerOfEachVerificationError(): void
    {
        $expired = new Refusal(CoreError::signatureExpired(), self::NOW);
        self::assertSame([401, 'signature_expired'], [$expired->status(), $expired->code()]);
        self::assertSame(['date', 'Tue, 14 Nov 2023 22:13:20 GMT'], $expired->headers()[2]);
        $full = new Refusal(CoreError::replayStoreFull(), self::NOW);
        self::assertSame([503, 'replay_store_full'], [$full->status(), $full->code()]);
        self::assertCount(2, $full->headers(), 'Date only on signature_expired');
        $proof = new Refusal(CoreError::ownershipProofInvalid(), self::NOW);
        self::assertSame([403, 'ownership_proof_invalid'], [$proof->status(), $proof->code()]);
        $bad = new Refusal(CoreError::tooLarge('body', 1), self::NOW);
        self::assertSame([400, 'invalid_request'], [$bad->status(), $bad->code()]);
        self::assertSame('{"error":"replayed","error_description":"the request was already seen (replay)"}', (new Refusal(CoreError::replayed(), self::NOW))->body());
        self::assertSame('503 replay_store_full: the replay store is full', $full->getMessage());
    }

    public function testVerifyLinksVectors(): void
    {
        $checked = 0;
        foreach (self::vectors('verify_links') as $c) {
            $asked = [];
            $secretFor = function (string $id) use ($c, &$asked): ?Secret {
                $asked[] = $id;
                return isset($c['secrets'][$id]) ? Secret::fromBase64url($c['secrets'][$id]) : null;
            };
            try {
                if ($c['kind'] === 'connect') {
                    $pending = VerifyLinks::beginConnectUrl($c['url'], $c['now']);
                    $p = $pending->check($secretFor($pending->installId()));
                    $got = ['installId' => $p->installId, 'state' => $p->state, 'returnUrl' => $p->returnUrl, 'scope' => $p->scope, 'ts' => $p->ts];
                } elseif ($c['kind'] === 'uninstall') {
                    $pending = VerifyLinks::beginUninstallTicket($c['installId'], $c['url'], $c['now'], 7 * 24 * 3600);
                    $got = ['ts' => $pending->check($secretFor($pending->installId()))];
                } else {
                    VerifyLinks::checkOwnershipProof(Secret::fromBase64url($c['secrets'][$c['installId']]), $c['installId'], $c['challenge'], $c['proof'], $c['now']);
                    $got = ['ok' => true];
                }
            } catch (Refusal $r) {
                $got = ['error' => $r->error()->code(), 'answer' => SignVerifyTest::answer($r)];
            }
            self::assertSame($c['expected'], $got, $c['name']);
            self::assertLessThanOrEqual(1, count($asked), $c['name']);
            $checked++;
        }
        self::assertGreaterThanOrEqual(14, $checked);
    }

    /** Port of `pending_links_do_not_print_their_sig`: var_dump never shows a link's `sig`. */
    public function testPendingLinksDoNotPrintTheirSig(): void
    {
        $now = 1700000000;
        $id = 'ins_AAAAAAAAAAAAAAAAAAAAAA';
        $ticket = VerifyLinks::beginUninstallTicket($id, "ts={$now}&sig=SECRETsig", $now, 60);
        $query = "install_id={$id}&state=st&return_url=https%3A%2F%2Fshop.example%2Fcb&ts={$now}&sig=SECRETsig";
        $connect = VerifyLinks::beginConnectUrl($query, $now);
        foreach ([$ticket, $connect] as $pending) {
            ob_start();
            var_dump($pending);
            $text = (string) ob_get_clean();
            $this->assertStringNotContainsString('SECRETsig', $text);
            $this->assertStringContainsString($id, $text);
            $this->assertStringContainsString('[redacted]', $text);
        }
    }
}

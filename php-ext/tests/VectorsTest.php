<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;
use Tessera\Companion;
use Tessera\Exception\TesseraException;
use Tessera\Exception\VerificationException;
use Tessera\Verifier;

/**
 * Every case of tests/vectors/*.json through the PHP API, compared byte for
 * byte (arrays with `===`, so header order counts).
 */
final class VectorsTest extends TestCase
{
    public static function signingCases(): array
    {
        return vector_cases('signing.json');
    }

    /** @dataProvider signingCases */
    public function testSigning(array $case): void
    {
        $o = $case['options'];
        $this->assertOutcome($case['expected'], function () use ($case, $o) {
            $c = Companion::importState($case['state']);
            return $c->signRequest($case['request'], $o['now'], $o['nonce'], $o['idempotencyKey']);
        });
    }

    public static function classificationCases(): array
    {
        return vector_cases('classification.json');
    }

    /** @dataProvider classificationCases */
    public function testClassification(array $case): void
    {
        $this->assertOutcome($case['expected'], function () use ($case) {
            $o = Companion::classify($case['response'], $case['now']);
            return ['kind' => $o['kind'], 'status' => $o['status'], 'code' => $o['code'], 'retryAfterMs' => $o['retry_after_ms'], 'requestId' => $o['request_id'], 'fromStora' => $o['from_stora'], 'description' => $o['description'], 'details' => $o['details']];
        });
    }

    public static function connectCases(): array
    {
        return vector_cases('connect.json');
    }

    /** @dataProvider connectCases */
    public function testConnect(array $case): void
    {
        $in = $case['input'];
        $this->assertOutcome($case['expected'], function () use ($case, $in) {
            $c = Companion::importState($case['state']);
            $url = \Tessera\Testing\connectUrl($c, $in['returnUrl'], $in['scope'], $in['now'], $in['state']);
            return ['url' => $url, 'status' => $c->status()];
        });
    }

    public static function callbackCases(): array
    {
        return vector_cases('callback.json');
    }

    /**
     * The callback's checks, then the signed exchange of its connect code:
     * every request the completion sends is answered with the case's
     * `answer`; `now` comes from the clock hook (read at the start and once
     * per event the driver feeds).
     *
     * @dataProvider callbackCases
     */
    public function testCallback(array $case): void
    {
        $c = Companion::importState($case['state']);
        \Tessera\Testing\useClock($c, fn (): int => $case['now']);
        $answer = ['status' => $case['answer']['status'], 'headers' => ['Content-Type' => 'application/json'], 'body' => $case['answer']['body']];
        $transport = FakeTransport::always($answer);
        $error = null;
        try {
            $out = $c->completeConnect($case['callback'], $transport, fn (int $ms) => null, fn (string $json) => null);
            $this->assertSame(['account' => $c->account()], $out, 'completeConnect() returns the account it stored');
        } catch (TesseraException $e) {
            $error = $e->getErrorCode();
        } finally {
            \Tessera\Testing\useClock($c, null);
        }
        $got = [
            'status' => $c->status(),
            'pendingConnect' => json_decode($c->exportState(), true)['pending_connect'] !== null,
        ];
        if ($c->account() !== null) {
            $got['account'] = $c->account();
        }
        if ($transport->requests !== []) {
            $got['sent'] = array_map(fn (array $r): array => [
                'method' => $r['method'],
                'url' => $r['url'],
                'body' => $r['body'],
                'authorization' => array_key_exists('authorization', array_change_key_case($r['headers'])),
            ], $transport->requests);
        }
        if ($error !== null) {
            $got['error'] = $error;
        }
        $this->assertSame($case['expected'], $got);
    }

    public static function verifyCases(): array
    {
        return vector_cases('verify.json');
    }

    /** @dataProvider verifyCases */
    public function testVerify(array $case): void
    {
        $verifier = new Verifier(null, 64);
        $secretFor = fn (string $id): ?string => $case['secrets'][$id] ?? null;
        $got = [];
        foreach ($case['requests'] as $request) {
            try {
                $v = $verifier->verify($request, $secretFor, null, $case['now']);
                $got[] = ['installId' => $v['install_id'], 'nonce' => $v['nonce'], 'created' => $v['created']];
            } catch (TesseraException $e) {
                $got[] = self::refused($e);
            }
        }
        $this->assertSame($case['expected'], $got);
    }

    public static function verifyLinksCases(): array
    {
        return vector_cases('verify_links.json');
    }

    /** @dataProvider verifyLinksCases */
    public function testVerifyLinks(array $case): void
    {
        $asked = [];
        $secretFor = function (string $id) use ($case, &$asked): ?string {
            $asked[] = $id;
            return $case['secrets'][$id] ?? null;
        };
        try {
            $got = match ($case['kind']) {
                'connect' => (function () use ($case, $secretFor) {
                    $p = Verifier::verifyConnectUrl($case['url'], $secretFor, $case['now']);
                    return ['installId' => $p['install_id'], 'state' => $p['state'], 'returnUrl' => $p['return_url'], 'scope' => $p['scope'], 'ts' => $p['ts']];
                })(),
                'uninstall' => ['ts' => Verifier::verifyUninstallTicket($case['installId'], $case['url'], $secretFor, null, $case['now'])],
                'ownership' => (function () use ($case) {
                    Verifier::verifyOwnershipProof($case['secrets'][$case['installId']], $case['installId'], $case['challenge'], $case['proof'], $case['now']);
                    return ['ok' => true];
                })(),
            };
        } catch (TesseraException $e) {
            $got = self::refused($e);
        }
        $this->assertSame($case['expected'], $got);
        // The secret is asked for at most once, and only after the checks that need none.
        $this->assertLessThanOrEqual(1, count($asked));
        if (in_array($got['error'] ?? null, ['signature_expired', 'signature_missing', 'signature_malformed'], true)) {
            $this->assertSame([], $asked);
        }
    }

    /** A verification failure as the vectors write it: the error code and the wire answer the exception carries. */
    private static function refused(TesseraException $e): array
    {
        if (!$e instanceof VerificationException) {
            return ['error' => $e->getErrorCode()];
        }
        return ['error' => $e->getErrorCode(), 'answer' => [
            'status' => $e->getHttpStatus(),
            'code' => $e->getWireCode(),
            'headers' => $e->getWireHeaders(),
            'body' => $e->getWireBody(),
        ]];
    }

    public static function sealCases(): array
    {
        return vector_cases('seal.json');
    }

    /** @dataProvider sealCases */
    public function testSeal(array $case): void
    {
        $this->assertOutcome($case['expected'], fn () => ['state' => Companion::openState($case['sealed'], $case['keyMaterial'])->exportState()]);
    }

    public static function ownershipCases(): array
    {
        return vector_cases('ownership.json');
    }

    /** @dataProvider ownershipCases */
    public function testOwnership(array $case): void
    {
        $c = Companion::importState($case['state']);
        try {
            $r = $c->handleRegistrationResponse($case['response']);
            $got = ['outcome' => $r['outcome'], 'status' => $c->status()];
            if (isset($r['proof'])) {
                $got['proof'] = $r['proof'];
            }
        } catch (TesseraException $e) {
            $got = ['error' => $e->getErrorCode(), 'status' => $c->status()];
        }
        $this->assertSame($case['expected'], $got);
    }

    public static function uninstallUrlCases(): array
    {
        return vector_cases('uninstall_url.json');
    }

    /** @dataProvider uninstallUrlCases */
    public function testUninstallUrl(array $case): void
    {
        $this->assertOutcome($case['expected'], fn () => ['url' => Companion::importState($case['state'])->uninstallUrl($case['now'])]);
    }

    public static function rfc9421Cases(): array
    {
        return vector_cases('rfc9421.json');
    }

    /** @dataProvider rfc9421Cases */
    public function testRfc9421(array $case): void
    {
        $this->assertOutcome($case['expected'], function () use ($case) {
            $r = Verifier::hmacSignGeneric($case['request'], $case['signatureInput'], base64_decode($case['keyBase64'], true));
            return ['signatureBase' => $r['signature_base'], 'signature' => $r['signature']];
        });
    }

    public static function inputsCases(): array
    {
        return vector_cases('inputs.json');
    }

    /** @dataProvider inputsCases */
    public function testInputs(array $case): void
    {
        $in = $case['input'];
        $this->assertOutcome($case['expected'], function () use ($in) {
            $c = Companion::create(['broker_url' => $in['brokerUrl']]);
            if (isset($in['registration'])) {
                $r = $in['registration'];
                $c->registrationRequest([
                    'site_url' => $r['siteUrl'],
                    'admin_email' => $r['adminEmail'],
                    'platform' => $r['platform'],
                    'plugin_version' => $r['pluginVersion'],
                ]);
            }
            return ['ok' => true];
        });
    }

    public function testEveryVectorFileIsCovered(): void
    {
        $files = array_map('basename', glob(VECTORS . '/*.json'));
        sort($files);
        $this->assertSame([
            'callback.json', 'classification.json', 'connect.json', 'inputs.json',
            // machine*.json: MachineTest replays every script through the driver.
            'machine-call.json', 'machine-connect.json', 'machine-leave.json', 'machine-proxy.json', 'machine-register.json',
            'metadata.json', 'ownership.json',
            // proxy-*.json: the authorization proxy's tokens, a Rust-only API (core/tests/vectors.rs).
            'proxy-tokens.json', 'push.json',
            'rfc9421.json', 'seal.json', 'signing.json', 'timeline.json',
            'uninstall_url.json', 'verify.json', 'verify_links.json',
        ], $files, 'a new vector file needs a test here');
    }

    public static function pushCases(): array
    {
        return vector_cases('push.json');
    }

    /**
     * Pushed events: `verifyPush()` with the case's headers as the package
     * takes them (`name => [values]`) → its events (`data` checked as
     * `data_json` decoded, then left out), or `pushRegistrationRequest()` →
     * the request for `call()`; a refusal by its code and, for a signature,
     * as a `VerificationException`. Neither changes the state.
     *
     * @dataProvider pushCases
     */
    public function testPush(array $case): void
    {
        $c = Companion::importState($case['state']);
        try {
            if (array_key_exists('url', $case)) {
                $r = $c->pushRegistrationRequest($case['url']);
                $this->assertSame(['method', 'path', 'headers', 'body'], array_keys($r));
                $this->assertSame($r['body'] === '' ? [] : ['content-type' => 'application/json'], $r['headers']);
                $got = ['method' => $r['method'], 'path' => $r['path'], 'body' => $r['body']];
            } else {
                $headers = [];
                foreach ($case['headers'] as [$name, $value]) {
                    $headers[$name][] = $value;
                }
                $events = $c->verifyPush($headers, $case['body'], $case['now']);
                $this->assertTrue(array_is_list($events));
                $got = ['events' => array_map(function (array $e): array {
                    $this->assertSame(['id', 'type', 'api_version', 'created_at', 'data', 'data_json'], array_keys($e));
                    $this->assertSame(json_decode($e['data_json'], true, 512, JSON_BIGINT_AS_STRING), $e['data']);
                    unset($e['data']);
                    return $e;
                }, $events)];
            }
        } catch (TesseraException $e) {
            $got = ['error' => $e->getErrorCode()];
            $this->assertSame(str_starts_with($e->getErrorCode(), 'signature_'), $e instanceof VerificationException, $e->getErrorCode());
        }
        $this->assertSame($case['expected'], $got);
        $this->assertSame($case['state'], $c->exportState());
    }

    /** Runs $f; compares its result, or `['error' => code]` when it throws, with $expected. */
    public static function timelineCases(): array
    {
        return vector_cases('timeline.json');
    }

    /** @dataProvider timelineCases */
    public function testTimeline(array $case): void
    {
        $this->assertOutcomeWithMessage($case['expected'], fn () => Companion::timelineEventRequest($case['event'], $case['external_id']));
    }

    public static function metadataCases(): array
    {
        return vector_cases('metadata.json');
    }

    /** @dataProvider metadataCases */
    public function testMetadata(array $case): void
    {
        $this->assertOutcomeWithMessage($case['expected'], function () use ($case) {
            if (array_key_exists('metadata', $case)) {
                Companion::validateMetadata($case['metadata']);
                return ['ok' => true];
            }
            return ['body' => Companion::metadataPatch($case['changes'], $case['current'] ?? null)];
        });
    }

    private function assertOutcomeWithMessage(array $expected, callable $f): void
    {
        try {
            $got = $f();
        } catch (TesseraException $e) {
            $got = ['error' => $e->getErrorCode(), 'message' => $e->getMessage()];
        }
        $this->assertSame($expected, $got);
    }

    private function assertOutcome(array $expected, callable $f): void
    {
        try {
            $got = $f();
        } catch (TesseraException $e) {
            $got = ['error' => $e->getErrorCode()];
        }
        $this->assertSame($expected, $got);
    }
}

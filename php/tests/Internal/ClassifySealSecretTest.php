<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\BrokerToken;
use Tessera\Pure\Internal\Classify;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\Outcome;
use Tessera\Pure\Internal\Response;
use Tessera\Pure\Internal\Seal;
use Tessera\Pure\Internal\Secret;

/**
 * Ports of core/src/classify.rs, seal.rs, secret.rs and error.rs tests; the
 * shared vectors classification.json and seal.json.
 */
final class ClassifySealSecretTest extends Support
{
    public function testClassificationTable(): void
    {
        $cases = [[200, '', Outcome::OK], [204, '', Outcome::OK], [401, '{"error":"stora_reconnect_required"}', Outcome::RECONNECT_REQUIRED],
            [401, '{"error":"broker_token_invalid"}', Outcome::RECONNECT_REQUIRED],
            [401, '{"type":"about:blank","code":"installation_disabled"}', Outcome::RECONNECT_REQUIRED],
            [403, '{"error":"installation_disabled"}', Outcome::RECONNECT_REQUIRED],
            [401, '{"error":"signature_invalid"}', Outcome::REGISTRATION_INVALID], [401, '{"error":"unknown_installation"}', Outcome::REGISTRATION_INVALID],
            [403, '{"error":"signature_invalid"}', Outcome::CLIENT_ERROR],
            [401, '{"error":"signature_expired"}', Outcome::SIGNATURE_EXPIRED], [401, 'not json', Outcome::CLIENT_ERROR], [429, '', Outcome::RATE_LIMITED],
            [404, '{"error":"not_found"}', Outcome::CLIENT_ERROR], [408, '', Outcome::SERVER_UNAVAILABLE], [503, '<html>', Outcome::SERVER_UNAVAILABLE],
            [302, '', Outcome::REDIRECTED], [307, '{"error":"moved"}', Outcome::REDIRECTED], [199, '', Outcome::CLIENT_ERROR],
            [600, '', Outcome::CLIENT_ERROR]];
        foreach ($cases as [$status, $body, $kind]) {
            self::assertSame($kind, Classify::classify(new Response($status, [], $body), 0)->kind, "{$status} {$body}");
        }
    }

    public function testClassificationVectors(): void
    {
        foreach (self::vectors('classification') as $c) {
            $r = $c['response'];
            $o = Classify::classify(new Response($r['status'], self::pairs($r['headers']), $r['body']), $c['now']);
            self::assertSame($c['expected'], ['kind' => $o->kind, 'status' => $o->status, 'code' => $o->code, 'retryAfterMs' => $o->retryAfterMs, 'requestId' => $o->requestId, 'fromStora' => $o->fromStora, 'description' => $o->description, 'details' => $o->details], $c['name']);
        }
    }

    public function testRetryAfterForms(): void
    {
        self::assertSame(3000, Classify::parseRetryAfter('3', 0));
        self::assertSame(7000, Classify::parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', 784_111_770));
        self::assertSame(0, Classify::parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', 784_111_800));
        self::assertNull(Classify::parseRetryAfter('99999999999', 0));
        self::assertNull(Classify::parseRetryAfter('soon', 0));
        self::assertSame(86_400_000, Classify::parseRetryAfter('9999999999', 0));
        self::assertSame(5000, Classify::parseRetryAfter(" 5\u{a0}", 0));
        // `at - now` wraps in the Rust release build: far-past `now` wraps negative, then clamps to 0.
        self::assertSame(0, Classify::parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', \PHP_INT_MIN));
        self::assertSame(0, Classify::parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', \PHP_INT_MAX));
        self::assertSame(86_400_000, Classify::parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', -1));
        self::assertSame(2000, Classify::classify((new Response(429))->withHeader('Retry-After', '2'), 0)->retryAfterMs);
        self::assertSame('Sun, 06 Nov 1994 08:49:37 GMT', Classify::fmtHttpDate(784_111_777));
        self::assertSame(784_111_777, Classify::parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'));
        $r = (new Response(429))->withHeader('Retry-After', 'Sun, 06 Nov 1994 08:49:47 GMT')->withHeader('Date', 'Sun, 06 Nov 1994 08:49:37 GMT');
        $o = Classify::classify($r, 0);
        self::assertSame(10_000, $o->retryAfterMs);
        self::assertSame(784_111_777, $o->serverDate);
        self::assertNull(Classify::classify((new Response(503))->withHeader('Retry-After', '2'), 0)->retryAfterMs);
    }

    public function testErrorCodesAndOutcomeErrors(): void
    {
        self::assertSame('access_deniedscript', Classify::errorCode('{"error":"access_denied<script>"}'));
        self::assertSame('unknown', Classify::errorCode("{\"error\":\"\u{1F600}\"}"));
        self::assertSame(str_repeat('a', 64), Classify::errorCode('{"error":"' . str_repeat('a', 70) . '"}'));
        self::assertSame('c', Classify::errorCode('{"error":1,"code":"c"}'));
        self::assertSame('c', Classify::errorCode('{"error":"a","error":"b","code":"c"}'));
        self::assertNull(Classify::errorCode('{"error":"x"}' . str_repeat(' ', 64 * 1024)));
        self::assertNull(Classify::errorCode(''));
        self::assertNull(Classify::classify(new Response(200, [], '{"error":"x"}'), 0)->code);
        $msg = fn (int $s, string $b, int $a = 2) => Classify::classify(new Response($s, [], $b), 0)->toError($a)?->getMessage();
        self::assertNull($msg(200, ''));
        self::assertSame('reconnect required (stora_reconnect_required)', $msg(401, '{"error":"stora_reconnect_required"}'));
        self::assertSame('the registration is no longer valid (http_401); register again', Classify::classify(new Response(401, [], ''), 0)->toError(1) === null ? '' : (new Outcome(Outcome::REGISTRATION_INVALID, 401, null, null, null))->toError(1)?->getMessage());
        self::assertSame('rate limited; retry after 0 ms', $msg(429, ''));
        self::assertSame('the broker answered with a redirect (status 302); signed requests are never redirected', $msg(302, ''));
        self::assertSame('the broker is unavailable after 3 attempt(s) (last status 503)', $msg(503, '', 3));
        self::assertSame('the request was refused (status 401, signature_expired)', $msg(401, '{"error":"signature_expired"}'));
        self::assertSame('the request was refused (status 404, http_404)', $msg(404, 'x'));
    }

    public function testSealRoundTripAndFailures(): void
    {
        $key = 'wordpress-logged-in-key-and-salt';
        $blob = Seal::seal('{"v":1}', $key, str_repeat("\x07", 24));
        self::assertStringStartsWith(Seal::PREFIX, $blob);
        self::assertSame('{"v":1}', Seal::open($blob, $key));
        self::assertSame('{"v":1}', Seal::open(" {$blob}\u{3000}", $key));
        self::assertCoreError('state_undecryptable', fn () => Seal::open($blob, 'another-key-entirely-0000'), 'the sealed state cannot be opened with this key');
        $t = $blob;
        $t[-3] = $t[-3] === 'A' ? 'B' : 'A';
        self::assertCoreError('state_undecryptable', fn () => Seal::open($t, $key));
        self::assertCoreError('state_undecryptable', fn () => Seal::open(substr($blob, 0, 20), $key));
        self::assertCoreError('state_undecryptable', fn () => Seal::open('{"v":1}', $key));
        self::assertCoreError('state_undecryptable', fn () => Seal::open('tsv1.' . str_repeat('A', 128 * 1024), $key));
        self::assertCoreError('invalid_input', fn () => Seal::seal('x', 'short', str_repeat("\0", 24)), 'invalid `key`: key material must be at least 16 bytes');
        self::assertCoreError('invalid_input', fn () => Seal::open('junk', 'short'));
        // XChaCha20-Poly1305 under HKDF-SHA256(salt "tessera-seal-v1", info "tessera state key"), prefix as AD.
        $k = hash_hkdf('sha256', $key, 32, 'tessera state key', 'tessera-seal-v1');
        $raw = sodium_crypto_aead_xchacha20poly1305_ietf_encrypt('{"v":1}', 'tsv1.', str_repeat("\x07", 24), $k);
        self::assertSame('tsv1.' . rtrim(strtr(base64_encode(str_repeat("\x07", 24) . $raw), '+/', '-_'), '='), $blob);
    }

    public function testSealVectors(): void
    {
        foreach (self::vectors('seal') as $c) {
            try {
                $plain = Seal::open($c['sealed'], $c['keyMaterial']);
                self::assertSame($c['expected']['state'], $plain, $c['name']);
            } catch (CoreError $e) {
                self::assertSame($c['expected'], ['error' => $e->code()], $c['name']);
            }
        }
    }

    public function testSecretIsRedactedEverywhere(): void
    {
        $s = Secret::fromBytes(str_repeat("\x07", 32));
        $b64 = $s->toBase64url();
        $t = BrokerToken::new('btk_abcdefSECRET');
        foreach ([$s, $t] as $o) {
            ob_start();
            var_dump($o);
            $text = (string) ob_get_clean() . print_r($o, true) . var_export($o, true) . json_encode($o) . json_encode((array) $o)
                . serialize(get_object_vars($o)) . $o;
            self::assertStringContainsString('[redacted]', $text);
            self::assertStringNotContainsString($b64, $text);
            self::assertStringNotContainsString("\x07\x07", $text);
            self::assertStringNotContainsString('SECRET', $text);
        }
        foreach ([fn () => serialize($s), fn () => serialize($t), fn () => clone $s, fn () => clone $t,
            fn () => unserialize('O:' . \strlen(Secret::class) . ':"' . Secret::class . '":0:{}')] as $refused) {
            try {
                $refused();
                self::fail('not refused');
            } catch (\LogicException $e) {
                self::assertStringNotContainsString($b64, $e->getMessage());
            }
        }
        self::assertSame(str_repeat("\x07", 32), $s->expose());
    }

    public function testSecretTracesDoNotShowArguments(): void
    {
        try {
            Secret::fromBase64url('c2hvcnQtc2VjcmV0');
            self::fail('accepted');
        } catch (CoreError $e) {
            self::assertStringNotContainsString('c2hvcnQ', $e->getTraceAsString());
            self::assertSame('invalid `secret`: must be 16 to 256 bytes', $e->getMessage());
        }
    }

    public function testTracesOfLowerLayerErrorsCarryNoSecrets(): void
    {
        $secret = Secret::fromBytes(str_repeat('S', 32));
        $url = \Tessera\Pure\Internal\Url::parse('https://b.example/cb?code=SECRETCODE', 'u');
        $throws = [
            fn () => \Tessera\Pure\Internal\Sign::sign($secret, 'ins_1', 'GET', $url, [['cookie', 'SECRETCOOKIE']], 'SECRETBODY',
                BrokerToken::new('SECRETTOKEN'), new \Tessera\Pure\Internal\SignOptions(1, 'bad nonce'), new \Tessera\Pure\Internal\OsEntropy()),
            fn () => Seal::open('tsv1.SECRETBLOB', 'SECRETKEYMATERIAL'),
            fn () => Seal::seal('SECRETPLAIN', 'SECRET', str_repeat("\0", 24)),
            fn () => \Tessera\Pure\Internal\Connect::parseCallback('https://s.example/cb?broker_token=SECRETTOKEN'),
            fn () => \Tessera\Pure\Internal\Connect::checkReturnUrl('https://s.example/cb?broker_token=SECRETTOKEN'),
            fn () => BrokerToken::new('SECRET TOKEN'),
            fn () => \Tessera\Pure\Internal\Json::parse('{"secret":"SECRETJSON"'),
        ];
        foreach ($throws as $i => $fn) {
            try {
                $fn();
                self::fail("case {$i} did not throw");
            } catch (\Throwable $e) {
                $text = print_r($e->getTrace(), true) . $e->getTraceAsString() . $e->getMessage();
                self::assertStringNotContainsString('SECRET', $text, "case {$i}");
            }
        }
    }

    public function testSecretEqIsByValue(): void
    {
        $a = Secret::fromBytes(str_repeat("\x01", 32));
        self::assertTrue($a->equals(Secret::fromBytes(str_repeat("\x01", 32))));
        self::assertFalse($a->equals(Secret::fromBytes(str_repeat("\x02", 32))));
        self::assertTrue(Secret::ctEq('abc', 'abc'));
        self::assertFalse(Secret::ctEq('abc', 'abd'));
        self::assertFalse(Secret::ctEq('abc', 'ab'));
        self::assertTrue(BrokerToken::new('abc')->equals(BrokerToken::new('abc')));
        self::assertFalse(BrokerToken::new('abc')->equals(BrokerToken::new('abd')));
    }

    public function testRejectsBadSecretAndTokenText(): void
    {
        self::assertCoreError('invalid_input', fn () => Secret::fromBase64url('short'), 'invalid `secret`: not base64url');
        self::assertCoreError('invalid_input', fn () => Secret::fromBytes(str_repeat('a', 15)));
        self::assertCoreError('invalid_input', fn () => Secret::fromBytes(str_repeat('a', 257)));
        Secret::fromBytes(str_repeat('a', 256));
        self::assertCoreError('callback_invalid', fn () => BrokerToken::new('has space'), 'the callback is malformed: broker_token is not a valid token');
        self::assertCoreError('callback_invalid', fn () => BrokerToken::new(''));
        self::assertCoreError('callback_invalid', fn () => BrokerToken::new(str_repeat('a', 513)));
        self::assertSame('a-._~+/=', BrokerToken::new('a-._~+/=')->expose());
    }

    public function testCoreErrorCodesKindsAndWireCodes(): void
    {
        $all = [
            [CoreError::invalidUrl('f', 'r'), 'invalid_url', 'invalid_input'], [CoreError::insecureBrokerUrl(), 'insecure_broker_url', 'invalid_input'],
            [CoreError::tooLarge('f', 1), 'too_large', 'invalid_input'], [CoreError::notRegistered(), 'not_registered', 'invalid_state'],
            [CoreError::notConnected(), 'not_connected', 'invalid_state'], [CoreError::invalidState('x'), 'invalid_state', 'invalid_state'],
            [CoreError::stateCorrupt('x'), 'state_corrupt', 'invalid_state'], [CoreError::stateVersionUnsupported('18446744073709551615', 1), 'state_version_unsupported', 'invalid_state'],
            [CoreError::stateUndecryptable(), 'state_undecryptable', 'state_undecryptable'], [CoreError::reconnectRequired('r'), 'reconnect_required', 'reconnect_required'],
            [CoreError::registrationInvalid('r'), 'registration_invalid', 'registration_invalid'],
            [CoreError::registrationConflict(), 'registration_conflict', 'registration_invalid'],
            [CoreError::registrationRejected(400, 'r'), 'registration_rejected', 'registration_invalid'], [CoreError::rateLimited(5), 'rate_limited', 'rate_limited'],
            [CoreError::clientError(404, 'r'), 'client_error', 'client_error'], [CoreError::redirected(null), 'redirected', 'client_error'],
            [CoreError::serverUnavailable(null, 1), 'server_unavailable', 'server_unavailable'],
            [CoreError::callbackStateMismatch(), 'callback_state_mismatch', 'callback'], [CoreError::callbackExpired(), 'callback_expired', 'callback'],
            [CoreError::callbackDenied('c'), 'callback_denied', 'callback'], [CoreError::callbackInvalid('x'), 'callback_invalid', 'callback'],
            [CoreError::siteMismatch('a', 'b'), 'site_mismatch', 'site_mismatch'], [CoreError::signatureMissing(), 'signature_missing', 'verification'],
            [CoreError::signatureMalformed('x'), 'signature_malformed', 'verification'], [CoreError::signatureInvalid(), 'signature_invalid', 'verification'],
            [CoreError::signatureExpired(), 'signature_expired', 'verification'], [CoreError::replayed(), 'replayed', 'verification'],
            [CoreError::digestMismatch(), 'digest_mismatch', 'verification'], [CoreError::unknownInstallation(), 'unknown_installation', 'verification'],
            [CoreError::replayStoreFull(), 'replay_store_full', 'verification'], [CoreError::ownershipProofInvalid(), 'ownership_proof_invalid', 'verification'],
            [CoreError::internal('x'), 'internal', 'internal'],
        ];
        foreach ($all as [$e, $code, $kind]) {
            self::assertSame([$code, $kind], [$e->code(), $e->kind()]);
            self::assertMatchesRegularExpression('/^[a-z_]+$/', $e->code());
        }
        self::assertSame([401, 'digest_mismatch'], CoreError::digestMismatch()->wireCode());
        self::assertSame([401, 'signature_invalid'], CoreError::signatureInvalid()->wireCode());
        self::assertSame([503, 'replay_store_full'], CoreError::replayStoreFull()->wireCode());
        self::assertSame([403, 'ownership_proof_invalid'], CoreError::ownershipProofInvalid()->wireCode());
        self::assertSame([400, 'invalid_request'], CoreError::tooLarge('b', 1)->wireCode());
        self::assertSame([500, 'internal'], CoreError::notRegistered()->wireCode());
        self::assertSame(409, CoreError::registrationConflict()->status());
        self::assertSame(429, CoreError::rateLimited(5)->status());
        self::assertSame(5, CoreError::rateLimited(5)->retryAfterMs());
        self::assertNull(CoreError::redirected(null)->status());
        self::assertSame('c', CoreError::callbackDenied('c')->reason());
        self::assertNull(CoreError::invalidUrl('f', 'r')->reason());
        self::assertSame('state version 18446744073709551615 is not supported (this build reads up to 1)', $all[7][0]->getMessage());
        self::assertSame('the site URL changed from a to b; choose "this is a copy" or "the site moved"', CoreError::siteMismatch('a', 'b')->getMessage());
        self::assertSame('the broker answered with a redirect; signed requests are never redirected', CoreError::redirected(null)->getMessage());
        self::assertSame('the broker is unavailable after 1 attempt(s)', CoreError::serverUnavailable(null, 1)->getMessage());
        self::assertSame('access_deniedscript', CoreError::sanitizeCode('access_denied<script>'));
        self::assertSame('unknown', CoreError::sanitizeCode("\u{1F600}"));
    }
}

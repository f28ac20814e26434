<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\Account;
use Tessera\Pure\Internal\Clock;
use Tessera\Pure\Internal\Connect;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\Json;
use Tessera\Pure\Internal\Registration;
use Tessera\Pure\Internal\Secret;
use Tessera\Pure\Internal\Sign;
use Tessera\Pure\Internal\Url;
use Tessera\Pure\Internal\VerifyLinks;

/**
 * Ports of core/src/connect.rs and core/src/registration.rs tests; the URL
 * parts of connect.json and uninstall_url.json rebuilt from the lower layer.
 */
final class ConnectRegistrationTest extends Support
{
    private const ID = 'ins_O9w3RAV1LOPU_4UYwjMgeg';

    public function testCallbackForms(): void
    {
        foreach (['https://s.example/cb?state=abc&code=t', '?state=abc&code=t', 'state=abc&code=t#x'] as $input) {
            $cb = Connect::parseCallback($input);
            self::assertSame('abc', $cb->state);
            self::assertSame('t', $cb->code);
            self::assertNull($cb->error);
        }
        // A broker token in the callback is not a connect code (docs/PROTOCOL.md §5.4).
        self::assertNull(Connect::parseCallback('state=abc&broker_token=btk_x')->code);
        self::assertSame('access_denied', Connect::parseCallback('state=a&error=access_denied')->error);
        self::assertCoreError('callback_invalid', fn () => Connect::parseCallback('https://s.example/cb'), 'the callback is malformed: missing state');
        self::assertCoreError('callback_invalid', fn () => Connect::parseCallback('state=a&state=b'), 'the callback is malformed: malformed or repeated query parameter');
        self::assertCoreError('callback_invalid', fn () => Connect::parseCallback('state=%ZZ'));
        self::assertCoreError('too_large', fn () => Connect::parseCallback(str_repeat('a', 8193)), '`callback` is too large (limit 8192)');
        $dump = print_r(Connect::parseCallback('state=a&code=SECRETCODE'), true);
        self::assertStringNotContainsString('SECRETCODE', $dump);
    }

    public function testConnectCodes(): void
    {
        foreach ([str_repeat('a', 16), str_repeat('Z', 256), 'cc_0123456789-._~AZaz'] as $ok) {
            Connect::checkConnectCode($ok);
        }
        foreach (['', str_repeat('a', 15), str_repeat('a', 257), 'cc_a bcdefghijklmnop', 'cc_abcdefghijklmnop+', 'cc_abcdefghijklmnop/',
            "cc_abcdefghijklmno\u{e9}", "cc_abcdefghijklmnop\n"] as $bad) {
            self::assertCoreError('callback_invalid', fn () => Connect::checkConnectCode($bad), 'the callback is malformed: code is not a valid connect code', $bad);
        }
    }

    public function testAccounts(): void
    {
        $a = Account::new('op_1', '');
        self::assertSame(['op_1', ''], [$a->id, $a->name]);
        Account::new(str_repeat("\u{e9}", 128), str_repeat("\u{1F600}", 200));
        Account::new('a', "Acme \u{a0}\u{2028}\u{200b} Storage"); // not Cc
        $id = 'account.id must be 1-128 characters without control characters';
        $name = 'account.name must be 0-200 characters without control characters';
        foreach (['', str_repeat("\u{e9}", 129), "a\x00", "a\x1f", "a\x7f", "a\u{80}", "a\u{9f}"] as $bad) {
            self::assertCoreError('callback_invalid', fn () => Account::new($bad, 'n'), "the callback is malformed: {$id}", bin2hex($bad));
        }
        foreach ([str_repeat('n', 201), "a\tb", "a\u{85}", "\n"] as $bad) {
            self::assertCoreError('callback_invalid', fn () => Account::new('op_1', $bad), "the callback is malformed: {$name}", bin2hex($bad));
        }
    }

    public function testReturnUrls(): void
    {
        foreach (['chrome-extension://abcdef/options.html', 'https://s.example/wp-admin/options-general.php?page=x',
            'https://s.example/cb?a=%2F&b', 'moz-extension://0b1c-2d3e/connected.html?x=1',
            'http://127.0.0.1:8080/wp-admin/admin.php?page=tessera', 'CHROME-EXTENSION://abc'] as $ok) {
            Connect::checkReturnUrl($ok);
        }
        $bad = [
            '/relative' => 'must be absolute', 'https://x#f' => 'must not contain a fragment', 'https://x y' => 'must be visible ASCII without spaces',
            '://x' => 'must be absolute', '1http://x' => 'must be absolute', 'https://x/cb?a=%zz' => 'has an invalid %-escape',
            'https://x/cb?a=%FF' => 'has a query that does not percent-decode or repeats a key',
            'https://x/cb?state=1' => 'must not carry state, code, error or code_context in its query',
            'https://x/cb?a=1&%63ode=t' => 'must not carry state, code, error or code_context in its query',
            'https://x/cb?error' => 'must not carry state, code, error or code_context in its query',
            'https://x/cb?code_context=c' => 'must not carry state, code, error or code_context in its query',
            'https://x/cb?a=1&b&a=2' => 'has a query that does not percent-decode or repeats a key',
            'file:///etc/passwd' => 'scheme must be http or https', 'https://s.example:99999/cb' => 'has an invalid port',
            'https://[::1/cb' => 'has an unclosed IPv6 bracket', 'https://evil.example\\@shop.example/' => 'must not contain user information',
            'https://user@shop.example/' => 'must not contain user information', 'ftp://shop.example/' => 'scheme must be http or https',
            'chrome-extension:///page.html' => 'an extension page must be scheme://<id>/path',
            'chrome-extension://ab_cd/page.html' => 'an extension page must be scheme://<id>/path',
            'https://s.example/a\\b' => 'must not contain a backslash', 'https://' => 'must be absolute',
        ];
        foreach ($bad as $url => $reason) {
            self::assertCoreError('invalid_url', fn () => Connect::checkReturnUrl($url), "invalid URL in `return_url`: {$reason}", $url);
        }
        self::assertCoreError('too_large', fn () => Connect::checkReturnUrl('https://s.example/' . str_repeat('a', 2040)), '`return_url` is too large (limit 2048)');
        Connect::checkScope('orders:read contacts:read');
        foreach (['', str_repeat('a', 257), "a\tb", "\u{e9}"] as $bad) {
            self::assertCoreError('invalid_input', fn () => Connect::checkScope($bad), 'invalid `scope`: must be 1-256 visible ASCII characters');
        }
    }

    public function testConnectAndUninstallVectorsFromTheLowerLayer(): void
    {
        $checked = 0;
        foreach (self::vectors('connect') as $c) {
            $state = json_decode($c['state'], true);
            $in = $c['input'];
            $inst = $state['installation'] ?? null;
            if ($inst === null || \strlen($in['state']) < 16) {
                continue; // companion-level checks (not_registered, the state parameter): the upper layer's
            }
            try {
                Connect::checkReturnUrl($in['returnUrl']);
                if ($in['scope'] !== null) {
                    Connect::checkScope($in['scope']);
                }
                $ts = (string) Clock::corrected($in['now'], $state['clock_offset']);
                $pairs = Connect::connectPairs($inst['id'], $in['state'], $in['returnUrl'], $in['scope'], $ts);
                $sig = Connect::linkSignature(Secret::fromBase64url($inst['secret']), Connect::CONNECT_CONTEXT, $pairs);
                $base = Url::parse($state['config']['broker_url'], 'broker_url')->appendPath($state['config']['routes']['connect'], 'routes');
                $got = $base . '?' . Connect::canonicalQuery($pairs) . '&sig=' . $sig;
                self::assertSame($c['expected']['url'], $got, $c['name']);
                // And the broker side accepts it.
                $p = VerifyLinks::verifyConnectUrl($got, $in['now'], fn () => Secret::fromBase64url($inst['secret']));
                self::assertSame([$inst['id'], $in['state'], $in['returnUrl'], $in['scope']], [$p->installId, $p->state, $p->returnUrl, $p->scope]);
            } catch (CoreError $e) {
                self::assertSame($c['expected'], ['error' => $e->code()], $c['name']);
            }
            $checked++;
        }
        self::assertSame(7, $checked);
        foreach (self::vectors('uninstall_url') as $c) {
            $state = json_decode($c['state'], true);
            $inst = $state['installation'] ?? null;
            if ($inst === null) {
                continue;
            }
            $ts = (string) Clock::corrected($c['now'], $state['clock_offset']);
            $secret = Secret::fromBase64url($inst['secret']);
            $sig = Connect::linkSignature($secret, Connect::UNINSTALL_CONTEXT, [['install_id', $inst['id']], ['ts', $ts]]);
            $base = Url::parse($state['config']['broker_url'], 'b')->appendPath($state['config']['routes']['installations'] . '/' . $inst['id'] . '/uninstall', 'routes');
            $url = "{$base}?ts={$ts}&sig={$sig}";
            self::assertSame($c['expected']['url'], $url);
            self::assertSame((int) $ts, VerifyLinks::verifyUninstallTicket($inst['id'], $url, $c['now'] + 10, Connect::UNINSTALL_TICKET_MAX_AGE_SECS, fn () => $secret));
        }
    }

    /** Issue 14 item 10: the uninstall ticket lives 7 days (core connect::tests::uninstall_ticket_lives_seven_days). */
    public function testUninstallTicketLivesSevenDays(): void
    {
        self::assertSame(7 * 24 * 3600, Connect::UNINSTALL_TICKET_MAX_AGE_SECS);
        $secret = Secret::fromBytes(str_repeat("\x05", 32));
        $ts = 1_700_000_000;
        $sig = Connect::linkSignature($secret, Connect::UNINSTALL_CONTEXT, [['install_id', self::ID], ['ts', (string) $ts]]);
        $url = 'https://b.example/installations/' . self::ID . "/uninstall?ts={$ts}&sig={$sig}";
        $at = fn (int $now) => VerifyLinks::verifyUninstallTicket(self::ID, $url, $now, Connect::UNINSTALL_TICKET_MAX_AGE_SECS, fn () => $secret);
        self::assertSame($ts, $at($ts + 7 * 24 * 3600));
        self::assertCoreError('signature_expired', fn () => $at($ts + 7 * 24 * 3600 + 1));
        self::assertCoreError('signature_expired', fn () => $at($ts + 30 * 24 * 3600));
    }

    public function testVerifyConnectUrlChecksInOrder(): void
    {
        $secret = Secret::fromBytes(str_repeat("\x05", 32));
        $for = fn (string $id) => $id === self::ID ? $secret : null;
        $pairs = Connect::connectPairs(self::ID, 'state-0123456789abcdef', 'https://s.example/cb', null, '1700000000');
        $q = Connect::canonicalQuery($pairs) . '&sig=' . Connect::linkSignature($secret, Connect::CONNECT_CONTEXT, $pairs);
        self::assertSame(1_700_000_000, VerifyLinks::verifyConnectUrl("https://b.example/connect?{$q}#frag", 1_700_000_600, $for)->ts);
        self::assertCoreError('signature_expired', fn () => VerifyLinks::verifyConnectUrl($q, 1_700_000_601, $for));
        self::assertCoreError('signature_expired', fn () => VerifyLinks::verifyConnectUrl($q, 1_699_999_699, $for));
        self::assertSame(1_700_000_000, VerifyLinks::verifyConnectUrl($q, 1_699_999_700, $for)->ts);
        self::assertCoreError('signature_malformed', fn () => VerifyLinks::verifyConnectUrl($q . '&x=1', 1_700_000_000, $for), 'the signature is malformed: unexpected query parameter');
        self::assertCoreError('signature_malformed', fn () => VerifyLinks::verifyConnectUrl($q . '&ts=1', 1_700_000_000, $for), 'the signature is malformed: malformed or repeated query parameter');
        self::assertCoreError('signature_malformed', fn () => VerifyLinks::verifyConnectUrl('state=a&return_url=b&sig=c', 1, $for), 'the signature is malformed: missing connect parameter');
        self::assertCoreError('signature_malformed', fn () => VerifyLinks::verifyConnectUrl(str_replace('ts=1700000000', 'ts=-1', $q), 1, $for), 'the signature is malformed: ts must be unix seconds');
        self::assertCoreError('unknown_installation', fn () => VerifyLinks::verifyConnectUrl($q, 1_700_000_000, fn () => null));
        self::assertCoreError('signature_invalid', fn () => VerifyLinks::verifyConnectUrl(str_replace('state-0', 'state-1', $q), 1_700_000_000, $for));
        self::assertCoreError('too_large', fn () => VerifyLinks::verifyConnectUrl(str_repeat('a', 8193), 1, $for), '`url` is too large (limit 8192)');
        // A signed but refused return URL is reported after the signature check.
        $bad = Connect::connectPairs(self::ID, 'state-0123456789abcdef', 'https://s.example/cb?state=1', 'a b', '1700000000');
        $qb = Connect::canonicalQuery($bad) . '&sig=' . Connect::linkSignature($secret, Connect::CONNECT_CONTEXT, $bad);
        self::assertCoreError('invalid_url', fn () => VerifyLinks::verifyConnectUrl($qb, 1_700_000_000, $for));
        // Uninstall tickets: ts normalised before signing, max age, missing sig.
        $sig = Connect::linkSignature($secret, Connect::UNINSTALL_CONTEXT, [['install_id', self::ID], ['ts', '1700000000']]);
        self::assertSame(1_700_000_000, VerifyLinks::verifyUninstallTicket(self::ID, "ts=01700000000&sig={$sig}", 1_700_000_000, 0, $for));
        self::assertCoreError('signature_expired', fn () => VerifyLinks::verifyUninstallTicket(self::ID, "ts=1700000000&sig={$sig}", 1_700_000_001, 0, $for));
        self::assertCoreError('signature_missing', fn () => VerifyLinks::verifyUninstallTicket(self::ID, 'ts=1700000000', 1_700_000_000, 10, $for));
        self::assertCoreError('signature_invalid', fn () => VerifyLinks::verifyUninstallTicket('ins_other', "ts=1700000000&sig={$sig}", 1_700_000_000, 10, fn () => $secret));
        self::assertCoreError('signature_malformed', fn () => VerifyLinks::verifyUninstallTicket(self::ID, "ts=1700000000&sig={$sig}&sig=x", 1, 10, $for));
        self::assertCoreError('signature_malformed', fn () => VerifyLinks::verifyUninstallTicket(self::ID, "ts=1234567890123&sig={$sig}", 1, 10, $for));
    }

    public function testEmails(): void
    {
        foreach (['a@b.co', 'first.last+tag@sub.example.com', "ops@m\u{fc}nchen.de"] as $ok) {
            Registration::checkEmail($ok);
        }
        $bad = ['' => 'must contain @', 'a' => 'must contain @', 'a@b' => 'has an invalid domain', '@b.co' => 'has an invalid local part',
            'a@@b.co' => 'has an invalid local part', 'a b@c.co' => 'must be a single address without spaces', 'a@b..co' => 'has an invalid domain',
            'a@-b.co' => 'has an invalid domain', "a@b.co\n" => 'must be a single address without spaces', '<a>@b.co' => 'has an invalid local part',
            "a@b.co\u{a0}" => 'must be a single address without spaces', "a\u{85}@b.co" => 'must be a single address without spaces',
            'a@b_c.co' => 'has an invalid domain', str_repeat('a', 65) . '@b.co' => 'has an invalid local part',
            'a@' . str_repeat('b', 64) . '.co' => 'has an invalid domain'];
        foreach ($bad as $email => $reason) {
            self::assertCoreError('invalid_input', fn () => Registration::checkEmail((string) $email), "invalid `admin_email`: {$reason}", (string) $email);
        }
        self::assertCoreError('invalid_input', fn () => Registration::checkEmail(str_repeat('a', 250) . '@b.co'));
    }

    public function testSiteIdentities(): void
    {
        self::assertSame('https://shop.example/blog', Registration::siteIdentity('HTTPS://Shop.example/blog/', 's'));
        self::assertSame('chrome-extension://abcdefghijklmnopabcdefghijklmnop',
            Registration::siteIdentity('chrome-extension://ABCDEFGHIJKLMNOPabcdefghijklmnop/', 's'));
        self::assertSame('moz-extension://0b1c-2d3e', Registration::siteIdentity('moz-extension://0b1c-2d3e', 's'));
        self::assertCoreError('invalid_url', fn () => Registration::siteIdentity('chrome-extension://abc/options.html', 's'),
            'invalid URL in `s`: an extension origin must be scheme://<id> with no path');
        self::assertCoreError('invalid_url', fn () => Registration::siteIdentity('chrome-extension://', 's'));
        self::assertCoreError('invalid_url', fn () => Registration::siteIdentity('file:///etc', 's'), 'invalid URL in `s`: scheme must be http or https');
        self::assertCoreError('invalid_url', fn () => Registration::siteIdentity('Chrome-Extension://abc', 's'), 'invalid URL in `s`: scheme must be http or https');
    }

    public function testProofRoundTripAndChallenges(): void
    {
        $s = Secret::fromBytes(str_repeat("\x05", 32));
        $p = Registration::ownershipProof($s, 'ins_x', 'challenge-0123456789');
        Registration::verifyOwnershipProof($s, 'ins_x', 'challenge-0123456789', $p);
        Registration::verifyOwnershipProof($s, 'ins_x', 'challenge-0123456789', "\u{a0} {$p}\n");
        self::assertCoreError('ownership_proof_invalid', fn () => Registration::verifyOwnershipProof($s, 'ins_y', 'challenge-0123456789', $p), 'the ownership proof does not match');
        self::assertSame('/.well-known/tessera/ins_x', Registration::ownershipPath('ins_x'));
        self::assertCoreError('registration_rejected', fn () => Registration::checkChallenge('short'), 'the broker refused the registration (status 202, malformed_challenge)');
        self::assertSame('challenge-0123456789', Registration::parseChallenge('{"challenge":"challenge-0123456789"}'));
        foreach (['', '[]', '{"challenge":1}', '{"challenge":"a"}', '{"challenge":"challenge-0123456789","challenge":"challenge-0123456789"}',
            '{"challenge":"challenge 0123456789"}', '{"challenge":"challenge-0123456789"} x', '{"challenge":"challenge-0123456789"}' . str_repeat(' ', 16 * 1024)] as $body) {
            $e = self::assertCoreError('registration_rejected', fn () => Registration::parseChallenge($body));
            self::assertSame([202, 'malformed_challenge'], [$e->status(), $e->reason()]);
        }
    }

    public function testRegistrationBodyAndMeta(): void
    {
        $s = Secret::fromBytes(str_repeat("\x03", 32));
        $body = Registration::registrationBody('ins_1', 'https://s.example', "o\u{e9}@s.example", $s, 'wordpress', '1.0"');
        self::assertSame('{"install_id":"ins_1","site_url":"https://s.example","admin_email":"o' . "\u{e9}" . '@s.example","secret":"'
            . $s->toBase64url() . '","platform":"wordpress","plugin_version":"1.0\""}', $body);
        self::assertSame($s->toBase64url(), Json::parse($body)->get('secret')?->asStr());
        $reg = new Registration('https://Shop.example/', 'a@b.co', 'wordpress', '1.0.0');
        self::assertSame('https://shop.example', Registration::checkRegistration($reg));
        self::assertCoreError('invalid_input', fn () => Registration::checkMeta(new Registration('', '', 'WordPress', '1')), 'invalid `platform`: must be 1-32 of [a-z0-9._-]');
        self::assertCoreError('invalid_input', fn () => Registration::checkMeta(new Registration('', '', 'wp', '1 0')), 'invalid `plugin_version`: must be 1-32 visible ASCII characters');
        self::assertCoreError('invalid_input', fn () => Registration::checkMeta(new Registration('', '', 'wp', str_repeat('1', 33))));
        self::assertCoreError('invalid_input', fn () => Registration::checkRegistration(new Registration('nope', 'bad', 'wp', '1')), 'invalid `admin_email`: must contain @');
        self::assertCoreError('invalid_url', fn () => Registration::checkRegistration(new Registration('nope', 'a@b.co', 'wp', '1')));
        self::assertTrue(Registration::isExtensionId(str_repeat('a', 64)));
        self::assertFalse(Registration::isExtensionId(str_repeat('a', 65)));
        self::assertFalse(Sign::isProfileToken("\u{e9}"));
    }
}

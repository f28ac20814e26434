<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\CompanionCore;
use Tessera\Pure\Internal\Push;

/**
 * Pushed events (core/src/push.rs): the shared vectors straight through the
 * port (and its broker-side signer against them), the pinned test of the
 * push URL (core/tests/pinned/events.rs), and the header reader's edges
 * where PHP and Rust could read differently (Rust's `str::trim`,
 * `u8::from_str_radix`).
 */
final class PushTest extends Support
{
    /** Every case of push.json, through Push::verify() / registrationRequest(); a signature the vector signed is also what Push::sign() makes. */
    public function testTheVectors(): void
    {
        foreach (self::vectors('push') as $case) {
            $c = CompanionCore::fromJson($case['state']);
            try {
                if (\array_key_exists('url', $case)) {
                    $r = Push::registrationRequest($c, $case['url']);
                    $got = ['method' => $r->method, 'path' => $r->path, 'body' => $r->body];
                } else {
                    $events = Push::verify($c, $case['headers'], $case['body'], $case['now']);
                    $got = ['events' => array_map(fn ($e) => [
                        'id' => $e->id, 'type' => $e->type, 'api_version' => $e->apiVersion, 'created_at' => $e->createdAt, 'data_json' => $e->dataJson,
                    ], $events)];
                }
            } catch (\Tessera\Pure\Internal\CoreError $e) {
                $got = ['error' => $e->code()];
            }
            self::assertSame($case['expected'], $got, $case['name']);
        }
        $one = array_values(array_filter(self::vectors('push'), fn ($c) => $c['name'] === 'one event'))[0];
        $inst = CompanionCore::fromJson($one['state'])->state->installation;
        self::assertNotNull($inst);
        self::assertSame($one['headers'][0][1], Push::sign($inst->secret, $inst->id, $one['body'], 1700000000));
    }

    /** core/tests/pinned/events.rs `a_push_url_is_http_on_the_sites_own_origin`. */
    public function testAPushUrlIsHttpOnTheSitesOwnOrigin(): void
    {
        $site = 'https://shop.example';
        self::assertSame('https://shop.example/hook', Push::checkUrl($site, 'https://shop.example/hook'));
        self::assertSame('https://shop.example/hook', Push::checkUrl($site, 'https://SHOP.example:443/hook'));
        foreach (['https://shop.example.evil/hook', 'https://evil.example/?https://shop.example', 'http://shop.example/hook'] as $bad) {
            self::assertCoreError('invalid_url', fn () => Push::checkUrl($site, $bad), "invalid URL in `push_url`: must be on the site's own origin", $bad);
        }
        $extension = 'chrome-extension://abcdefghijklmnopabcdefghijklmnop';
        self::assertCoreError('invalid_url', fn () => Push::checkUrl($extension, "{$extension}/events"), null, 'no push to an extension');
        $long = 'https://shop.example/' . str_repeat('a', 2048 - 21);
        self::assertSame(2048, \strlen(Push::checkUrl($site, $long)));
        self::assertCoreError('too_large', fn () => Push::checkUrl($site, $long . 'a'), '`push_url` is too large (limit 2048)');
        // The URL is read before the site's (a bad site URL is named second).
        self::assertCoreError('invalid_url', fn () => Push::checkUrl('nonsense', 'also-nonsense'), 'invalid URL in `push_url`: must be an absolute http(s) URL');
        self::assertCoreError('invalid_url', fn () => Push::checkUrl('nonsense', 'https://shop.example/'), 'invalid URL in `site_url`: must be an absolute http(s) URL');
    }

    /** `parse_timestamped_signature`, where a port could read otherwise. */
    public function testTheSignatureHeader(): void
    {
        $mac = str_repeat('ab', 32);
        $bytes = str_repeat("\xab", 32);
        self::assertSame(['1700000000', 1700000000, [$bytes]], Push::parseTimestampedSignature("t=1700000000,v1={$mac}"));
        // Parts trimmed as Rust's str::trim trims (Unicode White_Space, not NUL), other keys ignored, hex in either case.
        self::assertSame(['0', 0, [$bytes, $bytes]], Push::parseTimestampedSignature(" t=0 ,\u{a0}v1=" . strtoupper($mac) . "\u{3000},\x0cv1={$mac},x=,v0=zz"));
        self::assertNull(Push::parseTimestampedSignature("t=1,v1={$mac}\0"));
        // Hex digits only: a sign before a digit is not hex.
        self::assertNull(Push::parseTimestampedSignature('t=1,v1=' . str_repeat('+f', 32)));
        self::assertNull(Push::parseTimestampedSignature('t=1,v1=' . str_repeat('++', 32)));
        self::assertNull(Push::parseTimestampedSignature('t=1,v1=' . str_repeat('f+', 32)));
        self::assertNull(Push::parseTimestampedSignature('t=1,v1=' . str_repeat('-f', 32)));
        self::assertNull(Push::parseTimestampedSignature('t=1,v1=' . str_repeat('é', 32)));
        // t: 1 to 12 digits, once; v1: 64 hex digits, 1 to 8 of them; every part needs an '='.
        self::assertSame(999999999999, Push::parseTimestampedSignature("t=999999999999,v1={$mac}")[1] ?? null);
        foreach (['', ',', "t=1,v1={$mac},", "t=1,v1={$mac},x", "t=,v1={$mac}", "t=1234567890123,v1={$mac}", "t=+1,v1={$mac}", "t=1,t=1,v1={$mac}",
            "v1={$mac}", 't=1', 't=1,v1=', "t=1,v1={$mac}a", 't=1,v1=' . substr($mac, 1), "T=1,v1={$mac}", "t =1,v1={$mac}",
            't=1' . str_repeat(",v1={$mac}", 9)] as $bad) {
            self::assertNull(Push::parseTimestampedSignature($bad), var_export($bad, true));
        }
        self::assertCount(8, Push::parseTimestampedSignature('t=1' . str_repeat(",v1={$mac}", 8))[2] ?? []);
    }
}

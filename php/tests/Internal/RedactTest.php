<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\CompanionCore;
use Tessera\Pure\Internal\Config;
use Tessera\Pure\Internal\Redact;
use Tessera\Pure\Internal\Request;

/** Port of core/src/redact.rs's tests (the same connected state). */
final class RedactTest extends Support
{
    private const CONNECTED = '{"v":1,"config":{"broker_url":"https://broker.example"},"status":"connected","installation":{"id":"ins_4Z1om6of97j5zLLmoYPXlA","site_url":"https://shop.example","admin_email":"owner@shop.example","secret":"s1FW3nL0XCe7rGc1Zbj6XJd76wKLSmTxAQbSq1lJ2kA","platform":"wordpress","plugin_version":"1.2.3","confirmed":true},"broker_token":"tok_BROKER_TOKEN_1","clock_offset":0}';

    private const SECRET = 's1FW3nL0XCe7rGc1Zbj6XJd76wKLSmTxAQbSq1lJ2kA';

    public function testReplacesEveryOccurrenceWithoutOverlap(): void
    {
        $core = CompanionCore::create(new Config('https://broker.example'));
        $sent = fn (string $v): Request => new Request('GET', 'https://broker.example/', [['authorization', $v]]);
        self::assertSame('a [redacted] b [redacted]', Redact::text($core, 'a tok b tok', $sent('tok')));
        self::assertSame('to', Redact::text($core, 'to', $sent('tok')));
        self::assertSame('[redacted]to', Redact::text($core, 'tototo', $sent('toto')));
        self::assertSame("\xff [redacted]", Redact::text($core, "\xff tok", $sent('tok')));
        self::assertSame('', Redact::text($core, '', $sent('tok')));
    }

    public function testTheSecretAndTheCredentialsOfTheRequestGo(): void
    {
        $core = CompanionCore::fromJson(self::CONNECTED);
        $sent = new Request('GET', 'https://broker.example/api/x', [
            ['authorization', 'Bearer tok_ABC'],
            ['signature', 'tessera=:c2ln:'],
            ['x-other', 'kept'],
        ]);
        $text = 'failed: ' . self::SECRET . " / Bearer tok_ABC / tessera=:c2ln: / tok_BROKER_TOKEN_1 / kept / \u{e9}";
        self::assertSame("failed: [redacted] / [redacted] / [redacted] / [redacted] / kept / \u{e9}", Redact::text($core, $text, $sent));
        self::assertSame(
            "failed: [redacted] / Bearer tok_ABC / tessera=:c2ln: / [redacted] / kept / \u{e9}",
            Redact::text($core, $text, null),
        );
    }

    public function testTheLongerSecretGoesWhole(): void
    {
        $core = CompanionCore::fromJson(self::CONNECTED);
        $sent = new Request('GET', 'https://broker.example/', [['signature', 'ab'], ['authorization', 'xxabxx']]);
        self::assertSame('<[redacted]>', Redact::text($core, '<xxabxx>', $sent));
        self::assertSame('<[redacted]>', Redact::text($core, '<ab>', $sent));
    }

    public function testAnEmptyCredentialRemovesNothing(): void
    {
        $core = CompanionCore::create(new Config('https://broker.example'));
        $sent = new Request('GET', 'https://broker.example/', [['authorization', '']]);
        self::assertSame('nothing secret', Redact::text($core, 'nothing secret', $sent));
        self::assertSame('nothing secret', Redact::text(null, 'nothing secret', null));
    }
}

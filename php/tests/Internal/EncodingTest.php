<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\Encoding;
use Tessera\Pure\Internal\Ints;
use Tessera\Pure\Internal\Text;

/** Port of core/src/encoding.rs tests, plus edge cases. */
final class EncodingTest extends Support
{
    public function testPctRoundTrip(): void
    {
        $s = "https://a.example/x?y=1&z=\u{e9} ~";
        $e = Encoding::pctEncode($s);
        self::assertSame('https%3A%2F%2Fa.example%2Fx%3Fy%3D1%26z%3D%C3%A9%20~', $e);
        self::assertSame($s, Encoding::pctDecodeQuery($e));
        self::assertSame('a b', Encoding::pctDecodeQuery('a+b'));
        self::assertNull(Encoding::pctDecodeQuery('%G1'));
        self::assertNull(Encoding::pctDecodeQuery('%4'));
        self::assertNull(Encoding::pctDecodeQuery('%FF'));
        self::assertNull(Encoding::pctDecodeQuery('%'));
        self::assertSame('%', Encoding::pctDecodeQuery('%25'));
        self::assertSame("\u{e9}", Encoding::pctDecodeQuery('%c3%A9'));
        self::assertSame('-._~', Encoding::pctEncode('-._~'));
        self::assertSame('%2B%2A%21', Encoding::pctEncode('+*!'));
    }

    public function testPctEncodeEveryByte(): void
    {
        for ($b = 0; $b < 256; $b++) {
            $want = Encoding::isUnreserved($b) ? \chr($b) : \sprintf('%%%02X', $b);
            self::assertSame($want, Encoding::pctEncode(\chr($b)), "byte {$b}");
        }
    }

    /**
     * @return list<array{0: string, 1: string, 2: string}>
     */
    public static function rfc4648(): array
    {
        return [
            ['', '', ''],
            ['f', 'Zg==', 'Zg'],
            ['fo', 'Zm8=', 'Zm8'],
            ['foo', 'Zm9v', 'Zm9v'],
            ['foob', 'Zm9vYg==', 'Zm9vYg'],
            ['fooba', 'Zm9vYmE=', 'Zm9vYmE'],
            ['foobar', 'Zm9vYmFy', 'Zm9vYmFy'],
            ["\u{fb}\u{ff}", 'w7vDvw==', 'w7vDvw'],
        ];
    }

    /**
     * @dataProvider rfc4648
     */
    public function testBase64MatchesRfc4648Vectors(string $raw, string $std, string $url): void
    {
        self::assertSame($std, Encoding::b64Encode($raw));
        self::assertSame($url, Encoding::b64urlEncode($raw));
        self::assertSame($raw, Encoding::b64Decode($std));
        self::assertSame($raw, Encoding::b64urlDecode($url));
    }

    public function testBase64IsStrict(): void
    {
        self::assertSame('-_8', Encoding::b64urlEncode("\xfb\xff"));
        self::assertSame('+/8=', Encoding::b64Encode("\xfb\xff"));
        foreach (['Zg=', 'Zg', 'Zg===', 'Z===', 'Zh==', 'Zm9=', 'Zm8==', 'Z', 'Zm9v=', 'Zg==Zg==', '-_8=', 'Zm 9v',
            "Zm9v\n", ' Zm9v', 'Zm9v====', '====', '=Zm9', 'Zg=='] as $bad) {
            if ($bad === 'Zg==') {
                continue;
            }
            self::assertNull(Encoding::b64Decode($bad), $bad);
        }
        foreach (['Zg==', 'Zh', 'Zm9', 'Z', '+/8', 'Zm9vY', 'Zm9v Yg', "Zg\n", 'Zg=', '=', 'Zm8='] as $bad) {
            self::assertNull(Encoding::b64urlDecode($bad), $bad);
        }
    }

    public function testBase64RoundTripsRandomBytes(): void
    {
        mt_srand(7);
        for ($i = 0; $i < 300; $i++) {
            $bytes = '';
            $n = mt_rand(0, 40);
            for ($j = 0; $j < $n; $j++) {
                $bytes .= \chr(mt_rand(0, 255));
            }
            self::assertSame($bytes, Encoding::b64Decode(Encoding::b64Encode($bytes)));
            self::assertSame($bytes, Encoding::b64urlDecode(Encoding::b64urlEncode($bytes)));
        }
    }

    public function testQueryPairs(): void
    {
        $q = Encoding::parseQuery('a=1&b=&c&&d=x%20y');
        self::assertNotNull($q);
        self::assertCount(4, $q);
        self::assertSame(['d', 'x y'], $q[3]);
        self::assertSame(['c', ''], $q[2]);
        self::assertSame([['a', 'b=c']], Encoding::parseQuery('a=b=c'));
        self::assertSame([], Encoding::parseQuery(''));
        self::assertNull(Encoding::parseQuery('a=%zz'));
        self::assertNull(Encoding::parseQuery('%FF=1'));
        self::assertSame('ab01', Encoding::hex("\xab\x01"));
    }

    public function testIntsBehaveLikeRustI64(): void
    {
        self::assertSame(\PHP_INT_MAX, Ints::saturatingAdd(\PHP_INT_MAX, 1));
        self::assertSame(\PHP_INT_MIN, Ints::saturatingAdd(\PHP_INT_MIN, -1));
        self::assertSame(\PHP_INT_MAX, Ints::saturatingSub(0, \PHP_INT_MIN));
        self::assertSame(\PHP_INT_MIN, Ints::saturatingSub(\PHP_INT_MIN, 1));
        self::assertSame(5, Ints::saturatingSub(7, 2));
        self::assertSame(\PHP_INT_MAX, Ints::wrappingSub(\PHP_INT_MIN, 1));
        self::assertSame(\PHP_INT_MIN, Ints::wrappingSub(\PHP_INT_MAX, -1));
        self::assertSame(-1, Ints::wrappingSub(\PHP_INT_MAX, \PHP_INT_MIN));
        self::assertSame(1, Ints::wrappingSub(\PHP_INT_MIN, \PHP_INT_MAX));
        self::assertSame(253_402_300_799 + \PHP_INT_MIN, Ints::wrappingSub(253_402_300_799, \PHP_INT_MIN));
    }

    public function testRustTrimSemantics(): void
    {
        self::assertSame('a b', Text::trim(" \t\n\x0B\x0C\ra b \r\n"));
        self::assertSame('x', Text::trim("\u{a0}\u{3000}x\u{2028}\u{85}"));
        self::assertSame("\x1Fx\x00", Text::trim("\x1Fx\x00"));
        self::assertSame("\u{200b}x", Text::trim("\u{200b}x"));
        self::assertSame('', Text::trim("\u{2000}\u{200a}\u{202f}\u{205f}\u{1680}"));
        self::assertSame("a\nb", Text::trim("a\nb"));
        self::assertSame("x\n", Text::trimAscii(" x\n ") . "\n");
        self::assertTrue(Text::hasSpaceOrControl("a\u{85}"));
        self::assertFalse(Text::hasSpaceOrControl("m\u{fc}nchen"));
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\HttpDate;
use Tessera\Pure\Internal\Json;
use Tessera\Pure\Internal\JsonDuplicateKey;
use Tessera\Pure\Internal\JsonParseError;
use Tessera\Pure\Internal\JsonValue;
use Tessera\Pure\Internal\ObjectWriter;
use Tessera\Pure\Internal\Sfv;
use Tessera\Pure\Internal\SfvBareItem;
use Tessera\Pure\Internal\SfvInnerList;
use Tessera\Pure\Internal\SfvItem;

/** Ports of core/src/sfv.rs, core/src/httpdate.rs and core/src/json.rs tests. */
final class SfvDateJsonTest extends Support
{
    public function testParsesSignatureInput(): void
    {
        $d = Sfv::parseDictionary('sig1=("@method" "content-digest";req);created=1618884473;keyid="k", sig2=?0');
        self::assertCount(2, $d);
        $l = $d[0][1];
        self::assertInstanceOf(SfvInnerList::class, $l);
        self::assertCount(2, $l->items);
        self::assertSame('req', $l->items[1]->params[0][0]);
        self::assertTrue($l->items[1]->params[0][1]->equals(SfvBareItem::boolean(true)));
        self::assertSame('("@method" "content-digest";req);created=1618884473;keyid="k"', Sfv::writeInnerList($l));
    }

    public function testNumbersAndBytes(): void
    {
        $d = Sfv::parseDictionary('a=-12, b=1.5, c=:aGk=:, d=tok/x, e');
        self::assertTrue($d[0][1]->bare->equals(SfvBareItem::integer(-12)));
        self::assertTrue($d[1][1]->bare->equals(SfvBareItem::decimal(1500)));
        self::assertTrue($d[2][1]->bare->equals(SfvBareItem::byteSeq('hi')));
        self::assertTrue($d[3][1]->bare->equals(SfvBareItem::token('tok/x')));
        self::assertTrue($d[4][1]->bare->equals(SfvBareItem::boolean(true)));
        self::assertSame('1.5', Sfv::writeBare(SfvBareItem::decimal(1500)));
        self::assertSame('-0.05', Sfv::writeBare(SfvBareItem::decimal(-50)));
        self::assertSame('0.0', Sfv::writeBare(SfvBareItem::decimal(0)));
        self::assertSame('"a\\"b\\\\"', Sfv::writeBare(SfvBareItem::string('a"b\\')));
        self::assertSame(';a;b=?0;c=:aGk=:', Sfv::writeParams([['a', SfvBareItem::boolean(true)], ['b', SfvBareItem::boolean(false)],
            ['c', SfvBareItem::byteSeq('hi')]]));
        self::assertSame('()', Sfv::writeInnerList(new SfvInnerList([])));
        self::assertSame('(1 x)', Sfv::writeInnerList(new SfvInnerList([new SfvItem(SfvBareItem::integer(1)), new SfvItem(SfvBareItem::token('x'))])));
    }

    public function testRejectsMalformed(): void
    {
        $bad = [
            'A=1' => 'key must start with a lowercase letter or *',
            'a=(' => 'expected a bare item',
            'a=(1 2' => 'inner list items must be separated by a space',
            'a=1,' => 'trailing comma',
            'a="x' => 'unterminated string',
            'a=:zz:' => 'byte sequence is not base64',
            'a=:aGk=' => 'unterminated byte sequence',
            'a=1234567890123456' => 'integer too long',
            'a=1.2345' => 'decimal out of range',
            'a=?2' => 'bad boolean',
            'a="\\x"' => 'bad escape in string',
            'a=(1)(2)' => 'expected , between members',
            'a=1 b=2' => 'expected , between members',
            "a=\"\u{e9}\"" => 'string has a non-printable character',
            'a=-' => 'number without digits',
            'a=.5' => 'expected a bare item',
            'a=(1,2)' => 'inner list items must be separated by a space',
        ];
        foreach ($bad as $text => $what) {
            self::assertCoreError('signature_malformed', fn () => Sfv::parseDictionary($text), "the signature is malformed: {$what}", $text);
        }
        self::assertCoreError('signature_malformed', fn () => Sfv::parseDictionary(str_repeat('a', Sfv::MAX_FIELD_LEN + 1)), 'the signature is malformed: field too long');
        $many = implode(',', array_map(fn ($i) => "k{$i}=1", range(0, 64)));
        self::assertCoreError('signature_malformed', fn () => Sfv::parseDictionary($many), 'the signature is malformed: too many members');
        self::assertCount(64, Sfv::parseDictionary(implode(',', array_map(fn ($i) => "k{$i}=1", range(0, 63)))));
        self::assertCoreError('signature_malformed', fn () => Sfv::parseDictionary('a=(' . str_repeat('1 ', 65) . ')'), 'the signature is malformed: inner list too long');
        self::assertCoreError('signature_malformed', fn () => Sfv::parseDictionary('a=1' . implode('', array_map(fn ($i) => ";p{$i}", range(0, 32)))), 'the signature is malformed: too many parameters');
        self::assertCoreError('signature_malformed', fn () => Sfv::parseDictionary(str_repeat('k', 65) . '=1'), 'the signature is malformed: key too long');
        self::assertSame([], Sfv::parseDictionary('   '));
    }

    public function testLastDuplicateWins(): void
    {
        $d = Sfv::parseDictionary('a=1, b=3, a=2');
        self::assertCount(2, $d);
        self::assertSame('a', $d[0][0]);
        self::assertTrue($d[0][1]->bare->equals(SfvBareItem::integer(2)));
        $p = Sfv::parseDictionary('a=1;x=1;y;x=2')[0][1]->params;
        self::assertSame(';x=2;y', Sfv::writeParams($p));
    }

    public function testHttpDatesRoundTripAcrossTheRange(): void
    {
        for ($t = 0; $t < 4_102_444_800; $t += 86_400 * 7 - 1) {
            self::assertSame($t, HttpDate::parse(HttpDate::format($t)), HttpDate::format($t));
        }
        foreach ([951_782_400, 951_868_799, 4_107_542_400, 253_402_300_799] as $t) {
            self::assertSame($t, HttpDate::parse(HttpDate::format($t)));
        }
        self::assertSame('Thu, 01 Jan 1970 00:00:00 GMT', HttpDate::format(-5));
        self::assertSame('Fri, 31 Dec 9999 23:59:59 GMT', HttpDate::format(\PHP_INT_MAX));
        self::assertSame('Sun, 06 Nov 1994 08:49:37 GMT', HttpDate::format(784_111_777));
        self::assertSame(gmdate('D, d M Y H:i:s', 1_700_000_000) . ' GMT', HttpDate::format(1_700_000_000));
    }

    public function testHttpDateObsoleteForms(): void
    {
        self::assertSame(784_111_777, HttpDate::parse('Sun, 06 Nov 1994 08:49:37 GMT'));
        self::assertSame(784_111_777, HttpDate::parse('Sunday, 06-Nov-94 08:49:37 GMT'));
        self::assertSame(784_111_777, HttpDate::parse('Sun Nov  6 08:49:37 1994'));
        self::assertSame(0, HttpDate::parse('Thursday, 01-Jan-70 00:00:00 GMT'));
        self::assertSame(946_684_800, HttpDate::parse('Saturday, 01-Jan-00 00:00:00 GMT'));
        self::assertSame(0, HttpDate::parse('Thu Jan  1 00:00:00 1970'));
        self::assertSame(946_684_800, HttpDate::parse('Sat Jan 01 00:00:00 2000'));
        self::assertSame(784_111_777, HttpDate::parse("  Sun, 06 Nov 1994 08:49:37 GMT\t"));
        self::assertSame(784_111_777, HttpDate::parse("\u{a0}Sun, 06 Nov 1994 08:49:37 GMT\u{3000}"));
    }

    public function testHttpDateRejectsImpossibleAndMalformed(): void
    {
        foreach (['', 'Sun, 06 Nov 1994 08:49:37 UTC', 'sun, 06 Nov 1994 08:49:37 GMT', 'Sun, 06 nov 1994 08:49:37 GMT',
            'Sun,  6 Nov 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 24:00:00 GMT', 'Sun, 06 Nov 1994 08:60:37 GMT',
            'Sun, 06 Nov 1994 08:49:60 GMT', 'Thu, 29 Feb 2001 00:00:00 GMT', 'Mon, 31 Apr 2000 00:00:00 GMT',
            'Wed, 31 Dec 1969 23:59:59 GMT', 'Sun, 06 Nov +994 08:49:37 GMT', 'Sunday, 06-Nov-1994 08:49:37 GMT',
            'Sun Nov 6 08:49:37 1994', "Sun, 06 Nov 1994 08:49:37 GMT\u{e9}", 'Sonntag, 06-Nov-94 08:49:37 GMT',
            '1994-11-06T08:49:37Z', 'Mon, 06 Nov 1994 08:49:37 GMT', "Sun, 06 Nov 1994 08:49:37 GMT\u{200b}"] as $s) {
            self::assertNull(HttpDate::parse($s), $s);
        }
        self::assertSame(951_782_400, HttpDate::parse('Tue, 29 Feb 2000 00:00:00 GMT'));
    }

    public function testJsonReadsEveryKindOfValue(): void
    {
        $v = Json::parse(' {"a":[1,-2.5e3,true,false,null],"b":{"c":"d\u00e9\ud83d\ude00\n"}} ');
        $a = $v->get('a');
        self::assertNotNull($a);
        $items = $a->items();
        self::assertSame(['1', '-2.5e3'], [$items[0]->value, $items[1]->value]);
        self::assertSame([true, false], [$items[2]->asBool(), $items[3]->asBool()]);
        self::assertSame(JsonValue::NULL, $items[4]->kind);
        self::assertSame("d\u{e9}\u{1F600}\n", $v->get('b')?->get('c')?->asStr());
        self::assertTrue($v->isObject());
    }

    public function testJsonIntegersOnlyWhereIntegersAreAskedFor(): void
    {
        self::assertSame('18446744073709551615', Json::parse('18446744073709551615')->asU64Text());
        self::assertNull(Json::parse('18446744073709551615')->asU64());
        self::assertSame(\PHP_INT_MAX, Json::parse('9223372036854775807')->asU64());
        self::assertNull(Json::parse('18446744073709551616')->asU64Text());
        self::assertNull(Json::parse('-1')->asU64());
        self::assertSame(\PHP_INT_MIN, Json::parse('-9223372036854775808')->asI64());
        self::assertNull(Json::parse('-9223372036854775809')->asI64());
        self::assertNull(Json::parse('9223372036854775808')->asI64());
        self::assertSame(0, Json::parse('-0')->asI64());
        self::assertNull(Json::parse('1.0')->asU64());
        self::assertNull(Json::parse('1e3')->asI64());
        self::assertNull(Json::parse('"1"')->asU64());
    }

    public function testJsonRejectsWhatRfc8259Rejects(): void
    {
        $cases = ['' => ['unexpected end of input', 0], '{' => ['expected a member name', 1], '{"a":1,}' => ['expected a member name', 7],
            '[1,]' => ['expected a value', 3], '01' => ['trailing characters', 1], '1.' => ['invalid number', 2], '-' => ['invalid number', 1],
            '1e' => ['invalid number', 2], '.5' => ['expected a value', 0], '+1' => ['expected a value', 0],
            '"\\x"' => ['invalid escape', 2], "\"a\nb\"" => ['control character in string', 2], '"\\ud800"' => ['lone surrogate', 7],
            '"\\udc00"' => ['lone surrogate', 7], '"\\ud800\\u0041"' => ['lone surrogate', 13], "\"\xff\"" => ['invalid UTF-8 in string', 3],
            'nul' => ['invalid literal', 0], 'truex' => ['trailing characters', 4], '{} {}' => ['trailing characters', 3],
            "{'a':1}" => ['expected a member name', 1], "// c\n{}" => ['expected a value', 0], 'NaN' => ['expected a value', 0],
            '"abc' => ['unterminated string', 4], '"\\u12"' => ['invalid \\u escape', 5], '{"a" 1}' => ["expected ':'", 5],
            '[1 2]' => ["expected ',' or ']'", 3], '{"a":1 "b":2}' => ["expected ',' or '}'", 7], '"\\' => ['unterminated string', 2]];
        foreach ($cases as $s => [$what, $at]) {
            try {
                Json::parse((string) $s);
                self::fail("accepted {$s}");
            } catch (JsonParseError $e) {
                self::assertSame([$what, $at], [$e->what, $e->at], (string) $s);
                self::assertSame("{$what} at byte {$at}", $e->getMessage());
            }
        }
    }

    public function testJsonBoundsDepth(): void
    {
        Json::parse(str_repeat('[', Json::MAX_DEPTH) . str_repeat(']', Json::MAX_DEPTH));
        foreach ([str_repeat('[', 100_000), str_repeat('{"a":', Json::MAX_DEPTH + 1) . '1' . str_repeat('}', Json::MAX_DEPTH + 1)] as $deep) {
            try {
                Json::parse($deep);
                self::fail('accepted');
            } catch (JsonParseError $e) {
                self::assertSame('nested too deeply', $e->what);
            }
        }
    }

    public function testJsonDuplicateMembersAreAmbiguous(): void
    {
        $v = Json::parse('{"a":1,"a":2,"b":3}');
        self::assertSame(3, $v->get('b')?->asU64());
        self::assertNull($v->get('zz'));
        self::assertNull(Json::parse('[1]')->get('a'));
        $this->expectException(JsonDuplicateKey::class);
        $v->get('a');
    }

    public function testJsonErrorsNeverQuoteTheInput(): void
    {
        try {
            Json::parse('{"secret":"hunter2hunter2"');
            self::fail('accepted');
        } catch (JsonParseError $e) {
            self::assertStringNotContainsString('hunter2', $e->getMessage());
            self::assertSame(26, $e->at);
        }
    }

    public function testJsonWritesStringsLikeTheCommonSerialisers(): void
    {
        $s = "a\"b\\c/d\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}\u{e9}\u{1F600}";
        $out = Json::writeStr($s);
        self::assertSame("\"a\\\"b\\\\c/d\\u0001\\b\\f\\n\\r\\t\\u001f\u{7f}\u{e9}\u{1F600}\"", $out);
        self::assertSame($s, Json::parse($out)->asStr());
        self::assertSame($s, json_decode($out));
        self::assertSame(json_encode("\u{2028}x\x00", JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_LINE_TERMINATORS), Json::writeStr("\u{2028}x\x00"));
    }

    public function testObjectWriter(): void
    {
        $o = new ObjectWriter();
        $o->str('a', 'x"y');
        $o->u64('n', 7);
        $o->i64('m', -7);
        $o->bool('t', true);
        $inner = new ObjectWriter();
        $inner->optStr('none', null);
        $inner->optStr('some', 's');
        $o->key('inner');
        $o->raw($inner->end());
        self::assertSame('{"a":"x\"y","n":7,"m":-7,"t":true,"inner":{"none":null,"some":"s"}}', $o->end());
        self::assertSame('{}', (new ObjectWriter())->end());
    }

    public function testSfvErrorsAreCoreErrors(): void
    {
        $e = self::assertCoreError('signature_malformed', fn () => Sfv::parseDictionary('A'));
        self::assertInstanceOf(CoreError::class, $e);
        self::assertSame('key must start with a lowercase letter or *', $e->detail);
        self::assertSame([401, 'signature_malformed'], $e->wireCode());
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

/**
 * Differential against the Rust core: fixtures/oracle.jsonl holds generated
 * inputs (OracleGen) and the Rust core's answers (oracle/main.rs); every one
 * must come out identical from the pure-PHP lower layer (values, error codes
 * and messages, byte offsets, serialisations).
 */
final class OracleTest extends Support
{
    /**
     * @return iterable<string, array{0: array<string, mixed>, 1: mixed}>
     */
    public static function cases(): iterable
    {
        $lines = file(__DIR__ . '/fixtures/oracle.jsonl', FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES);
        self::assertIsArray($lines);
        $byOp = [];
        foreach ($lines as $n => $line) {
            $c = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
            $byOp[$c['in']['op']][] = [$n + 1, $c['in'], $c['out']];
        }
        foreach ($byOp as $op => $list) {
            yield $op => [$list];
        }
    }

    /**
     * @dataProvider cases
     * @param list<array{0: int, 1: array<string, mixed>, 2: mixed}> $list
     */
    public function testMatchesTheRustCore(array $list): void
    {
        foreach ($list as [$line, $in, $want]) {
            $got = Oracle::canonical(json_decode(json_encode(Oracle::run($in), JSON_THROW_ON_ERROR), true));
            self::assertSame(Oracle::canonical($want), $got, "fixtures/oracle.jsonl line {$line}: " . json_encode($in, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE));
        }
    }
}

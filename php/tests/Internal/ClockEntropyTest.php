<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\CallableEntropy;
use Tessera\Pure\Internal\Clock;
use Tessera\Pure\Internal\OsEntropy;
use Tessera\Pure\Internal\SeededEntropy;

/** Ports of core/src/clock.rs and core/src/entropy.rs tests. */
final class ClockEntropyTest extends Support
{
    public function testExtremesAreRefusedOrBounded(): void
    {
        self::assertSame(0, Clock::wireTime(0));
        self::assertSame(Clock::MAX_UNIX_SECS, Clock::wireTime(Clock::MAX_UNIX_SECS));
        foreach ([-1, Clock::MAX_UNIX_SECS + 1, \PHP_INT_MIN, \PHP_INT_MAX] as $bad) {
            self::assertCoreError('invalid_input', fn () => Clock::wireTime($bad), 'invalid `now`: must be unix seconds from 1970 to 9999');
        }
        self::assertCoreError('invalid_input', fn () => Clock::corrected(\PHP_INT_MAX, \PHP_INT_MAX));
        self::assertSame(1_699_999_970, Clock::corrected(1_700_000_000, -30));
        self::assertSame(Clock::MAX_CLOCK_OFFSET_SECS, Clock::offsetFrom(\PHP_INT_MAX, \PHP_INT_MIN));
        self::assertSame(-Clock::MAX_CLOCK_OFFSET_SECS, Clock::offsetFrom(0, \PHP_INT_MAX));
        self::assertSame(100, Clock::offsetFrom(1_700_000_100, 1_700_000_000));
    }

    public function testSeededIsDeterministicAndAdvances(): void
    {
        $a = new SeededEntropy(str_repeat("\x01", 32));
        $b = new SeededEntropy(str_repeat("\x01", 32));
        $x = $a->fill(40);
        self::assertSame($x, $b->fill(40));
        self::assertNotSame($x, $a->fill(40));
        self::assertSame(40, \strlen($x));
    }

    public function testSeededIsSha256CounterModePerFillCall(): void
    {
        $seed = str_repeat("\x2a", 32);
        $block = static fn (int $n): string => hash('sha256', $seed . pack('J', $n), true);
        $e = new SeededEntropy($seed);
        // fill(16) uses block 0 and drops the rest of it; fill(40) uses blocks 1 and 2.
        self::assertSame(substr($block(0), 0, 16), $e->fill(16));
        self::assertSame($block(1) . substr($block(2), 0, 8), $e->fill(40));
        self::assertSame('', $e->fill(0));
        self::assertSame($block(3), $e->fill(32));
    }

    public function testSeedMustBe32Bytes(): void
    {
        self::assertCoreError('invalid_input', fn () => new SeededEntropy('short'));
    }

    public function testClosuresAreEntropy(): void
    {
        $calls = 0;
        $f = new CallableEntropy(function (int $n) use (&$calls): string {
            $calls++;
            return str_repeat("\x04", $n);
        });
        self::assertSame("\x04\x04\x04", $f->fill(3));
        self::assertSame(1, $calls);
        $bad = new CallableEntropy(fn (int $n): string => 'x');
        self::assertCoreError('internal', fn () => $bad->fill(3));
        self::assertSame(16, \strlen((new OsEntropy())->fill(16)));
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Where one companion's randomness and `now` come from: the system (port of
 * `TestHooks` in `php-ext/src/host.rs`). This package has no way to change
 * either: the test hooks `StorefrontSync\Vendor\Tessera\Testing\useSeededEntropy()` /
 * `useClock()` live in php/tests/testing.php, outside the package's
 * autoload, like the extension's, which only its test build has.
 */
final class TestHooks
{
    /** The seeded stream a test set (php/tests/testing.php): one stream across calls. */
    private ?SeededEntropy $seeded = null;
    /** @var callable|null the clock a test set (php/tests/testing.php) */
    private $clock = null;
    private static ?OsEntropy $os = null;

    /** The seeded stream when one is set, else the OS CSPRNG. */
    public function entropy(): Entropy
    {
        return $this->seeded ?? (self::$os ??= new OsEntropy());
    }

    /**
     * The host clock, unix seconds: the `useClock()` callable when one is
     * set, else the system clock.
     *
     * @throws CoreError when the clock returns something else than an int
     */
    public function now(): int
    {
        if ($this->clock === null) {
            return Host::unixNow();
        }
        $now = ($this->clock)();
        return is_int($now) ? $now : throw CoreError::invalidInput('clock', 'must return an integer (unix seconds)');
    }

    /** `$now` when given, else the host clock (`now_or`). @throws CoreError */
    public function nowOr(mixed $given): int
    {
        return Convert::optInt($given, 'now') ?? $this->now();
    }
}

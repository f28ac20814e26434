<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * The test hooks of one companion (`useSeededEntropy()`, `useClock()`):
 * where randomness and `now` come from. Both default to the system (port of
 * `TestHooks` in `php-ext/src/host.rs`).
 */
final class TestHooks
{
    /** `SeededEntropy` set by `useSeededEntropy()`: one stream across calls. */
    private ?SeededEntropy $seeded = null;
    /** @var callable|null the `useClock()` callable */
    private $clock = null;
    private static ?OsEntropy $os = null;

    /** Draw randomness from `SeededEntropy($seed)` from now on (null: the OS CSPRNG). */
    public function setSeed(#[\SensitiveParameter] ?string $seed): void
    {
        $this->seeded = $seed === null ? null : new SeededEntropy($seed);
    }

    /** Read `now` from this callable from now on (null: the system clock). */
    public function setClock(?callable $clock): void
    {
        $this->clock = $clock;
    }

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

<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * The host's per-installation refresh lock in proxy mode
 * (`Companion::setRefreshLock()`): `$lock(string $name): ?string` returns
 * the stored state once the lock is held, or `null` when it could not be
 * taken in time; `$unlock(string $name): void` releases it.
 */
final class RefreshLock
{
    /** @var callable */
    public readonly mixed $lock;
    /** @var callable */
    public readonly mixed $unlock;

    public function __construct(callable $lock, callable $unlock)
    {
        $this->lock = $lock;
        $this->unlock = $unlock;
    }

    /** @return array<string, string> what `var_dump` shows: nothing of the callables' captures */
    public function __debugInfo(): array
    {
        return ['lock' => 'callable', 'unlock' => 'callable'];
    }
}

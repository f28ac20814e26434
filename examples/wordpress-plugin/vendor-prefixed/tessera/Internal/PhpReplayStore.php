<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * A replay store backed by a PHP callable `(string $key, int $expiresAt, int
 * $now): bool` (`PhpReplayStore` in php-ext/src/verifier.rs).
 */
final class PhpReplayStore implements ReplayStore
{
    private CoreError|\Throwable|null $failure = null;

    /** @param callable $callable */
    public function __construct(private $callable)
    {
    }

    public function checkAndInsert(string $key, int $expiresAt, int $now): void
    {
        try {
            $z = ($this->callable)($key, $expiresAt, $now);
        } catch (\Throwable $e) {
            $this->failure = $e;
            throw CoreError::replayed();
        }
        if ($z === true) {
            return;
        }
        if ($z !== false) {
            $this->failure = CoreError::invalidInput('replay', 'must return a bool');
        }
        throw CoreError::replayed();
    }

    /** Throws the callable's failure, if any. @throws \Throwable */
    public function rethrow(): void
    {
        if ($this->failure !== null) {
            throw $this->failure;
        }
    }
}

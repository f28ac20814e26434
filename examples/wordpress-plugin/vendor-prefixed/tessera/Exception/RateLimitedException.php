<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/** The broker asked to slow down. */
final class RateLimitedException extends TesseraException
{
    /** How long the broker asked to wait, in whole seconds (rounded up). */
    final public function getRetryAfter(): int
    {
        \StorefrontSync\Vendor\Tessera\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        $ms = $this->getRetryAfterMs();
        return intdiv($ms, 1000) - ($ms % 1000 < 0 ? 1 : 0) + ($ms % 1000 !== 0 ? 1 : 0);
    }

    /** How long the broker asked to wait, in milliseconds. */
    final public function getRetryAfterMs(): int
    {
        \StorefrontSync\Vendor\Tessera\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return \StorefrontSync\Vendor\Tessera\Internal\PhpErrors::read($this, 'retryAfterMs') ?? 0;
    }
}

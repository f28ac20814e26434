<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Bounded retry with full-jitter exponential backoff (`config::RetryPolicy`).
 * The u64 fields are {@see U64} values.
 */
final class RetryPolicy
{
    /**
     * @param int $maxAttempts attempts per logical call, the first included (u32)
     * @param int|string $baseDelayMs first backoff ceiling; doubles per retry
     * @param int|string $maxDelayMs largest backoff ceiling
     * @param int|string $maxTotalDelayMs total sleeping allowed per logical call
     * @param int|string $maxRetryAfterMs longest `Retry-After` honoured by sleeping
     */
    public function __construct(
        public int $maxAttempts = 3,
        public int|string $baseDelayMs = 250,
        public int|string $maxDelayMs = 4000,
        public int|string $maxTotalDelayMs = 15000,
        public int|string $maxRetryAfterMs = 10000,
    ) {
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * A source of random bytes (core/src/entropy.rs). The core never reaches for
 * randomness itself: operations that need it take an Entropy.
 */
interface Entropy
{
    /**
     * Returns `length` random bytes. One call is one Rust `fill(&mut [u8; length])`.
     */
    public function fill(int $length): string;
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** The operating system's CSPRNG, through `random_bytes`. */
final class OsEntropy implements Entropy
{
    /** {@inheritdoc} */
    public function fill(int $length): string
    {
        return $length > 0 ? random_bytes($length) : '';
    }
}

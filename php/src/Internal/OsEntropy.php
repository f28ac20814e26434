<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/** The operating system's CSPRNG, through `random_bytes`. */
final class OsEntropy implements Entropy
{
    /** {@inheritdoc} */
    public function fill(int $length): string
    {
        return $length > 0 ? random_bytes($length) : '';
    }
}

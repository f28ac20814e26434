<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** Entropy from a callable `fn(int $length): string` (the Rust closure impl). */
final class CallableEntropy implements Entropy
{
    /** @var callable(int): string */
    private $source;

    /**
     * @param callable(int): string $source
     */
    public function __construct(callable $source)
    {
        $this->source = $source;
    }

    /**
     * {@inheritdoc}
     *
     * @throws CoreError internal when the callable returns the wrong length
     */
    public function fill(int $length): string
    {
        $bytes = ($this->source)($length);
        if (!\is_string($bytes) || \strlen($bytes) !== $length) {
            throw CoreError::internal('entropy source returned the wrong number of bytes');
        }
        return $bytes;
    }
}

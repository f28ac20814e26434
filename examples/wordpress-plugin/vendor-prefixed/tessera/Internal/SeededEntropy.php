<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Deterministic bytes from a 32-byte seed: SHA-256(seed ‖ counter as u64
 * big-endian) blocks, one block per started 32 bytes of each `fill` call,
 * exactly as the Rust `SeededEntropy`. For tests and reproducible vectors only.
 */
final class SeededEntropy implements Entropy
{
    private string $seed;
    private int $counter = 0;

    /**
     * @throws CoreError invalid_input when the seed is not 32 bytes
     */
    public function __construct(#[\SensitiveParameter] string $seed)
    {
        if (\strlen($seed) !== 32) {
            throw CoreError::invalidInput('seed', 'must be 32 bytes');
        }
        $this->seed = $seed;
    }

    /** {@inheritdoc} */
    public function fill(int $length): string
    {
        $out = '';
        for ($done = 0; $done < $length; $done += 32) {
            $block = hash('sha256', $this->seed . pack('J', $this->counter), true);
            $this->counter++;
            $out .= $length - $done >= 32 ? $block : substr($block, 0, $length - $done);
        }
        return $out;
    }
}

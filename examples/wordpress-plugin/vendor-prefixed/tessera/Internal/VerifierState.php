<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** What a public `Verifier` object holds (kept by {@see Binding}). */
final class VerifierState
{
    public function __construct(
        public readonly Verifier $core,
        /** Only when asked for with `$replayCapacity`. */
        public readonly ?MemoryReplayStore $replay,
    ) {
    }
}

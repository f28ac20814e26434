<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** A connect attempt waiting for its callback (`state::PendingConnect`). */
final class PendingConnect
{
    public function __construct(
        /** The `state` value (base64url of 16 random bytes). */
        public string $state,
        /** Unix seconds when the URL was built. */
        public int $created,
        /** Where the broker sends the browser back. */
        public string $returnUrl,
    ) {
    }
}

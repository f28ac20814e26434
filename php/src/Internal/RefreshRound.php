<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/** A token refresh in progress on a call (proxy mode; `machine::proxy::RefreshRound`). */
final class RefreshRound
{
    /** The refresh request is out; its answer is the next response. */
    public bool $sending = false;

    /**
     * @param string $staleAccess fingerprint of the access token that was too old or refused: a stored
     *        pair with another one is a refresh some other worker already did
     */
    public function __construct(public readonly string $staleAccess)
    {
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** Remembers nonces until they can no longer verify (Rust `verify::ReplayStore`). */
interface ReplayStore
{
    /**
     * Records `key` until `expiresAt` (unix seconds).
     *
     * The verifier's key is `install_id . ':' . nonce` (an install id never
     * contains `:`). A store MUST bound what each installation may hold on
     * its own, so that one installation filling its share is refused
     * without refusing any other (docs/PROTOCOL.md §7.2).
     *
     * @throws CoreError replayed when `key` is already live, replay_store_full when there is no room (fail closed)
     */
    public function checkAndInsert(string $key, int $expiresAt, int $now): void;
}

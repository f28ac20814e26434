<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** An ownership proof the host must serve (Rust `registration::OwnershipProof`). */
final class OwnershipProof
{
    /**
     * @param string $url absolute URL the broker will fetch: `{site_url}/.well-known/tessera/{install_id}`
     * @param string $path path part of `url` below the site URL: `/.well-known/tessera/{install_id}`
     * @param string $body the response body to serve (`text/plain`)
     */
    public function __construct(
        public readonly string $url,
        public readonly string $path,
        public readonly string $body,
    ) {
    }
}

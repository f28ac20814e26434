<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * Authorization-proxy mode (`config::ProxyConfig`, docs/PROTOCOL.md §13):
 * the installation holds the operator's Stora tokens itself, calls Stora
 * directly, and a partner-hosted proxy (at the configured `broker_url`)
 * only exchanges codes and refreshes or revokes tokens with the OAuth
 * client secret.
 */
final class ProxyConfig
{
    /**
     * @param string $storaApiUrl Stora's versioned API base, e.g. `https://api.stora.example/2025-09`:
     *        an API path `/api/<rest>` goes to `<base>/<rest>`
     * @param int|string $refreshMarginSecs refresh when the access token expires within this many seconds (a {@see U64} value)
     * @param string $token the proxy's code exchange route
     * @param string $refresh the proxy's refresh route
     * @param string $revoke the proxy's revoke route
     */
    public function __construct(
        public string $storaApiUrl = '',
        public int|string $refreshMarginSecs = 120,
        public string $token = '/token',
        public string $refresh = '/refresh',
        public string $revoke = '/revoke',
    ) {
    }

    /** The margin as a PHP int (the configuration bounds it to 3600; larger values saturate). */
    public function margin(): int
    {
        return \is_int($this->refreshMarginSecs) ? $this->refreshMarginSecs : \PHP_INT_MAX;
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * What a host configures once (`config::Config`): broker (or proxy)
 * location, route paths, retry policy and the authorization-proxy mode.
 */
final class Config
{
    public function __construct(
        public string $brokerUrl,
        public Routes $routes = new Routes(),
        public RetryPolicy $retry = new RetryPolicy(),
        /** Set in authorization-proxy mode; null (the default) is broker mode. */
        public ?ProxyConfig $proxy = null,
    ) {
    }

    /** A configuration with default routes and retry policy (`Config::new`). */
    public static function new(string $brokerUrl): self
    {
        return new self($brokerUrl);
    }

    public function __clone()
    {
        $this->routes = clone $this->routes;
        $this->retry = clone $this->retry;
        if ($this->proxy !== null) {
            $this->proxy = clone $this->proxy;
        }
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/**
 * Thrown by the host's transport callable when a request could not be
 * sent (DNS, TLS, timeout, …). Tessera treats it as a transport error
 * (retried when safe); any other exception aborts the call and propagates.
 */
class TransportException extends \RuntimeException
{
}

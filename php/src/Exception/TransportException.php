<?php

declare(strict_types=1);

namespace Tessera\Pure\Exception;

/**
 * Thrown by the host's transport callable when a request could not be
 * sent (DNS, TLS, timeout, …). Tessera treats it as a transport error
 * (retried when safe); any other exception aborts the call and propagates.
 *
 * Why it extends `\RuntimeException` and not `TesseraException`: it is the
 * host's signal TO Tessera, thrown by host code, never by Tessera. A caller
 * never catches it from a Tessera method: after the retries the call ends in
 * a `ServerUnavailableException`, whose `getPrevious()` is the last one
 * (cleaned of secrets). So `catch (TesseraException $e)` catches every error
 * Tessera throws and nothing else, and a transport may throw it from code
 * that knows nothing of Tessera's error model.
 */
class TransportException extends \RuntimeException
{
}

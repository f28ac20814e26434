<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/**
 * The broker stayed unavailable (5xx, 408, transport errors) after
 * retries, or Stora itself failed (code `upstream_failed`: `getReason()`
 * is Stora's code, `getRequestId()` its request id; a POST is not sent
 * again, as Stora replays its stored answer to the same Idempotency-Key).
 */
final class ServerUnavailableException extends TesseraException
{
}

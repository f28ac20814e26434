<?php

declare(strict_types=1);

namespace Tessera\Pure\Exception;

/**
 * The broker stayed unavailable (5xx, 408, transport errors) after
 * retries, or Stora itself failed (code `upstream_failed`: `getReason()`
 * is Stora's code, `getRequestId()` its request id; a POST is not sent
 * again, as Stora replays its stored answer to the same Idempotency-Key),
 * or, in proxy mode, the installation's refresh lock could not be taken
 * in time (code `lock_unavailable`), or the broker answered 2xx with a
 * body that breaks the documented shape (code `response_invalid`: a page
 * of events; nothing of it is used).
 */
final class ServerUnavailableException extends TesseraException
{
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/**
 * A 4xx the plugin must not retry (`getStatus()`, `getReason()`), or a
 * redirect (code `redirected`: signed requests are never redirected).
 */
final class ClientErrorException extends TesseraException
{
}

<?php

declare(strict_types=1);

namespace Tessera\Pure\Exception;

/**
 * A 4xx the plugin must not retry (`getStatus()`, `getReason()`), or a
 * redirect (code `redirected`: signed requests are never redirected).
 */
final class ClientErrorException extends TesseraException
{
}

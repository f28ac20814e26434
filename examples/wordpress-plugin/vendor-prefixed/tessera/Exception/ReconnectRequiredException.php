<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/** The operator must run the connect flow again (`getReason()` says why). */
final class ReconnectRequiredException extends TesseraException
{
}

<?php

declare(strict_types=1);

namespace Tessera\Pure\Exception;

/** The operator must run the connect flow again (`getReason()` says why). */
final class ReconnectRequiredException extends TesseraException
{
}

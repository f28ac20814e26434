<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/** The operation does not fit the installation's state (or the state JSON is corrupt). */
final class InvalidStateException extends TesseraException
{
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/** The broker no longer accepts this installation's registration: register again. */
final class RegistrationInvalidException extends TesseraException
{
}

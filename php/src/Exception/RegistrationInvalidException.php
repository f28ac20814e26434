<?php

declare(strict_types=1);

namespace Tessera\Pure\Exception;

/** The broker no longer accepts this installation's registration: register again. */
final class RegistrationInvalidException extends TesseraException
{
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/** A malformed argument: URL, email, header, method, size, encoding, type. */
final class InvalidInputException extends TesseraException
{
}

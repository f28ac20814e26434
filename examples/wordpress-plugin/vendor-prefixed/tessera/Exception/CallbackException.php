<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/** The connect callback was refused (wrong or expired state, denied, malformed). */
final class CallbackException extends TesseraException
{
}

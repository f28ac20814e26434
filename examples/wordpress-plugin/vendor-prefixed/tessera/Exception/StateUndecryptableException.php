<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/** A sealed state does not open with the given key. */
final class StateUndecryptableException extends TesseraException
{
}

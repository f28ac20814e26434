<?php

declare(strict_types=1);

namespace Tessera\Pure\Exception;

/** A sealed state does not open with the given key. */
final class StateUndecryptableException extends TesseraException
{
}

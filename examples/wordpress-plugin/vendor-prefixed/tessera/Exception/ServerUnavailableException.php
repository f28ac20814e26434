<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/** The broker stayed unavailable (5xx, 408, transport errors) after retries. */
final class ServerUnavailableException extends TesseraException
{
}

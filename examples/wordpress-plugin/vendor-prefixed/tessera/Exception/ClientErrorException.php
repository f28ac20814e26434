<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/**
 * A 4xx the plugin must not retry (`getStatus()`, `getReason()`, and the
 * broker's or Stora's explanation: `getDescription()`, `getDetails()`), or a
 * redirect (code `redirected`: signed requests are never redirected).
 */
final class ClientErrorException extends TesseraException
{
    /**
     * The broker's `error_description` or Stora's `error.message`, if the
     * error body gave one: control and bidi characters dropped, at most 512
     * characters (a cut one ends in `…`). Not secret: safe to log.
     */
    final public function getDescription(): ?string
    {
        \StorefrontSync\Vendor\Tessera\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return \StorefrontSync\Vendor\Tessera\Internal\PhpErrors::read($this, 'description');
    }

    /**
     * Stora's `error.details` (decoded: objects as associative arrays), if
     * the error body had a non-empty one within the 2048-byte bound.
     *
     * @return array<array-key, mixed>|null
     */
    final public function getDetails(): ?array
    {
        \StorefrontSync\Vendor\Tessera\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return \StorefrontSync\Vendor\Tessera\Internal\PhpErrors::read($this, 'details');
    }
}

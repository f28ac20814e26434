<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/** The site URL no longer matches the registered one. */
final class SiteMismatchException extends TesseraException
{
    /** The site URL at registration. */
    final public function getRegisteredUrl(): string
    {
        \StorefrontSync\Vendor\Tessera\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return \StorefrontSync\Vendor\Tessera\Internal\PhpErrors::read($this, 'registeredUrl') ?? '';
    }

    /** The site URL the host reports now. */
    final public function getCurrentUrl(): string
    {
        \StorefrontSync\Vendor\Tessera\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return \StorefrontSync\Vendor\Tessera\Internal\PhpErrors::read($this, 'currentUrl') ?? '';
    }
}

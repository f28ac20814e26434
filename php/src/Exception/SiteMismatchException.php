<?php

declare(strict_types=1);

namespace Tessera\Pure\Exception;

/** The site URL no longer matches the registered one. */
final class SiteMismatchException extends TesseraException
{
    /** The site URL at registration. */
    final public function getRegisteredUrl(): string
    {
        \Tessera\Pure\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return \Tessera\Pure\Internal\PhpErrors::read($this, 'registeredUrl') ?? '';
    }

    /** The site URL the host reports now. */
    final public function getCurrentUrl(): string
    {
        \Tessera\Pure\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return \Tessera\Pure\Internal\PhpErrors::read($this, 'currentUrl') ?? '';
    }
}

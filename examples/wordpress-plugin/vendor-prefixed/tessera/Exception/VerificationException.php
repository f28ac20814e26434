<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Exception;

/**
 * Broker side: a signature, connect URL, ticket or proof did not verify (or
 * an authorization proxy's state or code context: `proxy_state_*`,
 * `code_context_*`, answered with 400).
 */
final class VerificationException extends TesseraException
{
    /** The HTTP status a broker answers this failure with (401, 403, 503, 400, …). */
    final public function getHttpStatus(): int
    {
        \StorefrontSync\Vendor\Tessera\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return \StorefrontSync\Vendor\Tessera\Internal\PhpErrors::read($this, 'wireStatus') ?? 500;
    }

    /** The `error` code a broker answers this failure with. */
    final public function getWireCode(): string
    {
        \StorefrontSync\Vendor\Tessera\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return \StorefrontSync\Vendor\Tessera\Internal\PhpErrors::read($this, 'wireCode') ?? 'internal';
    }

    /**
     * The headers a broker answers this failure with (lowercase name => value, in order: content-type,
     * cache-control, and date on signature_expired); [] when the exception does not come from a verification step.
     *
     * @return array<string, string>
     */
    final public function getWireHeaders(): array
    {
        \StorefrontSync\Vendor\Tessera\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return \StorefrontSync\Vendor\Tessera\Internal\PhpErrors::read($this, 'wireHeaders') ?? [];
    }

    /**
     * The JSON body a broker answers this failure with (`{"error":…,"error_description":…}`); '' when the
     * exception does not come from a verification step.
     */
    final public function getWireBody(): string
    {
        \StorefrontSync\Vendor\Tessera\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return \StorefrontSync\Vendor\Tessera\Internal\PhpErrors::read($this, 'wireBody') ?? '';
    }
}

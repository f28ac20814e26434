<?php

declare(strict_types=1);

namespace Tessera\Pure\Exception;

/**
 * Base of every error Tessera throws. Also thrown as such for `internal`
 * errors (a bug).
 *
 * The pure-PHP twin of the extension's `Tessera\Exception\TesseraException`:
 * the same private properties, written once when Tessera builds the
 * exception, and the same final getters (with the same fallbacks for an
 * exception constructed with `new` in PHP).
 */
class TesseraException extends \Exception
{
    private $errorCode;
    private $status;
    private $reason;
    private $requestId;
    private $retryAfterMs;
    private $registeredUrl;
    private $currentUrl;
    private $wireStatus;
    private $wireCode;
    private $wireHeaders;
    private $wireBody;
    private $description;
    private $details;

    /** The stable snake_case error code (e.g. `reconnect_required`). */
    final public function getErrorCode(): string
    {
        \Tessera\Pure\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return $this->errorCode ?? 'internal';
    }

    /** The HTTP status behind the error, if any. */
    final public function getStatus(): ?int
    {
        \Tessera\Pure\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return $this->status;
    }

    /** The code behind the error (reconnect reason, 4xx code, Stora's code), if any. */
    final public function getReason(): ?string
    {
        \Tessera\Pure\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return $this->reason;
    }

    /** Stora's request id behind the error, if Stora answered: quote it to Stora's support. */
    final public function getRequestId(): ?string
    {
        \Tessera\Pure\Internal\Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        return $this->requestId;
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** A classified broker response (Rust `classify::Outcome`; kinds are the `OutcomeKind::as_str` strings). */
final class Outcome
{
    /** 2xx. */
    public const OK = 'ok';
    /** 401/403 `stora_reconnect_required`, `broker_token_invalid`, `installation_disabled`. */
    public const RECONNECT_REQUIRED = 'reconnect_required';
    /** 401 `signature_invalid`, `unknown_installation`. */
    public const REGISTRATION_INVALID = 'registration_invalid';
    /** 401 `signature_expired` (clock skew). */
    public const SIGNATURE_EXPIRED = 'signature_expired';
    /** 429. */
    public const RATE_LIMITED = 'rate_limited';
    /** Stora's `api_error` (documented as 400): an internal or third-party failure at Stora. */
    public const UPSTREAM_FAILED = 'upstream_failed';
    /** 3xx: a signed request is never redirected. */
    public const REDIRECTED = 'redirected';
    /** Other 1xx/4xx. */
    public const CLIENT_ERROR = 'client_error';
    /** 5xx and 408. */
    public const SERVER_UNAVAILABLE = 'server_unavailable';

    /**
     * @param string $kind one of the constants
     * @param int $status HTTP status
     * @param string|null $code the broker's error code, sanitised
     * @param int|null $retryAfterMs for 429: the `Retry-After` delay in milliseconds, when given
     * @param int|null $serverDate the broker's `Date`, unix seconds, when given and valid
     * @param string|null $requestId Stora's `error.request_id`, sanitised
     * @param bool $fromStora the broker marked the answer as Stora's own (`Tessera-Origin: stora`)
     * @param string|null $description the broker's `error_description` or Stora's `error.message`, cleaned and bounded
     * @param string|null $details Stora's `error.details` as compact JSON text, cleaned and bounded
     */
    public function __construct(
        public readonly string $kind,
        public readonly int $status,
        public readonly ?string $code,
        public readonly ?int $retryAfterMs,
        public readonly ?int $serverDate,
        public readonly ?string $requestId = null,
        public readonly bool $fromStora = false,
        public readonly ?string $description = null,
        public readonly ?string $details = null,
    ) {
    }

    /** The error this outcome surfaces as when it ends a call (null for OK). */
    public function toError(int $attempts): ?CoreError
    {
        $reason = $this->code ?? 'http_' . $this->status;
        return match ($this->kind) {
            self::OK => null,
            self::RECONNECT_REQUIRED => CoreError::reconnectRequired($reason),
            self::REGISTRATION_INVALID => CoreError::registrationInvalid($reason),
            self::RATE_LIMITED => CoreError::rateLimited($this->retryAfterMs ?? 0),
            self::REDIRECTED => CoreError::redirected($this->status),
            self::SERVER_UNAVAILABLE => $this->fromStora
                ? CoreError::upstreamFailed($this->status, $reason, $this->requestId, $attempts)
                : CoreError::serverUnavailable($this->status, $attempts),
            self::UPSTREAM_FAILED => CoreError::upstreamFailed($this->status, $reason, $this->requestId, $attempts),
            default => CoreError::clientError($this->status, $reason, $this->requestId, $this->description, $this->details),
        };
    }
}

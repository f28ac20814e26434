<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * The one error of the pure-PHP core: a port of the Rust `Error` enum
 * (core/src/error.rs), one instance per variant, with its stable code, its
 * family and its message exactly as the Rust `Display` formats it.
 *
 * Written minimally by the lower layer; the upper layer owns it and extends
 * it (keep the names below). Messages never contain a secret or a token. The
 * public API never throws it: it throws the `Tessera\Pure\Exception\…` class
 * of its kind ({@see PhpErrors::exception()}).
 */
final class CoreError extends \Exception
{
    // ErrorKind::as_str
    public const KIND_INVALID_INPUT = 'invalid_input';
    public const KIND_INVALID_STATE = 'invalid_state';
    public const KIND_STATE_UNDECRYPTABLE = 'state_undecryptable';
    public const KIND_RECONNECT_REQUIRED = 'reconnect_required';
    public const KIND_REGISTRATION_INVALID = 'registration_invalid';
    public const KIND_RATE_LIMITED = 'rate_limited';
    public const KIND_CLIENT_ERROR = 'client_error';
    public const KIND_SERVER_UNAVAILABLE = 'server_unavailable';
    public const KIND_CALLBACK = 'callback';
    public const KIND_SITE_MISMATCH = 'site_mismatch';
    public const KIND_VERIFICATION = 'verification';
    public const KIND_INTERNAL = 'internal';

    /** Longest description a message quotes, in characters (Rust `MESSAGE_DESCRIPTION_CHARS`). */
    private const MESSAGE_DESCRIPTION_CHARS = 160;

    private const KINDS = [
        'invalid_url' => 'invalid_input',
        'insecure_broker_url' => 'invalid_input',
        'invalid_input' => 'invalid_input',
        'too_large' => 'invalid_input',
        'not_registered' => 'invalid_state',
        'not_connected' => 'invalid_state',
        'invalid_state' => 'invalid_state',
        'state_corrupt' => 'invalid_state',
        'state_version_unsupported' => 'invalid_state',
        'state_undecryptable' => 'state_undecryptable',
        'reconnect_required' => 'reconnect_required',
        'registration_invalid' => 'registration_invalid',
        'registration_conflict' => 'registration_invalid',
        'registration_rejected' => 'registration_invalid',
        'rate_limited' => 'rate_limited',
        'client_error' => 'client_error',
        'redirected' => 'client_error',
        'server_unavailable' => 'server_unavailable',
        'upstream_failed' => 'server_unavailable',
        'lock_unavailable' => 'server_unavailable',
        'response_invalid' => 'server_unavailable',
        'callback_state_mismatch' => 'callback',
        'callback_expired' => 'callback',
        'callback_denied' => 'callback',
        'callback_invalid' => 'callback',
        'site_mismatch' => 'site_mismatch',
        'signature_missing' => 'verification',
        'signature_malformed' => 'verification',
        'signature_invalid' => 'verification',
        'signature_expired' => 'verification',
        'replayed' => 'verification',
        'digest_mismatch' => 'verification',
        'unknown_installation' => 'verification',
        'replay_store_full' => 'verification',
        'ownership_proof_invalid' => 'verification',
        'proxy_state_invalid' => 'verification',
        'proxy_state_expired' => 'verification',
        'code_context_invalid' => 'verification',
        'code_context_expired' => 'verification',
        'code_context_mismatch' => 'verification',
        'internal' => 'internal',
    ];

    /** @var string The stable code (Rust `Error::code()`). */
    private string $errorCode;

    /** The argument or field (InvalidUrl, InvalidInput, TooLarge). */
    public readonly ?string $field;
    /** What is wrong (InvalidUrl, InvalidInput) or the broker's code (ReconnectRequired, RegistrationInvalid, RegistrationRejected, ClientError, CallbackDenied). */
    public readonly ?string $reason;
    /** The bound (TooLarge). */
    public readonly ?int $limit;
    /** The HTTP status field (RegistrationRejected, ClientError, Redirected, ServerUnavailable). */
    public readonly ?int $status;
    /** The delay asked for, in milliseconds (RateLimited; a u64: a decimal string above PHP_INT_MAX). */
    public readonly int|string|null $retryAfterMs;
    /** The registered site URL (SiteMismatch). */
    public readonly ?string $registered;
    /** The current site URL (SiteMismatch). */
    public readonly ?string $current;
    /** Attempts made (ServerUnavailable, UpstreamFailed). */
    public readonly ?int $attempts;
    /** Stora's `request_id` (ClientError, UpstreamFailed). */
    public readonly ?string $requestId;
    /** The broker's or Stora's explanation, cleaned and bounded (ClientError). */
    public readonly ?string $description;
    /** Stora's `error.details` as compact JSON text, bounded (ClientError). */
    public readonly ?string $details;
    /** The version found (StateVersionUnsupported; a decimal string above PHP_INT_MAX). */
    public readonly int|string|null $found;
    /** The highest version supported (StateVersionUnsupported). */
    public readonly ?int $supported;
    /** The payload of InvalidState, StateCorrupt, ResponseInvalid, CallbackInvalid, SignatureMalformed, Internal. */
    public readonly ?string $detail;

    /**
     * @param array<string, mixed> $fields
     */
    private function __construct(string $code, string $message, array $fields = [])
    {
        parent::__construct($message);
        $this->errorCode = $code;
        $this->field = $fields['field'] ?? null;
        $this->reason = $fields['reason'] ?? null;
        $this->limit = $fields['limit'] ?? null;
        $this->status = $fields['status'] ?? null;
        $this->retryAfterMs = $fields['retryAfterMs'] ?? null;
        $this->registered = $fields['registered'] ?? null;
        $this->current = $fields['current'] ?? null;
        $this->attempts = $fields['attempts'] ?? null;
        $this->requestId = $fields['requestId'] ?? null;
        $this->description = $fields['description'] ?? null;
        $this->details = $fields['details'] ?? null;
        $this->found = $fields['found'] ?? null;
        $this->supported = $fields['supported'] ?? null;
        $this->detail = $fields['detail'] ?? null;
        // An internal value: it keeps no frames (their arguments may hold key material).
        static $trace = null;
        ($trace ??= new \ReflectionProperty(\Exception::class, 'trace'))->setValue($this, []);
    }

    /** Value equality (Rust `PartialEq`): same variant, same fields. */
    public function equals(self $other): bool
    {
        return $this->errorCode === $other->errorCode && $this->getMessage() === $other->getMessage();
    }

    /** The stable machine-readable code (Rust `Error::code()`). */
    public function code(): string
    {
        return $this->errorCode;
    }

    /** The family (Rust `ErrorKind::as_str()`). */
    public function kind(): string
    {
        return self::KINDS[$this->errorCode];
    }

    /** The HTTP status behind the error, when there is one (Rust `Error::status()`). */
    public function status(): ?int
    {
        return match ($this->errorCode) {
            'client_error', 'registration_rejected', 'server_unavailable', 'redirected', 'upstream_failed' => $this->status,
            'registration_conflict' => 409,
            'rate_limited' => 429,
            default => null,
        };
    }

    /** The code behind the error, if any (Rust `Error::reason()`). */
    public function reason(): ?string
    {
        return match ($this->errorCode) {
            'reconnect_required', 'registration_invalid', 'registration_rejected', 'client_error',
            'callback_denied', 'upstream_failed' => $this->reason,
            default => null,
        };
    }

    /** Stora's `request_id` behind the error, if any (Rust `Error::request_id()`). */
    public function requestId(): ?string
    {
        return match ($this->errorCode) {
            'client_error', 'upstream_failed' => $this->requestId,
            default => null,
        };
    }

    /** The explanation of a ClientError, if the error body gave one (Rust `Error::description()`). */
    public function description(): ?string
    {
        return $this->errorCode === 'client_error' ? $this->description : null;
    }

    /** Stora's `error.details` of a ClientError as compact JSON text, if any (Rust `Error::details()`). */
    public function details(): ?string
    {
        return $this->errorCode === 'client_error' ? $this->details : null;
    }

    /** For RateLimited: the delay in milliseconds (Rust `Error::retry_after_ms()`). */
    public function retryAfterMs(): int|string|null
    {
        return $this->errorCode === 'rate_limited' ? $this->retryAfterMs : null;
    }

    /**
     * The HTTP status and `error` code a broker answers with (Rust `Error::wire_code()`).
     *
     * @return array{0: int, 1: string}
     */
    public function wireCode(): array
    {
        return match ($this->errorCode) {
            'signature_expired', 'replayed', 'unknown_installation', 'signature_invalid', 'signature_missing',
            'signature_malformed', 'digest_mismatch' => [401, $this->errorCode],
            'replay_store_full' => [503, 'replay_store_full'],
            'ownership_proof_invalid' => [403, 'ownership_proof_invalid'],
            'proxy_state_invalid', 'proxy_state_expired', 'code_context_invalid', 'code_context_expired',
            'code_context_mismatch' => [400, $this->errorCode],
            default => $this->kind() === 'invalid_input' ? [400, 'invalid_request'] : [500, 'internal'],
        };
    }

    /** Keeps broker-supplied codes printable, short and free of anything odd (Rust `error::sanitize_code`). */
    public static function sanitizeCode(string $raw): string
    {
        $s = substr((string) preg_replace('/[^A-Za-z0-9_.\-]/', '', $raw), 0, 64);
        return $s === '' ? 'unknown' : $s;
    }

    /** `InvalidUrl`. */
    public static function invalidUrl(string $field, string $reason): self
    {
        return new self('invalid_url', "invalid URL in `{$field}`: {$reason}", ['field' => $field, 'reason' => $reason]);
    }

    /** `InsecureBrokerUrl`. */
    public static function insecureBrokerUrl(): self
    {
        return new self('insecure_broker_url', 'the broker URL must use https (plain http is allowed only for loopback hosts)');
    }

    /** `InvalidInput`. */
    public static function invalidInput(string $field, string $reason): self
    {
        return new self('invalid_input', "invalid `{$field}`: {$reason}", ['field' => $field, 'reason' => $reason]);
    }

    /** `TooLarge`. */
    public static function tooLarge(string $field, int $limit): self
    {
        return new self('too_large', "`{$field}` is too large (limit {$limit})", ['field' => $field, 'limit' => $limit]);
    }

    /** `NotRegistered`. */
    public static function notRegistered(): self
    {
        return new self('not_registered', 'the installation is not registered');
    }

    /** `NotConnected`. */
    public static function notConnected(): self
    {
        return new self('not_connected', 'the installation is not connected');
    }

    /** `InvalidState(detail)`. */
    public static function invalidState(string $detail): self
    {
        return new self('invalid_state', "invalid state: {$detail}", ['detail' => $detail]);
    }

    /** `StateCorrupt(detail)`. */
    public static function stateCorrupt(string $detail): self
    {
        return new self('state_corrupt', "state is corrupt: {$detail}", ['detail' => $detail]);
    }

    /** `StateVersionUnsupported`. */
    public static function stateVersionUnsupported(int|string $found, int $supported): self
    {
        return new self(
            'state_version_unsupported',
            "state version {$found} is not supported (this build reads up to {$supported})",
            ['found' => $found, 'supported' => $supported],
        );
    }

    /** `StateUndecryptable`. */
    public static function stateUndecryptable(): self
    {
        return new self('state_undecryptable', 'the sealed state cannot be opened with this key');
    }

    /** `ReconnectRequired`. */
    public static function reconnectRequired(string $reason): self
    {
        return new self('reconnect_required', "reconnect required ({$reason})", ['reason' => $reason]);
    }

    /** `RegistrationInvalid`. */
    public static function registrationInvalid(string $reason): self
    {
        return new self(
            'registration_invalid',
            "the registration is no longer valid ({$reason}); register again",
            ['reason' => $reason],
        );
    }

    /** `RegistrationConflict`. */
    public static function registrationConflict(): self
    {
        return new self('registration_conflict', 'the broker already has this installation (409)');
    }

    /** `RegistrationRejected`. */
    public static function registrationRejected(int $status, string $reason): self
    {
        return new self(
            'registration_rejected',
            "the broker refused the registration (status {$status}, {$reason})",
            ['status' => $status, 'reason' => $reason],
        );
    }

    /** `RateLimited`. */
    public static function rateLimited(int|string $retryAfterMs): self
    {
        return new self('rate_limited', "rate limited; retry after {$retryAfterMs} ms", ['retryAfterMs' => $retryAfterMs]);
    }

    /** `ClientError`. */
    public static function clientError(
        int $status,
        string $reason,
        ?string $requestId = null,
        ?string $description = null,
        ?string $details = null,
    ): self {
        $r = self::requestSuffix($requestId);
        $d = self::descriptionSuffix($description);
        return new self(
            'client_error',
            "the request was refused (status {$status}, {$reason}{$r}){$d}",
            ['status' => $status, 'reason' => $reason, 'requestId' => $requestId, 'description' => $description,
                'details' => $details],
        );
    }

    /** `: <description>` for messages, cut to 160 characters (Rust `description_suffix`). */
    private static function descriptionSuffix(?string $description): string
    {
        if ($description === null) {
            return '';
        }
        $chars = preg_split('//u', $description, -1, \PREG_SPLIT_NO_EMPTY);
        if (\count($chars) <= self::MESSAGE_DESCRIPTION_CHARS) {
            return ": {$description}";
        }
        return ': ' . implode('', \array_slice($chars, 0, self::MESSAGE_DESCRIPTION_CHARS - 1)) . '…';
    }

    /** `Redirected`. */
    public static function redirected(?int $status): self
    {
        $s = $status === null ? '' : " (status {$status})";
        return new self(
            'redirected',
            "the broker answered with a redirect{$s}; signed requests are never redirected",
            ['status' => $status],
        );
    }

    /** `ServerUnavailable`. */
    public static function serverUnavailable(?int $status, int $attempts): self
    {
        $s = $status === null ? '' : " (last status {$status})";
        return new self(
            'server_unavailable',
            "the broker is unavailable after {$attempts} attempt(s){$s}",
            ['status' => $status, 'attempts' => $attempts],
        );
    }

    /** `UpstreamFailed`: Stora itself answered with a failure (`reason` holds Stora's code). */
    public static function upstreamFailed(int $status, string $code, ?string $requestId, int $attempts): self
    {
        $r = self::requestSuffix($requestId);
        return new self(
            'upstream_failed',
            "Stora could not complete the request (status {$status}, {$code}{$r}) after {$attempts} attempt(s)",
            ['status' => $status, 'reason' => $code, 'requestId' => $requestId, 'attempts' => $attempts],
        );
    }

    /** `LockUnavailable`: the host could not take the installation's refresh lock in time (proxy mode). */
    public static function lockUnavailable(): self
    {
        return new self('lock_unavailable', "could not take the installation's refresh lock");
    }

    /**
     * `ResponseInvalid(detail)`: the broker answered 2xx with a body that
     * breaks the documented shape (an events page, docs/PROTOCOL.md §14.3);
     * nothing of it is used and the state is unchanged.
     */
    public static function responseInvalid(string $detail): self
    {
        return new self('response_invalid', "the broker's answer is malformed: {$detail}", ['detail' => $detail]);
    }

    /** `, request <id>` for messages, when there is a request id. */
    private static function requestSuffix(?string $requestId): string
    {
        return $requestId === null ? '' : ", request {$requestId}";
    }

    /** `CallbackStateMismatch`. */
    public static function callbackStateMismatch(): self
    {
        return new self('callback_state_mismatch', 'the callback state does not match the pending connect');
    }

    /** `CallbackExpired`. */
    public static function callbackExpired(): self
    {
        return new self('callback_expired', 'the connect attempt expired; start it again');
    }

    /** `CallbackDenied` (the code is kept in `$reason`). */
    public static function callbackDenied(string $code): self
    {
        return new self('callback_denied', "the connect was not completed: {$code}", ['reason' => $code]);
    }

    /** `CallbackInvalid(detail)`. */
    public static function callbackInvalid(string $detail): self
    {
        return new self('callback_invalid', "the callback is malformed: {$detail}", ['detail' => $detail]);
    }

    /** `SiteMismatch`. */
    public static function siteMismatch(string $registered, string $current): self
    {
        return new self(
            'site_mismatch',
            "the site URL changed from {$registered} to {$current}; choose \"this is a copy\" or \"the site moved\"",
            ['registered' => $registered, 'current' => $current],
        );
    }

    /** `SignatureMissing`. */
    public static function signatureMissing(): self
    {
        return new self('signature_missing', 'the request carries no tessera signature');
    }

    /** `SignatureMalformed(detail)`. */
    public static function signatureMalformed(string $detail): self
    {
        return new self('signature_malformed', "the signature is malformed: {$detail}", ['detail' => $detail]);
    }

    /** `SignatureInvalid`. */
    public static function signatureInvalid(): self
    {
        return new self('signature_invalid', 'the signature does not verify');
    }

    /** `SignatureExpired`. */
    public static function signatureExpired(): self
    {
        return new self('signature_expired', 'the signature is outside its time window');
    }

    /** `Replayed`. */
    public static function replayed(): self
    {
        return new self('replayed', 'the request was already seen (replay)');
    }

    /** `DigestMismatch`. */
    public static function digestMismatch(): self
    {
        return new self('digest_mismatch', 'the content digest does not match the body');
    }

    /** `UnknownInstallation`. */
    public static function unknownInstallation(): self
    {
        return new self('unknown_installation', 'unknown installation');
    }

    /** `ReplayStoreFull`. */
    public static function replayStoreFull(): self
    {
        return new self('replay_store_full', 'the replay store is full');
    }

    /** `OwnershipProofInvalid`. */
    public static function ownershipProofInvalid(): self
    {
        return new self('ownership_proof_invalid', 'the ownership proof does not match');
    }

    /** `Internal(detail)`: a bug. */
    public static function internal(string $detail): self
    {
        return new self('internal', "internal error: {$detail}", ['detail' => $detail]);
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

use StorefrontSync\Vendor\Tessera\Exception;
use StorefrontSync\Vendor\Tessera\Exception\TesseraException;

/**
 * The ONE place where a core error becomes a PHP exception (port of
 * `php-ext/src/errors.rs`): {@see classFor()} maps each error kind to exactly
 * one class; {@see exception()} builds it with the private details the
 * getters read.
 */
final class PhpErrors
{
    /** Error kind => exception class (`class_for`). */
    private const CLASSES = [
        CoreError::KIND_INVALID_INPUT => Exception\InvalidInputException::class,
        CoreError::KIND_INVALID_STATE => Exception\InvalidStateException::class,
        CoreError::KIND_STATE_UNDECRYPTABLE => Exception\StateUndecryptableException::class,
        CoreError::KIND_RECONNECT_REQUIRED => Exception\ReconnectRequiredException::class,
        CoreError::KIND_REGISTRATION_INVALID => Exception\RegistrationInvalidException::class,
        CoreError::KIND_RATE_LIMITED => Exception\RateLimitedException::class,
        CoreError::KIND_CLIENT_ERROR => Exception\ClientErrorException::class,
        CoreError::KIND_SERVER_UNAVAILABLE => Exception\ServerUnavailableException::class,
        CoreError::KIND_CALLBACK => Exception\CallbackException::class,
        CoreError::KIND_SITE_MISMATCH => Exception\SiteMismatchException::class,
        CoreError::KIND_VERIFICATION => Exception\VerificationException::class,
    ];

    /** @return class-string<TesseraException> the class of an error kind; the base for `internal` and any other */
    public static function classFor(string $kind): string
    {
        return self::CLASSES[$kind] ?? TesseraException::class;
    }

    /**
     * The `StorefrontSync\Vendor\Tessera\Exception\…` object for a core error (not thrown).
     * Like the extension's, its file, line and trace are those of the call
     * into the public API that raised it (the frames inside Tessera are
     * dropped: they are not the caller's business and their arguments may hold
     * key material). With the `$host` of a driven operation, a
     * `server_unavailable` gets the host's last transport failure, cleaned
     * ({@see Host::cleanTransportException()}), as its previous.
     */
    public static function exception(CoreError $error, ?Host $host = null): TesseraException
    {
        $class = self::classFor($error->kind());
        // A `server_unavailable` whose last send threw a TransportException:
        // that exception, cleaned of secrets, is the previous.
        $previous = $error->code() === 'server_unavailable' ? $host?->lastFailure() : null;
        $e = new $class($error->getMessage(), 0, $previous);
        $props = ['errorCode' => $error->code()];
        if (($status = $error->status()) !== null) {
            $props['status'] = $status;
        }
        if (($reason = $error->reason()) !== null) {
            $props['reason'] = $reason;
        }
        if (($requestId = $error->requestId()) !== null) {
            $props['requestId'] = $requestId;
        }
        if (($description = $error->description()) !== null) {
            $props['description'] = $description;
        }
        if (($details = self::decodeDetails($error->details())) !== null) {
            $props['details'] = $details;
        }
        if (($ms = $error->retryAfterMs()) !== null) {
            // u64 → i64, saturating (`i64::try_from(ms).unwrap_or(i64::MAX)`).
            $props['retryAfterMs'] = is_int($ms) ? $ms : PHP_INT_MAX;
        }
        if ($error->code() === 'site_mismatch') {
            $props['registeredUrl'] = $error->registered;
            $props['currentUrl'] = $error->current;
        }
        if ($class === Exception\VerificationException::class) {
            [$props['wireStatus'], $props['wireCode']] = $error->wireCode();
        }
        self::write($e, $props);
        self::rebase($e);
        return $e;
    }

    /**
     * The `StorefrontSync\Vendor\Tessera\Exception\…` object for a refused verification
     * (`refusal_object`): the error's exception, plus the refusal's wire
     * answer when it is a VerificationException.
     */
    public static function refusal(Refusal $refusal): TesseraException
    {
        $e = self::exception($refusal->error());
        if ($e instanceof Exception\VerificationException) {
            $headers = [];
            foreach ($refusal->headers() as [$name, $value]) {
                $headers[$name] = $value;
            }
            self::write($e, [
                'wireStatus' => $refusal->status(),
                'wireCode' => $refusal->code(),
                'wireHeaders' => $headers,
                'wireBody' => $refusal->body(),
            ]);
        }
        return $e;
    }

    /**
     * Stora's `details` text (compact JSON from the core) decoded as the
     * extension does (`errors::decode_details`): an array, or null when absent,
     * not an array or object, or cut by the core's bound (then not JSON).
     *
     * @return array<array-key, mixed>|null
     */
    public static function decodeDetails(?string $text): ?array
    {
        if ($text === null) {
            return null;
        }
        $value = json_decode($text, true, 512, \JSON_BIGINT_AS_STRING);
        return \is_array($value) ? $value : null;
    }

    /** Reads a private property of TesseraException (for the subclasses' getters). */
    public static function read(TesseraException $e, string $name): mixed
    {
        static $reader = null;
        $reader ??= \Closure::bind(static fn (TesseraException $e, string $name): mixed => $e->$name, null, TesseraException::class);
        return $reader($e, $name);
    }

    /** @param array<string, mixed> $props */
    private static function write(TesseraException $e, array $props): void
    {
        static $writer = null;
        $writer ??= \Closure::bind(static function (TesseraException $e, array $props): void {
            foreach ($props as $k => $v) {
                $e->$k = $v;
            }
        }, null, TesseraException::class);
        $writer($e, $props);
    }

    /**
     * Makes the exception look thrown by the public method the caller called:
     * file and line of that call, trace starting at it, no frame arguments.
     */
    public static function rebase(\Exception $e): void
    {
        static $props = null;
        $props ??= [
            'trace' => new \ReflectionProperty(\Exception::class, 'trace'),
            'file' => new \ReflectionProperty(\Exception::class, 'file'),
            'line' => new \ReflectionProperty(\Exception::class, 'line'),
        ];
        $trace = $e->getTrace();
        $src = self::srcDir();
        foreach ($trace as $i => $frame) {
            $class = $frame['class'] ?? '';
            if ($class !== \StorefrontSync\Vendor\Tessera\Companion::class && $class !== \StorefrontSync\Vendor\Tessera\Verifier::class) {
                continue;
            }
            // The call site: this frame's, or (called by the engine, e.g. by
            // reflection) the next frame that has one.
            $site = null;
            for ($j = $i; $j < count($trace); $j++) {
                if (isset($trace[$j]['file'])) {
                    $site = $trace[$j];
                    break;
                }
            }
            if ($site === null || str_starts_with($site['file'], $src)) {
                continue;
            }
            // Without the frames' arguments (as with zend.exception_ignore_args):
            // a Tessera exception never carries the caller's values (requests,
            // transports holding tokens, key material) into dumps and logs.
            $frames = [];
            foreach (array_slice($trace, $i) as $f) {
                unset($f['args']);
                $frames[] = $f;
            }
            $props['trace']->setValue($e, $frames);
            $props['file']->setValue($e, $site['file']);
            $props['line']->setValue($e, $site['line'] ?? 0);
            return;
        }
    }

    /** The package's source directory (frames inside it are Tessera's own). */
    public static function srcDir(): string
    {
        static $dir = null;
        return $dir ??= dirname(__DIR__) . DIRECTORY_SEPARATOR;
    }

    /** Throws the public exception for a core error. */
    public static function throw(CoreError $error): never
    {
        throw self::exception($error);
    }

    /** `InvalidInput` raised while converting arguments (`errors::invalid`). */
    public static function invalid(string $field, string $reason): CoreError
    {
        return CoreError::invalidInput($field, $reason);
    }

    /** The error for a method called from inside one of its own callbacks (`errors::busy`). */
    public static function busy(): CoreError
    {
        return CoreError::invalidState('the object is busy: it was called again from inside one of its callbacks');
    }
}

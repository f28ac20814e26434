<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** Maps any broker response to one outcome (core/src/classify.rs). */
final class Classify
{
    /** Largest body inspected for an error code. */
    private const MAX_ERROR_BODY = 64 * 1024;
    /** Longest description kept, in characters (the mark `…` included). */
    public const MAX_DESCRIPTION_CHARS = 512;
    /** Longest `details` text kept, in bytes (the mark `…` included). */
    public const MAX_DETAILS_BYTES = 2048;
    /** Control characters (C0, DEL, C1), bidirectional overrides and isolates (Rust `is_dropped`). */
    private const DROPPED = '/[\x{0}-\x{1f}\x{7f}-\x{9f}\x{202a}-\x{202e}\x{2066}-\x{2069}]/u';
    /** Longest `Retry-After` taken at face value (one day). */
    private const MAX_RETRY_AFTER_MS = 86_400_000;
    /** A `RateLimit-Reset` at or above this is absolute unix seconds; below, delay-seconds. */
    private const RESET_ABSOLUTE_FROM = 1_000_000_000;
    /** The response header with which a broker says who produced its answer. */
    public const ORIGIN_HEADER = 'tessera-origin';

    /** Reads the error code (Stora's nested `error.code`, a string `error`, or RFC 9457 `code`), sanitised. */
    public static function errorCode(#[\SensitiveParameter] string $body): ?string
    {
        return self::errorFields($body)[0];
    }

    /**
     * The error code, Stora's `error.request_id`, the explanation and Stora's
     * `error.details` of a JSON error body (Rust `error_fields`). A body that
     * is not JSON gives nothing: it is never kept, as it may echo anything.
     *
     * @return array{0: ?string, 1: ?string, 2: ?string, 3: ?string} code, request id, description, details
     */
    private static function errorFields(#[\SensitiveParameter] string $body): array
    {
        if ($body === '' || \strlen($body) > self::MAX_ERROR_BODY) {
            return [null, null, null, null];
        }
        try {
            $value = Json::parse($body);
            $error = $value->get('error');
        } catch (JsonParseError) {
            return [null, null, null, null];
        } catch (JsonDuplicateKey) {
            $error = null;
        }
        $text = static function (JsonValue $v, string $name): ?string {
            $s = self::member($v, $name);
            return $s === null ? null : CoreError::sanitizeCode($s);
        };
        $prose = static function (JsonValue $v, string $name): ?string {
            $s = self::member($v, $name);
            return $s === null ? null : self::description($s);
        };
        if ($error !== null && $error->isObject()) {
            $id = $text($error, 'request_id');
            try {
                $details = $error->get('details');
            } catch (JsonDuplicateKey) {
                $details = null;
            }
            return [
                $text($error, 'code'),
                $id === 'unknown' ? null : $id,
                $prose($error, 'message'),
                $details === null ? null : self::details($details),
            ];
        }
        if ($error !== null && $error->asStr() !== null) {
            return [CoreError::sanitizeCode($error->asStr()), null, $prose($value, 'error_description'), null];
        }
        return [$text($value, 'code'), null, null, null];
    }

    /** `s` without dropped characters (Rust `is_dropped`). */
    private static function clean(string $s): string
    {
        return (string) preg_replace(self::DROPPED, '', $s);
    }

    /** A description without dropped characters, at most MAX_DESCRIPTION_CHARS; null when nothing is left. */
    private static function description(string $raw): ?string
    {
        $clean = self::clean($raw);
        if ($clean === '') {
            return null;
        }
        $chars = preg_split('//u', $clean, -1, \PREG_SPLIT_NO_EMPTY);
        if (\count($chars) <= self::MAX_DESCRIPTION_CHARS) {
            return $clean;
        }
        return implode('', \array_slice($chars, 0, self::MAX_DESCRIPTION_CHARS - 1)) . '…';
    }

    /**
     * `value` as compact JSON, dropped characters removed from its strings, at
     * most MAX_DETAILS_BYTES; null for `null`, `[]` and `{}` (Rust `details`).
     */
    private static function details(JsonValue $value): ?string
    {
        if ($value->kind === JsonValue::NULL
            || (($value->kind === JsonValue::ARRAY || $value->kind === JsonValue::OBJECT) && $value->value === [])) {
            return null;
        }
        $out = self::compact($value);
        if (\strlen($out) <= self::MAX_DETAILS_BYTES) {
            return $out;
        }
        $end = self::MAX_DETAILS_BYTES - \strlen('…');
        while ((\ord($out[$end]) & 0xC0) === 0x80) {
            $end--;
        }
        return substr($out, 0, $end) . '…';
    }

    /** `value` as compact JSON, dropping dropped characters from strings (Rust `write_compact`). */
    private static function compact(JsonValue $value): string
    {
        return match ($value->kind) {
            JsonValue::NULL => 'null',
            JsonValue::BOOL => $value->value ? 'true' : 'false',
            JsonValue::NUMBER => $value->value,
            JsonValue::STRING => Json::writeStr(self::clean($value->value)),
            JsonValue::ARRAY => '[' . implode(',', array_map(self::compact(...), $value->value)) . ']',
            default => '{' . implode(',', array_map(
                static fn (array $m): string => Json::writeStr(self::clean($m[0])) . ':' . self::compact($m[1]),
                $value->value,
            )) . '}',
        };
    }

    /** Parses an HTTP-date (IMF-fixdate and the two obsolete forms) to unix seconds. */
    public static function parseHttpDate(string $text): ?int
    {
        return HttpDate::parse($text);
    }

    /** Formats unix seconds as an IMF-fixdate (for a `Date` header). */
    public static function fmtHttpDate(int $unixSecs): string
    {
        return HttpDate::format($unixSecs);
    }

    /** `Retry-After` as delay-seconds or an HTTP-date, relative to `now`, in milliseconds; capped at a day. */
    public static function parseRetryAfter(string $value, int $now): ?int
    {
        $v = Text::trim($value);
        $len = \strlen($v);
        if ($len > 0 && $len <= 10 && strspn($v, '0123456789') === $len) {
            return min((int) $v * 1000, self::MAX_RETRY_AFTER_MS);
        }
        $at = HttpDate::parse($v);
        if ($at === null) {
            return null;
        }
        // `(at - now).max(0)` wraps in the Rust release build.
        $secs = max(Ints::wrappingSub($at, $now), 0);
        return $secs >= intdiv(self::MAX_RETRY_AFTER_MS, 1000) ? self::MAX_RETRY_AFTER_MS : $secs * 1000;
    }

    /** `RateLimit-Reset` as absolute unix seconds (Stora's form) or delay-seconds, relative to `now`, in milliseconds; capped at a day. */
    public static function parseRatelimitReset(string $value, int $now): ?int
    {
        $v = Text::trim($value);
        $len = \strlen($v);
        if ($len === 0 || $len > 12 || strspn($v, '0123456789') !== $len) {
            return null; // (Rust: the empty value fails `parse`)
        }
        $n = (int) $v;
        $secs = $n >= self::RESET_ABSOLUTE_FROM ? max(Ints::saturatingSub($n, $now), 0) : $n;
        return $secs >= intdiv(self::MAX_RETRY_AFTER_MS, 1000) ? self::MAX_RETRY_AFTER_MS : $secs * 1000;
    }

    /** Classifies `resp` at time `now` (unix seconds; the machine passes its clock corrected by the offset). */
    public static function classify(Response $resp, int $now): Outcome
    {
        $status = $resp->status;
        [$code, $requestId, $description, $details] = ($status >= 200 && $status < 300)
            ? [null, null, null, null]
            : self::errorFields($resp->body);
        $date = $resp->header('date');
        $serverDate = $date === null ? null : HttpDate::parse($date);
        $clock = $serverDate ?? $now;
        $retryAfterMs = null;
        if ($status === 429) {
            $ra = $resp->header('retry-after');
            $retryAfterMs = $ra === null ? null : self::parseRetryAfter($ra, $clock);
            if ($retryAfterMs === null) {
                $reset = $resp->header('ratelimit-reset');
                $retryAfterMs = $reset === null ? null : self::parseRatelimitReset($reset, $clock);
            }
        }
        $origin = $resp->header(self::ORIGIN_HEADER);
        $fromStora = $origin !== null && Text::asciiUpper(Text::trim($origin)) === 'STORA';
        $kind = match (true) {
            $status >= 200 && $status <= 299 => Outcome::OK,
            ($status === 401 || $status === 403)
                && \in_array($code, ['stora_reconnect_required', 'broker_token_invalid', 'installation_disabled'], true)
                => Outcome::RECONNECT_REQUIRED,
            $status === 401 && ($code === 'signature_invalid' || $code === 'unknown_installation')
                => Outcome::REGISTRATION_INVALID,
            $status === 401 && $code === 'signature_expired' => Outcome::SIGNATURE_EXPIRED,
            $status === 429 => Outcome::RATE_LIMITED,
            // A timeout is one whatever its body says.
            $status === 408 || ($status >= 500 && $status <= 599) => Outcome::SERVER_UNAVAILABLE,
            $status >= 400 && $status <= 499 && $code === 'api_error' => Outcome::UPSTREAM_FAILED,
            $status >= 300 && $status <= 399 => Outcome::REDIRECTED,
            default => Outcome::CLIENT_ERROR,
        };
        return new Outcome($kind, $status, $code, $retryAfterMs, $serverDate, $requestId, $fromStora, $description, $details);
    }

    /** A string member, or null when absent, ambiguous or not a string. */
    private static function member(JsonValue $value, string $name): ?string
    {
        try {
            return $value->get($name)?->asStr();
        } catch (JsonDuplicateKey) {
            return null;
        }
    }
}

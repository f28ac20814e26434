<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** Maps any broker response to one outcome (core/src/classify.rs). */
final class Classify
{
    /** Largest body inspected for an error code. */
    private const MAX_ERROR_BODY = 64 * 1024;
    /** Longest `Retry-After` taken at face value (one day). */
    private const MAX_RETRY_AFTER_MS = 86_400_000;

    /** Reads `error` (or RFC 9457 `code`) from a JSON error body, sanitised. */
    public static function errorCode(#[\SensitiveParameter] string $body): ?string
    {
        if ($body === '' || \strlen($body) > self::MAX_ERROR_BODY) {
            return null;
        }
        try {
            $value = Json::parse($body);
        } catch (JsonParseError) {
            return null;
        }
        $code = self::member($value, 'error') ?? self::member($value, 'code');
        return $code === null ? null : CoreError::sanitizeCode($code);
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

    /** Classifies `resp` at local time `now` (unix seconds). */
    public static function classify(Response $resp, int $now): Outcome
    {
        $status = $resp->status;
        $code = ($status >= 200 && $status < 300) ? null : self::errorCode($resp->body);
        $date = $resp->header('date');
        $serverDate = $date === null ? null : HttpDate::parse($date);
        $retryAfterMs = null;
        if ($status === 429) {
            $ra = $resp->header('retry-after');
            $retryAfterMs = $ra === null ? null : self::parseRetryAfter($ra, $serverDate ?? $now);
        }
        $kind = match (true) {
            $status >= 200 && $status <= 299 => Outcome::OK,
            ($status === 401 || $status === 403)
                && \in_array($code, ['stora_reconnect_required', 'broker_token_invalid', 'installation_disabled'], true)
                => Outcome::RECONNECT_REQUIRED,
            $status === 401 && ($code === 'signature_invalid' || $code === 'unknown_installation')
                => Outcome::REGISTRATION_INVALID,
            $status === 401 && $code === 'signature_expired' => Outcome::SIGNATURE_EXPIRED,
            $status === 429 => Outcome::RATE_LIMITED,
            $status >= 300 && $status <= 399 => Outcome::REDIRECTED,
            $status === 408 || ($status >= 500 && $status <= 599) => Outcome::SERVER_UNAVAILABLE,
            default => Outcome::CLIENT_ERROR,
        };
        return new Outcome($kind, $status, $code, $retryAfterMs, $serverDate);
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

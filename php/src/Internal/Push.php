<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * Pushed events (port of core/src/push.rs; docs/PROTOCOL.md §14.4),
 * optional: a site that accepts inbound requests registers a URL on its own
 * origin, and the broker POSTs each of Stora's events it queues for the
 * installation there at once, signed with the installation's secret. The
 * pull ({@see Events}) stays the source of truth: a push never moves the
 * cursor, and the next pull brings the same events again (keep events by id).
 *
 * The signature: `Tessera-Push-Signature: t=<unix seconds>,v1=<hex
 * HMAC-SHA256(secret, "tessera-push-v1\n" + install_id + "\n" + t + "\n" +
 * raw body)>`.
 */
final class Push
{
    /** The header that carries a push's signature. */
    public const SIGNATURE_HEADER = 'tessera-push-signature';
    /** What the MAC of a push starts with (domain separation). */
    public const CONTEXT = 'tessera-push-v1';
    /** A push signed further than this from the plugin's clock (corrected by the learned offset) is refused, in either direction. */
    public const TOLERANCE_SECS = 300;
    /** Largest push body accepted: one event of Stora's (at most 256 KiB) and its envelope. */
    public const MAX_BODY = 320 * 1024;
    /** Most events one push carries. */
    public const MAX_EVENTS = 10;
    /** The broker path the push URL is registered at (`PUT`, `DELETE`). */
    public const PATH = '/events/push';
    /** Longest push URL. */
    public const MAX_URL = 2048;
    /** Most `v1` values one header may carry. */
    private const MAX_V1 = 8;

    /**
     * `t=…,v1=<hex>[,v1=…]` (`parse_timestamped_signature`): the timestamp as
     * sent (it is signed as text), its value, and every `v1` as 32 raw bytes
     * (at most 8). Other keys are ignored; null when a part has no `=`, `t`
     * is missing, not 1 to 12 digits or given twice, or a `v1` is not 64 hex
     * digits (or there are more than 8). Parts are trimmed as Rust's
     * `str::trim` trims (Unicode White_Space).
     *
     * @return array{0: string, 1: int, 2: list<string>}|null
     */
    public static function parseTimestampedSignature(string $header): ?array
    {
        $t = null;
        $v1 = [];
        foreach (explode(',', $header) as $part) {
            $part = Text::trim($part);
            $eq = strpos($part, '=');
            if ($eq === false) {
                return null;
            }
            $key = substr($part, 0, $eq);
            $value = substr($part, $eq + 1);
            if ($key === 't') {
                $n = \strlen($value);
                if ($t !== null || $n < 1 || $n > 12 || strspn($value, '0123456789') !== $n) {
                    return null;
                }
                $t = $value;
            } elseif ($key === 'v1') {
                if (\count($v1) >= self::MAX_V1) {
                    return null;
                }
                $mac = self::unhex($value);
                if ($mac === null) {
                    return null;
                }
                $v1[] = $mac;
            }
        }
        if ($t === null || $v1 === []) {
            return null;
        }
        return [$t, (int) $t, $v1];
    }

    /**
     * 64 hex digits as 32 bytes (`unhex`); anything else (a sign, a space)
     * makes the header malformed.
     */
    private static function unhex(string $hex): ?string
    {
        if (\strlen($hex) !== 64 || strspn($hex, '0123456789abcdefABCDEF') !== 64) {
            return null;
        }
        $out = '';
        for ($i = 0; $i < 64; $i += 2) {
            $out .= \chr((int) hexdec(substr($hex, $i, 2)));
        }
        return $out;
    }

    /** HMAC-SHA256(secret, "tessera-push-v1\n" id "\n" t "\n" body) (`push_mac`), raw. */
    private static function mac(Secret $secret, string $installId, string $t, #[\SensitiveParameter] string $body): string
    {
        return hash_hmac('sha256', self::CONTEXT . "\n" . $installId . "\n" . $t . "\n" . $body, $secret->expose(), true);
    }

    /**
     * Broker side (`sign_push`): the `Tessera-Push-Signature` value of a push
     * of `$body` to the installation `$installId` holding `$secret`, signed
     * at `$now`.
     */
    public static function sign(Secret $secret, string $installId, #[\SensitiveParameter] string $body, int $now): string
    {
        $t = (string) $now;
        return "t={$t},v1=" . bin2hex(self::mac($secret, $installId, $t, $body));
    }

    /**
     * Checks a push URL against the installation's site URL and returns it
     * normalised (`check_push_url`): absolute, on the site's origin (same
     * scheme, host and port) over http(s), no fragment or credentials, at
     * most {@see MAX_URL} bytes. Broker and plugin apply the same rule.
     *
     * @throws CoreError too_large / invalid_url (field `push_url`)
     */
    public static function checkUrl(string $siteUrl, string $url): string
    {
        $field = 'push_url';
        if (\strlen($url) > self::MAX_URL) {
            throw CoreError::tooLarge($field, self::MAX_URL);
        }
        $push = Url::parse($url, $field);
        $site = Url::parse($siteUrl, 'site_url');
        if (!\in_array($push->scheme(), ['https', 'http'], true)) {
            throw CoreError::invalidUrl($field, 'must be an http(s) URL');
        }
        if ($push->scheme() !== $site->scheme() || $push->authority() !== $site->authority()) {
            throw CoreError::invalidUrl($field, "must be on the site's own origin");
        }
        return $push->asString();
    }

    /**
     * Reads a push body (`parse_push`): `{"events": [1 to 10 events]}`, each
     * as in a pull ({@see Events::event()}).
     *
     * @return list<StoraEvent>
     * @throws CoreError response_invalid
     */
    private static function parse(string $body): array
    {
        try {
            $root = Json::parse($body);
        } catch (JsonParseError) {
            throw CoreError::responseInvalid('not JSON');
        }
        try {
            $items = $root->get('events')?->items();
        } catch (JsonDuplicateKey) {
            throw CoreError::responseInvalid('a member appears twice');
        }
        if ($items === null) {
            throw CoreError::responseInvalid('events must be an array');
        }
        if ($items === [] || \count($items) > self::MAX_EVENTS) {
            throw CoreError::responseInvalid('a push carries 1 to 10 events');
        }
        $events = [];
        foreach ($items as $item) {
            $events[] = Events::event($item);
        }
        return $events;
    }

    /**
     * Verifies a push the broker sent to the site (`Companion::verify_push`):
     * the raw body as received, the request's headers, at local time `$now`;
     * returns its events. Nothing of the body is read before the signature
     * verified. Every `v1` is compared, in constant time.
     *
     * @param list<array{0: string, 1: string}> $headers
     * @return list<StoraEvent>
     * @throws CoreError not_registered, too_large, signature_missing, signature_malformed, signature_expired,
     *         signature_invalid, response_invalid (in that order of checks)
     */
    public static function verify(CompanionCore $c, #[\SensitiveParameter] array $headers, #[\SensitiveParameter] string $body, int $now): array
    {
        $inst = $c->state->installation ?? throw CoreError::notRegistered();
        if (\strlen($body) > self::MAX_BODY) {
            throw CoreError::tooLarge('body', self::MAX_BODY);
        }
        $header = Http::findHeader($headers, self::SIGNATURE_HEADER) ?? throw CoreError::signatureMissing();
        [$tText, $t, $candidates] = self::parseTimestampedSignature($header)
            ?? throw CoreError::signatureMalformed('Tessera-Push-Signature');
        $local = Ints::saturatingAdd($now, $c->state->clockOffset);
        $skew = Ints::saturatingSub($t, $local);
        if ($skew > self::TOLERANCE_SECS || $skew < -self::TOLERANCE_SECS) {
            throw CoreError::signatureExpired();
        }
        $expected = self::mac($inst->secret, $inst->id, $tText, $body);
        // Every candidate is compared: no early exit on a match's position.
        $matched = false;
        foreach ($candidates as $v1) {
            $equal = Secret::ctEq($expected, $v1);
            $matched = $equal || $matched;
        }
        if (!$matched) {
            throw CoreError::signatureInvalid();
        }
        return self::parse($body);
    }

    /**
     * The signed call that registers `$url` as this site's push URL (`PUT
     * /events/push {"url": …}`), or with null stops the pushes (`DELETE
     * /events/push`) (`push_registration_request`). The installation must be
     * usable; `$url` is checked first ({@see checkUrl()}).
     *
     * @throws CoreError
     */
    public static function registrationRequest(CompanionCore $c, ?string $url): ApiRequest
    {
        $inst = $c->usableInstallation();
        if ($url === null) {
            return new ApiRequest('DELETE', self::PATH);
        }
        $w = new ObjectWriter();
        $w->str('url', self::checkUrl($inst->siteUrl, $url));
        return ApiRequest::json('PUT', self::PATH, $w->end());
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * Port of core/src/redact.rs: what a binding may keep of text the host
 * produced (a transport failure's message) before handing it back to the
 * caller as the cause of a Tessera error.
 *
 * @internal
 */
final class Redact
{
    /** What replaces a secret in redacted text. */
    public const REDACTED = '[redacted]';

    /**
     * `$text` with every secret `$core` (when there is one) holds (the installation secret as it
     * is sent, base64url; the broker token; in proxy mode the Stora access and
     * refresh token) and every credential of `$sent`
     * (its `Authorization` and `Signature` header values) replaced by
     * `[redacted]`. Longer secrets are replaced first, so a header value that
     * contains the token goes whole.
     */
    public static function text(
        #[\SensitiveParameter] ?CompanionCore $core,
        #[\SensitiveParameter] string $text,
        #[\SensitiveParameter] ?Request $sent,
    ): string {
        $secrets = [
            $core?->state->installation?->secret->toBase64url(),
            $core?->state->brokerToken?->expose(),
            $core?->state->tokens?->access->expose(),
            $core?->state->tokens?->refresh->expose(),
            $sent?->header('authorization'),
            $sent?->header('signature'),
        ];
        $secrets = array_values(array_filter($secrets, static fn (?string $s): bool => $s !== null && $s !== ''));
        usort($secrets, static fn (string $a, string $b): int => \strlen($b) <=> \strlen($a));
        foreach ($secrets as $secret) {
            // str_replace scans left to right without overlap, as the core does.
            $text = str_replace($secret, self::REDACTED, $text);
        }
        return $text;
    }
}

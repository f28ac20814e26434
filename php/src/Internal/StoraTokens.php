<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * The operator's Stora tokens, held by the installation itself in
 * authorization-proxy mode (`state::StoraTokens`, docs/PROTOCOL.md §13):
 * the access and refresh token of one grant, replaced together (Stora
 * rotates the refresh token on every use and revokes the previous one).
 * Both tokens are {@see BrokerToken}s: never shown in dumps.
 */
final class StoraTokens
{
    private function __construct(
        public readonly BrokerToken $access,
        public readonly BrokerToken $refresh,
        /** When the access token expires, local unix seconds. */
        public readonly int $expiresAt,
        /** The scope Stora granted. */
        public readonly string $scope,
    ) {
    }

    /**
     * A pair from the proxy's answer, both tokens checked against RFC 6750's
     * `b64token` (1-512 characters), the scope at most 1024 bytes without a
     * control character.
     *
     * @throws CoreError callback_invalid
     */
    public static function new(
        #[\SensitiveParameter] string $access,
        #[\SensitiveParameter] string $refresh,
        int $expiresAt,
        string $scope,
    ): self {
        try {
            $a = BrokerToken::new($access);
        } catch (CoreError) {
            throw self::malformed('access_token');
        }
        try {
            $r = BrokerToken::new($refresh);
        } catch (CoreError) {
            throw self::malformed('refresh_token');
        }
        if (\strlen($scope) > 1024 || preg_match('/[\x00-\x1F\x7F]|\xC2[\x80-\x9F]/', $scope) === 1) {
            throw self::malformed('scope');
        }
        return new self($a, $r, $expiresAt, $scope);
    }

    /** Whether the access token expires within `$margin` seconds of `$now`. */
    public function expiring(int $now, int $margin): bool
    {
        return Ints::saturatingAdd($now, $margin) >= $this->expiresAt;
    }

    /**
     * The fingerprint of a refresh token kept after it was rotated away:
     * base64url(SHA-256(token)). The token itself is never kept.
     */
    public static function fingerprint(BrokerToken $token): string
    {
        return Encoding::b64urlEncode(hash('sha256', $token->expose(), true));
    }

    private static function malformed(string $member): CoreError
    {
        return CoreError::callbackInvalid(match ($member) {
            'access_token' => "the proxy's answer has a malformed access_token",
            'refresh_token' => "the proxy's answer has a malformed refresh_token",
            default => "the proxy's answer has a malformed scope",
        });
    }
}

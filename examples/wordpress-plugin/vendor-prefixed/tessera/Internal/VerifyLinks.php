<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * URL-signed links and ownership proofs, broker side (core/src/verify/links.rs):
 * the connect URL (docs/PROTOCOL.md §5.3), the uninstall ticket (§5.9) and the
 * ownership proof (§5.2), each checked in the same sans-IO shape as a request
 * — what needs no secret first, then the secret the broker looked up — and
 * refused with the wire answer ({@see Refusal}).
 */
final class VerifyLinks
{
    private const CONNECT_KEYS = ['install_id', 'state', 'return_url', 'scope', 'ts', 'sig'];

    /**
     * Step 1 of verifying a connect URL (absolute, or just its query) at
     * broker time `now`: its parameters, and `ts` within the connect lifetime.
     *
     * @throws Refusal
     */
    public static function beginConnectUrl(#[\SensitiveParameter] string $url, int $now): ConnectUrlAwaitingSecret
    {
        try {
            return self::parseConnectUrl($url, $now);
        } catch (CoreError $e) {
            throw new Refusal($e, $now);
        }
    }

    /** @throws CoreError */
    private static function parseConnectUrl(#[\SensitiveParameter] string $url, int $now): ConnectUrlAwaitingSecret
    {
        if (\strlen($url) > Connect::MAX_CALLBACK) {
            throw CoreError::tooLarge('url', Connect::MAX_CALLBACK);
        }
        $pairs = Connect::uniquePairs(Connect::queryOf($url));
        if ($pairs === null) {
            throw CoreError::signatureMalformed('malformed or repeated query parameter');
        }
        foreach ($pairs as [$k]) {
            if (!\in_array($k, self::CONNECT_KEYS, true)) {
                throw CoreError::signatureMalformed('unexpected query parameter');
            }
        }
        $need = static function (string $k) use ($pairs): string {
            return Connect::get($pairs, $k) ?? throw CoreError::signatureMalformed('missing connect parameter');
        };
        $installId = $need('install_id');
        $state = $need('state');
        $returnUrl = $need('return_url');
        $sig = $need('sig');
        $scope = Connect::get($pairs, 'scope');
        $ts = Connect::checkTs(Connect::get($pairs, 'ts'), $now, Connect::CONNECT_TTL_SECS);
        return new ConnectUrlAwaitingSecret(new ConnectParams($installId, $state, $returnUrl, $scope, $ts), $sig, $now);
    }

    /**
     * Step 1 of verifying an uninstall ticket (the URL or its query) for
     * `installId` (taken from the path) at broker time `now`: `sig` present,
     * `ts` at most `maxAgeSecs` old.
     *
     * @throws Refusal
     */
    public static function beginUninstallTicket(
        string $installId,
        #[\SensitiveParameter] string $urlOrQuery,
        int $now,
        int $maxAgeSecs,
    ): TicketAwaitingSecret {
        try {
            return self::parseTicket($installId, $urlOrQuery, $now, $maxAgeSecs);
        } catch (CoreError $e) {
            throw new Refusal($e, $now);
        }
    }

    /** @throws CoreError */
    private static function parseTicket(string $installId, #[\SensitiveParameter] string $urlOrQuery, int $now, int $maxAgeSecs): TicketAwaitingSecret
    {
        if (\strlen($urlOrQuery) > Connect::MAX_CALLBACK) {
            throw CoreError::tooLarge('url', Connect::MAX_CALLBACK);
        }
        $pairs = Connect::uniquePairs(Connect::queryOf($urlOrQuery));
        if ($pairs === null) {
            throw CoreError::signatureMalformed('malformed or repeated query parameter');
        }
        $sig = Connect::get($pairs, 'sig');
        if ($sig === null) {
            throw CoreError::signatureMissing();
        }
        $ts = Connect::checkTs(Connect::get($pairs, 'ts'), $now, $maxAgeSecs);
        return new TicketAwaitingSecret($installId, $ts, $sig, $now);
    }

    /**
     * Checks an ownership proof fetched from the site (constant time) at
     * broker time `now`; a mismatch is `403 ownership_proof_invalid`.
     *
     * @throws Refusal
     */
    public static function checkOwnershipProof(Secret $secret, string $installId, string $challenge, #[\SensitiveParameter] string $proof, int $now): void
    {
        try {
            Registration::verifyOwnershipProof($secret, $installId, $challenge, $proof);
        } catch (CoreError $e) {
            throw new Refusal($e, $now);
        }
    }

    /**
     * Both steps of {@see beginConnectUrl()} with a lookup.
     *
     * @param callable(string): ?Secret $secretFor
     * @throws CoreError
     */
    public static function verifyConnectUrl(#[\SensitiveParameter] string $url, int $now, callable $secretFor): ConnectParams
    {
        try {
            $pending = self::beginConnectUrl($url, $now);
            return $pending->check($secretFor($pending->installId()));
        } catch (Refusal $r) {
            throw $r->error();
        }
    }

    /**
     * Both steps of {@see beginUninstallTicket()} with a lookup.
     *
     * @param callable(string): ?Secret $secretFor
     * @throws CoreError
     */
    public static function verifyUninstallTicket(
        string $installId,
        #[\SensitiveParameter] string $urlOrQuery,
        int $now,
        int $maxAgeSecs,
        callable $secretFor,
    ): int {
        try {
            $pending = self::beginUninstallTicket($installId, $urlOrQuery, $now, $maxAgeSecs);
            return $pending->check($secretFor($pending->installId()));
        } catch (Refusal $r) {
            throw $r->error();
        }
    }
}

<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera;

use StorefrontSync\Vendor\Tessera\Internal\Binding;
use StorefrontSync\Vendor\Tessera\Internal\Connect;
use StorefrontSync\Vendor\Tessera\Internal\Convert;
use StorefrontSync\Vendor\Tessera\Internal\CoreError;
use StorefrontSync\Vendor\Tessera\Internal\Host;
use StorefrontSync\Vendor\Tessera\Internal\MemoryReplayStore;
use StorefrontSync\Vendor\Tessera\Internal\PhpErrors;
use StorefrontSync\Vendor\Tessera\Internal\Refusal;
use StorefrontSync\Vendor\Tessera\Internal\Secret;
use StorefrontSync\Vendor\Tessera\Internal\Signature;
use StorefrontSync\Vendor\Tessera\Internal\Verifier as CoreVerifier;
use StorefrontSync\Vendor\Tessera\Internal\VerifierCallbacks;
use StorefrontSync\Vendor\Tessera\Internal\VerifierState;
use StorefrontSync\Vendor\Tessera\Internal\VerifyLinks;

/**
 * Broker side: verifies signed plugin requests, connect URLs, uninstall
 * tickets and ownership proofs. Secrets are passed in their base64url form,
 * as received at registration.
 *
 * The pure-PHP twin of the extension's `Tessera\Verifier` (port of
 * `php-ext/src/verifier.rs`).
 */
final class Verifier
{
    /**
     * @param int|null $windowSecs accepted clock difference (default 300)
     * @param int|null $replayCapacity opt into an in-memory replay store holding this many live nonces per
     *        installation (an installation that fills its share is refused, `replay_store_full`; no other is), only
     *        for a long-running process: under PHP-FPM or mod_php objects die with the request; pass `$replay` instead
     * @throws Exception\InvalidInputException
     */
    public function __construct($windowSecs = null, $replayCapacity = null)
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 2);
        try {
            $window = Convert::optInt($windowSecs, 'windowSecs') ?? CoreVerifier::DEFAULT_WINDOW_SECS;
            $replay = null;
            $n = Convert::optInt($replayCapacity, 'replayCapacity');
            if ($n !== null) {
                if ($n < 0) {
                    throw CoreError::invalidInput('replayCapacity', 'must not be negative');
                }
                $replay = new MemoryReplayStore($n);
            }
            Binding::setVerifier($this, new VerifierState(new CoreVerifier($window), $replay));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Verifies a signed request, in the core's steps: what needs no secret;
     * then `$secretFor`, called once; then the MAC; then, only for a request
     * whose MAC verified, the replay store.
     *
     * @param array{method: string, url: string, headers?: array<string, string|list<string>>, body?: string} $request
     *        `url` is absolute: the broker's public URL for the request
     * @param callable $secretFor `(string $installId): ?string` the secret (base64url), or null when unknown
     * @param callable|null $replay `(string $key, int $expiresAt, int $now): string` records the nonce and answers
     *        'fresh', 'seen' or 'full' (true/false are read as fresh/seen); `$key` is `install_id:nonce`: bound what
     *        each installation may hold, never one limit for all. When null, the in-memory store from
     *        `$replayCapacity`; without either the call is refused up front (invalid_input)
     * @param int|null $now unix seconds; the clock when null
     * @return array{install_id: string, created: int, expires: int, nonce: string, idempotency_key: ?string, bearer: ?string}
     * @throws Exception\VerificationException when the request does not verify (with the wire answer)
     * @throws Exception\InvalidInputException
     */
    public function verify(#[\SensitiveParameter] $request, $secretFor, $replay = null, $now = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 4);
        try {
            $req = Convert::requestFromPhp(Convert::array($request, 'request'));
            $secretFn = Convert::callable($secretFor, 'secretFor');
            $replay = Convert::optCallable($replay, 'replay');
            $now = Convert::optInt($now, 'now') ?? Host::unixNow();
            $inner = Binding::verifier($this);
            if ($replay === null && $inner->replay === null) {
                throw CoreError::invalidInput('replay', VerifierCallbacks::NO_REPLAY_STORE);
            }
            $pending = $inner->core->begin($req, $now);
            $awaiting = $pending->check(VerifierCallbacks::secretFor($secretFn, $pending->keyid()));
            if ($replay !== null) {
                $answer = $replay($awaiting->replayKey(), $awaiting->expiresAt(), $now);
                $v = $awaiting->finish(VerifierCallbacks::replayAnswer($answer));
            } else {
                $v = $awaiting->recordIn($inner->replay);
            }
            return [
                'install_id' => $v->installId,
                'created' => $v->created,
                'expires' => $v->expires,
                'nonce' => $v->nonce,
                'idempotency_key' => $v->idempotencyKey,
                'bearer' => $v->bearer,
            ];
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        } catch (Refusal $r) {
            throw PhpErrors::refusal($r);
        }
    }

    /**
     * Verifies a connect URL (absolute, or just its query): its parameters
     * and `ts` first, then `$secretFor` (called once), then `sig` and the
     * return URL.
     *
     * @param string $url
     * @param callable $secretFor `(string $installId): ?string`
     * @param int|null $now
     * @return array{install_id: string, state: string, return_url: string, scope: ?string, ts: int}
     * @throws Exception\VerificationException when it does not verify (with the wire answer)
     */
    public static function verifyConnectUrl($url, $secretFor, $now = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 3);
        try {
            $url = Convert::utf8($url, 'url');
            $secretFn = Convert::callable($secretFor, 'secretFor');
            $now = Convert::optInt($now, 'now') ?? Host::unixNow();
            $pending = VerifyLinks::beginConnectUrl($url, $now);
            $p = $pending->check(VerifierCallbacks::secretFor($secretFn, $pending->installId()));
            return [
                'install_id' => $p->installId,
                'state' => $p->state,
                'return_url' => $p->returnUrl,
                'scope' => $p->scope,
                'ts' => $p->ts,
            ];
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        } catch (Refusal $r) {
            throw PhpErrors::refusal($r);
        }
    }

    /**
     * Verifies an uninstall ticket for `$installId` (taken from the path):
     * `sig` present and `ts` at most `$maxAgeSecs` old, then `$secretFor`
     * (called once), then `sig`. Returns the ticket's timestamp.
     *
     * @param string $installId
     * @param string $urlOrQuery
     * @param callable $secretFor `(string $installId): ?string`
     * @param int|null $maxAgeSecs default 7 days
     * @param int|null $now
     * @throws Exception\VerificationException when it does not verify (with the wire answer)
     */
    public static function verifyUninstallTicket($installId, $urlOrQuery, $secretFor, $maxAgeSecs = null, $now = null): int
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 3, 5);
        try {
            $installId = Convert::utf8($installId, 'installId');
            $url = Convert::utf8($urlOrQuery, 'urlOrQuery');
            $secretFn = Convert::callable($secretFor, 'secretFor');
            $maxAge = Convert::optInt($maxAgeSecs, 'maxAgeSecs') ?? Connect::UNINSTALL_TICKET_MAX_AGE_SECS;
            $now = Convert::optInt($now, 'now') ?? Host::unixNow();
            $pending = VerifyLinks::beginUninstallTicket($installId, $url, $now, $maxAge);
            return $pending->check(VerifierCallbacks::secretFor($secretFn, $pending->installId()));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        } catch (Refusal $r) {
            throw PhpErrors::refusal($r);
        }
    }

    /**
     * Generic RFC 9421 HMAC-SHA256 signing of `$request` for one
     * `Signature-Input` member (`label=(...);params`) under the raw `$key`.
     * For interoperability checks (RFC 9421 Appendix B.2.5), not the profile.
     *
     * @param array{method: string, url: string, headers?: array<string, string|list<string>>, body?: string} $request
     * @param string $signatureInput
     * @param string $key
     * @return array{signature_base: string, signature: string}
     * @throws Exception\InvalidInputException
     * @throws Exception\VerificationException when the signature input is malformed
     */
    public static function hmacSignGeneric($request, $signatureInput, #[\SensitiveParameter] $key): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 3, 3);
        try {
            $req = Convert::requestFromPhp(Convert::array($request, 'request'));
            [$base, $signature] = Signature::hmacSignGeneric(
                $req,
                Convert::utf8($signatureInput, 'signatureInput'),
                Convert::bytes($key, 'key'),
            );
            return ['signature_base' => $base, 'signature' => $signature];
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Checks an ownership proof fetched from the site, in constant time.
     *
     * @param string $secret the installation's secret (base64url, as registered)
     * @param string $installId
     * @param string $challenge
     * @param string $proof
     * @param int|null $now broker time of the check (unix seconds); the clock when null
     * @throws Exception\VerificationException when it does not match (403, with the wire answer)
     */
    public static function verifyOwnershipProof(#[\SensitiveParameter] $secret, $installId, $challenge, #[\SensitiveParameter] $proof, $now = null): void
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 4, 5);
        try {
            $secret = Secret::fromBase64url(Convert::utf8($secret, 'secret'));
            $installId = Convert::utf8($installId, 'installId');
            $challenge = Convert::utf8($challenge, 'challenge');
            $proof = Convert::utf8($proof, 'proof');
            $now = Convert::optInt($now, 'now') ?? Host::unixNow();
            VerifyLinks::checkOwnershipProof($secret, $installId, $challenge, $proof, $now);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        } catch (Refusal $r) {
            throw PhpErrors::refusal($r);
        }
    }

    // ---- no copies, no serialisation ------------------------------------------------------

    /** Not cloneable (like the extension's objects). */
    public function __clone()
    {
        throw new \Error('Trying to clone an uncloneable object of class ' . self::class);
    }

    /** @return never */
    public function __serialize(): array
    {
        throw new \Exception("Serialization of '" . self::class . "' is not allowed");
    }

    /** @return never */
    public function __wakeup(): void
    {
        throw new \Exception("Unserialization of '" . self::class . "' is not allowed");
    }
}

<?php

declare(strict_types=1);

namespace Tessera\Pure;

use Tessera\Pure\Internal\Binding;
use Tessera\Pure\Internal\Connect;
use Tessera\Pure\Internal\Convert;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\Host;
use Tessera\Pure\Internal\MemoryReplayStore;
use Tessera\Pure\Internal\PhpErrors;
use Tessera\Pure\Internal\Registration;
use Tessera\Pure\Internal\NoReplayStore;
use Tessera\Pure\Internal\PhpReplayStore;
use Tessera\Pure\Internal\SecretLookup;
use Tessera\Pure\Internal\Secret;
use Tessera\Pure\Internal\Signature;
use Tessera\Pure\Internal\Verifier as CoreVerifier;
use Tessera\Pure\Internal\VerifierState;

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
     * Verifies a signed request.
     *
     * @param array{method: string, url: string, headers?: array<string, string|list<string>>, body?: string} $request
     *        `url` is absolute: the broker's public URL for the request
     * @param callable $secretFor `(string $installId): ?string` the secret (base64url), or null when unknown
     * @param callable|null $replay `($key, $expiresAt, $now): bool`: true when recorded now, false when already
     *        seen (`$key` is `install_id:nonce`: bound what each installation may hold, never one limit for all);
     *        when null the in-memory store from `$replayCapacity`, and without one a request that would verify is
     *        refused
     * @param int|null $now unix seconds; the clock when null
     * @return array{install_id: string, created: int, expires: int, nonce: string, idempotency_key: ?string, bearer: ?string}
     * @throws Exception\VerificationException when the request does not verify
     * @throws Exception\InvalidInputException
     */
    public function verify(#[\SensitiveParameter] $request, $secretFor, $replay = null, $now = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 4);
        try {
            $req = Convert::requestFromPhp(Convert::array($request, 'request'));
            $lookup = new SecretLookup(Convert::callable($secretFor, 'secretFor'));
            $now = Convert::optInt($now, 'now') ?? Host::unixNow();
            $replay = Convert::optCallable($replay, 'replay');
            $inner = Binding::verifier($this);
            $core = $inner->core;
            $secretFn = $lookup->lookup(...);
            if ($replay !== null) {
                $store = new PhpReplayStore($replay);
                $r = SecretLookup::attempt(fn () => $core->verify($req, $now, $secretFn, $store));
                $store->rethrow();
            } elseif ($inner->replay !== null) {
                if ($inner->busy) {
                    throw PhpErrors::busy();
                }
                $inner->busy = true;
                try {
                    $r = SecretLookup::attempt(fn () => $core->verify($req, $now, $secretFn, $inner->replay));
                } finally {
                    $inner->busy = false;
                }
            } else {
                $r = SecretLookup::attempt(fn () => $core->verify($req, $now, $secretFn, new NoReplayStore()));
            }
            $v = $lookup->finish($r);
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
        }
    }

    /**
     * Verifies a connect URL (absolute, or just its query).
     *
     * @param string $url
     * @param callable $secretFor `(string $installId): ?string`
     * @param int|null $now
     * @return array{install_id: string, state: string, return_url: string, scope: ?string, ts: int}
     * @throws Exception\VerificationException
     */
    public static function verifyConnectUrl($url, $secretFor, $now = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 3);
        try {
            $url = Convert::utf8($url, 'url');
            $lookup = new SecretLookup(Convert::callable($secretFor, 'secretFor'));
            $now = Convert::optInt($now, 'now') ?? Host::unixNow();
            $r = SecretLookup::attempt(fn () => Connect::verifyConnectUrl($url, $now, $lookup->lookup(...)));
            $p = $lookup->finish($r);
            return [
                'install_id' => $p->installId,
                'state' => $p->state,
                'return_url' => $p->returnUrl,
                'scope' => $p->scope,
                'ts' => $p->ts,
            ];
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Verifies an uninstall ticket for `$installId` (taken from the path);
     * returns the ticket's timestamp.
     *
     * @param string $installId
     * @param string $urlOrQuery
     * @param callable $secretFor `(string $installId): ?string`
     * @param int|null $maxAgeSecs default 7 days
     * @param int|null $now
     * @throws Exception\VerificationException
     */
    public static function verifyUninstallTicket($installId, $urlOrQuery, $secretFor, $maxAgeSecs = null, $now = null): int
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 3, 5);
        try {
            $installId = Convert::utf8($installId, 'installId');
            $url = Convert::utf8($urlOrQuery, 'urlOrQuery');
            $lookup = new SecretLookup(Convert::callable($secretFor, 'secretFor'));
            $maxAge = Convert::optInt($maxAgeSecs, 'maxAgeSecs') ?? Connect::UNINSTALL_TICKET_MAX_AGE_SECS;
            $now = Convert::optInt($now, 'now') ?? Host::unixNow();
            $r = SecretLookup::attempt(fn () => Connect::verifyUninstallTicket($installId, $url, $now, $maxAge, $lookup->lookup(...)));
            return $lookup->finish($r);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
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
     * @throws Exception\VerificationException when it does not match
     */
    public static function verifyOwnershipProof(#[\SensitiveParameter] $secret, $installId, $challenge, #[\SensitiveParameter] $proof): void
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 4, 4);
        try {
            $secret = Secret::fromBase64url(Convert::utf8($secret, 'secret'));
            Registration::verifyOwnershipProof(
                $secret,
                Convert::utf8($installId, 'installId'),
                Convert::utf8($challenge, 'challenge'),
                Convert::utf8($proof, 'proof'),
            );
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
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

<?php

declare(strict_types=1);

namespace Tessera\Pure;

use Tessera\Pure\Internal\Binding;
use Tessera\Pure\Internal\Call;
use Tessera\Pure\Internal\Classify;
use Tessera\Pure\Internal\CompanionCore;
use Tessera\Pure\Internal\Convert;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\Host;
use Tessera\Pure\Internal\Machine;
use Tessera\Pure\Internal\PhpErrors;
use Tessera\Pure\Internal\SignOptions;
use Tessera\Pure\Internal\TestHooks;

/**
 * The plugin side of one installation: configuration plus state.
 *
 * The pure-PHP twin of the extension's `Tessera\Companion` (same methods,
 * arguments, array shapes, errors; see `php-ext/tessera.stub.php`). Persist
 * `toJson()` (better: `sealState()`) after every method that changes the
 * state. Objects cannot be serialised or cloned and show nothing in dumps.
 *
 * Parameters are untyped on purpose: a value of the wrong type is an
 * `InvalidInputException`, never a `TypeError` (the extension's contract).
 */
final class Companion
{
    /**
     * Not constructible with `new`: use `create()`, `fromJson()` or
     * `openState()`.
     *
     * @throws Exception\InvalidStateException always
     */
    public function __construct()
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        throw PhpErrors::exception(CoreError::invalidState('create a Companion with Companion::create(), fromJson() or openState()'));
    }

    /**
     * A fresh, unregistered companion.
     *
     * @param array{broker_url: string, routes?: array{installations?: string, connect?: string, disconnect?: string}, retry?: array{max_attempts?: int, base_delay_ms?: int, max_delay_ms?: int, max_total_delay_ms?: int, max_retry_after_ms?: int}} $config
     * @throws Exception\InvalidInputException
     */
    public static function create($config): Companion
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 1);
        try {
            $config = Convert::configFromPhp(Convert::array($config, 'config'));
            return Binding::wrap(CompanionCore::create($config));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Restores a companion from `toJson()` output.
     *
     * @param string $json
     * @throws Exception\InvalidStateException when the JSON is corrupt or from a newer version
     */
    public static function fromJson(#[\SensitiveParameter] $json): Companion
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 1);
        try {
            return Binding::wrap(CompanionCore::fromJson(Convert::utf8($json, 'json')));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * The state as JSON. It contains the secret and the broker token: store
     * it sealed (`sealState()`) or where only the plugin can read it.
     */
    public function toJson(): string
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        try {
            return Binding::core($this)->toJson();
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Where the installation stands: `not_registered`,
     * `registration_pending`, `awaiting_ownership`, `registered`,
     * `connected`, `reconnect_required`, `registration_invalid` or
     * `site_mismatch`.
     */
    public function status(): string
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        try {
            return Binding::core($this)->status();
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /** The install id (`ins_…`), once one exists. */
    public function installId(): ?string
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        try {
            return Binding::core($this)->installId();
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /** The registered site URL. */
    public function siteUrl(): ?string
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        try {
            return Binding::core($this)->siteUrl();
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /** Why a reconnect is required, when it is. */
    public function reconnectReason(): ?string
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        try {
            return Binding::core($this)->reconnectReason();
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /** The learned clock offset (broker minus local), in seconds. */
    public function clockOffset(): int
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        try {
            return Binding::core($this)->clockOffset();
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Registers this installation with the broker on the core's step
     * machine: a new installation, one still pending, one the broker no
     * longer accepts, the copy of a site, or the ownership round of a site
     * move. The new secret is handed to `$persist` before anything is sent;
     * 5xx, 408 and transport failures are retried.
     *
     * @param array{site_url: string, admin_email: string, platform: string, plugin_version: string} $registration
     * @param callable $transport as for `call()`
     * @param callable|null $sleep as for `call()`
     * @param callable|null $persist as for `call()`
     * @param callable|null $serveProof when the broker asks for an ownership proof: make `body` (text/plain)
     *        available at `url` and return anything but `false` (the registration is sent again); `false`, or
     *        no callable, defers the proof (the result is `ownership_challenge`; a later `register()` resumes)
     * @return array{outcome: 'registered'}|array{outcome: 'ownership_challenge', proof: array{url: string, path: string, body: string}}
     * @throws Exception\InvalidInputException
     * @throws Exception\InvalidStateException when already registered
     * @throws Exception\RegistrationInvalidException
     * @throws Exception\RateLimitedException
     * @throws Exception\ClientErrorException on a redirect (code `redirected`)
     * @throws Exception\ServerUnavailableException
     */
    public function register($registration, $transport, $sleep = null, $persist = null, $serveProof = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 5);
        try {
            $reg = Convert::registrationFromPhp(Convert::array($registration, 'registration'));
            $host = Binding::host($transport, $sleep, $persist, $serveProof);
            return Binding::run($this, fn (CompanionCore $c): Call => Machine::startRegistration($c, $reg), $host);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Low level (hosts use `register()`): the unsigned registration request to send.
     *
     * @param array{site_url: string, admin_email: string, platform: string, plugin_version: string} $registration
     * @return array{method: string, url: string, headers: array<string, string>, body: string}
     * @throws Exception\InvalidInputException
     * @throws Exception\InvalidStateException when already registered
     */
    public function registrationRequest($registration): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 1);
        try {
            $reg = Convert::registrationFromPhp(Convert::array($registration, 'registration'));
            $req = Binding::core($this)->registrationRequest($reg, Binding::hooks($this)->entropy());
            return Convert::requestToPhp($req);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Low level (see `registrationRequest()`): interprets the broker's answer
     * to the registration request.
     *
     * @param array{status: int, headers?: array<string, string|list<string>>, body?: string} $response
     * @return array{outcome: 'registered'}|array{outcome: 'ownership_challenge', proof: array{url: string, path: string, body: string}}
     * @throws Exception\RegistrationInvalidException
     * @throws Exception\RateLimitedException
     * @throws Exception\ClientErrorException on a redirect (code `redirected`)
     * @throws Exception\ServerUnavailableException
     */
    public function handleRegistrationResponse($response): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 1);
        try {
            $resp = Convert::responseFromPhp(Convert::array($response, 'response'));
            $now = Binding::hooks($this)->now();
            $proof = Binding::core($this)->handleRegistrationResponseAt($resp, $now);
            return Convert::completionToPhp(Internal\Completion::registration($proof));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * The ownership proof to serve while a challenge is outstanding.
     *
     * @return array{url: string, path: string, body: string}
     * @throws Exception\InvalidStateException
     */
    public function ownershipProof(): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        try {
            return Convert::proofToPhp(Binding::core($this)->ownershipProof());
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * The broker connect URL to send the browser to; records the pending
     * connect (persist afterwards).
     *
     * @param string $returnUrl
     * @param string|null $scope
     * @param int|null $now unix seconds; the clock when null
     * @param string|null $state only for reproducible tests (16-128 characters of [A-Za-z0-9._~-]);
     *        16 random bytes when null
     * @throws Exception\InvalidInputException
     * @throws Exception\InvalidStateException
     */
    public function connectUrl(#[\SensitiveParameter] $returnUrl, $scope = null, $now = null, #[\SensitiveParameter] $state = null): string
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 4);
        try {
            $returnUrl = Convert::utf8($returnUrl, 'returnUrl');
            $scope = Convert::optUtf8($scope, 'scope');
            $now = Binding::hooks($this)->nowOr($now);
            $state = Convert::optUtf8($state, 'state');
            return $state !== null
                ? Binding::core($this)->connectUrlWithState($returnUrl, $scope, $now, $state)
                : Binding::core($this)->connectUrl($returnUrl, $scope, $now, Binding::hooks($this)->entropy());
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Completes the connect from the callback (the full return URL, or its
     * query string).
     *
     * @param string $callback
     * @param int|null $now unix seconds; the clock when null
     * @throws Exception\CallbackException
     * @throws Exception\InvalidStateException when no connect is pending
     */
    public function completeConnect(#[\SensitiveParameter] $callback, $now = null): void
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 2);
        try {
            $callback = Convert::utf8($callback, 'callback');
            $now = Binding::hooks($this)->nowOr($now);
            Binding::core($this)->completeConnect($callback, $now);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Signs an API request and returns the request to send. `$now`, `$nonce`
     * and `$idempotencyKey` default to the clock and fresh random values.
     *
     * @param array{method: string, path: string, headers?: array<string, string|list<string>>, body?: string} $request
     * @param int|null $now
     * @param string|null $nonce
     * @param string|null $idempotencyKey
     * @return array{method: string, url: string, headers: array<string, string>, body: string}
     * @throws Exception\InvalidInputException
     * @throws Exception\InvalidStateException when not registered
     * @throws Exception\SiteMismatchException
     */
    public function signRequest(#[\SensitiveParameter] $request, $now = null, $nonce = null, $idempotencyKey = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 4);
        try {
            $req = Convert::apiRequestFromPhp(Convert::array($request, 'request'));
            $opts = new SignOptions(
                Binding::hooks($this)->nowOr($now),
                Convert::optUtf8($nonce, 'nonce'),
                Convert::optUtf8($idempotencyKey, 'idempotencyKey'),
            );
            $signed = Binding::core($this)->signRequest($req, $opts, Binding::hooks($this)->entropy());
            return Convert::requestToPhp($signed);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Classifies a broker response.
     *
     * @param array{status: int, headers?: array<string, string|list<string>>, body?: string} $response
     * @param int|null $now unix seconds (for an HTTP-date Retry-After); the system clock when null
     * @return array{kind: string, status: int, code: ?string, retry_after_ms: ?int, server_date: ?int}
     * @throws Exception\InvalidInputException
     */
    public static function classify($response, $now = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 2);
        try {
            $resp = Convert::responseFromPhp(Convert::array($response, 'response'));
            $now = Convert::optInt($now, 'now') ?? Host::unixNow();
            return Convert::outcomeToPhp(Classify::classify($resp, $now));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Sends a signed API call through the broker on the core's step machine
     * (retries, backoff, clock skew, what to persist) and returns the
     * broker's 2xx response.
     *
     * @param array{method: string, path: string, headers?: array<string, string|list<string>>, body?: string} $request
     * @param callable $transport sends the request once, exactly as given, without following redirects, and
     *        returns the response whatever its status; throws `TransportException` when no response could be read
     * @param callable|null $sleep sleeps that many milliseconds; sleeps the process when null
     * @param callable|null $persist stores the state JSON durably before it returns
     * @return array{status: int, headers: array<string, string>, body: string}
     * @throws Exception\ReconnectRequiredException
     * @throws Exception\RegistrationInvalidException
     * @throws Exception\RateLimitedException
     * @throws Exception\ClientErrorException also on a redirect (code `redirected`)
     * @throws Exception\ServerUnavailableException
     * @throws Exception\SiteMismatchException
     */
    public function call(#[\SensitiveParameter] $request, $transport, $sleep = null, $persist = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 4);
        try {
            $req = Convert::apiRequestFromPhp(Convert::array($request, 'request'));
            $host = Binding::host($transport, $sleep, $persist, null);
            return Binding::run($this, fn (CompanionCore $c): Call => Machine::startCall($c, $req), $host);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Disconnects: a signed call to the broker's disconnect route, then the
     * broker token is dropped locally whatever the broker said. Callables as
     * for `call()`.
     *
     * @param callable $transport
     * @param callable|null $sleep
     * @param callable|null $persist
     * @return array{remote: array{result: 'ok'|'skipped'|'failed', error: ?Exception\TesseraException}}
     * @throws Exception\InvalidStateException when not connected
     */
    public function disconnect($transport, $sleep = null, $persist = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 3);
        try {
            $host = Binding::host($transport, $sleep, $persist, null);
            return Binding::run($this, fn (CompanionCore $c): Call => Machine::startDisconnect($c), $host);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * "Reset this installation" (a secret that may have leaked): with the old
     * secret, best effort (two attempts each), disconnect and deregister the
     * old installation (its grant is revoked), wipe the local state, then
     * register afresh (a new install id and secret, persisted before the
     * POST). `$registration` and `$serveProof` as for `register()`, the other
     * callables as for `call()`.
     *
     * @param array{site_url: string, admin_email: string, platform: string, plugin_version: string} $registration
     * @param callable $transport
     * @param callable|null $sleep
     * @param callable|null $persist
     * @param callable|null $serveProof
     * @return array{disconnect: array{result: 'ok'|'skipped'|'failed', error: ?Exception\TesseraException}, deregister: array{result: 'ok'|'skipped'|'failed', error: ?Exception\TesseraException}, registration: array{outcome: 'registered'}|array{outcome: 'ownership_challenge', proof: array{url: string, path: string, body: string}}}
     * @throws Exception\InvalidInputException
     * @throws Exception\RateLimitedException
     * @throws Exception\ClientErrorException on a redirect (code `redirected`)
     * @throws Exception\ServerUnavailableException
     */
    public function reset($registration, $transport, $sleep = null, $persist = null, $serveProof = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 5);
        try {
            $reg = Convert::registrationFromPhp(Convert::array($registration, 'registration'));
            $host = Binding::host($transport, $sleep, $persist, $serveProof);
            return Binding::run($this, fn (CompanionCore $c): Call => Machine::startReset($c, $reg), $host);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Uninstalls: disconnect and deregister at the broker (best effort), then
     * wipe the local state whatever happened. A site copy skips the remote
     * steps. Callables as for `call()`.
     *
     * @param callable $transport
     * @param callable|null $sleep
     * @param callable|null $persist
     * @return array{disconnect: array{result: 'ok'|'skipped'|'failed', error: ?Exception\TesseraException}, deregister: array{result: 'ok'|'skipped'|'failed', error: ?Exception\TesseraException}}
     */
    public function uninstall($transport, $sleep = null, $persist = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 3);
        try {
            $host = Binding::host($transport, $sleep, $persist, null);
            return Binding::run($this, fn (CompanionCore $c): Call => Machine::startUninstall($c), $host);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * "The site moved": tells the broker the new site URL (signed) after
     * `checkSite()` reported a mismatch. When the broker asks the new address
     * for an ownership proof, `$serveProof` is called as for `register()`.
     *
     * @param callable $transport
     * @param callable|null $sleep
     * @param callable|null $persist
     * @param callable|null $serveProof as for `register()`
     * @throws Exception\InvalidStateException when no mismatch is recorded
     */
    public function siteMoved($transport, $sleep = null, $persist = null, $serveProof = null): void
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 4);
        try {
            $host = Binding::host($transport, $sleep, $persist, $serveProof);
            Binding::run($this, fn (CompanionCore $c): Call => Machine::startSiteMoved($c), $host);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Compares the site URL the host reports now with the registered one.
     *
     * @param string $currentUrl
     * @return array{kind: 'same'}|array{kind: 'not_registered'}|array{kind: 'mismatch', registered: string, current: string}
     * @throws Exception\InvalidInputException
     */
    public function checkSite($currentUrl): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 1);
        try {
            return Binding::core($this)->checkSite(Convert::utf8($currentUrl, 'currentUrl'));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /** "This is a copy": forgets the copied registration. Nothing is sent to the broker. */
    public function resolveSiteAsCopy(): void
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        try {
            Binding::core($this)->resolveSiteAsCopy();
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * A signed, expiring deregistration link (a browser extension's uninstall URL).
     *
     * @param int|null $now unix seconds; the clock when null
     * @throws Exception\InvalidStateException when not registered
     */
    public function uninstallUrl($now = null): string
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 1);
        try {
            $now = Binding::hooks($this)->nowOr($now);
            return Binding::core($this)->uninstallUrl($now);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * The state sealed (XChaCha20-Poly1305 under an HKDF-derived key).
     *
     * @param string $keyMaterial at least 16 bytes (e.g. WordPress' salts)
     * @throws Exception\InvalidInputException when the key material is too short
     */
    public function sealState(#[\SensitiveParameter] $keyMaterial): string
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 1);
        try {
            $key = Convert::bytes($keyMaterial, 'keyMaterial');
            return Binding::core($this)->sealState($key, Binding::hooks($this)->entropy());
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Opens a sealed state.
     *
     * @param string $sealed
     * @param string $keyMaterial
     * @throws Exception\StateUndecryptableException when it does not open with this key
     */
    public static function openState(#[\SensitiveParameter] $sealed, #[\SensitiveParameter] $keyMaterial): Companion
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 2);
        try {
            $sealed = Convert::bytes($sealed, 'sealed');
            // Not UTF-8 cannot be a sealed blob: it fails to open like any other
            // (the extension opens its lossy UTF-8 form, which cannot decode).
            if (!Internal\Text::isUtf8($sealed)) {
                $sealed = "\u{FFFD}";
            }
            $key = Convert::bytes($keyMaterial, 'keyMaterial');
            return Binding::wrap(CompanionCore::openState($sealed, $key));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Test hook (reproducible runs, the machine scripts): draws this object's
     * randomness from the core's `SeededEntropy($seed)`, one stream across
     * calls. Never in production: the secret would be predictable.
     *
     * @param string|null $seed exactly 32 bytes; null returns to the OS CSPRNG
     * @throws Exception\InvalidInputException when the seed is not 32 bytes
     */
    public function useSeededEntropy(#[\SensitiveParameter] $seed = null): void
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 1);
        try {
            $seed = Convert::optBytes($seed, 'seed');
            if ($seed !== null && strlen($seed) !== 32) {
                throw CoreError::invalidInput('seed', 'must be exactly 32 bytes');
            }
            Binding::hooks($this)->setSeed($seed);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Test hook: reads `now` from `$clock()` (unix seconds) instead of the
     * system clock, in the drivers (once per event fed to the step machine)
     * and in every method whose `$now` is omitted (not the static `classify()`).
     *
     * @param callable|null $clock null returns to the system clock
     * @throws Exception\InvalidInputException when `$clock` is not callable
     */
    public function useClock($clock = null): void
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 1);
        try {
            Binding::hooks($this)->setClock(Convert::optCallable($clock, 'clock'));
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

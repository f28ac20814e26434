<?php

declare(strict_types=1);

namespace Tessera\Pure;

use Tessera\Pure\Internal\Binding;
use Tessera\Pure\Internal\Call;
use Tessera\Pure\Internal\Classify;
use Tessera\Pure\Internal\CompanionCore;
use Tessera\Pure\Internal\Convert;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\Events;
use Tessera\Pure\Internal\Host;
use Tessera\Pure\Internal\Machine;
use Tessera\Pure\Internal\Metadata;
use Tessera\Pure\Internal\Record;
use Tessera\Pure\Internal\Records;
use Tessera\Pure\Internal\PhpErrors;
use Tessera\Pure\Internal\Push;
use Tessera\Pure\Internal\RefreshLock;
use Tessera\Pure\Internal\SignOptions;

/**
 * The plugin side of one installation: configuration plus state.
 *
 * The pure-PHP twin of the extension's `Tessera\Companion` (same methods,
 * arguments, array shapes, errors; see `php-ext/tessera.stub.php`). Give it
 * a seal key and store what `$persist` receives; after a method without a
 * `$persist` that changes the state, store `sealState()` (or `exportState()`,
 * which holds the secret). Objects cannot be serialised or cloned and show nothing in dumps.
 *
 * Parameters are untyped on purpose: a value of the wrong type is an
 * `InvalidInputException`, never a `TypeError` (the extension's contract).
 */
final class Companion
{
    /**
     * Not constructible with `new`: use `create()`, `importState()` or
     * `openState()`.
     *
     * @throws Exception\InvalidStateException always
     */
    public function __construct()
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        throw PhpErrors::exception(CoreError::invalidState('create a Companion with Companion::create(), importState() or openState()'));
    }

    /**
     * A fresh, unregistered companion.
     *
     * With `$sealKey` (at least 16 bytes, e.g. WordPress' salts) every
     * `$persist` callable is handed the state sealed under it (as
     * `sealState()` makes it; reopen with `openState()`) instead of its JSON.
     *
     * In authorization-proxy mode (docs/PROTOCOL.md §13) `broker_url` names the
     * proxy and `proxy` configures it: the companion holds the operator's
     * Stora tokens, calls Stora at `stora_api_url` directly, and needs a
     * refresh lock (`setRefreshLock()`) for `call()` and `callAndRecord()`.
     *
     * @param array{broker_url: string, routes?: array{installations?: string, connect?: string, disconnect?: string, connect_complete?: string}, retry?: array{max_attempts?: int, base_delay_ms?: int, max_delay_ms?: int, max_total_delay_ms?: int, max_retry_after_ms?: int}, proxy?: array{stora_api_url: string, refresh_margin_secs?: int, token?: string, refresh?: string, revoke?: string}} $config
     * @param string|null $sealKey key material to seal what `$persist` receives; none: the JSON
     * @throws Exception\InvalidInputException also when `$sealKey` is shorter than 16 bytes
     */
    public static function create($config, #[\SensitiveParameter] $sealKey = null): Companion
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 2);
        try {
            $config = Convert::configFromPhp(Convert::array($config, 'config'));
            $key = Convert::optBytes($sealKey, 'sealKey');
            $core = CompanionCore::create($config);
            if ($key !== null) {
                $core->setSealKey($key);
            }
            return Binding::wrap($core);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Restores a companion from `exportState()` output. With `$sealKey` (at
     * least 16 bytes) every `$persist` callable is handed the state sealed
     * under it, as for `create()`.
     *
     * @param string $json
     * @param string|null $sealKey
     * @throws Exception\InvalidStateException when the JSON is corrupt or from a newer version
     * @throws Exception\InvalidInputException when `$sealKey` is shorter than 16 bytes
     */
    public static function importState(#[\SensitiveParameter] $json, #[\SensitiveParameter] $sealKey = null): Companion
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 2);
        try {
            $json = Convert::utf8($json, 'json');
            $key = Convert::optBytes($sealKey, 'sealKey');
            $core = CompanionCore::fromJson($json);
            if ($key !== null) {
                $core->setSealKey($key);
            }
            return Binding::wrap($core);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * The state as JSON, for `importState()`. IT CONTAINS THE SECRET AND THE
     * BROKER TOKEN: whoever reads it can act as this installation. Prefer a
     * seal key (`create()`, `importState()`, `openState()`) and store what
     * `$persist` receives, or `sealState()`; never log or display this.
     */
    public function exportState(): string
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
            throw PhpErrors::exception($e, $host ?? null);
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
     * connect (persist afterwards) with a fresh random `state`.
     *
     * @param string $returnUrl
     * @param string|null $scope
     * @param int|null $now unix seconds; the clock when null
     * @throws Exception\InvalidInputException
     * @throws Exception\InvalidStateException
     */
    public function connectUrl(#[\SensitiveParameter] $returnUrl, $scope = null, $now = null): string
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 3);
        try {
            $returnUrl = Convert::utf8($returnUrl, 'returnUrl');
            $scope = Convert::optUtf8($scope, 'scope');
            $now = Binding::hooks($this)->nowOr($now);
            return Binding::core($this)->connectUrl($returnUrl, $scope, $now, Binding::hooks($this)->entropy());
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Completes the connect from the callback (the full return URL, or its
     * query): checks it (`state`, once, within 10 minutes), then exchanges
     * its single-use connect code for the broker token with a signed request
     * (docs/PROTOCOL.md §5.4.1). Returns `['account' => ['id' => …, 'name'
     * => …]]`: the Stora account the site is now connected to — show it to
     * the operator. On any failure a previously held broker token is kept.
     * Callables as for `call()`.
     *
     * @param string $callback
     * @param callable $transport
     * @param callable|null $sleep
     * @param callable|null $persist
     * @return array{account: array{id: string, name: string}}
     * @throws Exception\CallbackException
     * @throws Exception\InvalidStateException when no connect is pending
     * @throws Exception\ClientErrorException when the broker refuses the code
     * @throws Exception\ServerUnavailableException
     */
    public function completeConnect(#[\SensitiveParameter] $callback, $transport, $sleep = null, $persist = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 4);
        try {
            $callback = Convert::utf8($callback, 'callback');
            $host = Binding::host($transport, $sleep, $persist, null);
            $now = Binding::hooks($this)->now();
            return Binding::run($this, fn (CompanionCore $c): Call => Machine::startCompleteConnect($c, $callback, $now), $host);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e, $host ?? null);
        }
    }

    /**
     * The Stora account this site is connected to, `['id' => …, 'name' =>
     * …]`, or `null` while not connected.
     *
     * @return array{id: string, name: string}|null
     */
    public function account(): ?array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        try {
            $account = Binding::core($this)->account();
            return $account === null ? null : Convert::accountToPhp($account);
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
     * broker's 2xx response. In authorization-proxy mode the request goes
     * straight to Stora (`/api/<rest>` → `<stora_api_url>/<rest>`) with the
     * installation's access token, refreshed through the proxy under the
     * refresh lock (`setRefreshLock()`, required: else `InvalidInputException`
     * before any action).
     *
     * @param array{method: string, path: string, headers?: array<string, string|list<string>>, body?: string} $request
     * @param callable $transport sends the request once, exactly as given, without following redirects, and
     *        returns the response whatever its status; throws `TransportException` when no response could be read
     * @param callable|null $sleep sleeps that many milliseconds; sleeps the process when null
     * @param callable|null $persist stores what it is given durably before it returns: the state sealed
     *        under the seal key when the companion has one, else the state JSON
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
            Binding::requireRefreshLock($this);
            return Binding::run($this, fn (CompanionCore $c): Call => Machine::startCall($c, $req), $host);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e, $host ?? null);
        }
    }

    /**
     * Authorization-proxy mode: the host's per-installation refresh lock,
     * shared by every worker and process (WordPress `GET_LOCK`, an atomic
     * option insert…). Around a token refresh the driver calls `$lock($name)`,
     * which waits a bounded time and returns the state as stored now (what
     * `$persist` last stored, sealed as it was) once the lock is held, or
     * `null` when it could not be taken in time (the call ends
     * `lock_unavailable`); then `$unlock($name)`, also when the operation is
     * abandoned while the lock is held. Required in proxy mode before
     * `call()` and `callAndRecord()`; never used in broker mode.
     *
     * @param callable $lock `function (string $name): ?string`
     * @param callable $unlock `function (string $name): void`
     * @throws Exception\InvalidInputException when either is not callable
     */
    public function setRefreshLock($lock, $unlock): void
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 2);
        try {
            $lock = Convert::callable($lock, 'lock');
            $unlock = Convert::callable($unlock, 'unlock');
            Binding::setRefreshLock($this, new RefreshLock($lock, $unlock));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Does `$request` as `call()` does, then records the Stora Timeline Event
     * `$event`: `POST /api/timeline/events` with `external.id` = the call's
     * Idempotency-Key and its own key `tle-<that key>`. A failed call throws
     * and records nothing; a failed event does not undo the call. The event
     * is checked before anything is sent. Callables as for `call()`.
     *
     * @param array{method: string, path: string, headers?: array<string, string|list<string>>, body?: string} $request
     * @param array{source_id: string, template_id: string, contact_id?: ?string, site_id?: ?string, description?: ?string, external_url: string, variables?: ?array<string, string>} $event
     * @param callable $transport
     * @param callable|null $sleep
     * @param callable|null $persist
     * @return array{response: array{status: int, headers: array<string, string>, body: string}, event: array{ok: bool, error?: Exception\TesseraException}}
     * @throws Exception\InvalidInputException for an invalid event
     * @throws Exception\ClientErrorException and the other exceptions of `call()`
     */
    public function callAndRecord(#[\SensitiveParameter] $request, $event, $transport, $sleep = null, $persist = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 3, 5);
        try {
            $req = Convert::apiRequestFromPhp(Convert::array($request, 'request'));
            $ev = Records::eventFromPhp(Convert::array($event, 'event'));
            $host = Binding::host($transport, $sleep, $persist, null);
            Binding::requireRefreshLock($this);
            return Binding::run($this, fn (CompanionCore $c): Call => Record::startRecordedCall($c, $req, $ev), $host);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e, $host ?? null);
        }
    }

    /**
     * Pulls Stora's events from the broker (docs/PROTOCOL.md §14.3): a
     * signed `GET /events?after=<cursor>&limit=<n>` after the stored cursor,
     * run as `call()` runs a `GET` (retries, clock skew, reconnect). Returns
     * one page, oldest first; the cursor does not move until
     * `acknowledgeEvents($page['cursor'])` once the page is handled (stored
     * or shown): an event may come again after a crash, never under another
     * id (de-duplicate by `id`). `has_more`: pull again at once. Broker mode
     * only. Callables as for `call()`.
     *
     * @param callable $transport
     * @param callable|null $sleep
     * @param callable|null $persist
     * @param int|null $limit at most this many events, 1 to 100 (null: 50)
     * @return array{events: list<array{id: string, type: string, api_version: string, created_at: int, data: array, data_json: string}>, cursor: string, has_more: bool}
     *         `data` is `data_json` (the event's `data` object as Stora sent it) decoded as `json_decode($json, true, 512, JSON_BIGINT_AS_STRING)`
     * @throws Exception\InvalidInputException for a limit outside 1 to 100
     * @throws Exception\InvalidStateException when not connected, or in authorization-proxy mode
     * @throws Exception\ServerUnavailableException also for a page that breaks the documented shape (code `response_invalid`)
     * @throws Exception\ReconnectRequiredException and the other exceptions of `call()`
     */
    public function pullEvents($transport, $sleep = null, $persist = null, $limit = 50): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 4);
        try {
            $host = Binding::host($transport, $sleep, $persist, null);
            $limit = Convert::optInt($limit, 'limit') ?? Events::DEFAULT_PULL_LIMIT;
            return Binding::run($this, fn (CompanionCore $c): Call => Events::startPull($c, $limit), $host);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e, $host ?? null);
        }
    }

    /**
     * Moves the events cursor to a page's `cursor` once the host handled
     * that page (`pullEvents()`). Returns whether it moved: a cursor not past
     * the stored one (a page acknowledged twice, or late) leaves it where it
     * is. When it moved and `$persist` is given, `$persist` is called with the
     * state as the drivers persist it (sealed under the seal key when the
     * companion has one); without it, store `sealState()` or `exportState()`.
     *
     * @param string $cursor 1 to 18 decimal digits
     * @param callable|null $persist as for `call()`
     * @throws Exception\InvalidInputException for a cursor that is not 1 to 18 decimal digits
     * @throws Exception\InvalidStateException when not registered
     */
    public function acknowledgeEvents($cursor, $persist = null): bool
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 2);
        try {
            $cursor = Convert::utf8($cursor, 'cursor');
            $persist = Convert::optCallable($persist, 'persist');
            $core = Binding::core($this);
            $moved = Events::acknowledge($core, $cursor);
            if ($moved && $persist !== null) {
                $persist($core->persistedForm($core->toJson(), Binding::hooks($this)->entropy()));
            }
            return $moved;
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /** Where the next `pullEvents()` starts: the cursor of the last page acknowledged, or `null`. */
    public function eventsCursor(): ?string
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 0);
        try {
            return Events::cursor(Binding::core($this));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Verifies a push the broker sent to the site (docs/PROTOCOL.md §14.4):
     * `$headers` the request's headers (`name => value` or `name =>
     * [values]`, names in any case), `$body` the raw body exactly as
     * received, `$now` the clock when null. Returns its events (1 to 10),
     * each as in `pullEvents()`; nothing of the body is read before the
     * signature (`Tessera-Push-Signature`, within 300 s, the learned clock
     * offset counted) verified. A push never moves the events cursor: keep
     * events by `id`, the next pull brings them again.
     *
     * @param array<string, string|list<string>> $headers
     * @param string $body
     * @param int|null $now unix seconds; the clock when null
     * @return list<array{id: string, type: string, api_version: string, created_at: int, data: array, data_json: string}>
     * @throws Exception\VerificationException `signature_missing`, `signature_malformed`, `signature_expired`, `signature_invalid`
     * @throws Exception\InvalidInputException `too_large` (a body over 320 KiB)
     * @throws Exception\InvalidStateException `not_registered`
     * @throws Exception\ServerUnavailableException `response_invalid` (signed, but not 1 to 10 events)
     */
    public function verifyPush(#[\SensitiveParameter] $headers, #[\SensitiveParameter] $body, $now = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 3);
        try {
            $headers = Convert::headerMapFromPhp(Convert::array($headers, 'headers'), 'headers');
            $body = Convert::bytes($body, 'body');
            $now = Binding::hooks($this)->nowOr($now);
            return Convert::eventsToPhp(Push::verify(Binding::core($this), $headers, $body, $now));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * The request registering `$url` (on the site's own origin) as the URL
     * the broker pushes this installation's events to (`PUT /events/push`),
     * or with `null` stopping the pushes (`DELETE /events/push`), ready for
     * `call()`.
     *
     * @param string|null $url
     * @return array{method: string, path: string, headers: array<string, string>, body: string}
     * @throws Exception\InvalidInputException `invalid_url` (not an http(s) URL on the site's origin), `too_large`
     * @throws Exception\InvalidStateException `not_registered`
     * @throws Exception\RegistrationInvalidException
     * @throws Exception\SiteMismatchException
     */
    public function pushRegistrationRequest($url = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 0, 1);
        try {
            $url = Convert::optUtf8($url, 'url');
            return Records::apiRequestToPhp(Push::registrationRequest(Binding::core($this), $url));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * The request recording `$event` for the action `$externalId` (`POST
     * /api/timeline/events`, `Idempotency-Key: tle-<externalId>`), ready for `call()`.
     *
     * @param array $event as for `callAndRecord()`
     * @param string $externalId 1-124 of `[A-Za-z0-9._~-]`
     * @return array{method: string, path: string, headers: array<string, string>, body: string}
     * @throws Exception\InvalidInputException
     */
    public static function timelineEventRequest($event, $externalId): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 2);
        try {
            $ev = Records::eventFromPhp(Convert::array($event, 'event'));
            return Records::apiRequestToPhp($ev->toRequest(Convert::utf8($externalId, 'externalId')));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Checks Stora metadata (`key => string`): at most 20 keys of
     * `[a-z0-9._:-]{1,40}`, values at most 500 characters.
     *
     * @param array<string, string> $metadata
     * @throws Exception\InvalidInputException
     */
    public static function validateMetadata($metadata): void
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 1);
        try {
            Metadata::validate(Records::metadataFromPhp(Convert::array($metadata, 'metadata'), 'metadata'));
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * The JSON merge-patch body `{"metadata":{…}}` for `$changes` (`null`
     * deletes a key; keys sorted). With `$current`, the merged result is checked too.
     *
     * @param array<string, ?string> $changes
     * @param array<string, string>|null $current
     * @throws Exception\InvalidInputException
     */
    public static function metadataPatch($changes, $current = null): string
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 1, 2);
        try {
            $patch = Records::patchFromPhp(Convert::array($changes, 'changes'));
            $now = $current === null ? null : Records::metadataFromPhp(Convert::array($current, 'current'), 'current');
            return Metadata::mergePatchBody($patch, $now);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e);
        }
    }

    /**
     * Revokes a previous installation of this site (after "Register again": a
     * state that no longer opened, or a registration the broker refused): a
     * signed request asking the broker to revoke its Stora grant and forget
     * it (docs/PROTOCOL.md §5.11). Keep the install id outside the sealed
     * state to have it here (it is not a secret). Callables as for `call()`.
     *
     * @param string $installId
     * @param callable $transport
     * @param callable|null $sleep
     * @param callable|null $persist
     * @return array{revoked: bool} `false`: nothing of it was left
     * @throws Exception\InvalidInputException for a malformed id, or this installation's own
     * @throws Exception\ClientErrorException `ownership_proof_required` when the broker did not see this site proved
     */
    public function revokePrevious($installId, $transport, $sleep = null, $persist = null): array
    {
        Binding::arity(self::class, __FUNCTION__, func_num_args(), 2, 4);
        try {
            $installId = Convert::utf8($installId, 'installId');
            $host = Binding::host($transport, $sleep, $persist, null);
            return Binding::run($this, fn (CompanionCore $c): Call => Machine::startRevokePrevious($c, $installId), $host);
        } catch (CoreError $e) {
            throw PhpErrors::exception($e, $host ?? null);
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
            throw PhpErrors::exception($e, $host ?? null);
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
            throw PhpErrors::exception($e, $host ?? null);
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
            throw PhpErrors::exception($e, $host ?? null);
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
            throw PhpErrors::exception($e, $host ?? null);
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
     * Opens a sealed state. The companion keeps `$keyMaterial` as its seal
     * key: every `$persist` callable is handed the state sealed under it.
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

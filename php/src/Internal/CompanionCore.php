<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * The plugin side of one installation: configuration plus state (port of
 * `core/src/companion.rs`). Every method is pure with respect to I/O: it
 * reads and updates the state value and returns requests to send, URLs to
 * open, or outcomes. The step machine ({@see Machine}) drives the multi-step
 * operations on it.
 *
 * Strings it takes are valid UTF-8 where Rust takes `&str` (the public API
 * checks them first).
 */
final class CompanionCore
{
    /** A registration answer whose `Date` differs from the local clock by more than this sets the clock offset. */
    public const SKEW_LEARN_THRESHOLD_SECS = 60;

    // `Purpose`: which registration states may sign a request.
    /** API calls, connect links: a confirmed, proven, matching registration. */
    public const PURPOSE_API = 'api';
    /** Disconnect and deregister: also while a site move awaits its proof. */
    public const PURPOSE_LEAVE = 'leave';
    /** `PATCH /installations/{id}`: while the site mismatch is recorded. */
    public const PURPOSE_SITE_MOVE = 'site_move';
    /** The connect completion (§5.4.1): as API, but never with the broker token being replaced. */
    public const PURPOSE_INSTALLATION = 'installation';

    /**
     * When set, every persist action carries the state sealed with it: hosts
     * get exactly what they store ({@see setSealKey()}).
     */
    public ?SealKey $sealKey = null;

    private function __construct(public State $state, public Url $broker)
    {
    }

    /** @throws CoreError */
    private static function validateConfig(Config $config): Url
    {
        $url = Url::parse($config->brokerUrl, 'broker_url');
        if ($url->scheme() === 'http' && !$url->isLoopback()) {
            throw CoreError::insecureBrokerUrl();
        }
        if ($url->query() !== null) {
            throw CoreError::invalidUrl('broker_url', 'must not have a query');
        }
        $r = $config->routes;
        foreach ([$r->installations, $r->connect, $r->disconnect, $r->connectComplete] as $route) {
            $joined = $url->appendPath($route, 'routes');
            if ($joined->query() !== null) {
                throw CoreError::invalidUrl('routes', 'must not have a query');
            }
        }
        if ($config->proxy !== null) {
            self::validateProxy($config->proxy, $url);
        }
        $r = $config->retry;
        if ($r->maxAttempts < 1 || $r->maxAttempts > 10
            || U64::cmp($r->maxDelayMs, 600_000) > 0
            || U64::cmp($r->maxTotalDelayMs, 3_600_000) > 0
            || U64::cmp($r->maxRetryAfterMs, 3_600_000) > 0
        ) {
            throw CoreError::invalidInput('retry', 'out of range (1-10 attempts, delays up to an hour)');
        }
        return $url;
    }

    /** The authorization-proxy part of `validate_config`. @throws CoreError */
    private static function validateProxy(ProxyConfig $proxy, Url $url): void
    {
        $stora = Url::parse($proxy->storaApiUrl, 'stora_api_url');
        if ($stora->scheme() === 'http' && !$stora->isLoopback()) {
            throw CoreError::insecureBrokerUrl();
        }
        if ($stora->query() !== null) {
            throw CoreError::invalidUrl('stora_api_url', 'must not have a query');
        }
        foreach ([$proxy->token, $proxy->refresh, $proxy->revoke] as $route) {
            if ($url->appendPath($route, 'routes')->query() !== null) {
                throw CoreError::invalidUrl('routes', 'must not have a query');
            }
        }
        if (U64::cmp($proxy->refreshMarginSecs, 3_600) > 0) {
            throw CoreError::invalidInput('proxy', 'refresh_margin_secs is at most 3600');
        }
    }

    /** A fresh companion for the broker in `$config` (`Companion::create`). @throws CoreError */
    public static function create(Config $config): self
    {
        $broker = self::validateConfig($config);
        return new self(new State($config), $broker);
    }

    /** Restores a companion from {@see toJson()} output. @throws CoreError */
    public static function fromJson(#[\SensitiveParameter] string $json): self
    {
        $state = State::fromJson($json);
        $broker = self::validateConfig($state->config);
        return new self($state, $broker);
    }

    /** The state as JSON (it contains the secret and the broker token). */
    public function toJson(): string
    {
        return $this->state->toJson();
    }

    public function status(): string
    {
        return $this->state->status;
    }

    public function installId(): ?string
    {
        return $this->state->installation?->id;
    }

    public function siteUrl(): ?string
    {
        return $this->state->installation?->siteUrl;
    }

    public function reconnectReason(): ?string
    {
        return $this->state->reconnectReason;
    }

    public function clockOffset(): int
    {
        return $this->state->clockOffset;
    }

    // ---- registration -------------------------------------------------------

    /**
     * The unsigned `POST /installations` request (low level; hosts use the
     * registration operation of the step machine).
     *
     * @throws CoreError
     */
    public function registrationRequest(Registration $reg, Entropy $entropy): Request
    {
        $this->prepareRegistration($reg, $entropy);
        return $this->registrationPost();
    }

    /**
     * Whether a registration for the normalised `$site` may proceed, and if so
     * whether it reuses the installation in the state (pending, awaiting its
     * proof, or a site move's proof round) rather than drawing a new one.
     * @throws CoreError
     */
    public function registrationReuses(string $site): bool
    {
        $i = $this->state->installation;
        if ($i === null || $i->invalidReason !== null) {
            return false;
        }
        if ($i->confirmed && $i->challenge === null) {
            throw CoreError::invalidState('already registered; uninstall or reset first to register again');
        }
        if ($i->confirmed && $i->siteUrl !== $site) {
            // A pending site move proves the address it moved to, nothing else.
            throw CoreError::siteMismatch($i->siteUrl, $site);
        }
        return true;
    }

    /** Creates (or refreshes, when pending) the installation for `$reg`. @throws CoreError */
    public function prepareRegistration(Registration $reg, Entropy $entropy): void
    {
        $site = Registration::checkRegistration($reg);
        if (!$this->registrationReuses($site)) {
            $id = 'ins_' . Encoding::b64urlEncode($entropy->fill(16));
            $raw = $entropy->fill(32);
            try {
                $secret = Secret::fromBytes($raw);
            } finally {
                sodium_memzero($raw);
            }
            $this->state->installation = new Installation($id, '', '', $secret, '', '');
            $this->state->brokerToken = null;
            $this->state->tokens = null;
            $this->state->retiredRefresh = null;
            $this->state->tokenGeneration = 0;
            $this->state->account = null;
            $this->state->pendingConnect = null;
            $this->state->reconnectReason = null;
            $this->state->siteMismatch = null;
        }
        $inst = $this->state->installation;
        $inst->siteUrl = $site;
        $inst->adminEmail = $reg->adminEmail;
        $inst->platform = $reg->platform;
        $inst->pluginVersion = $reg->pluginVersion;
        $this->state->refresh();
    }

    /** The registration POST for the installation in the state. @throws CoreError */
    public function registrationPost(): Request
    {
        $inst = $this->state->installation ?? throw CoreError::notRegistered();
        $body = Registration::registrationBody(
            $inst->id,
            $inst->siteUrl,
            $inst->adminEmail,
            $inst->secret,
            $inst->platform,
            $inst->pluginVersion,
        );
        $url = $this->broker->appendPath($this->state->config->routes->installations, 'routes');
        return new Request('POST', $url->asString(), [['content-type', 'application/json']], $body);
    }

    /**
     * Interprets the broker's answer to the registration request at local
     * time `$now` (`handle_registration_response_at`).
     *
     * @return OwnershipProof|null null: registered; a proof: the broker asked for one
     * @throws CoreError
     */
    public function handleRegistrationResponseAt(Response $resp, int $now): ?OwnershipProof
    {
        $i = $this->state->installation;
        if ($i === null || !(!$i->confirmed || $i->invalidReason !== null || $i->challenge !== null)) {
            throw CoreError::invalidState('no registration is pending');
        }
        $outcome = Classify::classify($resp, $now);
        $reason = fn (): string => $outcome->code ?? "http_{$resp->status}";
        // Learn a large clock skew from the broker's Date already here: the
        // connect URL is signed before any API call could teach it.
        if ($resp->status >= 200 && $resp->status <= 202 && $outcome->serverDate !== null
            && abs($outcome->serverDate - $now) > self::SKEW_LEARN_THRESHOLD_SECS
        ) {
            $this->state->clockOffset = Clock::offsetFrom($outcome->serverDate, $now);
        }
        $inst = $i;
        $status = $resp->status;
        try {
            if ($status === 200 || $status === 201) {
                $inst->confirmed = true;
                $inst->challenge = null;
                $inst->invalidReason = null;
                return null;
            }
            if ($status === 202) {
                $inst->challenge = Registration::parseChallenge($resp->body);
                $this->state->refresh();
                return $this->ownershipProof();
            }
            if ($status === 409 && $inst->confirmed) {
                throw CoreError::registrationConflict();
            }
            if ($status === 409) {
                // A fresh id is generated on the next attempt; nothing confirmed is lost.
                $this->state->installation = null;
                throw CoreError::registrationConflict();
            }
            if ($status === 403 && !$inst->confirmed && $inst->challenge === null
                && $outcome->code === 'ownership_proof_invalid'
            ) {
                // The broker issued a challenge this installation never saw (its 202 was lost).
                $this->state->installation = null;
                throw CoreError::registrationRejected(403, $reason());
            }
            if ($status === 429) {
                throw CoreError::rateLimited($outcome->retryAfterMs ?? 0);
            }
            if ($status === 408 || ($status >= 500 && $status <= 599)) {
                throw CoreError::serverUnavailable($status, 1);
            }
            throw CoreError::registrationRejected($status, $reason());
        } finally {
            // Rust refreshes after every arm but the 202 one (which refreshes
            // itself, or returns early on a malformed challenge).
            if ($status !== 202) {
                $this->state->refresh();
            }
        }
    }

    /** The ownership proof to serve while a challenge is outstanding. @throws CoreError */
    public function ownershipProof(): OwnershipProof
    {
        $inst = $this->state->installation ?? throw CoreError::notRegistered();
        $challenge = $inst->challenge ?? throw CoreError::invalidState('no ownership challenge is outstanding');
        $path = Registration::ownershipPath($inst->id);
        return new OwnershipProof(
            $inst->siteUrl . $path,
            $path,
            Registration::ownershipProof($inst->secret, $inst->id, $challenge),
        );
    }

    /** The registration, if it is confirmed, valid and the site matches. @throws CoreError */
    public function usableInstallation(): Installation
    {
        $inst = $this->state->installation ?? throw CoreError::notRegistered();
        if ($this->state->siteMismatch !== null) {
            throw CoreError::siteMismatch($inst->siteUrl, $this->state->siteMismatch);
        }
        if ($inst->invalidReason !== null) {
            throw CoreError::registrationInvalid($inst->invalidReason);
        }
        if (!$inst->confirmed) {
            throw CoreError::notRegistered();
        }
        if ($inst->challenge !== null) {
            throw CoreError::invalidState('the site move waits for its ownership proof; finish the registration');
        }
        return $inst;
    }

    /** The registration a signed request for `$purpose` may use. @throws CoreError */
    public function signingInstallation(string $purpose): Installation
    {
        switch ($purpose) {
            case self::PURPOSE_API:
            case self::PURPOSE_INSTALLATION:
                return $this->usableInstallation();
            case self::PURPOSE_LEAVE:
                // Leaving must stay possible while a site move waits for its proof.
                $inst = $this->state->installation ?? throw CoreError::notRegistered();
                if ($inst->challenge !== null && $inst->confirmed && $inst->invalidReason === null
                    && $this->state->siteMismatch === null
                ) {
                    return $inst;
                }
                return $this->usableInstallation();
            default: // PURPOSE_SITE_MOVE
                $inst = $this->state->installation;
                if ($inst === null || !$inst->confirmed) {
                    throw CoreError::notRegistered();
                }
                return $inst;
        }
    }

    // ---- connect ------------------------------------------------------------

    /**
     * The broker connect URL; records the pending connect. Allowed while
     * connected: that is a reconnect, and the current token stays until
     * Machine::startCompleteConnect() succeeds. @throws CoreError
     */
    public function connectUrl(#[\SensitiveParameter] string $returnUrl, ?string $scope, int $now, Entropy $entropy): string
    {
        $state = Encoding::b64urlEncode($entropy->fill(16));
        return $this->connectUrlWithState($returnUrl, $scope, $now, $state);
    }

    /** {@see connectUrl()} with a caller-chosen `state` (reproducible tests). @throws CoreError */
    public function connectUrlWithState(
        #[\SensitiveParameter] string $returnUrl,
        ?string $scope,
        int $now,
        #[\SensitiveParameter] string $state,
    ): string {
        if (strlen($state) < 16 || !Sign::isProfileToken($state)) {
            throw CoreError::invalidInput('state', 'must be 16-128 characters of [A-Za-z0-9._~-]');
        }
        Connect::checkReturnUrl($returnUrl);
        if ($scope !== null) {
            Connect::checkScope($scope);
        }
        $inst = $this->usableInstallation();
        $ts = (string) Clock::corrected($now, $this->state->clockOffset);
        $pairs = Connect::connectPairs($inst->id, $state, $returnUrl, $scope, $ts);
        $sig = Connect::linkSignature($inst->secret, Connect::CONNECT_CONTEXT, $pairs);
        $base = $this->broker->appendPath($this->state->config->routes->connect, 'routes');
        $url = $base->asString() . '?' . Connect::canonicalQuery($pairs) . '&sig=' . $sig;
        $this->state->pendingConnect = new PendingConnect($state, $now, $returnUrl);
        $this->state->refresh();
        return $url;
    }

    /**
     * The Stora account this installation is connected to (while it holds a
     * broker token): show it to the operator (`account`, machine/connect.rs).
     */
    public function account(): ?Account
    {
        // Connected: a broker token, or (proxy mode) Stora's token pair.
        return $this->state->brokerToken === null && $this->state->tokens === null ? null : $this->state->account;
    }

    // ---- signing ------------------------------------------------------------

    /** Signs `$req` for the broker (`opts.now` local; the clock offset is added). @throws CoreError */
    public function signRequest(ApiRequest $req, SignOptions $opts, Entropy $entropy): Request
    {
        return $this->signAs($req, $opts, $entropy, self::PURPOSE_API);
    }

    /** @throws CoreError */
    public function signAs(ApiRequest $req, SignOptions $opts, Entropy $entropy, string $purpose): Request
    {
        $inst = $this->signingInstallation($purpose);
        $url = $this->broker->appendPath($req->path, 'path');
        $opts = new SignOptions(Clock::corrected($opts->now, $this->state->clockOffset), $opts->nonce, $opts->idempotencyKey);
        return Sign::sign(
            $inst->secret,
            $inst->id,
            $req->method,
            $url,
            $req->headers,
            $req->body,
            $purpose === self::PURPOSE_INSTALLATION ? null : $this->state->brokerToken,
            $opts,
            $entropy,
        );
    }

    // ---- site identity ------------------------------------------------------

    /**
     * Compares the site URL the host reports now with the registered one
     * (`check_site`), as the serde form of `SiteCheck` (keys sorted, as
     * serde_json writes them).
     *
     * @return array{kind: string, registered?: string, current?: string}
     * @throws CoreError
     */
    public function checkSite(string $currentUrl): array
    {
        $current = Registration::siteIdentity($currentUrl, 'current_url');
        $inst = $this->state->installation;
        if ($inst === null) {
            return ['kind' => 'not_registered'];
        }
        $registered = $inst->siteUrl;
        if ($registered === $current) {
            $this->state->siteMismatch = null;
            $check = ['kind' => 'same'];
        } else {
            $this->state->siteMismatch = $current;
            $check = ['current' => $current, 'kind' => 'mismatch', 'registered' => $registered];
        }
        $this->state->refresh();
        return $check;
    }

    /** "This is a copy": forget the copied registration; nothing is sent. */
    public function resolveSiteAsCopy(): void
    {
        $this->state->installation = null;
        $this->state->brokerToken = null;
        // A copy never uses (nor revokes) the original's Stora tokens.
        $this->state->tokens = null;
        $this->state->retiredRefresh = null;
        $this->state->tokenGeneration = 0;
        $this->state->account = null;
        $this->state->pendingConnect = null;
        $this->state->reconnectReason = null;
        $this->state->siteMismatch = null;
        $this->state->refresh();
    }

    // ---- links ----------------------------------------------------------------

    /** A signed, expiring deregistration link. @throws CoreError */
    public function uninstallUrl(int $now): string
    {
        $inst = $this->usableInstallation();
        $ts = (string) Clock::corrected($now, $this->state->clockOffset);
        $pairs = [['install_id', $inst->id], ['ts', $ts]];
        $sig = Connect::linkSignature($inst->secret, Connect::UNINSTALL_CONTEXT, $pairs);
        $path = $this->state->config->routes->installations . '/' . $inst->id . '/uninstall';
        $base = $this->broker->appendPath($path, 'routes');
        return $base->asString() . "?ts=$ts&sig=$sig";
    }

    // ---- sealed state -----------------------------------------------------------

    /** The state sealed under `$keyMaterial` (≥ 16 bytes) with a fresh nonce. @throws CoreError */
    public function sealState(#[\SensitiveParameter] string $keyMaterial, Entropy $entropy): string
    {
        $json = $this->toJson();
        try {
            return Seal::seal($json, $keyMaterial, $entropy->fill(24));
        } finally {
            sodium_memzero($json);
        }
    }

    /**
     * Opens a sealed state; any failure to open is `state_undecryptable`. The
     * companion keeps `$keyMaterial` as its seal key ({@see setSealKey()}):
     * what it asks the host to persist is sealed the same way.
     *
     * @throws CoreError
     */
    public static function openState(string $sealed, #[\SensitiveParameter] string $keyMaterial): self
    {
        $plain = Seal::open($sealed, $keyMaterial);
        try {
            if (!Text::isUtf8($plain)) {
                throw CoreError::stateCorrupt('sealed state is not UTF-8');
            }
            $companion = self::fromJson($plain);
        } finally {
            sodium_memzero($plain);
        }
        $companion->setSealKey($keyMaterial);
        return $companion;
    }

    /**
     * From now on every persist action carries the state sealed under
     * `$keyMaterial` (≥ 16 bytes; {@see sealState()}'s format, a fresh nonce
     * each time) instead of its JSON: the host stores what it is given and
     * reopens it with {@see openState()}.
     *
     * @throws CoreError invalid_input (field `key`) when it is shorter than 16 bytes
     */
    public function setSealKey(#[\SensitiveParameter] string $keyMaterial): void
    {
        $this->sealKey = SealKey::new($keyMaterial);
    }

    /**
     * What the host persists for the state `$json` (already serialised by the
     * step that asks to persist it): sealed with the seal key when one was
     * given (a fresh 24-byte nonce from `$entropy`), else `$json` itself
     * (`persisted_form`).
     *
     * @throws CoreError
     */
    public function persistedForm(#[\SensitiveParameter] string $json, Entropy $entropy): string
    {
        if ($this->sealKey === null) {
            return $json;
        }
        try {
            return Seal::seal($json, $this->sealKey->expose(), $entropy->fill(24));
        } finally {
            sodium_memzero($json);
        }
    }
}

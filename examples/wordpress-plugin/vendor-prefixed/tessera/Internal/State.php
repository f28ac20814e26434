<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * The installation's state: a versioned value the host persists (port of
 * `core/src/state.rs`; the JSON in and out is byte for byte the core's).
 */
final class State
{
    /** Version written by this build. */
    public const STATE_VERSION = 1;
    /** Largest state JSON accepted. */
    public const MAX_STATE_JSON = 64 * 1024;

    // Status::as_str
    public const NOT_REGISTERED = 'not_registered';
    public const REGISTRATION_PENDING = 'registration_pending';
    public const AWAITING_OWNERSHIP = 'awaiting_ownership';
    public const REGISTERED = 'registered';
    public const CONNECTED = 'connected';
    public const RECONNECT_REQUIRED = 'reconnect_required';
    public const REGISTRATION_INVALID = 'registration_invalid';
    public const SITE_MISMATCH = 'site_mismatch';

    private const ALL_STATUSES = [
        self::NOT_REGISTERED, self::REGISTRATION_PENDING, self::AWAITING_OWNERSHIP, self::REGISTERED,
        self::CONNECTED, self::RECONNECT_REQUIRED, self::REGISTRATION_INVALID, self::SITE_MISMATCH,
    ];

    // The JSON types a state member must have (`Want`).
    private const STR = 'must be a string';
    private const U64 = 'must be an unsigned integer';
    private const I64 = 'must be an integer';
    private const BOOL = 'must be a boolean';
    private const OBJ = 'must be an object';

    /** Format version. */
    public int $v = self::STATE_VERSION;
    /** Derived status, written for hosts that read the blob. */
    public string $status = self::NOT_REGISTERED;
    public ?Installation $installation = null;
    /** Broker token after a successful connect. */
    public ?BrokerToken $brokerToken = null;
    /** The Stora account of the last completed connect. */
    public ?Account $account = null;
    /** Outstanding connect. */
    public ?PendingConnect $pendingConnect = null;
    /** Learned broker-minus-local clock offset, seconds. */
    public int $clockOffset = 0;
    /** Why a reconnect is required, when it is. */
    public ?string $reconnectReason = null;
    /** The site URL the host reported that differs from the registered one. */
    public ?string $siteMismatch = null;
    /** Proxy mode: the operator's Stora tokens while connected. */
    public ?StoraTokens $tokens = null;
    /** Proxy mode: the fingerprint of the last refresh token rotated away, which is never sent again. */
    public ?string $retiredRefresh = null;
    /**
     * Proxy mode: counts the changes of the token pair (a connect, a
     * refresh, a disconnect, a lost grant), never going back, so a worker
     * that reads the stored state can tell a newer pair (or its loss) from
     * a stale one (a {@see U64} value; 0 before the first connect).
     */
    public int|string $tokenGeneration = 0;
    /**
     * Broker mode: where the next pull of Stora's events starts (the cursor
     * of the last page the host acknowledged; docs/PROTOCOL.md §14.3).
     */
    public ?string $eventsCursor = null;

    /** A fresh, unregistered state (`State::new`). */
    public function __construct(public Config $config)
    {
    }

    /** The status named by `$name` (`Status::parse`), or null. */
    public static function parseStatus(string $name): ?string
    {
        return in_array($name, self::ALL_STATUSES, true) ? $name : null;
    }

    /** The status implied by the fields (`derive_status`). */
    public function deriveStatus(): string
    {
        $inst = $this->installation;
        if ($inst === null) {
            return self::NOT_REGISTERED;
        }
        if ($this->siteMismatch !== null) {
            return self::SITE_MISMATCH;
        }
        if ($inst->invalidReason !== null) {
            return self::REGISTRATION_INVALID;
        }
        if ($inst->challenge !== null) {
            return self::AWAITING_OWNERSHIP;
        }
        if (!$inst->confirmed) {
            return self::REGISTRATION_PENDING;
        }
        if ($this->brokerToken !== null || $this->tokens !== null) {
            return self::CONNECTED;
        }
        if ($this->reconnectReason !== null) {
            return self::RECONNECT_REQUIRED;
        }
        return self::REGISTERED;
    }

    /** Recomputes the status; call after every mutation (`refresh`). */
    public function refresh(): void
    {
        $this->status = $this->deriveStatus();
    }

    /**
     * The JSON the host persists (`to_json`). It contains the secret: store it
     * sealed or in storage only the plugin reads.
     */
    public function toJson(): string
    {
        $c = $this->config;
        $r = $c->retry;
        $out = '{"v":' . $this->v
            . ',"config":{"broker_url":' . Json::writeStr($c->brokerUrl)
            . ',"routes":{"installations":' . Json::writeStr($c->routes->installations)
            . ',"connect":' . Json::writeStr($c->routes->connect)
            . ',"disconnect":' . Json::writeStr($c->routes->disconnect)
            . ',"connect_complete":' . Json::writeStr($c->routes->connectComplete)
            . '},"retry":{"max_attempts":' . $r->maxAttempts
            . ',"base_delay_ms":' . $r->baseDelayMs
            . ',"max_delay_ms":' . $r->maxDelayMs
            . ',"max_total_delay_ms":' . $r->maxTotalDelayMs
            . ',"max_retry_after_ms":' . $r->maxRetryAfterMs
            . '}' . self::proxyJson($c->proxy) . '},"status":' . Json::writeStr($this->status)
            . ',"installation":';
        $inst = $this->installation;
        if ($inst === null) {
            $out .= 'null';
        } else {
            $secret = $inst->secret->toBase64url();
            $out .= '{"id":' . Json::writeStr($inst->id)
                . ',"site_url":' . Json::writeStr($inst->siteUrl)
                . ',"admin_email":' . Json::writeStr($inst->adminEmail)
                . ',"secret":' . Json::writeStr($secret)
                . ',"platform":' . Json::writeStr($inst->platform)
                . ',"plugin_version":' . Json::writeStr($inst->pluginVersion)
                . ',"confirmed":' . ($inst->confirmed ? 'true' : 'false');
            sodium_memzero($secret);
            if ($inst->challenge !== null) {
                $out .= ',"challenge":' . Json::writeStr($inst->challenge);
            }
            if ($inst->invalidReason !== null) {
                $out .= ',"invalid_reason":' . Json::writeStr($inst->invalidReason);
            }
            $out .= '}';
        }
        $out .= ',"broker_token":' . ($this->brokerToken === null ? 'null' : Json::writeStr($this->brokerToken->expose()));
        $a = $this->account;
        $out .= ',"account":' . ($a === null ? 'null' : '{"id":' . Json::writeStr($a->id) . ',"name":' . Json::writeStr($a->name) . '}');
        $p = $this->pendingConnect;
        $out .= ',"pending_connect":' . ($p === null ? 'null' : '{"state":' . Json::writeStr($p->state)
            . ',"created":' . $p->created
            . ',"return_url":' . Json::writeStr($p->returnUrl) . '}');
        $out .= ',"clock_offset":' . $this->clockOffset
            . ',"reconnect_reason":' . self::optStr($this->reconnectReason)
            . ',"site_mismatch":' . self::optStr($this->siteMismatch);
        $t = $this->tokens;
        if ($t !== null) {
            $out .= ',"tokens":{"access_token":' . Json::writeStr($t->access->expose())
                . ',"refresh_token":' . Json::writeStr($t->refresh->expose())
                . ',"expires_at":' . $t->expiresAt
                . ',"scope":' . Json::writeStr($t->scope) . '}';
        }
        if ($this->retiredRefresh !== null) {
            $out .= ',"retired_refresh":' . Json::writeStr($this->retiredRefresh);
        }
        if ($this->tokenGeneration !== 0) {
            $out .= ',"token_generation":' . $this->tokenGeneration;
        }
        if ($this->eventsCursor !== null) {
            $out .= ',"events_cursor":' . Json::writeStr($this->eventsCursor);
        }
        return $out . '}';
    }

    /** `,"proxy":{…}` in proxy mode, else nothing. */
    private static function proxyJson(?ProxyConfig $p): string
    {
        if ($p === null) {
            return '';
        }
        return ',"proxy":{"stora_api_url":' . Json::writeStr($p->storaApiUrl)
            . ',"refresh_margin_secs":' . $p->refreshMarginSecs
            . ',"token":' . Json::writeStr($p->token)
            . ',"refresh":' . Json::writeStr($p->refresh)
            . ',"revoke":' . Json::writeStr($p->revoke) . '}';
    }

    private static function optStr(?string $s): string
    {
        return $s === null ? 'null' : Json::writeStr($s);
    }

    /**
     * Reads a state blob, refusing unknown future versions (`from_json`).
     * Members this version does not know are ignored; a member given twice is
     * refused. Error messages name the member and never quote its value.
     *
     * @param string $json valid UTF-8 (the caller checks)
     * @throws CoreError
     */
    public static function fromJson(#[\SensitiveParameter] string $json): self
    {
        if (strlen($json) > self::MAX_STATE_JSON) {
            throw CoreError::tooLarge('state', self::MAX_STATE_JSON);
        }
        try {
            $root = Json::parse($json);
        } catch (JsonParseError $e) {
            throw CoreError::stateCorrupt('not JSON: ' . $e->getMessage());
        }
        if (!$root->isObject()) {
            throw self::corrupt('state', 'must be an object');
        }
        $v = self::opt($root, '', 'v', self::U64)?->asU64Text();
        if ($v === null) {
            throw CoreError::stateCorrupt('missing version `v`');
        }
        $v = U64::fromText($v);
        if (U64::cmp($v, self::STATE_VERSION) > 0) {
            throw CoreError::stateVersionUnsupported($v, self::STATE_VERSION);
        }
        if ($v === 0) {
            throw CoreError::stateCorrupt('version 0 is not a state');
        }
        $config = self::reqObj($root, '', 'config');
        $routes = self::optObj($config, 'config', 'routes');
        $retry = self::optObj($config, 'config', 'retry');
        $brokerUrl = self::reqStr($config, 'config', 'broker_url');
        $dr = new Routes();
        $dp = new RetryPolicy();
        $installations = self::optStr2($routes, 'config.routes', 'installations') ?? $dr->installations;
        $connect = self::optStr2($routes, 'config.routes', 'connect') ?? $dr->connect;
        $disconnect = self::optStr2($routes, 'config.routes', 'disconnect') ?? $dr->disconnect;
        $connectComplete = self::optStr2($routes, 'config.routes', 'connect_complete') ?? $dr->connectComplete;
        $maxAttempts = self::u64Or($retry, 'config.retry', 'max_attempts', $dp->maxAttempts);
        if (U64::cmp($maxAttempts, 4294967295) > 0) {
            throw self::corrupt('config.retry.max_attempts', 'is out of range');
        }
        $config = new Config(
            $brokerUrl,
            new Routes($installations, $connect, $disconnect, $connectComplete),
            new RetryPolicy(
                (int) $maxAttempts,
                self::u64Or($retry, 'config.retry', 'base_delay_ms', $dp->baseDelayMs),
                self::u64Or($retry, 'config.retry', 'max_delay_ms', $dp->maxDelayMs),
                self::u64Or($retry, 'config.retry', 'max_total_delay_ms', $dp->maxTotalDelayMs),
                self::u64Or($retry, 'config.retry', 'max_retry_after_ms', $dp->maxRetryAfterMs),
            ),
            self::proxyFromJson(self::optObj($config, 'config', 'proxy')),
        );
        $status = self::parseStatus(self::reqStr($root, '', 'status'));
        if ($status === null) {
            throw self::corrupt('status', 'must be a status name');
        }
        $installation = null;
        $i = self::optObj($root, '', 'installation');
        if ($i !== null) {
            $id = self::reqStr($i, 'installation', 'id');
            $siteUrl = self::reqStr($i, 'installation', 'site_url');
            $adminEmail = self::reqStr($i, 'installation', 'admin_email');
            $secretText = self::reqStr($i, 'installation', 'secret');
            try {
                $secret = Secret::fromBase64url($secretText);
            } catch (CoreError) {
                throw self::corrupt('installation.secret', 'must be a secret');
            } finally {
                sodium_memzero($secretText);
            }
            $installation = new Installation(
                $id,
                $siteUrl,
                $adminEmail,
                $secret,
                self::reqStr($i, 'installation', 'platform'),
                self::reqStr($i, 'installation', 'plugin_version'),
                (bool) self::req($i, 'installation', 'confirmed', self::BOOL)->asBool(),
                self::optStr2($i, 'installation', 'challenge'),
                self::optStr2($i, 'installation', 'invalid_reason'),
            );
        }
        $brokerToken = null;
        $t = self::opt($root, '', 'broker_token', self::STR)?->asStr();
        if ($t !== null) {
            try {
                $brokerToken = BrokerToken::new($t);
            } catch (CoreError) {
                throw self::corrupt('broker_token', 'must be a token');
            }
        }
        $account = null;
        $a = self::optObj($root, '', 'account');
        if ($a !== null) {
            $id = self::reqStr($a, 'account', 'id');
            $name = self::reqStr($a, 'account', 'name');
            try {
                $account = Account::new($id, $name);
            } catch (CoreError) {
                throw self::corrupt('account', 'must be an account');
            }
        }
        $pendingConnect = null;
        $p = self::optObj($root, '', 'pending_connect');
        if ($p !== null) {
            $pendingConnect = new PendingConnect(
                self::reqStr($p, 'pending_connect', 'state'),
                (int) self::req($p, 'pending_connect', 'created', self::I64)->asI64(),
                self::reqStr($p, 'pending_connect', 'return_url'),
            );
        }
        $state = new self($config);
        $state->status = $status;
        $state->installation = $installation;
        $state->brokerToken = $brokerToken;
        $state->account = $account;
        $state->pendingConnect = $pendingConnect;
        $offset = (int) self::req($root, '', 'clock_offset', self::I64)->asI64();
        if ($offset < -Clock::MAX_CLOCK_OFFSET_SECS || $offset > Clock::MAX_CLOCK_OFFSET_SECS) {
            throw self::corrupt('clock_offset', 'is out of range');
        }
        $state->clockOffset = $offset;
        $state->reconnectReason = self::optStr2($root, '', 'reconnect_reason');
        $state->siteMismatch = self::optStr2($root, '', 'site_mismatch');
        $state->tokens = self::tokensFromJson(self::optObj($root, '', 'tokens'));
        $retired = self::optStr2($root, '', 'retired_refresh');
        if ($retired !== null && preg_match('/\A[A-Za-z0-9_-]{43}\z/', $retired) !== 1) {
            throw self::corrupt('retired_refresh', 'must be a SHA-256 fingerprint');
        }
        $state->retiredRefresh = $retired;
        $state->tokenGeneration = self::u64Or($root, '', 'token_generation', 0);
        $cursor = self::optStr2($root, '', 'events_cursor');
        if ($cursor !== null && Events::cursorValue($cursor) === null) {
            throw self::corrupt('events_cursor', 'must be 1 to 18 decimal digits');
        }
        $state->eventsCursor = $cursor;
        if ($state->tokens !== null && ($config->proxy === null || $state->brokerToken !== null)) {
            throw self::corrupt('tokens', 'belong to proxy mode only, without a broker token');
        }
        if ($state->tokens !== null && $state->tokenGeneration === 0) {
            throw self::corrupt('token_generation', 'must count the pair it holds');
        }
        $state->refresh();
        return $state;
    }

    /** `config.proxy`, members defaulted except `stora_api_url`. @throws CoreError */
    private static function proxyFromJson(?JsonValue $p): ?ProxyConfig
    {
        if ($p === null) {
            return null;
        }
        $d = new ProxyConfig();
        return new ProxyConfig(
            self::reqStr($p, 'config.proxy', 'stora_api_url'),
            self::u64Or($p, 'config.proxy', 'refresh_margin_secs', $d->refreshMarginSecs),
            self::optStr2($p, 'config.proxy', 'token') ?? $d->token,
            self::optStr2($p, 'config.proxy', 'refresh') ?? $d->refresh,
            self::optStr2($p, 'config.proxy', 'revoke') ?? $d->revoke,
        );
    }

    /** The top-level `tokens` (proxy mode). @throws CoreError */
    private static function tokensFromJson(?JsonValue $t): ?StoraTokens
    {
        if ($t === null) {
            return null;
        }
        $access = self::reqStr($t, 'tokens', 'access_token');
        $refresh = self::reqStr($t, 'tokens', 'refresh_token');
        try {
            return StoraTokens::new(
                $access,
                $refresh,
                (int) self::req($t, 'tokens', 'expires_at', self::I64)->asI64(),
                self::reqStr($t, 'tokens', 'scope'),
            );
        } catch (CoreError $e) {
            if ($e->code() === 'state_corrupt') {
                throw $e;
            }
            throw self::corrupt('tokens', 'must be a token pair');
        } finally {
            sodium_memzero($access);
            sodium_memzero($refresh);
        }
    }

    private static function corrupt(string $path, string $what): CoreError
    {
        return CoreError::stateCorrupt("`$path` $what");
    }

    private static function name(string $path, string $key): string
    {
        return $path === '' ? $key : "$path.$key";
    }

    private static function accepts(JsonValue $v, string $want): bool
    {
        return match ($want) {
            self::STR => $v->asStr() !== null,
            self::U64 => $v->asU64Text() !== null,
            self::I64 => $v->asI64() !== null,
            self::BOOL => $v->asBool() !== null,
            self::OBJ => $v->isObject(),
        };
    }

    /** The member, type-checked; null when absent or `null` (`Fields::opt`). A null object has no members. */
    private static function opt(?JsonValue $obj, string $path, string $key, string $want): ?JsonValue
    {
        if ($obj === null) {
            return null;
        }
        try {
            $v = $obj->get($key);
        } catch (JsonDuplicateKey) {
            throw self::corrupt(self::name($path, $key), 'appears more than once');
        }
        if ($v === null || $v->kind === JsonValue::NULL) {
            return null;
        }
        if (!self::accepts($v, $want)) {
            throw self::corrupt(self::name($path, $key), $want);
        }
        return $v;
    }

    private static function req(?JsonValue $obj, string $path, string $key, string $want): JsonValue
    {
        return self::opt($obj, $path, $key, $want) ?? throw self::corrupt(self::name($path, $key), 'is missing');
    }

    private static function reqStr(?JsonValue $obj, string $path, string $key): string
    {
        return (string) self::req($obj, $path, $key, self::STR)->asStr();
    }

    private static function optStr2(?JsonValue $obj, string $path, string $key): ?string
    {
        return self::opt($obj, $path, $key, self::STR)?->asStr();
    }

    private static function u64Or(?JsonValue $obj, string $path, string $key, int|string $default): int|string
    {
        $text = self::opt($obj, $path, $key, self::U64)?->asU64Text();
        return $text === null ? $default : U64::fromText($text);
    }

    private static function optObj(?JsonValue $obj, string $path, string $key): ?JsonValue
    {
        return self::opt($obj, $path, $key, self::OBJ);
    }

    private static function reqObj(?JsonValue $obj, string $path, string $key): JsonValue
    {
        return self::optObj($obj, $path, $key) ?? throw self::corrupt(self::name($path, $key), 'is missing');
    }
}

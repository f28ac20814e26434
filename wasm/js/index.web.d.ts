// Types of tessera-companion's plugin side, every runtime (hand-maintained;
// mirrors wasm/js/api.js and index.web.js). Node adds broker.d.ts (index.d.ts).
// Needs TypeScript >= 5.7 (generic typed arrays).

// ---- explicit resource management ---------------------------------------------
// `Symbol.dispose` and `Disposable` as TypeScript's lib `esnext.disposable`
// (TS >= 5.2) declares them, so that `Companion[Symbol.dispose]` types under
// older `lib` settings too; identical declarations merge with the lib's.

declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
  interface Disposable {
    [Symbol.dispose](): void;
  }
}

// ---- loading --------------------------------------------------------------------

/** Where the wasm module comes from, for `init()` in browsers and extensions. */
export type WasmSource =
  | string
  | URL
  | Request
  | Response
  | PromiseLike<Response>
  | ArrayBuffer
  | ArrayBufferView
  | WebAssembly.Module;

/**
 * Loads the wasm module once (later calls return the same promise). Browsers,
 * extensions and workers must await it before anything else; under Node the
 * module is ready at import and this resolves at once.
 * Without `input`, the `.wasm` beside the module is fetched (`import.meta.url`).
 * In an MV3 service worker: `await init(chrome.runtime.getURL("tessera_wasm_bg.wasm"))`
 * (or pass the bytes).
 */
export function init(input?: WasmSource): Promise<void>;

/** Synchronous `init` from the bytes or a compiled module. */
export function initSync(input?: ArrayBuffer | ArrayBufferView | WebAssembly.Module): void;

// ---- errors ----------------------------------------------------------------------

/** Family of a TesseraError: one per core `ErrorKind`. */
export type ErrorKind =
  | "invalid_input"
  | "invalid_state"
  | "state_undecryptable"
  | "reconnect_required"
  | "registration_invalid"
  | "rate_limited"
  | "client_error"
  | "server_unavailable"
  | "callback"
  | "site_mismatch"
  | "verification"
  | "internal";

/** Stable codes of the core's `Error::code()`. */
export type ErrorCode =
  | "invalid_url"
  | "insecure_broker_url"
  | "invalid_input"
  | "too_large"
  | "not_registered"
  | "not_connected"
  | "invalid_state"
  | "state_corrupt"
  | "state_version_unsupported"
  | "state_undecryptable"
  | "reconnect_required"
  | "registration_invalid"
  | "registration_conflict"
  | "registration_rejected"
  | "rate_limited"
  | "client_error"
  | "redirected"
  | "server_unavailable"
  | "upstream_failed"
  | "lock_unavailable"
  | "response_invalid"
  | "callback_state_mismatch"
  | "callback_expired"
  | "callback_denied"
  | "callback_invalid"
  | "site_mismatch"
  | "signature_missing"
  | "signature_malformed"
  | "signature_invalid"
  | "signature_expired"
  | "replayed"
  | "digest_mismatch"
  | "unknown_installation"
  | "replay_store_full"
  | "ownership_proof_invalid"
  | "proxy_state_invalid"
  | "proxy_state_expired"
  | "code_context_invalid"
  | "code_context_expired"
  | "code_context_mismatch"
  | "internal";

/** What `TesseraError#toJSON()` returns: no stack, no secret. */
export interface TesseraErrorJSON {
  name: "TesseraError";
  code: ErrorCode;
  kind: ErrorKind;
  message: string;
  status?: number;
  retryAfterMs?: number;
  reason?: string;
  requestId?: string;
  registered?: string;
  current?: string;
  wireStatus?: number;
  wireCode?: string;
  description?: string;
  details?: Record<string, unknown> | unknown[];
}

/**
 * Every failure of tessera-companion. Match on `code` (stable) or `kind`.
 * Messages never contain a secret or a token.
 */
export class TesseraError extends Error {
  private constructor();
  readonly name: "TesseraError";
  /** The core's stable code. */
  readonly code: ErrorCode;
  /** The code's family. */
  readonly kind: ErrorKind;
  /** HTTP status behind the error (client_error, redirected, server_unavailable, upstream_failed, registration_*, rate_limited). */
  readonly status?: number;
  /** rate_limited: how long the broker asked to wait, in ms (0 when it did not say). */
  readonly retryAfterMs?: number;
  /** The code behind the error: reconnect reason, 4xx code, callback error, Stora's code (upstream_failed). */
  readonly reason?: string;
  /** client_error, upstream_failed: Stora's `request_id`, to quote to Stora's support. */
  readonly requestId?: string;
  /** site_mismatch: the registered site URL. */
  readonly registered?: string;
  /** site_mismatch: the site URL the host reports now. */
  readonly current?: string;
  /** kind verification: the HTTP status a broker answers this failure with (401, 403, 503; 400 for an authorization proxy's checks). */
  readonly wireStatus?: number;
  /** kind verification: the `error` code a broker answers this failure with. */
  readonly wireCode?: string;
  /**
   * client_error: the broker's `error_description` or Stora's `error.message`,
   * control and bidi characters dropped, at most 512 characters (a cut one
   * ends in `…`). Also in `toJSON()`.
   */
  readonly description?: string;
  /**
   * client_error: Stora's `error.details`, parsed (an object or array);
   * undefined when absent, empty, or over the 2048-byte bound. Also in `toJSON()`.
   */
  readonly details?: Record<string, unknown> | unknown[];
  /**
   * server_unavailable from a driver whose last send was rejected: that
   * rejection (e.g. fetch's TypeError). Not part of `toJSON()`.
   */
  readonly cause?: unknown;
  toJSON(): TesseraErrorJSON;
}

// ---- plain values ----------------------------------------------------------------

/** Headers in: a record, or [name, value] pairs (arrays, `Headers`, `Map`). */
export type HeadersInput = Readonly<Record<string, string>> | Iterable<readonly [string, string]>;

/** A body in: bytes, or a string sent as UTF-8. */
export type BodyInput = Uint8Array | ArrayBuffer | ArrayBufferView | string;

/** Header pairs out, in order (lowercase names on requests the core builds). */
export type HeaderList = [name: string, value: string][];

/** A request the host sends as-is (e.g. `fetch(r.url, r)`). */
export interface HttpRequest {
  method: string;
  url: string;
  headers: HeaderList;
  body: Uint8Array<ArrayBuffer>;
}

/**
 * A response handed to the core's synchronous functions (`classify`,
 * `handleRegistrationResponse`): a plain object, not a fetch `Response`,
 * whose body can only be read asynchronously — pass `await
 * readResponse(response)`.
 */
export interface ResponseInput {
  status: number;
  headers?: HeadersInput | null;
  body?: BodyInput | null;
}

/**
 * A response the core handed back (`call()`, `callAndRecord()`,
 * `readResponse()`): the three fields, plus the readers of a fetch
 * `Response`, non-enumerable (the object still compares, clones and
 * serialises as the three fields) and readable any number of times.
 */
export interface HttpResponse {
  status: number;
  headers: HeaderList;
  body: Uint8Array<ArrayBuffer>;
  /** The status is 2xx (always true for what `call()` resolves with). */
  readonly ok: boolean;
  /** The body decoded as UTF-8 (invalid sequences as U+FFFD, a BOM dropped), as `Response#text()`. */
  text(): Promise<string>;
  /** The body parsed as JSON, as `Response#json()`: rejects with JSON.parse's `SyntaxError` when it is not JSON. */
  json<T = unknown>(): Promise<T>;
}

/** A call to the broker: `path` is below the broker URL and may carry a query. */
export interface ApiRequest {
  method: string;
  path: string;
  headers?: HeadersInput | null;
  body?: BodyInput | null;
}

// ---- plugin side -----------------------------------------------------------------

/** Route paths below the broker URL. */
export interface Routes {
  /** Default `/installations`. */
  installations?: string;
  /** Default `/connect`. */
  connect?: string;
  /** Default `/disconnect`. */
  disconnect?: string;
  /** The connect completion (code → broker token). Default `/connect/complete`. */
  connectComplete?: string;
}

/** Bounded retry with full-jitter backoff. */
export interface RetryPolicy {
  /** Attempts per call, the first included (1-10; default 3). */
  maxAttempts?: number;
  /** First backoff ceiling in ms, doubling per retry (default 250). */
  baseDelayMs?: number;
  /** Largest backoff ceiling in ms (default 4000). */
  maxDelayMs?: number;
  /** Total sleeping per call in ms (default 15000). */
  maxTotalDelayMs?: number;
  /** Longest Retry-After honoured by sleeping, in ms (default 10000). */
  maxRetryAfterMs?: number;
}

/**
 * Authorization-proxy mode (docs/PROTOCOL.md §13): the installation keeps
 * the operator's Stora tokens itself (sealed at rest with a seal key), calls
 * Stora directly, and the proxy at `brokerUrl` only exchanges codes and
 * refreshes or revokes tokens. Any other member is refused.
 */
export interface ProxyConfig {
  /** Stora's versioned API base, e.g. `https://api.stora.example/2025-09`: a call's path `/api/<rest>` goes to `<storaApiUrl>/<rest>`. */
  storaApiUrl: string;
  /** Refresh when the access token expires within this many seconds (default 120). */
  refreshMarginSecs?: number;
  /** The proxy's code exchange route (default `/token`). */
  token?: string;
  /** The proxy's refresh route (default `/refresh`). */
  refresh?: string;
  /** The proxy's revoke route (default `/revoke`). */
  revoke?: string;
}

export interface CompanionConfig {
  /** `https://…`, or `http://` to a loopback host (tests). In proxy mode, the authorization proxy's URL. */
  brokerUrl: string;
  routes?: Routes;
  retry?: RetryPolicy;
  /** Present: authorization-proxy mode (then `call` and `callAndRecord` need `lock` and `unlock`). */
  proxy?: ProxyConfig;
  /**
   * A key (≥ 16 bytes; a string counts as its UTF-8 bytes) kept apart from
   * the stored state: every `onPersist` then receives the state sealed with
   * it (reopen with `Companion.openState(value, sealKey)`), never the JSON.
   */
  sealKey?: Uint8Array | string;
}

/** Options of `Companion.importState`. */
export interface ImportStateOptions {
  /** As `CompanionConfig.sealKey`: `onPersist` receives the state sealed with it from now on. */
  sealKey?: Uint8Array | string;
}

/**
 * What `companion.toJSON()` (and so `JSON.stringify(companion)`) returns: a
 * redacted summary, never the secret, the broker token or a pending connect.
 * Not the state: persist `exportState()` or a sealed state.
 */
export interface CompanionSummary {
  status: Status;
  installId: string | null;
  siteUrl: string | null;
  account: Account | null;
  reconnectReason: string | null;
}

export type Status =
  | "not_registered"
  | "registration_pending"
  | "awaiting_ownership"
  | "registered"
  | "connected"
  | "reconnect_required"
  | "registration_invalid"
  | "site_mismatch";

export interface Registration {
  /** The site's public URL. */
  siteUrl: string;
  adminEmail: string;
  /** `[a-z0-9._-]{1,32}`, e.g. `chrome-extension`. */
  platform: string;
  pluginVersion: string;
}

/** An ownership proof to serve: `body` as text/plain at `url`. */
export interface OwnershipProof {
  url: string;
  path: string;
  body: string;
}

export type RegistrationOutcome =
  | { outcome: "registered" }
  | { outcome: "ownership_challenge"; proof: OwnershipProof };

export interface ConnectOptions {
  /** Where the broker sends the browser back (any absolute URL, e.g. `chrome-extension://…`). */
  returnUrl: string;
  scope?: string;
  /** Unix seconds; default now. */
  now?: number;
}

export interface NowOption {
  /** Unix seconds; default now. */
  now?: number;
}

/** The Stora account a connect completed with: show it to the operator. */
export interface Account {
  /** Stora's account id (1-128 characters). */
  id: string;
  /** Display name (0-200 characters, may be empty). */
  name: string;
}

/** What `completeConnect()` resolves to. */
export interface ConnectResult {
  account: Account;
}

/** `completeConnect()`: the driver, and the time the callback's own checks use. */
export interface CompleteConnectOptions extends DriverOptions {
  /** Unix seconds for the callback's checks (its 10-minute age); default the clock's now. */
  now?: number;
}

/** Fixing all three makes `signRequest` reproducible (test vectors). */
export interface SignOptions {
  /** Unix seconds used as `created` (the learned clock offset is added); default now. */
  now?: number;
  /** `nonce` parameter; default 16 random bytes, base64url. */
  nonce?: string;
  /** `Idempotency-Key`; default a UUIDv4 for POST/PATCH. */
  idempotencyKey?: string;
}

export type OutcomeKind =
  | "ok"
  | "reconnect_required"
  | "registration_invalid"
  | "signature_expired"
  | "rate_limited"
  | "client_error"
  | "redirected"
  | "server_unavailable"
  | "upstream_failed";

/** A classified broker response. */
export interface Outcome {
  kind: OutcomeKind;
  status: number;
  /** Stora's nested `error.code`, the broker's `error`, or problem+json `code`; sanitised. */
  code?: string;
  /** 429: the delay in ms from Retry-After, else RateLimit-Reset, when given. */
  retryAfterMs?: number;
  /** The broker's `Date`, unix seconds, when given. */
  serverDate?: number;
  /** Stora's `error.request_id`, sanitised. */
  requestId?: string;
  /** The broker marked the answer as Stora's own (`Tessera-Origin: stora`). */
  fromStora: boolean;
  /** The broker's `error_description` or Stora's `error.message`, cleaned, at most 512 characters. */
  description?: string;
  /** Stora's `error.details` as compact JSON text, at most 2048 bytes (a cut one ends in `…`). */
  details?: string;
}

export type SiteCheck =
  | { kind: "same" }
  | { kind: "not_registered" }
  | { kind: "mismatch"; registered: string; current: string };

/**
 * A response as `fetch` returns it; only these members are read. `type:
 * "opaqueredirect"` (a browser stopped at a redirect) ends the operation with
 * `redirected`; a visible 3xx is handed to the core like any response.
 */
export interface FetchResponseLike {
  status: number;
  type?: string;
  headers: Iterable<readonly [string, string]>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** What the drivers pass to `fetch` (`body` only when non-empty, `signal` only when given). */
export interface FetchInit {
  method: string;
  headers: HeaderList;
  body?: Uint8Array<ArrayBuffer>;
  redirect: "manual";
  credentials: "omit";
  signal?: AbortSignal;
}

/** A `fetch`-compatible function; it may also resolve to a plain ResponseInput. */
export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponseLike | ResponseInput>;

/**
 * How the async drivers reach the outside world (docs/HOST-CONTRACT.md): every
 * action the core asks for is performed once, in order; retries are the core's.
 */
export interface DriverOptions {
  /**
   * Default `globalThis.fetch`, called with `redirect: "manual"` and
   * `credentials: "omit"`. A rejection is a network error (retried by the
   * core when safe); redirects are never followed (`redirected`).
   */
  fetch?: FetchLike;
  /** Default `setTimeout`. */
  sleep?: (ms: number) => Promise<void> | void;
  /**
   * Store exactly this value whenever the core says so (awaited): the state
   * sealed with the companion's seal key when it has one (`sealKey`,
   * `openState`; reopen with `Companion.openState(state, key)`), else the
   * state JSON, which holds the secret (reopen with `Companion.importState`).
   */
  onPersist?: (state: string) => Promise<void> | void;
  /** The clock in ms since the epoch, read once per event; default `Date.now`. */
  clock?: () => number;
  /**
   * Aborts the fetch in flight and stops the driver before its next send,
   * sleep or lock; a state change the core already made is still passed to
   * `onPersist` first. A refresh lock held when the operation is abandoned is
   * released (`unlock`).
   */
  signal?: AbortSignal;
  /**
   * Authorization-proxy mode, around a token refresh (required there by
   * `call` and `callAndRecord`, with `unlock`): take the lock `name` (one per
   * installation) so that every worker of the host waits for it, for a
   * bounded time; then resolve to the state as stored now (what `onPersist`
   * last stored, sealed as it was), or to null when the lock could not be
   * had in time (the call fails with `lock_unavailable`). `webLocks()` builds
   * one on the Web Locks API.
   */
  lock?: (name: string) => Promise<string | null>;
  /** Release the lock `name` taken by `lock` (also called when the operation is abandoned while holding it). */
  unlock?: (name: string) => Promise<void>;
}

/** A refresh lock for the drivers' options (`{ ...options, ...locks }`). */
export interface RefreshLock {
  lock(name: string): Promise<string | null>;
  unlock(name: string): Promise<void>;
}

/** The subset of the Web Locks API's `LockManager` that `webLocks` uses. */
export interface LockManagerLike {
  request(name: string, options: { mode: "exclusive"; signal: AbortSignal }, callback: () => Promise<void>): Promise<unknown>;
}

/** Options of `webLocks`. */
export interface WebLocksOptions {
  /** How long `lock` waits for the lock, in ms (default 30000); then it resolves to null. */
  timeoutMs?: number;
  /** The lock manager; default `navigator.locks`. */
  locks?: LockManagerLike;
}

/**
 * A refresh lock on the Web Locks API (`navigator.locks`, shared by an
 * extension's service worker and its pages): `lock(name)` waits for the
 * exclusive lock, holds it until `unlock(name)`, and resolves to
 * `await loadState()` (the state as stored now), or to null after
 * `timeoutMs`. Node has no `navigator.locks`: Node hosts pass their own
 * `lock`/`unlock` (one lock shared by every process of the installation).
 */
export function webLocks(loadState: () => Promise<string> | string, options?: WebLocksOptions): RefreshLock;

/** The drivers of `register()` and `siteMoved()`, which may be asked to serve an ownership proof. */
export interface RegisterOptions extends DriverOptions {
  /**
   * Make `proof.body` (text/plain) available at `proof.url`, then resolve;
   * the core sends the registration again so the broker fetches it. Return
   * `false` to defer (the operation then completes with
   * `ownership_challenge`; a later `register()` resumes). Absent: defer.
   */
  serveProof?: (proof: OwnershipProof) => Promise<boolean | void> | boolean | void;
}

/** How a remote step of disconnect/uninstall ended. */
export type RemoteStep =
  | { result: "ok"; error: null }
  | { result: "skipped"; error: null }
  | { result: "failed"; error: TesseraError };

export interface DisconnectResult {
  remote: RemoteStep;
}

/** `revoked` is `false` when the broker had nothing left of that installation. */
export interface RevokePreviousResult {
  revoked: boolean;
}

/** Local state is wiped whatever this says. */
export interface UninstallReport {
  disconnect: RemoteStep;
  deregister: RemoteStep;
}

/** What `reset()` did: the old installation's remote steps, then the new registration. */
export interface ResetReport {
  disconnect: RemoteStep;
  deregister: RemoteStep;
  registration: RegistrationOutcome;
}

/**
 * The plugin side of one installation. Store what a driver hands to
 * `onPersist`, and `sealState(key)` (or `exportState()`) after every method
 * that changes it outside a driver. `toJSON()` is a redacted summary.
 */
export class Companion implements Disposable {
  private constructor();
  /** A fresh, unregistered companion; with `config.sealKey`, `onPersist` values are sealed. */
  static create(config: CompanionConfig): Companion;
  /** Restores `exportState()` output; with `options.sealKey`, `onPersist` values are sealed from now on. */
  static importState(json: string | object, options?: ImportStateOptions): Companion;
  /**
   * Opens `sealState()` output or a sealed `onPersist` value;
   * `state_undecryptable` on any failure. The companion keeps `key` as its
   * seal key: `onPersist` values are sealed with it.
   */
  static openState(sealed: string, key: Uint8Array | string): Companion;
  /** Same as the `classify` export. */
  static classify(response: ResponseInput, options?: NowOption): Outcome;

  /**
   * The state JSON, for `importState()`. **It contains the installation
   * secret and the broker token in clear**: never log it or send it
   * anywhere; prefer a seal key or `sealState(key)`.
   */
  exportState(): string;
  /**
   * A redacted summary for `JSON.stringify(companion)` and loggers: no
   * secret, no broker token, no pending connect. Not the state.
   */
  toJSON(): CompanionSummary;
  readonly status: Status;
  readonly installId: string | null;
  readonly siteUrl: string | null;
  readonly reconnectReason: string | null;
  /** The Stora account this installation is connected to; null while not connected. */
  readonly account: Account | null;
  /** Learned broker-minus-local clock offset, seconds. */
  readonly clockOffset: number;
  /** Where the next `pullEvents()` starts: the last cursor acknowledged; null before the first. */
  readonly eventsCursor: string | null;

  /**
   * Registers (new, pending, after `registration_invalid`, after "this is a
   * copy"): the secret reaches `onPersist` before the first send; retries,
   * the ownership proof round (`serveProof`) and the clock offset are the core's.
   */
  register(registration: Registration, options?: RegisterOptions): Promise<RegistrationOutcome>;
  /** Low level (hosts use `register()`): the registration POST to send yourself. */
  registrationRequest(registration: Registration): HttpRequest;
  /** Low level (hosts use `register()`): the answer to `registrationRequest()`. */
  handleRegistrationResponse(response: ResponseInput): RegistrationOutcome;
  ownershipProof(): OwnershipProof;

  connectUrl(options: ConnectOptions): string;
  /**
   * Completes the connect from the URL the browser came back to (or its
   * query): checks `state`, then exchanges the one-time `code` with the
   * signed `POST /connect/complete` → the Stora account now connected. The
   * consumed pending connect and then the broker token reach `onPersist`.
   */
  completeConnect(callbackUrl: string, options?: CompleteConnectOptions): Promise<ConnectResult>;

  signRequest(request: ApiRequest, options?: SignOptions): HttpRequest;
  /**
   * The signed call through the broker, with the core's retries → its 2xx
   * response. Authorization-proxy mode: straight to Stora with the access
   * token, refreshed under `options.lock`/`options.unlock`, which are then
   * required (`invalid_input` at once without them).
   */
  call(request: ApiRequest, options?: DriverOptions): Promise<HttpResponse>;
  /**
   * Does `request` as `call` does, then records `event` on the operator's
   * Stora timeline (`external.id` = the call's Idempotency-Key). A failed
   * call rejects and records nothing; a failed event does not undo the call.
   */
  callAndRecord(request: ApiRequest, event: TimelineEvent, options?: DriverOptions): Promise<RecordedCall>;
  /**
   * Broker mode: pulls a page of Stora's events after `eventsCursor` (`GET
   * /events`, signed, retried as `call` is). A 2xx answer breaking the
   * documented shape rejects with `response_invalid`; proxy mode rejects
   * with `invalid_state`. The cursor moves only with `acknowledgeEvents`.
   */
  pullEvents(options?: PullEventsOptions): Promise<EventPage>;
  /**
   * Moves the stored cursor to `cursor` once its page is handled → whether it
   * moved (`false`: not past the stored one). When it moved, `onPersist`
   * receives the state to store (sealed when the companion has a seal key).
   */
  acknowledgeEvents(cursor: string, options?: AcknowledgeEventsOptions): Promise<boolean>;
  disconnect(options?: DriverOptions): Promise<DisconnectResult>;
  /**
   * After "Register again": asks the broker to revoke the previous
   * installation of this site (its Stora grant, its registration). Needs a
   * site this broker saw proved (else `client_error` `ownership_proof_required`).
   */
  revokePrevious(installId: string, options?: DriverOptions): Promise<RevokePreviousResult>;
  uninstall(options?: DriverOptions): Promise<UninstallReport>;
  /** "Reset this installation": revoke and deregister the old one (best effort), then register afresh. */
  reset(registration: Registration, options?: RegisterOptions): Promise<ResetReport>;
  siteMoved(options?: RegisterOptions): Promise<void>;

  checkSite(currentUrl: string): SiteCheck;
  resolveSiteAsCopy(): void;
  uninstallUrl(options?: NowOption): string;

  sealState(key: Uint8Array | string): string;
  /** Frees the wasm memory now (otherwise at garbage collection). Idempotent; any later call is `invalid_state`. */
  free(): void;
  /** `free()`, for `using companion = …` (TypeScript >= 5.2, runtimes with `Symbol.dispose`). Idempotent. */
  [Symbol.dispose](): void;
}

// ---- Stora's events -------------------------------------------------------------

/** One of Stora's events, pulled from the broker (docs/PROTOCOL.md §14.3). */
export interface StoraEvent {
  /** Stora's event id (`evt_…`): the same event may come again after a crash, never under another id. */
  id: string;
  /** The event type, e.g. `order.updated`, `contact.created`. */
  type: string;
  /** The API version it was rendered in, e.g. `2025-09`. */
  apiVersion: string;
  /** When Stora created it, unix seconds. */
  createdAt: number;
  /** The event's `data` object (`dataJson` parsed). */
  data: Record<string, unknown>;
  /** The event's `data` as compact JSON, numbers as Stora wrote them. */
  dataJson: string;
}

/** What `pullEvents` resolves to. */
export interface EventPage {
  /** This installation's events, oldest first. */
  events: StoraEvent[];
  /** Pass it to `acknowledgeEvents` once the page is handled. */
  cursor: string;
  /** More events follow: pull again at once. */
  hasMore: boolean;
}

/** The driver of `pullEvents`. */
export interface PullEventsOptions extends DriverOptions {
  /** At most this many events, 1 to 100 (default 50). */
  limit?: number;
}

/** Options of `acknowledgeEvents`. */
export interface AcknowledgeEventsOptions {
  /** Called (awaited) with the state to store when the cursor moved, as a driver's `onPersist`. */
  onPersist?: (state: string) => Promise<void> | void;
}

// ---- Timeline Events and metadata -------------------------------------------------

/**
 * A Stora Timeline Event. Ids: 1-100 visible ASCII characters; description
 * ≤ 1000 characters; externalUrl (required: Stora's `external` object has
 * an id, the action's Idempotency-Key, and a url) an absolute https URL ≤ 2048 bytes;
 * variables ≤ 50, names `[a-z0-9_.]{1,40}`, values ≤ 500 characters
 * (characters are Unicode code points).
 */
export interface TimelineEvent {
  sourceId: string;
  templateId: string;
  contactId?: string | null;
  siteId?: string | null;
  description?: string | null;
  externalUrl: string;
  variables?: Record<string, string> | null;
}

/** What `callAndRecord` resolves to: the call's 2xx response and how recording ended. */
export interface RecordedCall {
  response: HttpResponse;
  event: { ok: true } | { ok: false; error: TesseraError };
}

/** `POST /api/timeline/events` for `event`, recording the action `externalId` (≤ 124 of `[A-Za-z0-9._~-]`). */
export interface TimelineEventRequest {
  method: "POST";
  path: string;
  headers: [string, string][];
  body: string;
}

/** The request recording `event` for the action `externalId`; `Idempotency-Key: tle-<externalId>`. */
export function timelineEventRequest(event: TimelineEvent, externalId: string): TimelineEventRequest;
/** Throws `invalid_input` unless `metadata` satisfies Stora's rules (≤ 20 keys `[a-z0-9._:-]{1,40}`, values ≤ 500 characters). */
export function validateMetadata(metadata: Record<string, string>): void;
/** The merge-patch body `{"metadata":{…}}` (`null` deletes a key; keys sorted); with `current`, the merged result is checked. */
export function metadataPatch(changes: Record<string, string | null>, current?: Record<string, string> | null): string;

/** Classifies a broker response: a plain object (a fetch `Response`: `classify(await readResponse(response))`). */
export function classify(response: ResponseInput, options?: NowOption): Outcome;
/**
 * A fetch `Response` (its body read now) or a plain `{ status, headers?,
 * body? }` → `{ status, headers, body }` with `text()`/`json()`: the form
 * `classify` and `handleRegistrationResponse` take.
 */
export function readResponse(response: FetchResponseLike | ResponseInput): Promise<HttpResponse>;

// ---- low level -------------------------------------------------------------------

/** The RFC 9530 Content-Digest value (`sha-256=:…:`) of a body. */
export function contentDigest(body: BodyInput): string;

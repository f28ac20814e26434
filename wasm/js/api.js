// The public API of tessera-companion: camelCase mirrors of tessera-core with
// plain objects in and out. Every method converts its arguments, calls the
// wasm export and converts the result; the async driver (driver.js) performs
// the actions the core's step machine asks for as docs/HOST-CONTRACT.md says.
// No rule about the values lives here: that is the core's job.

import {
  CompanionCore,
  classifyCore,
  contentDigest as contentDigestCore,
} from "./tessera_wasm.js";
import { TesseraError, invalidArgument } from "./error.js";
import { ensureReady, plugin } from "./ready.js";
import * as c from "./conv.js";
import { nowSecs, optNow } from "./conv.js";
import { eventArgs } from "./records.js";
import { drive as driveCore, status } from "./driver.js";

export { metadataPatch, timelineEventRequest, validateMetadata } from "./records.js";
// The public reader of any response (a fetch Response included); the driver's own is below.
export { readResponse } from "./conv.js";
// Authorization-proxy mode: a refresh lock on the Web Locks API (extensions).
export { webLocks } from "./locks.js";

// A trap poisons the instance (see ready.js): `internal`, then a fresh instance.
const { rethrow, guarded } = plugin;

export { TesseraError };

const nullable = (v) => (v === undefined ? null : v);

const CONSTRUCT = Symbol("Companion.construct");

/** The members of `config.proxy`; any other is refused (a misspelt one would be ignored silently). */
const PROXY_KEYS = ["storaApiUrl", "refreshMarginSecs", "token", "refresh", "revoke"];

/**
 * `config.proxy` as `CompanionCore.create`'s last five arguments (all
 * undefined: broker mode). `storaApiUrl` is required; the rest keep the
 * core's defaults when absent.
 */
function proxyArgs(proxy, nonNegative) {
  if (proxy === undefined || proxy === null) return [undefined, undefined, undefined, undefined, undefined];
  c.obj(proxy, "config.proxy");
  for (const key of Object.keys(proxy)) {
    if (!PROXY_KEYS.includes(key)) throw invalidArgument(`config.proxy.${key}`, `one of ${PROXY_KEYS.join(", ")}`);
  }
  return [
    c.str(proxy.storaApiUrl, "config.proxy.storaApiUrl"),
    nonNegative(proxy.refreshMarginSecs, "config.proxy.refreshMarginSecs"),
    c.optStr(proxy.token, "config.proxy.token"),
    c.optStr(proxy.refresh, "config.proxy.refresh"),
    c.optStr(proxy.revoke, "config.proxy.revoke"),
  ];
}

/** What `Companion#toJSON()` shows: never the secret, the broker token or the pending connect. */
function summary(core) {
  return {
    status: core.status(),
    installId: nullable(core.installId()),
    siteUrl: nullable(core.siteUrl()),
    account: nullable(core.account()),
    reconnectReason: nullable(core.reconnectReason()),
  };
}

/** The live wasm object behind a Companion `this` (set in the class's static block). */
let coreOf;

/** Runs one operation of `companion` on the driver (driver.js); `needsLock`: an API call. */
const drive = (companion, start, options, needsLock) =>
  driveCore(companion, () => coreOf(companion), start, options, needsLock);

/**
 * The plugin side of one installation: configuration and state. Create it
 * with `Companion.create`, restore it with `Companion.importState` /
 * `Companion.openState`, and persist what `onPersist` receives (or
 * `exportState()` / `sealState(key)`) after every call that changes it.
 * `toJSON()` is a redacted summary: `JSON.stringify(companion)` and loggers
 * never see the secret.
 */
export class Companion {
  /** The wasm object; null once `free()` ran. */
  #core;
  /** The instance generation `#core` lives in (a trap ends it: see ready.js). */
  #gen;

  static {
    // `this` of every method: a live Companion (not unbound, not another object, not freed).
    coreOf = (self) => {
      if (typeof self !== "object" || self === null || !(#core in self)) {
        throw invalidArgument("this", "a Companion (was the method called unbound?)");
      }
      if (self.#core === null) throw new TesseraError("invalid_state", "invalid_state", "this Companion was freed");
      // Its wasm object died with a trapped instance: never call into the new one with it.
      plugin.check(self.#gen);
      return self.#core;
    };
  }

  /** @private use Companion.create / importState / openState. */
  constructor(token, core) {
    if (token !== CONSTRUCT) {
      throw new TesseraError(
        "invalid_input",
        "invalid_input",
        "use Companion.create(), Companion.importState() or Companion.openState()",
      );
    }
    this.#core = plugin.track(core);
    this.#gen = plugin.generation;
  }

  /**
   * A fresh, unregistered companion for the broker at `config.brokerUrl`.
   * With `config.sealKey` (≥ 16 bytes; a string is UTF-8) every `onPersist`
   * receives the state sealed with it (`openState(value, sealKey)` reopens it).
   * With `config.proxy` (`{ storaApiUrl, refreshMarginSecs?, token?,
   * refresh?, revoke? }`), authorization-proxy mode: `brokerUrl` names the
   * proxy, and the installation keeps its own Stora tokens.
   */
  static create(config) {
    ensureReady();
    c.obj(config, "config");
    const routes = c.optObj(config.routes, "config.routes");
    const retry = c.optObj(config.retry, "config.retry");
    const sealKey = c.optBytes(config.sealKey, "config.sealKey");
    const nonNegative = (v, field) => {
      const n = c.optInt(v, field);
      if (n !== undefined && n < 0) throw invalidArgument(field, "a non-negative integer");
      return n;
    };
    const proxy = proxyArgs(config.proxy, nonNegative);
    try {
      return Companion.#withSealKey(
        CompanionCore.create(
          c.str(config.brokerUrl, "config.brokerUrl"),
          c.optStr(routes.installations, "config.routes.installations"),
          c.optStr(routes.connect, "config.routes.connect"),
          c.optStr(routes.disconnect, "config.routes.disconnect"),
          c.optStr(routes.connectComplete, "config.routes.connectComplete"),
          nonNegative(retry.maxAttempts, "config.retry.maxAttempts"),
          nonNegative(retry.baseDelayMs, "config.retry.baseDelayMs"),
          nonNegative(retry.maxDelayMs, "config.retry.maxDelayMs"),
          nonNegative(retry.maxTotalDelayMs, "config.retry.maxTotalDelayMs"),
          nonNegative(retry.maxRetryAfterMs, "config.retry.maxRetryAfterMs"),
          ...proxy,
        ),
        sealKey,
      );
    } catch (e) {
      rethrow(e);
    }
  }

  /**
   * Restores a companion from `exportState()` output (the string, or it
   * parsed). With `options.sealKey` every `onPersist` receives the state
   * sealed with it from now on.
   */
  static importState(json, options) {
    ensureReady();
    let text = json;
    if (typeof json === "object" && json !== null && !Array.isArray(json)) {
      try {
        text = JSON.stringify(json);
      } catch (e) {
        // Cycles, BigInts and nesting too deep for JSON.stringify; a toJSON()
        // of the caller's that throws something else propagates unchanged.
        if (!(e instanceof TypeError || e instanceof RangeError)) throw e;
        throw invalidArgument("json", "a string or a JSON-serialisable object");
      }
    }
    c.str(text, "json");
    const sealKey = c.optBytes(c.optObj(options, "options").sealKey, "options.sealKey");
    try {
      return Companion.#withSealKey(CompanionCore.fromJson(text), sealKey);
    } catch (e) {
      rethrow(e);
    }
  }

  /** Wraps a fresh wasm object, giving it `sealKey` first when there is one. */
  static #withSealKey(core, sealKey) {
    const companion = new Companion(CONSTRUCT, core);
    if (sealKey !== undefined) {
      try {
        core.setSealKey(sealKey);
      } catch (e) {
        // A refused key (too short) frees the new object; a trap detaches it (rethrow).
        if (!(e instanceof WebAssembly.RuntimeError)) companion.free();
        throw e;
      }
    }
    return companion;
  }

  /**
   * Opens `sealState()` output (or a sealed `onPersist` value) with the same
   * key; `state_undecryptable` on any failure. The companion keeps `key` as
   * its seal key: every `onPersist` receives the state sealed with it.
   */
  static openState(sealed, key) {
    ensureReady();
    c.str(sealed, "sealed");
    const k = c.reqBytes(key, "key");
    try {
      return new Companion(CONSTRUCT, CompanionCore.openState(sealed, k));
    } catch (e) {
      rethrow(e);
    }
  }

  /** Classifies a broker response (same as the `classify` export). */
  static classify(response, options) {
    return classify(response, options);
  }

  /**
   * The state as a JSON string, to store and give back to `importState()`.
   * IT CONTAINS THE INSTALLATION SECRET AND THE BROKER TOKEN IN CLEAR: never
   * log it, send it anywhere or store it where others read; prefer a seal
   * key (`sealKey`, `sealState(key)`).
   */
  exportState() {
    const core = coreOf(this);
    return guarded(() => core.toJson());
  }

  /**
   * A redacted summary, `{ status, installId, siteUrl, account,
   * reconnectReason }`, so that `JSON.stringify(companion)`, loggers and error
   * reporters never see the secret, the broker token or the pending connect.
   * Not the state: persist `exportState()` or a sealed state.
   */
  toJSON() {
    const core = coreOf(this);
    return guarded(() => summary(core));
  }

  /**
   * `util.inspect` / `console.log` in Node show the same redacted summary. A
   * logger never throws: a freed companion (or the prototype) shows as
   * `Companion {}`.
   */
  [Symbol.for("nodejs.util.inspect.custom")](depth, options, inspect) {
    let s;
    try {
      s = this.toJSON();
    } catch {
      return "Companion {}";
    }
    return `Companion ${typeof inspect === "function" ? inspect(s, options) : JSON.stringify(s)}`;
  }

  /** Where the installation stands (`not_registered`, `registered`, `connected`, …). */
  get status() {
    const core = coreOf(this);
    return guarded(() => core.status());
  }

  /** The install id, once registration started; else null. */
  get installId() {
    const core = coreOf(this);
    return guarded(() => nullable(core.installId()));
  }

  /** The registered site URL; else null. */
  get siteUrl() {
    const core = coreOf(this);
    return guarded(() => nullable(core.siteUrl()));
  }

  /** Why a reconnect is required, when it is; else null. */
  get reconnectReason() {
    const core = coreOf(this);
    return guarded(() => nullable(core.reconnectReason()));
  }

  /**
   * The Stora account this installation is connected to, `{ id, name }`
   * (show it to the operator); null while not connected.
   */
  get account() {
    const core = coreOf(this);
    return guarded(() => nullable(core.account()));
  }

  /** The learned broker-minus-local clock offset, in seconds. */
  get clockOffset() {
    const core = coreOf(this);
    return guarded(() => core.clockOffset());
  }

  /**
   * Where the next `pullEvents()` starts: the cursor of the last page
   * acknowledged (`acknowledgeEvents`); null before the first.
   */
  get eventsCursor() {
    const core = coreOf(this);
    return guarded(() => nullable(core.eventsCursor()));
  }

  /**
   * Registers this installation with the broker: a new one, one still
   * pending, one the broker no longer accepts, or the ownership proof round
   * of a site move → `{ outcome: "registered" }`, or `{ outcome:
   * "ownership_challenge", proof }` when the proof was deferred (`serveProof`
   * absent or returning false). The new secret reaches `onPersist` before
   * anything is sent; retries are the core's.
   */
  register(registration, options) {
    const start = (core) =>
      core.startRegistration(
        c.str(c.obj(registration, "registration").siteUrl, "registration.siteUrl"),
        c.str(registration.adminEmail, "registration.adminEmail"),
        c.str(registration.platform, "registration.platform"),
        c.str(registration.pluginVersion, "registration.pluginVersion"),
      );
    return drive(this, start, options);
  }

  /**
   * Low level (hosts use `register()`): the unsigned registration request
   * (`POST {broker}/installations`); a new install id and secret unless a
   * registration is pending. Persisting the state before sending it, retries
   * and the ownership proof round are then the caller's.
   */
  registrationRequest(registration) {
    const core = coreOf(this);
    c.obj(registration, "registration");
    try {
      return c.unpackRequest(
        core.registrationRequest(
          c.str(registration.siteUrl, "registration.siteUrl"),
          c.str(registration.adminEmail, "registration.adminEmail"),
          c.str(registration.platform, "registration.platform"),
          c.str(registration.pluginVersion, "registration.pluginVersion"),
        ),
      );
    } catch (e) {
      rethrow(e);
    }
  }

  /**
   * Low level (hosts use `register()`): interprets the broker's answer to
   * `registrationRequest()` at the local clock's now. A large difference
   * between the answer's `Date` and the local clock is learned as the clock
   * offset, so that the connect URL signed next is not refused.
   */
  handleRegistrationResponse(response) {
    const core = coreOf(this);
    c.responseObj(response, "response");
    try {
      return core.handleRegistrationResponse(
        status(response.status, "response.status"),
        c.headerList(response.headers, "response.headers"),
        c.bytes(response.body, "response.body"),
        nowSecs(),
      );
    } catch (e) {
      rethrow(e);
    }
  }

  /** The ownership proof to serve while the broker's challenge is outstanding. */
  ownershipProof() {
    const core = coreOf(this);
    try {
      return core.ownershipProof();
    } catch (e) {
      rethrow(e);
    }
  }

  /**
   * The broker connect URL to open in the browser; records the pending
   * connect (persist afterwards). Then `completeConnect()` with the URL the
   * browser comes back to.
   */
  connectUrl(options) {
    const core = coreOf(this);
    c.obj(options, "options");
    try {
      return core.connectUrl(
        c.str(options.returnUrl, "options.returnUrl"),
        c.optStr(options.scope, "options.scope"),
        optNow(options.now, "options.now"),
      );
    } catch (e) {
      rethrow(e);
    }
  }

  /**
   * Completes the connect from the callback URL (or its query): checks its
   * `state` locally, then exchanges its one-time `code` with the signed
   * `POST /connect/complete` → `{ account: { id, name } }`, the Stora account
   * now connected (show it to the operator). The consumed pending connect and
   * then the broker token reach `onPersist`. `options.now` (unix seconds)
   * replaces the clock for the callback's own checks only.
   */
  completeConnect(callbackUrl, options) {
    // Argument errors reject, as everything the driver runs does.
    const start = (core, now) => {
      const callback = c.str(callbackUrl, "callbackUrl");
      return core.startCompleteConnect(callback, c.optInt(c.optObj(options, "options").now, "options.now") ?? now());
    };
    return drive(this, start, options);
  }

  /**
   * Signs one request for the broker → `{ method, url, headers, body }` to
   * send as-is. `now`, `nonce` and `idempotencyKey` make the output
   * reproducible (test vectors); leave them out in production.
   */
  signRequest(request, options) {
    const core = coreOf(this);
    c.obj(request, "request");
    const o = c.optObj(options, "options");
    const method = c.str(request.method, "request.method");
    const path = c.str(request.path, "request.path");
    const headers = c.headerList(request.headers, "request.headers");
    // A string body crosses as a string (encoded straight into wasm memory).
    const body = request.body;
    const text = typeof body === "string" ? c.str(body, "request.body") : undefined;
    const bytes = text === undefined ? c.bytes(body, "request.body") : c.EMPTY;
    try {
      return c.unpackRequest(
        core.signRequest(
          method,
          path,
          headers,
          bytes,
          text,
          optNow(o.now, "options.now"),
          c.optStr(o.nonce, "options.nonce"),
          c.optStr(o.idempotencyKey, "options.idempotencyKey"),
        ),
      );
    } catch (e) {
      rethrow(e);
    }
  }

  /**
   * Sends a signed API call through the broker, retrying, backing off and
   * correcting clock skew as the core decides → the broker's 2xx response
   * `{ status, headers, body }`, which also has fetch's `ok`, `text()` and
   * `json()` (see `c.withReaders`). In authorization-proxy mode the call goes
   * straight to Stora with the installation's access token, refreshed through
   * the proxy under `options.lock` / `options.unlock` (both required there).
   */
  call(request, options) {
    const start = (core) =>
      core.startCall(
        c.str(c.obj(request, "request").method, "request.method"),
        c.str(request.path, "request.path"),
        c.headerList(request.headers, "request.headers"),
        c.bytes(request.body, "request.body"),
      );
    return drive(this, start, options, true).then(c.withReaders);
  }

  /**
   * Does `request` as `call` does, then records the Timeline Event `event`
   * (`POST /api/timeline/events`; `external.id` is the call's
   * Idempotency-Key, the event's key `tle-<that key>`) →
   * `{ response, event: { ok: true } | { ok: false, error } }`. A failed call
   * rejects with its error and records nothing.
   */
  callAndRecord(request, event, options) {
    const start = (core) =>
      core.startRecordedCall(
        c.str(c.obj(request, "request").method, "request.method"),
        c.str(request.path, "request.path"),
        c.headerList(request.headers, "request.headers"),
        c.bytes(request.body, "request.body"),
        ...eventArgs(event, "event"),
      );
    return drive(this, start, options, true).then((recorded) => {
      c.withReaders(recorded.response);
      return recorded;
    });
  }

  /**
   * Pulls a page of Stora's events from the broker (broker mode; docs/PROTOCOL.md
   * §14.3): the signed `GET /events?after=<cursor>&limit=<n>` after the stored
   * cursor (`eventsCursor`), run as `call` runs a GET (retries, clock skew,
   * reconnect) → `{ events: [{ id, type, apiVersion, createdAt, data,
   * dataJson }], cursor, hasMore }`, oldest first; `data` is `dataJson`
   * parsed. `options.limit`: 1 to 100 (default 50). A 2xx answer that breaks
   * the documented shape rejects with `response_invalid`. The cursor does not
   * move: once the page is handled, `acknowledgeEvents(page.cursor)`; a page
   * may come again after a crash (de-duplicate by `id`). `hasMore`: pull
   * again at once.
   */
  pullEvents(options) {
    const start = (core) => core.startPullEvents(c.optInt(c.optObj(options, "options").limit, "options.limit"));
    return drive(this, start, options).then(c.eventPage);
  }

  /**
   * Moves the stored cursor to `cursor` (a page's) once that page is
   * handled → whether it moved (`false`: not past the stored one, e.g. a
   * page acknowledged twice). When it moved, `options.onPersist` (awaited)
   * receives the state to store, as a driver's persist does (sealed with the
   * seal key when the companion has one).
   */
  async acknowledgeEvents(cursor, options) {
    const core = coreOf(this);
    const onPersist = c.optFn(c.optObj(options, "options").onPersist, "options.onPersist");
    const position = c.str(cursor, "cursor");
    let moved;
    let state;
    try {
      moved = core.acknowledgeEvents(position);
      if (moved && onPersist) state = core.persistedState();
    } catch (e) {
      rethrow(e);
    }
    if (state !== undefined) await onPersist(state);
    return moved;
  }

  /**
   * Revokes a previous installation of this site after "Register again"
   * (`POST {installations}/{id}/revoke-previous`, signed by this one): the
   * broker revokes its Stora grant and forgets it → `{ revoked }` (`false`:
   * nothing of it was left). Keep the install id outside the sealed state to
   * have it here; it is not a secret.
   */
  revokePrevious(installId, options) {
    return drive(this, (core) => core.startRevokePrevious(c.str(installId, "installId")), options);
  }

  /** Disconnects (`POST /disconnect`); the broker token is dropped locally either way. */
  disconnect(options) {
    return drive(this, (core) => core.startDisconnect(), options);
  }

  /**
   * The uninstall plan: disconnect, deregister, then wipe local state whatever
   * the network said → which remote steps failed.
   */
  uninstall(options) {
    return drive(this, (core) => core.startUninstall(), options);
  }

  /**
   * "Reset this installation" (a secret that may have leaked): with the old
   * secret, best effort, the uninstall plan's remote steps (disconnect,
   * deregister: the old grant is revoked), then local state is wiped and a new
   * installation registers (a new id and secret, persisted before the POST;
   * the ownership proof served as `register()` does) →
   * `{ disconnect, deregister, registration }`.
   */
  reset(registration, options) {
    const start = (core) =>
      core.startReset(
        c.str(c.obj(registration, "registration").siteUrl, "registration.siteUrl"),
        c.str(registration.adminEmail, "registration.adminEmail"),
        c.str(registration.platform, "registration.platform"),
        c.str(registration.pluginVersion, "registration.pluginVersion"),
      );
    return drive(this, start, options);
  }

  /**
   * "The site moved": sends the signed URL update after a site mismatch; when
   * the broker asks the new address for an ownership proof, serves it
   * (`serveProof`) and completes the registration round.
   */
  siteMoved(options) {
    return drive(this, (core) => core.startSiteMoved(), options);
  }

  /** Compares the site URL the host reports now with the registered one. */
  checkSite(currentUrl) {
    const core = coreOf(this);
    c.str(currentUrl, "currentUrl");
    try {
      return core.checkSite(currentUrl);
    } catch (e) {
      rethrow(e);
    }
  }

  /** "This is a copy": forget the copied registration so this site registers afresh. */
  resolveSiteAsCopy() {
    const core = coreOf(this);
    guarded(() => core.resolveSiteAsCopy());
  }

  /** A signed deregistration link for `chrome.runtime.setUninstallURL`. */
  uninstallUrl(options) {
    const core = coreOf(this);
    const o = c.optObj(options, "options");
    try {
      return core.uninstallUrl(optNow(o.now, "options.now"));
    } catch (e) {
      rethrow(e);
    }
  }

  /** The state sealed (XChaCha20-Poly1305, HKDF) under `key` (≥ 16 bytes; a string is UTF-8). */
  sealState(key) {
    const core = coreOf(this);
    const k = c.reqBytes(key, "key");
    try {
      return core.sealState(k);
    } catch (e) {
      rethrow(e);
    }
  }

  /** Releases the wasm memory now instead of at garbage collection. */
  free() {
    if (typeof this !== "object" || this === null || !(#core in this)) coreOf(this); // throws: not a Companion
    const core = this.#core;
    if (core === null) return; // freed already: harmless
    this.#core = null;
    plugin.release(core, this.#gen); // a dead instance's object was detached already
  }

  static {
    // `using companion = …` (explicit resource management) frees it at the end
    // of the block; idempotent like free(). Only where the runtime has the
    // symbol (Node 20, current browsers): never a method named "undefined".
    if (typeof Symbol.dispose === "symbol") {
      Object.defineProperty(Companion.prototype, Symbol.dispose, {
        // Through the prototype's free(): an unbound call is `invalid_input`, not a TypeError.
        value: function dispose() {
          Companion.prototype.free.call(this);
        },
        writable: true,
        configurable: true,
      });
    }
  }
}

// ---- pure helpers ------------------------------------------------------------

/**
 * Classifies a broker response `{ status, headers, body }` → `{ kind,
 * status, code?, retryAfterMs?, serverDate? }`. Synchronous: pass a fetch
 * Response as `await readResponse(response)` (its body is read asynchronously).
 */
export function classify(response, options) {
  ensureReady();
  c.responseObj(response, "response");
  const o = c.optObj(options, "options");
  const args = [
    status(response.status, "response.status"),
    c.headerList(response.headers, "response.headers"),
    c.bytes(response.body, "response.body"),
    optNow(o.now, "options.now"),
  ];
  return guarded(() => classifyCore(...args));
}

/** Low level: the RFC 9530 `Content-Digest` value (`sha-256=:…:`) of a body. */
export function contentDigest(body) {
  ensureReady();
  const b = c.bytes(body, "body");
  return guarded(() => contentDigestCore(b));
}

// Broker side of tessera-companion, for partners whose broker runs on Node:
// request, connect-URL, uninstall-ticket and ownership-proof verification,
// the in-memory replay store, and pushed events (signPush; on the plugin side,
// Companion#verifyPush and Companion#pushRegistrationRequest, which this
// module adds to the Node entry's Companion: an extension cannot receive a
// push). These run in their own wasm module
// (tessera_broker_bg.wasm, the whole core), instantiated on first use, so the
// module browser extensions load stays small.
//
// Verification is the core's sans-IO sequence: what needs no secret is checked
// (one wasm call), `secretFor` is asked once and awaited, the MAC is checked
// once (one wasm call), the replay store is asked and awaited, and its answer
// finishes the verification (one wasm call). No wasm call runs JavaScript in
// between. Every refusal is a TesseraError carrying the core's wire answer:
// `wireStatus`, `wireCode`, `wireHeaders`, `wireBody`.

import { readFileSync } from "node:fs";
import {
  ReplayStoreCore,
  hmacSignGenericCore,
  beginConnectUrl,
  beginRequest,
  beginUninstallTicket,
  checkOwnershipProofCore,
  initSync,
  pushRegistrationRequestCore,
  signPushCore,
  verifyPushCore,
} from "./tessera_broker.js";
import { Companion } from "./api.js";
import { TesseraError, invalidArgument } from "./error.js";
import { Engine, checkEnvironment } from "./ready.js";
import * as c from "./conv.js";
import { optNow } from "./conv.js";

// The broker module's own instance; a trap poisons it like the plugin's (ready.js).
const engine = new Engine("tessera-companion broker");
const { rethrow, guarded } = engine;

/** Instantiates the broker module from the file beside this one, once; re-creates it after a trap. */
function ensureReady() {
  if (!engine.ready) {
    checkEnvironment();
    engine.load(initSync, new WebAssembly.Module(readFileSync(new URL("./tessera_broker_bg.wasm", import.meta.url))));
  }
  engine.ensure();
}

let storeCore;
/** Wasm stores whose verification's `secretFor` is running right now (it must not use them). */
const busyStores = new WeakSet();

function storeBusy() {
  return new TesseraError(
    "invalid_state",
    "invalid_state",
    "the MemoryReplayStore is busy: it was used again from inside its own verifyRequest's secretFor",
  );
}

/** The core's in-memory nonce store, bounded per installation (fails closed for that installation only). */
export class MemoryReplayStore {
  #core;
  /** The instance generation `#core` lives in: after a trap the store (and its nonces) is gone. */
  #gen;

  /** At most `capacity` live nonces per installation (the core's 1,000 when omitted): one that fills its share is refused, no other is. */
  constructor(capacity) {
    ensureReady();
    const n = c.optInt(capacity, "capacity");
    if (n !== undefined && n < 1) throw invalidArgument("capacity", "a positive integer");
    this.#core = engine.track(guarded(() => new ReplayStoreCore(n)));
    this.#gen = engine.generation;
  }

  /** Live entries. */
  get size() {
    const core = storeCore(this);
    if (core === undefined) throw invalidArgument("this", "a MemoryReplayStore (was the getter called unbound?)");
    if (busyStores.has(core)) throw storeBusy();
    return guarded(() => core.size());
  }

  static {
    // The wasm store of a real MemoryReplayStore, else undefined; one of a
    // trapped instance throws `invalid_state` (its nonces are gone with it).
    storeCore = (store) => {
      if (typeof store !== "object" || store === null || !(#core in store)) return undefined;
      engine.check(store.#gen);
      return store.#core;
    };
  }
}

/** There is no implicit replay store: a request verification names one. */
function noStore() {
  return new TesseraError(
    "invalid_input",
    "invalid_input",
    "invalid `options.replayStore`: a replay store is required (there is no default store); pass " +
      "`replayStore: store` with one `new MemoryReplayStore()` kept for the whole process, or your shared " +
      'store whose `checkAndInsert(key, expiresAt, now)` answers "fresh", "seen" or "full"',
  );
}

/** The broker instance was re-created while a verification awaited its host: that verification is void. */
function restartedMidway() {
  return new TesseraError(
    "internal",
    "internal",
    "tessera-companion broker was restarted after an internal error during this verification; it did not verify",
  );
}

/** Frees a pending step handle that will not be used (unless its instance died or a step consumed it). */
function drop(handle, generation) {
  if (generation === engine.generation && handle.__wbg_ptr !== 0) guarded(() => handle.free());
}

/**
 * Steps 1 and 2 of a verification: `begin()` (a wasm call returning a pending
 * handle; it throws the refusal of what needs no secret), then `secretFor`
 * asked once for `idOf(handle)` and awaited, then the handle's `check` (the
 * MAC, once) → what `check` returns. While `secretFor` runs synchronously,
 * `busy` (a MemoryReplayStore's wasm store, if any) refuses to be used.
 */
async function withSecret(begin, idOf, secretFor, busy) {
  let generation = engine.generation;
  let pending = engine.track(guarded(begin));
  let secret;
  try {
    const id = guarded(() => idOf(pending));
    let value;
    if (busy !== undefined) busyStores.add(busy);
    try {
      value = secretFor(id);
    } finally {
      if (busy !== undefined) busyStores.delete(busy);
    }
    value = await value;
    secret = value === undefined || value === null ? null : c.secretValue(value, "secretFor()");
    ensureReady();
  } catch (e) {
    // A trap the lookup caused in this instance (through its raw exports)
    // poisons it first: nothing is freed into a dead instance.
    if (!(e instanceof WebAssembly.RuntimeError)) drop(pending, generation);
    rethrow(e);
  }
  if (generation !== engine.generation) {
    // Re-created while the lookup ran: step 1 again on the new instance (no MAC was computed yet).
    generation = engine.generation;
    pending = engine.track(guarded(begin));
  }
  return guarded(() => pending.check(secret));
}

/** A host store's answer: "fresh" | "seen" | "full" (true = fresh, false = seen, for stores written for 0.1). */
function replayAnswer(v) {
  if (v === true || v === "fresh") return "fresh";
  if (v === false || v === "seen") return "seen";
  if (v === "full") return "full";
  throw invalidArgument("options.replayStore.checkAndInsert()", 'an answer of "fresh", "seen" or "full" (or true / false)');
}

/**
 * Broker side: verifies a signed request (its absolute URL as the broker's
 * public URL for it) → `{ installId, created, expires, nonce, idempotencyKey?, bearer? }`.
 */
export async function verifyRequest(request, options) {
  ensureReady();
  c.obj(request, "request");
  const o = c.obj(options, "options");
  const secretFor = c.fn(o.secretFor, "options.secretFor");
  const method = c.str(request.method, "request.method");
  const url = c.str(request.url, "request.url");
  const headers = c.headerList(request.headers, "request.headers");
  const body = c.bytes(request.body, "request.body");
  const now = optNow(o.now, "options.now");
  const windowSecs = c.optInt(o.windowSecs, "options.windowSecs");
  const store = o.replayStore;
  if (store === undefined || store === null) throw noStore();
  const memory = storeCore(store);
  const checkAndInsert = memory === undefined ? c.fn(store.checkAndInsert, "options.replayStore.checkAndInsert") : undefined;
  if (memory !== undefined && busyStores.has(memory)) throw storeBusy();

  const replay = engine.track(
    await withSecret(() => beginRequest(method, url, headers, body, now, windowSecs), (p) => p.keyid(), secretFor, memory),
  );
  const generation = engine.generation;
  if (memory !== undefined) {
    let core;
    try {
      core = storeCore(store); // again: the instance may have been re-created meanwhile
    } catch (e) {
      drop(replay, generation);
      throw e;
    }
    return guarded(() => replay.recordIn(core));
  }
  let answer;
  try {
    const [key, expiresAt, at] = guarded(() => [replay.replayKey(), replay.expiresAt(), replay.now()]);
    answer = replayAnswer(await checkAndInsert.call(store, key, expiresAt, at));
    ensureReady();
  } catch (e) {
    if (!(e instanceof WebAssembly.RuntimeError)) drop(replay, generation);
    rethrow(e);
  }
  if (generation !== engine.generation) throw restartedMidway();
  return guarded(() => replay.finish(answer));
}

/** Broker side: verifies a connect URL → `{ installId, state, returnUrl, scope?, ts }`. */
export async function verifyConnectUrl(url, options) {
  ensureReady();
  c.str(url, "url");
  const o = c.obj(options, "options");
  const secretFor = c.fn(o.secretFor, "options.secretFor");
  const now = optNow(o.now, "options.now");
  return withSecret(() => beginConnectUrl(url, now), (p) => p.installId(), secretFor);
}

/** Broker side: verifies an uninstall ticket for `installId` → its `ts`. */
export async function verifyUninstallTicket(installId, url, options) {
  ensureReady();
  c.str(installId, "installId");
  c.str(url, "url");
  const o = c.obj(options, "options");
  const secretFor = c.fn(o.secretFor, "options.secretFor");
  const now = optNow(o.now, "options.now");
  const maxAge = c.optInt(o.maxAgeSecs, "options.maxAgeSecs");
  return withSecret(() => beginUninstallTicket(installId, url, now, maxAge), (p) => p.installId(), secretFor);
}

/** Broker side: checks an ownership proof fetched from the site (throws `ownership_proof_invalid`, 403, on mismatch). */
export function verifyOwnershipProof(args) {
  ensureReady();
  c.obj(args, "args");
  const secret = c.secretValue(args.secret, "args.secret");
  const installId = c.str(args.installId, "args.installId");
  const challenge = c.str(args.challenge, "args.challenge");
  const proof = c.str(args.proof, "args.proof");
  const now = optNow(args.now, "args.now");
  guarded(() => checkOwnershipProofCore(secret, installId, challenge, proof, now));
}

/**
 * Low level (broker module): generic RFC 9421 HMAC-SHA256 signing of `{ method, url, headers, body }`
 * for the one member of a `Signature-Input` value (e.g. RFC 9421 Appendix B.2.5)
 * → `{ signatureBase, signature }` (`signature` is the `Signature` field value).
 */
export function hmacSignGeneric(request, signatureInput, key) {
  ensureReady();
  c.obj(request, "request");
  try {
    return hmacSignGenericCore(
      c.str(request.method, "request.method"),
      c.str(request.url, "request.url"),
      c.headerList(request.headers, "request.headers"),
      c.bytes(request.body, "request.body"),
      c.str(signatureInput, "signatureInput"),
      c.reqBytes(key, "key"),
    );
  } catch (e) {
    rethrow(e);
  }
}

// ---- pushed events (docs/PROTOCOL.md §14.4) ------------------------------------

/**
 * Broker side: the `Tessera-Push-Signature` value of a push of `body` (the
 * exact bytes POSTed; a string is UTF-8) to the installation `installId`
 * holding `secret` (base64url text or bytes), signed at `now` (unix seconds;
 * default now).
 */
export function signPush(secret, installId, body, now) {
  ensureReady();
  const s = c.secretValue(secret, "secret");
  const id = c.str(installId, "installId");
  const b = c.reqBytes(body, "body");
  const at = optNow(now, "now");
  return guarded(() => signPushCore(s, id, b, at));
}

/**
 * The companion's state, as `exportState()` gives it: the push methods run
 * in this module (the code they need is left out of the browser module) on
 * the state of the plugin module's companion. Throws as every method does
 * when `this` is no live Companion.
 */
const stateOf = (companion) => Companion.prototype.exportState.call(companion);

const pushMethods = {
  /**
   * Verifies a push the broker POSTed to the site → its events, `[{ id,
   * type, apiVersion, createdAt, data, dataJson }]` as `pullEvents` gives
   * them. `headers`: the request's (a record, `[name, value]` pairs or a
   * `Headers`); `body`: the raw body exactly as received (bytes, or a
   * string); `now`: the local clock in unix seconds (default now; the learned
   * clock offset is applied by the core). Nothing of the body is used before
   * the signature verified. A refusal is a TesseraError (`signature_missing`,
   * `signature_malformed`, `signature_expired`, `signature_invalid`: kind
   * `verification`, with `wireStatus` / `wireCode` to answer the broker;
   * `response_invalid`, `too_large`, `not_registered`): answer 2xx only when
   * this returned. The cursor does not move: keep events by id, the pull
   * brings the same ones again.
   */
  verifyPush(headers, body, now) {
    const state = stateOf(this);
    ensureReady();
    const list = c.headerList(headers, "headers");
    const bytes = c.reqBytes(body, "body");
    const at = optNow(now, "now");
    return guarded(() => verifyPushCore(state, list, bytes, at)).map(c.storaEvent);
  },

  /**
   * The request registering `url` (on the site's own origin) as this site's
   * push URL (`PUT /events/push`), or with `null` stopping the pushes
   * (`DELETE /events/push`) → `{ method, path, headers, body }`, to send with
   * `call()`. The URL is checked first (`invalid_url`, `too_large`).
   */
  pushRegistrationRequest(url) {
    const state = stateOf(this);
    ensureReady();
    if (url !== null && typeof url !== "string") throw invalidArgument("url", "a URL string, or null to stop the pushes");
    const u = url === null ? undefined : c.str(url, "url");
    return guarded(() => pushRegistrationRequestCore(state, u));
  },
};
for (const [name, value] of Object.entries(pushMethods)) {
  Object.defineProperty(Companion.prototype, name, { value, writable: true, configurable: true, enumerable: false });
}

// Broker side of tessera-companion, for partners whose broker runs on Node:
// request, connect-URL, uninstall-ticket and ownership-proof verification and
// the in-memory replay store. These run in their own wasm module
// (tessera_broker_bg.wasm, the whole core), instantiated on first use, so the
// module browser extensions load stays small.

import { readFileSync } from "node:fs";
import {
  ReplayStoreCore,
  initSync,
  replayedError,
  verifyConnectUrlCore,
  verifyOwnershipProofCore,
  verifyRequestRecording,
  verifyUninstallTicketCore,
} from "./tessera_broker.js";
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
/** Wasm stores inside `verify` right now (a secretFor callback must not re-enter them). */
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

let defaultStore;
/** The instance generation of `defaultStore`: after a trap it starts empty, like after a process restart. */
let defaultStoreGen;

/** `secretFor` as the core's synchronous lookup; an async answer is awaited by a second pass. */
async function withSecrets(secretFor, run) {
  const check = (v) => (v === undefined || v === null ? null : c.secretValue(v, "secretFor()"));
  let pending;
  const lookup = (keyid) => {
    const v = secretFor(keyid);
    if (v !== null && typeof v === "object" && typeof v.then === "function") {
      pending = { keyid, promise: v };
      return null;
    }
    return check(v);
  };
  // The lookup runs inside the wasm call: a trap it causes in this instance
  // discards the call's result (Engine.reentrant).
  const generation = engine.generation;
  try {
    return engine.reentrant(() => run(lookup));
  } catch (e) {
    if (pending === undefined || generation !== engine.generation) throw e;
  }
  const { keyid, promise } = pending;
  const secret = check(await promise);
  ensureReady();
  return engine.reentrant(() => run((k) => (k === keyid ? secret : null)));
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
  let store = o.replayStore;
  if (store === undefined || store === null) {
    if (defaultStore === undefined || defaultStoreGen !== engine.generation) {
      defaultStore = new MemoryReplayStore();
      defaultStoreGen = engine.generation;
    }
    store = defaultStore;
  }
  if (storeCore(store) !== undefined) {
    return withSecrets(secretFor, (lookup) => {
      const core = storeCore(store); // again at every pass: the instance may have been re-created meanwhile
      if (busyStores.has(core)) throw storeBusy();
      busyStores.add(core);
      try {
        return core.verify(method, url, headers, body, now, windowSecs, lookup);
      } finally {
        busyStores.delete(core);
      }
    });
  }
  const checkAndInsert = c.fn(store?.checkAndInsert, "options.replayStore.checkAndInsert");
  const verified = await withSecrets(secretFor, (lookup) =>
    verifyRequestRecording(method, url, headers, body, now, windowSecs, lookup),
  );
  const { replayKey, replayExpiresAt, ...result } = verified;
  if ((await checkAndInsert.call(store, replayKey, replayExpiresAt, now)) !== true) {
    ensureReady();
    throw guarded(() => replayedError());
  }
  return result;
}

/** Broker side: verifies a connect URL → `{ installId, state, returnUrl, scope?, ts }`. */
export async function verifyConnectUrl(url, options) {
  ensureReady();
  c.str(url, "url");
  const o = c.obj(options, "options");
  const secretFor = c.fn(o.secretFor, "options.secretFor");
  const now = optNow(o.now, "options.now");
  return withSecrets(secretFor, (lookup) => verifyConnectUrlCore(url, now, lookup));
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
  return withSecrets(secretFor, (lookup) => verifyUninstallTicketCore(installId, url, now, maxAge, lookup));
}

/** Broker side: checks an ownership proof fetched from the site (throws on mismatch). */
export function verifyOwnershipProof(args) {
  ensureReady();
  c.obj(args, "args");
  const secret = c.secretValue(args.secret, "args.secret");
  try {
    verifyOwnershipProofCore(
      secret,
      c.str(args.installId, "args.installId"),
      c.str(args.challenge, "args.challenge"),
      c.str(args.proof, "args.proof"),
    );
  } catch (e) {
    rethrow(e);
  }
}

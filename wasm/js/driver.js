// The async driver of tessera-companion: runs one operation on the core's
// step machine and performs the actions it asks for (send, sleep, persist,
// serve a proof, take and release the refresh lock), a transcription of
// docs/HOST-CONTRACT.md §2–4. No policy lives here: that is the core's.

import { TesseraError, invalidArgument } from "./error.js";
import { ensureReady, plugin } from "./ready.js";
import * as c from "./conv.js";
import { nowSecs } from "./conv.js";
import { RefreshLock } from "./locks.js";

const { rethrow } = plugin;

/** An HTTP status (0-65535) from a JS value. */
export function status(v, field) {
  const n = c.int(v, field);
  if (n < 0 || n > 65535) throw invalidArgument(field, "an HTTP status (0-65535)");
  return n;
}

const defaultSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fetch Response (or a plain `{ status, headers, body }`) as the core's parts. */
async function readResponse(res) {
  if (typeof res !== "object" || res === null) throw invalidArgument("fetch result", "a Response");
  if (typeof res.arrayBuffer === "function") {
    const body = c.binary(await res.arrayBuffer(), "response.arrayBuffer()");
    return [status(res.status, "response.status"), c.headerList(res.headers, "response.headers"), body];
  }
  return [
    status(res.status, "response.status"),
    c.headerList(res.headers, "response.headers"),
    c.bytes(res.body, "response.body"),
  ];
}

/** Companions with an operation in progress (a second one is the host's bug). */
const running = new WeakSet();

/**
 * Runs one operation on the core's step machine. `coreOf()` gives the
 * companion's live wasm object; it is looked up again at every step: a
 * callback may have freed it. `needsLock`: the operation may refresh the
 * tokens (an API call), so in proxy mode `options.lock` and `options.unlock`
 * are required before anything happens.
 */
export async function drive(companion, coreOf, start, options, needsLock = false) {
  ensureReady();
  let core = coreOf();
  const o = c.optObj(options, "options");
  const fetchFn = c.optFn(o.fetch, "options.fetch") ?? globalThis.fetch;
  if (typeof fetchFn !== "function") throw invalidArgument("options.fetch", "a fetch function (none is global here)");
  const sleep = c.optFn(o.sleep, "options.sleep") ?? defaultSleep;
  const onPersist = c.optFn(o.onPersist, "options.onPersist");
  const serveProof = c.optFn(o.serveProof, "options.serveProof");
  const clock = c.optFn(o.clock, "options.clock") ?? Date.now;
  const refreshLock = new RefreshLock(o, needsLock && plugin.guarded(() => core.proxyMode()));
  const signal = o.signal ?? undefined;
  if (signal !== undefined && (typeof signal !== "object" || typeof signal.throwIfAborted !== "function")) {
    throw invalidArgument("options.signal", "an AbortSignal");
  }
  if (running.has(companion)) {
    throw new TesseraError("invalid_state", "invalid_state", "another operation is running on this Companion");
  }

  let call;
  // A start that needs the time (a connect completion checks its callback's
  // age) reads the clock through `now()`, after its arguments were checked;
  // that one reading is also the start event's.
  let startNow;
  try {
    call = plugin.track(start(core, () => (startNow = nowSecs(clock))));
  } catch (e) {
    rethrow(e);
  }
  const generation = plugin.generation;
  // One entry per run of sends to one URL (a remote step and its retries):
  // `failure` is the rejection of its last send, if that send was rejected.
  const sends = [];
  running.add(companion);
  try {
    // The clock is read once per event, just before the event is fed.
    let action = core.stepStart(call, startNow ?? nowSecs(clock));
    for (;;) {
      switch (action.type) {
        case "send": {
          // Never before a persist: the core has already changed the state it asks to store.
          signal?.throwIfAborted();
          const { method, url, headers, body } = c.unpackRequest(action.request);
          if (sends.length === 0 || sends[sends.length - 1].url !== url) sends.push({ url, failure: undefined });
          const init = { method, headers, redirect: "manual", credentials: "omit" };
          if (body.length > 0) init.body = body;
          if (signal !== undefined) init.signal = signal;
          // One send is one attempt (retries are the machine's); a redirect is never followed.
          let parts;
          let failure;
          try {
            const res = await fetchFn(url, init);
            parts = res?.type === "opaqueredirect" ? "redirect" : await readResponse(res);
          } catch (e) {
            if (signal?.aborted || e instanceof TesseraError) throw e;
            failure = e;
            parts = "network";
          }
          sends[sends.length - 1].failure = failure;
          const now = nowSecs(clock);
          core = coreOf();
          if (typeof parts !== "string") {
            action = core.stepResponse(call, parts[0], parts[1], parts[2], now);
            break;
          }
          try {
            action = core.stepTransportError(call, parts, now);
          } catch (e) {
            // The retries are spent: the last rejection is the cause.
            withCause(e, failure);
            throw e;
          }
          break;
        }
        case "sleep":
          signal?.throwIfAborted();
          await sleep(action.ms);
          core = coreOf();
          action = core.stepSlept(call, nowSecs(clock));
          break;
        case "persist":
          // Exactly what to store: sealed when the companion has a seal key, else the JSON.
          if (onPersist) await onPersist(action.state);
          core = coreOf();
          action = core.stepPersisted(call, nowSecs(clock));
          break;
        case "serve_proof": {
          // The state holding the challenge was persisted just before; `false` (or no serveProof) defers.
          const served = serveProof ? (await serveProof(action.proof)) !== false : false;
          core = coreOf();
          const now = nowSecs(clock);
          action = served ? core.stepProofServed(call, now) : core.stepProofDeferred(call, now);
          break;
        }
        case "lock": {
          // Proxy mode, around a refresh: the state as stored now once the lock is held, or null.
          signal?.throwIfAborted();
          const stored = await refreshLock.take(action.name);
          core = coreOf();
          const now = nowSecs(clock);
          action = stored === null ? core.stepLockUnavailable(call, now) : core.stepLocked(call, stored, now);
          break;
        }
        case "unlock":
          await refreshLock.release(action.name);
          core = coreOf();
          action = core.stepUnlocked(call, nowSecs(clock));
          break;
        case "done":
          return withStepCauses(action.value, sends);
        default:
          throw new TesseraError("internal", "internal", "unknown step action");
      }
    }
  } catch (e) {
    rethrow(e);
  } finally {
    running.delete(companion);
    plugin.release(call, generation);
    // Abandoned between Lock and Unlock (an abort, an exception): never keep the lock.
    await refreshLock.abandon();
  }
}

/**
 * Sets `failure` (a rejected send) as the `cause` of a `server_unavailable`
 * error: not enumerable, so `toJSON()` and `JSON.stringify` leave it out.
 */
function withCause(e, failure) {
  if (failure !== undefined && e instanceof TesseraError && e.code === "server_unavailable") {
    Object.defineProperty(e, "cause", { value: failure, writable: true, configurable: true });
  }
}

/**
 * The remote steps of disconnect/uninstall/reset report their failure in the
 * result instead of throwing: each step that sent (not `skipped`) is one run
 * of sends to its URL, in order, so a `failed` step's `server_unavailable`
 * gets the rejection of its own last send as `cause`.
 */
function withStepCauses(value, sends) {
  const steps = ["remote", "disconnect", "deregister"].map((k) => value?.[k]).filter((s) => s?.result !== undefined);
  let i = 0;
  for (const step of steps) {
    if (step.result === "skipped") continue;
    const run = sends[i++];
    if (step.result === "failed") withCause(step.error, run?.failure);
  }
  return value;
}

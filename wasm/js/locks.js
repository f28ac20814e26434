// Authorization-proxy mode's refresh lock (docs/HOST-CONTRACT.md §3 "Lock"):
// the driver's side (`RefreshLock`: the host's lock/unlock callables, the
// fail-fast check, the release of a lock an abandoned operation still holds)
// and `webLocks`, a lock/unlock pair on the Web Locks API for extensions.

import { TesseraError, invalidArgument } from "./error.js";
import * as c from "./conv.js";

/** The `lock`/`unlock` options of one driven operation, and the lock it holds. */
export class RefreshLock {
  #lock;
  #unlock;
  /** The name of the lock held now (taken, not yet released), else undefined. */
  #held;

  /**
   * `options.lock` / `options.unlock` (both or neither). `required` (an API
   * call in proxy mode, which may refresh the tokens): refused at once
   * without them, before anything is sent.
   */
  constructor(options, required) {
    this.#lock = c.optFn(options.lock, "options.lock");
    this.#unlock = c.optFn(options.unlock, "options.unlock");
    if ((this.#lock === undefined) !== (this.#unlock === undefined) || (required && this.#lock === undefined)) {
      throw invalidArgument(
        "options.lock",
        "lock and unlock functions (authorization-proxy mode: a call may refresh the tokens under the installation's lock)",
      );
    }
  }

  /** Takes the lock `name` → the state as stored now, or null when it could not be had in time. */
  async take(name) {
    if (this.#lock === undefined) {
      throw invalidArgument("options.lock", "lock and unlock functions (this operation refreshes tokens)");
    }
    const stored = await this.#lock(name);
    if (stored === null) return null;
    this.#held = name;
    // Held from here on: a refused value still releases it (abandon()).
    return c.str(stored, "the value options.lock resolved to (the stored state, or null)");
  }

  /** Releases the lock `name` taken by the last `take`. */
  async release(name) {
    this.#held = undefined;
    await this.#unlock(name);
  }

  /**
   * Releases the lock an abandoned operation still holds. Its own failure is
   * swallowed: the operation's error (or result) is what the caller sees.
   */
  async abandon() {
    const name = this.#held;
    if (name === undefined) return;
    this.#held = undefined;
    try {
      await this.#unlock(name);
    } catch {
      // The lock API failed to release: nothing more to do here.
    }
  }
}

/** How long `webLocks` waits for a lock by default: the Rust reference host's 30 s. */
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * `{ lock, unlock }` for the drivers' options, on the Web Locks API
 * (`navigator.locks`, shared by an extension's service worker and its pages):
 * `lock(name)` waits up to `options.timeoutMs` (default 30 000) for the
 * exclusive lock `name`, holds it until `unlock(name)`, and resolves to
 * `await loadState()` (the state as stored now), or to null when the lock
 * could not be had in time. Node has no `navigator.locks`: Node hosts pass
 * their own lock and unlock.
 */
export function webLocks(loadState, options) {
  const load = c.fn(loadState, "loadState");
  const o = c.optObj(options, "options");
  const timeoutMs = c.optInt(o.timeoutMs, "options.timeoutMs") ?? DEFAULT_TIMEOUT_MS;
  if (timeoutMs < 0) throw invalidArgument("options.timeoutMs", "a non-negative integer");
  const locks = o.locks ?? globalThis.navigator?.locks;
  if (typeof locks?.request !== "function") {
    throw new TesseraError(
      "invalid_input",
      "invalid_input",
      "no Web Locks API here (navigator.locks): pass your own lock and unlock (Node hosts do)",
    );
  }
  /** name → { release, done }: the locks held through this pair. */
  const held = new Map();

  async function lock(name) {
    c.str(name, "name");
    let release;
    const releasing = new Promise((resolve) => (release = resolve));
    let granted;
    const grant = new Promise((resolve) => (granted = resolve));
    // The callback's promise keeps the lock until `release()`; an abort after the grant does nothing.
    const done = locks.request(name, { mode: "exclusive", signal: AbortSignal.timeout(timeoutMs) }, () => {
      granted(true);
      return releasing;
    });
    const outcome = await Promise.race([grant, done.then(() => false, (e) => (isTimeout(e) ? false : Promise.reject(e)))]);
    if (!outcome) return null;
    held.set(name, { release, done: done.catch(() => {}) });
    try {
      return c.str(await load(), "the value loadState resolved to (the stored state)");
    } catch (e) {
      await unlock(name);
      throw e;
    }
  }

  async function unlock(name) {
    const entry = held.get(name);
    if (entry === undefined) return;
    held.delete(name);
    entry.release();
    await entry.done; // settled once the lock is released
  }

  return { lock, unlock };
}

/** The lock request was aborted by its timeout signal. */
const isTimeout = (e) => e?.name === "TimeoutError" || e?.name === "AbortError";

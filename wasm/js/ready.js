// Whether the wasm module is instantiated. The entry points set it; the API
// checks it so that a call before init() is a TesseraError, not a TypeError.

import { TesseraError } from "./error.js";

let ready = false;

/** Marks the module instantiated. */
export function markReady() {
  ready = true;
}

/** True once the module is instantiated. */
export function isReady() {
  return ready;
}

/** Throws unless the module is instantiated. */
export function ensureReady() {
  if (!ready) {
    throw new TesseraError("invalid_state", "invalid_state", "tessera-companion is not initialised: await init() first");
  }
}

/** Web Crypto's getRandomValues must exist: it is the module's entropy source. */
export function checkEnvironment() {
  if (typeof globalThis.crypto?.getRandomValues !== "function") {
    throw new TesseraError("internal", "internal", "crypto.getRandomValues is not available in this environment");
  }
}

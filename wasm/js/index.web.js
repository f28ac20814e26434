// Browser / extension / worker entry of tessera-companion. Nothing runs at
// import time: call `await init()` (or initSync) once before anything else.
// No eval, no top-level await (MV3 service workers forbid both).

import instantiate, { initSync as instantiateSync } from "./tessera_wasm.js";
import { TesseraError } from "./error.js";
import { checkEnvironment, isReady, markReady } from "./ready.js";

export * from "./api.js";

let pending;

/**
 * Loads and instantiates the wasm module once. `input` is where the
 * .wasm comes from: a URL or string (fetched, e.g. chrome.runtime.getURL(...)),
 * a Request, a Response or a promise of one (e.g. fetch(...)), the bytes
 * (ArrayBuffer / typed array), or a compiled WebAssembly.Module. Without it,
 * the .wasm beside this file (`new URL(..., import.meta.url)`).
 */
export function init(input) {
  if (isReady()) return Promise.resolve();
  if (pending === undefined) {
    pending = (async () => {
      checkEnvironment();
      const source = input ?? new URL("./tessera_wasm_bg.wasm", import.meta.url);
      await instantiate({ module_or_path: source });
      markReady();
    })().catch((e) => {
      pending = undefined;
      throw loadError(e);
    });
  }
  return pending;
}

/** Instantiates synchronously from bytes or a compiled WebAssembly.Module. */
export function initSync(input) {
  if (isReady()) return;
  checkEnvironment();
  const ok = input instanceof WebAssembly.Module || input instanceof ArrayBuffer || ArrayBuffer.isView(input);
  if (!ok) {
    throw new TesseraError("invalid_input", "invalid_input", "invalid `input`: expected the wasm bytes or a WebAssembly.Module");
  }
  try {
    instantiateSync({ module: input });
  } catch (e) {
    throw loadError(e);
  }
  markReady();
}

function loadError(e) {
  if (e instanceof TesseraError) return e;
  return new TesseraError("invalid_input", "invalid_input", "the wasm module could not be loaded", { cause: e });
}

// Browser / extension / worker entry of tessera-companion. Nothing runs at
// import time: call `await init()` (or initSync) once before anything else.
// No eval, no top-level await (MV3 service workers forbid both).

import { initSync as instantiateSync } from "./tessera_wasm.js";
import { TesseraError } from "./error.js";
import { checkEnvironment, isReady, plugin } from "./ready.js";

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
      // Compiled here and instantiated synchronously, so that the compiled
      // module is kept: a fresh instance replaces one that trapped (ready.js).
      const module = await compile(source);
      if (!isReady()) plugin.load(instantiateSync, module);
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
    plugin.load(instantiateSync, input instanceof WebAssembly.Module ? input : new WebAssembly.Module(input));
  } catch (e) {
    throw loadError(e);
  }
}

/** A URL or string, a Request, a Response or a promise of one, bytes, or a WebAssembly.Module → a WebAssembly.Module. */
async function compile(source) {
  let s = source;
  if (typeof s === "string" || s instanceof URL || (typeof Request === "function" && s instanceof Request)) s = fetch(s);
  s = await s;
  if (s instanceof WebAssembly.Module) return s;
  if (s instanceof ArrayBuffer || ArrayBuffer.isView(s)) return WebAssembly.compile(s);
  if (typeof Response === "function" && s instanceof Response) {
    if (!s.ok) throw new Error(`failed to fetch the wasm module: ${s.status} ${s.statusText}`);
    const type = (s.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (typeof WebAssembly.compileStreaming === "function" && type === "application/wasm") {
      return WebAssembly.compileStreaming(s);
    }
    return WebAssembly.compile(await s.arrayBuffer());
  }
  throw new TypeError("expected a URL, a Request, a Response, the wasm bytes or a WebAssembly.Module");
}

function loadError(e) {
  if (e instanceof TesseraError) return e;
  return new TesseraError("invalid_input", "invalid_input", "the wasm module could not be loaded", { cause: e });
}

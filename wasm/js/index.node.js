// Node entry of tessera-companion: the plugin module is instantiated
// synchronously from the .wasm beside this file when it is imported; init()
// is a no-op. The broker-side functions load their own module on first use.

import { readFileSync } from "node:fs";
import { initSync as instantiate } from "./tessera_wasm.js";
import { checkEnvironment, plugin } from "./ready.js";

checkEnvironment();
// The compiled module is kept: a fresh instance replaces one that trapped (ready.js).
plugin.load(instantiate, new WebAssembly.Module(readFileSync(new URL("./tessera_wasm_bg.wasm", import.meta.url))));

export * from "./api.js";
export * from "./broker.js";

/** Already initialised under Node; kept so code can call it everywhere. */
export function init(_input) {
  return Promise.resolve();
}

/** Already initialised under Node; kept so code can call it everywhere. */
export function initSync(_input) {}

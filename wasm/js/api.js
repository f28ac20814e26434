// placeholder while the core lands
import { version as v } from "./tessera_wasm.js";
import { ensureReady } from "./ready.js";
export { TesseraError } from "./error.js";
export function version() { ensureReady(); return v(); }

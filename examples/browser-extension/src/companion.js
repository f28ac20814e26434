// The tessera-companion entry this build loads, in one place. This is the
// default build's (a broker): the package's browser entry. build.mjs
// rewrites this file for an authorization-proxy build (--proxy-url) to the
// entry `proxy/`, whose own module has proxy mode; the default build never
// ships that larger module.
export * from "./vendor/tessera-companion/index.web.js";
/** The entry's WebAssembly module, inside the extension. */
export const WASM_PATH = "vendor/tessera-companion/tessera_wasm_bg.wasm";

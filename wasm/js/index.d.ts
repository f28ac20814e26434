// Types of tessera-companion under Node: the plugin side (every runtime) and
// the broker side (Node only). Hand-maintained.

export * from "./index.web.js";
export * from "./broker.js";

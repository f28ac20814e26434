
// ---- Test hooks: test builds only (scripts/build-wasm.sh --test-hooks) ----
/** How many MACs verification has computed in the broker instance (requests, connect URLs, tickets). */
export function macChecks(): number;

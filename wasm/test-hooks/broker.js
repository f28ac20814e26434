
// ---- Test hooks: test builds only ------------------------------------------
// scripts/build-wasm.sh --test-hooks appends this file to broker.js in the
// test package (wasm/pkg-test, never published) and builds the broker module
// with the `test-hooks` feature (tessera-core's too), which adds macChecks.
import { macChecks as macChecksCore } from "./tessera_broker.js";

/** How many MACs verification has computed in the broker instance (requests, connect URLs, tickets). */
export function macChecks() {
  ensureReady();
  return guarded(() => macChecksCore());
}

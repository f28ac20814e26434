
// ---- Test hooks: test builds only (scripts/build-wasm.sh --test-hooks) ----
export interface Companion {
  /** The core's SeededEntropy(seed) for all randomness from now on; null to undo. */
  useSeededEntropy(seed: Uint8Array | null): void;
}
export interface ConnectOptions {
  /** Fixed `state` (16-128 of `[A-Za-z0-9._~-]`). */
  state?: string;
}


// ---- Test hooks: test builds only ------------------------------------------
// scripts/build-wasm.sh --test-hooks appends this file to api.js in the test
// package (wasm/pkg-test, never published) and builds the wasm with the
// `test-hooks` feature, which adds CompanionCore.useSeededEntropy and
// connectUrlWithState. The published package has neither, nor this code.
{
  const connectUrl = Companion.prototype.connectUrl;
  const methods = {
    /**
     * Draw randomness from the core's SeededEntropy(seed) (32 bytes), one
     * stream across calls; null returns to the platform CSPRNG.
     */
    useSeededEntropy(seed) {
      const core = coreOf(this);
      const s = seed === null || seed === undefined ? undefined : c.reqBytes(seed, "seed");
      try {
        core.useSeededEntropy(s);
      } catch (e) {
        rethrow(e);
      }
    },
    /** connectUrl, plus `options.state`: a fixed state (vectors). */
    connectUrl(options) {
      const core = coreOf(this);
      c.obj(options, "options");
      const state = c.optStr(options.state, "options.state");
      if (state === undefined) return connectUrl.call(this, options);
      try {
        return core.connectUrlWithState(
          c.str(options.returnUrl, "options.returnUrl"),
          c.optStr(options.scope, "options.scope"),
          optNow(options.now, "options.now"),
          state,
        );
      } catch (e) {
        rethrow(e);
      }
    },
  };
  for (const [name, value] of Object.entries(methods)) {
    Object.defineProperty(Companion.prototype, name, { value, writable: true, configurable: true, enumerable: false });
  }
}

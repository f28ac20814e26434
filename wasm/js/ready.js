// The wasm instances behind the package, and what happens after a trap.
//
// A trap (a Rust panic is a bare `unreachable` in the shipped module; an
// out-of-bounds access; an allocation that does not fit) leaves the
// instance's memory, allocator, borrow flags and shadow stack in whatever
// state the aborted call left them: using that instance again is undefined
// behaviour. So the first WebAssembly.RuntimeError out of a call poisons the
// instance: the caller gets TesseraError `internal`, every wasm object of the
// dead instance is detached (never freed into, never called, not even by the
// glue's finalizers), and the next operation runs on a fresh instance of the
// same compiled module. JavaScript objects that held a dead wasm object
// (Companion, MemoryReplayStore) fail with `invalid_state` from then on;
// restore a companion from its persisted state.
//
// wasm-bindgen's glue keeps one instance for the life of the page: its
// `initSync` returns early once called, and its import functions read the
// instance's exports from a module variable. The engine therefore hands the
// glue a stable, mutable view of the exports (and captures the import object
// the glue built) when the glue instantiates, and swaps the view's contents
// to a new instance on restart. The glue's cached memory views are refreshed
// because the dead memory's buffer is detached (`grow(0)`).

import { TesseraError } from "./error.js";

const RealInstance = WebAssembly.Instance;

function restartedError() {
  return new TesseraError(
    "invalid_state",
    "invalid_state",
    "the module was restarted after an internal error; restore the companion from its persisted state",
  );
}

/** One wasm module's instance: its generation, the live objects in it, and its re-creation after a trap. */
export class Engine {
  /** Bumped at every trap: objects of an older generation are dead. */
  generation = 0;
  #label;
  #ready = false;
  #dead = false;
  #module;
  #imports;
  #exports;
  #view = {};
  /** WeakRefs to the glue objects (CompanionCore, CallCore, ReplayStoreCore) of this generation. */
  #live = new Set();
  #sweepAt = 64;
  /** Wasm calls with a JavaScript callback on the stack (the instance cannot be replaced under them). */
  #depth = 0;

  constructor(label) {
    this.#label = label;
  }

  /** True once instantiated. */
  get ready() {
    return this.#ready;
  }

  /**
   * Instantiates `module` (a WebAssembly.Module) through the glue's
   * `initSync`, keeping what a restart needs. Without a writable
   * WebAssembly.Instance (a frozen realm) the instance is not restartable: a
   * trap then makes every later call fail with `internal`.
   */
  load(glueInitSync, module) {
    const engine = this;
    let captured = false;
    function Capture(m, imports) {
      const instance = new RealInstance(m, imports);
      engine.#imports = imports;
      engine.#adopt(instance);
      captured = true;
      return { exports: engine.#view };
    }
    let patched = false;
    try {
      WebAssembly.Instance = Capture;
      patched = WebAssembly.Instance === Capture;
    } catch {
      // not writable: instantiate without restart support
    }
    try {
      glueInitSync({ module });
    } finally {
      if (patched) WebAssembly.Instance = RealInstance;
    }
    if (!captured) this.#imports = undefined;
    this.#module = module;
    this.#ready = true;
  }

  #adopt(instance) {
    this.#exports = instance.exports;
    for (const k of Object.keys(this.#view)) delete this.#view[k];
    Object.assign(this.#view, instance.exports);
  }

  /** Throws unless instantiated; re-creates the instance after a trap. */
  ensure() {
    if (!this.#ready) {
      throw new TesseraError("invalid_state", "invalid_state", `${this.#label} is not initialised: await init() first`);
    }
    if (this.#dead && this.#depth === 0) this.#restart();
  }

  #restart() {
    if (this.#imports === undefined) {
      throw new TesseraError("internal", "internal", `${this.#label} hit an internal error earlier and cannot restart here`);
    }
    const old = this.#exports;
    let instance;
    try {
      instance = new RealInstance(this.#module, this.#imports);
    } catch (e) {
      throw new TesseraError("internal", "internal", `${this.#label} could not be restarted after an internal error`, { cause: e });
    }
    // Detach the dead memory's buffer: the glue's cached views see length 0 and re-read the new memory.
    try {
      old.memory.grow(0);
    } catch {
      // nothing cached can survive a failed grow either way
    }
    this.#adopt(instance);
    this.#view.__wbindgen_start?.();
    this.#dead = false;
  }

  /** Registers a glue object of the current generation (so that a trap can detach it). */
  track(obj) {
    this.#live.add(new WeakRef(obj));
    if (this.#live.size >= this.#sweepAt) {
      for (const r of this.#live) if (r.deref() === undefined) this.#live.delete(r);
      this.#sweepAt = Math.max(64, 2 * this.#live.size);
    }
    return obj;
  }

  /** Frees a tracked glue object unless its instance died (then it was detached already). */
  release(obj, generation) {
    if (generation !== this.generation) return;
    this.guarded(() => obj.free());
  }

  /** Throws the typed error when `generation` is not the live one. */
  check(generation) {
    if (generation !== this.generation) throw restartedError();
  }

  /** Marks the instance dead after a trap and detaches every object of it. */
  #poison() {
    if (this.#dead) return;
    this.#dead = true;
    this.generation++;
    for (const r of this.#live) {
      const obj = r.deref();
      // Clears the pointer and unregisters the glue's finalizer: nothing frees into the next instance.
      if (obj !== undefined && obj.__wbg_ptr !== 0) obj.__destroy_into_raw();
    }
    this.#live.clear();
    this.#sweepAt = 64;
  }

  /** A trap (a bug) surfaces as TesseraError `internal` and poisons the instance; anything else propagates. */
  rethrow = (e) => {
    if (e instanceof WebAssembly.RuntimeError) {
      this.#poison();
      throw new TesseraError("internal", "internal", `${this.#label} hit an internal error`, { cause: e });
    }
    throw e;
  };

  /** Runs a call into wasm, mapping a trap to `internal`. */
  guarded = (f) => {
    try {
      return f();
    } catch (e) {
      this.rethrow(e);
    }
  };

  /**
   * Runs a wasm call that calls back into JavaScript (a secret lookup). A trap
   * of this instance during the callback cannot replace it while this call is
   * still on its stack; the call's result is then discarded as `internal`.
   */
  reentrant(f) {
    const generation = this.generation;
    this.#depth++;
    let out;
    try {
      out = f();
    } catch (e) {
      this.rethrow(e);
    } finally {
      this.#depth--;
    }
    if (generation !== this.generation) {
      throw new TesseraError("internal", "internal", `${this.#label} hit an internal error`);
    }
    return out;
  }
}

/** The plugin module (tessera_wasm), instantiated by the entry points. */
export const plugin = new Engine("tessera-companion");

/** Throws unless the plugin module is instantiated (restarting it after a trap). */
export function ensureReady() {
  plugin.ensure();
}

/** True once the plugin module is instantiated. */
export function isReady() {
  return plugin.ready;
}

/** Web Crypto's getRandomValues must exist: it is the module's entropy source. */
export function checkEnvironment() {
  if (typeof globalThis.crypto?.getRandomValues !== "function") {
    throw new TesseraError("internal", "internal", "crypto.getRandomValues is not available in this environment");
  }
}

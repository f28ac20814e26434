// After a WebAssembly trap (a Rust panic is a bare `unreachable` in the
// shipped module) the instance's memory and allocator may be inconsistent:
// the package must never use it again. It throws TesseraError `internal`,
// re-creates the instance, and every object that pointed into the dead one
// fails with a typed `invalid_state` instead of touching the new one.
//
// The trap is real and deterministic, and needs no test hook in the package:
// the core panics when the platform CSPRNG fails (it must not produce
// predictable secrets), so a crypto.getRandomValues that throws makes the
// next operation that draws randomness (an unpinned nonce) trap. The broker
// module draws no randomness: there a secretFor callback makes its own
// instance trap from inside the verification (an out-of-bounds access through
// the raw exports), which leaves that call's instance mid-flight.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  Companion,
  MemoryReplayStore,
  TesseraError,
  classify,
  contentDigest,
  verifyRequest,
} from "tessera-companion";
import { CODE, NOW, completeWith, response, scriptedFetch, stateOf } from "./helpers.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const BROKER = "https://broker.example";
const REG = { siteUrl: "https://shop.example", adminEmail: "owner@shop.example", platform: "chrome-extension", pluginVersion: "1.0.0" };
const PINNED = { now: NOW, nonce: "bm9uY2Utbm9uY2Utbm9uY2U", idempotencyKey: "6f1c2a3b-0000-4000-8000-000000000001" };
const REQ = { method: "POST", path: "/api/units", headers: { "content-type": "application/json" }, body: '{"q":1}' };

function registered() {
  const c = Companion.create({ brokerUrl: BROKER });
  c.registrationRequest(REG);
  c.handleRegistrationResponse({ status: 201, body: "{}" });
  return c;
}

async function connected() {
  const c = registered();
  const ret = "chrome-extension://abcdefghijklmnop/options.html";
  const state = stateOf(c.connectUrl({ returnUrl: ret, now: NOW }));
  await completeWith(c, `${ret}?state=${state}&code=${CODE}`, "btk_test", { now: NOW + 5 });
  return c;
}

/** Runs `f` with a platform CSPRNG that fails: the core panics → the module traps. */
function withFailingRandom(f) {
  const crypto = globalThis.crypto;
  const own = Object.getOwnPropertyDescriptor(crypto, "getRandomValues");
  Object.defineProperty(crypto, "getRandomValues", {
    value() {
      throw new Error("entropy source down");
    },
    configurable: true,
    writable: true,
  });
  try {
    return f();
  } finally {
    if (own) Object.defineProperty(crypto, "getRandomValues", own);
    else delete crypto.getRandomValues;
  }
}

const RESTARTED = /restarted after an internal error/;

function assertRestarted(f, what) {
  assert.throws(f, (e) => {
    assert.ok(e instanceof TesseraError, `${what}: expected a TesseraError, got ${e}`);
    assert.equal(e.code, "invalid_state", what);
    assert.match(e.message, RESTARTED, what);
    return true;
  });
}

test("plugin module: a trap is `internal`, the instance is re-created, old companions fail typed, restored ones sign identically", async () => {
  const c = registered();
  const other = registered();
  const saved = c.exportState();
  const before = c.signRequest(REQ, PINNED);

  // The trap: an unpinned nonce needs the CSPRNG, which fails.
  const trap = withFailingRandom(() => {
    try {
      c.signRequest(REQ, { now: NOW });
    } catch (e) {
      return e;
    }
  });
  assert.ok(trap instanceof TesseraError, `expected a TesseraError, got ${trap}`);
  assert.equal(trap.code, "internal");
  assert.equal(trap.kind, "internal");
  assert.ok(trap.cause instanceof WebAssembly.RuntimeError, "the trap is the cause");

  // Every object of the dead instance refuses, typed, without touching the new one.
  for (const [what, f] of [
    ["trapped: signRequest", () => c.signRequest(REQ, PINNED)],
    ["trapped: status", () => c.status],
    ["trapped: exportState", () => c.exportState()],
    ["trapped: toJSON", () => c.toJSON()],
    ["other: signRequest", () => other.signRequest(REQ, PINNED)],
    ["other: installId", () => other.installId],
    ["other: sealState", () => other.sealState("0123456789abcdef0123")],
  ]) {
    assertRestarted(f, what);
  }
  await assert.rejects(other.call(REQ, { fetch: () => assert.fail("must not send") }), (e) => {
    assert.ok(e instanceof TesseraError && e.code === "invalid_state" && RESTARTED.test(e.message), String(e));
    return true;
  });
  c.free(); // harmless
  c.free();

  // A companion restored from its persisted state works on the fresh instance and signs identically.
  const restored = Companion.importState(saved);
  assert.equal(restored.status, "registered");
  assert.deepEqual(restored.signRequest(REQ, PINNED), before);
  assert.equal(restored.exportState(), saved);
  // Randomness works again; new companions and the pure helpers too.
  assert.equal(restored.signRequest(REQ, { now: NOW }).method, "POST");
  assert.equal(registered().status, "registered");
  assert.match(contentDigest("x"), /^sha-256=:/);
  assert.equal(classify({ status: 200 }).kind, "ok");
  // Many allocations on the fresh instance: its heap is sound.
  for (let i = 0; i < 2000; i++) assert.deepEqual(Companion.importState(saved).signRequest(REQ, PINNED), before);
});

test("plugin module: a trap while another companion's call awaits its fetch fails that call typed", async () => {
  const waiting = await connected();
  const saved = waiting.exportState();
  let release;
  const gate = new Promise((ok) => (release = ok));
  const { fetch } = scriptedFetch([response(200, "{}")]);
  const pending = waiting.call(REQ, {
    fetch: async (...args) => {
      await gate;
      return fetch(...args);
    },
  });
  await new Promise((ok) => setImmediate(ok));
  const trapper = registered();
  assert.throws(() => withFailingRandom(() => trapper.signRequest(REQ, { now: NOW })), { code: "internal" });
  release();
  await assert.rejects(pending, (e) => e instanceof TesseraError && e.code === "invalid_state" && RESTARTED.test(e.message));
  // A trap inside an operation (the machine draws the nonce): the operation rejects `internal`.
  const trapped = Companion.importState(saved);
  const p = withFailingRandom(() => trapped.call(REQ, { fetch: scriptedFetch([response(200, "{}")]).fetch }));
  await assert.rejects(p, (e) => e instanceof TesseraError && e.code === "internal");
  assert.equal(Companion.importState(saved).status, "connected");
});

test("broker module: a trap is `internal`, the instance is re-created, an old MemoryReplayStore fails typed", async () => {
  const c = registered();
  const secret = JSON.parse(c.exportState()).installation.secret;
  const store = new MemoryReplayStore();
  const signed = c.signRequest(REQ, PINNED);
  const request = { method: signed.method, url: signed.url, headers: signed.headers, body: signed.body };
  await verifyRequest(request, { secretFor: () => secret, now: NOW, replayStore: store });
  assert.equal(store.size, 1);

  // The raw exports of the package's own broker instance (the same module record).
  const glue = await import(new URL("./node_modules/tessera-companion/tessera_broker.js", import.meta.url));
  const raw = glue.initSync();
  const err = await verifyRequest(c.signRequest(REQ, { ...PINNED, nonce: "b3RoZXItbm9uY2Utb3RoZXI" }), {
    now: NOW,
    replayStore: store,
    secretFor: () => raw.replaystorecore_size(0x7ffffff0), // out of bounds: a trap in the broker instance
  }).catch((e) => e);
  assert.ok(err instanceof TesseraError, `expected a TesseraError, got ${err}`);
  assert.equal(err.code, "internal");
  assert.ok(err.cause instanceof WebAssembly.RuntimeError);

  assertRestarted(() => store.size, "old store: size");
  await assert.rejects(verifyRequest(request, { secretFor: () => secret, now: NOW, replayStore: store }), (e) => {
    assert.ok(e instanceof TesseraError && e.code === "invalid_state" && RESTARTED.test(e.message), String(e));
    return true;
  });
  // A new store works on the fresh instance.
  const fresh = new MemoryReplayStore();
  assert.equal((await verifyRequest(request, { secretFor: () => secret, now: NOW, replayStore: fresh })).installId, c.installId);
  assert.equal(fresh.size, 1);
  await assert.rejects(verifyRequest(request, { secretFor: () => secret, now: NOW, replayStore: fresh }), { code: "replayed" });
  const third = c.signRequest(REQ, { ...PINNED, nonce: "dGhpcmQtbm9uY2UtdGhpcmQ" });
  assert.equal((await verifyRequest(third, { secretFor: () => secret, now: NOW, replayStore: new MemoryReplayStore() })).installId, c.installId);
});

test("web entry and garbage collection: the old instance's objects never reach the new one", () => {
  const code = `
    import * as m from "tessera-companion/web";
    import { readFileSync } from "node:fs";
    await m.init(new Uint8Array(readFileSync(new URL("./node_modules/tessera-companion/tessera_wasm_bg.wasm", "file://${HERE}/"))));
    const REQ = ${JSON.stringify(REQ)}, PINNED = ${JSON.stringify(PINNED)};
    const make = () => { const c = m.Companion.create({ brokerUrl: "${BROKER}" }); c.registrationRequest(${JSON.stringify(REG)}); c.handleRegistrationResponse({ status: 201 }); return c; };
    let olds = Array.from({ length: 200 }, make);
    const saved = olds[0].exportState(), before = olds[0].signRequest(REQ, PINNED);
    const rv = globalThis.crypto.getRandomValues;
    globalThis.crypto.getRandomValues = () => { throw new Error("down"); };
    let code; try { olds[1].signRequest(REQ, { now: ${NOW} }); } catch (e) { code = e.code; }
    globalThis.crypto.getRandomValues = rv;
    let stale; try { olds[2].status; } catch (e) { stale = e.code; }
    olds = null;
    for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((ok) => setTimeout(ok, 10)); }
    let same = 0;
    const live = Array.from({ length: 300 }, () => m.Companion.importState(saved));
    for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((ok) => setTimeout(ok, 10)); }
    for (const c of live) if (JSON.stringify(c.signRequest(REQ, PINNED)) === JSON.stringify(before)) same++;
    console.log(JSON.stringify({ code, stale, same }));
  `;
  const out = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", code], { cwd: HERE, encoding: "utf8" });
  assert.deepEqual(JSON.parse(out.trim().split("\n").at(-1)), { code: "internal", stale: "invalid_state", same: 300 });
});

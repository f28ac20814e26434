// The published package carries no test hooks (security issue 14): no
// `useSeededEntropy`, no caller-chosen connect `state`, no `macChecks` (the
// broker's count of verification MACs), in the JS, the types,
// the README or the wasm exports. scripts/test.d/10-wasm.sh unpacks the
// published tarball (wasm/dist, what `npm pack` of the default build gives)
// into node_modules/.shipped/tessera-companion and the test build
// (wasm/dist-test, `scripts/build-wasm.sh --test-hooks`) where the other
// suites import `tessera-companion`; the test build must have the hooks, so
// that this test cannot pass by looking at the wrong thing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";

const SHIPPED = new URL("./node_modules/.shipped/tessera-companion/", import.meta.url);
const TESTING = new URL("./node_modules/tessera-companion/", import.meta.url);
const HOOKS = /useSeededEntropy|connectUrlWithState|SeededEntropy|macChecks|mac_checks|test-hooks|test hooks/i;
const REG = { siteUrl: "https://shop.example", adminEmail: "owner@shop.example", platform: "chrome-extension", pluginVersion: "1.0.0" };
const RETURN = "chrome-extension://abcdefghijklmnop/options.html";
const FIXED = "fixed-state-0123456789";
const NOW = 1_700_000_000;

const files = (dir) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());

function registered(Companion) {
  const c = Companion.create({ brokerUrl: "https://broker.example" });
  c.registrationRequest(REG);
  assert.deepEqual(c.handleRegistrationResponse({ status: 201, body: "{}" }), { outcome: "registered" });
  return c;
}

const stateOf = (url) => new URL(url).searchParams.get("state");

test("no file of the published package names a test hook (JS, .d.ts, README, wasm)", () => {
  const list = files(SHIPPED);
  assert.ok(list.some((e) => e.name === "tessera_wasm_bg.wasm") && list.some((e) => e.name === "index.web.d.ts"));
  const pkg = JSON.parse(readFileSync(new URL("package.json", SHIPPED), "utf8"));
  assert.equal(pkg.name, "tessera-companion");
  for (const e of list) {
    const body = readFileSync(`${e.parentPath ?? e.path}/${e.name}`).toString("latin1");
    assert.doesNotMatch(body, HOOKS, `${e.name} names a test hook`);
  }
});

test("the published .d.ts declares no hook: no useSeededEntropy, no ConnectOptions.state", () => {
  for (const f of ["index.d.ts", "index.web.d.ts", "broker.d.ts"]) {
    const dts = readFileSync(new URL(f, SHIPPED), "utf8");
    assert.doesNotMatch(dts, /useSeededEntropy/, f);
  }
  const web = readFileSync(new URL("index.web.d.ts", SHIPPED), "utf8");
  const connectOptions = web.match(/export interface ConnectOptions \{[^}]*\}/);
  assert.ok(connectOptions, "ConnectOptions is declared");
  assert.doesNotMatch(connectOptions[0], /\bstate\b/);
});

test("the published wasm modules export no hook", () => {
  for (const f of ["tessera_wasm_bg.wasm", "tessera_broker_bg.wasm"]) {
    const names = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(new URL(f, SHIPPED)))).map((e) => e.name);
    assert.ok(names.includes("companioncore_connectUrl"), `${f}: exports read`);
    assert.deepEqual(names.filter((n) => /seed|withstate|macchecks/i.test(n)), [], f);
  }
});

test("pushed events are the broker module's only: the browser modules export none of it (their size gates)", () => {
  const exportsOf = (f) => WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(new URL(f, SHIPPED)))).map((e) => e.name);
  const PUSH = ["verifyPushCore", "pushRegistrationRequestCore", "signPushCore"];
  for (const f of ["tessera_wasm_bg.wasm", "proxy/tessera_wasm_bg.wasm"]) {
    const names = exportsOf(f);
    assert.ok(names.includes("companioncore_startPullEvents"), `${f}: exports read`);
    assert.deepEqual(names.filter((n) => /push/i.test(n)), [], f);
  }
  const names = exportsOf("tessera_broker_bg.wasm");
  assert.deepEqual(PUSH.filter((n) => !names.includes(n)), [], "the broker module has them");
});

test("the published Companion has no hook, and connectUrl draws its state whatever the options say", async () => {
  for (const entry of ["index.node.js", "index.web.js", "broker.js"]) {
    const m = await import(new URL(entry, SHIPPED));
    assert.deepEqual(Object.keys(m).filter((k) => HOOKS.test(k)), [], entry);
  }
  const { Companion } = await import(new URL("index.node.js", SHIPPED));
  assert.equal("useSeededEntropy" in Companion.prototype, false);
  assert.deepEqual(Object.getOwnPropertyNames(Companion.prototype).filter((k) => HOOKS.test(k)), []);
  const c = registered(Companion);
  const a = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW, state: FIXED }));
  const b = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW, state: FIXED }));
  assert.notEqual(a, FIXED);
  assert.notEqual(a, b);
});

test("the test build (what the other suites use) has the hooks", async () => {
  const dts = readFileSync(new URL("index.web.d.ts", TESTING), "utf8");
  assert.match(dts, /useSeededEntropy/);
  const { Companion } = await import(new URL("index.node.js", TESTING));
  assert.equal(typeof Companion.prototype.useSeededEntropy, "function");
  const c = registered(Companion);
  assert.equal(stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW, state: FIXED })), FIXED);
  const seeded = () => {
    const d = Companion.create({ brokerUrl: "https://broker.example" });
    d.useSeededEntropy(new Uint8Array(32).fill(7));
    return d.registrationRequest(REG).body;
  };
  assert.deepEqual(seeded(), seeded());
  const broker = await import(new URL("broker.js", TESTING));
  assert.equal(typeof broker.macChecks, "function");
  assert.equal(typeof broker.macChecks(), "number");
  assert.match(readFileSync(new URL("broker.d.ts", TESTING), "utf8"), /macChecks/);
  const names = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(new URL("tessera_broker_bg.wasm", TESTING)))).map((e) => e.name);
  assert.ok(names.includes("macChecks"), "the test build's broker module exports macChecks");
});

test("the published Companion persists explicitly (issue 14): importState/exportState, a redacted toJSON, sealed onPersist", async () => {
  const { Companion } = await import(new URL("index.node.js", SHIPPED));
  assert.equal("fromJSON" in Companion, false);
  for (const m of ["importState", "openState", "create"]) assert.equal(typeof Companion[m], "function", m);
  for (const m of ["exportState", "sealState", "toJSON"]) assert.equal(typeof Companion.prototype[m], "function", m);
  const c = registered(Companion);
  const secret = JSON.parse(c.exportState()).installation.secret;
  assert.ok(!JSON.stringify(c).includes(secret));
  assert.deepEqual(Object.keys(c.toJSON()), ["status", "installId", "siteUrl", "account", "reconnectReason"]);
  const key = "a sealing key of 16+ bytes";
  const fresh = Companion.create({ brokerUrl: "https://broker.example", sealKey: key });
  const persisted = [];
  await fresh.register(REG, { onPersist: (v) => void persisted.push(v), fetch: async () => ({ status: 201 }) });
  assert.ok(persisted.length >= 2);
  assert.equal(Companion.openState(persisted.at(-1), key).exportState(), fresh.exportState());
  for (const v of persisted) assert.match(v, /^tsv1\./);
  const web = readFileSync(new URL("index.web.d.ts", SHIPPED), "utf8");
  assert.match(web, /exportState\(\): string;/);
  assert.match(web, /toJSON\(\): CompanionSummary;/);
  assert.doesNotMatch(web, /fromJSON/);
});

// The browser/extension entry (explicit init from a URL, a Response, bytes or
// a compiled module), the exports map, and the shipped files. Each scenario
// runs in a fresh Node process so that no earlier import has initialised it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const PKG = new URL("./node_modules/tessera-companion/", import.meta.url);

/** Runs an ES module snippet in a fresh node; returns its last stdout line parsed as JSON. */
function run(code, args = []) {
  const out = execFileSync(process.execPath, [...args, "--input-type=module", "-e", code], { cwd: HERE, encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").at(-1));
}

const SIGN = `
  const c = m.Companion.create({ brokerUrl: "https://broker.example" });
  c.registrationRequest({ siteUrl: "https://s.example", adminEmail: "a@s.example", platform: "chrome-extension", pluginVersion: "1" });
  c.handleRegistrationResponse({ status: 201 });
  const signed = c.signRequest({ method: "GET", path: "/api/x" });
`;

test("web entry: calls before init() are TesseraErrors; init(bytes) then works", () => {
  const r = run(`
    import * as m from "tessera-companion/web";
    import { readFileSync } from "node:fs";
    let before;
    try { m.Companion.create({ brokerUrl: "https://broker.example" }); } catch (e) { before = [e instanceof m.TesseraError, e.code]; }
    const bytes = readFileSync(new URL("./node_modules/tessera-companion/tessera_wasm_bg.wasm", "file://${HERE}/"));
    const p1 = m.init(new Uint8Array(bytes)); const p2 = m.init();
    await p1; await p2;
    ${SIGN}
    console.log(JSON.stringify({ before, same: p1 === p2, headers: signed.headers.length }));
  `);
  assert.deepEqual(r, { before: [true, "invalid_state"], same: true, headers: 3 });
});

test("web entry: init(Response), init(fetch promise) and init(URL string) from a loopback server", () => {
  for (const how of ["response", "promise", "url"]) {
    const r = run(`
      import * as m from "tessera-companion/web";
      import { createServer } from "node:http";
      import { readFileSync } from "node:fs";
      const bytes = readFileSync(new URL("./node_modules/tessera-companion/tessera_wasm_bg.wasm", "file://${HERE}/"));
      const server = createServer((req, res) => res.writeHead(200, { "content-type": "application/wasm" }).end(bytes));
      await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
      const url = "http://127.0.0.1:" + server.address().port + "/tessera_wasm_bg.wasm";
      try {
        if ("${how}" === "response") await m.init(await fetch(url));
        if ("${how}" === "promise") await m.init(fetch(url));
        if ("${how}" === "url") await m.init(url);
      } finally { server.close(); }
      ${SIGN}
      console.log(JSON.stringify({ ok: signed.method === "GET" }));
    `);
    assert.deepEqual(r, { ok: true }, how);
  }
});

test("web entry: initSync(WebAssembly.Module); a failed init() rejects with a TesseraError and can be retried", () => {
  const r = run(`
    import * as m from "tessera-companion/web";
    import { readFileSync } from "node:fs";
    const bytes = readFileSync(new URL("./node_modules/tessera-companion/tessera_wasm_bg.wasm", "file://${HERE}/"));
    let failed;
    try { await m.init(new Uint8Array([0, 1, 2, 3])); } catch (e) { failed = [e instanceof m.TesseraError, e.code]; }
    let badSync;
    try { m.initSync("nope"); } catch (e) { badSync = e.code; }
    m.initSync(new WebAssembly.Module(bytes));
    await m.init();
    ${SIGN}
    console.log(JSON.stringify({ failed, badSync, ok: signed.headers.length === 3 }));
  `);
  assert.deepEqual(r, { failed: [true, "invalid_input"], badSync: "invalid_input", ok: true });
});

// Exports only the test build has (shipped.test.mjs checks the published package has none).
const TEST_HOOKS = ["macChecks"];

test("exports map: node → index.node.js (ready at import), browser/worker/default → index.web.js", () => {
  const resolve = (args) => run(`console.log(JSON.stringify(import.meta.resolve("tessera-companion")))`, args);
  assert.match(resolve([]), /\/index\.node\.js$/);
  assert.match(resolve(["--conditions=browser"]), /\/index\.web\.js$/);
  assert.match(resolve(["--conditions=worker"]), /\/index\.web\.js$/);
  assert.match(run(`console.log(JSON.stringify(import.meta.resolve("tessera-companion/web")))`), /\/index\.web\.js$/);
  const r = run(`
    import * as m from "tessera-companion";
    await m.init(); m.initSync();
    ${SIGN}
    console.log(JSON.stringify(Object.keys(m).sort()));
  `).filter((k) => !TEST_HOOKS.includes(k));
  assert.deepEqual(r, [
    "Companion", "MemoryReplayStore", "TesseraError", "classify", "contentDigest", "hmacSignGeneric", "init", "initSync",
    "metadataPatch", "readResponse", "signPush", "timelineEventRequest", "validateMetadata",
    "verifyConnectUrl", "verifyOwnershipProof", "verifyRequest", "verifyUninstallTicket", "webLocks",
  ]);
});

test("web entry: the plugin side only (no broker module, no node: imports); broker subpath under Node", () => {
  const web = run(`
    import * as m from "tessera-companion/web";
    const push = ["verifyPush", "pushRegistrationRequest"].filter((k) => k in m.Companion.prototype);
    console.log(JSON.stringify([Object.keys(m).sort(), push]));
  `);
  assert.deepEqual(web, [
    [
      "Companion", "TesseraError", "classify", "contentDigest", "init", "initSync",
      "metadataPatch", "readResponse", "timelineEventRequest", "validateMetadata", "webLocks",
    ],
    [], // pushed events are the Node entry's (the broker module's): an extension cannot receive a push
  ]);
  // Nothing the browser entry loads may import a Node builtin or the broker module.
  const seen = new Set();
  const walk = (f) => {
    if (seen.has(f)) return;
    seen.add(f);
    const src = readFileSync(new URL(f, PKG), "utf8");
    for (const [, dep] of src.matchAll(/^\s*(?:import|export)\b[^;]*?from\s*["']([^"']+)["']/gm)) {
      assert.ok(dep.startsWith("./"), `${f} imports ${dep}`);
      assert.doesNotMatch(dep, /broker/, `${f} imports ${dep}`);
      walk(dep.slice(2));
    }
  };
  walk("index.web.js");
  assert.ok(seen.has("tessera_wasm.js") && seen.has("api.js"), [...seen].join());
  const broker = run(`
    import * as b from "tessera-companion/broker";
    const store = new b.MemoryReplayStore(4);
    console.log(JSON.stringify([Object.keys(b).sort(), store.size]));
  `);
  broker[0] = broker[0].filter((k) => !TEST_HOOKS.includes(k));
  assert.deepEqual(broker, [
    [
      "MemoryReplayStore", "hmacSignGeneric", "signPush", "verifyConnectUrl", "verifyOwnershipProof", "verifyRequest",
      "verifyUninstallTicket",
    ],
    0,
  ]);
});

test("shipped files: exactly the package's files, ESM, no eval or new Function", () => {
  const files = readdirSync(PKG).sort();
  assert.deepEqual(files, [
    "README.md", "api.js", "broker.d.ts", "broker.js", "conv.js", "driver.js", "error.js", "index.d.ts", "index.node.js",
    "index.web.d.ts", "index.web.js", "locks.js", "package.json", "proxy", "ready.js", "records.js", "tessera_broker.js", "tessera_broker_bg.wasm",
    "tessera_wasm.js", "tessera_wasm_bg.wasm",
  ]);
  const pkg = JSON.parse(readFileSync(new URL("package.json", PKG), "utf8"));
  assert.equal(pkg.name, "tessera-companion");
  assert.equal(pkg.type, "module");
  assert.equal(pkg.types, "./index.d.ts");
  assert.equal(pkg.exports["."].node.types, "./index.d.ts");
  assert.equal(pkg.exports["."].browser.types, "./index.web.d.ts");
  assert.deepEqual(pkg.dependencies, undefined);
  // The proxy entry: the plugin-side JS beside its own module, nothing else.
  const proxyFiles = readdirSync(new URL("proxy/", PKG)).sort();
  assert.deepEqual(proxyFiles, [
    "api.js", "conv.js", "driver.js", "error.js", "index.node.js", "index.web.d.ts", "index.web.js", "locks.js", "ready.js",
    "records.js", "tessera_wasm.js", "tessera_wasm_bg.wasm",
  ]);
  assert.equal(pkg.exports["./proxy"].browser.default, "./proxy/index.web.js");
  assert.equal(pkg.exports["./proxy"].node.default, "./proxy/index.node.js");
  for (const f of [...files, ...proxyFiles.map((p) => `proxy/${p}`)].filter((f) => f.endsWith(".js"))) {
    const src = readFileSync(new URL(f, PKG), "utf8");
    assert.doesNotMatch(src, /\beval\s*\(|new\s+Function\s*\(|\bFunction\s*\(\s*["'`]/, f);
    assert.doesNotMatch(src, /\brequire\s*\(|module\.exports/, `${f} is ESM`);
  }
  for (const f of files.filter((f) => f.endsWith(".d.ts"))) {
    const dts = readFileSync(new URL(f, PKG), "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/\/\/.*$/gm, "");
    assert.doesNotMatch(dts, /\bany\b/, `no \`any\` on the public surface (${f})`);
  }
  for (const f of ["tessera_wasm_bg.wasm", "tessera_broker_bg.wasm"]) {
    assert.ok(WebAssembly.validate(readFileSync(new URL(f, PKG))), f);
  }
});

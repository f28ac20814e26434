// The tiny MV3 extensions of the cold-start bench (coldstart.mjs), written
// into a directory:
//   package worker  imports the npm package's web entry (index.web.js, as the
//                   example extension does), and on a message restores a
//                   Companion from the state in chrome.storage.local and signs
//                   one request, answering with performance.now() marks;
//   floor worker    the same worker without the package: it reads the same
//                   state and signs a base of the same size with a bare
//                   WebCrypto HMAC (the browser's floor for a wake that signs).
// Each is woken by chrome.runtime.sendMessage from a web page on 127.0.0.1
// (externally_connectable), so that no page of the woken extension has to
// exist: the cold wakes start the worker in a new renderer process.

import { cpSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** The request every wake signs (fixed time, nonce and key: the same signature every time). */
export const REQUEST = {
  method: "POST",
  path: "/api/units?limit=3",
  headers: { "content-type": "application/json" },
  body: '{"unit":"A-101","size":"5x10","tenant":"t_123"}',
};
export const SIGN_OPTIONS = { now: 1_700_000_000, nonce: "coldstart-nonce-0123456789", idempotencyKey: "coldstart-key-1" };

const T0 = `// The worker's first line: the first module it evaluates.
self.__t0 = performance.now();
`;

const PAGE = `<!doctype html><meta charset="utf-8"><title>coldstart</title><p>keeps this extension's renderer process alive</p>\n`;

function manifest(name, worker) {
  return {
    manifest_version: 3,
    name,
    version: "1.0.0",
    background: { service_worker: worker, type: "module" },
    permissions: ["storage"],
    externally_connectable: { matches: ["http://127.0.0.1/*"] },
    content_security_policy: { extension_pages: "script-src 'self' 'wasm-unsafe-eval'; object-src 'self'" },
  };
}

const PACKAGE_WORKER = `import "./t0.js";
import { init, Companion } from "./pkg/index.web.js";

const imported = performance.now();
const WASM = chrome.runtime.getURL("pkg/tessera_wasm_bg.wasm");
const REQUEST = ${JSON.stringify(REQUEST)};
const OPTIONS = ${JSON.stringify(SIGN_OPTIONS)};

/** mode "init": init(url) as an extension does; "split": fetch → compileStreaming → init(module), timed apart. */
async function wake(mode) {
  const t = { t0: self.__t0, imported, message: performance.now() };
  const stored = chrome.storage.local.get("state");
  if (mode === "split") {
    const response = await fetch(WASM);
    t.fetched = performance.now();
    const module = await WebAssembly.compileStreaming(response);
    t.compiled = performance.now();
    await init(module);
  } else {
    await init(WASM);
  }
  t.init = performance.now();
  const { state } = await stored;
  t.stored = performance.now();
  const companion = Companion.importState(state);
  t.restored = performance.now();
  const signed = companion.signRequest(REQUEST, OPTIONS);
  t.signed = performance.now();
  return { t, signature: signed.headers.find(([name]) => name === "signature")?.[1] };
}

chrome.runtime.onMessageExternal.addListener((msg, _sender, reply) => {
  wake(msg?.mode).then(reply, (e) => reply({ error: String(e?.stack ?? e) }));
  return true;
});
`;

const FLOOR_WORKER = `import "./t0.js";

const imported = performance.now();
const enc = new TextEncoder();

function fromBase64url(s) {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function wake() {
  const t = { t0: self.__t0, imported, message: performance.now() };
  const { state } = await chrome.storage.local.get("state");
  t.stored = performance.now();
  const parsed = JSON.parse(state);
  const key = await crypto.subtle.importKey("raw", fromBase64url(parsed.installation.secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  t.restored = performance.now();
  const base = '"@method": POST\\n"@authority": broker.example\\n"@path": /api/units\\n' + "x".repeat(400) + parsed.installation.id;
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(base)));
  t.signed = performance.now();
  return { t, signature: btoa(String.fromCharCode(...mac)) };
}

chrome.runtime.onMessageExternal.addListener((_msg, _sender, reply) => {
  wake().then(reply, (e) => reply({ error: String(e?.stack ?? e) }));
  return true;
});
`;

/** Writes the floor extension into `dir`. */
export function writeFloor(dir) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest("coldstart floor", "floor.js"), null, 2));
  writeFileSync(path.join(dir, "t0.js"), T0);
  writeFileSync(path.join(dir, "floor.js"), FLOOR_WORKER);
  writeFileSync(path.join(dir, "page.html"), PAGE);
}

/**
 * Writes a package extension into `dir` with the browser files of the
 * unpacked npm package at `pkgDir` (its .js and the plugin .wasm, not the
 * Node-only broker side). `worker` names the worker script (tells the
 * extensions apart in the DevTools target list).
 */
export function writePackage(dir, pkgDir, name, worker) {
  mkdirSync(path.join(dir, "pkg"), { recursive: true });
  writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest(name, worker), null, 2));
  writeFileSync(path.join(dir, "t0.js"), T0);
  writeFileSync(path.join(dir, worker), PACKAGE_WORKER);
  writeFileSync(path.join(dir, "page.html"), PAGE);
  const browserFile = (f) =>
    (f.endsWith(".js") || f === "tessera_wasm_bg.wasm") && f !== "index.node.js" && !f.startsWith("broker") && !f.startsWith("tessera_broker");
  for (const f of readdirSync(pkgDir).filter(browserFile)) cpSync(path.join(pkgDir, f), path.join(dir, "pkg", f));
}

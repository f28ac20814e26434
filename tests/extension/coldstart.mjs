// Cold start of tessera-companion in a real MV3 service worker (Debian's
// Chromium, headless), against a wasm-free worker (the floor). Measurements,
// not a test: `bash scripts/bench-coldstart.sh` builds the package and runs this.
//
// Each wake: every service worker is stopped through DevTools
// (ServiceWorker.stopAllWorkers, then wait for "stopped"), and a web page on
// 127.0.0.1 wakes one extension with chrome.runtime.sendMessage
// (externally_connectable). The worker restores a Companion from the state in
// chrome.storage.local, signs one request and answers with its
// performance.now() marks; the page times the round trip.
//   warm  a page of each extension stays open, so the worker starts in the
//         extension's live renderer process;
//   cold  no extension page is open: after the stop the bench waits until no
//         extension renderer process is left (counted in /proc), so the worker
//         starts in a new process (the waking page is a web page, not an
//         extension page).
//
// Env: TESSERA_COMPANION_PKG (the unpacked npm package; default wasm/pkg),
// TESSERA_COMPANION_PKG_BASE (optional: a second package, e.g. the previous
// build, measured in the same run), COLDSTART_WAKES (per variant and
// condition; default 25), CHROMIUM (default /usr/bin/chromium).

import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Browser, alive, renderers, serviceWorkerProcess } from "./coldstart-cdp.mjs";
import { REQUEST, SIGN_OPTIONS, writeFloor, writePackage } from "./coldstart-ext.mjs";
import { report } from "./coldstart-report.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PKG = path.resolve(process.env.TESSERA_COMPANION_PKG ?? path.join(root, "wasm/pkg"));
const BASE = process.env.TESSERA_COMPANION_PKG_BASE ? path.resolve(process.env.TESSERA_COMPANION_PKG_BASE) : undefined;
const WAKES = Number(process.env.COLDSTART_WAKES ?? 25);
const TIMEOUT = 15_000;

function fail(message) {
  console.error(`coldstart: ${message}`);
  process.exit(1);
}
if (!(WAKES >= 1)) fail("COLDSTART_WAKES must be a positive number");

/** A connected companion's exported state, made with the package's Node entry. */
async function makeState() {
  const { Companion } = await import(pathToFileURL(path.join(PKG, "index.node.js")).href);
  const now = SIGN_OPTIONS.now;
  const c = Companion.create({ brokerUrl: "https://broker.example" });
  const site = { siteUrl: "https://shop.example", adminEmail: "a@shop.example", platform: "chrome-extension", pluginVersion: "1" };
  await c.register(site, { fetch: async () => ({ status: 201 }) });
  const state = new URL(c.connectUrl({ returnUrl: "chrome-extension://x/cb", now })).searchParams.get("state");
  const body = JSON.stringify({ broker_token: "btk_coldstart", account: { id: "a", name: "b" } });
  await c.completeConnect(`state=${state}&code=cc_coldstart0123456789`, { now, fetch: async () => ({ status: 200, body }) });
  return { state: c.exportState(), signature: Object.fromEntries(c.signRequest(REQUEST, SIGN_OPTIONS).headers).signature };
}

/** Serves the waking page on 127.0.0.1 (an ephemeral port). */
async function startServer() {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end("<!doctype html><meta charset=utf-8><title>waker</title>");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(path.join(tmpdir(), "tessera-coldstart-"));
let browser;
let server;
try {
  const { state, signature: expected } = await makeState();
  const variants = [{ key: "floor", worker: "floor.js", dir: path.join(work, "floor") }];
  writeFloor(variants[0].dir);
  const packages = [{ key: "package", pkg: PKG }, ...(BASE ? [{ key: "baseline", pkg: BASE }] : [])];
  for (const { key, pkg } of packages) {
    const dir = path.join(work, key);
    writePackage(dir, pkg, `coldstart ${key}`, `${key}.js`);
    variants.push({ key, worker: `${key}.js`, dir, pkg });
  }
  server = await startServer();
  const dirs = variants.map((v) => v.dir).join(",");
  browser = Browser.launch(process.env.CHROMIUM ?? "/usr/bin/chromium", path.join(work, "profile"), [
    `--disable-extensions-except=${dirs}`,
    `--load-extension=${dirs}`,
  ]);
  const { product } = await browser.send("Browser.getVersion");

  // The extensions' ids, from their workers' URLs.
  for (const end = Date.now() + TIMEOUT; variants.some((v) => !v.id); ) {
    if (Date.now() > end) fail("the extensions did not load (no service worker targets)");
    const { targetInfos } = await browser.send("Target.getTargets");
    for (const v of variants) {
      const t = targetInfos.find((i) => i.type === "service_worker" && i.url.endsWith(`/${v.worker}`));
      if (t) v.id = new URL(t.url).host;
    }
    await sleep(50);
  }

  // The waking page, and the workers' running status (DevTools' ServiceWorker domain).
  const waker = await browser.open(`http://127.0.0.1:${server.address().port}/`);
  const versions = new Map(); // versionId → { scriptURL, runningStatus }
  browser.on(({ method, params }) => {
    if (method !== "ServiceWorker.workerVersionUpdated") return;
    for (const v of params.versions) versions.set(v.versionId, v);
  });
  await browser.send("ServiceWorker.enable", {}, waker.sessionId);
  const ours = (v) => variants.some((x) => v.scriptURL === `chrome-extension://${x.id}/${x.worker}`);

  async function stopAll() {
    await browser.send("ServiceWorker.stopAllWorkers", {}, waker.sessionId);
    for (const end = Date.now() + TIMEOUT; ; ) {
      if ([...versions.values()].filter(ours).every((v) => v.runningStatus === "stopped")) return;
      if (Date.now() > end) fail("a worker did not stop");
      await sleep(2);
    }
  }

  async function wake(v, mode) {
    const expression = `new Promise((resolve) => {
      const s = performance.now();
      chrome.runtime.sendMessage(${JSON.stringify(v.id)}, { mode: ${JSON.stringify(mode)} }, (r) =>
        resolve({ rtt: performance.now() - s, r, err: chrome.runtime.lastError?.message }));
    })`;
    const out = await browser.evaluate(waker.sessionId, expression);
    if (out.err || out.r?.error) fail(`wake of ${v.key} (${mode}) failed: ${out.err ?? out.r.error}`);
    if (v.pkg && out.r.signature !== expected) fail(`${v.key} signed ${out.r.signature}, expected ${expected}`);
    return { rtt: out.rtt, ...out.r.t };
  }

  // The state in each extension's chrome.storage.local (through one of its pages).
  for (const v of variants) {
    const page = await browser.open(`chrome-extension://${v.id}/page.html`);
    await browser.evaluate(page.sessionId, `chrome.storage.local.set({ state: ${JSON.stringify(state)} }).then(() => true)`);
    await browser.close(page.targetId);
  }

  const runs = variants.flatMap((v) => (v.pkg ? ["init", "split"] : ["floor"]).map((mode) => ({ v, mode })));
  for (const { v, mode } of runs) await wake(v, mode); // one wake each first (not counted)

  const samples = {}; // `${condition}/${variant}/${mode}` → [marks]
  const seen = new Set(); // every process a worker ran in
  let coldWaits = 0;
  for (const condition of ["warm", "cold"]) {
    const pages = [];
    if (condition === "warm") for (const v of variants) pages.push(await browser.open(`chrome-extension://${v.id}/page.html`));
    for (let round = 0; round < WAKES; round++) {
      for (const { v, mode } of runs) {
        await stopAll();
        if (condition === "cold") {
          // No process a worker ran in may be left: the woken worker needs a new one.
          const end = Date.now() + TIMEOUT;
          while ([...seen].some(alive)) {
            if (Date.now() > end) fail("a worker's renderer process stayed alive with no extension page open");
            coldWaits++;
            await sleep(5);
          }
        }
        const before = new Set(renderers(browser.pid));
        const marks = await wake(v, mode);
        const pid = serviceWorkerProcess(browser.pid);
        if (pid === undefined) fail("no renderer process with a service worker thread after a wake");
        seen.add(pid);
        marks.newProcess = !before.has(pid);
        (samples[`${condition}/${v.key}/${mode}`] ??= []).push(marks);
      }
    }
    for (const p of pages) await browser.close(p.targetId);
  }
  report({ product, wakes: WAKES, samples, packages, coldWaits });
} finally {
  await browser?.quit();
  server?.close();
  rmSync(work, { recursive: true, force: true });
}

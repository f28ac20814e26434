// The example MV3 extension (examples/browser-extension) in Debian's Chromium,
// driven by playwright-core, against the reference broker and the fake Stora
// (tessera-e2e-env --no-ownership-proof, all on 127.0.0.1); then its
// authorization-proxy build against the reference proxy and the fake Stora
// (tessera-proxy-env), in a second browser profile.
//
// Env: TESSERA_E2E_ENV, TESSERA_PROXY_ENV (the binaries), TESSERA_COMPANION_PKG
// (the unpacked npm package tessera-companion), TESSERA_ARTIFACTS (screenshots;
// default artifacts/extension), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const artifacts = process.env.TESSERA_ARTIFACTS ?? path.join(root, "artifacts/extension");
const packageDir = process.env.TESSERA_COMPANION_PKG ?? path.join(root, "wasm/pkg");
const STEP_TIMEOUT = 15_000;
const EMAIL = "owner@storage.example";

let env; // { child, broker, stora, adminToken }; the proxy test adds storaApi and proxy: true
let work; // temporary directory: the built extension and the profile
let context;
let extensionId;
let options; // the options page
/** Prefix of every Stora code and token in this run (tessera-e2e-env --token-canary). */
const STORA_CANARY = "CANARYext-";
/** Every console message of the extension's pages and service worker (searched for secrets). */
const consoleLines = [];
let shot = 0;
const pageErrors = [];

// ---- the environment -------------------------------------------------------------------

/** Starts an environment binary → its child process and the JSON line it printed. */
async function spawnEnv(bin, args) {
  const child = spawn(bin, ["--exit-on-stdin-close", "--max-lifetime", "600", "--quiet", ...args], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const first = await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${path.basename(bin)} exited with ${code}`)));
    createInterface({ input: child.stdout }).once("line", resolve);
  });
  return { child, info: JSON.parse(first) };
}

async function startEnv() {
  const bin = process.env.TESSERA_E2E_ENV ?? path.join(root, "target/debug/tessera-e2e-env");
  const { child, info } = await spawnEnv(bin, ["--no-ownership-proof", "--token-canary", STORA_CANARY]);
  return { child, broker: info.broker_url, stora: info.stora_url, adminToken: info.admin_token };
}

/**
 * How long the fake Stora's access tokens live in the proxy run: the
 * package refreshes 120 s before expiry (its default margin), so a token is
 * fresh for 5 s and then refreshed before the next call.
 */
const PROXY_ACCESS_TTL = 125;
const PROXY_FRESH_MS = (PROXY_ACCESS_TTL - 120) * 1000;

/** tessera-proxy-env: fake Stora + the reference authorization proxy; `broker` is the proxy. */
async function startProxyEnv() {
  const bin = process.env.TESSERA_PROXY_ENV ?? path.join(root, "target/debug/tessera-proxy-env");
  const { child, info } = await spawnEnv(bin, ["--access-ttl", String(PROXY_ACCESS_TTL)]);
  return { child, proxy: true, broker: info.proxy_url, stora: info.stora_url, storaApi: info.stora_api_url };
}

async function admin(route) {
  const res = await fetch(env.broker + route, { headers: { authorization: `Bearer ${env.adminToken}` } });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function stora(method, route, body) {
  const res = await fetch(env.stora + route, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.equal(res.status, 200, `${method} ${route}`);
  return res.json();
}

// ---- the browser --------------------------------------------------------------------------

async function screenshot(page, name) {
  shot += 1;
  const file = path.join(artifacts, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Records script errors and console errors of the extension's own pages. */
function watch(page) {
  const own = () => page.url().startsWith("chrome-extension://");
  page.on("pageerror", (e) => own() && pageErrors.push(`${page.url()}: ${e.message}`));
  page.on("console", (m) => {
    consoleLines.push(`${page.url()}: ${m.type()}: ${m.text()}`);
    if (m.type() === "error" && own()) pageErrors.push(`${page.url()}: console: ${m.text()}`);
  });
  return page;
}

/** The visible text of the options page's main element, whitespace folded. */
async function visibleText(page) {
  return (await page.locator("main").innerText()).replace(/\s+/g, " ");
}

async function expectStatus(text) {
  await options.locator("#status", { hasText: text }).waitFor({ timeout: STEP_TIMEOUT });
  assert.equal((await options.locator("#status").innerText()).trim(), text);
}

async function badge() {
  const [sw] = context.serviceWorkers();
  return sw.evaluate(() => chrome.action.getBadgeText({}));
}

/** How the pages show the fake Stora's default operator (opr_demo) once connected. */
const ACCOUNT_TEXT = "Connected to Stora account Northwind Self Storage (opr_demo)";

/** Clicks Connect or Reconnect, approves at the fake Stora, lands on connected.html. */
async function connectVia(button, name) {
  const tabOpened = context.waitForEvent("page", { timeout: STEP_TIMEOUT });
  await options.locator(button).click();
  const tab = watch(await tabOpened);
  // The broker's interstitial: Continue. A proxy has none (it goes straight to Stora).
  if (!env.proxy) await tab.locator("#continue").click({ timeout: STEP_TIMEOUT });
  await tab.locator("#approve").waitFor({ timeout: STEP_TIMEOUT });
  assert.ok(tab.url().startsWith(env.stora + "/oauth2/authorize?"), tab.url());
  assert.match(await tab.locator("h1").innerText(), /Allow .* to access your Stora account\?/);
  await screenshot(tab, `${name}-stora-consent`);
  await tab.locator("#approve").click();
  await tab.locator("#title", { hasText: "Connected to Stora" }).waitFor({ timeout: STEP_TIMEOUT });
  const landed = new URL(tab.url());
  assert.equal(`${landed.protocol}//${landed.host}`, `chrome-extension://${extensionId}`);
  assert.equal(landed.pathname, "/connected.html");
  assert.equal(landed.search, "", "the connect code is taken out of the address bar");
  assert.match(await tab.locator("#detail").innerText(), /Installation ins_\S+ is connected/);
  // The Stora account the operator consented with (the fake Stora's default operator), shown as text.
  assert.equal((await tab.locator("#account").innerText()).trim(), ACCOUNT_TEXT);
  assert.equal(await tab.locator("#account > *").count(), 0, "no markup: the account is text");
  await screenshot(tab, `${name}-connected-tab`);
  await tab.close();
}

async function expectOrders() {
  await options.locator("#message", { hasText: "Loaded 3 orders." }).waitFor({ timeout: STEP_TIMEOUT });
  const rows = await options.locator("#orders tbody tr").allInnerTexts();
  assert.equal(rows.length, 3);
  assert.match(rows[0], /ord_1001\s+A-12\s+active\s+£129\.00/);
}

/** Clicks Refresh with the previous result cleared, so what follows is this load's. */
async function refreshOrders() {
  await options.evaluate(() => {
    document.getElementById("message").textContent = "";
    document.querySelector("#orders tbody").replaceChildren();
  });
  await options.locator("#refresh").click();
}

// ---- the seal key (issue 14: kept out of chrome.storage) ------------------------------------

/**
 * `Companion.openState(sealed, key)` for each key (a string, or bytes as an
 * array of numbers), run in an extension page with the package's browser
 * entry: `{ json }` (the state) or `{ code }` (the error).
 */
async function openStates(sealed, keys) {
  return options.evaluate(
    async ([sealed, keys]) => {
      await (await import(chrome.runtime.getURL("tessera-host.js"))).ready();
      // The entry this build loads (the proxy build's is another module).
      const { Companion } = await import(chrome.runtime.getURL("companion.js"));
      return keys.map((key) => {
        try {
          const c = Companion.openState(sealed, typeof key === "string" ? key : Uint8Array.from(key));
          const json = c.exportState();
          c.free();
          return { json };
        } catch (e) {
          return { code: e?.code ?? String(e) };
        }
      });
    },
    [sealed, keys],
  );
}

/**
 * The raw seal key, unwrapped inside the extension as the extension does
 * (seal-key.js in an extension page, under the state lock): only code running
 * in the extension's origin can do this.
 */
async function rawSealKey() {
  const b64 = await options.evaluate(async () => {
    const { loadSealKey } = await import(chrome.runtime.getURL("seal-key.js"));
    const key = await navigator.locks.request("tessera.state", () => loadSealKey(true));
    return btoa(String.fromCharCode(...key));
  });
  return new Uint8Array(Buffer.from(b64, "base64"));
}

/**
 * Checks that nothing in chrome.storage.local alone opens the sealed state:
 * no plaintext `tessera.sealKey`, and no stored value (as base64, with or
 * without a `xx1.` prefix, at any 32-byte offset) is a key that opens it.
 * Returns the stored items.
 */
async function assertNoSealKeyInStorage() {
  const stored = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get(null));
  assert.equal(stored["tessera.sealKey"], undefined, "no plaintext seal key in chrome.storage");
  const wrapped = stored["tessera.wrappedSealKey"];
  assert.match(wrapped, /^wk1\.[A-Za-z0-9+/]+=*$/, "the seal key is stored wrapped");
  const sealed = stored["tessera.state"];
  assert.match(sealed, /^tsv1\./);
  const candidates = [["tessera.wrappedSealKey as is", wrapped]];
  for (const [name, value] of Object.entries(stored)) {
    if (name === "tessera.state" || typeof value !== "string") continue;
    const bytes = [...Buffer.from(value.replace(/^[a-z0-9]+\./, ""), "base64")];
    for (let i = 0; i + 32 <= bytes.length; i += 1) candidates.push([`${name} (bytes ${i}..${i + 32})`, bytes.slice(i, i + 32)]);
  }
  assert.ok(candidates.length > 1, "the wrapped key decodes to at least 32 bytes");
  const results = await openStates(sealed, candidates.map(([, key]) => key));
  for (const [i, r] of results.entries()) {
    assert.ok(r.code === "state_undecryptable" || r.code === "invalid_input", `${candidates[i][0]} opens the sealed state`);
  }
  return stored;
}

/**
 * Stops the extension's service worker, as Chromium does when it is idle, and
 * waits until DevTools reports it stopped. The next message starts a fresh
 * one (Playwright keeps the same Worker handle for it). A global set before
 * the stop is gone after it: the caller checks that.
 */
async function stopServiceWorker() {
  await context.serviceWorkers()[0].evaluate(() => (self.__beforeRestart = true));
  const script = `chrome-extension://${extensionId}/background.js`;
  const cdp = await context.newCDPSession(options);
  try {
    const stopped = new Promise((resolve) =>
      cdp.on("ServiceWorker.workerVersionUpdated", ({ versions }) => {
        if (versions.some((v) => v.scriptURL === script && v.runningStatus === "stopped")) resolve();
      }),
    );
    await cdp.send("ServiceWorker.enable");
    await cdp.send("ServiceWorker.stopAllWorkers");
    await Promise.race([stopped, new Promise((_, reject) => setTimeout(() => reject(new Error("worker did not stop")), STEP_TIMEOUT))]);
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/** True when the worker running now was started after the last stopServiceWorker(). */
async function workerRestarted() {
  return context.serviceWorkers()[0].evaluate(() => self.__beforeRestart === undefined);
}

/**
 * Builds the extension with `buildArgs` (build.mjs, as a partner runs it,
 * pointed at this run's servers), starts Chromium on a fresh profile with it,
 * and waits for the options page that chrome.runtime.onInstalled opens. Sets
 * `context`, `extensionId` and `options`.
 */
async function launchExtension(name, buildArgs) {
  const extDir = path.join(work, `${name}-extension`);
  execFileSync(
    process.execPath,
    [path.join(root, "examples/browser-extension/build.mjs"), ...buildArgs, "--package", packageDir, "--out", extDir],
    { stdio: "inherit" },
  );
  options = undefined;
  context = await chromium.launchPersistentContext(path.join(work, `${name}-profile`), {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    // Chromium's own headless mode (not the old headless shell) runs extensions.
    headless: true,
    ignoreDefaultArgs: ["--disable-extensions"],
    viewport: { width: 1000, height: 820 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--disable-extensions-except=${extDir}`,
      `--load-extension=${extDir}`,
    ],
  });
  let [sw] = context.serviceWorkers();
  sw ??= await context.waitForEvent("serviceworker", { timeout: STEP_TIMEOUT });
  sw.on("console", (m) => consoleLines.push(`service worker: ${m.type()}: ${m.text()}`));
  extensionId = new URL(sw.url()).host;
  assert.match(sw.url(), /^chrome-extension:\/\/[a-p]{32}\/background\.js$/);
  // chrome.runtime.onInstalled opens the options page (no email yet, so
  // registration waits for it): let it land before opening another tab.
  const isOptions = (p) => p.url() === `chrome-extension://${extensionId}/options.html`;
  // It may open in a new tab or in the first, blank one: poll.
  for (const end = Date.now() + STEP_TIMEOUT; !options && Date.now() < end; ) {
    options = context.pages().find(isOptions);
    if (!options) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(options, "chrome.runtime.onInstalled opened the options page");
  await options.waitForLoadState("load");
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  for (const f of await import("node:fs").then((fs) => fs.readdirSync(artifacts))) {
    if (f.endsWith(".png")) rmSync(path.join(artifacts, f));
  }
  env = await startEnv();
  work = mkdtempSync(path.join(tmpdir(), "tessera-ext-"));
  await launchExtension("broker", ["--broker-url", env.broker, "--stora-url", env.stora]);
  const version = await context.newPage();
  await version.goto("chrome://version");
  const commandLine = await version.locator("#command_line").innerText();
  assert.match(commandLine, /(^| )--headless( |$)/, "new headless mode");
  await version.close();
});

after(async () => {
  await context?.close().catch(() => {});
  env?.child.stdin.end();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("the extension's code leaves registration and every broker request to the package's drivers", () => {
  // docs/HOST-CONTRACT.md: a host hands the drivers `fetch` and a store; it
  // builds no request options and runs no registration loop of its own.
  const src = path.join(root, "examples/browser-extension/src");
  for (const file of readdirSync(src).filter((f) => f.endsWith(".js"))) {
    const code = readFileSync(path.join(src, file), "utf8");
    for (const banned of ["registrationRequest", "handleRegistrationResponse", "redirect:", "credentials:", "ownershipProof"]) {
      assert.ok(!code.includes(banned), `${file} uses ${banned}`);
    }
  }
  assert.match(readFileSync(path.join(src, "tessera-host.js"), "utf8"), /\.register\(registration, driver\(onPersist, config\)\)/);
});

test("the example extension in Chromium: register, connect, data, reconnect, disconnect, remove, uninstall", async (t) => {
  const site = `chrome-extension://${extensionId}`;
  let installId;

  await t.test("on install the options page opens, loads the wasm and asks for the operator's email", async () => {
    // Opened by chrome.runtime.onInstalled (see before()).
    assert.equal(options.url(), `${site}/options.html`);
    watch(options);
    await options.reload(); // listen for errors from the first load on
    await expectStatus("Not registered");
    assert.equal(await options.locator("#site-url").innerText(), site);
    assert.equal(await options.locator("#broker-url").innerText(), env.broker);
    assert.ok(await options.locator("#register-section").isVisible());
    assert.ok(!(await options.locator("#connection-section").isVisible()));
    await screenshot(options, "options-not-registered");
  });

  await t.test("register: the broker knows the installation by its extension origin", async () => {
    await options.locator("#email").fill(EMAIL);
    await options.locator("#register").click();
    await expectStatus("Registered, not connected");
    installId = (await options.locator("#install-id").innerText()).trim();
    assert.match(installId, /^ins_[A-Za-z0-9_-]{16,}$/);
    const { status, body } = await admin(`/admin/installations/${installId}`);
    assert.equal(status, 200);
    assert.equal(body.site_url, site);
    assert.equal(body.platform, "chrome-extension");
    assert.equal(body.admin_email, EMAIL);
    assert.equal(body.status, "active");
    // The state is sealed at rest; its key is not in chrome.storage, only
    // wrapped under a non-extractable key in IndexedDB (issue 14).
    const stored = await assertNoSealKeyInStorage();
    assert.ok(!stored["tessera.state"].includes(installId), "the stored state is sealed");
    // The install id is not a secret: it is also kept in plain text, outside the seal (issue 14 item 7).
    assert.equal(stored["tessera.installId"], installId);
    assert.equal(stored["tessera.previousInstallId"], undefined);
    assert.ok(!(await options.locator("#previous-notice").isVisible()));
    assert.ok((await visibleText(options)).includes("Connect"));
    await screenshot(options, "registered");
  });

  await t.test("the uninstall ticket is re-issued: a daily alarm re-signs it (issue 14 item 10)", async () => {
    const sw = context.serviceWorkers()[0];
    const NAME = "tessera.refresh-uninstall-url";
    const alarm = await sw.evaluate((name) => chrome.alarms?.get(name), NAME);
    assert.ok(alarm, "the worker set a refresh alarm at start");
    assert.equal(alarm.periodInMinutes, 24 * 60, "daily");
    // Fire it now (an unpacked extension may) and watch the worker set a fresh ticket.
    const urls = await sw.evaluate(async (name) => {
      const set = chrome.runtime.setUninstallURL;
      const seen = [];
      chrome.runtime.setUninstallURL = (url) => (seen.push(url), set.call(chrome.runtime, url));
      try {
        const period = (await chrome.alarms.get(name)).periodInMinutes;
        await chrome.alarms.create(name, { when: Date.now() + 50, periodInMinutes: period });
        for (const end = Date.now() + 10000; !seen.length && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
        return seen;
      } finally {
        chrome.runtime.setUninstallURL = set;
      }
    }, NAME);
    assert.equal(urls.length, 1, "the alarm re-set the uninstall URL");
    assert.ok(urls[0].startsWith(`${env.broker}/installations/${installId}/uninstall?`), urls[0]);
    const ticket = new URL(urls[0]);
    assert.ok(Math.abs(Number(ticket.searchParams.get("ts")) - Date.now() / 1000) < 60, "a ticket signed now");
    assert.equal((await sw.evaluate((name) => chrome.alarms.get(name), NAME)).periodInMinutes, 24 * 60, "still daily");
  });

  await t.test("a refused connect comes back to connected.html with the broker's error (kill switch)", async () => {
    const disable = await fetch(`${env.broker}/admin/installations/${installId}/disable`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.adminToken}` },
    });
    assert.equal(disable.status, 200);
    const tabOpened = context.waitForEvent("page", { timeout: STEP_TIMEOUT });
    await options.locator("#connect").click();
    const tab = watch(await tabOpened);
    await tab.locator("#title", { hasText: "Not connected" }).waitFor({ timeout: STEP_TIMEOUT });
    assert.match(await tab.locator("#detail").innerText(), /The connection was not made: installation_disabled\./);
    await screenshot(tab, "connect-refused-tab");
    await tab.close();
    await expectStatus("Registered, not connected");
    const enable = await fetch(`${env.broker}/admin/installations/${installId}/enable`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.adminToken}` },
    });
    assert.equal(enable.status, 200);
  });

  await t.test("connect: consent at Stora, back on connected.html, orders through the broker", async () => {
    assert.equal((await options.locator("#account").innerText()).trim(), "—");
    await connectVia("#connect", "connect");
    await expectStatus("Connected");
    await options.locator("#account", { hasText: ACCOUNT_TEXT }).waitFor({ timeout: STEP_TIMEOUT });
    assert.equal((await options.locator("#account").innerText()).trim(), ACCOUNT_TEXT);
    await expectOrders();
    assert.equal(await badge(), "");
    assert.equal((await admin(`/admin/installations/${installId}`)).body.grant.status, "active");
    await screenshot(options, "connected-orders");
  });

  await t.test("flag for follow-up: the order's Stora metadata, a Timeline Event on the operator's timeline, every POST keyed", async () => {
    const before = await stora("GET", "/_control/counters");
    await options.locator('#orders button.flag[data-order="ord_1001"]').click();
    await options
      .locator("#message", { hasText: "Order ord_1001 flagged for follow-up and recorded on your Stora timeline." })
      .waitFor({ timeout: STEP_TIMEOUT });
    // The orders are read again from Stora (through the broker): the mark is in the order's metadata.
    const row = options.locator("#orders tbody tr", { hasText: "ord_1001" });
    assert.equal((await row.locator("td").nth(4).innerText()).trim(), "Flagged");
    assert.equal(await options.locator('#orders button.flag[data-order="ord_1002"]').count(), 1, "other orders are not flagged");
    await screenshot(options, "flagged-for-follow-up");
    const requests = await stora("GET", "/_control/requests");
    const patches = requests.filter((r) => r.method === "PATCH" && r.path === "/2025-09/orders/ord_1001");
    assert.equal(patches.length, 1);
    assert.equal(patches[0].status, 200);
    const key = patches[0].idempotency_key;
    assert.ok(key, "the PATCH carried an Idempotency-Key");
    const posts = requests.filter((r) => r.method === "POST" && r.path === "/2025-09/timeline/events");
    assert.deepEqual(posts.map((r) => [r.status, r.idempotency_key]), [[201, `tle-${key}`]]);
    const timeline = await stora("GET", "/_control/timeline?operator=opr_demo");
    assert.equal(timeline.length, 1, "one entry on the operator's timeline");
    const [event] = timeline;
    assert.equal(event.source.id, "tessera_example_extension");
    assert.equal(event.template.id, "order_follow_up");
    assert.equal(event.description, "Order flagged for follow-up via Tessera example companion for Stora");
    assert.equal(event.external.id, key, "external.id is the action's Idempotency-Key");
    const eventUrl = new URL(env.broker);
    eventUrl.protocol = "https:";
    assert.equal(event.external.url, eventUrl.href, "external.url: the https form of the broker URL (no --event-url)");
    assert.deepEqual(event.variables, { order: "ord_1001" });
    const after = await stora("GET", "/_control/counters");
    assert.equal(after.posts_without_idempotency_key, before.posts_without_idempotency_key, "every POST carried an Idempotency-Key");
  });

  await t.test("Stora's events: the flag's order.updated, pulled when the options page opens, stored, then acknowledged", async () => {
    // Stora delivers the flag's events to the broker by webhook, within about a
    // second; the page pulls when it opens: reopen it until the event shows.
    const row = options.locator("#events tbody tr", { hasText: "order.updated" });
    const deadline = Date.now() + 5000;
    do {
      await options.reload();
      await options.locator("#message", { hasText: "Loaded 3 orders." }).waitFor({ timeout: STEP_TIMEOUT });
      await options.locator("#events tbody tr, #events-note:has-text('No events yet.')").first().waitFor({ timeout: STEP_TIMEOUT });
    } while ((await row.count()) === 0 && Date.now() < deadline);
    assert.equal(await row.count(), 1, `the order.updated event is listed: ${await options.locator("#events").innerText()}`);
    assert.match(await row.innerText(), /order\.updated\s+ord_1001/);
    assert.equal(await options.locator("#events-section").isVisible(), true);
    await screenshot(options, "stora-events");
    // Stored (de-duplicated by id) before the page was acknowledged; the cursor is in the sealed state.
    const stored = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get(null));
    const recent = stored["tessera.recentEvents"];
    const updated = recent.filter((e) => e.type === "order.updated");
    assert.equal(updated.length, 1, JSON.stringify(recent));
    assert.equal(updated[0].objectId, "ord_1001");
    assert.match(updated[0].id, /^evt_/);
    assert.equal(new Set(recent.map((e) => e.id)).size, recent.length, "each event once");
    const [opened] = await openStates(stored["tessera.state"], [[...(await rawSealKey())]]);
    assert.match(JSON.parse(opened.json).events_cursor ?? "", /^[0-9]+$/, "the acknowledged cursor is persisted");
    // Opened again: the list comes from storage, nothing pulled twice.
    await options.reload();
    await row.waitFor({ timeout: STEP_TIMEOUT });
    assert.equal(await row.count(), 1);
  });

  await t.test("chrome.storage holds the secret and the token only sealed; no console line or page holds one", async () => {
    const sw = context.serviceWorkers()[0];
    const stored = await sw.evaluate(() => chrome.storage.local.get(null));
    // Open the sealed state the way the extension does: its key is only
    // wrapped in chrome.storage, and unwrapped by code in the extension's origin.
    const [opened] = await openStates(stored["tessera.state"], [[...(await rawSealKey())]]);
    assert.ok(opened.json, `the unwrapped key opens the state (${opened.code})`);
    const state = JSON.parse(opened.json);
    const secret = state.installation.secret;
    const token = state.broker_token;
    assert.ok(secret && token, "connected: the state holds a secret and a token");
    const raw = Buffer.from(secret, "base64url");
    const needles = [secret, raw.toString("hex"), raw.toString("base64"), token, encodeURIComponent(token), Buffer.from(token).toString("base64")];
    const places = [
      ["chrome.storage.local (the sealed state included)", JSON.stringify(stored)],
      ["the extension's console output", consoleLines.join("\n")],
      ["the options page", await options.content()],
    ];
    const leaks = [];
    for (const [place, text] of places) {
      for (const n of needles) if (text.includes(n)) leaks.push(`${n.slice(0, 8)}… in ${place}`);
      if (text.includes(STORA_CANARY)) leaks.push(`a Stora token in ${place}`);
    }
    assert.deepEqual(leaks, []);
  });

  await t.test("the state survives a service-worker restart: the wrapped seal key is unwrapped again", async () => {
    const before = await assertNoSealKeyInStorage();
    await stopServiceWorker();
    await refreshOrders(); // the page's message wakes the worker, which opens the state
    await expectOrders();
    assert.ok(await workerRestarted(), "a fresh service worker answered");
    await options.reload();
    await expectStatus("Connected");
    const after = await assertNoSealKeyInStorage();
    assert.equal(after["tessera.wrappedSealKey"], before["tessera.wrappedSealKey"], "the same seal key");
  });

  await t.test("migration: an older version's plaintext tessera.sealKey is wrapped, then removed", async () => {
    // What an older version left: the raw key in chrome.storage, no wrapping key in IndexedDB.
    const raw = Buffer.from(await rawSealKey()).toString("base64");
    await options.evaluate(async (legacy) => {
      await navigator.locks.request("tessera.state", async () => {
        await chrome.storage.local.remove("tessera.wrappedSealKey");
        await chrome.storage.local.set({ "tessera.sealKey": legacy });
        await new Promise((resolve, reject) => {
          const req = indexedDB.deleteDatabase("tessera-keys");
          req.onsuccess = resolve;
          req.onerror = () => reject(req.error);
        });
      });
    }, raw);
    await options.reload();
    await expectStatus("Connected"); // the same key: the sealed state still opens
    await assertNoSealKeyInStorage();
    assert.equal(Buffer.from(await rawSealKey()).toString("base64"), raw, "the old key, now wrapped");
    await stopServiceWorker();
    await refreshOrders();
    await expectOrders();
    assert.ok(await workerRestarted(), "a fresh service worker answered");
  });

  await t.test("the grant is revoked at Stora: Reconnect required, in the page and on the badge", async () => {
    await stora("POST", "/_control/revoke_grant", { operator: "opr_demo" });
    await refreshOrders();
    await expectStatus("Reconnect required");
    assert.ok(await options.locator("#notice").isVisible());
    assert.match(await options.locator("#notice").innerText(), /Reconnect required\./);
    assert.match(await options.locator("#message").innerText(), /\(stora_reconnect_required\) \[reconnect_required\]/);
    assert.ok(await options.locator("#reconnect").isVisible());
    assert.ok(!(await options.locator("#orders-section").isVisible()));
    assert.equal(await badge(), "!");
    await screenshot(options, "reconnect-required");
  });

  await t.test("reconnect: a new consent, the badge clears, data again", async () => {
    await connectVia("#reconnect", "reconnect");
    await expectStatus("Connected");
    await expectOrders();
    assert.ok(!(await options.locator("#notice").isVisible()));
    assert.equal(await badge(), "");
    await screenshot(options, "reconnected-orders");
  });

  await t.test("reconnect while connected: a new grant replaces the old one, which the broker revokes", async () => {
    const before = await stora("GET", "/_control/counters");
    await connectVia("#reconnect", "reconnect-while-connected");
    await expectStatus("Connected");
    assert.equal((await options.locator("#account").innerText()).trim(), ACCOUNT_TEXT);
    await refreshOrders();
    await expectOrders();
    const after = await stora("GET", "/_control/counters");
    assert.equal(after.approvals, before.approvals + 1);
    assert.equal(after.grants_revoked, before.grants_revoked + 1, "the replaced grant was revoked");
  });

  await t.test("disconnect: the broker revokes at Stora", async () => {
    const before = await stora("GET", "/_control/counters");
    await options.locator("#disconnect").click();
    await expectStatus("Registered, not connected");
    assert.equal((await options.locator("#message").innerText()).trim(), "Disconnected.");
    assert.equal((await options.locator("#account").innerText()).trim(), "—", "no account once disconnected");
    const after = await stora("GET", "/_control/counters");
    assert.equal(after.revokes, before.revokes + 1, "Stora saw the broker's revoke");
    assert.equal((await admin(`/admin/installations/${installId}`)).body.grant, null);
    await screenshot(options, "disconnected");
  });

  await t.test("remove connection: the uninstall plan deregisters and wipes local state", async () => {
    await connectVia("#connect", "before-remove");
    await expectOrders();
    const before = await stora("GET", "/_control/counters");
    await options.locator("#remove").click();
    await expectStatus("Not registered");
    assert.match(await options.locator("#message").innerText(), /Connection removed/);
    assert.equal((await admin(`/admin/installations/${installId}`)).status, 404);
    assert.equal((await stora("GET", "/_control/counters")).revokes, before.revokes + 1);
    const stored = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get(null));
    assert.equal(stored["tessera.state"], undefined, "local state wiped");
    assert.equal(stored["tessera.installId"], undefined, "deregistered: no earlier installation to remember");
    await screenshot(options, "removed");
  });

  await t.test("a stored state that does not open is an error with a way out, never 'empty'", async () => {
    const sw = context.serviceWorkers()[0];
    // As if the seal key were lost: a fresh key no longer opens the sealed state.
    // (An older version's plaintext key: it is migrated, and still does not open the state.)
    await sw.evaluate(() => chrome.storage.local.set({ "tessera.state": "tsv1.AAAA", "tessera.sealKey": btoa("k".repeat(32)) }));
    await options.reload();
    await options.locator("#status", { hasText: "Unreadable" }).waitFor({ timeout: STEP_TIMEOUT });
    assert.ok(await options.locator("#reset-section").isVisible());
    assert.match(await options.locator("#message").innerText(), /\[state_undecryptable\]/);
    await screenshot(options, "state-undecryptable");
    await options.locator("#reset").click();
    await expectStatus("Not registered");
    const stored = await sw.evaluate(() => chrome.storage.local.get(null));
    assert.equal(stored["tessera.state"], undefined, "the unreadable state is gone");
    assert.equal(stored["tessera.sealKey"], undefined, "no plaintext key is kept");
    assert.match(stored["tessera.wrappedSealKey"], /^wk1\./, "a new key was drawn, wrapped");
  });

  await t.test("a lost IndexedDB wrapping key makes the sealed state unreadable, never silently new", async () => {
    await options.locator("#email").fill(EMAIL);
    await options.locator("#register").click();
    await expectStatus("Registered, not connected");
    const before = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get(null));
    // The wrapping key is gone (IndexedDB cleared), the wrapped key and the state remain.
    await options.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const req = indexedDB.deleteDatabase("tessera-keys");
          req.onsuccess = resolve;
          req.onerror = () => reject(req.error);
        }),
    );
    await options.reload();
    await options.locator("#status", { hasText: "Unreadable" }).waitFor({ timeout: STEP_TIMEOUT });
    assert.ok(await options.locator("#reset-section").isVisible());
    assert.match(await options.locator("#message").innerText(), /\[state_undecryptable\]/);
    const kept = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get(null));
    assert.equal(kept["tessera.state"], before["tessera.state"], "the old state is kept until the user forgets it");
    assert.equal(kept["tessera.wrappedSealKey"], before["tessera.wrappedSealKey"]);
    await screenshot(options, "seal-key-lost");
    await options.locator("#reset").click();
    await expectStatus("Not registered");
    const after = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get(null));
    assert.equal(after["tessera.state"], undefined);
    assert.notEqual(after["tessera.wrappedSealKey"], before["tessera.wrappedSealKey"], "a new key");
  });

  let second;
  await t.test("registered again after forgetting the state: the page says the earlier registration may still have access (issue 14 item 7)", async () => {
    const before = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get(null));
    const earlier = before["tessera.installId"];
    assert.match(earlier ?? "", /^ins_/, "the forgotten state's install id was kept in plain text");
    assert.equal((await admin(`/admin/installations/${earlier}`)).status, 200, "the broker still knows the earlier installation");
    assert.ok(!(await options.locator("#previous-notice").isVisible()), "no notice before registering again");
    await options.locator("#email").fill(EMAIL);
    await options.locator("#register").click();
    await expectStatus("Registered, not connected");
    second = (await options.locator("#install-id").innerText()).trim();
    assert.notEqual(second, installId, "a fresh installation");
    assert.notEqual(second, earlier, "a fresh installation");
    const notice = options.locator("#previous-notice");
    await notice.waitFor({ state: "visible", timeout: STEP_TIMEOUT });
    assert.equal(
      (await options.locator("#previous-text").innerText()).trim(),
      "An earlier registration may still have access to your Stora account. It is removed automatically after it has been unused for a while; you can remove the app's access now in your Stora account settings.",
    );
    assert.equal(await notice.getAttribute("data-install-id"), earlier);
    assert.equal(await notice.locator("button").count(), 1, "text only: no revoke button, just Dismiss");
    const stored = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get(null));
    assert.equal(stored["tessera.installId"], second);
    assert.equal(stored["tessera.previousInstallId"], earlier);
    await screenshot(options, "earlier-registration-notice");
    // It stays until dismissed, across reloads.
    await options.reload();
    await expectStatus("Registered, not connected");
    await notice.waitFor({ state: "visible", timeout: STEP_TIMEOUT });
    await options.locator("#dismiss-previous").click();
    await notice.waitFor({ state: "hidden", timeout: STEP_TIMEOUT });
    const after = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get(null));
    assert.equal(after["tessera.previousInstallId"], undefined, "dismissed for good");
    await options.reload();
    await expectStatus("Registered, not connected");
    assert.ok(!(await notice.isVisible()));
  });

  await t.test("uninstall: Chromium opens the signed ticket URL and the broker deregisters", async () => {
    assert.ok(second, "registered by the step before");
    await connectVia("#connect", "before-uninstall");
    await expectOrders();
    assert.equal((await admin(`/admin/installations/${second}`)).status, 200);
    const before = await stora("GET", "/_control/counters");

    // Remove the extension as a user would; Chromium then opens the URL the
    // extension set with chrome.runtime.setUninstallURL.
    const ticketTab = context.waitForEvent("page", { timeout: STEP_TIMEOUT });
    // The options page closes with the extension: do not wait for the answer.
    options.evaluate(() => chrome.management.uninstallSelf({ showConfirmDialog: false })).catch(() => {});
    const tab = watch(await ticketTab);
    await tab.waitForURL(`${env.broker}/installations/${second}/uninstall?**`, { timeout: STEP_TIMEOUT });
    await tab.waitForLoadState("load");
    const ticket = new URL(tab.url());
    assert.deepEqual([...ticket.searchParams.keys()].sort(), ["sig", "ts"], "a ticket, never the secret");
    assert.match(await tab.locator("body").innerText(), /Tessera companion removed[\s\S]*was revoked/);
    await screenshot(tab, "uninstall-ticket");
    assert.equal((await admin(`/admin/installations/${second}`)).status, 404, "the broker deregistered it");
    assert.equal((await stora("GET", "/_control/counters")).revokes, before.revokes + 1, "and revoked the grant");
  });

  assert.deepEqual(pageErrors, [], "no errors in the extension's pages (CSP, wasm, script)");
});

// ---- authorization-proxy mode (issue 18 item 4) ---------------------------------------------

/** The Stora tokens in the sealed state now, opened with the key the extension unwraps (or null). */
async function storedTokens() {
  const stored = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get("tessera.state"));
  const [opened] = await openStates(stored["tessera.state"], [[...(await rawSealKey())]]);
  assert.ok(opened.json, `the unwrapped key opens the state (${opened.code})`);
  return JSON.parse(opened.json).tokens ?? null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("the authorization-proxy build in Chromium: connect, calls to Stora, refresh on expiry, concurrent calls, revoke, disconnect, remove, uninstall", async (t) => {
  // The broker run is over (the extension removed itself): a fresh profile, the proxy build.
  await context?.close();
  env?.child.stdin.end();
  pageErrors.length = 0;
  env = await startProxyEnv();
  await launchExtension("proxy", ["--proxy-url", env.broker, "--stora-api-url", env.storaApi, "--stora-url", env.stora]);
  const site = `chrome-extension://${extensionId}`;
  /** Every URL the browser asked for (pages, navigations, the pages' fetches). */
  const urls = [];
  context.on("request", (r) => urls.push(r.url()));
  /** What the pages showed (messages, errors), searched for tokens at the end. */
  const shown = [];
  /** Every access and refresh token the state held during the run. */
  const tokens = new Set();
  const remember = async () => {
    const pair = await storedTokens();
    assert.ok(pair?.access_token && pair.refresh_token, "connected: the state holds a token pair");
    for (const tk of [pair.access_token, pair.refresh_token]) {
      assert.ok(tk.length >= 16, "a token long enough to search for");
      tokens.add(tk);
    }
    return pair;
  };
  const counters = () => stora("GET", "/_control/counters");
  const requests = () => stora("GET", "/_control/requests");
  watch(options);
  let installId;

  await t.test("proxy build: the proxy entry only, Stora's API in host_permissions", async () => {
    const ext = path.join(work, "proxy-extension");
    const vendor = path.join(ext, "vendor/tessera-companion");
    assert.ok(readdirSync(path.join(vendor, "proxy")).includes("tessera_wasm_bg.wasm"), "the proxy entry's module");
    assert.ok(!readdirSync(vendor).includes("tessera_wasm_bg.wasm"), "not the default module too");
    assert.ok(!readdirSync(path.join(work, "broker-extension/vendor/tessera-companion")).includes("proxy"), "the default build ships no proxy entry");
    const manifest = JSON.parse(readFileSync(path.join(ext, "manifest.json"), "utf8"));
    assert.deepEqual(manifest.host_permissions, ["http://127.0.0.1/*"], "proxy and Stora API (loopback: one pattern, any port)");
    const config = JSON.parse(readFileSync(path.join(ext, "config.json"), "utf8"));
    assert.deepEqual(config, { brokerUrl: env.broker, proxy: { storaApiUrl: env.storaApi } });
  });

  await t.test("proxy: register with the proxy, connect through it, orders straight from Stora", async () => {
    await options.reload();
    await expectStatus("Not registered");
    assert.equal((await options.locator("#broker-label").innerText()).trim(), "Authorization proxy");
    assert.equal(await options.locator("#broker-url").innerText(), env.broker);
    await options.locator("#email").fill(EMAIL);
    await options.locator("#register").click();
    await expectStatus("Registered, not connected");
    installId = (await options.locator("#install-id").innerText()).trim();
    assert.match(installId, /^ins_/);
    const before = (await requests()).length;
    await connectVia("#connect", "proxy-connect");
    await expectStatus("Connected");
    await expectOrders();
    assert.equal(await badge(), "");
    // The proxy forwards no call: these came from the extension, with its own token.
    const calls = (await requests()).slice(before).filter((r) => r.path === "/2025-09/orders");
    assert.ok(calls.length >= 1 && calls.every((r) => r.status === 200 && r.operator === "opr_demo"), JSON.stringify(calls));
    await remember();
    shown.push(await visibleText(options));
    await screenshot(options, "proxy-connected-orders");
  });

  await t.test("proxy: at rest, chrome.storage holds the tokens only sealed", async () => {
    const stored = await assertNoSealKeyInStorage();
    const text = JSON.stringify(stored);
    for (const tk of tokens) assert.ok(!text.includes(tk), "no token text in chrome.storage");
    assert.ok(!stored["tessera.state"].includes(installId), "the stored state is sealed");
  });

  let refreshedAt;
  await t.test("proxy: Stora expires the token, six calls at once from two pages: one refresh, every call answered", async () => {
    const second = watch(await context.newPage());
    await second.goto(`${site}/options.html`);
    await second.locator("#message", { hasText: "Loaded 3 orders." }).waitFor({ timeout: STEP_TIMEOUT });
    await stora("POST", "/_control/expire_tokens", { operator: "opr_demo" });
    const before = await counters();
    const seen = (await requests()).length;
    // Three messages to the service worker from each page, all in flight together.
    const fire = (page) => page.evaluate(() => Promise.all([1, 2, 3].map(() => chrome.runtime.sendMessage({ type: "orders" }))));
    const answers = (await Promise.all([fire(options), fire(second)])).flat();
    refreshedAt = Date.now();
    const after = await counters();
    const calls = (await requests()).slice(seen).filter((r) => r.path === "/2025-09/orders");
    const refused = calls.filter((r) => r.status === 401).length;
    const refreshes = after.refreshes - before.refreshes;
    console.log(
      `proxy concurrent refresh (extension): ${answers.length} calls from 2 pages, ${refreshes} refresh at Stora, ` +
        `${refused} call refused by Stora (401), ${answers.filter((a) => a.ok).length} answered`,
    );
    assert.deepEqual(answers.map((a) => [a.ok, a.value?.data?.length]), Array(6).fill([true, 3]));
    assert.equal(refreshes, 1, "one refresh for all six calls");
    assert.equal(after.invalid_grants, before.invalid_grants, "no rotated refresh token was sent again");
    assert.ok(refused <= 1, "at most the first call met the expired token");
    await remember();
    await second.close();
  });

  await t.test("proxy: the token's own lifetime runs out: refreshed before the call, which Stora accepts", async () => {
    // The pair refreshed above is fresh for PROXY_FRESH_MS by the extension's clock.
    await sleep(Math.max(0, refreshedAt + PROXY_FRESH_MS + 1500 - Date.now()));
    const before = await counters();
    const seen = (await requests()).length;
    await refreshOrders();
    await expectOrders();
    const after = await counters();
    const calls = (await requests()).slice(seen).filter((r) => r.path === "/2025-09/orders");
    console.log(`proxy expiry (extension): ${after.refreshes - before.refreshes} refresh, calls at Stora: ${calls.map((r) => r.status).join(", ")}`);
    assert.equal(after.refreshes - before.refreshes, 1, "refreshed once");
    assert.deepEqual(calls.map((r) => r.status), [200], "refreshed before the call: Stora refused nothing");
    await remember();
  });

  await t.test("proxy: the grant is revoked at Stora: Reconnect required; reconnect", async () => {
    await stora("POST", "/_control/revoke_grant", { operator: "opr_demo" });
    await refreshOrders();
    await expectStatus("Reconnect required");
    assert.ok(await options.locator("#notice").isVisible());
    assert.match(await options.locator("#message").innerText(), /\[reconnect_required\]/);
    assert.equal(await badge(), "!");
    shown.push(await visibleText(options));
    assert.equal(await storedTokens(), null, "the dead pair is dropped");
    await screenshot(options, "proxy-reconnect-required");
    await connectVia("#reconnect", "proxy-reconnect");
    await expectStatus("Connected");
    await expectOrders();
    assert.equal(await badge(), "");
    await remember();
  });

  await t.test("proxy: disconnect revokes the grant at Stora through the proxy", async () => {
    const before = await counters();
    await options.locator("#disconnect").click();
    await expectStatus("Registered, not connected");
    assert.equal((await options.locator("#message").innerText()).trim(), "Disconnected.");
    assert.equal((await counters()).revokes, before.revokes + 1, "Stora saw the proxy's revoke");
    const grants = await stora("GET", "/_control/grants?operator=opr_demo");
    assert.ok(grants.length >= 2 && grants.every((g) => g.revoked), "no live grant left");
    assert.equal(await storedTokens(), null, "no pair kept");
  });

  await t.test("proxy: remove connection revokes, deregisters and wipes", async () => {
    await connectVia("#connect", "proxy-before-remove");
    await expectOrders();
    await remember();
    const before = await counters();
    await options.locator("#remove").click();
    await expectStatus("Not registered");
    assert.equal((await options.locator("#message").innerText()).trim(), "Connection removed: disconnected, deregistered and local state wiped.");
    assert.equal((await counters()).revokes, before.revokes + 1);
    const stored = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get(null));
    assert.equal(stored["tessera.state"], undefined, "local state wiped");
  });

  await t.test("proxy: no token in chrome.storage, the console, a URL or what the pages showed", async () => {
    // Connected again, so that the last pair is searched for too.
    await options.locator("#email").fill(EMAIL);
    await options.locator("#register").click();
    await expectStatus("Registered, not connected");
    installId = (await options.locator("#install-id").innerText()).trim();
    await connectVia("#connect", "proxy-before-uninstall");
    await expectOrders();
    await remember();
    shown.push(await visibleText(options), await options.content());
    // The service worker's console is recorded too (a probe line proves it).
    await context.serviceWorkers()[0].evaluate(() => console.log("tessera-console-probe"));
    await sleep(100);
    assert.ok(consoleLines.some((l) => l.includes("tessera-console-probe")), "the worker's console is recorded");
    const stored = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get(null));
    const storaUrls = (await requests()).map((r) => `${r.path}?${r.query ?? ""}`);
    const places = [
      ["chrome.storage.local (the sealed state included)", JSON.stringify(stored)],
      ["the extension's console output (pages and service worker)", consoleLines.join("\n")],
      ["a URL the browser requested", urls.join("\n")],
      ["a URL Stora was called with", storaUrls.join("\n")],
      ["what the pages showed", shown.join("\n")],
    ];
    const leaks = [];
    for (const [place, text] of places) {
      for (const tk of tokens) for (const n of [tk, encodeURIComponent(tk)]) if (text.includes(n)) leaks.push(`${n.slice(0, 6)}… in ${place}`);
    }
    console.log(`proxy secrets: ${tokens.size} tokens searched in ${urls.length} browser URLs, ${storaUrls.length} Stora calls, ${consoleLines.length} console lines`);
    assert.equal(tokens.size, 12, "six pairs: three connects, two refreshes, a reconnect");
    assert.ok(urls.some((u) => u.startsWith(`${site}/connected.html?`)), "the callback URL was seen (and holds no token)");
    assert.deepEqual(leaks, []);
  });

  await t.test("proxy: uninstall: Chromium opens the signed ticket URL and the proxy deregisters", async () => {
    const ticketTab = context.waitForEvent("page", { timeout: STEP_TIMEOUT });
    options.evaluate(() => chrome.management.uninstallSelf({ showConfirmDialog: false })).catch(() => {});
    const tab = watch(await ticketTab);
    await tab.waitForURL(`${env.broker}/installations/${installId}/uninstall?**`, { timeout: STEP_TIMEOUT });
    await tab.waitForLoadState("load");
    assert.deepEqual([...new URL(tab.url()).searchParams.keys()].sort(), ["sig", "ts"], "a ticket, never the secret");
    // The page claims no revocation: the proxy held no token to revoke with.
    const page = await tab.locator("body").innerText();
    assert.match(page, /Tessera companion removed[\s\S]*No connection to your Stora account was held here/);
    assert.doesNotMatch(page, /was revoked/);
    // The same ticket again: the installation is gone.
    assert.equal((await fetch(tab.url())).status, 404, "deregistered");
    // The proxy holds no token, so it cannot revoke the grant: the operator's grant stays at Stora.
    const live = (await stora("GET", "/_control/grants?operator=opr_demo")).filter((g) => !g.revoked).length;
    console.log(`proxy uninstall: deregistered at the proxy; ${live} grant still live at Stora (no token left to revoke it with)`);
  });

  assert.deepEqual(pageErrors, [], "no errors in the extension's pages (CSP, wasm, script)");
});

// The example MV3 extension (examples/browser-extension) in Debian's Chromium,
// driven by playwright-core, against the reference broker and the fake Stora
// (tessera-e2e-env --no-ownership-proof, all on 127.0.0.1).
//
// Env: TESSERA_E2E_ENV (the binary), TESSERA_COMPANION_PKG (the unpacked npm
// package tessera-companion), TESSERA_ARTIFACTS (screenshots; default
// artifacts/extension), CHROMIUM (default /usr/bin/chromium).

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

let env; // { child, broker, stora, adminToken }
let work; // temporary directory: the built extension and the profile
let context;
let extensionId;
let options; // the options page
/** Prefix of every Stora code and token in this run (tessera-e2e-env --token-canary). */
const STORA_CANARY = "CANARYext-";
/** Every console message of the extension's pages (searched for secrets). */
const consoleLines = [];
let shot = 0;
const pageErrors = [];

// ---- the environment -------------------------------------------------------------------

async function startEnv() {
  const bin = process.env.TESSERA_E2E_ENV ?? path.join(root, "target/debug/tessera-e2e-env");
  const child = spawn(bin, ["--no-ownership-proof", "--max-lifetime", "600", "--token-canary", STORA_CANARY], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const first = await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`tessera-e2e-env exited with ${code}`)));
    createInterface({ input: child.stdout }).once("line", resolve);
  });
  const info = JSON.parse(first);
  return { child, broker: info.broker_url, stora: info.stora_url, adminToken: info.admin_token };
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

/** Clicks Connect or Reconnect, approves at the fake Stora, lands on connected.html. */
async function connectVia(button, name) {
  const tabOpened = context.waitForEvent("page", { timeout: STEP_TIMEOUT });
  await options.locator(button).click();
  const tab = watch(await tabOpened);
  await tab.locator("#continue").click({ timeout: STEP_TIMEOUT }); // the broker's interstitial: Continue
  await tab.locator("#approve").waitFor({ timeout: STEP_TIMEOUT });
  assert.ok(tab.url().startsWith(env.stora + "/oauth2/authorize?"), tab.url());
  assert.match(await tab.locator("h1").innerText(), /Allow .* to access your Stora account\?/);
  await screenshot(tab, `${name}-stora-consent`);
  await tab.locator("#approve").click();
  await tab.locator("#title", { hasText: "Connected to Stora" }).waitFor({ timeout: STEP_TIMEOUT });
  const landed = new URL(tab.url());
  assert.equal(`${landed.protocol}//${landed.host}`, `chrome-extension://${extensionId}`);
  assert.equal(landed.pathname, "/connected.html");
  assert.equal(landed.search, "", "the broker token is taken out of the address bar");
  assert.match(await tab.locator("#detail").innerText(), /Installation ins_\S+ is connected/);
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

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  for (const f of await import("node:fs").then((fs) => fs.readdirSync(artifacts))) {
    if (f.endsWith(".png")) rmSync(path.join(artifacts, f));
  }
  env = await startEnv();
  work = mkdtempSync(path.join(tmpdir(), "tessera-ext-"));
  const extDir = path.join(work, "extension");
  // The extension build step, as a partner runs it, pointed at this broker.
  execFileSync(
    process.execPath,
    [
      path.join(root, "examples/browser-extension/build.mjs"),
      "--broker-url",
      env.broker,
      "--stora-url",
      env.stora,
      "--package",
      packageDir,
      "--out",
      extDir,
    ],
    { stdio: "inherit" },
  );
  context = await chromium.launchPersistentContext(path.join(work, "profile"), {
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
  assert.match(readFileSync(path.join(src, "tessera-host.js"), "utf8"), /\.register\(registration, driver\(onPersist\)\)/);
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
    // The state is sealed at rest, with its key under another storage key.
    const stored = await context.serviceWorkers()[0].evaluate(() => chrome.storage.local.get(null));
    assert.match(stored["tessera.state"], /^tsv1\./);
    assert.ok(!stored["tessera.state"].includes(installId), "the stored state is sealed");
    assert.equal(typeof stored["tessera.sealKey"], "string");
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
    await connectVia("#connect", "connect");
    await expectStatus("Connected");
    await expectOrders();
    assert.equal(await badge(), "");
    assert.equal((await admin(`/admin/installations/${installId}`)).body.grant.status, "active");
    await screenshot(options, "connected-orders");
  });

  await t.test("chrome.storage holds the secret and the token only sealed; no console line or page holds one", async () => {
    const sw = context.serviceWorkers()[0];
    const stored = await sw.evaluate(() => chrome.storage.local.get(null));
    // Open the sealed state the way the extension does (its key is stored next to it:
    // sealing protects a copied state value, not a copy of the whole storage).
    const { Companion } = await import(path.join(packageDir, "index.node.js"));
    const key = Buffer.from(stored["tessera.sealKey"], "base64");
    const state = JSON.parse(Companion.openState(stored["tessera.state"], new Uint8Array(key)).toJSON());
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
    await screenshot(options, "removed");
  });

  await t.test("a stored state that does not open is an error with a way out, never 'empty'", async () => {
    const sw = context.serviceWorkers()[0];
    // As if the seal key were lost: a fresh key no longer opens the sealed state.
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
    assert.notEqual(stored["tessera.sealKey"], btoa("k".repeat(32)), "a new key was drawn");
  });

  await t.test("uninstall: Chromium opens the signed ticket URL and the broker deregisters", async () => {
    await options.locator("#email").fill(EMAIL);
    await options.locator("#register").click();
    await expectStatus("Registered, not connected");
    const second = (await options.locator("#install-id").innerText()).trim();
    assert.notEqual(second, installId, "a fresh installation");
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
    assert.match(await tab.locator("body").innerText(), /Tessera companion removed/);
    await screenshot(tab, "uninstall-ticket");
    assert.equal((await admin(`/admin/installations/${second}`)).status, 404, "the broker deregistered it");
    assert.equal((await stora("GET", "/_control/counters")).revokes, before.revokes + 1, "and revoked the grant");
  });

  assert.deepEqual(pageErrors, [], "no errors in the extension's pages (CSP, wasm, script)");
});

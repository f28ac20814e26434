// The npm README's examples work as written (issue 17, item 9), as a doctest
// would prove it: every ```js / ```ts / ```json block of the README shipped in
// the published tarball (node_modules/.shipped/tessera-companion, unpacked by
// scripts/test.d/10-wasm.sh) carries a `<!-- readme-test: … -->` marker (the
// list is at the top of the README's source) and is checked accordingly:
//
// - every JS/TS block is type-checked by the TypeScript compiler of
//   wasm/node_modules (strict, checkJs, noEmit, skipLibCheck false) against
//   the SHIPPED .d.ts — under lib es2022 and under esnext, so the package's
//   own `Symbol.dispose` declarations work with and without the lib's; the
//   host's names (`chrome`, `db`, `loadSealKey`, a minimal `node:http`) are
//   declared in AMBIENT below, shaped as @types/chrome and @types/node shape
//   them;
// - `node` blocks run as programs (node, or TS transpiled), and a line
//   `console.log(…); // X` must print X;
// - the `service-worker` block (the extension quick start) runs in Node with a
//   fake `chrome` built from the README's manifest (an API whose permission the
//   manifest lacks is absent, as in Chromium) and a fake fetch that serves the
//   .wasm and answers as the reference broker does, verifying every request
//   with the package's own broker side: install → register, message "connect"
//   → launchWebAuthFlow → completeConnect, message "orders" → a signed call
//   with the broker token; the uninstall link verifies;
// - the `manifest` block parses and has what an MV3 extension using the
//   package needs; the `broker-server` block serves signed requests the test
//   sends it over HTTP on 127.0.0.1; the `replay-store` block is used as the
//   replay store of a verification.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { Server } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SHIPPED = fileURLToPath(new URL("./node_modules/.shipped/tessera-companion/", import.meta.url));
const README = readFileSync(join(SHIPPED, "README.md"), "utf8");
const SOURCE_README = fileURLToPath(new URL("../npm/README.md", import.meta.url));
const EXAMPLE_MANIFEST = fileURLToPath(new URL("../../examples/browser-extension/src/manifest.json", import.meta.url));
const ts = createRequire(fileURLToPath(new URL("../package.json", import.meta.url)))("typescript");

// The broker side comes from the shipped package's broker module (its own
// wasm): importing it does not load the plugin module, which the service
// worker's init() must fetch itself.
const broker = await import(pathToFileURL(join(SHIPPED, "broker.js")).href);
const { verifyRequest, verifyConnectUrl, verifyUninstallTicket, MemoryReplayStore } = broker;

const MODES = new Set(["service-worker", "manifest", "json", "node", "broker-server", "replay-store"]);
const CHECKED_LANGS = new Set(["js", "ts", "json"]);

/** The README's fenced blocks with their marker and line: `{ lang, code, line, mode, reason? }`. */
function blocks(markdown) {
  const lines = markdown.split("\n");
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && lines[end] !== "```") end++;
    assert.ok(end < lines.length, `README line ${i + 1}: unterminated code block`);
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === "") k--;
    const marker = /^<!-- readme-test: (\S+)(?: \((.+)\))? -->$/.exec(lines[k] ?? "");
    out.push({ lang: open[1], code: lines.slice(i + 1, end).join("\n") + "\n", line: i + 2, mode: marker?.[1], reason: marker?.[2] });
    i = end;
  }
  return out;
}

const ALL = blocks(README);
const byMode = (mode) => ALL.filter((b) => b.mode === mode);

// ---- a scratch project: the snippets beside the shipped package ----------------------------

const DIR = mkdtempSync(join(tmpdir(), "tessera-readme-"));
process.on("exit", () => rmSync(DIR, { recursive: true, force: true }));
writeFileSync(join(DIR, "package.json"), JSON.stringify({ type: "module" }));
mkdirSync(join(DIR, "node_modules"));
symlinkSync(SHIPPED, join(DIR, "node_modules", "tessera-companion"), "dir");
// What an extension ships: the package's browser files copied (as the example's build.mjs does).
mkdirSync(join(DIR, "vendor"));
cpSync(SHIPPED, join(DIR, "vendor", "tessera-companion"), { recursive: true });

/** The file a block is written to (`b<line>.js` / `.ts`; run as `.mjs`). */
const fileOf = (b, ext = b.lang) => join(DIR, `b${b.line}.${ext}`);

// The host's names, declared as @types/chrome and @types/node declare them (the
// members the README uses): the README's code must type-check against these
// and the SHIPPED .d.ts only.
const AMBIENT = `
declare namespace chrome {
  namespace runtime {
    const id: string;
    function getURL(path: string): string;
    function getManifest(): { name: string; version: string; [key: string]: unknown };
    function setUninstallURL(url: string): Promise<void>;
    interface MessageSender { id?: string; url?: string }
    const onInstalled: { addListener(callback: (details: { reason: string }) => void): void };
    const onMessage: {
      addListener(callback: (message: any, sender: MessageSender, sendResponse: (response?: any) => void) => boolean | void): void;
    };
  }
  namespace storage {
    const local: {
      get(keys?: string | string[] | null): Promise<{ [key: string]: any }>;
      set(items: { [key: string]: any }): Promise<void>;
      remove(keys: string | string[]): Promise<void>;
    };
  }
  namespace identity {
    function getRedirectURL(path?: string): string;
    function launchWebAuthFlow(details: { url: string; interactive?: boolean }): Promise<string | undefined>;
  }
}
/** The extension's seal key (the README says it is the host's). */
declare function loadSealKey(): Promise<Uint8Array>;
/** The broker's database (the README says so). */
declare const db: {
  secretOf(installId: string): Promise<string | null>;
  recordNonce(key: string, expiresAt: number, now: number): Promise<"fresh" | "seen" | "full">;
};
declare class Buffer extends Uint8Array<ArrayBuffer> {
  static concat(list: readonly Uint8Array[]): Buffer;
}
declare module "node:http" {
  interface IncomingMessage extends AsyncIterable<any> {
    method?: string | undefined;
    url?: string | undefined;
    headers: Record<string, string | string[] | undefined>;
    rawHeaders: string[];
  }
  interface ServerResponse {
    sendDate: boolean;
    writeHead(statusCode: number, headers?: Record<string, string | number | readonly string[]>): this;
    end(chunk?: string | Uint8Array): this;
  }
  interface Server {
    listen(port: number, hostname: string): this;
    close(): this;
  }
  function createServer(listener: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Server;
}
`;

/** tsc over every JS/TS block (each its own module) → diagnostics as "README line N: message". */
function typeCheck(lib) {
  writeFileSync(join(DIR, "ambient.d.ts"), AMBIENT);
  const files = [join(DIR, "ambient.d.ts")];
  const where = new Map();
  for (const b of ALL) {
    if (b.mode === "skip" || !["js", "ts"].includes(b.lang)) continue;
    const module = /^\s*(import|export)\s/m.test(b.code) ? "" : "export {};\n";
    writeFileSync(fileOf(b), b.code + module);
    files.push(fileOf(b));
    where.set(fileOf(b), b.line);
  }
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib,
    strict: true,
    noEmit: true,
    allowJs: true,
    checkJs: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    types: [],
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (!d.file) return message;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    const at = where.get(d.file.fileName);
    return at === undefined ? `${d.file.fileName}:${line + 1}: ${message}` : `README line ${at + line}: ${message}`;
  });
}

/** A block as a runnable .mjs (TS transpiled, `using` included), with `suffix` appended. */
function runnable(b, suffix = "") {
  let code = b.code;
  if (b.lang === "ts") {
    code = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
  }
  const file = fileOf(b, "mjs");
  writeFileSync(file, code + suffix);
  return file;
}

/** Whether `code` awaits outside every function (top-level await, `for await`). */
function topLevelAwait(code) {
  const sf = ts.createSourceFile("x.js", code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
  let found = false;
  const visit = (node) => {
    if (found || ts.isFunctionLike(node) || ts.isClassLike(node)) return;
    if (node.kind === ts.SyntaxKind.AwaitExpression || (ts.isForOfStatement(node) && node.awaitModifier)) found = true;
    else ts.forEachChild(node, visit);
  };
  ts.forEachChild(sf, visit);
  return found;
}

/** Polls `ready()` until it holds (the service worker's listeners do not return their promises). */
async function until(ready, what, failures) {
  for (let i = 0; i < 500; i++) {
    if (failures.length > 0) assert.fail(`${what}: ${failures.join("; ")}`);
    if (ready()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const text = (bytes) => new TextDecoder().decode(bytes);

// ---- the blocks are all accounted for ---------------------------------------------------------

test("the shipped README is the source README, and every code block carries a known readme-test marker", () => {
  assert.equal(README, readFileSync(SOURCE_README, "utf8"), "the tarball's README.md is wasm/npm/README.md");
  assert.ok(ALL.length >= 6, `only ${ALL.length} code blocks found`);
  for (const b of ALL) {
    assert.ok(b.mode !== undefined, `README line ${b.line}: a \`\`\`${b.lang} block without a <!-- readme-test: … --> marker`);
    if (b.mode === "skip") {
      assert.ok(b.reason, `README line ${b.line}: readme-test: skip needs a (reason)`);
      continue;
    }
    assert.ok(MODES.has(b.mode), `README line ${b.line}: unknown readme-test mode ${b.mode}`);
    assert.ok(CHECKED_LANGS.has(b.lang), `README line ${b.line}: a checked block must be js, ts or json, not "${b.lang}"`);
    const json = b.mode === "manifest" || b.mode === "json";
    assert.equal(b.lang === "json", json, `README line ${b.line}: mode ${b.mode} does not fit a ${b.lang} block`);
  }
  for (const mode of ["service-worker", "manifest", "broker-server", "replay-store"]) {
    assert.equal(byMode(mode).length, 1, `exactly one ${mode} block`);
  }
  assert.ok(byMode("node").length >= 1);
});

test("every JS/TS block type-checks against the shipped .d.ts (strict, checkJs), with lib es2022 and esnext", () => {
  for (const lib of [["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"], ["lib.esnext.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"]]) {
    assert.deepEqual(typeCheck(lib), [], `tsc with ${lib.join(", ")}`);
  }
});

test("the type check can fail: a misuse of the shipped API in a block is reported at its README line", () => {
  const b = byMode("service-worker")[0];
  const saved = b.code;
  b.code = saved.replace('{ method: "GET", path:', '{ method: 42, path:');
  assert.notEqual(b.code, saved);
  try {
    const errors = typeCheck(["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"]);
    assert.equal(errors.length, 1, errors.join("\n"));
    const line = b.line + saved.split("\n").findIndex((l) => l.includes('{ method: "GET", path:'));
    assert.match(errors[0], new RegExp(`^README line ${line}: .*number.*string`));
  } finally {
    b.code = saved;
  }
});

// ---- the extension: manifest and service worker -----------------------------------------------

const MANIFEST = JSON.parse(byMode("manifest")[0]?.code ?? "null");

test("the manifest block: an MV3 module service worker, the permissions the quick start uses, key, CSP as the example's", () => {
  const sw = byMode("service-worker")[0].code;
  assert.equal(MANIFEST.manifest_version, 3);
  assert.deepEqual(MANIFEST.background, { service_worker: "background.js", type: "module" });
  assert.equal(typeof MANIFEST.key, "string", "`key`: a stable extension id, so the broker's allow-list holds");
  // Every chrome.* API with a permission that the service worker uses is granted.
  for (const api of ["storage", "identity", "alarms", "tabs"]) {
    if (sw.includes(`chrome.${api}.`)) assert.ok(MANIFEST.permissions.includes(api), `permissions lacks "${api}"`);
  }
  const brokerUrl = /const BROKER_URL = "([^"]+)"/.exec(sw)[1];
  assert.deepEqual(MANIFEST.host_permissions, [`${new URL(brokerUrl).origin}/*`], "host_permissions: the broker's origin");
  const example = JSON.parse(readFileSync(EXAMPLE_MANIFEST, "utf8"));
  assert.deepEqual(MANIFEST.content_security_policy, example.content_security_policy, "the example extension's CSP");
  assert.match(MANIFEST.content_security_policy.extension_pages, /'wasm-unsafe-eval'/);
  assert.equal(MANIFEST.minimum_chrome_version, example.minimum_chrome_version);
});

test("the web_accessible_resources block returns to the page for the broker's origin, as the example's", () => {
  const [war] = byMode("json").map((b) => JSON.parse(b.code)).filter((j) => "web_accessible_resources" in j);
  assert.ok(war, "a web_accessible_resources block");
  const example = JSON.parse(readFileSync(EXAMPLE_MANIFEST, "utf8"));
  const [entry] = war.web_accessible_resources;
  assert.deepEqual(entry.resources, example.web_accessible_resources[0].resources);
  assert.ok(entry.matches.includes(MANIFEST.host_permissions[0]), "the broker's origin may send the browser back");
  assert.equal(entry.matches.length, 2, "the broker's and Stora's origins");
  for (const b of byMode("json")) JSON.parse(b.code);
});

test("the service worker: relative imports, no top-level await, and it runs: install → register, connect, a call", async () => {
  const b = byMode("service-worker")[0];
  const imports = [...b.code.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
  assert.ok(imports.length > 0);
  for (const spec of imports) assert.match(spec, /^\.\/vendor\/tessera-companion\/[a-z.]+\.js$/, "an unbundled service worker resolves relative paths only");
  assert.equal(topLevelAwait(b.code), false, "no top-level await in a service worker");
  const wasmPath = /init\(chrome\.runtime\.getURL\("([^"]+)"\)\)/.exec(b.code)?.[1];
  assert.equal(wasmPath, "vendor/tessera-companion/tessera_wasm_bg.wasm");

  const EXT = "abcdefghijklmnopabcdefghijklmnop"; // a Chromium extension id
  const KEY = new Uint8Array(32).fill(7);
  const CODE = "cc_readme0123456789abcdefABCDEF";
  const ORDERS = [{ id: "o_1", status: "paid" }];
  const failures = [];
  const warnings = [];
  const store = new Map();
  const listeners = { installed: [], message: [] };
  const uninstallUrls = [];
  const fetched = [];
  const installs = new Map(); // install id → { secret, siteUrl }
  const replayStore = new MemoryReplayStore();
  const secretFor = (id) => installs.get(id)?.secret ?? null;
  let pending; // the connect code the broker issued
  let brokerToken;

  const manifestOrigins = MANIFEST.host_permissions.map((p) => p.replace(/\/\*$/, ""));
  const json = (status, value) => new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", "cache-control": "no-store" } });
  /** The reference broker's routes, each request verified by the package's broker side. */
  async function brokerAnswer(url, init) {
    const u = new URL(url);
    const body = init.body === undefined ? new Uint8Array(0) : new Uint8Array(init.body);
    if (init.method === "POST" && u.pathname === "/installations") {
      const reg = JSON.parse(text(body));
      // The identity the reference broker accepts for an extension (examples/broker check_site_url).
      if (reg.site_url !== `chrome-extension://${EXT}`) failures.push(`registered site_url ${reg.site_url}`);
      if (reg.platform !== "chrome-extension" || reg.plugin_version !== MANIFEST.version) failures.push(`registration ${text(body)}`);
      installs.set(reg.install_id, { secret: reg.secret, siteUrl: reg.site_url });
      return json(201, {});
    }
    let verified;
    try {
      verified = await verifyRequest({ method: init.method, url, headers: init.headers, body }, { secretFor, replayStore });
    } catch (e) {
      failures.push(`${init.method} ${u.pathname}: ${e.code ?? e}`);
      return new Response(e.wireBody ?? "{}", { status: e.wireStatus ?? 500, headers: e.wireHeaders ?? {} });
    }
    if (init.method === "POST" && u.pathname === "/connect/complete") {
      const { code, state } = JSON.parse(text(body));
      if (verified.bearer !== undefined) failures.push("the exchange carried a bearer");
      if (code !== pending?.code || state !== pending.state || verified.installId !== pending.installId) return json(400, { error: "connect_code_invalid" });
      brokerToken = `bt_${crypto.randomUUID()}`;
      return json(200, { broker_token: brokerToken, account: { id: "acct_1", name: "Shop & Storage Ltd" } });
    }
    if (init.method === "GET" && u.pathname === "/api/orders") {
      if (verified.bearer !== brokerToken) return json(401, { error: "broker_token_invalid" });
      return json(200, ORDERS);
    }
    return json(404, { error: "not_found" });
  }
  const fakeFetch = async (input, init = {}) => {
    const url = String(input);
    fetched.push(url);
    if (url.startsWith(`chrome-extension://${EXT}/`)) {
      // The extension's own files, as packaged.
      try {
        const bytes = readFileSync(join(DIR, new URL(url).pathname));
        return new Response(bytes, { headers: { "content-type": url.endsWith(".wasm") ? "application/wasm" : "text/plain" } });
      } catch {
        return new Response("", { status: 404 });
      }
    }
    // Without a host permission the service worker's fetch is a CORS failure.
    if (!manifestOrigins.includes(new URL(url).origin)) throw new TypeError(`Failed to fetch ${url} (no host permission)`);
    return brokerAnswer(url, init);
  };

  // Chromium's APIs, only those the manifest's permissions grant.
  const chrome = {
    runtime: {
      id: EXT,
      getURL: (path) => `chrome-extension://${EXT}/${path.replace(/^\//, "")}`,
      getManifest: () => structuredClone(MANIFEST),
      setUninstallURL: async (url) => void uninstallUrls.push(url),
      onInstalled: { addListener: (f) => listeners.installed.push(f) },
      onMessage: { addListener: (f) => listeners.message.push(f) },
    },
  };
  if (MANIFEST.permissions.includes("storage")) {
    chrome.storage = {
      local: {
        get: async (keys) => Object.fromEntries([keys].flat().filter((k) => store.has(k)).map((k) => [k, store.get(k)])),
        set: async (items) => void Object.entries(items).forEach(([k, v]) => store.set(k, v)),
        remove: async (keys) => void [keys].flat().forEach((k) => store.delete(k)),
      },
    };
  }
  if (MANIFEST.permissions.includes("identity")) {
    chrome.identity = {
      getRedirectURL: (path = "") => `https://${EXT}.chromiumapp.org/${path}`,
      // The consent round: the broker verifies the connect link and (its
      // return_url_allowed) sends the browser back only to the installation's
      // own origin or its chromiumapp.org address; the operator approves.
      launchWebAuthFlow: async ({ url, interactive }) => {
        if (interactive !== true) failures.push("launchWebAuthFlow without interactive");
        const link = await verifyConnectUrl(url, { secretFor });
        const site = installs.get(link.installId).siteUrl;
        const to = new URL(link.returnUrl).origin;
        if (to !== site && to !== `https://${site.slice("chrome-extension://".length)}.chromiumapp.org`) {
          failures.push(`return_url ${link.returnUrl} refused (400 return_url_mismatch)`);
          return undefined;
        }
        pending = { code: CODE, state: link.state, installId: link.installId };
        const back = new URL(link.returnUrl);
        back.searchParams.set("state", link.state);
        back.searchParams.set("code", CODE);
        return back.href;
      },
    };
  }

  const saved = { chrome: globalThis.chrome, fetch: globalThis.fetch, loadSealKey: globalThis.loadSealKey, warn: console.warn };
  Object.assign(globalThis, { chrome, fetch: fakeFetch, loadSealKey: async () => KEY });
  console.warn = (...args) => warnings.push(args.map(String).join(" "));
  try {
    await import(pathToFileURL(runnable(b)).href);
    assert.equal(listeners.installed.length, 1, "an onInstalled listener, added at the top level");
    assert.equal(listeners.message.length, 1, "an onMessage listener, added at the top level");

    // Install: registers, stores the sealed state, sets the uninstall link.
    listeners.installed[0]({ reason: "install" });
    await until(() => uninstallUrls.length === 1 || warnings.length > 0, "the registration", failures);
    assert.deepEqual(warnings, []);
    assert.ok(fetched.includes(chrome.runtime.getURL(wasmPath)), "init() fetched the packaged .wasm");
    assert.equal(installs.size, 1);
    const [installId] = installs.keys();
    assert.equal(typeof store.get("tessera"), "string");
    assert.ok(!store.get("tessera").includes(installs.get(installId).secret), "the stored state is sealed");
    assert.equal(typeof (await verifyUninstallTicket(installId, uninstallUrls[0], { secretFor })), "number", "the uninstall link verifies");

    /** Sends a page's message to the worker → its answer. */
    const ask = (msg, sender = { id: EXT, url: chrome.runtime.getURL("options.html") }) =>
      new Promise((resolve) => {
        const async = listeners.message[0](msg, sender, resolve);
        if (async !== true) resolve({ notHandled: async });
      });
    assert.deepEqual(await ask({ type: "orders" }, { id: "another-extension" }), { notHandled: false }, "other senders are ignored");

    // Before connecting, a call is refused locally (not_connected), typed.
    const early = await ask({ type: "orders" });
    assert.equal(early.ok, false);
    assert.equal(early.error.code, "not_connected");

    const connected = await ask({ type: "connect" });
    assert.deepEqual(connected, { ok: true, value: { id: "acct_1", name: "Shop & Storage Ltd" } }, JSON.stringify(connected));
    assert.deepEqual(await ask({ type: "orders" }), { ok: true, value: { orders: ORDERS } });
    assert.deepEqual(failures, []);

    // What was stored opens with the key, connected, with the account.
    const web = await import(pathToFileURL(join(DIR, "vendor", "tessera-companion", "index.web.js")).href);
    const reopened = web.Companion.openState(store.get("tessera"), KEY);
    assert.equal(reopened.status, "connected");
    assert.deepEqual(reopened.account, { id: "acct_1", name: "Shop & Storage Ltd" });
    reopened.free();
    assert.ok(uninstallUrls.length >= 3, "the uninstall link is refreshed after each operation");
  } finally {
    Object.assign(globalThis, saved);
    console.warn = saved.warn;
    for (const k of ["chrome", "loadSealKey"]) if (saved[k] === undefined) delete globalThis[k];
  }
});

// ---- Node blocks ---------------------------------------------------------------------------------

test("the node blocks run as programs and print what their comments say", () => {
  for (const b of byMode("node")) {
    const out = execFileSync(process.execPath, [runnable(b)], { cwd: DIR, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const expected = [...b.code.matchAll(/console\.log\(.*\); \/\/ (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual(out.trim() === "" ? [] : out.trim().split("\n"), expected, `README line ${b.line}`);
  }
});

/** A registered Node companion for the README's broker URL, its secret known to `secrets`. */
async function registeredCompanion(brokerUrl, secrets) {
  const { Companion } = await import(pathToFileURL(join(SHIPPED, "index.node.js")).href);
  const c = Companion.create({ brokerUrl });
  const reg = JSON.parse(text(c.registrationRequest({ siteUrl: "https://shop.example", adminEmail: "o@shop.example", platform: "wordpress", pluginVersion: "1.0.0" }).body));
  c.handleRegistrationResponse({ status: 201, body: "{}" });
  secrets.set(reg.install_id, reg.secret);
  return { companion: c, installId: reg.install_id };
}

test("the broker-server block verifies signed requests over HTTP and answers refusals with the core's wire answer", async () => {
  const b = byMode("broker-server")[0];
  const publicUrl = /const PUBLIC_URL = "([^"]+)"/.exec(b.code)[1];
  const secrets = new Map();
  const asked = [];
  globalThis.db = {
    secretOf: async (id) => (asked.push(id), secrets.get(id) ?? null),
  };
  // The README listens on 8080: here an ephemeral port (suites run side by side), same host.
  const listen = Server.prototype.listen;
  let server;
  Server.prototype.listen = function (port, host, ...rest) {
    assert.equal(port, 8080);
    assert.equal(host, "127.0.0.1", "servers bind 127.0.0.1");
    server = this;
    return listen.call(this, 0, host, ...rest);
  };
  try {
    await import(pathToFileURL(runnable(b)).href);
  } finally {
    Server.prototype.listen = listen;
  }
  assert.ok(server, "the block starts a server");
  if (!server.listening) await new Promise((r) => server.once("listening", r));
  const port = server.address().port;
  try {
    const { companion, installId } = await registeredCompanion(publicUrl, secrets);
    const signed = companion.signRequest({ method: "POST", path: "/api/orders?x=1", headers: { "content-type": "application/json" }, body: '{"a":1}' });
    const send = (req) => {
      const u = new URL(req.url);
      return fetch(`http://127.0.0.1:${port}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body: req.body.length > 0 ? req.body : undefined });
    };
    const ok = await send(signed);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { installId });
    const replay = await send(signed);
    assert.equal(replay.status, 401);
    assert.equal((await replay.json()).error, "replayed");
    assert.equal(replay.headers.get("cache-control"), "no-store");
    const forged = companion.signRequest({ method: "GET", path: "/api/orders" });
    forged.headers = forged.headers.map(([n, v]) => [n, n === "signature" ? v.replace(/:[A-Za-z0-9+/]{4}/, ":AAAA") : v]);
    const refused = await send(forged);
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).error, "signature_invalid");
    assert.deepEqual(asked, [installId, installId, installId], "the secret is looked up once per request");
    companion.free();
  } finally {
    await new Promise((r) => server.close(r));
    delete globalThis.db;
  }
});

test("the replay-store block is a working verifyRequest store: fresh, then seen (replayed)", async () => {
  const b = byMode("replay-store")[0];
  const nonces = new Map();
  const calls = [];
  globalThis.db = {
    recordNonce: async (key, expiresAt, now) => {
      calls.push([key, expiresAt > now]);
      if (nonces.has(key)) return "seen";
      nonces.set(key, expiresAt);
      return "fresh";
    },
  };
  try {
    const { replayStore } = await import(pathToFileURL(runnable(b, "\nexport { replayStore };\n")).href);
    const secrets = new Map();
    const { companion, installId } = await registeredCompanion("https://broker.partner.example", secrets);
    const signed = companion.signRequest({ method: "GET", path: "/api/orders" });
    const secretFor = async (id) => secrets.get(id) ?? null;
    const verified = await verifyRequest(signed, { secretFor, replayStore });
    assert.equal(verified.installId, installId);
    await assert.rejects(verifyRequest(signed, { secretFor, replayStore }), (e) => e.code === "replayed");
    assert.deepEqual(calls, [[`${installId}:${verified.nonce}`, true], [`${installId}:${verified.nonce}`, true]]);
    companion.free();
  } finally {
    delete globalThis.db;
  }
});

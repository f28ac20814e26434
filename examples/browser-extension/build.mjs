#!/usr/bin/env node
// Builds the unpacked extension: src/ + the tessera-companion package files
// (vendor/tessera-companion/) + config.json, with the broker origin written
// into the manifest's host_permissions, and the broker and Stora origins into
// web_accessible_resources (the pages that send the browser back to
// connected.html).
//
//   node build.mjs --broker-url https://broker.partner.example --stora-url https://<Stora's authorize origin>
//                  [--scope "public.order:read"] [--event-url https://partner.example/extension]
//                  [--package node_modules/tessera-companion] [--out dist]
//
// Authorization-proxy mode (docs/PROTOCOL.md §13: the extension keeps the
// operator's Stora tokens, sealed, and calls Stora itself) instead of a broker:
//
//   node build.mjs --proxy-url https://proxy.partner.example --stora-api-url https://<Stora's API>/2025-09
//                  --stora-url https://<Stora's authorize origin> [the options above]
//
// It ships the package's entry `proxy/` (its own, larger module) instead of
// the default one; host_permissions then also hold Stora's API origin.
//
// --event-url: the https page the extension's Stora Timeline Events link to
// (`external.url`); default: the https form of the broker (or proxy) URL.
//
// No bundler: the package's browser entry (index.web.js) is plain ES modules
// loaded by the service worker and the pages as they are.

import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    "broker-url": { type: "string", default: process.env.TESSERA_BROKER_URL },
    "proxy-url": { type: "string", default: process.env.TESSERA_PROXY_URL },
    "stora-api-url": { type: "string", default: process.env.TESSERA_STORA_API_URL },
    "stora-url": { type: "string", default: process.env.TESSERA_STORA_URL },
    scope: { type: "string" },
    "event-url": { type: "string" },
    package: { type: "string", default: join(here, "node_modules", "tessera-companion") },
    out: { type: "string", default: join(here, "dist") },
  },
});

function fail(message) {
  console.error(`build.mjs: ${message}`);
  process.exit(1);
}

// ---- URLs → origin match patterns --------------------------------------------------------
function httpsUrl(name) {
  if (!args[name]) fail(`--${name} is required`);
  let url;
  try {
    url = new URL(args[name]);
  } catch {
    fail(`--${name}: not a URL: ${args[name]}`);
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    fail(`--${name} must use https (plain http only for loopback tests)`);
  }
  return url;
}
/** A match pattern for a URL's origin. Without a port it matches every port (loopback tests). */
function originPattern(url, withPort) {
  return `${url.protocol}//${withPort && url.port ? url.host : url.hostname}/*`;
}
// One of a broker or an authorization proxy: the companion's brokerUrl either way.
const proxyMode = Boolean(args["proxy-url"]);
if (proxyMode === Boolean(args["broker-url"])) fail("give either --broker-url or --proxy-url (with --stora-api-url)");
if (proxyMode !== Boolean(args["stora-api-url"])) fail("--stora-api-url goes with --proxy-url (and only with it)");
const broker = httpsUrl(proxyMode ? "proxy-url" : "broker-url");
const storaApi = proxyMode ? httpsUrl("stora-api-url") : null;
let eventUrl;
if (args["event-url"]) {
  try {
    eventUrl = new URL(args["event-url"]);
  } catch {
    fail(`--event-url: not a URL: ${args["event-url"]}`);
  }
  if (eventUrl.protocol !== "https:") fail("--event-url must use https (Stora takes only https links)");
}
const stora = httpsUrl("stora-url");
const brokerUrl = broker.href.replace(/\/$/, "");
const brokerPattern = originPattern(broker, broker.protocol === "https:");
// In proxy mode the service worker also calls Stora's API itself.
const hostPatterns = [...new Set([brokerPattern, ...(storaApi ? [originPattern(storaApi, storaApi.protocol === "https:")] : [])])];
// Chromium lets a web page send the browser to an extension page only when the
// page's origin matches web_accessible_resources: Stora's consent page (the
// Approve click starts the navigation that ends on connected.html) and the
// broker (it redirects straight back with ?error=… when it refuses a connect).
const returnPatterns = [...new Set([brokerPattern, originPattern(stora, stora.protocol === "https:")])];

// ---- the package -----------------------------------------------------------------------
const pkgDir = resolve(args.package);
const pkgJsonPath = join(pkgDir, "package.json");
if (!existsSync(pkgJsonPath)) fail(`no tessera-companion package at ${pkgDir} (npm install tessera-companion, or --package)`);
const pkg = JSON.parse(readFileSync(pkgJsonPath, "utf8"));
if (pkg.name !== "tessera-companion") fail(`${pkgDir} holds ${pkg.name}, not tessera-companion`);
// The browser entry and what it imports; not the Node entry, the Node-only
// broker side (broker.js and its module), types or docs.
const nodeOnly = (f) => f === "index.node.js" || f === "broker.js" || f.startsWith("tessera_broker");
const browserFiles = (files) => files.filter((f) => f.endsWith(".js") || f.endsWith(".wasm")).filter((f) => !nodeOnly(f));
let vendorFiles = browserFiles(pkg.files ?? []);
if (proxyMode) {
  // The entry `proxy/`: its files beside its own module, and the root files
  // it re-exports (one TesseraError class for both entries); not the default module.
  if (!existsSync(join(pkgDir, "proxy"))) fail(`the package at ${pkgDir} has no proxy/ entry`);
  const files = new Set(browserFiles(readdirSync(join(pkgDir, "proxy"))).map((f) => `proxy/${f}`));
  // Follow the relative imports out of proxy/ (and theirs) to the root files.
  for (const f of files) {
    for (const [, spec] of readFileSync(join(pkgDir, f), "utf8").matchAll(/from "(\.{1,2}\/[\w./]+\.js)"/g)) {
      files.add(join(dirname(f), spec));
    }
  }
  vendorFiles = [...files];
}
const entry = proxyMode ? "proxy/" : "";
for (const need of [`${entry}index.web.js`, `${entry}tessera_wasm_bg.wasm`]) {
  if (!vendorFiles.includes(need) || !existsSync(join(pkgDir, need))) fail(`the package lacks ${need}`);
}

// ---- assemble ------------------------------------------------------------------------------
const out = resolve(args.out);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(join(here, "src"), out, { recursive: true });

const vendor = join(out, "vendor", "tessera-companion");
mkdirSync(join(vendor, entry), { recursive: true });
for (const f of vendorFiles) cpSync(join(pkgDir, f), join(vendor, f));
if (proxyMode) {
  // src/companion.js names the entry the extension loads: the proxy one here.
  writeFileSync(
    join(out, "companion.js"),
    `// Written by build.mjs --proxy-url: the package's authorization-proxy entry.
export * from "./vendor/tessera-companion/proxy/index.web.js";
/** The entry's WebAssembly module, inside the extension. */
export const WASM_PATH = "vendor/tessera-companion/proxy/tessera_wasm_bg.wasm";
`,
  );
}
writeFileSync(join(vendor, "VERSION"), `${pkg.name} ${pkg.version}\n`);

const manifest = JSON.parse(readFileSync(join(here, "src", "manifest.json"), "utf8"));
manifest.host_permissions = hostPatterns;
// connected.html is where the broker redirects the browser after consent.
for (const entry of manifest.web_accessible_resources) entry.matches = returnPatterns;
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");

const config = {
  brokerUrl,
  ...(storaApi ? { proxy: { storaApiUrl: storaApi.href.replace(/\/$/, "") } } : {}),
  ...(args.scope ? { scope: args.scope } : {}),
  ...(eventUrl ? { eventUrl: eventUrl.href } : {}),
};
writeFileSync(join(out, "config.json"), JSON.stringify(config, null, 2) + "\n");

console.log(`built ${out} (${proxyMode ? "authorization proxy" : "broker"} ${brokerUrl}, tessera-companion ${pkg.version}${proxyMode ? " proxy/" : ""})`);

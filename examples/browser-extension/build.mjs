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
// --event-url: the https page the extension's Stora Timeline Events link to
// (`external.url`); default: the https form of the broker URL.
//
// No bundler: the package's browser entry (index.web.js) is plain ES modules
// loaded by the service worker and the pages as they are.

import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    "broker-url": { type: "string", default: process.env.TESSERA_BROKER_URL },
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
const broker = httpsUrl("broker-url");
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
const vendorFiles = (pkg.files ?? []).filter((f) => f.endsWith(".js") || f.endsWith(".wasm")).filter((f) => !nodeOnly(f));
for (const need of ["index.web.js", "tessera_wasm_bg.wasm"]) {
  if (!vendorFiles.includes(need) || !existsSync(join(pkgDir, need))) fail(`the package lacks ${need}`);
}

// ---- assemble ------------------------------------------------------------------------------
const out = resolve(args.out);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(join(here, "src"), out, { recursive: true });

const vendor = join(out, "vendor", "tessera-companion");
mkdirSync(vendor, { recursive: true });
for (const f of vendorFiles) cpSync(join(pkgDir, f), join(vendor, f));
writeFileSync(join(vendor, "VERSION"), `${pkg.name} ${pkg.version}\n`);

const manifest = JSON.parse(readFileSync(join(here, "src", "manifest.json"), "utf8"));
manifest.host_permissions = [brokerPattern];
// connected.html is where the broker redirects the browser after consent.
for (const entry of manifest.web_accessible_resources) entry.matches = returnPatterns;
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");

const config = { brokerUrl, ...(args.scope ? { scope: args.scope } : {}), ...(eventUrl ? { eventUrl: eventUrl.href } : {}) };
writeFileSync(join(out, "config.json"), JSON.stringify(config, null, 2) + "\n");

console.log(`built ${out} (broker ${brokerUrl}, tessera-companion ${pkg.version})`);

// Starts tessera-e2e-env (fake Stora + reference broker + a stand-in for the
// plugin's site, all on 127.0.0.1) and gives the tests a "browser" and a few
// helpers. The environment stops when this process closes its stdin
// (--exit-on-stdin-close), or by itself after --max-lifetime.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { Companion } from "tessera-companion";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** Starts the environment; `args` are extra tessera-e2e-env flags (e.g. `--token-canary X`). */
export async function startEnv(args = []) {
  return spawnEnv(process.env.TESSERA_E2E_ENV ?? path.join(root, "target/debug/tessera-e2e-env"), args);
}

/**
 * Starts tessera-proxy-env (fake Stora + reference authorization proxy +
 * site): the Env's `broker` is the proxy, `storaApi` Stora's API base.
 */
export async function startProxyEnv(args = []) {
  return spawnEnv(process.env.TESSERA_PROXY_ENV ?? path.join(root, "target/debug/tessera-proxy-env"), args);
}

async function spawnEnv(bin, args) {
  const child = spawn(bin, ["--exit-on-stdin-close", "--max-lifetime", "600", "--quiet", ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${path.basename(bin)} exited with ${code}`)));
    lines.once("line", resolve);
  });
  const info = JSON.parse(first);
  return new Env(child, info);
}

export class Env {
  constructor(child, info) {
    this.child = child;
    this.broker = info.broker_url ?? info.proxy_url;
    this.storaApi = info.stora_api_url;
    this.stora = info.stora_url;
    this.site = info.site_url;
    this.returnUrl = info.return_url;
    this.adminToken = info.admin_token;
  }

  stop() {
    this.child.stdin.end();
  }

  companion() {
    return Companion.create({ brokerUrl: this.broker });
  }

  registration() {
    return { siteUrl: this.site, adminEmail: "owner@shop.example", platform: "wordpress", pluginVersion: "1.0.0" };
  }

  /**
   * Registers through the package's driver (`register()`), serving the
   * ownership proof on the site when the broker asks for one → the proofs
   * served. `options` are more driver options (they may replace serveProof).
   */
  async register(c, options = {}) {
    const served = [];
    const outcome = await c.register(this.registration(), {
      // A WordPress plugin serves this from a REST route; the test site takes it by PUT.
      serveProof: async (proof) => {
        const put = await fetch(this.site + proof.path, { method: "PUT", body: proof.body });
        if (put.status !== 204) throw new Error("cannot serve the proof");
        served.push(proof);
      },
      ...options,
    });
    if (outcome.outcome !== "registered") throw new Error(`registration ended with ${outcome.outcome}`);
    return served;
  }

  /**
   * The browser part of connect: returns the URL it landed on (the return
   * URL, with `state` and `code`). One browser (one cookie jar) per call
   * unless `jar` is given: the broker binds the round to the browser's cookie.
   */
  async browseConnect(c, { scope, operator, now, jar = cookieJar() } = {}) {
    const url = c.connectUrl({ returnUrl: this.returnUrl, scope, now });
    let page = await browse(url, this.returnUrl, jar);
    const cont = !page.returned && page.status === 200 && page.body.match(/id="continue" href="([^"]+)"/);
    if (cont) page = await browse(new URL(cont[1].replaceAll("&amp;", "&"), page.url).href, this.returnUrl, jar); // the broker's interstitial: Continue
    if (page.returned) return page.url;
    if (page.status !== 200) throw new Error(`consent page answered ${page.status}`);
    const id = operator ? "approve" : "deny";
    const m = page.body.match(new RegExp(`id="${id}" href="([^"]+)"`));
    if (!m) throw new Error(`no #${id} link`);
    let next = new URL(m[1].replaceAll("&amp;", "&"), page.url).href;
    if (operator) next += `&operator=${encodeURIComponent(operator)}`;
    const landing = await browse(next, this.returnUrl, jar);
    if (!landing.returned) throw new Error(`ended on a page (${landing.status})`);
    return landing.url;
  }

  /**
   * Connects: the browser part, then `completeConnect()` (the signed code
   * exchange, with the global fetch against the broker) → `{ account }`.
   */
  async connect(c, operator, scope, options = {}) {
    return c.completeConnect(await this.browseConnect(c, { operator, scope }), options);
  }

  async connected(operator, scope) {
    const c = this.companion();
    await this.register(c);
    await this.connect(c, operator, scope);
    return c;
  }

  async storaControl(name, body = {}) {
    const r = await fetch(`${this.stora}/_control/${name}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return r.json();
  }

  async storaCounters() {
    return (await fetch(`${this.stora}/_control/counters`)).json();
  }

  async storaRequests(p) {
    const all = await (await fetch(`${this.stora}/_control/requests`)).json();
    return all.filter((r) => r.path === p);
  }

  async admin(method, p) {
    const r = await fetch(this.broker + p, { method, headers: { authorization: `Bearer ${this.adminToken}` } });
    return { status: r.status, body: await r.text() };
  }
}

/** Sends a core request as is (no redirects) and returns {status, headers, body}. */
export async function send(req) {
  const r = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body?.length ? req.body : undefined, redirect: "manual" });
  return { status: r.status, headers: [...r.headers], body: new Uint8Array(await r.arrayBuffer()) };
}

export function errorCode(resp) {
  try {
    return JSON.parse(new TextDecoder().decode(resp.body)).error;
  } catch {
    return undefined;
  }
}

/**
 * A browser's cookies: host[:port] → Map(name → value). Only what the tests
 * need: `Set-Cookie` name=value kept for the host that set it (attributes
 * ignored) and sent back to that host.
 */
export function cookieJar() {
  return new Map();
}

/**
 * Follows redirects like a browser until a page, or a redirect to `stopAt`,
 * keeping cookies in `jar` (a fresh browser when omitted).
 */
export async function browse(url, stopAt, jar = cookieJar()) {
  for (let i = 0; i < 10; i++) {
    if (url.startsWith(stopAt)) return { returned: true, url };
    const host = new URL(url).host;
    const headers = { accept: "text/html" };
    const cookies = jar.get(host);
    if (cookies?.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const r = await fetch(url, { redirect: "manual", headers });
    const setCookies = r.headers.getSetCookie?.() ?? (r.headers.get("set-cookie") ? [r.headers.get("set-cookie")] : []);
    for (const line of setCookies) {
      const pair = line.split(";")[0];
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      if (!jar.has(host)) jar.set(host, new Map());
      jar.get(host).set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const location = r.headers.get("location");
    if ([301, 302, 303, 307, 308].includes(r.status) && location) {
      await r.arrayBuffer();
      url = new URL(location, url).href;
      continue;
    }
    return { returned: false, url, status: r.status, body: await r.text() };
  }
  throw new Error("too many redirects");
}

/** Driver options that record what the core asked for (sleeps are not slept). */
export function recorder({ clock } = {}) {
  const rec = { statuses: [], sleeps: [], persisted: null };
  rec.options = {
    fetch: async (url, init) => {
      const r = await fetch(url, init);
      rec.statuses.push(r.status);
      return r;
    },
    sleep: (ms) => {
      rec.sleeps.push(ms);
    },
    onPersist: (json) => {
      rec.persisted = json;
    },
    clock,
  };
  return rec;
}

export async function getJson(c, p, rec = recorder()) {
  const r = await c.call({ method: "GET", path: p }, rec.options);
  return JSON.parse(new TextDecoder().decode(r.body));
}

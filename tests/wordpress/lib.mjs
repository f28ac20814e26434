// What the WordPress suites share (tests/wordpress/wordpress.test.mjs, the
// broker; tests/wordpress/proxy.test.mjs, the authorization proxy): the
// environment 40-wordpress.sh provides, the headless Chromium (launched in a
// `before` hook of the importing test file), and the helpers of the
// operator's steps. Started by scripts/test.d/40-wordpress.sh, once per
// mode, which provides (environment):
//   WP_TESSERA_MODE   `native`: the site's PHP loads the tessera extension;
//                     `pure`: no extension at all, the plugin runs its bundled copy
//   WP_SERVICE        `broker` (tessera-e2e-env) or `proxy` (tessera-proxy-env)
//   WP_URL            the WordPress site (php -S on 127.0.0.1)
//   WP_WORK           this mode's temporary directory (WordPress tree in WP_WORK/wp)
//   WP_MYSQL_SOCKET   the private MariaDB's socket
//   WP_DB_NAME        this mode's database
//   WP_ARTIFACTS      where screenshots go
//   TESSERA_ENV       the env's JSON line (broker: broker_url, stora_url, admin_token;
//                     proxy: proxy_url, stora_url, stora_api_url)
//   WP_PHP_EXTENSION  the built tessera.so (the PHP CLI steps load it to use the native implementation)
//   TESSERA_STORA_CANARY  prefix of every Stora code and token (broker runs only)
// The steps run in order and depend on each other: after a failure the rest
// are skipped. Each step saves a screenshot and checks the page text.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const site = process.env.WP_URL;
// Where the site runs now: it "moves" to http://localhost:PORT in one step.
export let base = site;
/** The site's address from now on (the broker suite moves it). */
export function setBase(url) {
  base = url;
}
export const work = process.env.WP_WORK;
export const artifacts = process.env.WP_ARTIFACTS;
export const env = JSON.parse(process.env.TESSERA_ENV);
export const wpContent = join(work, 'wp', 'wp-content');
export const settingsUrl = () => `${base}/wp-admin/options-general.php?page=storefront-sync`;
export const OPERATOR = 'opr_demo'; // the fake Stora's default signed-in operator
// What the settings page says after a connect: the fake Stora's account of OPERATOR (GET /2025-09/account).
export const ACCOUNT_TEXT = `Connected to Stora account Northwind Self Storage (${OPERATOR})`;
export const MODE = process.env.WP_TESSERA_MODE || 'native';
assert.ok(['native', 'pure'].includes(MODE), `WP_TESSERA_MODE is native or pure, not ${MODE}`);
// What the plugin's resolver reports in this mode (Storefront_Sync_Tessera::implementation()).
/** `broker` or `proxy`: which service this site's plugin uses (the env in TESSERA_ENV). */
export const SERVICE = process.env.WP_SERVICE || 'broker';
assert.ok(['broker', 'proxy'].includes(SERVICE), `WP_SERVICE is broker or proxy, not ${SERVICE}`);
export const IMPLEMENTATION = MODE === 'native' ? 'native' : 'bundled';
export const DB_NAME = process.env.WP_DB_NAME || 'wordpress';
/** The state-as-JSON method: `toJson()`, `exportState()` in Tessera versions that renamed it (wpPhp code). */
export const EXPORT = '{method_exists($c, "exportState") ? "exportState" : "toJson"}';

let context;
let profileDir;
export let page;
let shot = 0;
let broken = false;
// connectCodes: the single-use codes the browser carried in callback URLs; urls: every URL it requested.
export const notes = { installId: null, connectCodes: new Set(), urls: [] };
// Prefix of every Stora code and token in this run (40-wordpress.sh starts tessera-e2e-env with it).
export const STORA_CANARY = process.env.TESSERA_STORA_CANARY || '';

// ---- helpers ---------------------------------------------------------------------------------

/** A step: skipped once an earlier step failed. */
export function step(name, fn) {
  test(name, async (t) => {
    if (broken) {
      t.skip('an earlier step failed');
      return;
    }
    try {
      await fn(t);
    } catch (e) {
      broken = true;
      if (e instanceof Error && page) e.stack = `(the page was ${page.url()})\n${e.stack}`;
      await screenshot(`FAILED-${name}`).catch(() => {});
      throw e;
    }
  });
}

export async function screenshot(name) {
  shot += 1;
  const file = join(artifacts, `${String(shot).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** The visible text of the page body. */
export async function text() {
  return (await page.locator('body').innerText()).replace(/\s+/g, ' ');
}

export async function expectText(...needles) {
  const body = await text();
  for (const needle of needles) {
    assert.ok(body.includes(needle), `page text should contain ${JSON.stringify(needle)}; page ${page.url()}:\n${body.slice(0, 3000)}`);
  }
  return body;
}

export async function expectNoText(...needles) {
  const body = await text();
  for (const needle of needles) {
    assert.ok(!body.includes(needle), `page text should not contain ${JSON.stringify(needle)}; page ${page.url()}`);
  }
}

export async function status() {
  return page.locator('#storefront-sync-status').getAttribute('data-status');
}

export async function http(method, url, { body, token, headers: extra = {} } = {}) {
  const headers = { ...extra };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
  const raw = await res.text();
  let json = null;
  try {
    json = JSON.parse(raw);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: raw, json };
}

export const brokerAdmin = (path) => http('GET', `${env.broker_url}${path}`, { token: env.admin_token });
export const stora = (method, path, body) => http(method, `${env.stora_url}/_control/${path}`, { body });

/**
 * A GET on Stora's own API as another API client of OPERATOR sees it (the fake's default client,
 * its own OAuth grant of `scope`): how the suite reads what Stora stored, e.g. a contact's metadata.
 */
export async function storaApiGet(path, scope) {
  const client = { id: 'tessera-demo-client', secret: 'tessera-demo-client-secret' }; // fake_stora::Config::default()
  const redirectUri = `${env.stora_url}/suite-callback`;
  const authorize = new URL(`${env.stora_url}/oauth2/authorize`);
  for (const [k, v] of Object.entries({ client_id: client.id, redirect_uri: redirectUri, response_type: 'code', scope, state: 'suite' })) {
    authorize.searchParams.set(k, v);
  }
  const consent = await http('GET', authorize.href);
  const approve = consent.body.match(/id="approve" href="([^"]+)"/)[1].replaceAll('&amp;', '&');
  const decided = await fetch(`${env.stora_url}${approve}&operator=${OPERATOR}`, { redirect: 'manual' });
  const code = new URL(decided.headers.get('location')).searchParams.get('code');
  const form = { grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: client.id, client_secret: client.secret };
  const token = await fetch(`${env.stora_url}/oauth2/token`, { method: 'POST', body: new URLSearchParams(form) }).then((r) => r.json());
  const res = await http('GET', `${env.stora_url}${path}`, { token: token.access_token });
  assert.equal(res.status, 200, `GET ${path}: ${res.body}`);
  return res.json;
}

/** One SQL query against the private MariaDB; rows as arrays of strings. */
export function sql(query) {
  const out = execFileSync(
    'mariadb',
    ['--no-defaults', `--socket=${process.env.WP_MYSQL_SOCKET}`, '-u', 'root', '--batch', '--skip-column-names', DB_NAME, '-e', query],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean).map((line) => line.split('\t'));
}

/**
 * PHP code run by the PHP CLI inside this run's WordPress (as tests/wordpress/install.php loads it,
 * not Debian's configuration), with the tessera extension (`native`) or without any (`pure`).
 * `prelude` runs before WordPress loads. Returns what the code echoes.
 */
export function wpPhp(code, { native, prelude = '' }) {
  const args = native ? ['-d', `extension=${process.env.WP_PHP_EXTENSION}`] : [];
  return execFileSync(
    'php',
    [
      ...args,
      '-r',
      `${prelude} define("ABSPATH", getenv("WP_ROOT") . "/"); $u = parse_url(getenv("WP_URL")); $_SERVER["HTTP_HOST"] = $u["host"] . ":" . $u["port"]; ` +
        `$_SERVER["REQUEST_URI"] = "/"; require ABSPATH . "wp-load.php"; ${code}`,
    ],
    { encoding: 'utf8', env: { ...process.env, WP_ROOT: join(work, 'wp'), WP_URL: site } },
  );
}

export const pluginOptions = () => sql("SELECT option_name, autoload FROM wp_options WHERE option_name LIKE '%storefront%' ORDER BY option_name");

/** Clicks and waits for the navigation it causes to settle. */
export async function clickAndWait(locator) {
  await Promise.all([page.waitForLoadState('load'), locator.click()]);
  await page.waitForLoadState('load');
}

/** At the fake Stora's consent page: check it, screenshot, approve; lands back on the settings page. */
export async function approveAtStora(name) {
  // The broker's interstitial (site, admin domain, scopes): Continue. A proxy has none: its
  // /connect sends the browser straight on to Stora.
  if (SERVICE === 'broker') await page.locator('#continue').click();
  await page.waitForURL((u) => u.href.startsWith(`${env.stora_url}/oauth2/authorize`), { timeout: 15_000 });
  await expectText('Allow tessera-demo-client to access your Stora account?', 'public.order:read');
  await screenshot(name);
  await page.locator('#approve').click();
  // The broker (or the proxy's /callback) redirects to the return URL (with the callback marker);
  // the plugin completes the connect and redirects to the clean settings page.
  await page.waitForURL((u) => u.href.startsWith(settingsUrl()) && !u.searchParams.has('storefront-sync-callback'), {
    timeout: 20_000,
  });
  await page.waitForLoadState('load');
  assert.ok(!page.url().includes('broker_token'), 'no broker token in the address bar');
  assert.ok(!new URL(page.url()).searchParams.has('code'), 'the connect code does not stay in the address bar');
  // The page names the Stora account the site is now connected to (both services).
  await expectText(ACCOUNT_TEXT);
  assert.equal(await page.locator('#storefront-sync-account').getAttribute('data-account-id'), OPERATOR);
}

// ---- the browser --------------------------------------------------------------------------------

const pageListeners = [];
/** Runs `fn(page)` once the browser's page exists (before the first step): to add listeners. */
export function onPage(fn) {
  pageListeners.push(fn);
}

before(async () => {
  const profile = mkdtempSync(join(tmpdir(), 'tessera-wp-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  context.setDefaultTimeout(20_000);
  profileDir = profile;
  page = context.pages()[0] ?? (await context.newPage());
  page.on('dialog', (dialog) => dialog.accept()); // WordPress's "Are you sure…?" before deleting a plugin
  // The callback carries a single-use connect code, never a broker token (the plugin exchanges the
  // code with a signed request): note every URL and each code (the secrets step checks them).
  page.on('request', (req) => {
    const url = new URL(req.url());
    notes.urls.push(req.url());
    if (url.searchParams.has('storefront-sync-callback') && url.searchParams.has('code')) notes.connectCodes.add(url.searchParams.get('code'));
  });
  for (const fn of pageListeners) fn(page);
});

after(async () => {
  await context?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
});

// ---- the operator's steps --------------------------------------------------------------------------

export async function logIn() {
  await page.goto(`${base}/wp-login.php`);
  await page.fill('#user_login', 'admin');
  await page.fill('#user_pass', 'tessera-admin-password');
  await clickAndWait(page.locator('#wp-submit'));
  await page.waitForURL(`${base}/wp-admin/**`);
  await expectText('Dashboard');
}


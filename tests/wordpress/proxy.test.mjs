// The example plugin in a real WordPress with the partner's AUTHORIZATION
// PROXY (docs/PROTOCOL.md §13), as an operator uses it: headless Chromium
// drives wp-admin against tessera-proxy-env (the reference proxy and the fake
// Stora). The site holds the Stora tokens itself, sealed in its option, and
// calls Stora directly; the proxy exchanges the code and renews or revokes the
// tokens. Started by scripts/test.d/40-wordpress.sh once per implementation
// (modes native-proxy and pure-proxy); environment and helpers: ./lib.mjs.
//
// Shorter than the broker's suite (wordpress.test.mjs), which covers what
// does not depend on the service (Site Health, keys, site moves, …). Here:
// choosing the proxy on the settings page, connect through the proxy, calls
// straight to Stora, expiry → one refresh, concurrent page loads → one
// refresh, revoke at Stora → reconnect, disconnect, settings pinned in
// wp-config.php, uninstall, and no token at rest outside the sealed option,
// nor in a log, a URL or a page.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  base,
  work,
  env,
  wpContent,
  settingsUrl,
  OPERATOR,
  MODE,
  SERVICE,
  DB_NAME,
  EXPORT,
  page,
  notes,
  onPage,
  step,
  screenshot,
  expectText,
  expectNoText,
  status,
  http,
  stora,
  sql,
  wpPhp,
  pluginOptions,
  clickAndWait,
  approveAtStora,
  logIn,
} from './lib.mjs';

assert.equal(SERVICE, 'proxy', "this suite is the proxy's (wordpress.test.mjs is the broker's)");
const native = MODE === 'native';
/** How many page loads run at once in the concurrent-refresh step: one per php -S worker. */
const CONCURRENT = Number(process.env.WP_SERVER_WORKERS || 4);
/** Every access and refresh token the fake Stora issues: `sat_` / `srt_` and 32 base64url characters. */
const STORA_TOKEN = /\b(?:sat|srt)_[A-Za-z0-9_-]{32}/g;
/** Every main-frame document the browser received: the secrets step searches them (error pages included). */
const documents = [];
/** Every token the site held at some point (read from its sealed state). */
const heldTokens = new Set();

onPage((p) =>
  p.on('response', async (res) => {
    if (!res.request().isNavigationRequest() || res.request().frame() !== p.mainFrame()) return;
    try {
      documents.push({ url: res.url(), body: await res.text() });
    } catch {
      /* a redirect has no body */
    }
  }),
);

const counters = async () => (await stora('GET', 'counters')).json;
/** The fake Stora's API requests log (oldest first), from index `from` on, for `path`. */
const storaRequests = async (path, from = 0) => (await stora('GET', 'requests')).json.slice(from).filter((r) => r.path === path);
const requestCount = async () => (await stora('GET', 'requests')).json.length;
/** The sealed option as stored. */
const sealedOption = () => sql("SELECT option_value FROM wp_options WHERE option_name = 'storefront_sync_state'")[0]?.[0] ?? null;

/** The site's whole database, as a backup would hold it. */
const databaseDump = () =>
  execFileSync('mariadb-dump', ['--no-defaults', `--socket=${process.env.WP_MYSQL_SOCKET}`, '-u', 'root', '--skip-extended-insert', DB_NAME], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });

/**
 * The site's state, opened the way the plugin opens it (this mode's implementation), with
 * `uninstall_url`, a signed deregistration link of the installation made now; notes its tokens.
 */
function openedState() {
  const { state: json, link } = JSON.parse(
    wpPhp(`$c = Storefront_Sync_State::load(); echo json_encode(["state" => $c->${EXPORT}(), "link" => $c->uninstallUrl()]);`, { native }),
  );
  const state = JSON.parse(json);
  state.uninstall_url = link; // not part of the state: a signed deregistration link made from it
  if (state.tokens) {
    heldTokens.add(state.tokens.access_token);
    heldTokens.add(state.tokens.refresh_token);
  }
  return state;
}

/** The settings page as the logged-in operator's browser would load it, without the browser. */
async function loadSettingsPage(cookie) {
  const res = await fetch(settingsUrl(), { headers: { cookie }, redirect: 'manual' });
  return { status: res.status, body: await res.text() };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Takes MySQL's named lock `name` in a client session of its own, as another PHP process of the
 * site would (GET_LOCK is per connection); `release()` (idempotent) frees it and ends the session.
 */
async function holdLock(name) {
  const client = spawn('mariadb', ['--no-defaults', `--socket=${process.env.WP_MYSQL_SOCKET}`, '-u', 'root', '--batch', '--skip-column-names', '--unbuffered'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  client.stdout.on('data', (chunk) => (out += chunk));
  client.stdin.write(`SELECT GET_LOCK('${name}', 10);\n`);
  const deadline = Date.now() + 10_000;
  while (!out.includes('\n') && Date.now() < deadline) await sleep(20);
  assert.equal(out.trim(), '1', `the suite holds the lock ${name}`);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      client.stdin.end(`SELECT RELEASE_LOCK('${name}');\n`);
      await once(client, 'exit');
    },
  };
}

// ---- the operator's steps --------------------------------------------------------------------------

step('log in to wp-admin', async () => {
  await logIn();
});

step('activate the plugin: it tries the default service (the partner\'s broker, unreachable from here) and says registration will retry', async () => {
  await page.goto(`${base}/wp-admin/plugins.php`);
  await clickAndWait(page.locator('#activate-storefront-sync'));
  await expectText('Plugin activated.', 'is not registered with the Storefront Sync service yet');
  await screenshot('activated-default-broker');
});

step('choose the authorization proxy on the settings page: the site registers with the proxy (ownership proof served)', async () => {
  await page.goto(settingsUrl());
  assert.equal(await page.locator('#storefront-sync-service').getAttribute('data-mode'), 'broker', 'the broker is the default');
  assert.equal(await page.locator('#storefront-sync-settings').getAttribute('data-pinned'), 'no');
  // Tessera checks the URLs: plain http is for loopback hosts only.
  await page.locator('#storefront-sync-mode-proxy').check();
  await page.fill('#storefront-sync-proxy-url', 'http://proxy.example.com');
  await clickAndWait(page.locator('#storefront-sync-save-settings'));
  await expectText('The service settings were not saved: each URL must be an https address');
  assert.equal(await page.locator('#storefront-sync-service').getAttribute('data-mode'), 'broker', 'nothing saved');
  await page.locator('#storefront-sync-mode-proxy').check();
  await page.fill('#storefront-sync-proxy-url', env.proxy_url);
  await page.fill('#storefront-sync-stora-api-url', env.stora_api_url);
  await clickAndWait(page.locator('#storefront-sync-save-settings'));
  await expectText('Service settings saved: this site is registered with the chosen service.', 'Registered', 'Connect to Stora');
  await expectNoText('is not registered with the Storefront Sync service yet');
  assert.equal(await status(), 'registered');
  assert.equal(await page.locator('#storefront-sync-service').getAttribute('data-mode'), 'proxy');
  await expectText(`Authorization proxy at ${env.proxy_url}; calls go straight to Stora at ${env.stora_api_url}`);
  notes.installId = await page.locator('#storefront-sync-install-id').innerText();
  assert.match(notes.installId, /^ins_[A-Za-z0-9_-]{16,}$/);
  await screenshot('registered-with-proxy');
  const state = openedState();
  assert.deepEqual(state.config.proxy?.stora_api_url, env.stora_api_url, 'the installation is in proxy mode');
  assert.equal(state.config.broker_url, env.proxy_url);
  // Registered and proven: the proxy no longer asks for the proof (the route answers 404).
  assert.equal((await http('GET', `${base}/.well-known/tessera/${notes.installId}`)).status, 404);
});

step('Connect through the proxy: consent at Stora, back on the settings page, connected; the orders come straight from Stora', async () => {
  const from = await requestCount();
  const before = await counters();
  await clickAndWait(page.locator('#storefront-sync-connect'));
  await approveAtStora('stora-consent');
  await expectText('Connected to Stora.', 'Recent orders', 'ord_1001', '129.00 GBP');
  assert.equal(await status(), 'connected');
  await screenshot('connected-orders');
  const after = await counters();
  assert.equal(after.code_exchanges, before.code_exchanges + 1, 'the proxy exchanged the code at Stora');
  // The page's orders: a request to Stora's API with the site's own access token.
  const orders = await storaRequests('/2025-09/orders', from);
  assert.deepEqual(orders.map((r) => [r.method, r.operator, r.status]), [['GET', OPERATOR, 200]]);
  const state = openedState();
  assert.ok(state.tokens?.access_token && state.tokens?.refresh_token, 'the site holds the token pair');
  assert.equal(state.broker_token ?? null, null, 'no broker token in proxy mode');
  assert.deepEqual(state.account, { id: OPERATOR, name: 'Northwind Self Storage' }, "the proxy's answer named the account");
  // At rest only sealed: the option is Tessera's seal, with no token text.
  const sealed = sealedOption();
  assert.match(sealed, /^tsv1\./);
  assert.deepEqual(sealed.match(STORA_TOKEN), null);
  assert.equal(Object.fromEntries(pluginOptions()).storefront_sync_state, 'no', 'not autoloaded');
});

step('a POST straight to Stora: the website enquiry becomes a contact and a Timeline Event, with Idempotency-Keys', async () => {
  const from = await requestCount();
  await page.fill('#storefront-sync-name', 'Grace Hopper');
  await page.fill('#storefront-sync-email', 'grace@example.com');
  await clickAndWait(page.locator('#storefront-sync-send-enquiry'));
  await expectText('Enquiry sent to Stora as contact con_', 'recorded on your Stora timeline');
  await screenshot('enquiry-sent');
  const [contact] = await storaRequests('/2025-09/contacts', from);
  assert.equal(contact.status, 201);
  assert.ok(contact.idempotency_key);
  const events = await storaRequests('/2025-09/timeline/events', from);
  assert.deepEqual(events.map((r) => [r.status, r.idempotency_key]), [[201, `tle-${contact.idempotency_key}`]]);
});

step('expiry → refresh: a token Stora refuses is renewed through the proxy once; a token about to expire is renewed before the call', async () => {
  // Tokens issued from now on live 123 s: with Tessera's 120 s margin, one is "about to expire" 3 s after it is issued.
  await stora('POST', 'config', { access_ttl_secs: 123 });
  try {
    await stora('POST', 'expire_tokens', { operator: OPERATOR });
    let before = await counters();
    let from = await requestCount();
    await page.goto(settingsUrl());
    await expectText('Connected', 'ord_1001');
    assert.equal(await status(), 'connected');
    let after = await counters();
    assert.equal(after.refreshes - before.refreshes, 1, 'one refresh');
    assert.deepEqual((await storaRequests('/2025-09/orders', from)).map((r) => r.status), [401, 200], 'refused, renewed, sent again');
    await stora('POST', 'config', { access_ttl_secs: 7200 });
    await sleep(3_500);
    before = after;
    from = await requestCount();
    await page.goto(settingsUrl());
    await expectText('Connected', 'ord_1001');
    after = await counters();
    assert.equal(after.refreshes - before.refreshes, 1, 'renewed before it expired');
    assert.deepEqual((await storaRequests('/2025-09/orders', from)).map((r) => r.status), [200], 'Stora never saw the old token again');
    assert.equal(after.invalid_grants, before.invalid_grants);
  } finally {
    await stora('POST', 'config', { access_ttl_secs: 7200 });
  }
});

step(`concurrent refresh: ${CONCURRENT} page loads at once after Stora expired the token, the site's lock held meanwhile: exactly one refresh, none fails`, async () => {
  // WordPress's auth cookie is scoped to /wp-admin: the cookies for the settings page's URL.
  const cookie = (await page.context().cookies(settingsUrl())).map((c) => `${c.name}=${c.value}`).join('; ');
  await stora('POST', 'expire_tokens', { operator: OPERATOR });
  const before = await counters();
  const from = await requestCount();
  // The suite holds the site's lock (as a slow renewal by another process would) while the page
  // loads meet the expired token at Stora: then they all want to renew at once, whatever the
  // machine's load, and none may finish before the lock is released. The loads start 200 ms
  // apart, so that each is taken by an idle php -S worker (a busy one would accept a second
  // connection and leave it waiting behind the first); the lock is released once all of them
  // reached Stora (or no more arrive).
  const held = await holdLock(`tessera-refresh-${notes.installId}`);
  let pages;
  let contenders = 0;
  let releasedAt = Infinity;
  try {
    const loads = Promise.all(
      Array.from({ length: CONCURRENT }, async (_, i) => {
        await sleep(200 * i);
        return { ...(await loadSettingsPage(cookie)), at: Date.now() };
      }),
    );
    const deadline = Date.now() + 20_000;
    for (let stable = 0; contenders < CONCURRENT && stable < 15 && Date.now() < deadline; ) {
      await sleep(100);
      const seen = (await storaRequests('/2025-09/orders', from)).length;
      stable = seen === contenders && seen >= 2 ? stable + 1 : 0;
      contenders = seen;
    }
    releasedAt = Date.now();
    await held.release();
    pages = await loads;
  } finally {
    await held.release();
  }
  const after = await counters();
  const refreshes = after.refreshes - before.refreshes;
  const failed = pages.filter((p) => !(p.status === 200 && p.body.includes('data-status="connected"') && p.body.includes('ord_1001')));
  const orders = await storaRequests('/2025-09/orders', from);
  // The suite's report (40-wordpress.sh prints it).
  console.log(
    `# concurrent refresh (${MODE}, proxy): ${CONCURRENT} page loads, ${contenders} at Stora with the expired token while the lock was held, ` +
      `${refreshes} refresh at Stora, ${failed.length} failed, ${after.invalid_grants - before.invalid_grants} invalid_grant; ` +
      `Stora answered the orders ${orders.filter((r) => r.status === 401).length}× 401, ${orders.filter((r) => r.status === 200).length}× 200`,
  );
  documents.push(...pages.map((p) => ({ url: `${settingsUrl()} (concurrent)`, body: p.body })));
  assert.deepEqual(failed.map((p) => p.status), [], 'every page load showed the orders');
  assert.deepEqual(pages.filter((p) => p.at < releasedAt).map((p) => p.status), [], "no page load finished while the suite held the site's lock");
  assert.equal(refreshes, 1, 'exactly one refresh at Stora');
  assert.equal(after.invalid_grants, before.invalid_grants, 'no rotated refresh token was sent again');
  assert.ok(contenders >= 2, `several page loads met the expired token at once (${contenders})`);
  assert.equal(orders.filter((r) => r.status === 401).length, contenders, 'those that met it waited; the later ones used the renewed token');
  assert.equal(orders.filter((r) => r.status === 200).length, CONCURRENT);
  await page.goto(settingsUrl());
  assert.equal(await status(), 'connected', 'the installation is fine afterwards');
});

step('the grant is revoked at Stora: the proxy cannot renew it; the page says Reconnect required', async () => {
  const before = await counters();
  assert.equal((await stora('POST', 'revoke_grant', { operator: OPERATOR })).status, 200);
  await page.goto(settingsUrl());
  await expectText('Reconnect required', 'no longer grants access');
  assert.equal(await status(), 'reconnect_required');
  await page.locator('#storefront-sync-connect').waitFor();
  await screenshot('reconnect-required');
  assert.equal((await counters()).invalid_grants, before.invalid_grants + 1, "Stora refused the renewal (invalid_grant)");
  const state = openedState();
  assert.equal(state.tokens ?? null, null, 'the dead pair is dropped');
  await page.goto(`${base}/wp-admin/`);
  await page.locator('#storefront-sync-notice-connect').waitFor(); // the Reconnect notice on every admin page
});

step('Reconnect: consent again, connected, orders back; a database dump holds the pair only sealed', async () => {
  await page.goto(settingsUrl());
  await clickAndWait(page.locator('#storefront-sync-connect'));
  await approveAtStora('stora-consent-reconnect');
  await expectText('Connected to Stora.', 'ord_1001');
  assert.equal(await status(), 'connected');
  const { tokens } = openedState();
  const dump = databaseDump();
  assert.ok(dump.includes(sealedOption()), 'the dump holds the sealed option');
  assert.deepEqual(dump.match(STORA_TOKEN), null, 'no Stora token in the dump');
  assert.ok(!dump.includes(tokens.access_token) && !dump.includes(tokens.refresh_token));
});

step('Disconnect: the proxy revokes the tokens at Stora; the site is registered but not connected', async () => {
  const before = await counters();
  await clickAndWait(page.locator('#storefront-sync-disconnect'));
  await expectText('Disconnected. The Storefront Sync service revoked', 'Registered', 'Connect to Stora');
  assert.equal(await status(), 'registered');
  await screenshot('disconnected');
  assert.equal((await counters()).revokes, before.revokes + 1, 'the proxy called Stora /oauth2/revoke');
  assert.equal(openedState().tokens ?? null, null, 'no token kept');
});

step('back to the broker on the settings page: the installation leaves the proxy (deregistered) and the site tries the broker', async () => {
  // A signed deregistration link of this installation, made now: once it left, the proxy must not know it.
  const link = openedState().uninstall_url;
  const old = notes.installId;
  await page.locator('#storefront-sync-mode-broker').check();
  await clickAndWait(page.locator('#storefront-sync-save-settings')); // confirm() is accepted
  // The default broker cannot be reached from here: registration is pending, and retried.
  await expectText('could not be reached');
  assert.equal(await page.locator('#storefront-sync-service').getAttribute('data-mode'), 'broker');
  assert.notEqual(await status(), 'registered');
  await screenshot('switched-to-broker');
  const gone = await http('GET', link);
  assert.equal(gone.status, 404, `the proxy no longer knows ${old}: ${gone.status} ${gone.body.slice(0, 200)}`);
  assert.match(gone.body, /This installation is not registered \(any more\)/);
});

step('and the proxy again: a new installation', async () => {
  const old = notes.installId;
  await page.locator('#storefront-sync-mode-proxy').check();
  assert.equal(await page.locator('#storefront-sync-proxy-url').inputValue(), env.proxy_url, 'the page kept the URLs');
  await clickAndWait(page.locator('#storefront-sync-save-settings'));
  await expectText('Service settings saved: this site is registered with the chosen service.');
  assert.equal(await status(), 'registered');
  notes.installId = await page.locator('#storefront-sync-install-id').innerText();
  assert.notEqual(notes.installId, old);
});

step('wp-config.php pins the service: the settings are shown read-only', async () => {
  writeFileSync(
    join(work, 'test-constants.php'),
    `<?php\ndefine( 'STOREFRONT_SYNC_MODE', 'proxy' );\ndefine( 'STOREFRONT_SYNC_PROXY_URL', '${env.proxy_url}' );\n` +
      `define( 'STOREFRONT_SYNC_STORA_API_URL', '${env.stora_api_url}' );\n`,
  );
  try {
    await page.goto(settingsUrl());
    assert.equal(await page.locator('#storefront-sync-settings').getAttribute('data-pinned'), 'yes');
    assert.ok(await page.locator('#storefront-sync-mode-proxy').isChecked());
    assert.ok(await page.locator('#storefront-sync-mode-proxy').isDisabled());
    assert.equal(await page.locator('#storefront-sync-proxy-url').inputValue(), env.proxy_url);
    assert.equal(await page.locator('#storefront-sync-save-settings').count(), 0, 'nothing to save');
    await expectText('These settings are set in wp-config.php');
    await screenshot('settings-pinned');
  } finally {
    rmSync(join(work, 'test-constants.php'), { force: true });
  }
});

step('connect once more, then delete the plugin: the uninstall plan revokes at Stora and deregisters at the proxy; the options are gone', async () => {
  await page.goto(settingsUrl());
  await clickAndWait(page.locator('#storefront-sync-connect'));
  await approveAtStora('stora-consent-again');
  assert.equal(await status(), 'connected');
  // A signed deregistration link of this installation, made now: after the uninstall the proxy must not know it.
  const link = openedState().uninstall_url;
  const before = await counters();
  await page.goto(`${base}/wp-admin/plugins.php`);
  await clickAndWait(page.locator('#deactivate-storefront-sync'));
  await page.locator('#delete-storefront-sync').click(); // confirm() is accepted; WordPress deletes over AJAX
  await page.getByText('Storefront Sync was successfully deleted.').waitFor({ timeout: 30_000 });
  await screenshot('deleted');
  assert.equal((await counters()).revokes, before.revokes + 1, 'uninstall revoked the tokens at Stora');
  const gone = await http('GET', link);
  assert.equal(gone.status, 404, `the proxy no longer knows the installation: ${gone.status} ${gone.body.slice(0, 200)}`);
  assert.match(gone.body, /This installation is not registered \(any more\)/);
  assert.deepEqual(pluginOptions(), [], 'no storefront option left in the database');
  assert.ok(!existsSync(join(wpContent, 'plugins', 'storefront-sync')), 'plugin files removed');
});

step('no Stora token outside the sealed state: not in the database, a log, a URL the browser saw, or a page', async () => {
  assert.ok(heldTokens.size >= 6, `three connects: three pairs (${heldTokens.size} tokens seen)`);
  const dump = databaseDump();
  const read = (f) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  const places = [
    ['the database dump', dump],
    ['the WordPress debug log', read(process.env.WP_DEBUG_LOG)],
    ['the PHP server log', read(join(work, 'php-server.log'))],
    ["the proxy env's output", read(join(work, 'env.err'))],
    ['the URLs the browser requested', notes.urls.join('\n')],
    ...documents.map((d) => [`the page ${d.url}`, d.body]),
  ];
  const leaks = [];
  for (const [place, body] of places) {
    for (const t of heldTokens) if (body.includes(t) || body.includes(encodeURIComponent(t))) leaks.push(`${t.slice(0, 6)}… in ${place}`);
    for (const m of body.match(STORA_TOKEN) ?? []) leaks.push(`a Stora token ${m.slice(0, 6)}… in ${place}`);
  }
  assert.deepEqual(leaks, []);
  assert.ok(documents.length > 10, `the pages were searched (${documents.length})`);
  // The search works: each token the site held is a Stora token the pattern finds.
  for (const t of heldTokens) assert.match(t, new RegExp(`^${STORA_TOKEN.source}$`));
});

step('no PHP error, warning or notice from the plugin', async () => {
  const log = existsSync(process.env.WP_DEBUG_LOG) ? readFileSync(process.env.WP_DEBUG_LOG, 'utf8') : '';
  const ours = log.split('\n').filter((line) => /storefront-sync|storefront_sync|Storefront_Sync|tessera/i.test(line));
  assert.deepEqual(ours, []);
});

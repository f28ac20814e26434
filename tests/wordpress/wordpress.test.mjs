// The example plugin in a real WordPress with the partner's BROKER, as an
// operator uses it: headless Chromium (playwright-core + Debian's chromium)
// drives wp-admin against the reference broker and the fake Stora. Started by
// scripts/test.d/40-wordpress.sh, once per implementation (native, pure); the
// environment it provides and the shared helpers: ./lib.mjs. The
// authorization-proxy mode has its own, shorter suite: ./proxy.test.mjs.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  site,
  base,
  setBase,
  work,
  env,
  wpContent,
  settingsUrl,
  OPERATOR,
  ACCOUNT_TEXT,
  MODE,
  SERVICE,
  IMPLEMENTATION,
  DB_NAME,
  EXPORT,
  page,
  notes,
  STORA_CANARY,
  step,
  screenshot,
  text,
  expectText,
  expectNoText,
  status,
  http,
  brokerAdmin,
  stora,
  storaApiGet,
  sql,
  wpPhp,
  pluginOptions,
  clickAndWait,
  approveAtStora,
  logIn,
} from './lib.mjs';

assert.equal(SERVICE, 'broker', 'this suite is the broker\'s (proxy.test.mjs is the proxy\'s)');

step('log in to wp-admin', async () => {
  await logIn();
  await screenshot('dashboard');
});

step('activate the plugin while the broker is unreachable: activation succeeds, a notice says registration will retry', async () => {
  writeFileSync(join(wpContent, 'broker-unreachable'), '');
  await page.goto(`${site}/wp-admin/plugins.php`);
  await expectText('Storefront Sync');
  await clickAndWait(page.locator('#activate-storefront-sync'));
  await expectText('Plugin activated.', 'is not registered with the Storefront Sync service yet', 'could not be reached', 'Registration is tried again on every admin page load.');
  await page.locator('#storefront-sync-notice-registration').waitFor();
  await screenshot('activated-broker-unreachable');
  const options = Object.fromEntries(pluginOptions());
  assert.equal(options.storefront_sync_state, 'no', 'the sealed state is stored, not autoloaded');
  const sealed = sql("SELECT option_value FROM wp_options WHERE option_name = 'storefront_sync_state'")[0][0];
  assert.match(sealed, /^tsv1\./, 'the state is sealed by Tessera');
  assert.ok(!sealed.includes('ins_'), 'nothing readable in the sealed state');
});

step('the next admin page load registers, with the ownership proof served at /.well-known/tessera/', async () => {
  rmSync(join(wpContent, 'broker-unreachable'));
  await page.goto(settingsUrl());
  await expectText('Storefront Sync', 'Status', 'Registered', 'Connect to Stora');
  assert.equal(await status(), 'registered');
  await expectNoText('is not registered with the Storefront Sync service yet');
  notes.installId = await page.locator('#storefront-sync-install-id').innerText();
  assert.match(notes.installId, /^ins_[A-Za-z0-9_-]{16,}$/);
  await screenshot('registered');
  const broker = await brokerAdmin(`/admin/installations/${notes.installId}`);
  assert.equal(broker.status, 200, broker.body);
  assert.equal(broker.json.status, 'active', 'the broker accepted the ownership proof');
  assert.equal(broker.json.site_url, site);
  assert.equal(broker.json.platform, 'wordpress');
  assert.equal(broker.json.admin_email, 'admin@northwind.example');
  // No challenge is outstanding any more: the well-known path answers 404.
  const proof = await http('GET', `${site}/.well-known/tessera/${notes.installId}`);
  assert.equal(proof.status, 404);
});

step(`the settings page and Site Health say which Tessera runs: ${IMPLEMENTATION === 'native' ? 'the native extension' : 'the bundled pure-PHP copy'}`, async () => {
  await page.goto(settingsUrl());
  const row = page.locator('#storefront-sync-implementation');
  assert.equal(await row.getAttribute('data-implementation'), IMPLEMENTATION);
  const label = await row.innerText();
  if (MODE === 'native') {
    assert.match(label, /^Native extension tessera \d+\.\d+\.\d+/);
    await expectText('encrypted by the tessera PHP extension this server loads');
  } else {
    assert.match(label, /^Bundled pure PHP \(Tessera \d+\.\d+\.\d+\)/);
    await expectText('nothing to install on the server');
  }
  const key = page.locator('#storefront-sync-state-key');
  assert.equal(await key.getAttribute('data-protected'), 'yes');
  assert.equal(await key.getAttribute('data-source'), 'salts');
  await screenshot('settings-implementation');
  // Tools → Site Health: a passed test whose title says the same.
  await page.goto(`${base}/wp-admin/site-health.php`);
  const trigger = page.locator('#health-check-site-status-good [aria-controls="health-check-accordion-block-storefront_sync_tessera"]');
  await trigger.waitFor({ state: 'attached' });
  // The page moves while its asynchronous tests (loopback, REST, …) append results: click once they are done.
  await page.locator('.site-health-progress-wrapper:not(.loading)').waitFor();
  await page.locator('.site-health-view-passed').click();
  await trigger.waitFor({ state: 'visible' });
  await trigger.click();
  const title = await trigger.innerText();
  assert.ok(title.includes(`Storefront Sync runs on ${MODE === 'native' ? 'the ' : 'its '}${label.charAt(0).toLowerCase()}${label.slice(1)}`), title);
  await expectText(MODE === 'native' ? 'This server loads the tessera PHP extension' : 'it works on every host');
  // The suite's wp-config.php has real LOGGED_IN_* salts: the key test passes too.
  const keyTest = page.locator('#health-check-site-status-good [aria-controls="health-check-accordion-block-storefront_sync_state_key"]');
  assert.ok((await keyTest.innerText()).includes('encrypted with a key from wp-config.php'));
  await screenshot('site-health-implementation');
  await page.goto(settingsUrl()); // where the next step starts
});

step('Connect: consent at Stora, back on the settings page, connected, recent orders shown', async () => {
  await clickAndWait(page.locator('#storefront-sync-connect'));
  await approveAtStora('stora-consent');
  await expectText('Connected to Stora.', 'Connected', ACCOUNT_TEXT, 'Recent orders', 'ord_1001', 'A-12', 'ord_1003', 'Moving out', '129.00 GBP');
  assert.equal(await status(), 'connected');
  assert.equal(await page.locator('#storefront-sync-orders tbody tr').count(), 3);
  // Reconnect is offered while connected, next to Disconnect.
  await page.locator('#storefront-sync-connect').waitFor();
  await page.locator('#storefront-sync-disconnect').waitFor();
  await screenshot('connected-orders');
  const broker = await brokerAdmin(`/admin/installations/${notes.installId}`);
  assert.equal(broker.json.grant.status, 'active');
});

step('the example action: a website enquiry becomes a Stora contact with the plugin\'s metadata, recorded as a Timeline Event', async () => {
  const before = (await stora('GET', 'counters')).json;
  await page.fill('#storefront-sync-name', 'Grace Hopper');
  await page.fill('#storefront-sync-email', 'grace@example.com');
  await clickAndWait(page.locator('#storefront-sync-send-enquiry'));
  await expectText('Enquiry sent to Stora as contact con_', 'recorded on your Stora timeline');
  await screenshot('enquiry-sent');
  const contactId = (await text()).match(/as contact (con_[0-9]+)/)[1];
  notes.contactId = contactId;
  const requests = (await stora('GET', 'requests')).json;
  const posts = requests.filter((r) => r.method === 'POST' && r.path === '/2025-09/contacts');
  assert.equal(posts.length, 1);
  assert.equal(posts[0].status, 201);
  const key = posts[0].idempotency_key;
  assert.ok(key, 'the POST carried an Idempotency-Key');
  assert.equal(posts[0].operator, OPERATOR);
  // Then the event: its own key derives from the action's, so a retried action replays it.
  const events = requests.filter((r) => r.method === 'POST' && r.path === '/2025-09/timeline/events');
  assert.deepEqual(events.map((r) => [r.status, r.idempotency_key]), [[201, `tle-${key}`]]);
  const timeline = (await stora('GET', `timeline?operator=${OPERATOR}`)).json;
  assert.equal(timeline.length, 1, 'one entry on the operator\'s timeline');
  const [event] = timeline;
  assert.equal(event.source.id, 'storefront_sync');
  assert.equal(event.template.id, 'website_enquiry');
  assert.equal(event.description, 'Website enquiry via Storefront Sync');
  assert.equal(event.external.id, key, 'external.id is the action\'s Idempotency-Key');
  const adminUrl = new URL(`${site}/wp-admin/options-general.php?page=storefront-sync`);
  adminUrl.protocol = 'https:';
  assert.equal(event.external.url, adminUrl.href, 'external.url: the https form of the plugin\'s admin page');
  assert.deepEqual(event.variables, { name: 'Grace Hopper' }, 'the name only: no email on the timeline');
  assert.ok(!JSON.stringify(event).includes('grace@example.com'));
  // The plugin's reference is on the contact at Stora (read back with Stora's own API).
  const contact = await storaApiGet(`/2025-09/contacts/${contactId}`, 'public.contact:read');
  assert.deepEqual(Object.keys(contact.metadata), ['storefront_sync.enquiry']);
  assert.match(contact.metadata['storefront_sync.enquiry'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const after = (await stora('GET', 'counters')).json;
  assert.equal(after.posts_without_idempotency_key, before.posts_without_idempotency_key, 'every POST carried an Idempotency-Key');
});

step('Stora\'s events reach the site with no inbound request: the settings page pulls them from the broker and lists them once', async () => {
  // Stora delivers contact.created (signed webhook) to the broker in the
  // background; the page pulls what the broker holds each time it loads.
  const row = page.locator('#storefront-sync-events tbody tr', { hasText: 'contact.created' });
  for (let i = 0; i < 20 && (await row.count()) === 0; i++) {
    await page.goto(settingsUrl());
    if ((await row.count()) === 0) await new Promise((r) => setTimeout(r, 250));
  }
  await expectText('Recent Stora events', 'contact.created', notes.contactId);
  assert.equal(await row.count(), 1);
  assert.equal(await row.locator('td').nth(2).innerText(), notes.contactId);
  await screenshot('stora-events');
  const read = () => JSON.parse(wpPhp(
    'echo json_encode(["cursor" => Storefront_Sync_State::load()->eventsCursor(), "ids" => array_column(Storefront_Sync_Events::recent(), "id")]);',
    { native: MODE === 'native' },
  ));
  const first = read();
  assert.match(first.cursor ?? '', /^[0-9]+$/, 'the cursor is stored once the page is kept');
  assert.equal(new Set(first.ids).size, first.ids.length, 'each event kept once');
  // Loaded again: the broker is asked after the cursor, nothing is listed twice, and what was
  // kept keeps what it is about.
  await page.goto(settingsUrl());
  assert.equal(await row.count(), 1);
  assert.equal(await row.locator('td').nth(2).innerText(), notes.contactId);
  const second = read();
  assert.ok(BigInt(second.cursor) >= BigInt(first.cursor));
  assert.ok(first.ids.every((id) => second.ids.includes(id)), 'nothing kept is lost');
  assert.equal(new Set(second.ids).size, second.ids.length);
  // The service also pushed the events to the REST route registered at connect: it counts a push
  // only when the site answered 2xx, which the plugin does only after Tessera verified it.
  const counter = async (name) => {
    const text = (await brokerAdmin('/metrics')).body;
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : NaN;
  };
  for (let i = 0; i < 40 && !((await counter('tessera_broker_events_pushed_total')) >= 1); i++) {
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok((await counter('tessera_broker_events_pushed_total')) >= 1, 'a push reached the site and was verified');
  assert.equal(await counter('tessera_broker_event_pushes_failed_total'), 0, 'no push refused by the site');
  // A forged push is refused and keeps nothing.
  const forged = await http('POST', `${site}/?rest_route=/storefront-sync/v1/events`, {
    body: { events: [{ id: 'evt_forged', type: 'contact.created', api_version: '2025-09', created_at: 1, data: {} }] },
    headers: { 'tessera-push-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` },
  });
  assert.equal(forged.status, 401, forged.body);
  assert.ok(!read().ids.includes('evt_forged'));
});

step('Stora fails the Timeline Event: the enquiry still stands and the page says the entry was not recorded, with the code', async () => {
  await stora('POST', 'faults', { status: 500, count: 1, path_prefix: '/2025-09/timeline/events' });
  try {
    await page.fill('#storefront-sync-name', 'Ada Lovelace');
    await page.fill('#storefront-sync-email', 'ada@example.com');
    await clickAndWait(page.locator('#storefront-sync-send-enquiry'));
  } finally {
    await stora('POST', 'clear_faults');
  }
  await expectText('Enquiry sent to Stora as contact con_', 'but the timeline entry could not be recorded (upstream_failed)');
  assert.equal(await page.locator('#storefront-sync-notice-result.notice-warning').count(), 1);
  await screenshot('enquiry-not-recorded');
  const requests = (await stora('GET', 'requests')).json.filter((r) => r.method === 'POST');
  assert.deepEqual(requests.filter((r) => r.path === '/2025-09/contacts').map((r) => r.status), [201, 201]);
  assert.equal(requests.filter((r) => r.path === '/2025-09/timeline/events').at(-1).status, 500);
  assert.equal((await stora('GET', `timeline?operator=${OPERATOR}`)).json.length, 1, 'nothing new on the timeline');
  // This contact's events were kept beside the first one's, which still says what it is about.
  await page.goto(settingsUrl());
  await expectText('contact.created');
  const firstContact = page.locator('#storefront-sync-events tbody tr', { hasText: notes.contactId });
  assert.equal(await firstContact.count(), 1, 'an event kept earlier keeps its object');
});

step('Stora rate-limits the operator: the page says Rate limited, waits, then shows the orders again', async () => {
  await stora('POST', 'faults', { status: 429, retry_after: 5, count: 1, path_prefix: '/2025-09/orders' });
  await page.goto(settingsUrl());
  await expectText('Rate limited', 'Stora asked us to slow down. Try again in');
  assert.equal(await status(), 'rate_limited');
  await page.locator('#storefront-sync-disconnect').waitFor(); // still connected
  await screenshot('rate-limited');
  const requests = (await stora('GET', 'requests')).json.filter((r) => r.path === '/2025-09/orders');
  assert.equal(requests.at(-1).status, 429);
  // Until Retry-After has passed the page does not call again.
  await page.goto(settingsUrl());
  assert.equal(await status(), 'rate_limited');
  const again = (await stora('GET', 'requests')).json.filter((r) => r.path === '/2025-09/orders');
  assert.equal(again.length, requests.length, 'no call while rate limited');
  await new Promise((resolve) => setTimeout(resolve, 5_500));
  await page.goto(settingsUrl());
  assert.equal(await status(), 'connected');
  await expectText('ord_1001');
});

step('the grant is revoked at Stora: the page says Reconnect required, and every admin page shows a Reconnect notice', async () => {
  const revoked = await stora('POST', 'revoke_grant', { operator: OPERATOR });
  assert.equal(revoked.status, 200);
  await page.goto(settingsUrl());
  await expectText('Reconnect required', 'no longer grants access');
  assert.equal(await status(), 'reconnect_required');
  await page.locator('#storefront-sync-connect').waitFor();
  await screenshot('reconnect-required');
  await page.goto(`${site}/wp-admin/`);
  await expectText('Dashboard', 'Storefront Sync:', 'no longer grants access');
  await page.locator('#storefront-sync-notice-connect').waitFor();
  await screenshot('dashboard-reconnect-notice');
});

step('Reconnect from the notice: consent again, connected, orders back', async () => {
  await clickAndWait(page.locator('#storefront-sync-notice-connect'));
  await approveAtStora('stora-consent-reconnect');
  await expectText('Connected to Stora.', 'Connected', ACCOUNT_TEXT, 'ord_1001');
  assert.equal(await status(), 'connected');
  await expectNoText('Reconnect required');
  await screenshot('reconnected');
});

step('no secret or token in a database dump or the logs: only the sealed option holds them', async () => {
  // The installation's secret, read the way the plugin reads it: open the sealed option with the site's key,
  // with this mode's implementation.
  assert.ok(process.env.WP_PHP_EXTENSION && STORA_CANARY, '40-wordpress.sh provides WP_PHP_EXTENSION and TESSERA_STORA_CANARY');
  const stateJson = wpPhp(`$c = Storefront_Sync_State::load(); echo $c->${EXPORT}();`, { native: MODE === 'native' });
  const state = JSON.parse(stateJson);
  const secret = state.installation.secret;
  assert.ok(notes.connectCodes.size >= 2, 'two connects so far, each with a connect code in the callback URL');
  assert.ok(state.broker_token, 'connected: the state holds a broker token');
  assert.deepEqual(state.account, { id: OPERATOR, name: 'Northwind Self Storage' });
  // The browser never carried a broker token, nor the secret.
  assert.deepEqual(notes.urls.filter((u) => u.includes('broker_token') || u.includes(state.broker_token) || u.includes(encodeURIComponent(state.broker_token)) || u.includes(secret)), []);
  const raw = Buffer.from(secret, 'base64url');
  const needles = [secret, raw.toString('hex'), raw.toString('base64'), encodeURIComponent(raw.toString('base64'))];
  const t = state.broker_token;
  needles.push(t, encodeURIComponent(t), Buffer.from(t).toString('base64'), Buffer.from(t).toString('hex'));
  const dump = execFileSync('mariadb-dump', ['--no-defaults', `--socket=${process.env.WP_MYSQL_SOCKET}`, '-u', 'root', '--skip-extended-insert', DB_NAME], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  assert.ok(dump.includes('storefront_sync_state'), 'the dump holds the sealed option');
  const read = (f) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  // The callback URL (which a web server's access log records) carries only a single-use connect
  // code: the whole server log is searched.
  const places = [
    ['the database dump', dump],
    ['the WordPress debug log', read(process.env.WP_DEBUG_LOG)],
    ['the PHP server log', read(join(work, 'php-server.log'))],
    ["the broker's log", read(join(work, 'env.err'))],
  ];
  const leaks = [];
  for (const [place, text] of places) {
    for (const n of needles) if (text.includes(n)) leaks.push(`${n.slice(0, 8)}… in ${place}`);
    if (text.includes(STORA_CANARY)) leaks.push(`a Stora token in ${place}`);
  }
  assert.deepEqual(leaks, []);
  // The search works: the unsealed state holds the secret and the current token.
  assert.ok(stateJson.includes(secret) && stateJson.includes(state.broker_token));
});

step('the other implementation opens the same sealed state: a host that adds or drops the extension keeps the connection', async () => {
  const open = (native) =>
    JSON.parse(
      wpPhp(
        `echo json_encode(["class" => get_class($c = Storefront_Sync_State::load()), "state" => $c->${EXPORT}(), ` +
          '"global" => class_exists("Tessera\\Companion", false)]);',
        { native },
      ),
    );
  const mine = open(MODE === 'native');
  const other = open(MODE !== 'native');
  const [native, pure] = MODE === 'native' ? [mine, other] : [other, mine];
  assert.equal(native.class, 'Tessera\\Companion');
  assert.equal(pure.class, 'StorefrontSync\\Vendor\\Tessera\\Companion');
  assert.equal(pure.global, false, 'without the extension, the plugin never declares a global Tessera class');
  assert.equal(other.state, mine.state, 'the same state, byte for byte');
});

step('another plugin loading an unprefixed tessera-php (the global Tessera\\… aliases) changes nothing for this one', async () => {
  // What a second plugin that requires tessera/tessera-php without prefixing it does when the
  // extension is absent: Tessera\Companion becomes an alias of Tessera\Pure\Companion. The plugin
  // still uses the extension (native) or its own copy (pure).
  const other = new URL('../../php/autoload.php', import.meta.url).pathname;
  const out = JSON.parse(
    wpPhp(
      'echo json_encode(["class" => get_class(Storefront_Sync_State::load()), "alias" => class_exists("Tessera\\Companion", false) ? (new ReflectionClass("Tessera\\Companion"))->getName() : null]);',
      {
        native: MODE === 'native',
        prelude: `require ${JSON.stringify(other)};`,
      },
    ),
  );
  assert.equal(out.class, MODE === 'native' ? 'Tessera\\Companion' : 'StorefrontSync\\Vendor\\Tessera\\Companion');
  assert.equal(out.alias, MODE === 'native' ? 'Tessera\\Companion' : 'Tessera\\Pure\\Companion', 'both copies live in one process');
  // And a state it cannot open, through the plugin's own catch blocks (both implementations named in each).
  const caught = wpPhp(
    'Storefront_Sync_Plugin::ensure_registered(); try { Storefront_Sync_State::load(); echo "opened"; } ' +
      'catch (Exception $e) { echo get_class($e), " ", $e->getErrorCode(); }',
    {
      native: MODE === 'native',
      prelude: `require ${JSON.stringify(other)}; define("STOREFRONT_SYNC_STATE_KEY", "not the key the state was sealed with");`,
    },
  );
  assert.equal(
    caught,
    `${MODE === 'native' ? 'Tessera' : 'StorefrontSync\\Vendor\\Tessera'}\\Exception\\StateUndecryptableException state_undecryptable`,
  );
});

step('wp-config.php without a usable LOGGED_IN_SALT: Site Health is critical and says what to add; no salt is generated into the database, nothing is re-sealed', async () => {
  const saltRows = () => sql("SELECT COUNT(*) FROM wp_options WHERE option_name IN ('logged_in_key', 'logged_in_salt')")[0][0];
  const before = sql("SELECT option_value FROM wp_options WHERE option_name = 'storefront_sync_state'")[0][0];
  assert.equal(saltRows(), '0');
  const out = JSON.parse(
    wpPhp(
      '$tests = apply_filters("site_status_tests", ["direct" => [], "async" => []]); ' +
        '$health = call_user_func($tests["direct"]["storefront_sync_state_key"]["test"]); ' +
        'try { Storefront_Sync_State::load(); $load = "opened"; } catch (Exception $e) { $load = $e->getErrorCode(); } ' +
        'echo json_encode(["status" => Storefront_Sync_State::key_status(), "health" => $health, "load" => $load]);',
      // Defined before wp-config.php's own (40-wordpress.sh writes `defined() || define()`): the sample's placeholder.
      { native: MODE === 'native', prelude: 'define("LOGGED_IN_SALT", "put your unique phrase here");' },
    ),
  );
  assert.deepEqual(out.status, { protected: false, source: 'none', problems: { LOGGED_IN_SALT: 'default' } });
  assert.equal(out.health.status, 'critical');
  assert.match(out.health.description, /define\( &#039;STOREFRONT_SYNC_STATE_KEY&#039;, &#039;[A-Za-z0-9]{64}&#039; \);/);
  assert.equal(out.load, 'state_undecryptable', 'the state sealed under the real salts does not open with other key material');
  assert.equal(saltRows(), '0', 'WordPress generated no salt into the database on the plugin\'s behalf');
  assert.equal(sql("SELECT option_value FROM wp_options WHERE option_name = 'storefront_sync_state'")[0][0], before, 'the state is untouched');
});

step('changed keys: the sealed state does not open; the plugin says so, offers to register again, and loses nothing', async () => {
  const before = sql("SELECT option_value FROM wp_options WHERE option_name = 'storefront_sync_state'")[0][0];
  writeFileSync(join(work, 'test-constants.php'), "<?php\ndefine( 'STOREFRONT_SYNC_STATE_KEY', 'a different key than the one the state was sealed with' );\n");
  try {
    await page.goto(settingsUrl());
    await expectText('Saved connection unreadable', 'cannot be decrypted', 'Register again');
    assert.equal(await status(), 'state_undecryptable');
    await page.locator('#storefront-sync-register-again').waitFor();
    await screenshot('state-undecryptable');
    await page.goto(`${site}/wp-admin/`);
    await expectText('Storefront Sync:', 'cannot be decrypted');
    await page.locator('#storefront-sync-notice-state-undecryptable #storefront-sync-notice-register-again').waitFor();
    await screenshot('dashboard-state-undecryptable-notice');
    const after = sql("SELECT option_value FROM wp_options WHERE option_name = 'storefront_sync_state'")[0][0];
    assert.equal(after, before, 'the unreadable state is kept as it was');
  } finally {
    rmSync(join(work, 'test-constants.php'), { force: true });
  }
  await page.goto(settingsUrl());
  assert.equal(await status(), 'connected', 'with the old key back, the connection is still there');
});

step('the site moves (new address): a notice offers "the site moved" / "this is a copy"; "moved" tells the broker', async () => {
  const moved = site.replace('127.0.0.1', 'localhost');
  writeFileSync(
    join(work, 'test-constants.php'),
    `<?php\ndefine( 'WP_HOME', '${moved}' );\ndefine( 'WP_SITEURL', '${moved}' );\n`,
  );
  setBase(moved);
  await logIn(); // WordPress's login cookies belong to the old address
  await expectText('Storefront Sync:', `registered as ${site} but now runs at ${moved}`);
  await page.locator('#storefront-sync-notice-site-mismatch #storefront-sync-notice-site-moved').waitFor();
  await page.locator('#storefront-sync-notice-site-mismatch #storefront-sync-notice-site-copy').waitFor();
  await screenshot('dashboard-site-mismatch-notice');
  await page.goto(settingsUrl());
  await expectText('Site mismatch', `registered as ${site} but now runs at ${moved}`, 'The site moved', 'This is a copy');
  assert.equal(await status(), 'site_mismatch');
  await expectNoText('Recent orders'); // nothing is signed until the operator answers
  await screenshot('site-mismatch');
  await clickAndWait(page.locator('#storefront-sync-site-moved'));
  await expectText("now knows this site's new address", 'Connected', 'ord_1001');
  assert.equal(await status(), 'connected');
  await screenshot('site-moved');
  const broker = await brokerAdmin(`/admin/installations/${notes.installId}`);
  assert.equal(broker.json.site_url, moved, 'the broker has the new address');
  assert.equal(broker.json.grant.status, 'active', 'and the connection is kept');
});

step('Disconnect: the broker revokes at Stora; the site is registered but not connected', async () => {
  const before = (await stora('GET', 'counters')).json;
  await clickAndWait(page.locator('#storefront-sync-disconnect'));
  await expectText('Disconnected. The Storefront Sync service revoked', 'Registered', 'Connect to Stora');
  assert.equal(await status(), 'registered');
  await screenshot('disconnected');
  const afterCounters = (await stora('GET', 'counters')).json;
  assert.equal(afterCounters.revokes, before.revokes + 1, 'the broker called Stora /oauth2/revoke');
  const broker = await brokerAdmin(`/admin/installations/${notes.installId}`);
  assert.equal(broker.json.grant, null, 'the broker holds no grant for this site');
});

step('connect once more, then delete the plugin from the Plugins screen: the uninstall plan revokes at Stora and deregisters; the options are gone', async () => {
  await clickAndWait(page.locator('#storefront-sync-connect'));
  await approveAtStora('stora-consent-again');
  assert.equal(await status(), 'connected');
  const before = (await stora('GET', 'counters')).json;
  await page.goto(`${base}/wp-admin/plugins.php`);
  await clickAndWait(page.locator('#deactivate-storefront-sync'));
  await expectText('Plugin deactivated.');
  await screenshot('deactivated');
  assert.ok(pluginOptions().length > 0, 'deactivation keeps the registration');
  await page.locator('#delete-storefront-sync').click(); // confirm() is accepted; WordPress deletes over AJAX
  await page.getByText('Storefront Sync was successfully deleted.').waitFor({ timeout: 30_000 });
  await screenshot('deleted');
  const broker = await brokerAdmin(`/admin/installations/${notes.installId}`);
  assert.equal(broker.status, 404, 'the broker no longer knows the installation');
  const afterCounters = (await stora('GET', 'counters')).json;
  assert.equal(afterCounters.revokes, before.revokes + 1, 'uninstall disconnected: the broker revoked at Stora');
  assert.deepEqual(pluginOptions(), [], 'no storefront option left in the database');
  assert.ok(!existsSync(join(wpContent, 'plugins', 'storefront-sync')), 'plugin files removed');
});

step('install it again and activate with the broker reachable: activation defers the ownership proof, the page load right after finishes the round', async () => {
  // Inside the activation request the plugin's proof route is not live yet:
  // its serveProof answers false, the extension defers the proof, and the
  // redirect after activation (an admin page load) resumes the round.
  cpSync(new URL('../../examples/wordpress-plugin', import.meta.url), join(wpContent, 'plugins', 'storefront-sync'), { recursive: true });
  await page.goto(`${base}/wp-admin/plugins.php`);
  await clickAndWait(page.locator('#activate-storefront-sync'));
  await expectText('Plugin activated.');
  await expectNoText('is not registered with the Storefront Sync service yet');
  await page.goto(settingsUrl());
  assert.equal(await status(), 'registered');
  const installId = await page.locator('#storefront-sync-install-id').innerText();
  assert.notEqual(installId, notes.installId, 'a new installation');
  await screenshot('reactivated-registered');
  const broker = await brokerAdmin(`/admin/installations/${installId}`);
  assert.equal(broker.status, 200, broker.body);
  assert.equal(broker.json.status, 'active', 'the broker accepted the ownership proof');
  assert.equal(broker.json.site_url, base);
  // The broker's request log (tessera-e2e-env --log stderr): the activation's
  // POST got the 202 and went no further (a proof served from inside the
  // activation request would have failed: 403 ownership_proof_invalid); the
  // next page load's POST, with the proof served, got the 201.
  const posts = readFileSync(join(work, 'env.err'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .filter((entry) => entry.install_id === installId && entry.route === 'POST /installations')
    .map((entry) => entry.status);
  assert.deepEqual(posts, [202, 201]);
});

// ---- "Register again" leaves an earlier installation behind (issue 14 item 7) ---------------------
// The install id is kept in plain text next to the sealed state; after "Register again" the
// settings page offers to revoke the earlier installation's access (a request signed by the new
// installation, docs/PROTOCOL.md §5.11). This run's broker requires ownership proofs for every
// platform, so it accepts the request from this site.

const option = (name) => sql(`SELECT option_value, autoload FROM wp_options WHERE option_name = '${name}'`)[0] ?? null;
const PREVIOUS_NOTICE = 'An earlier registration of this site may still have access to your Stora account.';
/** The broker's request log (tessera-e2e-env --log stderr): one JSON object a line. */
const brokerLog = () =>
  readFileSync(join(work, 'env.err'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));

step('the install id is kept outside the sealed state, in its own option (not autoloaded)', async () => {
  await page.goto(settingsUrl());
  assert.equal(await status(), 'registered');
  notes.installId = await page.locator('#storefront-sync-install-id').innerText();
  assert.deepEqual(option('storefront_sync_install_id'), [notes.installId, 'no']);
  assert.equal(option('storefront_sync_previous_install_id'), null);
  await expectNoText(PREVIOUS_NOTICE);
});

step('changed keys, then "Register again": a new installation, and a notice offers to revoke the earlier access', async () => {
  // The old installation holds a grant at Stora.
  await clickAndWait(page.locator('#storefront-sync-connect'));
  await approveAtStora('stora-consent-before-register-again');
  assert.equal(await status(), 'connected');
  const old = notes.installId;
  assert.equal((await brokerAdmin(`/admin/installations/${old}`)).json.grant.status, 'active');
  // The key changes for good (the moved site's address stays): the sealed state no longer opens.
  const constants = readFileSync(join(work, 'test-constants.php'), 'utf8');
  writeFileSync(join(work, 'test-constants.php'), `${constants}\ndefine( 'STOREFRONT_SYNC_STATE_KEY', 'the key after the operator rotated it' );\n`);
  await page.goto(settingsUrl());
  assert.equal(await status(), 'state_undecryptable');
  await expectNoText(PREVIOUS_NOTICE);
  await clickAndWait(page.locator('#storefront-sync-register-again')); // confirm() is accepted
  await expectText('This site is registered with the Storefront Sync service.', PREVIOUS_NOTICE, 'Revoke the earlier access');
  assert.equal(await status(), 'registered');
  notes.installId = await page.locator('#storefront-sync-install-id').innerText();
  assert.notEqual(notes.installId, old, 'a new installation');
  notes.previousInstallId = old;
  assert.equal(await page.locator('#storefront-sync-previous').getAttribute('data-install-id'), old);
  await screenshot('register-again-previous-notice');
  // The old id was read from the plain option (the state did not open), the new one replaced it.
  assert.deepEqual(option('storefront_sync_previous_install_id'), [old, 'no']);
  assert.deepEqual(option('storefront_sync_install_id'), [notes.installId, 'no']);
  // The broker: the new installation proved the site; the old one is still there, with its grant.
  const fresh = await brokerAdmin(`/admin/installations/${notes.installId}`);
  assert.equal(fresh.json.status, 'active');
  assert.equal(fresh.json.site_url, base);
  const stale = await brokerAdmin(`/admin/installations/${old}`);
  assert.equal(stale.status, 200);
  assert.equal(stale.json.grant.status, 'active', 'the earlier grant is still live');
});

step('"Revoke the earlier access": the broker revokes the old grant at Stora and forgets the old installation', async () => {
  const old = notes.previousInstallId;
  const before = (await stora('GET', 'counters')).json;
  await clickAndWait(page.locator('#storefront-sync-revoke-previous'));
  await expectText('The earlier access was revoked.');
  await expectNoText(PREVIOUS_NOTICE);
  assert.equal(await status(), 'registered', 'the new installation is untouched');
  await screenshot('previous-revoked');
  assert.equal((await brokerAdmin(`/admin/installations/${old}`)).status, 404, 'the broker no longer knows the old installation');
  assert.equal((await stora('GET', 'counters')).json.revokes, before.revokes + 1, 'the broker revoked the old grant at Stora');
  assert.equal((await brokerAdmin(`/admin/installations/${notes.installId}`)).json.status, 'active');
  assert.equal(option('storefront_sync_previous_install_id'), null, 'the earlier id is forgotten');
  const calls = brokerLog().filter((e) => e.route === 'POST /installations/{id}/revoke-previous');
  assert.deepEqual(
    calls.map((e) => [e.install_id, e.status]),
    [[notes.installId, 204]],
    'one request, signed by the new installation',
  );
});

step('the broker forgets the installation: "Register again" after registration_invalid, and revoking finds nothing left', async () => {
  await clickAndWait(page.locator('#storefront-sync-connect'));
  await approveAtStora('stora-consent-before-registration-invalid');
  const old = notes.installId;
  // The broker loses the installation (deregistered behind the plugin's back, here by the
  // Tessera uninstall plan run from the PHP CLI without persisting anything).
  const report = JSON.parse(
    wpPhp(
      '$c = Storefront_Sync_State::load(); $r = $c->uninstall(Storefront_Sync_Client::transport()); ' +
        'echo json_encode(array_map(fn ($s) => $s["result"], $r));',
      { native: MODE === 'native' },
    ),
  );
  assert.equal(report.deregister, 'ok');
  assert.equal((await brokerAdmin(`/admin/installations/${old}`)).status, 404);
  await page.goto(settingsUrl()); // fetching the orders meets 401 unknown_installation
  await page.goto(settingsUrl());
  assert.equal(await status(), 'registration_invalid');
  await expectNoText(PREVIOUS_NOTICE);
  await clickAndWait(page.locator('#storefront-sync-register-again'));
  await expectText('This site is registered with the Storefront Sync service.', PREVIOUS_NOTICE);
  notes.installId = await page.locator('#storefront-sync-install-id').innerText();
  assert.notEqual(notes.installId, old, 'a new installation');
  assert.deepEqual(option('storefront_sync_previous_install_id'), [old, 'no'], 'the old id, read from the state that still opened');
  await clickAndWait(page.locator('#storefront-sync-revoke-previous'));
  await expectText('Nothing of the earlier registration was left.');
  await expectNoText(PREVIOUS_NOTICE);
  assert.equal(option('storefront_sync_previous_install_id'), null);
  await screenshot('previous-nothing-left');
  const calls = brokerLog().filter((e) => e.route === 'POST /installations/{id}/revoke-previous' && e.install_id === notes.installId);
  assert.deepEqual(calls.map((e) => e.status), [404]);
});

step('a broker that never saw this site prove its address answers ownership_proof_required: the plugin explains and forgets the earlier id', async () => {
  // This run's broker requires proofs, so the answer is played by WordPress's pre_http_request
  // filter (the request never leaves): what a broker without proofs for WordPress answers.
  const out = JSON.parse(
    wpPhp(
      'update_option(Storefront_Sync_State::PREVIOUS_INSTALL_ID_OPTION, "ins_AAAAAAAAAAAAAAAAAAAAAA", false); $seen = []; ' +
        'add_filter("pre_http_request", function ($pre, $args, $url) use (&$seen) { $seen[] = $args["method"] . " " . parse_url($url, PHP_URL_PATH) . " " . $args["body"]; ' +
        'return ["response" => ["code" => 403, "message" => "Forbidden"], "headers" => new Requests_Utility_CaseInsensitiveDictionary(["content-type" => "application/json"]), ' +
        '"body" => json_encode(["error" => "ownership_proof_required", "message" => "prove the site first"]), "cookies" => [], "filename" => null]; }, 10, 3); ' +
        '$r = Storefront_Sync_Previous::revoke(); echo json_encode(["result" => $r, "seen" => $seen, "left" => get_option(Storefront_Sync_State::PREVIOUS_INSTALL_ID_OPTION, null)]);',
      { native: MODE === 'native' },
    ),
  );
  assert.deepEqual(out.result, ['previous_proof_required', '']);
  assert.deepEqual(out.seen, [`POST /installations/${notes.installId}/revoke-previous {"install_id":"ins_AAAAAAAAAAAAAAAAAAAAAA"}`], 'sent once (a 403 is never retried)');
  assert.equal(out.left, null, 'the earlier id is forgotten: the button could not work');
  // What the operator reads (the result notice of the settings page).
  await page.goto(`${settingsUrl()}&sfs_notice=previous_proof_required`);
  await expectText('The service can only do this for a site that proved its address. The earlier registration is removed automatically after it has been unused for a while; you can also remove the app\'s access in your Stora account settings.');
  await expectNoText(PREVIOUS_NOTICE);
  await screenshot('previous-proof-required');
});

step('no PHP error, warning or notice from the plugin', async () => {
  const log = existsSync(process.env.WP_DEBUG_LOG) ? readFileSync(process.env.WP_DEBUG_LOG, 'utf8') : '';
  const ours = log.split('\n').filter((line) => /storefront-sync|storefront_sync|Storefront_Sync|tessera/i.test(line));
  assert.deepEqual(ours, []);
});

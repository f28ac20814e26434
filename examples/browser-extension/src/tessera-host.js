// The extension's host glue around tessera-companion, shared by the service
// worker and the extension pages. It only does what the package leaves to the
// host: load the wasm, read the configuration, keep the sealed state in
// chrome.storage.local, serialise access to it, hand the package's drivers
// `fetch` and `onPersist`, and reflect the status in the toolbar badge and the
// uninstall URL. Registration, signing, state rules, retries, redirects and
// error mapping are the package's.
//
// In authorization-proxy mode (build.mjs --proxy-url) the same code runs on
// the package's proxy entry (companion.js): the companion then holds the
// operator's Stora tokens in the same sealed state, calls Stora itself, and
// its drivers also get the refresh lock (`webLocks`).

import { init, Companion, TesseraError, metadataPatch, webLocks, WASM_PATH } from "./companion.js";
import { loadSealKey, forgetSealKey } from "./seal-key.js";

export { TesseraError };

/** chrome.storage.local keys. The seal key is not among them: see seal-key.js. */
const STATE_KEY = "tessera.state";
const EMAIL_KEY = "tessera.adminEmail";
/**
 * The install id in plain text, next to the sealed state. Not a secret (it is
 * every signature's `keyid`): kept so the extension still knows which
 * installation it was after it forgot a state that no longer opened.
 */
const INSTALL_ID_KEY = "tessera.installId";
/**
 * The installation a registration replaced (after "Forget local state" or a
 * registration the broker no longer accepted), until the operator dismisses
 * the notice about it. The broker never lets an extension revoke it
 * (`ownership_proof_required`: an extension cannot prove a site); it ends
 * after the broker's idle limit, or when the operator removes the app's
 * access in the Stora account settings.
 */
const PREVIOUS_KEY = "tessera.previousInstallId";
/**
 * The most recent of Stora's events the extension pulled (broker mode), a
 * short list the options page shows: `[{ id, type, createdAt, objectId }]`,
 * newest first. Stored before the page is acknowledged (at least once: a
 * page pulled again after a crash is de-duplicated by id).
 */
const EVENTS_KEY = "tessera.recentEvents";
/** How many recent events are kept. */
const RECENT_EVENTS = 20;
/** Pages pulled at most per `pullEvents()` (each up to 50 events). */
const MAX_PAGES = 5;

/**
 * One Web Lock name: every context (worker, pages) reads-modifies-writes
 * under it. In proxy mode the package also takes its own refresh lock
 * (`tessera-refresh-<install id>`, through `webLocks`) inside this one:
 * always in that order, so the two never deadlock.
 */
const LOCK = "tessera.state";

export const PLATFORM = "chrome-extension";
export const VERSION = chrome.runtime.getManifest().version;
/** The installation's identity: the extension origin, no trailing slash. */
export const SITE_URL = chrome.runtime.getURL("").replace(/\/$/, "");
/** Where the broker sends the browser back after consent (web accessible). */
export const RETURN_URL = chrome.runtime.getURL("connected.html");
/**
 * What the extension asks the operator to grant at Stora (config.json's
 * `scope` replaces it): read orders, flag them (order metadata), and record
 * what it did on the operator's Stora timeline.
 */
export const SCOPE = "public.order:read public.order:write public.timeline_event:write";
/** The Timeline Event source of this extension (`source.id`), as registered with Stora. */
export const EVENT_SOURCE = "tessera_example_extension";
/** The Timeline Event template of "Flag for follow-up" (`template.id`). */
export const FOLLOW_UP_TEMPLATE = "order_follow_up";
/** The extension's mark on an order, in the order's Stora metadata. */
export const FOLLOW_UP_KEY = "storefront_ext.follow_up";

let loading;

/** Loads the wasm (from the packaged file) and config.json, once per context. */
export function ready() {
  loading ??= (async () => {
    const [config] = await Promise.all([
      fetch(chrome.runtime.getURL("config.json")).then((r) => r.json()),
      init(chrome.runtime.getURL(WASM_PATH)),
    ]);
    const brokerUrl = String(config.brokerUrl);
    return Object.freeze({
      brokerUrl,
      // Authorization-proxy mode: `{ storaApiUrl }` (brokerUrl is then the proxy's URL), else null.
      proxy: config.proxy ?? null,
      scope: config.scope ?? SCOPE,
      // The Timeline Events' `external.url`, which Stora requires to be https:
      // the partner's page about the extension (build.mjs --event-url), else the
      // https form of the broker's URL.
      eventUrl: config.eventUrl ?? httpsForm(brokerUrl),
    });
  })().catch((e) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

/**
 * Runs `fn(companion, hooks)` on the stored installation under the lock and
 * saves the state afterwards (also when `fn` throws: a failed callback or
 * call can still change the state). `hooks.onPersist` is for the package's
 * drivers; `hooks.wipe()` forgets the stored state (after an uninstall).
 */
export async function withCompanion(fn) {
  const config = await ready();
  return navigator.locks.request(LOCK, async () => {
    const stored = await chrome.storage.local.get([STATE_KEY, INSTALL_ID_KEY]);
    const sealed = stored[STATE_KEY];
    // In memory only; chrome.storage holds it wrapped under an IndexedDB key.
    // A key that cannot be unwrapped is state_undecryptable too.
    const key = await loadSealKey(typeof sealed === "string");
    // A state that does not open is an error (state_undecryptable), never "empty".
    const companion =
      typeof sealed === "string"
        ? Companion.openState(sealed, key)
        : Companion.create({ brokerUrl: config.brokerUrl, sealKey: key, ...(config.proxy ? { proxy: config.proxy } : {}) });
    let wiped = false;
    // Saved only when it changed (a fresh seal differs every time, pages
    // follow chrome.storage.onChanged, and a fresh unregistered companion
    // need not be stored at all).
    let saved = stateJSON(companion);
    // `sealed`: what the package's onPersist hands over, the state sealed with
    // this key (stored exactly as given); else the host seals it itself.
    const save = async (sealed) => {
      if (wiped) return;
      const json = stateJSON(companion);
      if (sealed === undefined && json === saved) return;
      const id = companion.installId;
      await chrome.storage.local.set({ [STATE_KEY]: sealed ?? companion.sealState(key), ...(id ? { [INSTALL_ID_KEY]: id } : {}) });
      saved = json;
    };
    // A state stored before the plain install id existed gets it now.
    if (companion.installId && stored[INSTALL_ID_KEY] !== companion.installId) {
      await chrome.storage.local.set({ [INSTALL_ID_KEY]: companion.installId });
    }
    const hooks = {
      config,
      onPersist: (sealed) => save(sealed),
      wipe: () => {
        wiped = true;
      },
    };
    try {
      return await fn(companion, hooks);
    } finally {
      try {
        if (wiped) {
          // Deregistered: no earlier installation left to warn about.
          await chrome.storage.local.remove([STATE_KEY, INSTALL_ID_KEY, PREVIOUS_KEY, EVENTS_KEY]);
        } else {
          await save();
        }
        await reflect(wiped ? null : companion);
      } finally {
        companion.free();
      }
    }
  });
}

/** The state as JSON, to tell whether it changed (never stored as is). */
function stateJSON(companion) {
  return companion.exportState();
}

/** What the pages show: no secret, no token. */
export async function snapshot(companion) {
  const config = await ready();
  const stored = await chrome.storage.local.get([EMAIL_KEY, PREVIOUS_KEY]);
  const adminEmail = stored[EMAIL_KEY] ?? "";
  const installId = companion?.installId ?? null;
  const previous = stored[PREVIOUS_KEY] ?? null;
  return {
    status: companion ? companion.status : "not_registered",
    installId: companion?.installId ?? null,
    reconnectReason: companion?.reconnectReason ?? null,
    /** `{ id, name }` of the connected Stora account, or null. */
    account: companion?.account ?? null,
    /** The id of an installation a registration replaced, which may still hold a grant (or null). */
    previousInstallId: previous && previous !== installId ? previous : null,
    siteUrl: SITE_URL,
    brokerUrl: config.brokerUrl,
    /** "proxy" (an authorization proxy: calls go straight to Stora) or "broker". */
    mode: config.proxy ? "proxy" : "broker",
    adminEmail,
  };
}

/** Status → toolbar badge, and a fresh signed uninstall ticket (it expires). */
async function reflect(companion) {
  const status = companion ? companion.status : "not_registered";
  const attention = status === "reconnect_required" || status === "registration_invalid";
  await chrome.action.setBadgeText({ text: attention ? "!" : "" });
  if (attention) await chrome.action.setBadgeBackgroundColor({ color: "#b3261e" });
  let uninstallUrl = "";
  try {
    // Only a registered installation has a ticket; the URL never holds the secret.
    if (companion?.installId) uninstallUrl = companion.uninstallUrl();
  } catch (e) {
    if (!(e instanceof TesseraError)) throw e;
  }
  await chrome.runtime.setUninstallURL(uninstallUrl);
}

/** Errors cross chrome.runtime messaging as plain, secret-free objects. */
export function errorJSON(e) {
  if (e instanceof TesseraError) return e.toJSON();
  return { name: e?.name ?? "Error", code: "extension_error", message: String(e?.message ?? e) };
}

// ---- operations ------------------------------------------------------------------

export async function getStatus() {
  return withCompanion((c) => snapshot(c));
}

/**
 * The refresh lock of proxy mode: the package's pair on the Web Locks API,
 * shared by the worker and the pages; once held it reads the state as stored
 * now (sealed; another context may have refreshed the tokens meanwhile).
 */
let refreshLock;
function proxyLock() {
  refreshLock ??= webLocks(async () => (await chrome.storage.local.get(STATE_KEY))[STATE_KEY]);
  return refreshLock;
}

/**
 * What the package's drivers need from the extension: the network and the
 * store, and in proxy mode the refresh lock (its calls refuse to run without).
 */
const driver = (onPersist, config) => ({
  fetch: (url, init) => fetch(url, init),
  onPersist,
  ...(config?.proxy ? proxyLock() : {}),
});

/**
 * Registers the installation (once the operator's email is known). The
 * package stores the new id and secret before sending (a lost answer is
 * retried with the same ones), resumes a pending registration, registers
 * afresh after registration_invalid, and refuses (invalid_state) when the
 * installation is already registered.
 */
export async function register(adminEmail) {
  if (adminEmail !== undefined) await chrome.storage.local.set({ [EMAIL_KEY]: String(adminEmail).trim() });
  const email = (await chrome.storage.local.get(EMAIL_KEY))[EMAIL_KEY];
  return withCompanion(async (c, { config, onPersist }) => {
    if (!email) return snapshot(c);
    const registration = { siteUrl: SITE_URL, adminEmail: email, platform: PLATFORM, pluginVersion: VERSION };
    // The installation this registration may replace: the state's (a
    // registration the broker no longer accepts), else the plain id of a
    // state that was forgotten ("Forget local state").
    const prior = c.installId ?? (await chrome.storage.local.get(INSTALL_ID_KEY))[INSTALL_ID_KEY] ?? null;
    // No serveProof: an extension has no site to serve an ownership proof
    // from, so a challenge is deferred and comes back as the outcome.
    let outcome;
    try {
      outcome = await c.register(registration, driver(onPersist, config));
    } finally {
      // A new id (persisted before it was sent, so also when this failed):
      // the earlier installation may still hold a grant at Stora.
      if (prior && c.installId && c.installId !== prior) await chrome.storage.local.set({ [PREVIOUS_KEY]: prior });
    }
    if (outcome.outcome === "ownership_challenge") {
      throw new Error("the broker asked for an ownership proof, which an extension cannot serve");
    }
    return snapshot(c);
  });
}

/** The broker connect URL (records the pending connect). Also a reconnect. */
export async function connectUrl() {
  return withCompanion((c, { config }) => c.connectUrl({ returnUrl: RETURN_URL, scope: config.scope }));
}

/**
 * Completes the connect from the broker's redirect to connected.html
 * (`?state=…&code=…`): the package checks `state`, then exchanges the
 * one-time code with the broker (signed `POST /connect/complete`) → the
 * status, with the Stora account now connected (pages show it).
 */
export async function completeConnect(callbackUrl) {
  return withCompanion(async (c, { config, onPersist }) => {
    // The account the operator just connected, as the package's result says
    // (the same as snapshot's `account` in broker mode).
    const { account } = await c.completeConnect(callbackUrl, driver(onPersist, config));
    return { ...(await snapshot(c)), account };
  });
}

/** `url` with the https scheme (a loopback test broker is plain http). */
function httpsForm(url) {
  const u = new URL(url);
  u.protocol = "https:";
  return u.href;
}

/**
 * "Flag for follow-up", an action that originates here: the order's Stora
 * metadata gets the extension's mark (`PATCH /api/orders/{id}` with a
 * merge-patch body from the package's `metadataPatch`), then the package's
 * `callAndRecord` records a Timeline Event on the operator's timeline whose
 * `external.id` is the PATCH's Idempotency-Key. A failed PATCH throws and
 * records nothing; a failed event leaves the order flagged and is reported.
 * → `{ order, event: { ok: true } | { ok: false, error } }`.
 */
export async function flagForFollowUp(orderId) {
  if (typeof orderId !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(orderId)) {
    throw new Error("not an order id");
  }
  const name = chrome.runtime.getManifest().name;
  return withCompanion(async (c, { config, onPersist }) => {
    const request = {
      method: "PATCH",
      path: `/api/orders/${orderId}`,
      headers: { "content-type": "application/json" },
      body: metadataPatch({ [FOLLOW_UP_KEY]: "yes" }),
    };
    const event = {
      sourceId: EVENT_SOURCE,
      templateId: FOLLOW_UP_TEMPLATE,
      description: `Order flagged for follow-up via ${name}`,
      externalUrl: config.eventUrl,
      variables: { order: orderId },
    };
    const recorded = await c.callAndRecord(request, event, driver(onPersist, config));
    return {
      order: JSON.parse(new TextDecoder().decode(recorded.response.body)),
      event: recorded.event.ok ? { ok: true } : { ok: false, error: errorJSON(recorded.event.error) },
    };
  });
}

/** A signed GET through the broker (proxy mode: a GET straight to Stora) → the parsed JSON body. */
export async function apiGet(path) {
  return withCompanion(async (c, { config, onPersist }) => {
    const res = await c.call({ method: "GET", path }, driver(onPersist, config));
    return JSON.parse(new TextDecoder().decode(res.body));
  });
}

/**
 * Stora's events (broker mode: the broker receives Stora's webhooks and
 * queues them; the package pulls them with a signed call): pulls the pages
 * queued since the last acknowledged one, keeps the most recent events in
 * chrome.storage.local, then acknowledges each page (the cursor reaches the
 * sealed state through `onPersist`) → the recent events, newest first. Not
 * connected, or in proxy mode (no broker queue): the stored list as it is.
 */
export async function pullEvents() {
  return withCompanion(async (c, { config, onPersist }) => {
    let recent = (await chrome.storage.local.get(EVENTS_KEY))[EVENTS_KEY] ?? [];
    if (config.proxy || c.status !== "connected") return recent;
    for (let pages = 0; pages < MAX_PAGES; pages++) {
      const page = await c.pullEvents({ ...driver(onPersist, config), limit: 50 });
      const seen = new Set(recent.map((e) => e.id));
      const fresh = page.events
        .filter((e) => !seen.has(e.id))
        .map((e) => ({ id: e.id, type: e.type, createdAt: e.createdAt, objectId: objectId(e.data) }));
      recent = [...fresh.reverse(), ...recent].slice(0, RECENT_EVENTS);
      // Handled (stored), then acknowledged: a crash in between pulls the page again.
      await chrome.storage.local.set({ [EVENTS_KEY]: recent });
      await c.acknowledgeEvents(page.cursor, { onPersist });
      if (!page.hasMore) break;
    }
    return recent;
  });
}

/** The id of the Stora object an event is about (`data.object.id`), when it has one. */
function objectId(data) {
  const id = data?.object?.id;
  return typeof id === "string" ? id : null;
}

/**
 * Disconnect: the broker revokes at Stora (in proxy mode the extension asks
 * the proxy to revoke its refresh token); the token is dropped locally either way.
 */
export async function disconnect() {
  return withCompanion(async (c, { config, onPersist }) => {
    const result = await c.disconnect(driver(onPersist, config));
    return { remote: remoteJSON(result.remote), ...(await snapshot(c)) };
  });
}

/** "Remove connection": the full uninstall plan (disconnect, deregister, wipe). */
export async function removeConnection() {
  return withCompanion(async (c, { config, onPersist, wipe }) => {
    const report = await c.uninstall(driver(onPersist, config));
    wipe();
    return {
      disconnect: remoteJSON(report.disconnect),
      deregister: remoteJSON(report.deregister),
      ...(await snapshot(null)),
    };
  });
}

/** The operator read the notice about the earlier installation. */
export async function dismissPreviousInstallation() {
  await chrome.storage.local.remove(PREVIOUS_KEY);
}

/**
 * Forgets a local state that cannot be opened any more (its key is gone).
 * The plain install id stays: the next registration knows which installation
 * it replaces.
 */
export async function resetLocalState() {
  await ready();
  return navigator.locks.request(LOCK, async () => {
    await chrome.storage.local.remove(STATE_KEY);
    await forgetSealKey();
    await reflect(null);
  });
}

function remoteJSON(step) {
  return { result: step.result, error: step.error === null ? null : errorJSON(step.error) };
}

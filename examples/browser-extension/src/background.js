// The service worker: registers the installation at install time, answers
// the pages' requests (every broker call goes through here), and keeps the
// badge and the signed uninstall URL fresh each time it starts.
//
// MV3 rules kept here: listeners are added synchronously at the top level,
// nothing is awaited at the top level, no eval (the wasm is instantiated under
// 'wasm-unsafe-eval' only).

import * as host from "./tessera-host.js";

chrome.runtime.onInstalled.addListener(({ reason }) => {
  if (reason !== "install") return;
  // Register now if the operator's email is known; otherwise the options page
  // asks for it and registration waits.
  host
    .register()
    .then((s) => {
      if (s.status === "not_registered") chrome.runtime.openOptionsPage();
    })
    .catch((e) => console.warn("registration failed", host.errorJSON(e)));
});

chrome.action.onClicked.addListener(() => chrome.runtime.openOptionsPage());

// The uninstall ticket is a bearer link that expires (7 days at the
// reference broker, tessera-core's UNINSTALL_TICKET_MAX_AGE_SECS): every start
// of the worker signs a fresh one (and resyncs the badge), and so does a daily
// alarm, for a browser left running with the worker asleep. No policy here
// beyond "refresh regularly".
const REFRESH_ALARM = "tessera.refresh-uninstall-url";
const refresh = () => host.getStatus().catch((e) => console.warn("state not readable", host.errorJSON(e)));
// A listener here makes Chromium start the worker with the browser, so the
// top-level refresh() below runs then too.
chrome.runtime.onStartup.addListener(() => {});
chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === REFRESH_ALARM) refresh();
});
// Created once (re-creating it on every start would push it back each time).
chrome.alarms
  .get(REFRESH_ALARM)
  .then((alarm) => alarm ?? chrome.alarms.create(REFRESH_ALARM, { delayInMinutes: 24 * 60, periodInMinutes: 24 * 60 }))
  .catch((e) => console.warn("refresh alarm not set", host.errorJSON(e)));
refresh();

/** Page → worker requests. Each answers `{ ok: true, value }` or `{ ok: false, error }`. */
const handlers = {
  status: () => host.getStatus(),
  register: (msg) => host.register(msg.adminEmail),
  orders: () => host.apiGet("/api/orders"),
  flag: (msg) => host.flagForFollowUp(msg.orderId),
  events: () => host.pullEvents(),
  disconnect: () => host.disconnect(),
  remove: () => host.removeConnection(),
  reset: () => host.resetLocalState(),
};

chrome.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  // Only this extension's own pages may drive it.
  if (sender.id !== chrome.runtime.id || !sender.url?.startsWith(host.SITE_URL + "/")) return false;
  const handler = handlers[msg?.type];
  if (!handler) return false;
  handler(msg)
    .then(async (value) => sendResponse({ ok: true, value, state: await host.getStatus().catch(() => null) }))
    .catch(async (e) => sendResponse({ ok: false, error: host.errorJSON(e), state: await host.getStatus().catch(() => null) }));
  return true; // the answer is asynchronous
});

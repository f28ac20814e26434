// The broker's return URL: chrome-extension://<id>/connected.html?state=…&broker_token=…
// (or &error=…). The package checks `state` (one use, 10 minutes) and stores
// the broker token; this page only shows the outcome and takes the token out
// of the address bar and the history.

import * as host from "./tessera-host.js";

const $ = (id) => document.getElementById(id);
const callback = location.href;
history.replaceState(null, "", location.pathname);

try {
  const state = await host.completeConnect(callback);
  document.title = "Tessera example: connected";
  $("title").textContent = "Connected to Stora";
  $("detail").textContent = `Installation ${state.installId} is connected. You can close this tab.`;
} catch (e) {
  document.title = "Tessera example: not connected";
  $("title").textContent = "Not connected";
  $("detail").textContent =
    e?.code === "callback_denied"
      ? `The connection was not made: ${e.reason ?? e.code}. Start again from the settings page.`
      : `${e?.message ?? e} (${e?.code ?? "error"}). Start again from the settings page.`;
}

// The broker's return URL: chrome-extension://<id>/connected.html?state=…&code=…
// (or &error=…). The package checks `state` (one use, 10 minutes), exchanges
// the one-time code for the broker token (a signed POST to the broker) and
// stores it; this page shows the outcome — which Stora account is now
// connected — and takes the code out of the address bar and the history.

import * as host from "./tessera-host.js";

const $ = (id) => document.getElementById(id);
const callback = location.href;
history.replaceState(null, "", location.pathname);

try {
  const state = await host.completeConnect(callback);
  document.title = "Tessera example: connected";
  $("title").textContent = "Connected to Stora";
  // Always as text: the name comes from Stora through the broker.
  $("account").textContent = `Connected to Stora account ${state.account.name} (${state.account.id})`;
  $("account").hidden = false;
  $("detail").textContent =
    `Installation ${state.installId} is connected. If this is not your Stora account, disconnect from the settings page. You can close this tab.`;
} catch (e) {
  document.title = "Tessera example: not connected";
  $("title").textContent = "Not connected";
  $("detail").textContent =
    e?.code === "callback_denied"
      ? `The connection was not made: ${e.reason ?? e.code}. Start again from the settings page.`
      : `${e?.message ?? e} (${e?.code ?? "error"}). Start again from the settings page.`;
}

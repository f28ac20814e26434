// The options page. It loads tessera-companion itself (status, connect URL)
// and asks the service worker for everything that talks to the broker
// (register, orders, flag for follow-up, Stora's events, disconnect,
// remove) through chrome.runtime messages. Stora's recent events are pulled
// each time the page opens (and when a connect completes).

import * as host from "./tessera-host.js";

const $ = (id) => document.getElementById(id);

const STATUS_TEXT = {
  not_registered: "Not registered",
  registration_pending: "Registering…",
  awaiting_ownership: "Waiting for the broker",
  registered: "Registered, not connected",
  connected: "Connected",
  reconnect_required: "Reconnect required",
  registration_invalid: "Registration no longer valid: register again",
  site_mismatch: "Installation mismatch",
};

/** Sends a request to the service worker → its value, or throws the error it reported. */
async function ask(type, extra = {}) {
  const answer = await chrome.runtime.sendMessage({ type, ...extra });
  if (answer?.state) render(answer.state);
  if (!answer?.ok) throw Object.assign(new Error(answer?.error?.message ?? "no answer"), answer?.error ?? {});
  return answer.value;
}

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").classList.toggle("error", isError);
}

function describe(e) {
  return e?.code ? `${e.message} [${e.code}]` : String(e?.message ?? e);
}

let current;

function render(state) {
  current = state;
  const s = state.status;
  $("status").textContent = STATUS_TEXT[s] ?? s;
  $("status").dataset.status = s;
  // The account the installation is connected to, always as text (the name comes from Stora).
  const account = state.account;
  $("account").textContent = account ? `Connected to Stora account ${account.name} (${account.id})` : "—";
  $("install-id").textContent = state.installId ?? "—";
  $("broker-url").textContent = state.brokerUrl;
  // Proxy mode: brokerUrl names the authorization proxy, and calls go straight to Stora.
  $("broker-label").textContent = state.mode === "proxy" ? "Authorization proxy" : "Broker";
  $("site-url").textContent = state.siteUrl;
  if (state.adminEmail && !$("email").value) $("email").value = state.adminEmail;

  const registered = ["registered", "connected", "reconnect_required"].includes(s);
  $("register-section").hidden = !["not_registered", "registration_pending", "registration_invalid"].includes(s);
  $("connection-section").hidden = !registered;
  $("connect").hidden = s !== "registered";
  $("reconnect").hidden = s === "registered";
  $("disconnect").disabled = s !== "connected" && s !== "reconnect_required";
  $("notice").hidden = s !== "reconnect_required";
  // An installation a registration replaced (after "Forget local state" or a
  // registration the broker no longer accepted) may still hold a grant: the
  // broker cannot revoke it for an extension (no ownership proof), so say
  // what ends it.
  $("previous-notice").hidden = !(registered && state.previousInstallId);
  $("previous-notice").dataset.installId = state.previousInstallId ?? "";
  $("orders-section").hidden = s !== "connected";
  // Stora's events come through the broker's queue: none in proxy mode.
  $("events-section").hidden = s !== "connected" || state.mode === "proxy";
  $("reset-section").hidden = true;
}

async function refreshStatus() {
  try {
    render(await host.getStatus());
  } catch (e) {
    $("status").textContent = "Unreadable";
    $("reset-section").hidden = false;
    say(describe(e), true);
  }
}

async function loadOrders() {
  const tbody = $("orders").querySelector("tbody");
  try {
    const orders = await ask("orders");
    tbody.replaceChildren(
      ...orders.data.map((o) => {
        const tr = document.createElement("tr");
        const price = new Intl.NumberFormat("en-GB", { style: "currency", currency: o.monthly_price.currency });
        for (const text of [o.id, o.unit, o.status, price.format(o.monthly_price.amount / 100)]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.append(td);
        }
        tr.append(followUpCell(o));
        return tr;
      }),
    );
    say(`Loaded ${orders.data.length} orders.`);
  } catch (e) {
    tbody.replaceChildren();
    say(describe(e), true);
  }
}

/**
 * Pulls Stora's events the broker queued (the worker stores the recent ones
 * and acknowledges them) and lists the recent ones. Reports in its own
 * section: the status line stays the orders'.
 */
async function loadEvents() {
  if ($("events-section").hidden) return;
  const tbody = $("events").querySelector("tbody");
  try {
    const events = await ask("events");
    tbody.replaceChildren(
      ...events.map((e) => {
        const tr = document.createElement("tr");
        tr.dataset.event = e.id;
        // Stora's values, always as text.
        for (const text of [new Date(e.createdAt * 1000).toLocaleString("en-GB"), e.type, e.objectId ?? "—"]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.append(td);
        }
        return tr;
      }),
    );
    $("events-note").textContent = events.length ? "" : "No events yet.";
    $("events-note").classList.remove("error");
  } catch (e) {
    $("events-note").textContent = `Events could not be pulled: ${describe(e)}`;
    $("events-note").classList.add("error");
  }
}

/** "Flagged" when the order carries the extension's mark, else a "Flag for follow-up" button. */
function followUpCell(order) {
  const td = document.createElement("td");
  if (order.metadata?.[host.FOLLOW_UP_KEY] === "yes") {
    td.textContent = "Flagged";
    td.className = "flagged";
  } else {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small flag";
    button.dataset.order = order.id;
    button.textContent = "Flag for follow-up";
    td.append(button);
  }
  return td;
}

/** One thing at a time: button actions and updates from storage never interleave. */
let queue = Promise.resolve();
function serial(fn) {
  const run = queue.then(fn);
  queue = run.catch(() => {});
  return run;
}

/** Runs an action with the buttons disabled, reporting its error. */
function runAction(run) {
  const buttons = document.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  return serial(async () => {
    try {
      await run();
    } catch (e) {
      say(describe(e), true);
    } finally {
      document.querySelectorAll("button").forEach((b) => (b.disabled = false));
      if (current) render(current);
    }
  });
}

/** A button's action. */
function action(id, run) {
  $(id).addEventListener("click", (event) => {
    event.preventDefault();
    runAction(run);
  });
}

async function openConnect() {
  // Computed here, in the page: the pending connect is saved before the tab opens.
  const url = await host.connectUrl();
  await chrome.tabs.create({ url });
  say("Approve access in the new tab; this page updates when you come back.");
}

action("register", async () => {
  const email = $("email").value.trim();
  if (!$("email").checkValidity() || !email) throw new Error("Enter your Stora account email.");
  await ask("register", { adminEmail: email });
  say("Registered with the broker.");
});
action("connect", openConnect);
action("reconnect", openConnect);
action("disconnect", async () => {
  const result = await ask("disconnect");
  say(result.remote.result === "failed" ? `Disconnected locally; the broker said: ${describe(result.remote.error)}` : "Disconnected.");
});
action("remove", async () => {
  const report = await ask("remove");
  const failed = ["disconnect", "deregister"].filter((k) => report[k].result === "failed");
  say(
    failed.length
      ? `Removed locally; ${failed.map((k) => `${k}: ${describe(report[k].error)}`).join("; ")}`
      : "Connection removed: disconnected, deregistered and local state wiped.",
  );
});
action("refresh", loadOrders);
// "Flag for follow-up" (one button per order row, made by loadOrders).
$("orders").addEventListener("click", (event) => {
  const button = event.target.closest("button.flag");
  if (!button) return;
  const orderId = button.dataset.order;
  runAction(async () => {
    const result = await ask("flag", { orderId });
    await loadOrders();
    say(
      result.event.ok
        ? `Order ${orderId} flagged for follow-up and recorded on your Stora timeline.`
        : `Order ${orderId} flagged for follow-up, but the timeline entry could not be recorded: ${describe(result.event.error)}`,
      !result.event.ok,
    );
  });
});
action("dismiss-previous", async () => {
  await host.dismissPreviousInstallation();
  await refreshStatus();
});
action("reset", async () => {
  await ask("reset");
  say("Local state forgotten.");
  await refreshStatus();
});

// The connect completes in another tab (connected.html): follow the stored state.
chrome.storage.onChanged.addListener((changes, area) => {
  if (area !== "local" || !changes["tessera.state"]) return;
  serial(async () => {
    const before = current?.status;
    await refreshStatus();
    if (current?.status === "connected" && before !== "connected") {
      await loadOrders();
      await loadEvents();
    }
  });
});

serial(async () => {
  await refreshStatus();
  if (current?.status === "connected") {
    await loadOrders();
    await loadEvents();
  }
});

// The lifecycle of a browser-extension installation with tessera-companion, against a local broker
// and the fake Stora (`bash scripts/dev-env.sh`; see README.md). In a real extension `storage` is
// chrome.storage.local, the seal key lives in IndexedDB, `extensionId` is chrome.runtime.id and
// the consent runs in chrome.identity.launchWebAuthFlow.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { Companion } from "tessera-companion";

const file = process.env.TESSERA_ENV_FILE ? JSON.parse(readFileSync(process.env.TESSERA_ENV_FILE, "utf8")) : {};
const brokerUrl = process.env.TESSERA_BROKER_URL || file.broker_url;
const storaUrl = process.env.TESSERA_STORA_URL || file.stora_url;
if (!brokerUrl) throw new Error("set TESSERA_BROKER_URL or TESSERA_ENV_FILE (see README.md)");
const extensionId = process.env.TESSERA_EXTENSION_ID || "abcdefghijklmnopabcdefghijklmnop";
const returnUrl = `https://${extensionId}.chromiumapp.org/tessera`; // chrome.identity.getRedirectURL("tessera")

const storage = {}; // chrome.storage.local
const sealKey = randomBytes(32); // kept apart from the state
const onPersist = (sealed) => { storage.tessera = sealed; }; // the state arrives sealed: store it as is

let companion = Companion.create({ brokerUrl, sealKey });
console.log(`created: a companion for ${brokerUrl}`);

const registration = {
  siteUrl: `chrome-extension://${extensionId}`, // the extension's origin: no ownership proof
  adminEmail: "owner@shop.example",
  platform: "chrome-extension",
  pluginVersion: "1.0.0", // chrome.runtime.getManifest().version
};
await companion.register(registration, { onPersist });
console.log(`registered: installation ${companion.installId} (status ${companion.status})`);

// A service worker can be stopped at any time: the next one reopens the stored state.
companion = Companion.openState(storage.tessera, sealKey);
const connectUrl = companion.connectUrl({ returnUrl });
onPersist(companion.sealState(sealKey)); // the pending connect is part of the state
console.log("connect started: the operator opens the connect URL in a browser and approves at Stora");

const callback = process.env.TESSERA_AUTO_CONSENT === "1" ? await approve(connectUrl) : await ask(connectUrl);
const { account } = await companion.completeConnect(callback, { onPersist });
console.log(`connected: Stora account ${account.name} (${account.id})`);

const res = await companion.call({ method: "GET", path: "/api/orders?limit=5" }, { onPersist });
const orders = await res.json();
console.log(`called: GET /api/orders answered ${res.status} with ${orders.data.length} orders`);

const { remote } = await companion.disconnect({ onPersist });
console.log(`disconnected: ${remote.result} (status ${companion.status})`);
const report = await companion.uninstall({ onPersist });
console.log(`uninstalled: deregistration ${report.deregister.result} (status ${companion.status})`);

/** Without a browser: print the URL, read back the address the browser ended on. */
async function ask(url) {
  console.log(`Open in a browser, click Continue, then Approve:\n  ${url}`);
  console.log(`Paste the address it ends on, ${returnUrl}?… (it does not load: copy it from the address bar)`);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question("> ");
  rl.close();
  return answer.trim();
}

/** TESSERA_AUTO_CONSENT=1 (the test runner): a browser that clicks Continue, then Approve on the fake Stora. */
async function approve(url) {
  const cookies = new Map(); // host → "name=value": the broker binds the round to the browser
  for (let hops = 0; hops < 10 && !url.startsWith(returnUrl); hops++) {
    const host = new URL(url).host;
    const r = await fetch(url, { redirect: "manual", headers: { cookie: cookies.get(host) ?? "" } });
    for (const c of r.headers.getSetCookie()) cookies.set(host, c.split(";")[0]);
    const onStora = storaUrl && url.startsWith(storaUrl);
    const link = (await r.text()).match(onStora ? /id="approve" href="([^"]+)"/ : /id="continue" href="([^"]+)"/)?.[1];
    const next = r.headers.get("location") ?? link?.replaceAll("&amp;", "&");
    if (!next) throw new Error(`consent stopped at ${new URL(url).pathname} (${r.status}): TESSERA_STORA_URL?`);
    url = new URL(next, url).href;
  }
  return url;
}

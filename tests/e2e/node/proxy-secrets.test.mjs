// Secrets in authorization-proxy mode (issue 18, item 4): the installation
// holds Stora's access and refresh tokens itself, so the search of
// secrets.test.mjs is run over the proxy-mode lifecycle with the packed
// `tessera-companion/proxy` entry against tessera-proxy-env (its fake Stora
// prefixes every code and token with a canary):
//   - every value handed to `onPersist` is sealed and reopens to the state
//     of that moment: sealed tokens are the only form at rest;
//   - no token, installation secret or canary in any error, result, printed
//     companion or corrupt-state refusal;
//   - no token in any URL the driver fetched; the access token travels only
//     in the Authorization header of requests to Stora's API, the refresh
//     token only in the signed bodies of /refresh and /revoke at the proxy,
//     the installation secret only in the registration.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Companion } from "tessera-companion/proxy";
import { startProxyEnv } from "./env.mjs";
import { Capture, rejects, search } from "./capture.mjs";

const CANARY = "CANARYproxy-";
const OPERATOR = "opr_node_proxy_secrets";
const KEY = "a sealing key of 32 bytes or so!";
const SCOPE = "public.order:read public.contact:read public.contact:write";
const env = await startProxyEnv(["--token-canary", CANARY]);
after(() => env.stop());

test("proxy mode: tokens are sealed at rest and reach no URL, error, result or printed output", async () => {
  const cap = new Capture();
  const held = new Map(); // value -> kind
  const persisted = []; // every value handed to onPersist
  const fetched = []; // { url, authorization, body } for every request the driver sent
  let stored = null;
  let c;
  const learn = (json) => {
    const state = JSON.parse(json);
    if (state.installation) held.set(state.installation.secret, "secret");
    if (state.tokens) {
      held.set(state.tokens.access_token, "access token");
      held.set(state.tokens.refresh_token, "refresh token");
    }
  };
  // One site's store and lock, as the extension's contexts share them (the
  // lock is uncontended here: this test is about what is printed).
  const options = {
    onPersist: (value) => {
      stored = value;
      persisted.push(value);
      learn(c.exportState());
    },
    lock: async () => stored,
    unlock: async () => {},
    fetch: async (url, init = {}) => {
      const headers = new Headers(init.headers);
      const body = init.body ? new TextDecoder().decode(init.body) : "";
      fetched.push({ url: String(url), authorization: headers.get("authorization") ?? "", body });
      return fetch(url, init);
    },
  };
  const note = () => {
    learn(c.exportState());
    cap.print("the companion", c);
  };

  c = Companion.create({ brokerUrl: env.broker, proxy: { storaApiUrl: env.storaApi }, sealKey: KEY });
  await env.register(c, options);
  const landing = await env.browseConnect(c, { operator: OPERATOR, scope: SCOPE });
  // The callback carries Stora's one-time code (OAuth puts it in the URL):
  // searched for tokens only, not for the canary every code carries.
  assert.ok(landing.includes("code="), landing);
  cap.add("the connect landing URL", landing, ["canary"]);
  cap.print("a connect result", await c.completeConnect(landing, options));
  note();
  assert.ok(JSON.parse(c.exportState()).tokens.access_token.startsWith(CANARY), "the search works: tokens carry the canary");

  cap.print("a GET result", await c.call({ method: "GET", path: "/api/account" }, options));
  cap.print(
    "a POST result",
    await c.call({ method: "POST", path: "/api/contacts", headers: [["content-type", "application/json"]], body: new TextEncoder().encode('{"name":"Ada"}') }, options),
  );
  // Stora expires the token: refused, refreshed through the proxy, retried.
  await env.storaControl("expire_tokens", { operator: OPERATOR });
  cap.print("a result after a refresh", await c.call({ method: "GET", path: "/api/account" }, options));
  note();

  // Corrupt states that hold the tokens.
  const json = c.exportState();
  const { tokens } = JSON.parse(json);
  let refused = 0;
  for (const bad of [
    json.slice(0, json.indexOf(tokens.refresh_token) + 10),
    json.replace(`"${tokens.access_token}"`, `["${tokens.access_token}"]`),
    json.replace(`"${tokens.refresh_token}"`, `{"${tokens.refresh_token}":1}`),
    json.replace('"v":1', `"v":"${tokens.access_token}"`),
  ]) {
    try {
      Companion.importState(bad);
    } catch (e) {
      cap.error("a corrupt state", e);
      refused += 1;
    }
  }
  assert.ok(refused >= 3, `corrupt states refused: ${refused}`);
  await rejects(cap, "a plain state given as sealed", () => Companion.openState(json, KEY));
  await rejects(cap, "a path holding the token", () => c.call({ method: "GET", path: `/api/${tokens.access_token}/../x` }, options));

  // Revoked at Stora: reconnect required; then a reconnect.
  await env.storaControl("revoke_grant", { operator: OPERATOR });
  await rejects(cap, "a call needing a reconnect", c.call({ method: "GET", path: "/api/account" }, options));
  await rejects(cap, "a call while reconnect is required", c.call({ method: "GET", path: "/api/account" }, options));
  note();
  await env.connect(c, OPERATOR, SCOPE, options);
  note();

  // Disconnect (revoked at Stora through the proxy), a call after it, uninstall.
  cap.print("a disconnect result", await c.disconnect(options));
  note();
  await rejects(cap, "a call when not connected", c.call({ method: "GET", path: "/api/account" }, options));
  await env.connect(c, OPERATOR, SCOPE, options);
  note();
  cap.print("an uninstall result", await c.uninstall(options));
  note();

  // At rest: every persisted value is sealed and reopens to its state.
  assert.ok(persisted.length >= 8, `only ${persisted.length} persists`);
  for (const [i, value] of persisted.entries()) {
    assert.match(value, /^tsv1\./, `persist #${i} is sealed`);
    Companion.openState(value, KEY); // and reopens with the key
  }
  assert.equal(Companion.openState(persisted.at(-1), KEY).exportState(), c.exportState(), "what was stored last is the companion");

  // On the wire: where each token may travel.
  const stora = new URL(env.storaApi).origin;
  const proxy = new URL(env.broker).origin;
  assert.ok([...held.values()].filter((k) => k === "refresh token").length >= 3, "the lifecycle held several pairs");
  const wire = [];
  let bearer = 0;
  let refreshBodies = 0;
  for (const { url, authorization, body } of fetched) {
    wire.push([`the URL ${url}`, url, []]);
    const toStora = url.startsWith(stora + "/");
    if (toStora && authorization.startsWith("Bearer ")) bearer += 1;
    wire.push([`the Authorization header to ${url}`, authorization, toStora ? ["access token"] : []]);
    const revokesOrRefreshes = url.startsWith(proxy + "/refresh") || url.startsWith(proxy + "/revoke");
    if (revokesOrRefreshes) refreshBodies += 1;
    // By design: the registration carries the installation secret, the code
    // exchange Stora's code, /refresh and /revoke the refresh token.
    const allowed = url === `${proxy}/installations` ? ["secret"] : url.startsWith(proxy + "/token") ? ["canary"] : revokesOrRefreshes ? ["refresh token"] : [];
    wire.push([`the body sent to ${url}`, body, allowed]);
  }
  assert.ok(bearer >= 4, `calls to Stora with the access token: ${bearer}`);
  assert.ok(refreshBodies >= 2, `refresh and revoke requests: ${refreshBodies}`);

  const places = [...cap.items, ...wire, ...persisted.map((value, i) => [`persisted value #${i}`, value, []])];
  const { needles, leaks } = search(held, places, CANARY);
  console.log(`secrets (node, proxy mode): ${places.length} places x ${needles.length + 1} needles; ${fetched.length} requests; ${leaks.length} leaks`);
  assert.deepEqual(leaks, []);
  // The search works: the plain state holds the tokens.
  assert.ok(needles.some(([k, n]) => k === "refresh token" && json.includes(n)));
});

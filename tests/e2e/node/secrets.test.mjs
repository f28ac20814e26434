// Secrets never leak from the npm package (issue 8, "Hardening"): the whole
// lifecycle against the reference broker and the fake Stora (its tokens
// carry a canary prefix), then every error, result and the Companion itself
// are printed the ways a plugin would print them — util.inspect (deep, with
// hidden properties), console.log/console.error, String(), .stack,
// JSON.stringify — and searched for the installation secrets and broker
// tokens the companion held (in plain, percent, base64, base64url and hex
// forms) and for any Stora token (the canary).
//
// Security issue 14: `Companion#toJSON()` is a redacted summary, so the
// companion itself is printed every way too, JSON.stringify included (a
// connect pending, its `state` is searched for as well). The state is
// handed out only by `exportState()` (checked to hold the secret: the search
// works) and, the companion having a seal key, sealed to `onPersist`: every
// persisted value is searched, and must reopen with the key to the state of
// that moment.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import util from "node:util";
import { Companion } from "tessera-companion";
import { startEnv, send, recorder, getJson } from "./env.mjs";
import { Capture, rejects, search } from "./capture.mjs";

const CANARY = "CANARYnode-";
let env;
before(async () => {
  env = await startEnv(["--token-canary", CANARY]);
});
after(() => env?.stop());

test("no secret, broker token or Stora token in errors, results, inspect or console output", async () => {
  const cap = new Capture();
  const key = "a sealing key of 32 bytes or so!";
  const held = new Map(); // value -> kind
  const sealed = [];
  // What onPersist received (the companion has a seal key: sealed), with the state of that moment.
  const persisted = [];
  let c;
  const onPersist = (value) => {
    persisted.push({ value, state: c.exportState() });
    const state = JSON.parse(c.exportState());
    if (state.installation) held.set(state.installation.secret, "secret");
    if (state.broker_token) held.set(state.broker_token, "broker token");
    if (state.pending_connect) held.set(state.pending_connect.state, "pending connect state");
  };
  const note = (c) => {
    const state = JSON.parse(c.exportState());
    if (state.installation) held.set(state.installation.secret, "secret");
    if (state.broker_token) held.set(state.broker_token, "broker token");
    sealed.push(c.sealState(key));
    cap.print("the companion", c);
    // toJSON() is the redacted summary.
    assert.deepEqual(JSON.parse(JSON.stringify(c)), {
      status: c.status,
      installId: c.installId,
      siteUrl: c.siteUrl,
      account: c.account,
      reconnectReason: c.reconnectReason,
    });
  };
  const opts = () => {
    const rec = recorder();
    rec.options.onPersist = onPersist; // stores exactly what it is given: sealed
    return rec.options;
  };

  c = Companion.create({ brokerUrl: env.broker, sealKey: key });
  await env.register(c, { onPersist });
  note(c);
  // The URL the browser lands on, and what completing the connect resolves to.
  const landing = await env.browseConnect(c, { operator: "opr_node_secrets", scope: "public.order:read public.contact:read public.contact:write" });
  cap.print("a connect landing URL", landing);
  cap.print("a connect result", await c.completeConnect(landing, opts()));
  assert.deepEqual(c.account, { id: "opr_node_secrets", name: "Operator opr_node_secrets" });
  note(c);
  cap.print("a GET result", await c.call({ method: "GET", path: "/api/orders" }, opts()));
  cap.print("a POST result", await c.call({ method: "POST", path: "/api/contacts", headers: [["content-type", "application/json"]], body: new TextEncoder().encode('{"name":"Ada"}') }, opts()));
  await env.storaControl("expire_tokens", { operator: "opr_node_secrets" });
  cap.print("a result after a refresh", await getJson(c, "/api/orders"));

  // A replay and a tampered request: the broker's error answers.
  const signed = c.signRequest({ method: "GET", path: "/api/orders" });
  // The request to send: its Authorization header carries the token by design.
  cap.print("a signed request", signed, { allow: ["broker token"] });
  await send(signed);
  cap.print("a replay answer", await send(signed));

  // Forged callbacks carrying the current token (the last one with the real
  // state and the token as the code: sent to the broker, refused there).
  const token = JSON.parse(c.exportState()).broker_token;
  const realState = new URL(c.connectUrl({ returnUrl: env.returnUrl })).searchParams.get("state");
  // A connect pending (a reconnect while connected): the companion printed now holds its state too.
  held.set(realState, "pending connect state");
  assert.equal(JSON.parse(c.exportState()).pending_connect.state, realState);
  cap.print("a companion with a connect pending", c);
  for (const cb of [
    `${env.returnUrl}&state=forged-state-0123456789&broker_token=${token}`,
    `${env.returnUrl}&broker_token=${token}`,
    `${env.returnUrl}&state=%ZZ&broker_token=${token}%00`,
    `${env.returnUrl}&state=forged-state-0123456789&code=${encodeURIComponent(token)}`,
    `${env.returnUrl}&state=${realState}&code=${encodeURIComponent(token)}`,
  ]) {
    await rejects(cap, "a forged callback", () => c.completeConnect(cb, opts()));
  }
  assert.equal(c.status, "connected", "the token held before is kept");
  note(c);

  // Revoked at Stora: reconnect required.
  await env.storaControl("revoke_grant", { operator: "opr_node_secrets" });
  await rejects(cap, "a call needing a reconnect", c.call({ method: "GET", path: "/api/orders" }, opts()));
  await rejects(cap, "a call while reconnect is required", c.call({ method: "GET", path: "/api/orders" }, opts()));
  note(c);
  await env.connect(c, "opr_node_secrets", undefined, opts());
  note(c);

  // Kill switch.
  const id = c.installId;
  await env.admin("POST", `/admin/installations/${id}/disable`);
  await rejects(cap, "a call to a disabled installation", c.call({ method: "GET", path: "/api/orders" }, opts()));
  await env.admin("POST", `/admin/installations/${id}/enable`);
  await env.connect(c, "opr_node_secrets", undefined, opts());
  note(c);

  // Bad input that holds the secret or the token.
  const json = c.exportState();
  const state = JSON.parse(json);
  const secret = state.installation.secret;
  let refused = 0;
  for (const bad of [
    json.slice(0, json.indexOf(secret) + 10),
    json.replace(`"${secret}"`, `["${secret}"]`),
    json.replace(`"${secret}"`, `"${secret}!!"`),
    json.replace(`"${state.broker_token}"`, `{"${state.broker_token}":1}`),
    json.replace('"v":', `"${secret}":1,"v":`),
    json.replace('"v":1', `"v":"${secret}"`),
  ]) {
    try {
      Companion.importState(bad); // an unknown member is ignored: not every variant is refused
    } catch (e) {
      cap.error("a corrupt state", e);
      refused += 1;
    }
  }
  assert.ok(refused >= 4, `corrupt states refused: ${refused}`);
  await rejects(cap, "a wrong key", () => Companion.openState(c.sealState(key), "another key of 16+ bytes"));
  await rejects(cap, "a plain state given as sealed", () => Companion.openState(json, key));
  await rejects(cap, "a bad request", () => c.call({ method: "GET", path: `/api/${secret}\n` }, opts()));

  // Disconnect, uninstall.
  cap.print("a disconnect result", await c.disconnect(opts()));
  note(c);
  await rejects(cap, "a call when not connected", c.call({ method: "GET", path: "/api/orders" }, opts()));
  await env.connect(c, "opr_node_secrets", undefined, opts());
  note(c);
  cap.print("the uninstall link", c.uninstallUrl());
  cap.print("an uninstall result", await c.uninstall(opts()));
  note(c);

  // The search.
  assert.ok([...held.values()].filter((k) => k === "broker token").length >= 3, "the lifecycle held several broker tokens");
  assert.ok([...held.values()].includes("pending connect state"));
  // Every onPersist value is sealed and reopens with the key to the state of that moment.
  assert.ok(persisted.length >= 10, `only ${persisted.length} persists`);
  for (const [i, { value, state }] of persisted.entries()) {
    assert.match(value, /^tsv1\./, `persist #${i} is sealed`);
    assert.equal(Companion.openState(value, key).exportState(), state, `persist #${i} reopens to its state`);
  }
  assert.equal(Companion.openState(persisted.at(-1).value, key).exportState(), c.exportState(), "what was stored last is the companion");
  const places = [
    ...cap.items,
    ...sealed.map((s, i) => [`sealed state #${i}`, s, []]),
    ...persisted.map(({ value }, i) => [`persisted value #${i}`, value, []]),
  ];
  const { needles, leaks, allowedHits } = search(held, places, CANARY);
  console.log(`secrets (node): ${places.length} places x ${needles.length + 1} needles; ${leaks.length} leaks`);
  assert.deepEqual(leaks, []);
  assert.ok(allowedHits > 0, "the signed request's Authorization header was found (the search works)");
  // The search works: the plain state holds the secret and the token, and
  // inspect output of a plain object holding it would have been caught.
  assert.ok(needles.some(([k, n]) => k === "secret" && json.includes(n)));
  assert.ok(needles.some(([k, n]) => k === "broker token" && util.inspect({ json }).includes(n)));
});

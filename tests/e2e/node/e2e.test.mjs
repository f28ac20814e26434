// End-to-end from Node: the built npm package tessera-companion against the
// reference broker and the fake Stora over real HTTP on 127.0.0.1.

import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Companion, TesseraError } from "tessera-companion";
import { startEnv, send, errorCode, browse, recorder, getJson } from "./env.mjs";

let env;
before(async () => {
  env = await startEnv();
});
after(() => env?.stop());
// Faults are queued per path in the shared fake Stora: never leak one into the next test.
afterEach(() => env.storaControl("clear_faults"));

async function rejects(promise, check) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof TesseraError, `expected a TesseraError, got ${e}`);
    check(e);
    return true;
  });
}

test("the whole lifecycle", async () => {
  const c = env.companion();

  // Register through the driver: the secret is persisted first, then 202
  // challenge, the site serves the proof, the registration is sent again, 201.
  const persisted = [];
  const proofs = await env.register(c, { onPersist: (json) => void persisted.push(JSON.parse(json).status) });
  assert.equal(proofs.length, 1);
  assert.equal(proofs[0].url, `${env.site}/.well-known/tessera/${c.installId}`);
  assert.deepEqual(persisted, ["registration_pending", "awaiting_ownership", "registered"]);
  assert.equal(c.status, "registered");
  const id = c.installId;
  assert.equal(JSON.parse((await env.admin("GET", `/admin/installations/${id}`)).body).status, "active");

  // Connect in the browser, approve at Stora. The browser lands on the
  // return URL with `state` and a one-time `code`, never a token.
  assert.equal(c.account, null);
  const landing = await env.browseConnect(c, { operator: "opr_node_life" });
  const params = new URL(landing).searchParams;
  assert.match(params.get("code") ?? "", /^[A-Za-z0-9._~-]{16,256}$/, `landing URL ${landing}`);
  assert.ok(params.get("state"));
  assert.ok(!landing.includes("broker_token"), `landing URL ${landing}`);
  const pending = c.exportState(); // a copy that could try the same callback again
  // The plugin exchanges the code with a signed POST and shows the account.
  const exchange = recorder();
  const connected = await c.completeConnect(landing, exchange.options);
  const operator = { id: "opr_node_life", name: "Operator opr_node_life" };
  assert.deepEqual(connected, { account: operator });
  assert.deepEqual(c.account, operator, "the fake Stora operator who consented");
  assert.equal(c.status, "connected");
  assert.deepEqual(exchange.statuses, [200]);
  assert.equal(JSON.parse(exchange.persisted).broker_token, JSON.parse(c.exportState()).broker_token, "the token was persisted");
  assert.ok(!landing.includes(JSON.parse(c.exportState()).broker_token));
  // The code is single use: the same callback from a copy of the state is refused.
  const copy = Companion.importState(pending);
  await rejects(copy.completeConnect(landing), (e) => {
    assert.equal(e.code, "client_error");
    assert.equal(e.reason, "connect_code_invalid");
  });
  assert.equal(copy.status, "registered");
  assert.equal(copy.account, null);

  // A signed API call returns Stora data.
  const orders = await getJson(c, "/api/orders");
  assert.equal(orders.data.length, 3);
  assert.equal(orders.data[0].operator, "opr_node_life");

  // The access token expires: the broker refreshes, the rotation is stored.
  await env.storaControl("expire_tokens", { operator: "opr_node_life" });
  const before = (await env.storaCounters()).refreshes;
  assert.equal((await getJson(c, "/api/orders")).data.length, 3);
  assert.equal((await env.storaCounters()).refreshes, before + 1);
  await env.storaControl("expire_tokens", { operator: "opr_node_life" });
  await getJson(c, "/api/orders");
  assert.equal((await env.storaCounters()).refreshes, before + 2, "the stored refresh token was the rotated one");

  // The operator revokes the grant at Stora: reconnect required.
  await env.storaControl("revoke_grant", { operator: "opr_node_life" });
  const rec = recorder();
  await rejects(getJson(c, "/api/orders", rec), (e) => {
    assert.equal(e.code, "reconnect_required");
    assert.equal(e.reason, "stora_reconnect_required");
  });
  assert.equal(c.status, "reconnect_required");
  assert.ok(rec.persisted, "the dropped token was persisted");

  // Reconnect; then reconnect while connected with a wider scope.
  assert.deepEqual((await env.connect(c, "opr_node_life")).account, operator);
  await getJson(c, "/api/orders");
  const revoked = (await env.storaCounters()).grants_revoked;
  assert.deepEqual((await env.connect(c, "opr_node_life", "public.order:read public.contact:read")).account, operator);
  assert.deepEqual(c.account, operator);
  assert.equal((await getJson(c, "/api/contacts")).data.length, 2);
  assert.equal((await env.storaCounters()).grants_revoked, revoked + 1, "the replaced grant was revoked");

  // Disconnect: Stora sees the revoke.
  const revokes = (await env.storaCounters()).revokes;
  const result = await c.disconnect(recorder().options);
  assert.equal(result.remote.result, "ok");
  assert.equal((await env.storaCounters()).revokes, revokes + 1);
  assert.equal(c.status, "registered");
  assert.equal(c.account, null, "no account once disconnected");
  await rejects(getJson(c, "/api/orders"), (e) => assert.equal(e.code, "not_connected"));

  // Uninstall: disconnect + deregister + local wipe.
  await env.connect(c, "opr_node_life");
  const revokes2 = (await env.storaCounters()).revokes;
  const report = await c.uninstall(recorder().options);
  assert.equal(report.disconnect.result, "ok");
  assert.equal(report.deregister.result, "ok");
  assert.equal((await env.storaCounters()).revokes, revokes2 + 1);
  assert.equal(c.status, "not_registered");
  assert.equal(c.installId, null);
  assert.equal((await env.admin("GET", `/admin/installations/${id}`)).status, 404, "gone at the broker");
});

test("a replayed request is refused", async () => {
  const c = await env.connected("opr_node_replay");
  const signed = c.signRequest({ method: "GET", path: "/api/orders" });
  assert.equal((await send(signed)).status, 200);
  const again = await send(signed);
  assert.equal(again.status, 401);
  assert.equal(errorCode(again), "replayed");
});

test("a tampered body is refused", async () => {
  const c = await env.connected("opr_node_tamper", "public.contact:write");
  const signed = c.signRequest({
    method: "POST",
    path: "/api/contacts",
    headers: { "content-type": "application/json" },
    body: '{"name":"Grace"}',
  });
  signed.body = new TextEncoder().encode('{"name":"Mallory"}');
  const before = (await env.storaRequests("/2025-09/contacts")).length;
  const r = await send(signed);
  assert.equal(r.status, 401);
  assert.equal(errorCode(r), "digest_mismatch");
  assert.equal((await env.storaRequests("/2025-09/contacts")).length, before, "nothing reached Stora");
});

test("a deferred ownership proof: ownership_challenge, then a later register() resumes the same installation", async () => {
  const c = env.companion();
  const out = await c.register(env.registration(), { serveProof: () => false });
  assert.equal(out.outcome, "ownership_challenge");
  assert.equal(out.proof.url, `${env.site}/.well-known/tessera/${c.installId}`);
  assert.equal(c.status, "awaiting_ownership");
  const id = c.installId;
  await rejects(c.call({ method: "GET", path: "/api/orders" }), (e) => assert.equal(e.code, "not_registered"));
  // Later the host registers again: the machine asks for the same proof
  // first (served), then the broker fetches it.
  assert.deepEqual(c.ownershipProof(), out.proof);
  assert.deepEqual(await env.register(c), [out.proof], "the stored proof is served again before the POST");
  assert.equal(c.installId, id);
  assert.equal(c.status, "registered");
  assert.equal(JSON.parse((await env.admin("GET", `/admin/installations/${id}`)).body).status, "active");
});

test("a callback with a wrong or expired state, or a denial", async () => {
  const c = env.companion();
  await env.register(c);
  const landing = await env.browseConnect(c, { operator: "opr_node_state" });
  assert.ok(new URL(landing).searchParams.has("code") && !landing.includes("broker_token"), landing);
  const noSend = { fetch: async () => assert.fail("nothing is sent for a callback refused locally") };
  await rejects(c.completeConnect(landing.replace("state=", "state=x"), noSend), (e) => assert.equal(e.code, "callback_state_mismatch"));
  const landing2 = await env.browseConnect(c, { operator: "opr_node_state" });
  await rejects(c.completeConnect(landing2, { ...noSend, now: Math.floor(Date.now() / 1000) + 601 }), (e) => assert.equal(e.code, "callback_expired"));
  assert.equal(c.status, "registered", "no token stored");
  assert.equal(c.account, null);
  const denied = await env.browseConnect(c, {});
  assert.ok(!new URL(denied).searchParams.has("code"), denied);
  await rejects(c.completeConnect(denied, noSend), (e) => {
    assert.equal(e.code, "callback_denied");
    assert.equal(e.reason, "access_denied");
  });
  const forged = await fetch(`${env.broker}/callback?code=x&state=forged`, { redirect: "manual" });
  assert.equal(forged.status, 400);
  const { account } = await env.connect(c, "opr_node_state");
  assert.deepEqual(account, { id: "opr_node_state", name: "Operator opr_node_state" });
  assert.equal(c.status, "connected");
});

test("a broker token used by another installation is refused", async () => {
  const a = await env.connected("opr_node_tok_a");
  const b = await env.connected("opr_node_tok_b");
  const state = JSON.parse(b.exportState());
  state.broker_token = JSON.parse(a.exportState()).broker_token;
  const thief = Companion.importState(JSON.stringify(state));
  await rejects(getJson(thief, "/api/orders"), (e) => {
    assert.equal(e.code, "reconnect_required");
    assert.equal(e.reason, "broker_token_invalid");
  });
  assert.equal((await getJson(a, "/api/account")).id, "opr_node_tok_a");
});

test("a skewed client clock is corrected", async () => {
  const c = await env.connected("opr_node_skew");
  const rec = recorder({ clock: () => Date.now() - 900_000 }); // 15 minutes slow
  assert.equal((await getJson(c, "/api/orders", rec)).data.length, 3);
  assert.deepEqual(rec.statuses, [401, 200], "one signature_expired, then success");
  assert.ok(Math.abs(c.clockOffset - 900) <= 5, `learned offset ${c.clockOffset}`);
  const rec2 = recorder({ clock: () => Date.now() - 900_000 });
  await getJson(c, "/api/orders", rec2);
  assert.deepEqual(rec2.statuses, [200], "the learned offset is used from then on");
});

test("429 from Stora: backoff, no storm", async () => {
  const c = await env.connected("opr_node_429");
  await env.storaControl("faults", { status: 429, retry_after: 1, count: 10, path_prefix: "/2025-09/orders" });
  const before = (await env.storaRequests("/2025-09/orders")).length;
  const rec = recorder();
  await rejects(getJson(c, "/api/orders", rec), (e) => {
    assert.equal(e.code, "rate_limited");
    assert.equal(e.retryAfterMs, 1000);
  });
  assert.deepEqual(rec.statuses, [429, 429, 429], "bounded attempts");
  assert.deepEqual(rec.sleeps, [1000, 1000], "Retry-After honoured");
  assert.equal((await env.storaRequests("/2025-09/orders")).length, before + 3, "no storm at Stora");
});

test("Stora's errors: code and request id kept; its stored 5xx ends a POST at once and replays for the same key", async () => {
  const c = await env.connected("opr_node_5xx", "public.order:read public.contact:write");
  const post = (key, body) => ({
    method: "POST",
    path: "/api/contacts",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body,
  });
  // A documented 4xx, in Stora's nested shape: never retried, request id kept.
  const bad = await c.call(post("node-bad-1", '{"name":"Ada","metadata":{"Bad Key":"x"}}')).catch((e) => e);
  assert.deepEqual([bad.code, bad.status, bad.reason], ["client_error", 422, "invalid_content"]);
  const logged = (await env.storaRequests("/2025-09/contacts")).at(-1);
  assert.equal(bad.requestId, logged.request_id, "the request id Stora logged");

  // Stora's own 503 to a POST is stored under the key: not sent again...
  await env.storaControl("faults", { status: 503, count: 1, path_prefix: "/2025-09/contacts" });
  const rec = recorder();
  const failed = await c.call(post("node-5xx-1", '{"name":"Grace Hopper"}'), rec.options).catch((e) => e);
  assert.deepEqual([failed.code, failed.kind, failed.status], ["upstream_failed", "server_unavailable", 503]);
  assert.deepEqual(rec.statuses, [503], "sent once");
  // ...and the same key, later, gets exactly that answer again (24 h replay).
  const replayed = await c.call(post("node-5xx-1", '{"name":"Grace Hopper"}')).catch((e) => e);
  assert.deepEqual([replayed.code, replayed.status, replayed.requestId], ["upstream_failed", 503, failed.requestId]);
  const records = await env.storaRequests("/2025-09/contacts");
  assert.equal(records.at(-1).idempotent_replayed, true);
  // A new key is a new request.
  assert.equal((await c.call(post("node-5xx-2", '{"name":"Grace Hopper"}'))).status, 201);

  // A GET is not replayed by key: Stora's 5xx is retried, bounded.
  await env.storaControl("faults", { status: 502, count: 10, path_prefix: "/2025-09/orders" });
  const rec2 = recorder();
  await rejects(getJson(c, "/api/orders", rec2), (e) => assert.equal(e.code, "upstream_failed"));
  assert.equal(rec2.statuses.length, 3, "bounded retries");
  await env.storaControl("clear_faults");
});

test("an action and its retry record one Timeline Event on the operator's timeline", async () => {
  const c = await env.connected("opr_node_timeline", "public.contact:write public.timeline_event:write");
  const request = {
    method: "POST",
    path: "/api/contacts",
    headers: { "content-type": "application/json", "idempotency-key": "node-enquiry-1" },
    body: '{"name":"Ada","metadata":{"plugin.enquiry":"enq-1"}}',
  };
  const event = {
    sourceId: "storefront_ext",
    templateId: "website_enquiry",
    description: "Website enquiry via the extension",
    externalUrl: "https://shop.example/enquiries/enq-1",
    variables: { name: "Ada" },
  };
  let out;
  for (let round = 0; round < 2; round++) {
    // The second round is a host retrying the same action (same key).
    out = await c.callAndRecord(request, event);
    assert.equal(out.response.status, 201);
    assert.deepEqual(out.event, { ok: true });
  }
  const timeline = await (await fetch(`${env.stora}/_control/timeline?operator=opr_node_timeline`)).json();
  assert.equal(timeline.length, 1, "one event for the action and its retry");
  assert.deepEqual(timeline[0].external, { id: "node-enquiry-1", url: "https://shop.example/enquiries/enq-1" });
  assert.equal(JSON.parse(new TextDecoder().decode(out.response.body)).metadata["plugin.enquiry"], "enq-1");
  const events = await env.storaRequests("/2025-09/timeline/events");
  assert.deepEqual([events.at(-1).idempotency_key, events.at(-1).idempotent_replayed], ["tle-node-enquiry-1", true]);
});

test("a burst from two installations of one operator is paced by the broker: Stora never answers 429", async () => {
  const a = await env.connected("opr_node_burst");
  const b = await env.connected("opr_node_burst");
  const before = (await env.storaCounters()).rate_limited;
  const started = Date.now();
  // One operation at a time per Companion: each call gets its own copy of a state.
  const states = [a.exportState(), b.exportState()];
  const results = await Promise.all(
    Array.from({ length: 14 }, (_, i) => getJson(Companion.importState(states[i % 2]), "/api/orders")),
  );
  assert.equal(results.length, 14);
  assert.ok(Date.now() - started >= 300, "queued under 10 requests/s");
  assert.equal((await env.storaCounters()).rate_limited, before, "no 429 from Stora");
});

test("two concurrent calls needing a refresh: one refresh reaches Stora", async () => {
  const c = await env.connected("opr_node_race");
  const state = c.exportState();
  await env.storaControl("expire_tokens", { operator: "opr_node_race" });
  await env.storaControl("faults", { latency_ms: 400, count: 1, path_prefix: "/oauth2/token" });
  const before = (await env.storaCounters()).refreshes;
  const [x, y] = await Promise.all([
    getJson(Companion.importState(state), "/api/orders"),
    getJson(Companion.importState(state), "/api/orders"),
  ]);
  assert.equal(x.data.length, 3);
  assert.equal(y.data.length, 3);
  assert.equal((await env.storaCounters()).refreshes, before + 1, "exactly one refresh");
});

test("kill switch: reconnect required on the next call", async () => {
  const c = await env.connected("opr_node_kill");
  const id = c.installId;
  await getJson(c, "/api/orders");
  assert.equal((await env.admin("POST", `/admin/installations/${id}/disable`)).status, 200);
  await rejects(getJson(c, "/api/orders"), (e) => assert.equal(e.reason, "installation_disabled"));
  assert.equal(c.status, "reconnect_required");
  await env.admin("POST", `/admin/installations/${id}/enable`);
  await env.connect(c, "opr_node_kill");
  assert.equal((await getJson(c, "/api/orders")).data.length, 3);
});

test("uninstall ticket (browser extension)", async () => {
  const c = await env.connected("opr_node_ticket");
  const id = c.installId;
  const page = await browse(c.uninstallUrl(), "never://");
  assert.equal(page.status, 200);
  assert.equal((await env.admin("GET", `/admin/installations/${id}`)).status, 404);
});

test("Stora's events: a contact created through the broker is pulled, acknowledged, and not pulled again", async () => {
  // Connecting registered the broker's webhook endpoint at Stora (PROTOCOL.md §14.1).
  const c = await env.connected("opr_node_events", "public.contact:read public.contact:write");
  const created = await c.call({
    method: "POST",
    path: "/api/contacts",
    headers: { "content-type": "application/json", "idempotency-key": "node-events-1" },
    body: '{"name":"Ada Lovelace"}',
  });
  const contact = await created.json();
  assert.match(contact.id, /^con_/);

  // Stora delivers contact.created to the broker by webhook, within about a second.
  let page;
  const deadline = Date.now() + 5000;
  for (;;) {
    page = await c.pullEvents({ limit: 10 });
    if (page.events.length > 0 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(page.events.length, 1, `one event within 5 s: ${JSON.stringify(page)}`);
  const [event] = page.events;
  assert.equal(event.type, "contact.created");
  assert.equal(event.data.object.id, contact.id);
  assert.equal(event.data.object.name, "Ada Lovelace");
  assert.deepEqual(JSON.parse(event.dataJson), event.data);
  assert.match(event.id, /^evt_/);
  assert.equal(event.apiVersion, "2025-09");
  assert.ok(Number.isSafeInteger(event.createdAt) && event.createdAt > 1_700_000_000, `createdAt ${event.createdAt}`);
  assert.equal(page.hasMore, false);
  assert.match(page.cursor, /^[0-9]{1,18}$/);

  // Not acknowledged yet: the cursor stays, and the same event comes again.
  assert.equal(c.eventsCursor, null);
  assert.deepEqual((await c.pullEvents()).events.map((e) => e.id), [event.id]);

  // Handled: acknowledge the page; the state to store carries the cursor.
  const stored = [];
  assert.equal(await c.acknowledgeEvents(page.cursor, { onPersist: (state) => void stored.push(state) }), true);
  assert.equal(c.eventsCursor, page.cursor);
  assert.equal(stored.length, 1);
  assert.equal(JSON.parse(stored[0]).events_cursor, page.cursor);

  // The next pull is sent after the cursor and finds nothing.
  const urls = [];
  const next = await c.pullEvents({ fetch: (url, init) => (urls.push(url), fetch(url, init)) });
  assert.equal(new URL(urls[0]).searchParams.get("after"), page.cursor);
  assert.deepEqual(next, { events: [], cursor: page.cursor, hasMore: false });
});

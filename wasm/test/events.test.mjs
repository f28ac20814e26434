// Stora's events through the npm API (docs/PROTOCOL.md §14.3): pullEvents
// runs the signed `GET /events` on the package's driver with a fake
// transport, acknowledgeEvents moves and persists the cursor, and the next
// pull starts after it. A malformed page rejects with response_invalid and
// leaves the cursor where it was.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Companion, TesseraError } from "tessera-companion";
import * as proxyPkg from "tessera-companion/proxy";
import { CODE, NOW, completeWith, response, scriptedFetch, stateOf } from "./helpers.mjs";

const BROKER = "https://broker.example";
const RETURN = "chrome-extension://abcdefghijklmnop/options.html";
const SEAL_KEY = "a seal key of at least 16 bytes";
const DATA = '{"object":{"id":"con_1001","name":"Ada","total":12.5e1,"tags":["a",{"b":null}]}}';
const EVENT = { id: "evt_1", type: "contact.created", api_version: "2025-09", created_at: NOW - 5 };

/** A registered, connected companion (the connect exchanged on a scripted fetch). */
async function connected(config = {}) {
  const c = Companion.create({ brokerUrl: BROKER, ...config });
  c.registrationRequest({ siteUrl: "https://shop.example", adminEmail: "a@shop.example", platform: "chrome-extension", pluginVersion: "1" });
  c.handleRegistrationResponse({ status: 201 });
  const state = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  await completeWith(c, `state=${state}&code=${CODE}`, "btk_events", { clock: () => NOW * 1000 });
  return c;
}

/** The broker's answer: a page whose events carry `DATA` (the raw text, so its numbers stay as written). */
function page(events, cursor, hasMore = false) {
  const items = events.map((e) => JSON.stringify(e).replace(/}$/, `,"data":${DATA}}`));
  return response(200, `{"events":[${items.join(",")}],"cursor":${JSON.stringify(cursor)},"has_more":${hasMore}}`, {
    "content-type": "application/json",
  });
}

const driver = (fetch) => ({ fetch, sleep: async () => {}, clock: () => NOW * 1000 });

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof TesseraError, `expected a TesseraError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

test("pullEvents: a signed GET /events, the page with data parsed; the cursor moves only when acknowledged", async () => {
  const c = await connected();
  const { fetch, sent } = scriptedFetch([page([EVENT, { ...EVENT, id: "evt_2", type: "order.updated" }], "42", true)]);
  const persisted = [];
  const got = await c.pullEvents({ ...driver(fetch), onPersist: (s) => void persisted.push(s) });

  assert.equal(sent.length, 1);
  assert.equal(sent[0].method, "GET");
  assert.equal(sent[0].url, `${BROKER}/events?limit=50`, "no cursor yet; the default limit");
  const headers = new Map(sent[0].headers);
  assert.equal(headers.get("authorization"), "Bearer btk_events");
  assert.match(headers.get("signature-input"), /"@query"/);

  assert.deepEqual(Object.keys(got), ["events", "cursor", "hasMore"]);
  assert.equal(got.cursor, "42");
  assert.equal(got.hasMore, true);
  assert.deepEqual(
    got.events.map((e) => [e.id, e.type, e.apiVersion, e.createdAt]),
    [
      ["evt_1", "contact.created", "2025-09", NOW - 5],
      ["evt_2", "order.updated", "2025-09", NOW - 5],
    ],
  );
  assert.equal(got.events[0].dataJson, DATA, "the data as the broker wrote it (compact, numbers unchanged)");
  assert.deepEqual(got.events[0].data, { object: { id: "con_1001", name: "Ada", total: 125, tags: ["a", { b: null }] } });

  // Pulling does not move the cursor, and persists nothing.
  assert.deepEqual(persisted, []);
  assert.equal(c.eventsCursor, null);
  assert.equal(JSON.parse(c.exportState()).events_cursor, undefined);

  // The host handled the page: acknowledge it, the state to store has the cursor.
  assert.equal(await c.acknowledgeEvents(got.cursor, { onPersist: (s) => void persisted.push(s) }), true);
  assert.equal(c.eventsCursor, "42");
  assert.equal(persisted.length, 1);
  assert.equal(persisted[0], c.exportState());
  assert.equal(JSON.parse(persisted[0]).events_cursor, "42");
  // Twice, or an older page: nothing moves, nothing is persisted.
  assert.equal(await c.acknowledgeEvents("42", { onPersist: (s) => void persisted.push(s) }), false);
  assert.equal(await c.acknowledgeEvents("41", { onPersist: (s) => void persisted.push(s) }), false);
  assert.equal(persisted.length, 1);

  // The stored state resumes after the cursor.
  const restored = Companion.importState(persisted[0]);
  assert.equal(restored.eventsCursor, "42");
  const next = scriptedFetch([page([], "42")]);
  const empty = await restored.pullEvents({ ...driver(next.fetch), limit: 10 });
  assert.equal(next.sent[0].url, `${BROKER}/events?after=42&limit=10`);
  assert.deepEqual(empty, { events: [], cursor: "42", hasMore: false });
});

test("acknowledgeEvents: a sealed companion persists the sealed state; the cursor is normalised", async () => {
  const c = await connected({ sealKey: SEAL_KEY });
  const persisted = [];
  assert.equal(await c.acknowledgeEvents("007", { onPersist: (s) => void persisted.push(s) }), true);
  assert.equal(c.eventsCursor, "7");
  assert.equal(persisted.length, 1);
  assert.ok(!persisted[0].startsWith("{"), "sealed, not the JSON");
  assert.equal(Companion.openState(persisted[0], SEAL_KEY).eventsCursor, "7");
  // Without onPersist it still moves (the host then stores exportState() itself).
  assert.equal(await c.acknowledgeEvents("8"), true);
  assert.equal(c.eventsCursor, "8");
});

test("a malformed page rejects with response_invalid and leaves the cursor unchanged", async () => {
  const c = await connected();
  assert.equal(await c.acknowledgeEvents("42"), true);
  const before = c.exportState();
  const bad = [
    response(200, "{"),
    response(200, '{"events":[],"cursor":"41","has_more":false}'), // backwards
    response(200, '{"events":[],"cursor":"42","has_more":true}'), // has_more on an empty page
    page([EVENT, EVENT], "43"), // the same event twice
    page([EVENT, { ...EVENT, id: "evt_2" }], "44"), // more than the limit of 1
  ];
  for (const [i, answer] of bad.entries()) {
    const { fetch, sent } = scriptedFetch([answer]);
    await assert.rejects(c.pullEvents({ ...driver(fetch), limit: 1 }), (e) => {
      assert.ok(e instanceof TesseraError, `${i}: ${e}`);
      assert.equal(e.code, "response_invalid", `${i}: ${e.message}`);
      assert.equal(e.kind, "server_unavailable");
      return true;
    });
    assert.equal(sent.length, 1, `${i}: a malformed 2xx is not retried`);
    assert.equal(c.eventsCursor, "42", `${i}: the cursor did not move`);
    assert.equal(c.exportState(), before, `${i}: the state is unchanged`);
  }
});

test("pullEvents and acknowledgeEvents refuse what the core refuses, before anything is sent", async () => {
  const c = await connected();
  const { fetch, sent } = scriptedFetch([]);
  for (const limit of [0, 101, -1, 2 ** 32 + 1, 1.5, "10"]) {
    await rejectsWith(c.pullEvents({ ...driver(fetch), limit }), "invalid_input");
  }
  assert.equal(sent.length, 0);
  for (const cursor of ["", "abc", "-1", "1234567890123456789", 42]) {
    await rejectsWith(c.acknowledgeEvents(cursor), "invalid_input");
  }
  await rejectsWith(c.acknowledgeEvents("1", { onPersist: "no" }), "invalid_input");
  assert.equal(c.eventsCursor, null);

  // No installation: nothing to acknowledge, nothing to pull.
  const fresh = Companion.create({ brokerUrl: BROKER });
  await rejectsWith(fresh.acknowledgeEvents("1"), "not_registered");
  await assert.rejects(fresh.pullEvents(driver(fetch)), TesseraError);
  // Authorization-proxy mode has no broker queue.
  const proxy = proxyPkg.Companion.create({ brokerUrl: BROKER, proxy: { storaApiUrl: "https://api.stora.example/2025-09" } });
  await rejectsWith(proxy.pullEvents(driver(fetch)), "invalid_state");
  assert.equal(sent.length, 0);
});

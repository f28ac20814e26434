// Timeline Events and metadata through the npm API: callAndRecord against a
// real loopback HTTP server (signatures verified), and the pure helpers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Companion, MemoryReplayStore, TesseraError, metadataPatch, timelineEventRequest, validateMetadata, verifyRequest } from "tessera-companion";
import { CODE, NOW, SEED, completeWith, stateOf, text } from "./helpers.mjs";

const BROKER = "https://broker.example";
const RETURN = "chrome-extension://abcdefghijklmnop/options.html";
const EVENT = { sourceId: "src_tessera", templateId: "tpl_contact_created", contactId: "con_1", externalUrl: "https://shop.example/enquiries/7", variables: { form: "rent" } };
const STORA_422 = {
  error: { code: "invalid_content", type: "invalid_request_error", message: "template variable missing", details: [], links: [], request_id: "req_0123456789abcdef01234567" },
};

async function connected() {
  const c = Companion.create({ brokerUrl: BROKER });
  c.useSeededEntropy(SEED);
  c.registrationRequest({ siteUrl: "https://shop.example", adminEmail: "a@shop.example", platform: "chrome-extension", pluginVersion: "1" });
  c.handleRegistrationResponse({ status: 201 });
  const state = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  await completeWith(c, `state=${state}&code=${CODE}`, "btk_records", { clock: () => NOW * 1000 });
  return c;
}

/**
 * A loopback broker: verifies every signature, records what it got, and
 * answers each request with `answer(path, body)` → [status, json].
 */
async function withBroker(answer, run) {
  const c = await connected();
  const secret = JSON.parse(c.exportState()).installation.secret;
  const seen = [];
  const replayStore = new MemoryReplayStore();
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const ch of req) chunks.push(ch);
    const body = Buffer.concat(chunks);
    const headers = Object.entries(req.headers).map(([k, v]) => [k, String(v)]);
    const url = `http://127.0.0.1:${server.address().port}${req.url}`;
    try {
      await verifyRequest({ method: req.method, url, headers, body }, { secretFor: () => secret, replayStore });
    } catch (e) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: e.code }));
      return;
    }
    seen.push({ method: req.method, path: req.url, key: req.headers["idempotency-key"], body: body.toString("utf8") });
    const [status, json] = answer(req.url, body.toString("utf8"));
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const local = Companion.importState(c.exportState().replace(BROKER, `http://127.0.0.1:${server.address().port}`));
    return await run(local, seen);
  } finally {
    server.close();
  }
}

const contact = { method: "POST", path: "/api/contacts", headers: { "content-type": "application/json" }, body: '{"name":"Ada"}' };

test("callAndRecord: the action, then its event keyed from the action's key", async () => {
  await withBroker(
    (path) => (path === "/api/contacts" ? [201, { id: "con_1" }] : [201, { id: "tle_1", created_at: NOW }]),
    async (c, seen) => {
      const out = await c.callAndRecord(contact, EVENT, { sleep: async () => {} });
      assert.deepEqual(Object.keys(out), ["response", "event"]);
      assert.equal(out.response.status, 201);
      assert.deepEqual(JSON.parse(text(out.response.body)), { id: "con_1" });
      assert.deepEqual(out.event, { ok: true });
      assert.deepEqual(seen.map((s) => s.path), ["/api/contacts", "/api/timeline/events"]);
      const [action, event] = seen;
      assert.match(action.key, /^[0-9a-f-]{36}$/);
      assert.equal(event.key, `tle-${action.key}`);
      const body = JSON.parse(event.body);
      assert.deepEqual(body, {
        source: { id: "src_tessera" },
        template: { id: "tpl_contact_created" },
        contact: { id: "con_1" },
        external: { id: action.key, url: "https://shop.example/enquiries/7" },
        variables: { form: "rent" },
      });
    },
  );
});

test("callAndRecord: a refused event still returns the action's response", async () => {
  await withBroker(
    (path) => (path === "/api/contacts" ? [201, { id: "con_2" }] : [422, STORA_422]),
    async (c, seen) => {
      const out = await c.callAndRecord({ ...contact, headers: { ...contact.headers, "Idempotency-Key": "order-7" } }, EVENT, { sleep: async () => {} });
      assert.equal(out.response.status, 201);
      assert.equal(out.event.ok, false);
      assert.ok(out.event.error instanceof TesseraError);
      assert.equal(out.event.error.code, "client_error");
      assert.equal(out.event.error.status, 422);
      assert.deepEqual(seen.map((s) => s.key), ["order-7", "tle-order-7"]);
    },
  );
});

test("callAndRecord: a failed action rejects and sends no event", async () => {
  await withBroker(
    () => [409, { error: { code: "conflict", type: "invalid_request_error", message: "exists", details: [], links: [], request_id: "req_0123456789abcdef01234567" } }],
    async (c, seen) => {
      await assert.rejects(c.callAndRecord(contact, EVENT, { sleep: async () => {} }), (e) => e instanceof TesseraError && e.code === "client_error" && e.status === 409);
      assert.equal(seen.length, 1);
    },
  );
});

test("callAndRecord: an invalid event rejects before anything is sent", async () => {
  const c = await connected();
  let sent = 0;
  const fetch = async () => {
    sent += 1;
    return new Response("{}", { status: 201 });
  };
  await assert.rejects(c.callAndRecord(contact, { ...EVENT, templateId: "" }, { fetch }), { code: "invalid_input" });
  await assert.rejects(c.callAndRecord(contact, { ...EVENT, variables: { a: 1 } }, { fetch }), { code: "invalid_input" });
  await assert.rejects(c.callAndRecord(contact, { ...EVENT, externalUrl: undefined }, { fetch }), { code: "invalid_input", message: /external_url/ });
  await assert.rejects(c.callAndRecord(contact, "not an event", { fetch }), { code: "invalid_input" });
  assert.equal(sent, 0);
});

test("timelineEventRequest: ready for companion.call", () => {
  const r = timelineEventRequest({ ...EVENT, externalUrl: "https://shop.example/x", description: "d" }, "order-7");
  assert.equal(r.method, "POST");
  assert.equal(r.path, "/api/timeline/events");
  assert.deepEqual(r.headers, [["content-type", "application/json"], ["idempotency-key", "tle-order-7"]]);
  assert.equal(
    r.body,
    '{"source":{"id":"src_tessera"},"template":{"id":"tpl_contact_created"},"contact":{"id":"con_1"},"description":"d","external":{"id":"order-7","url":"https://shop.example/x"},"variables":{"form":"rent"}}',
  );
  assert.throws(() => timelineEventRequest(EVENT, "a b"), { code: "invalid_input", message: /external_id/ });
});

test("metadata: validation and merge-patch bodies", () => {
  validateMetadata({ "crm.id": "c-1" });
  assert.throws(() => validateMetadata({ Plan: "x" }), { code: "invalid_input", message: /a-z, 0-9/ });
  assert.throws(() => validateMetadata({ a: null }), { code: "invalid_input" });
  assert.equal(metadataPatch({ z: "1", a: null }), '{"metadata":{"a":null,"z":"1"}}');
  const full = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, "v"]));
  assert.throws(() => metadataPatch({ extra: "1" }, full), { code: "invalid_input", message: /more than 20 keys/ });
  assert.equal(metadataPatch({ extra: "1", k0: null }, full), '{"metadata":{"extra":"1","k0":null}}');
});

// Pushed events through the npm API (docs/PROTOCOL.md §14.4), Node only:
// the broker side signs a push (signPush), the plugin side verifies it
// (companion.verifyPush) and refuses a tampered, foreign, stale or unsigned
// one; pushRegistrationRequest builds the PUT / DELETE /events/push that
// call() sends signed. All of it runs in the broker module: the browser entry
// has none of it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Companion, TesseraError, signPush } from "tessera-companion";
import * as broker from "tessera-companion/broker";
import * as proxyPkg from "tessera-companion/proxy";
import { CODE, NOW, completeWith, scriptedFetch, stateOf } from "./helpers.mjs";

const BROKER = "https://broker.example";
const RETURN = "chrome-extension://abcdefghijklmnop/options.html";
const DATA = '{"object":{"id":"con_1","name":"Zoë","total":12.5e1}}';
const BODY = `{"events":[{"id":"evt_1","type":"contact.created","api_version":"2025-09","created_at":${NOW - 5},"data":${DATA}}]}`;

/** A registered, connected companion (the connect exchanged on a scripted fetch). */
async function connected() {
  const c = Companion.create({ brokerUrl: BROKER });
  c.registrationRequest({ siteUrl: "https://shop.example", adminEmail: "a@shop.example", platform: "wordpress", pluginVersion: "1" });
  c.handleRegistrationResponse({ status: 201 });
  const state = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  await completeWith(c, `state=${state}&code=${CODE}`, "btk_push", { clock: () => NOW * 1000 });
  return c;
}

/** What the broker holds for the installation: its id and secret. */
function brokerSide(companion) {
  const inst = JSON.parse(companion.exportState()).installation;
  return { installId: inst.id, secret: inst.secret };
}

function throwsCode(fn, code, extra = {}) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof TesseraError, `expected a TesseraError, got ${e}`);
    assert.equal(e.code, code, e.message);
    for (const [k, v] of Object.entries(extra)) {
      // `field`: the argument the message names (`invalid \`field\`: expected …`).
      if (k === "field") assert.ok(e.message.includes(`\`${v}`), `${e.message} names ${v}`);
      else assert.equal(e[k], v, `${code}: ${k}`);
    }
    return true;
  });
}

test("round trip: a push signed by the broker side verifies; a tampered body is refused", async () => {
  const c = await connected();
  const { installId, secret } = brokerSide(c);
  const header = signPush(secret, installId, BODY, NOW);
  assert.match(header, new RegExp(`^t=${NOW},v1=[0-9a-f]{64}$`));

  const events = c.verifyPush({ "Tessera-Push-Signature": header }, BODY, NOW + 30);
  assert.deepEqual(events, [
    {
      id: "evt_1",
      type: "contact.created",
      apiVersion: "2025-09",
      createdAt: NOW - 5,
      data: { object: { id: "con_1", name: "Zoë", total: 125 } },
      dataJson: DATA,
    },
  ]);

  // One byte changed after signing: the MAC no longer matches, nothing of the body is used.
  const tampered = BODY.replace("con_1", "con_2");
  throwsCode(() => c.verifyPush({ "Tessera-Push-Signature": header }, tampered, NOW + 30), "signature_invalid", {
    kind: "verification",
    wireStatus: 401,
    wireCode: "signature_invalid",
  });
  // Signed for another installation, or with another secret.
  const foreign = signPush(secret, "ins_AAAAAAAAAAAAAAAAAAAAAA", BODY, NOW);
  throwsCode(() => c.verifyPush({ "Tessera-Push-Signature": foreign }, BODY, NOW), "signature_invalid");
  const otherSecret = signPush(new Uint8Array(32).fill(9), installId, BODY, NOW);
  throwsCode(() => c.verifyPush({ "Tessera-Push-Signature": otherSecret }, BODY, NOW), "signature_invalid");
  // Stale, unsigned, malformed.
  throwsCode(() => c.verifyPush({ "Tessera-Push-Signature": header }, BODY, NOW + 301), "signature_expired", { kind: "verification" });
  throwsCode(() => c.verifyPush({}, BODY, NOW), "signature_missing", { kind: "verification" });
  throwsCode(() => c.verifyPush({ "Tessera-Push-Signature": "t=1,v1=zz" }, BODY, NOW), "signature_malformed");
});

test("verifyPush takes the request's headers and body as the package takes them", async () => {
  const c = await connected();
  const { installId, secret } = brokerSide(c);
  const bytes = new TextEncoder().encode(BODY);
  // The secret as bytes signs the same as its base64url text; the body as bytes as its text.
  const header = signPush(secret, installId, bytes, NOW);
  assert.equal(signPush(Buffer.from(secret, "base64url"), installId, BODY, NOW), header);
  const ids = (events) => events.map((e) => e.id);
  // A record with a lowercase name (node:http), [name, value] pairs, a Headers, a Map; bytes or a Buffer.
  assert.deepEqual(ids(c.verifyPush({ "tessera-push-signature": header }, bytes, NOW)), ["evt_1"]);
  assert.deepEqual(ids(c.verifyPush([["Content-Type", "application/json"], ["TESSERA-PUSH-SIGNATURE", header]], Buffer.from(BODY), NOW)), ["evt_1"]);
  assert.deepEqual(ids(c.verifyPush(new Headers({ "tessera-push-signature": header }), BODY, NOW)), ["evt_1"]);
  assert.deepEqual(ids(c.verifyPush(new Map([["Tessera-Push-Signature", header]]), bytes.buffer, NOW)), ["evt_1"]);
  // `now` defaults to the local clock: a push signed now verifies, one signed an hour ago does not.
  const nowSecs = Math.floor(Date.now() / 1000);
  assert.deepEqual(ids(c.verifyPush({ "tessera-push-signature": signPush(secret, installId, BODY) }, BODY)), ["evt_1"]);
  throwsCode(() => c.verifyPush({ "tessera-push-signature": signPush(secret, installId, BODY, nowSecs - 3600) }, BODY), "signature_expired");
});

test("a push leaves the state alone (no cursor moves); an unregistered companion refuses with not_registered", async () => {
  const c = await connected();
  const { installId, secret } = brokerSide(c);
  const before = c.exportState();
  c.verifyPush({ "tessera-push-signature": signPush(secret, installId, BODY, NOW) }, BODY, NOW);
  assert.equal(c.exportState(), before);
  assert.equal(c.eventsCursor, null);

  const fresh = Companion.create({ brokerUrl: BROKER });
  throwsCode(() => fresh.verifyPush({ "tessera-push-signature": signPush(secret, installId, BODY, NOW) }, BODY, NOW), "not_registered");
  throwsCode(() => fresh.pushRegistrationRequest("https://shop.example/hook"), "not_registered");
});

test("pushRegistrationRequest: PUT / DELETE /events/push, sent signed by call()", async () => {
  const c = await connected();
  const put = c.pushRegistrationRequest("HTTPS://Shop.Example/wp-json/sync/v1/events");
  assert.deepEqual(put, {
    method: "PUT",
    path: "/events/push",
    headers: [["content-type", "application/json"]],
    body: '{"url":"https://shop.example/wp-json/sync/v1/events"}',
  });
  assert.deepEqual(c.pushRegistrationRequest(null), { method: "DELETE", path: "/events/push", headers: [], body: "" });
  throwsCode(() => c.pushRegistrationRequest("https://evil.example/hook"), "invalid_url");
  throwsCode(() => c.pushRegistrationRequest(`https://shop.example/${"a".repeat(2048)}`), "too_large");

  const { fetch, sent } = scriptedFetch([new Response(null, { status: 204 }), new Response(null, { status: 204 })]);
  const driver = { fetch, sleep: async () => {}, clock: () => NOW * 1000 };
  assert.equal((await c.call(put, driver)).status, 204);
  assert.equal((await c.call(c.pushRegistrationRequest(null), driver)).status, 204);
  assert.deepEqual(sent.map((s) => [s.method, s.url, s.body]), [
    ["PUT", `${BROKER}/events/push`, put.body],
    ["DELETE", `${BROKER}/events/push`, ""],
  ]);
  for (const s of sent) {
    const h = new Map(s.headers);
    assert.equal(h.get("authorization"), "Bearer btk_push", "the broker token");
    assert.match(h.get("signature-input"), /keyid=/, "signed");
  }
});

test("a node:http site verifies the raw body of a push before using it", async (t) => {
  const c = await connected();
  const { installId, secret } = brokerSide(c);
  const received = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      try {
        received.push(...c.verifyPush(req.headers, Buffer.concat(chunks)));
        res.writeHead(204).end();
      } catch (e) {
        res.writeHead(e.wireStatus ?? 400).end(e.code);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${server.address().port}/events`;
  const post = (body, header) =>
    fetch(url, { method: "POST", body, headers: { "content-type": "application/json", "tessera-push-signature": header } });
  const header = signPush(secret, installId, BODY);
  assert.equal((await post(BODY, header)).status, 204);
  const refused = await post(BODY.replace("Zo", "Jo"), header);
  assert.deepEqual([refused.status, await refused.text()], [401, "signature_invalid"]);
  assert.deepEqual(received.map((e) => [e.id, e.data.object.name]), [["evt_1", "Zoë"]]);
});

test("argument refusals are invalid_input naming the argument", async () => {
  const c = await connected();
  const { installId, secret } = brokerSide(c);
  const header = signPush(secret, installId, BODY, NOW);
  throwsCode(() => c.verifyPush({ "tessera-push-signature": header }, undefined, NOW), "invalid_input", { field: "body" });
  throwsCode(() => c.verifyPush({ "tessera-push-signature": header }, 42, NOW), "invalid_input", { field: "body" });
  throwsCode(() => c.verifyPush("tessera-push-signature", BODY, NOW), "invalid_input", { field: "headers" });
  throwsCode(() => c.verifyPush({ "tessera-push-signature": ["a", "b"] }, BODY, NOW), "invalid_input");
  throwsCode(() => c.verifyPush({ "tessera-push-signature": header }, BODY, 1.5), "invalid_input", { field: "now" });
  // undefined is not "stop the pushes": only an explicit null is.
  throwsCode(() => c.pushRegistrationRequest(), "invalid_input", { field: "url" });
  throwsCode(() => c.pushRegistrationRequest(new URL("https://shop.example/hook")), "invalid_input", { field: "url" });
  throwsCode(() => signPush(undefined, installId, BODY, NOW), "invalid_input", { field: "secret" });
  throwsCode(() => signPush("not base64url!", installId, BODY, NOW), "invalid_input");
  throwsCode(() => signPush(secret, 7, BODY, NOW), "invalid_input", { field: "installId" });
  throwsCode(() => signPush(secret, installId, null, NOW), "invalid_input", { field: "body" });
  // Unbound, on another object, on a freed companion.
  const { verifyPush, pushRegistrationRequest } = c;
  throwsCode(() => verifyPush({}, BODY, NOW), "invalid_input", { field: "this" });
  throwsCode(() => pushRegistrationRequest.call({}, null), "invalid_input", { field: "this" });
  c.free();
  throwsCode(() => c.verifyPush({ "tessera-push-signature": header }, BODY, NOW), "invalid_state");
});

test("Node entry only: the methods are the Companion's, not enumerable; the proxy entry's Companion has none", () => {
  for (const name of ["verifyPush", "pushRegistrationRequest"]) {
    const d = Object.getOwnPropertyDescriptor(Companion.prototype, name);
    assert.equal(typeof d?.value, "function", name);
    assert.equal(d.enumerable, false, name);
    assert.equal(proxyPkg.Companion.prototype[name], undefined, `proxy entry: ${name}`);
  }
  assert.equal(broker.signPush, signPush, "one signPush for the root and broker entries");
});

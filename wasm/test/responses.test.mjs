// Call results read like a fetch Response, a fetch Response is accepted where
// a response is taken, and companions are disposable (issue 17, items 10 and
// 13): `call()` / `callAndRecord()` resolve `{ status, headers, body }` that
// also has `ok`, `text()` and `json()` (non-enumerable: the object still
// compares, clones and serialises as the three fields); `readResponse()`
// turns a fetch Response into the plain form the synchronous `classify` and
// `handleRegistrationResponse` take, and they refuse a Response with a typed
// error saying so; `companion[Symbol.dispose]()` frees, idempotently.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Companion, TesseraError, classify, readResponse } from "tessera-companion";
import { CODE, NOW, completeWith, response, scriptedFetch, stateOf, text } from "./helpers.mjs";

const BROKER = "https://broker.example";
const RETURN = "chrome-extension://abcdefghijklmnop/options.html";
const REG = { siteUrl: "https://shop.example", adminEmail: "a@shop.example", platform: "chrome-extension", pluginVersion: "1" };
const clock = () => NOW * 1000;

async function connected() {
  const c = Companion.create({ brokerUrl: BROKER });
  c.registrationRequest(REG);
  c.handleRegistrationResponse({ status: 201 });
  const state = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  await completeWith(c, `state=${state}&code=${CODE}`, "btk_1", { clock });
  return c;
}

const isCode = (code) => (e) => e instanceof TesseraError && e.code === code;

test("call(): { status, headers, body } as before, plus ok, text() and json() like a fetch Response", async () => {
  const c = await connected();
  const body = '\uFEFF{"units":[{"id":"u1","name":"Caf\u00e9"}]}';
  const { fetch } = scriptedFetch([response(200, body, { "content-type": "application/json" })]);
  const res = await c.call({ method: "GET", path: "/api/units" }, { fetch, clock });
  // Backward compatible: the same three enumerable fields, equal to the plain object.
  assert.deepEqual(Object.keys(res), ["status", "headers", "body"]);
  assert.deepEqual(res, { status: 200, headers: [["content-type", "application/json"]], body: new TextEncoder().encode(body) });
  assert.equal(res.ok, true);
  const p = res.text();
  assert.ok(p instanceof Promise, "text() returns a Promise, as Response#text()");
  assert.equal(await p, body.slice(1), "UTF-8, the BOM dropped, as Response#text()");
  assert.deepEqual(await res.json(), { units: [{ id: "u1", name: "Caf\u00e9" }] });
  assert.deepEqual(await res.json(), { units: [{ id: "u1", name: "Caf\u00e9" }] }, "readable again (unlike a Response)");
  // Clones and serialisations see the three fields only (chrome.runtime messaging, loggers).
  assert.deepEqual(Object.keys(structuredClone(res)), ["status", "headers", "body"]);
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(res))), ["status", "headers", "body"]);
  c.free();
});

test("call(): json() of a body that is not JSON rejects with SyntaxError, as fetch's; text() of invalid UTF-8 has U+FFFD", async () => {
  const c = await connected();
  const { fetch } = scriptedFetch([response(200, new Uint8Array([0x6f, 0x6b, 0xff]))]);
  const res = await c.call({ method: "GET", path: "/api/units" }, { fetch, clock });
  await assert.rejects(res.json(), SyntaxError);
  assert.equal(await res.text(), "ok\uFFFD");
  const expected = await new Response(new Uint8Array([0x6f, 0x6b, 0xff])).text();
  assert.equal(await res.text(), expected, "the same text as Response#text()");
  c.free();
});

test("callAndRecord(): its response has the readers too", async () => {
  const c = await connected();
  const { fetch } = scriptedFetch([response(200, '{"id":"o1"}'), response(201, "{}")]);
  const event = { sourceId: "src", templateId: "tpl", externalUrl: "https://partner.example/x" };
  const out = await c.callAndRecord({ method: "PATCH", path: "/api/orders/o1", body: "{}" }, event, { fetch, clock });
  assert.deepEqual(out.event, { ok: true });
  assert.equal(out.response.ok, true);
  assert.deepEqual(await out.response.json(), { id: "o1" });
  c.free();
});

test("readResponse(): a fetch Response (or a plain one) → the plain form classify takes, with the readers", async () => {
  const headers = { "content-type": "application/json", "retry-after": "7" };
  const body = '{"error":"rate_limited"}';
  const res = await readResponse(new Response(body, { status: 429, headers }));
  assert.deepEqual(res, { status: 429, headers: [["content-type", "application/json"], ["retry-after", "7"]], body: new TextEncoder().encode(body) });
  assert.equal(res.ok, false);
  assert.deepEqual(await res.json(), { error: "rate_limited" });
  const plain = { status: 429, headers, body };
  assert.deepEqual(classify(res, { now: NOW }), classify(plain, { now: NOW }));
  assert.equal(classify(res, { now: NOW }).retryAfterMs, 7000);
  // A plain response goes through too, its body copied.
  const bytes = new Uint8Array([1, 2, 3]);
  const copied = await readResponse({ status: 200, body: bytes });
  bytes[0] = 9;
  assert.deepEqual(copied.body, new Uint8Array([1, 2, 3]));
  assert.deepEqual(copied.headers, []);
  // An empty body (204).
  assert.deepEqual((await readResponse(new Response(null, { status: 204 }))).body, new Uint8Array(0));
  // Bad input is a typed rejection.
  for (const bad of [undefined, 42, "x", { status: 1.5 }, { status: 70000 }, { status: 200, body: 5 }, []]) {
    await assert.rejects(readResponse(bad), isCode("invalid_input"), JSON.stringify(bad));
  }
  // A body that cannot be read rejects with the reader's error, unchanged.
  const broken = new Response("x");
  await broken.text();
  await assert.rejects(readResponse(broken), TypeError);
});

test("classify and handleRegistrationResponse refuse a fetch Response with invalid_input naming readResponse", async () => {
  const r = () => new Response('{"error":"rate_limited"}', { status: 429 });
  assert.throws(() => classify(r()), (e) => isCode("invalid_input")(e) && /readResponse/.test(e.message) && /asynchronously/.test(e.message));
  assert.throws(() => Companion.classify(r()), (e) => isCode("invalid_input")(e) && /readResponse/.test(e.message));
  const c = Companion.create({ brokerUrl: BROKER });
  c.registrationRequest(REG);
  assert.throws(() => c.handleRegistrationResponse(new Response("{}", { status: 201 })), (e) => isCode("invalid_input")(e) && /readResponse/.test(e.message));
  // … and take it once read.
  assert.deepEqual(c.handleRegistrationResponse(await readResponse(new Response("{}", { status: 201 }))), { outcome: "registered" });
  c.free();
});

test("Symbol.dispose: frees the companion (a later call is invalid_state), idempotent, typed errors when unbound", () => {
  assert.equal(typeof Symbol.dispose, "symbol", "this Node has Symbol.dispose");
  const c = Companion.create({ brokerUrl: BROKER });
  assert.equal(typeof c[Symbol.dispose], "function");
  assert.equal(c.status, "not_registered");
  c[Symbol.dispose]();
  assert.throws(() => c.status, (e) => isCode("invalid_state")(e) && /freed/.test(e.message));
  assert.throws(() => c.exportState(), isCode("invalid_state"));
  c[Symbol.dispose](); // again: harmless
  c.free(); // and free() after it too
  // Dispose after free() is harmless as well.
  const d = Companion.create({ brokerUrl: BROKER });
  d.free();
  d[Symbol.dispose]();
  const dispose = Companion.prototype[Symbol.dispose];
  assert.throws(() => dispose.call(undefined), isCode("invalid_input"));
  assert.throws(() => dispose.call({}), isCode("invalid_input"));
  // Not enumerable, not an own property: summaries and inspection are unchanged.
  const e = Companion.create({ brokerUrl: BROKER });
  assert.deepEqual(Object.getOwnPropertySymbols(e), []);
  assert.equal(Object.getOwnPropertyDescriptor(Companion.prototype, Symbol.dispose).enumerable, false);
  e.free();
});

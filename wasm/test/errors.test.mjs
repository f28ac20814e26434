// TesseraError: one class, stable codes, no secrets; bad inputs of every kind
// raise it and never crash the module.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as pkg from "tessera-companion";
import { CODE, NOW, SEED, completeWith, outcome, outcomeAsync, stateOf } from "./helpers.mjs";

const { Companion, TesseraError, classify, verifyRequest, verifyConnectUrl, hmacSignGeneric, contentDigest, MemoryReplayStore } = pkg;
const BROKER = "https://broker.example";

async function connected() {
  const c = Companion.create({ brokerUrl: BROKER });
  c.useSeededEntropy(SEED);
  c.registrationRequest({ siteUrl: "https://shop.example", adminEmail: "a@shop.example", platform: "wordpress", pluginVersion: "1" });
  c.handleRegistrationResponse({ status: 201 });
  const state = stateOf(c.connectUrl({ returnUrl: "https://shop.example/cb", now: NOW }));
  await completeWith(c, `state=${state}&code=${CODE}`, "btk_secret_token_value", { now: NOW });
  return c;
}

/** A fetch that must not be reached (a TesseraError is never retried: it ends the call as is). */
const noFetch = async () => {
  throw new TesseraError("internal", "internal", "fetch must not be reached here");
};

const thrown = (fn) => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail("expected a throw");
};

test("TesseraError: an Error subclass with name, code, kind and a secret-free toJSON", () => {
  const e = thrown(() => Companion.create({ brokerUrl: "http://evil.example" }));
  assert.ok(e instanceof TesseraError);
  assert.ok(e instanceof Error);
  assert.equal(e.name, "TesseraError");
  assert.equal(e.code, "insecure_broker_url");
  assert.equal(e.kind, "invalid_input");
  assert.equal(typeof e.message, "string");
  assert.match(String(e), /^TesseraError: /);
  assert.ok(typeof e.stack === "string");
  const json = e.toJSON();
  assert.deepEqual(Object.keys(json).sort(), ["code", "kind", "message", "name"]);
  assert.equal(JSON.parse(JSON.stringify(e)).code, "insecure_broker_url");
  assert.throws(() => { throw e; }, TesseraError);
});

test("codes and kinds of representative failures", async () => {
  const c = await connected();
  const cases = [
    [() => Companion.create({ brokerUrl: "not a url" }), "invalid_url", "invalid_input"],
    [() => Companion.create({ brokerUrl: "ftp://broker.example" }), "invalid_url", "invalid_input"],
    [() => Companion.importState("{"), "state_corrupt", "invalid_state"],
    [() => Companion.importState('{"v":2}'), "state_version_unsupported", "invalid_state"],
    [() => Companion.create({ brokerUrl: BROKER }).connectUrl({ returnUrl: "https://x.example/cb" }), "not_registered", "invalid_state"],
    [() => c.signRequest({ method: "GET", path: "/api/x", body: new Uint8Array((1 << 20) + 1) }), "too_large", "invalid_input"],
    [() => c.signRequest({ method: "G ET", path: "/api/x" }), "invalid_input", "invalid_input"],
    [() => c.signRequest({ method: "GET", path: "/api/x?a=b+c" }), "invalid_url", "invalid_input"],
    [() => c.signRequest({ method: "GET", path: "/api/x", headers: { "bad name": "v" } }), "invalid_input", "invalid_input"],
    [() => c.signRequest({ method: "GET", path: "/api/x" }, { nonce: "has space" }), "invalid_input", "invalid_input"],
    [() => Companion.openState("tsv1.AAAA", "0123456789abcdef"), "state_undecryptable", "state_undecryptable"],
    [() => c.useSeededEntropy(new Uint8Array(3)), "invalid_input", "invalid_input"],
  ];
  for (const [fn, code, kind] of cases) {
    const e = thrown(fn);
    assert.ok(e instanceof TesseraError, `${code}: ${e}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.kind, kind, e.message);
  }
  // completeConnect runs on the driver: it rejects.
  for (const [p, code, kind] of [
    [() => Companion.create({ brokerUrl: BROKER }).completeConnect("state=abcdefghijklmnop&code=cc_0123456789abcdef", { fetch: noFetch }), "invalid_state", "invalid_state"],
    [() => c.completeConnect("https://shop.example/cb?nothing=here", { fetch: noFetch }), "callback_invalid", "callback"],
  ]) {
    await assert.rejects(p(), (e) => e instanceof TesseraError && e.code === code && e.kind === kind);
  }
});

test("wrong JavaScript types raise invalid_input TesseraErrors", async () => {
  const c = await connected();
  const calls = [
    () => Companion.create(),
    () => Companion.create(null),
    () => Companion.create("https://broker.example"),
    () => Companion.create({ brokerUrl: 42 }),
    () => Companion.create({ brokerUrl: BROKER, routes: "x" }),
    () => Companion.create({ brokerUrl: BROKER, retry: { maxAttempts: 1.5 } }),
    () => Companion.create({ brokerUrl: BROKER, retry: { maxAttempts: -1 } }),
    () => Companion.create({ brokerUrl: BROKER, retry: { baseDelayMs: "10" } }),
    () => Companion.importState(undefined),
    () => Companion.importState(12),
    () => Companion.openState(null, "k"),
    () => Companion.openState("tsv1.x", undefined),
    () => c.registrationRequest({ siteUrl: "https://a.example" }),
    () => c.handleRegistrationResponse({ status: "201" }),
    () => c.handleRegistrationResponse({ status: 70000 }),
    () => c.handleRegistrationResponse({ status: 201, headers: "x" }),
    () => c.handleRegistrationResponse({ status: 201, headers: [["a"]] }),
    () => c.handleRegistrationResponse({ status: 201, headers: { a: 1 } }),
    () => c.handleRegistrationResponse({ status: 201, body: 12 }),
    () => c.connectUrl("https://shop.example/cb"),
    () => c.connectUrl({ returnUrl: "https://shop.example/cb", now: "now" }),
    () => c.connectUrl({ returnUrl: "https://shop.example/cb", now: NaN }),
    () => c.signRequest(),
    () => c.signRequest({ method: "GET" }),
    () => c.signRequest({ method: "GET", path: "/x", body: {} }),
    () => c.signRequest({ method: "GET", path: "/x" }, { now: 1e300 }),
    () => c.signRequest({ method: "GET", path: "/x" }, { nonce: 5 }),
    () => c.signRequest({ method: "GET", path: "/x" }, "opts"),
    () => c.checkSite(null),
    () => c.sealState(),
    () => c.uninstallUrl({ now: {} }),
    () => classify(),
    () => classify({ status: -1 }),
    () => classify({ status: 200 }, { now: "x" }),
    () => hmacSignGeneric({ method: "GET", url: "https://a.example/" }, "sig=()", null),
    () => contentDigest(42),
    () => new MemoryReplayStore(0),
    () => new MemoryReplayStore("big"),
  ];
  for (const fn of calls) {
    const e = thrown(fn);
    assert.ok(e instanceof TesseraError, `${fn}: ${e}`);
    assert.equal(e.code, "invalid_input", `${fn}: ${e.message}`);
  }
});

test("async APIs reject (never throw synchronously) with TesseraErrors", async () => {
  const c = await connected();
  for (const p of [
    () => c.completeConnect({ url: "x" }),
    () => c.completeConnect(),
    () => c.completeConnect("state=x", "opts"),
    () => c.completeConnect("state=x", { now: "soon" }),
    () => c.completeConnect("state=x", { fetch: 5 }),
    () => c.call(),
    () => c.call({ method: "GET", path: "/x" }, { fetch: "no" }),
    () => c.call({ method: "GET", path: "/x" }, { sleep: 1 }),
    () => verifyRequest({ method: "GET", url: "https://a.example/" }),
    () => verifyRequest({ method: "GET", url: "https://a.example/" }, { secretFor: "x" }),
    () => verifyConnectUrl(5, { secretFor: () => null }),
  ]) {
    let result;
    try {
      result = p();
    } catch (e) {
      assert.fail(`threw synchronously: ${e}`);
    }
    await assert.rejects(result, (e) => e instanceof TesseraError && e.code === "invalid_input");
  }
  await assert.rejects(
    verifyRequest({ method: "GET", url: "https://a.example/" }, { secretFor: () => 42, replayStore: new MemoryReplayStore() }),
    (e) => e instanceof TesseraError,
  );
});

test("secrets and tokens never appear in messages or toJSON of errors", async () => {
  const c = await connected();
  const state = JSON.parse(c.exportState());
  const secrets = [state.installation.secret, state.broker_token];
  assert.equal(state.broker_token, "btk_secret_token_value");
  const errors = [];
  const collect = (fn) => {
    try {
      fn();
    } catch (e) {
      errors.push(e);
    }
  };
  collect(() => Companion.importState(c.exportState().slice(0, 200)));
  collect(() => Companion.importState(c.exportState().replace('"confirmed":true', '"confirmed":"yes"')));
  collect(() => Companion.importState(c.exportState().replace(state.installation.secret, state.installation.secret + "!")));
  collect(() => Companion.importState(c.exportState().replace(state.broker_token, "bad token\u0001")));
  for (const cb of [`state=x&broker_token=${state.broker_token}`, `state=x&code=${state.broker_token}`]) {
    try {
      await c.completeConnect(cb, { fetch: noFetch });
    } catch (e) {
      errors.push(e);
    }
  }
  // A refused exchange (and a malformed answer quoting the token) during a reconnect.
  for (const answer of [
    () => new Response('{"error":"connect_code_invalid"}', { status: 400 }),
    () => new Response(`{"broker_token":"${state.broker_token}","account":5}`, { status: 200 }),
  ]) {
    const s = stateOf(c.connectUrl({ returnUrl: "https://shop.example/cb", now: NOW }));
    try {
      await c.completeConnect(`state=${s}&code=${CODE}`, { fetch: async () => answer(), now: NOW });
    } catch (e) {
      errors.push(e);
    }
  }  collect(() => Companion.openState(c.sealState("k".repeat(16)), "j".repeat(16)));
  collect(() => c.signRequest({ method: "GET", path: `/api/${state.installation.secret}?x=+` }));
  const signed = c.signRequest({ method: "GET", path: "/api/x" }, { now: NOW });
  for (const secretFor of [() => state.installation.secret.slice(1), () => "!!"]) {
    try {
      await verifyRequest(signed, { secretFor, now: NOW, replayStore: new MemoryReplayStore() });
    } catch (e) {
      errors.push(e);
    }
  }
  const d = await connected();
  const ds = JSON.parse(d.exportState());
  secrets.push(ds.installation.secret, ds.broker_token);
  try {
    await d.call({ method: "GET", path: "/api/x" }, { fetch: async () => new Response('{"error":"broker_token_invalid"}', { status: 401 }) });
  } catch (e) {
    errors.push(e);
  }
  assert.ok(errors.length >= 12, `collected ${errors.length}`);
  for (const e of errors) {
    assert.ok(e instanceof TesseraError, String(e));
    const shown = `${e.message} ${JSON.stringify(e)} ${String(e)} ${e.reason ?? ""} ${e.wireBody ?? ""} ${JSON.stringify(e.wireHeaders ?? {})}`;
    for (const s of secrets) assert.ok(!shown.includes(s), `${e.code} leaks a secret: ${shown}`);
  }
  // And the companion itself prints nothing secret.
  const { inspect } = await import("node:util");
  for (const s of secrets.slice(0, 2)) assert.ok(!inspect(c, { depth: 5, showHidden: true }).includes(s));
});

/** A small deterministic PRNG for the fuzz loops. */
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 2 ** 32);
}
function junk(r) {
  const alphabet = ['"', "{", "}", "[", "]", ":", ",", "\\", "%", "&", "=", "?", "#", "/", " ", "\u0000", "é", "😀", "a", "1", "-", "tsv1.", "state=", "v", "\n"];
  let s = "";
  const n = Math.floor(r() * 40);
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

test("fuzz: malformed JSON, URLs, callbacks, sealed blobs and responses never crash the module", async () => {
  const c = await connected();
  const base = c.exportState();
  const r = rng(1234);
  for (let i = 0; i < 400; i++) {
    const s = junk(r);
    const cut = base.slice(0, Math.floor(r() * base.length));
    for (const fn of [
      () => Companion.importState(s),
      () => Companion.importState(cut),
      () => Companion.importState(base.slice(0, 40) + s + base.slice(40)),
      () => Companion.create({ brokerUrl: s }),
      () => Companion.create({ brokerUrl: `https://${s}` }),
      () => Companion.openState(s, "0123456789abcdef"),
      () => Companion.importState(base).checkSite(`https://${s}`),
      () => c.signRequest({ method: "GET", path: `/${s}` }, { now: NOW }),
      () => c.signRequest({ method: s || "GET", path: "/x", headers: [[s || "x", s]] }, { now: NOW }),
      () => classify({ status: Math.floor(r() * 600), headers: { "retry-after": s, date: s }, body: s }),
      () => hmacSignGeneric({ method: "GET", url: `https://a.example/${s}`, headers: { date: s } }, s, "k"),
    ]) {
      const o = outcome(TesseraError, fn);
      assert.ok(o.error === undefined || typeof o.error === "string");
    }
    const cc = await outcomeAsync(TesseraError, () => Companion.importState(base).completeConnect(s, { fetch: noFetch }));
    assert.equal(typeof cc.error, "string");
    assert.notEqual(cc.error, "internal", `completeConnect(${JSON.stringify(s)})`);
    const o = await verifyRequest({ method: "GET", url: "https://broker.example/x", headers: { "signature-input": s, signature: s, "content-digest": s } }, { secretFor: () => null, replayStore: new MemoryReplayStore() }).then(() => "ok", (e) => e);
    assert.ok(o === "ok" || o instanceof TesseraError, String(o));
  }
  // Still fully working afterwards.
  const after = c.signRequest({ method: "GET", path: "/api/x" }, { now: NOW, nonce: "after" });
  assert.equal(after.method, "GET");
  await verifyRequest(after, { secretFor: () => JSON.parse(c.exportState()).installation.secret, now: NOW, replayStore: new MemoryReplayStore() });
});

test("oversized inputs are refused by the core and leave the module working", async () => {
  const c = await connected();
  const huge = new Uint8Array(64 << 20);
  assert.throws(() => c.signRequest({ method: "POST", path: "/api/x", body: huge }), { code: "too_large" });
  await assert.rejects(verifyRequest({ method: "POST", url: "https://broker.example/x", body: huge }, { secretFor: () => null, replayStore: new MemoryReplayStore() }), { code: "too_large" });
  const longText = "x".repeat(8 << 20);
  assert.throws(() => Companion.importState(longText), TesseraError);
  await assert.rejects(c.completeConnect(longText, { fetch: noFetch }), TesseraError);
  assert.throws(() => Companion.openState(longText, "0123456789abcdef"), TesseraError);
  assert.throws(() => c.signRequest({ method: "GET", path: "/x", headers: Array.from({ length: 5000 }, (_, i) => [`h${i}`, "v"]) }), { code: "too_large" });
  assert.equal(c.signRequest({ method: "GET", path: "/api/ok" }).method, "GET");
});

test("Stora's errors keep their code and request id; its stored 5xx to a POST is not sent again", async () => {
  const c = await connected();
  const stora = (status, code) => async () =>
    new Response(JSON.stringify({ error: { code, type: "t", message: "m", details: [], links: [], request_id: `req_${status}` } }), {
      status,
      headers: { "tessera-origin": "stora", "content-type": "application/json" },
    });
  const conflict = await c.call({ method: "POST", path: "/api/contacts", body: "{}" }, { fetch: stora(409, "conflict") }).catch((e) => e);
  assert.ok(conflict instanceof TesseraError);
  assert.deepEqual([conflict.code, conflict.status, conflict.reason, conflict.requestId], ["client_error", 409, "conflict", "req_409"]);
  assert.equal(conflict.toJSON().requestId, "req_409");
  let sent = 0;
  const failing = stora(500, "internal_server_error");
  const failed = await c
    .call({ method: "POST", path: "/api/contacts", body: "{}" }, { fetch: (...a) => (sent++, failing(...a)), sleep: async () => {} })
    .catch((e) => e);
  assert.deepEqual([failed.code, failed.kind, failed.reason, failed.requestId, sent], ["upstream_failed", "server_unavailable", "internal_server_error", "req_500", 1]);
  assert.match(failed.message, /req_500/);
});

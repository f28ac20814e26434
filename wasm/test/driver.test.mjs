// The async driver of the core's step machine: retries, backoff, Retry-After,
// clock-skew correction, persistence, reconnect mapping, registration with its
// ownership proof round, and redirects, with a fake fetch, a fake sleep and a
// fake clock. (Every machine script is replayed in machine.test.mjs.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { Companion, MemoryReplayStore, TesseraError, verifyOwnershipProof, verifyRequest } from "tessera-companion";
import { ACCOUNT, CODE, NOW, SEED, completeWith, connectAnswer, recordingSleep, response, scriptedFetch, stateOf, text } from "./helpers.mjs";

const BROKER = "https://broker.example";
const RETURN = "chrome-extension://abcdefghijklmnop/options.html";
const clock = (secs = NOW) => () => secs * 1000;

function registered(retry) {
  const c = Companion.create({ brokerUrl: BROKER, retry });
  c.useSeededEntropy(SEED);
  c.registrationRequest({ siteUrl: "https://shop.example", adminEmail: "a@shop.example", platform: "chrome-extension", pluginVersion: "1" });
  c.handleRegistrationResponse({ status: 201 });
  return c;
}

async function connected(retry) {
  const c = registered(retry);
  const state = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  await completeWith(c, `state=${state}&code=${CODE}`, "btk_1", { clock: clock() });
  return c;
}
const hdr = (req, name) => Object.fromEntries(req.headers)[name];
const created = (req) => Number(/;created=(\d+)/.exec(hdr(req, "signature-input"))[1]);
const nonce = (req) => /;nonce="([^"]+)"/.exec(hdr(req, "signature-input"))[1];

test("5xx then 200: full-jitter backoff, same Idempotency-Key, fresh nonce per attempt", async () => {
  const c = await connected();
  const { fetch, sent } = scriptedFetch([response(503), response(502), response(200, "ok")]);
  const { sleep, slept } = recordingSleep();
  const res = await c.call({ method: "POST", path: "/api/units", body: "{}" }, { fetch, sleep, clock: clock() });
  assert.equal(res.status, 200);
  assert.equal(text(res.body), "ok");
  assert.equal(sent.length, 3);
  assert.equal(slept.length, 2);
  assert.ok(slept[0] <= 250 && slept[1] <= 500, `delays within the doubling ceilings: ${slept}`);
  const keys = new Set(sent.map((r) => hdr(r, "idempotency-key")));
  assert.equal(keys.size, 1);
  assert.equal(new Set(sent.map(nonce)).size, 3);
});

test("5xx exhausts the attempts → server_unavailable with status; GET retried, no key", async () => {
  const c = await connected();
  const { fetch, sent } = scriptedFetch([response(500), response(500), response(500), response(200)]);
  const { sleep, slept } = recordingSleep();
  await assert.rejects(c.call({ method: "GET", path: "/api/units" }, { fetch, sleep }), (e) => {
    assert.ok(e instanceof TesseraError);
    assert.equal(e.code, "server_unavailable");
    assert.equal(e.kind, "server_unavailable");
    assert.equal(e.status, 500);
    return true;
  });
  assert.equal(sent.length, 3);
  assert.equal(slept.length, 2);
  assert.equal(hdr(sent[0], "idempotency-key"), undefined);
});

test("transport errors (fetch rejects) are retried, then server_unavailable without status", async () => {
  const c = await connected({ maxAttempts: 2 });
  const { fetch, sent } = scriptedFetch([new TypeError("fetch failed"), new TypeError("fetch failed")]);
  const { sleep } = recordingSleep();
  await assert.rejects(c.call({ method: "GET", path: "/api/x" }, { fetch, sleep }), (e) => e.code === "server_unavailable" && e.status === undefined && !("status" in e));
  assert.equal(sent.length, 2);
});

test("408 is retried; other 4xx never are", async () => {
  const c = await connected();
  const a = scriptedFetch([response(408), response(200)]);
  assert.equal((await c.call({ method: "GET", path: "/api/x" }, { fetch: a.fetch, sleep: async () => {} })).status, 200);
  for (const status of [400, 403, 404, 409, 422]) {
    const b = scriptedFetch([response(status, '{"error":"bad_thing"}'), response(200)]);
    await assert.rejects(c.call({ method: "GET", path: "/api/x" }, { fetch: b.fetch, sleep: async () => assert.fail("no sleep") }), (e) => {
      assert.equal(e.code, "client_error");
      assert.equal(e.status, status);
      assert.equal(e.reason, "bad_thing");
      return true;
    });
    assert.equal(b.sent.length, 1);
  }
});

test("429 honours Retry-After; a long one surfaces as rate_limited", async () => {
  const c = await connected();
  const a = scriptedFetch([response(429, "", { "retry-after": "2" }), response(200)]);
  const s = recordingSleep();
  await c.call({ method: "GET", path: "/api/x" }, { fetch: a.fetch, sleep: s.sleep, clock: clock() });
  assert.deepEqual(s.slept, [2000]);
  const b = scriptedFetch([response(429, "", { "retry-after": "3600" })]);
  await assert.rejects(c.call({ method: "GET", path: "/api/x" }, { fetch: b.fetch, sleep: async () => assert.fail("no sleep") }), (e) => {
    assert.equal(e.code, "rate_limited");
    assert.equal(e.kind, "rate_limited");
    assert.equal(e.retryAfterMs, 3_600_000);
    assert.equal(e.status, 429);
    return true;
  });
});

test("signature_expired + Date: learn the clock offset, persist, re-sign once", async () => {
  const c = await connected();
  const skew = 400; // the broker is 400 s ahead of this clock
  const date = new Date((NOW + skew) * 1000).toUTCString();
  const expired = () => response(401, '{"error":"signature_expired"}', { date });
  const { fetch, sent } = scriptedFetch([expired, response(200)]);
  const persisted = [];
  const res = await c.call({ method: "GET", path: "/api/x" }, { fetch, clock: clock(), onPersist: (s) => void persisted.push(s) });
  assert.equal(res.status, 200);
  assert.equal(created(sent[0]), NOW);
  assert.equal(created(sent[1]), NOW + skew);
  assert.equal(c.clockOffset, skew);
  assert.equal(persisted.length, 1);
  assert.equal(JSON.parse(persisted[0]).clock_offset, skew);
  // Only once per call: a second signature_expired is an error.
  const twice = scriptedFetch([expired, expired]);
  await assert.rejects(c.call({ method: "GET", path: "/api/x" }, { fetch: twice.fetch, clock: clock() }), { code: "client_error", status: 401, reason: "signature_expired" });
});

test("reconnect required: token dropped, state persisted, typed error with reason", async () => {
  const c = await connected();
  const { fetch } = scriptedFetch([response(401, '{"error":"stora_reconnect_required"}')]);
  const persisted = [];
  await assert.rejects(c.call({ method: "GET", path: "/api/x" }, { fetch, onPersist: async (s) => void persisted.push(s) }), (e) => {
    assert.ok(e instanceof TesseraError);
    assert.equal(e.code, "reconnect_required");
    assert.equal(e.kind, "reconnect_required");
    assert.equal(e.reason, "stora_reconnect_required");
    return true;
  });
  assert.equal(c.status, "reconnect_required");
  assert.equal(c.reconnectReason, "stora_reconnect_required");
  assert.equal(persisted.length, 1);
  assert.equal(persisted[0], c.exportState());
  await assert.rejects(c.call({ method: "GET", path: "/api/x" }, { fetch }), { code: "reconnect_required", reason: "stora_reconnect_required" });
  // Reconnect: connect again, allowed from this state.
  const state = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  await completeWith(c, `state=${state}&code=${CODE}`, "btk_2", { clock: clock() });
  assert.equal(c.status, "connected");
  assert.equal(c.reconnectReason, null);
});

test("completeConnect runs on the driver: persist first, the exchange retried with one Idempotency-Key, the clock for the callback's age", async () => {
  const c = registered();
  const state = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  const order = [];
  const { fetch, sent } = scriptedFetch([
    () => (order.push("send"), response(503)),
    new Error("offline"),
    () => (order.push("send"), connectAnswer("btk_retry")),
  ]);
  const { sleep, slept } = recordingSleep();
  const result = await c.completeConnect(`${RETURN}?state=${state}&code=${CODE}`, {
    fetch,
    sleep,
    clock: clock(NOW + 60),
    onPersist: (json) => void order.push(`persist:${JSON.parse(json).broker_token ?? "none"}`),
  });
  assert.deepEqual(result, { account: ACCOUNT });
  assert.deepEqual(order, ["persist:none", "send", "send", "persist:btk_retry"]);
  assert.equal(sent.length, 3);
  assert.equal(slept.length, 2);
  const keys = new Set(sent.map((r) => hdr(r, "idempotency-key")));
  assert.equal(keys.size, 1, "one Idempotency-Key across the retries");
  assert.equal(new Set(sent.map(nonce)).size, 3, "a fresh nonce per attempt");
  for (const r of sent) {
    assert.equal(r.url, `${BROKER}/connect/complete`);
    assert.equal(hdr(r, "authorization"), undefined);
    assert.equal(created(r), NOW + 60);
  }
  assert.equal(c.status, "connected");

  // The start reads the same clock: a callback 601 s after the link is expired; nothing is sent.
  const late = registered();
  const s2 = stateOf(late.connectUrl({ returnUrl: RETURN, now: NOW }));
  const never = scriptedFetch([]);
  await assert.rejects(late.completeConnect(`state=${s2}&code=${CODE}`, { fetch: never.fetch, clock: clock(NOW + 601) }), { code: "callback_expired" });
  assert.equal(never.sent.length, 0);
  // options.now overrides the clock for the callback's checks only.
  const early = registered();
  const s3 = stateOf(early.connectUrl({ returnUrl: RETURN, now: NOW }));
  await completeWith(early, `state=${s3}&code=${CODE}`, "btk_now", { now: NOW + 1, clock: clock(NOW + 601) });
  assert.equal(early.status, "connected");

  // No pending connect: invalid_state; bad arguments reject before the clock is read.
  const fresh = Companion.create({ brokerUrl: BROKER });
  await assert.rejects(fresh.completeConnect(`state=${s3}&code=${CODE}`, { fetch: never.fetch }), { code: "invalid_state" });
  const noClock = { fetch: never.fetch, clock: () => assert.fail("no clock") };
  await assert.rejects(early.completeConnect(42, noClock), { code: "invalid_input" });
  await assert.rejects(early.completeConnect("state=abc", { now: "soon" }), { code: "invalid_input" });
});

test("registration invalid (kill switch / unknown installation)", async () => {
  const c = await connected();
  const { fetch } = scriptedFetch([response(401, '{"error":"unknown_installation"}')]);
  await assert.rejects(c.call({ method: "GET", path: "/api/x" }, { fetch }), { code: "registration_invalid", kind: "registration_invalid", reason: "unknown_installation" });
  assert.equal(c.status, "registration_invalid");
});

test("onPersist is awaited before the driver goes on; its failure rejects the call", async () => {
  const c = await connected();
  const order = [];
  const { fetch } = scriptedFetch([response(401, '{"error":"broker_token_invalid"}')]);
  await assert.rejects(
    c.call({ method: "GET", path: "/api/x" }, {
      fetch,
      onPersist: async () => {
        await new Promise((r) => setTimeout(r, 5));
        order.push("persisted");
      },
    }),
    { code: "reconnect_required" },
  );
  assert.deepEqual(order, ["persisted"]);
  const d = await connected();
  const boom = new Error("storage full");
  const f2 = scriptedFetch([response(204)]);
  await assert.rejects(d.disconnect({ fetch: f2.fetch, onPersist: () => { throw boom; } }), (e) => e === boom);
});

test("the default fetch is globalThis.fetch; plain response objects are accepted", async () => {
  const c = await connected();
  const saved = globalThis.fetch;
  const calls = [];
  globalThis.fetch = async (url, init) => {
    calls.push(url);
    return { status: 200, headers: { "x-plain": "yes" }, body: "plain" };
  };
  try {
    const res = await c.call({ method: "GET", path: "/api/plain" });
    assert.deepEqual(calls, [`${BROKER}/api/plain`]);
    assert.deepEqual(res.headers, [["x-plain", "yes"]]);
    assert.equal(text(res.body), "plain");
  } finally {
    globalThis.fetch = saved;
  }
});

test("an abort signal stops the driver", async () => {
  const c = await connected();
  const ac = new AbortController();
  const { fetch } = scriptedFetch([
    () => {
      ac.abort();
      return response(503);
    },
  ]);
  await assert.rejects(c.call({ method: "GET", path: "/api/x" }, { fetch, sleep: async () => {}, signal: ac.signal }), { name: "AbortError" });
});

test("calls against a real loopback HTTP server with the global fetch", async () => {
  const { createServer } = await import("node:http");
  const c = await connected();
  const secret = JSON.parse(c.exportState()).installation.secret;
  let hits = 0;
  const replayStore = new MemoryReplayStore();
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const ch of req) chunks.push(ch);
    hits += 1;
    if (hits === 1) {
      res.writeHead(503).end();
      return;
    }
    const headers = Object.entries(req.headers).map(([k, v]) => [k, String(v)]);
    try {
      const v = await verifyRequest({ method: req.method, url: `http://127.0.0.1:${server.address().port}${req.url}`, headers, body: Buffer.concat(chunks) }, { secretFor: () => secret, replayStore });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: v.installId }));
    } catch (e) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: e.code }));
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const port = server.address().port;
    const local = Companion.importState(c.exportState().replace(BROKER, `http://127.0.0.1:${port}`));
    const res = await local.call({ method: "POST", path: "/api/echo", headers: { "content-type": "application/json" }, body: '{"a":1}' }, { sleep: async () => {} });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(text(res.body)), { ok: c.installId });
    assert.equal(hits, 2);
  } finally {
    server.close();
  }
});

// ---- register(), redirects, proofs -------------------------------------------------------

const REG = { siteUrl: "https://shop.example", adminEmail: "a@shop.example", platform: "wordpress", pluginVersion: "1" };
const challenge = (c = "challenge-0123456789abcdef") => response(202, JSON.stringify({ challenge: c }), { "content-type": "application/json" });

test("register(): the new secret is persisted before the first send; 201 → registered", async () => {
  const c = Companion.create({ brokerUrl: BROKER });
  const order = [];
  const persisted = [];
  const { fetch, sent } = scriptedFetch([
    (url, init) => {
      order.push(`send ${init.method} ${url}`);
      return response(201, "{}");
    },
  ]);
  const out = await c.register(REG, {
    fetch,
    clock: clock(),
    onPersist: async (s) => {
      order.push(`persist ${JSON.parse(s).status}`);
      persisted.push(s);
    },
  });
  assert.deepEqual(out, { outcome: "registered" });
  assert.deepEqual(order, ["persist registration_pending", `send POST ${BROKER}/installations`, "persist registered"]);
  const body = JSON.parse(sent[0].body);
  assert.equal(JSON.parse(persisted[0]).installation.secret, body.secret, "the secret sent is the one stored first");
  assert.equal(sent[0].redirect, "manual");
  assert.equal(sent[0].credentials, "omit");
  assert.equal(c.status, "registered");
  assert.equal(persisted.at(-1), c.exportState());
  // Registered: a second register() is refused before anything happens.
  await assert.rejects(c.register(REG, { fetch: async () => assert.fail("no send") }), { code: "invalid_state" });
});

test("register(): a lost answer is retried with the same installation; a spent budget keeps the rejection as cause", async () => {
  const c = Companion.create({ brokerUrl: BROKER, retry: { maxAttempts: 2 } });
  const offline = new TypeError("fetch failed");
  const { fetch, sent } = scriptedFetch([offline, offline]);
  const { sleep, slept } = recordingSleep();
  await assert.rejects(c.register(REG, { fetch, sleep, clock: clock() }), (e) => {
    assert.ok(e instanceof TesseraError);
    assert.equal(e.code, "server_unavailable");
    assert.equal(e.status, undefined);
    assert.equal(e.cause, offline);
    assert.equal(JSON.stringify(e).includes("fetch failed"), false, "toJSON() leaves the cause out");
    return true;
  });
  assert.equal(sent.length, 2);
  assert.equal(slept.length, 1);
  assert.equal(JSON.parse(sent[0].body).install_id, JSON.parse(sent[1].body).install_id);
  assert.equal(c.status, "registration_pending");
  // Later: the same installation again (idempotent by install id).
  const again = scriptedFetch([response(201)]);
  assert.deepEqual(await c.register(REG, { fetch: again.fetch }), { outcome: "registered" });
  assert.equal(JSON.parse(again.sent[0].body).install_id, JSON.parse(sent[0].body).install_id);
  // A 5xx ends without a cause.
  const d = Companion.create({ brokerUrl: BROKER, retry: { maxAttempts: 1 } });
  await assert.rejects(d.register(REG, { fetch: scriptedFetch([response(503)]).fetch }), (e) => e.code === "server_unavailable" && e.status === 503 && e.cause === undefined);
});

test("register(): a 202 challenge is served through serveProof, then the registration is sent again", async () => {
  const c = Companion.create({ brokerUrl: BROKER });
  const proofs = [];
  const { fetch, sent } = scriptedFetch([challenge(), response(201)]);
  const persisted = [];
  const out = await c.register(REG, {
    fetch,
    onPersist: (s) => void persisted.push(JSON.parse(s).status),
    // Resolving without `false` means served.
    serveProof: async (proof) => void proofs.push(proof),
  });
  assert.deepEqual(out, { outcome: "registered" });
  assert.equal(sent.length, 2);
  assert.equal(sent[1].body, sent[0].body, "the same registration, sent again");
  assert.equal(proofs.length, 1);
  assert.deepEqual(Object.keys(proofs[0]), ["url", "path", "body"]);
  assert.equal(proofs[0].url, `https://shop.example/.well-known/tessera/${c.installId}`);
  assert.deepEqual(persisted, ["registration_pending", "awaiting_ownership", "registered"], "the challenge is stored before the proof is served");
  const secret = JSON.parse(c.exportState()).installation.secret;
  verifyOwnershipProof({ secret, installId: c.installId, challenge: "challenge-0123456789abcdef", proof: proofs[0].body });
});

test("register(): serveProof returning false, or absent, defers → ownership_challenge; a later register() serves it again, then resumes", async () => {
  for (const serveProof of [() => false, async () => false, undefined]) {
    const c = Companion.create({ brokerUrl: BROKER });
    const { fetch, sent } = scriptedFetch([challenge()]);
    const out = await c.register(REG, { fetch, serveProof });
    assert.equal(out.outcome, "ownership_challenge");
    assert.equal(out.proof.url, `https://shop.example/.well-known/tessera/${c.installId}`);
    assert.deepEqual(c.ownershipProof(), out.proof);
    assert.equal(sent.length, 1);
    assert.equal(c.status, "awaiting_ownership");
    const id = c.installId;
    // Still deferring: the proof is asked for again and nothing is sent.
    const still = scriptedFetch([]);
    assert.equal((await c.register(REG, { fetch: still.fetch })).outcome, "ownership_challenge");
    assert.equal(still.sent.length, 0);
    const later = scriptedFetch([response(201)]);
    const served = [];
    const done = await c.register(REG, { fetch: later.fetch, serveProof: (p) => void served.push(p) });
    assert.deepEqual(done, { outcome: "registered" });
    assert.deepEqual(served, [out.proof], "the same proof is served before the resumed POST");
    assert.equal(JSON.parse(later.sent[0].body).install_id, id);
  }
});

test("redirects are never followed: a visible 3xx and an opaque redirect end with redirected, unretried", async () => {
  const opaque = () => ({ type: "opaqueredirect", status: 0, headers: new Headers(), arrayBuffer: async () => new ArrayBuffer(0) });
  for (const [answer, status] of [
    [() => response(302, "", { location: "https://elsewhere.example/" }), 302],
    [() => response(307), 307],
    [opaque, undefined],
  ]) {
    const c = await connected();
    const { fetch, sent } = scriptedFetch([answer, response(200)]);
    await assert.rejects(c.call({ method: "GET", path: "/api/x" }, { fetch, sleep: async () => assert.fail("no retry") }), (e) => {
      assert.ok(e instanceof TesseraError);
      assert.equal(e.code, "redirected");
      assert.equal(e.kind, "client_error");
      assert.equal(e.status, status);
      return true;
    });
    assert.equal(sent.length, 1);
    assert.equal(sent[0].redirect, "manual");
    const r = Companion.create({ brokerUrl: BROKER });
    const reg = scriptedFetch([answer]);
    await assert.rejects(r.register(REG, { fetch: reg.fetch }), { code: "redirected" });
    assert.equal(reg.sent.length, 1);
  }
});

test("siteMoved(): a 202 from the broker runs the proof round through serveProof", async () => {
  const c = await connected();
  c.checkSite("https://moved.example");
  const proofs = [];
  const { fetch, sent } = scriptedFetch([challenge(), response(201)]);
  assert.equal(await c.siteMoved({ fetch, serveProof: (p) => void proofs.push(p) }), undefined);
  assert.deepEqual(sent.map((r) => r.method), ["PATCH", "POST"]);
  assert.equal(proofs[0].url, `https://moved.example/.well-known/tessera/${c.installId}`);
  assert.equal(c.siteUrl, "https://moved.example");
  assert.equal(c.status, "connected");
});

test("one operation at a time per companion: a second one is refused while the first runs", async () => {
  const c = await connected();
  let release;
  const gate = new Promise((r) => (release = r));
  const first = c.call({ method: "GET", path: "/api/x" }, { fetch: async () => (await gate, response(200)) });
  await assert.rejects(c.disconnect({ fetch: async () => assert.fail("no send") }), { code: "invalid_state" });
  release();
  assert.equal((await first).status, 200);
  assert.deepEqual(await c.disconnect({ fetch: async () => response(204) }), { remote: { result: "ok", error: null } });
});

test("register(): bad input and wrong state are refused before any action", async () => {
  const never = { fetch: async () => assert.fail("no send"), onPersist: () => assert.fail("no persist"), clock: () => assert.fail("no clock") };
  const c = Companion.create({ brokerUrl: BROKER });
  await assert.rejects(c.register({ ...REG, adminEmail: "not an email" }, never), { code: "invalid_input" });
  await assert.rejects(c.register({ ...REG, platform: undefined }, never), { code: "invalid_input" });
  await assert.rejects((await connected()).register(REG, never), { code: "invalid_state" });
  assert.equal(c.status, "not_registered");
});

test("cause on every driver path: call, connect completion, disconnect and uninstall steps keep their own last rejection", async () => {
  const offline = (what) => Object.assign(new TypeError(`fetch failed: ${what}`), { cause: { code: "ECONNREFUSED" } });
  const isUnavailableWith = (cause) => (e) => e.code === "server_unavailable" && e.status === undefined && e.cause === cause;
  // call()
  let c = await connected({ maxAttempts: 2 });
  const a = offline("call");
  await assert.rejects(c.call({ method: "GET", path: "/api/units" }, { fetch: scriptedFetch([offline("first"), a]).fetch, sleep: recordingSleep().sleep, clock: clock() }), isUnavailableWith(a));
  // completeConnect()
  c = registered({ maxAttempts: 1 });
  const state = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  const b = offline("connect");
  await assert.rejects(
    c.completeConnect(`${RETURN}?state=${state}&code=${CODE}`, { fetch: scriptedFetch([b]).fetch, clock: clock() }),
    isUnavailableWith(b),
  );
  // disconnect(): a failed remote step is reported, not thrown; its error keeps the cause.
  c = await connected({ maxAttempts: 1 });
  const d = offline("disconnect");
  const out = await c.disconnect({ fetch: scriptedFetch([d]).fetch, clock: clock() });
  assert.equal(out.remote.result, "failed");
  assert.ok(isUnavailableWith(d)(out.remote.error));
  assert.equal(JSON.stringify(out).includes("fetch failed"), false);
  // uninstall(): each step its own — a rejected disconnect, then a deregister ending on a 503 (no cause).
  c = await connected({ maxAttempts: 2 });
  const u = offline("uninstall disconnect");
  const report = await c.uninstall({ fetch: scriptedFetch([offline("x"), u, offline("y"), response(503)]).fetch, sleep: recordingSleep().sleep, clock: clock() });
  assert.equal(report.disconnect.result, "failed");
  assert.ok(isUnavailableWith(u)(report.disconnect.error));
  assert.equal(report.deregister.result, "failed");
  assert.equal(report.deregister.error.status, 503);
  assert.equal(report.deregister.error.cause, undefined);
});

test("client_error keeps the broker's explanation: description and parsed details, in toJSON()", async () => {
  const c = await connected();
  const body = JSON.stringify({ error: { code: "invalid_content", message: "The email\u0007 is invalid.", details: [{ field: "email" }], request_id: "req_1" } });
  await assert.rejects(c.call({ method: "POST", path: "/api/contacts", body: "{}" }, { fetch: scriptedFetch([response(422, body, { "tessera-origin": "stora" })]).fetch, clock: clock() }), (e) => {
    assert.equal(e.code, "client_error");
    assert.equal(e.description, "The email is invalid.");
    assert.deepEqual(e.details, [{ field: "email" }]);
    assert.ok(e.message.endsWith("request req_1): The email is invalid."), e.message);
    const json = JSON.parse(JSON.stringify(e));
    assert.equal(json.description, "The email is invalid.");
    assert.deepEqual(json.details, [{ field: "email" }]);
    return true;
  });
  // A cut details text (over 2048 bytes) is no object: undefined. Not JSON: nothing kept.
  const big = JSON.stringify({ error: { code: "c", message: "m", details: ["a".repeat(3000)] } });
  await assert.rejects(c.call({ method: "GET", path: "/x" }, { fetch: scriptedFetch([response(422, big)]).fetch, clock: clock() }), (e) => e.description === "m" && e.details === undefined && !("details" in e.toJSON()));
  await assert.rejects(c.call({ method: "GET", path: "/x" }, { fetch: scriptedFetch([response(400, "echo btk_secret")]).fetch, clock: clock() }), (e) => e.description === undefined && !e.message.includes("btk_secret"));
});

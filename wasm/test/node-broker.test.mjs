// A Node broker over real HTTP (issue 16): a node:http server on 127.0.0.1
// verifies signed requests and connect URLs with the packed package and
// answers every failure with exactly the error's wire answer (wireStatus,
// wireHeaders, wireBody): the statuses come from the core, never from the
// broker. Checked against the wire answers of the shared vectors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Companion, MemoryReplayStore, TesseraError, verifyConnectUrl, verifyRequest } from "tessera-companion";
import { vectors } from "./helpers.mjs";

const REG = { siteUrl: "https://shop.example", adminEmail: "owner@shop.example", platform: "chrome-extension", pluginVersion: "1.0.0" };
const RETURN = "chrome-extension://abcdefghijklmnop/options.html";

/** The wire answer of each code in the shared vectors (verify.json), without `date` (it depends on the clock). */
function vectorAnswers() {
  const out = {};
  for (const f of ["verify.json", "verify_links.json"]) {
    for (const v of vectors(f)) {
      for (const e of [v.expected].flat()) {
        if (!e.answer) continue;
        const { date, ...headers } = e.answer.headers;
        out[e.answer.code] = { ...e.answer, headers };
      }
    }
  }
  return out;
}

/** Answers a failed verification: the core's answer when the error carries one, else 500. */
function refuse(res, e) {
  res.sendDate = false; // exactly the core's headers (Date only where it says so)
  if (e instanceof TesseraError && e.wireStatus !== undefined) {
    res.writeHead(e.wireStatus, e.wireHeaders).end(e.wireBody);
  } else {
    res.writeHead(500, { "content-type": "application/json" }).end('{"error":"internal"}');
  }
}

/**
 * The broker: `/api/*` verifies with a MemoryReplayStore(1) (one live nonce
 * per installation), `/shared/*` with an async host store of capacity 1 per
 * installation answering "fresh" / "seen" / "full", `/connect?…` verifies a
 * connect URL. Secrets come from an async lookup; the clock is `clock.now`.
 */
async function startBroker(secrets, clock) {
  const memory = new MemoryReplayStore(1);
  const live = new Map(); // installation → Set of keys
  const shared = {
    async checkAndInsert(key, expiresAt, now) {
      await new Promise((r) => setTimeout(r, 1));
      assert.ok(expiresAt >= now);
      const id = key.slice(0, key.indexOf(":"));
      const keys = live.get(id) ?? new Set();
      live.set(id, keys);
      if (keys.has(key)) return "seen";
      if (keys.size >= 1) return "full";
      keys.add(key);
      return "fresh";
    },
  };
  const secretFor = async (id) => {
    await new Promise((r) => setTimeout(r, 1));
    return secrets.get(id) ?? null;
  };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const ch of req) chunks.push(ch);
    const url = `http://127.0.0.1:${server.address().port}${req.url}`;
    try {
      if (req.url.startsWith("/connect?")) {
        const params = await verifyConnectUrl(url, { secretFor, now: clock.now });
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ installId: params.installId }));
        return;
      }
      const headers = Object.entries(req.headers).map(([k, v]) => [k, String(v)]);
      const replayStore = req.url.startsWith("/shared/") ? shared : memory;
      const v = await verifyRequest({ method: req.method, url, headers, body: Buffer.concat(chunks) }, { secretFor, now: clock.now, replayStore });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ installId: v.installId, nonce: v.nonce }));
    } catch (e) {
      refuse(res, e);
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return server;
}

/** A registered companion of the broker at `base`. */
function companionOf(base, secrets) {
  const c = Companion.create({ brokerUrl: base });
  c.registrationRequest(REG);
  c.handleRegistrationResponse({ status: 201, body: "{}" });
  secrets.set(c.installId, JSON.parse(c.exportState()).installation.secret);
  return c;
}

/** Sends a signed request → `{ status, headers (a plain object), body (text) }`. */
async function send(signed) {
  const res = await fetch(signed.url, { method: signed.method, headers: signed.headers, body: signed.method === "GET" ? undefined : signed.body });
  return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
}

/** The response is exactly the core's answer for `code` (the vectors' body, status and headers). */
function assertAnswer(got, code, answers, extra = {}) {
  const want = answers[code];
  assert.ok(want, `the vectors have an answer for ${code}`);
  assert.equal(got.status, want.status, code);
  assert.equal(got.body, want.body, code);
  for (const [k, v] of Object.entries({ ...want.headers, ...extra })) assert.equal(got.headers[k], v, `${code}: ${k}`);
  if (!("date" in extra)) assert.equal(got.headers.date, undefined, `${code}: no Date`);
}

test("a node:http broker answers each refusal with the core's wire answer", async () => {
  const answers = vectorAnswers();
  const secrets = new Map();
  const clock = { now: 1_700_000_000 };
  const server = await startBroker(secrets, clock);
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const a = companionOf(base, secrets);
    const b = companionOf(base, secrets);
    const post = (c, path, opts = {}) => c.signRequest({ method: "POST", path, body: '{"n":1}' }, { now: clock.now, ...opts });

    // Valid, then the same request again: replayed.
    const first = post(a, "/api/orders");
    const ok = await send(first);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).installId, a.installId);
    assertAnswer(await send(first), "replayed", answers);

    // Expired: 401 with the broker's Date (IMF-fixdate of its clock).
    assertAnswer(await send(post(a, "/api/orders", { now: clock.now - 1000 })), "signature_expired", answers, {
      date: new Date(clock.now * 1000).toUTCString(),
    });

    // Tampered body and tampered signature.
    const tampered = post(b, "/api/orders");
    assertAnswer(await send({ ...tampered, body: new TextEncoder().encode('{"n":2}') }), "digest_mismatch", answers);
    const badSig = tampered.headers.map(([k, v]) => [k, k === "signature" ? v.replace(/:(.)/, (m, ch) => `:${ch === "A" ? "B" : "A"}`) : v]);
    assertAnswer(await send({ ...tampered, headers: badSig }), "signature_invalid", answers);

    // Unknown installation.
    const stranger = companionOf(base, new Map());
    assertAnswer(await send(post(stranger, "/api/orders")), "unknown_installation", answers);

    // MemoryReplayStore(1): a's one live nonce fills its share → 503; b is unaffected.
    assertAnswer(await send(post(a, "/api/orders")), "replay_store_full", answers);
    assert.equal((await send(post(b, "/api/orders"))).status, 200);

    // The async host store: fresh, seen, full.
    const s1 = post(a, "/shared/orders");
    assert.equal((await send(s1)).status, 200);
    assertAnswer(await send(s1), "replayed", answers);
    assertAnswer(await send(post(a, "/shared/orders")), "replay_store_full", answers);

    // A connect URL: verified, and refused when tampered or expired.
    const link = a.connectUrl({ returnUrl: RETURN, now: clock.now }).replace("https://broker.example", base);
    const path = new URL(link).pathname + new URL(link).search;
    const connect = async (p) => {
      const res = await fetch(`${base}${p}`);
      return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
    };
    const query = path.slice(path.indexOf("?"));
    assert.equal((await connect(`/connect${query}`)).status, 200);
    assertAnswer(await connect(`/connect${query.replace("return_url=", "return_url=x")}`), "signature_invalid", answers);
    clock.now += 10_000;
    assertAnswer(await connect(`/connect${query}`), "signature_expired", answers, { date: new Date(clock.now * 1000).toUTCString() });
  } finally {
    await new Promise((r) => server.close(r));
  }
});

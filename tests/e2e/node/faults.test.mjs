// Faults under the npm package's own driver (`register()`, `call()`, `disconnect()`): the
// host's fetch rejects (before or after the broker acted), times out through
// an AbortSignal against a server that never answers, delivers a body cut
// short, a 503 with a huge Retry-After, or a 200 that is not JSON. The
// driver reports a typed error, retries only what the core says (sends are
// counted), never stretches the backoff for a 5xx Retry-After, keeps the
// Idempotency-Key across attempts, and the state it asks to persist is
// always the companion's (checked after every fault), so nothing is lost.
// The reference broker and fake Stora run behind it (tessera-e2e-env).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { TesseraError } from "tessera-companion";
import { startEnv } from "./env.mjs";

const TIMEOUT_MS = Number(process.env.TESSERA_FAULT_TIMEOUT_MS ?? 250);
const DEFAULT_ATTEMPTS = 3; // the core's default retry policy
const DEFAULT_MAX_DELAY_MS = 4000;

let env;
let hang; // a server that accepts and never answers
let hangUrl;
const sockets = new Set();
before(async () => {
  env = await startEnv();
  // Faults, not Stora's rate limit, are under test here (this file's own
  // fake Stora; examples/broker/tests/faults.rs does the same): a connect
  // now also reads the account, which would push a fault's calls over 10/s.
  await env.storaControl("config", { rate_per_sec: 0, rate_per_min: 0 });
  hang = http.createServer(() => {});
  hang.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve) => hang.listen(0, "127.0.0.1", resolve));
  hangUrl = `http://127.0.0.1:${hang.address().port}/`;
});
after(() => {
  for (const s of sockets) s.destroy();
  hang?.close();
  env?.stop();
});

/** A body stream that delivers `bytes` then fails, like a connection cut mid-body. */
function cutStream(bytes) {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.error(new TypeError("terminated: other side closed"));
    },
  });
}

const FAULTS = {
  // fetch rejects before anything reached the broker
  reject: async () => {
    throw new TypeError("fetch failed");
  },
  // the broker acted, the answer was lost
  "reject-after-forward": async (url, init) => {
    await (await fetch(url, init)).arrayBuffer();
    throw new TypeError("fetch failed: socket hang up");
  },
  // the host's per-attempt timeout fires
  timeout: (url, init) => fetch(hangUrl, { method: "GET", signal: AbortSignal.timeout(TIMEOUT_MS) }),
  // headers arrive, the body is cut
  truncated: async (url, init) => {
    const r = await fetch(url, init);
    const body = new Uint8Array(await r.arrayBuffer());
    return new Response(cutStream(body.slice(0, Math.max(1, body.length >> 1))), { status: r.status === 204 ? 200 : r.status });
  },
  // a gateway asks for an hour
  "503+retry-after": async () => new Response("busy", { status: 503, headers: { "retry-after": "3600" } }),
  "502-html": async () => new Response("<html><body><h1>502 Bad Gateway</h1></body></html>", { status: 502, headers: { "content-type": "text/html" } }),
};

/**
 * Driver options whose fetch applies `fault` to the first `times` sends
 * (Infinity: all), recording sends, sleeps (not slept) and persists.
 */
function faulty(fault, times = Infinity) {
  const rec = { sends: [], sleeps: [], persisted: [] };
  rec.options = {
    fetch: async (url, init) => {
      rec.sends.push({ url, headers: new Map(init.headers.map(([k, v]) => [k.toLowerCase(), v])) });
      if (rec.sends.length <= times) return fault(url, init);
      return fetch(url, init);
    },
    sleep: (ms) => {
      rec.sleeps.push(ms);
    },
    onPersist: (json) => {
      rec.persisted.push(json);
    },
  };
  return rec;
}

/** After a fault: what was last persisted (or, if nothing, what was stored before) is the companion's state. */
function checkState(c, stored, rec, label) {
  const now = c.exportState();
  JSON.parse(now);
  const last = rec.persisted.at(-1) ?? stored;
  assert.equal(last, now, `${label}: the stored state is not the companion's (a change was not persisted)`);
  return now;
}

async function rejectsTyped(promise, code, label) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof TesseraError, `${label}: expected a TesseraError, got ${e}`);
    assert.equal(e.code, code, `${label}: ${e.code} ${e.message}`);
    return true;
  });
}

test("GET and keyed POST under every fault: typed error, bounded retries, state intact, recovery", async () => {
  for (const [name, fault] of Object.entries(FAULTS)) {
    // One operator per fault (and the fake's rate limit off, above): no 429s.
    const c = await env.connected(`opr_node_faults_${name.replace(/[^a-z0-9]/g, "_")}`, "public.order:read public.contact:write");
    let stored = c.exportState();
    for (const [method, path, body] of [
      ["GET", "/api/orders"],
      ["POST", "/api/contacts", new TextEncoder().encode('{"name":"Ada"}')],
    ]) {
      const req = { method, path, body, headers: body ? [["content-type", "application/json"]] : [] };
      const label = `${method} ${name}`;
      // Always failing: the policy's attempts, then server_unavailable.
      let rec = faulty(fault);
      await rejectsTyped(c.call(req, rec.options), "server_unavailable", label);
      assert.equal(rec.sends.length, DEFAULT_ATTEMPTS, `${label}: sends`);
      assert.equal(rec.sleeps.length, DEFAULT_ATTEMPTS - 1, `${label}: sleeps`);
      assert.ok(rec.sleeps.every((ms) => ms <= DEFAULT_MAX_DELAY_MS), `${label}: sleeps ${rec.sleeps} (a 5xx Retry-After must not stretch them)`);
      const keys = rec.sends.map((s) => s.headers.get("idempotency-key"));
      if (method === "POST") assert.ok(keys[0] && keys.every((k) => k === keys[0]), `${label}: keys ${keys}`);
      stored = checkState(c, stored, rec, label);
      assert.equal(c.status, "connected");
      // Once: retried, and it works.
      rec = faulty(fault, 1);
      const res = await c.call(req, rec.options);
      assert.equal(res.status, method === "GET" ? 200 : 201, `${label} once`);
      assert.equal(rec.sends.length, 2, `${label} once: sends`);
      stored = checkState(c, stored, rec, `${label} once`);
    }
  }
  // The lost POST answers reached Stora with one key per logical call.
  const posts = await env.storaRequests("/2025-09/contacts");
  const perKey = new Map();
  for (const p of posts) perKey.set(p.idempotency_key, (perKey.get(p.idempotency_key) ?? 0) + 1);
  assert.ok(posts.length > 0 && [...perKey.keys()].every(Boolean), "every POST reached Stora with a key");
});

// The faults after which the broker holds the registration POST and issued a challenge the plugin never saw.
const BROKER_ACTED = new Set(["reject-after-forward", "truncated"]);

test("registration under every fault: the secret is stored first, bounded retries, then registered", async () => {
  for (const [name, fault] of Object.entries(FAULTS)) {
    const label = `register ${name}`;
    const c = env.companion();
    // Always failing: the policy's attempts, then server_unavailable.
    let rec = faulty(fault);
    await rejectsTyped(env.register(c, rec.options), "server_unavailable", label);
    assert.equal(rec.sends.length, DEFAULT_ATTEMPTS, `${label}: sends`);
    assert.ok(rec.sleeps.every((ms) => ms <= DEFAULT_MAX_DELAY_MS), `${label}: sleeps ${rec.sleeps}`);
    assert.equal(c.status, "registration_pending");
    const id = c.installId;
    assert.equal(JSON.parse(rec.persisted[0]).installation.id, id, `${label}: the installation was stored before the first send`);
    let stored = checkState(c, c.exportState(), rec, label);
    rec = faulty(fault, 1);
    // One more fault, then registered in the same operation. When the broker
    // acted on the lost attempts (its 202 never arrived), the repeat with this
    // id fails the proof (403 ownership_proof_invalid) and the machine starts
    // over once with a fresh id: a fault, the 403, a 202, the 201.
    assert.equal((await env.register(c, rec.options)).length, 1, `${label}: one proof served`);
    assert.equal(c.status, "registered", label);
    if (BROKER_ACTED.has(name)) assert.notEqual(c.installId, id, `${label}: a fresh installation`);
    else assert.equal(c.installId, id, `${label}: the same installation`);
    assert.equal(rec.sends.length, BROKER_ACTED.has(name) ? 4 : 3, `${label}: sends`);
    checkState(c, stored, rec, `${label} once`);
    assert.equal(JSON.parse((await env.admin("GET", `/admin/installations/${c.installId}`)).body).status, "active", label);
  }
});

test("a method neither idempotent nor keyed is sent once, whatever the fault", async () => {
  const c = await env.connected("opr_node_link");
  for (const [name, fault] of Object.entries(FAULTS)) {
    const stored = c.exportState();
    const rec = faulty(fault);
    await rejectsTyped(c.call({ method: "LINK", path: "/api/orders" }, rec.options), "server_unavailable", `LINK ${name}`);
    assert.equal(rec.sends.length, 1, `LINK ${name}: sends`);
    assert.equal(rec.sends[0].headers.get("idempotency-key"), undefined, `LINK ${name}: no key`);
    checkState(c, stored, rec, `LINK ${name}`);
  }
});

test("a 200 that is not JSON is the caller's answer, never retried", async () => {
  const c = await env.connected("opr_node_notjson");
  const rec = faulty(async () => new Response("OK, but not JSON", { status: 200 }));
  const res = await c.call({ method: "GET", path: "/api/orders" }, rec.options);
  assert.equal(res.status, 200);
  assert.equal(new TextDecoder().decode(res.body), "OK, but not JSON");
  assert.equal(rec.sends.length, 1);
  assert.throws(() => JSON.parse(new TextDecoder().decode(res.body)), SyntaxError);
});

test("disconnect under faults: the token goes locally, the registration stays, and connecting again works", async () => {
  const c = await env.connected("opr_node_disc");
  const id = c.installId;
  for (const [name, fault] of Object.entries(FAULTS)) {
    const stored = c.exportState();
    const rec = faulty(fault);
    const result = await c.disconnect(rec.options);
    assert.equal(result.remote.result, "failed", `${name}: ${JSON.stringify(result)}`);
    assert.ok(result.remote.error instanceof TesseraError, name);
    assert.equal(result.remote.error.code, "server_unavailable", name);
    assert.equal(rec.sends.length, DEFAULT_ATTEMPTS, `${name}: sends`);
    checkState(c, stored, rec, `disconnect ${name}`);
    assert.equal(c.status, "registered");
    assert.equal(c.installId, id);
    await env.connect(c, "opr_node_disc");
    assert.equal(c.status, "connected");
  }
});

test("the caller's AbortSignal stops the driver, but never skips a persist the core asked for", async () => {
  const c = await env.connected("opr_node_abort");
  const stored = c.exportState();
  // The grant goes; the broker answers reconnect_required; the caller aborts
  // as that answer arrives. The core dropped the token: that must be persisted.
  await env.storaControl("revoke_grant", { operator: "opr_node_abort" });
  const controller = new AbortController();
  const rec = faulty(async (url, init) => {
    const r = await fetch(url, { ...init, signal: undefined });
    controller.abort(new Error("the page was closed"));
    return r;
  }, 1);
  rec.options.signal = controller.signal;
  await assert.rejects(c.call({ method: "GET", path: "/api/orders" }, rec.options));
  assert.equal(c.status, "reconnect_required");
  checkState(c, stored, rec, "abort after a state-changing answer");
});

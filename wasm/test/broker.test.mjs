// Broker side as the core's sans-IO sequence (issue 16): an async secretFor is
// asked once and the MAC computed once (counted by the core's test hook
// macChecks), the replay store is asked after the MAC with (key, expiresAt,
// now) and answers "fresh" / "seen" / "full", there is no implicit store, and
// every refusal carries the core's wire answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Companion,
  MemoryReplayStore,
  TesseraError,
  macChecks,
  verifyConnectUrl,
  verifyRequest,
  verifyUninstallTicket,
} from "tessera-companion";
import { NOW, SEED } from "./helpers.mjs";

const BROKER = "https://broker.example";
const REG = { siteUrl: "https://shop.example", adminEmail: "owner@shop.example", platform: "chrome-extension", pluginVersion: "1.0.0" };
const RETURN = "chrome-extension://abcdefghijklmnop/options.html";

function registered() {
  const c = Companion.create({ brokerUrl: BROKER });
  c.useSeededEntropy(SEED);
  c.registrationRequest(REG);
  c.handleRegistrationResponse({ status: 201, body: "{}" });
  return c;
}
const secretOf = (c) => JSON.parse(c.exportState()).installation.secret;
let nonces = 0;
const sign = (c, now = NOW) => c.signRequest({ method: "POST", path: "/api/x", body: "{}" }, { now, nonce: `bm9uY2UtbnVtYmVy${nonces++}` });

/** A secretFor that answers after a timer tick and counts its calls. */
function slowLookup(secret) {
  const calls = [];
  const secretFor = (id) => {
    calls.push(id);
    return new Promise((resolve) => setTimeout(() => resolve(secret), 5));
  };
  return { secretFor, calls };
}

/** Runs `fn` → `{ value | error, macs }`: how many MACs the core computed meanwhile. */
async function counting(fn) {
  const before = macChecks();
  let out;
  try {
    out = { value: await fn() };
  } catch (error) {
    out = { error };
  }
  return { ...out, macs: macChecks() - before };
}

test("an async secretFor is asked once and the MAC computed once: requests, connect URLs, uninstall tickets", async () => {
  const c = registered();
  const signed = sign(c);
  const { secretFor, calls } = slowLookup(secretOf(c));
  const r = await counting(() => verifyRequest(signed, { secretFor, now: NOW, replayStore: new MemoryReplayStore() }));
  assert.equal(r.value.installId, c.installId);
  assert.deepEqual({ calls, macs: r.macs }, { calls: [c.installId], macs: 1 });

  // The same with a host store answering asynchronously.
  const host = slowLookup(secretOf(c));
  const store = { checkAndInsert: (key) => new Promise((resolve) => setTimeout(() => resolve(key ? "fresh" : "seen"), 5)) };
  const h = await counting(() => verifyRequest(sign(c), { secretFor: host.secretFor, now: NOW, replayStore: store }));
  assert.equal(h.value.installId, c.installId);
  assert.deepEqual({ calls: host.calls.length, macs: h.macs }, { calls: 1, macs: 1 });

  const url = c.connectUrl({ returnUrl: RETURN, now: NOW });
  const link = slowLookup(secretOf(c));
  const l = await counting(() => verifyConnectUrl(url, { secretFor: link.secretFor, now: NOW + 1 }));
  assert.equal(l.value.installId, c.installId);
  assert.deepEqual({ calls: link.calls, macs: l.macs }, { calls: [c.installId], macs: 1 });

  const ticket = c.uninstallUrl({ now: NOW });
  const t = slowLookup(secretOf(c));
  const u = await counting(() => verifyUninstallTicket(c.installId, ticket, { secretFor: t.secretFor, now: NOW + 1 }));
  assert.equal(u.value, NOW);
  assert.deepEqual({ calls: t.calls, macs: u.macs }, { calls: [c.installId], macs: 1 });
});

test("a request refused before the secret never asks secretFor nor computes a MAC; an unknown installation computes none", async () => {
  const c = registered();
  const signed = sign(c);
  const { secretFor, calls } = slowLookup(secretOf(c));
  const store = new MemoryReplayStore();
  const expired = await counting(() => verifyRequest(signed, { secretFor, now: NOW + 1000, replayStore: store }));
  assert.equal(expired.error.code, "signature_expired");
  const tampered = await counting(() => verifyRequest({ ...signed, body: "{ }" }, { secretFor, now: NOW, replayStore: store }));
  assert.equal(tampered.error.code, "digest_mismatch");
  assert.deepEqual({ calls, macs: expired.macs + tampered.macs }, { calls: [], macs: 0 });
  const unknown = await counting(() => verifyRequest(signed, { secretFor: async () => null, now: NOW, replayStore: store }));
  assert.deepEqual({ code: unknown.error.code, macs: unknown.macs, size: store.size }, { code: "unknown_installation", macs: 0, size: 0 });
});

test("no implicit replay store: verifyRequest without one is invalid_input before anything else", async () => {
  const c = registered();
  let asked = 0;
  for (const replayStore of [undefined, null]) {
    const e = await verifyRequest(sign(c), { secretFor: () => (asked++, secretOf(c)), now: NOW, replayStore }).catch((x) => x);
    assert.ok(e instanceof TesseraError, String(e));
    assert.equal(e.code, "invalid_input");
    assert.match(e.message, /replayStore/);
    assert.match(e.message, /new MemoryReplayStore\(\)/);
    assert.equal(e.wireStatus, undefined, "an argument error has no wire answer");
    assert.equal(e.wireBody, undefined);
  }
  assert.equal(asked, 0);
  // Even a request that would be refused is refused for the missing store first.
  await assert.rejects(verifyRequest({ method: "GET", url: "https://broker.example/x" }, { secretFor: () => null }), { code: "invalid_input" });
});

test("a host store is asked after the MAC with (installId:nonce, expires, now); its answer decides", async () => {
  const c = registered();
  const secretFor = () => secretOf(c);
  const asked = [];
  const storeAnswering = (answer) => ({ checkAndInsert: (...args) => (asked.push(args), answer) });

  const signed = sign(c);
  const v = await verifyRequest(signed, { secretFor, now: NOW + 2, replayStore: storeAnswering("fresh") });
  assert.deepEqual(asked, [[`${c.installId}:${v.nonce}`, v.expires, NOW + 2]]);
  assert.equal(v.expires, v.created + 300);

  const wrongSig = signed.headers.map(([k, val]) => [k, k === "signature" ? val.replace(/:(.)/, (m, ch) => `:${ch === "A" ? "B" : "A"}`) : val]);
  asked.length = 0;
  await assert.rejects(verifyRequest({ ...signed, headers: wrongSig }, { secretFor, now: NOW, replayStore: storeAnswering("fresh") }), { code: "signature_invalid" });
  assert.deepEqual(asked, [], "a forged request never reaches the store");

  for (const [answer, code, status] of [
    ["seen", "replayed", 401],
    [false, "replayed", 401],
    ["full", "replay_store_full", 503],
    [Promise.resolve("full"), "replay_store_full", 503],
  ]) {
    const e = await verifyRequest(sign(c), { secretFor, now: NOW, replayStore: storeAnswering(answer) }).catch((x) => x);
    assert.ok(e instanceof TesseraError, String(e));
    assert.deepEqual(
      { code: e.code, wireStatus: e.wireStatus, wireCode: e.wireCode, wireHeaders: e.wireHeaders, error: JSON.parse(e.wireBody).error },
      { code, wireStatus: status, wireCode: code, wireHeaders: { "content-type": "application/json", "cache-control": "no-store" }, error: code },
      String(answer),
    );
  }
  for (const answer of [true, Promise.resolve(true), "fresh"]) {
    assert.equal((await verifyRequest(sign(c), { secretFor, now: NOW, replayStore: storeAnswering(answer) })).installId, c.installId);
  }
  for (const answer of ["yes", 1, null, undefined, "FRESH"]) {
    const e = await verifyRequest(sign(c), { secretFor, now: NOW, replayStore: storeAnswering(answer) }).catch((x) => x);
    assert.equal(e.code, "invalid_input", String(answer));
    assert.match(e.message, /replayStore\.checkAndInsert/);
    assert.equal(e.wireStatus, undefined);
  }
});

test("a full MemoryReplayStore is 503 replay_store_full for that installation only; an expired request's answer carries Date", async () => {
  const a = registered();
  const b = Companion.create({ brokerUrl: BROKER });
  b.registrationRequest(REG);
  b.handleRegistrationResponse({ status: 201, body: "{}" });
  const store = new MemoryReplayStore(1);
  const secretFor = (id) => (id === a.installId ? secretOf(a) : secretOf(b));
  await verifyRequest(sign(a), { secretFor, now: NOW, replayStore: store });
  const full = await verifyRequest(sign(a), { secretFor, now: NOW, replayStore: store }).catch((x) => x);
  assert.deepEqual([full.code, full.wireStatus, full.wireCode], ["replay_store_full", 503, "replay_store_full"]);
  assert.equal((await verifyRequest(sign(b), { secretFor, now: NOW, replayStore: store })).installId, b.installId);

  const late = NOW + 301;
  const expired = await verifyRequest(sign(a), { secretFor, now: late, replayStore: store }).catch((x) => x);
  assert.equal(expired.wireStatus, 401);
  assert.deepEqual(Object.keys(expired.wireHeaders), ["content-type", "cache-control", "date"]);
  assert.equal(expired.wireHeaders.date, new Date(late * 1000).toUTCString());
  assert.deepEqual(JSON.parse(expired.wireBody), { error: "signature_expired", error_description: expired.message });
});

test("concurrent verifications share one MemoryReplayStore while their async lookups are pending", async () => {
  const c = registered();
  const store = new MemoryReplayStore();
  const { secretFor, calls } = slowLookup(secretOf(c));
  const requests = Array.from({ length: 8 }, () => sign(c));
  const before = macChecks();
  const results = await Promise.all(requests.map((r) => verifyRequest(r, { secretFor, now: NOW, replayStore: store })));
  assert.equal(new Set(results.map((v) => v.nonce)).size, 8);
  assert.deepEqual({ calls: calls.length, macs: macChecks() - before, size: store.size }, { calls: 8, macs: 8, size: 8 });
  // Replaying them all at once: each is refused, none verifies twice.
  const again = await Promise.allSettled(requests.map((r) => verifyRequest(r, { secretFor, now: NOW, replayStore: store })));
  assert.deepEqual([...new Set(again.map((o) => o.reason?.code))], ["replayed"]);
});

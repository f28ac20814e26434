// API behaviour of the built package: state, registration, connect → callback
// → signed call, classification, site identity, sealed state, broker side.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Companion,
  MemoryReplayStore,
  TesseraError,
  classify,
  contentDigest,
  verifyConnectUrl,
  verifyOwnershipProof,
  verifyRequest,
  verifyUninstallTicket,
} from "tessera-companion";
import { NOW, SEED, response, scriptedFetch, text } from "./helpers.mjs";

const BROKER = "https://broker.example";
const REG = { siteUrl: "https://shop.example", adminEmail: "owner@shop.example", platform: "chrome-extension", pluginVersion: "1.0.0" };
const RETURN = "chrome-extension://abcdefghijklmnop/options.html";

/** A registered companion (seeded, so reproducible). */
export function registered() {
  const c = Companion.create({ brokerUrl: BROKER });
  c.useSeededEntropy(SEED);
  c.registrationRequest(REG);
  assert.deepEqual(c.handleRegistrationResponse({ status: 201, body: "{}" }), { outcome: "registered" });
  return c;
}

/** A connected companion (token `btk_test`). */
export function connected() {
  const c = registered();
  const url = new URL(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  c.completeConnect(`${RETURN}?state=${url.searchParams.get("state")}&broker_token=btk_test`, { now: NOW + 5 });
  return c;
}

const secretOf = (c) => JSON.parse(c.toJSON()).installation.secret;

test("create: fresh state and getters", () => {
  const c = Companion.create({ brokerUrl: BROKER, routes: { connect: "/oauth/connect" }, retry: { maxAttempts: 5 } });
  assert.equal(c.status, "not_registered");
  assert.equal(c.installId, null);
  assert.equal(c.siteUrl, null);
  assert.equal(c.reconnectReason, null);
  assert.equal(c.clockOffset, 0);
  const state = JSON.parse(c.toJSON());
  assert.equal(state.config.routes.connect, "/oauth/connect");
  assert.equal(state.config.routes.installations, "/installations");
  assert.equal(state.config.retry.max_attempts, 5);
  assert.throws(() => new Companion(), TesseraError);
});

test("low level registrationRequest: unsigned POST with the secret, id reused on re-POST", () => {
  const c = Companion.create({ brokerUrl: BROKER });
  c.useSeededEntropy(SEED);
  const req = c.registrationRequest(REG);
  assert.equal(req.method, "POST");
  assert.equal(req.url, `${BROKER}/installations`);
  assert.deepEqual(req.headers, [["content-type", "application/json"]]);
  const body = JSON.parse(text(req.body));
  assert.match(body.install_id, /^ins_[A-Za-z0-9_-]{22}$/);
  assert.equal(body.site_url, "https://shop.example");
  assert.equal(body.secret.length, 43);
  assert.equal(c.status, "registration_pending");
  assert.equal(c.installId, body.install_id);
  // Same installation on a retry of the registration POST.
  assert.equal(JSON.parse(text(c.registrationRequest(REG).body)).install_id, body.install_id);
  // Reproducible with the same seed.
  const d = Companion.create({ brokerUrl: BROKER });
  d.useSeededEntropy(SEED);
  assert.deepEqual(d.registrationRequest(REG), req);
});

test("low level handleRegistrationResponse: ownership challenge, proof verifies broker side, then registered", () => {
  const c = Companion.create({ brokerUrl: BROKER });
  c.registrationRequest(REG);
  const out = c.handleRegistrationResponse({ status: 202, body: JSON.stringify({ challenge: "challenge-0123456789abcdef" }) });
  assert.equal(out.outcome, "ownership_challenge");
  assert.equal(c.status, "awaiting_ownership");
  assert.equal(out.proof.url, `https://shop.example/.well-known/tessera/${c.installId}`);
  assert.deepEqual(c.ownershipProof(), out.proof);
  const args = { secret: secretOf(c), installId: c.installId, challenge: "challenge-0123456789abcdef" };
  verifyOwnershipProof({ ...args, proof: out.proof.body });
  assert.throws(() => verifyOwnershipProof({ ...args, proof: "x" + out.proof.body }), { code: "ownership_proof_invalid" });
  c.registrationRequest(REG);
  c.handleRegistrationResponse({ status: 201 });
  assert.equal(c.status, "registered");
});

test("state round-trip: toJSON → fromJSON (string or parsed) is lossless", () => {
  const c = connected();
  const json = c.toJSON();
  for (const restored of [Companion.fromJSON(json), Companion.fromJSON(JSON.parse(json)), Companion.fromJSON(JSON.parse(JSON.stringify(c)))]) {
    assert.equal(restored.toJSON(), json);
    assert.equal(restored.status, "connected");
    assert.equal(restored.installId, c.installId);
    assert.equal(restored.siteUrl, "https://shop.example");
  }
  assert.throws(() => Companion.fromJSON(json.slice(0, -5)), { code: "state_corrupt" });
  assert.throws(() => Companion.fromJSON(json.replace('"v":1', '"v":99')), { code: "state_version_unsupported" });
});

test("connect → callback → signed call the broker verifies", async () => {
  const c = registered();
  const url = c.connectUrl({ returnUrl: RETURN, scope: "units:read", now: NOW });
  const params = await verifyConnectUrl(url, { secretFor: () => secretOf(c), now: NOW + 1 });
  assert.deepEqual({ ...params, state: typeof params.state }, { installId: c.installId, state: "string", returnUrl: RETURN, scope: "units:read", ts: NOW });
  await assert.rejects(verifyConnectUrl(url.replace("scope=units", "scope=admin"), { secretFor: () => secretOf(c), now: NOW }), { code: "signature_invalid" });
  c.completeConnect(`${RETURN}?state=${params.state}&broker_token=btk_live`, { now: NOW + 30 });
  assert.equal(c.status, "connected");

  const { fetch, sent } = scriptedFetch([response(200, '{"units":[]}', { "content-type": "application/json" })]);
  const res = await c.call({ method: "POST", path: "/api/units?limit=2", headers: { "content-type": "application/json" }, body: '{"q":1}' }, { fetch });
  assert.equal(res.status, 200);
  assert.equal(text(res.body), '{"units":[]}');
  assert.deepEqual(res.headers, [["content-type", "application/json"]]);
  assert.equal(sent.length, 1);
  const req = sent[0];
  assert.equal(req.url, `${BROKER}/api/units?limit=2`);
  assert.equal(req.redirect, "manual");
  const headers = Object.fromEntries(req.headers);
  assert.equal(headers.authorization, "Bearer btk_live");
  assert.match(headers["idempotency-key"], /^[0-9a-f-]{36}$/);
  const v = await verifyRequest({ method: req.method, url: req.url, headers: req.headers, body: req.body }, { secretFor: () => secretOf(c), replayStore: new MemoryReplayStore() });
  assert.equal(v.installId, c.installId);
  assert.equal(v.bearer, "btk_live");
  assert.equal(v.idempotencyKey, headers["idempotency-key"]);
});

test("signRequest is deterministic with now/nonce/idempotencyKey and verifies", async () => {
  const c = connected();
  const opts = { now: NOW, nonce: "nonce-1", idempotencyKey: "idem-1" };
  const a = c.signRequest({ method: "post", path: "/api/x", body: new Uint8Array([1, 2, 3]) }, opts);
  const b = c.signRequest({ method: "POST", path: "/api/x", body: new Uint8Array([1, 2, 3]).buffer }, opts);
  assert.deepEqual(a, b);
  assert.equal(a.method, "POST");
  assert.equal(Object.fromEntries(a.headers)["content-digest"], contentDigest(new Uint8Array([1, 2, 3])));
  const store = new MemoryReplayStore(16);
  await verifyRequest(a, { secretFor: () => secretOf(c), now: NOW, replayStore: store });
  assert.equal(store.size, 1);
  await assert.rejects(verifyRequest(a, { secretFor: () => secretOf(c), now: NOW, replayStore: store }), { code: "replayed" });
  await assert.rejects(verifyRequest(a, { secretFor: () => secretOf(c), now: NOW + 1000 }), { code: "signature_expired" });
  await assert.rejects(verifyRequest({ ...a, body: "tampered" }, { secretFor: () => secretOf(c), now: NOW }), { code: "digest_mismatch" });
  await assert.rejects(verifyRequest(a, { secretFor: () => null, now: NOW }), { code: "unknown_installation" });
  await assert.rejects(verifyRequest({ ...a, headers: [] }, { secretFor: () => secretOf(c), now: NOW }), { code: "signature_missing" });
  // A host replay store (async) sees the nonce once.
  const seen = new Set();
  const hostStore = { async checkAndInsert(key) { if (seen.has(key)) return false; seen.add(key); return true; } };
  const b2 = c.signRequest({ method: "GET", path: "/api/y" }, { now: NOW, nonce: "nonce-2" });
  await verifyRequest(b2, { secretFor: async () => secretOf(c), now: NOW, replayStore: hostStore });
  await assert.rejects(verifyRequest(b2, { secretFor: async () => secretOf(c), now: NOW, replayStore: hostStore }), { code: "replayed" });
  // Secrets as bytes work too.
  const bytes = Buffer.from(secretOf(c), "base64url");
  await verifyRequest(c.signRequest({ method: "GET", path: "/api/z" }, { now: NOW }), { secretFor: () => new Uint8Array(bytes), now: NOW });
});

test("uninstall ticket verifies broker side", async () => {
  const c = registered();
  const url = c.uninstallUrl({ now: NOW });
  assert.equal(await verifyUninstallTicket(c.installId, url, { secretFor: () => secretOf(c), now: NOW + 60 }), NOW);
  await assert.rejects(verifyUninstallTicket(c.installId, url, { secretFor: () => secretOf(c), now: NOW + 100, maxAgeSecs: 10 }), { code: "signature_expired" });
});

test("classify: every outcome kind", () => {
  const cases = [
    [{ status: 200 }, { kind: "ok", status: 200 }],
    [{ status: 204 }, { kind: "ok", status: 204 }],
    [{ status: 401, body: '{"error":"stora_reconnect_required"}' }, { kind: "reconnect_required", code: "stora_reconnect_required" }],
    [{ status: 401, body: '{"error":"broker_token_invalid"}' }, { kind: "reconnect_required", code: "broker_token_invalid" }],
    [{ status: 401, body: '{"error":"installation_disabled"}' }, { kind: "reconnect_required", code: "installation_disabled" }],
    [{ status: 401, body: '{"error":"signature_invalid"}' }, { kind: "registration_invalid", code: "signature_invalid" }],
    [{ status: 401, body: '{"error":"unknown_installation"}' }, { kind: "registration_invalid", code: "unknown_installation" }],
    [{ status: 401, headers: { date: "Tue, 14 Nov 2023 22:13:20 GMT" }, body: '{"error":"signature_expired"}' }, { kind: "signature_expired", code: "signature_expired", serverDate: NOW }],
    [{ status: 429, headers: { "Retry-After": "7" } }, { kind: "rate_limited", retryAfterMs: 7000 }],
    [{ status: 429, headers: [["retry-after", "Tue, 14 Nov 2023 22:13:30 GMT"]] }, { kind: "rate_limited", retryAfterMs: 10000 }],
    [{ status: 429 }, { kind: "rate_limited" }],
    [{ status: 400, headers: { "content-type": "application/problem+json" }, body: '{"code":"bad_unit","title":"x"}' }, { kind: "client_error", code: "bad_unit" }],
    [{ status: 404 }, { kind: "client_error" }],
    [{ status: 408 }, { kind: "server_unavailable" }],
    [{ status: 500, body: "<html>" }, { kind: "server_unavailable" }],
    [{ status: 503 }, { kind: "server_unavailable" }],
  ];
  for (const [resp, want] of cases) {
    const got = classify(resp, { now: NOW });
    assert.deepEqual(got, { status: resp.status, ...want }, JSON.stringify(resp));
    assert.deepEqual(Companion.classify(resp, { now: NOW }), got);
  }
});

test("site mismatch blocks signing until resolved (copy or moved)", async () => {
  const c = connected();
  assert.deepEqual(c.checkSite("https://shop.example/"), { kind: "same" });
  assert.deepEqual(c.checkSite("https://staging.shop.example"), { kind: "mismatch", registered: "https://shop.example", current: "https://staging.shop.example" });
  assert.equal(c.status, "site_mismatch");
  const err = (() => { try { c.signRequest({ method: "GET", path: "/api/x" }); } catch (e) { return e; } })();
  assert.ok(err instanceof TesseraError);
  assert.equal(err.code, "site_mismatch");
  assert.equal(err.kind, "site_mismatch");
  assert.equal(err.registered, "https://shop.example");
  assert.equal(err.current, "https://staging.shop.example");
  await assert.rejects(c.call({ method: "GET", path: "/api/x" }, { fetch: async () => assert.fail("no send") }), { code: "site_mismatch" });

  // "The site moved": a signed PATCH with the new URL, then signing works again.
  const moved = Companion.fromJSON(c.toJSON());
  const { fetch, sent } = scriptedFetch([response(200, "{}")]);
  const persisted = [];
  assert.equal(await moved.siteMoved({ fetch, onPersist: (s) => void persisted.push(s) }), undefined);
  assert.equal(sent[0].method, "PATCH");
  assert.equal(sent[0].url, `${BROKER}/installations/${c.installId}`);
  assert.deepEqual(JSON.parse(sent[0].body), { site_url: "https://staging.shop.example" });
  assert.equal(moved.siteUrl, "https://staging.shop.example");
  assert.equal(moved.status, "connected");
  assert.equal(persisted.at(-1), moved.toJSON());

  // "This is a copy": forget the registration; nothing is sent.
  c.resolveSiteAsCopy();
  assert.equal(c.status, "not_registered");
  assert.equal(c.installId, null);
});

test("sealed state: round trip; wrong key, tampering, garbage → state_undecryptable", () => {
  const c = connected();
  const key = new Uint8Array(32).fill(9);
  const sealed = c.sealState(key);
  assert.match(sealed, /^tsv1\./);
  assert.ok(!sealed.includes(secretOf(c)));
  assert.equal(Companion.openState(sealed, key).toJSON(), c.toJSON());
  assert.notEqual(c.sealState(key), sealed, "fresh nonce per seal");
  assert.equal(Companion.openState(c.sealState("a passphrase of 16+ bytes"), "a passphrase of 16+ bytes").status, "connected");
  const flip = sealed.slice(0, 30) + (sealed[30] === "A" ? "B" : "A") + sealed.slice(31);
  for (const bad of [flip, sealed.slice(0, -4), "tsv1.", "garbage", ""]) {
    assert.throws(() => Companion.openState(bad, key), { code: "state_undecryptable", kind: "state_undecryptable" });
  }
  assert.throws(() => Companion.openState(sealed, new Uint8Array(32).fill(8)), { code: "state_undecryptable" });
  assert.throws(() => c.sealState(new Uint8Array(4)), { code: "invalid_input" });
});

test("disconnect: token dropped whatever the broker says", async () => {
  for (const [script, result] of [
    [[response(204)], { result: "ok", error: null }],
    [[response(401, '{"error":"broker_token_invalid"}')], { result: "ok", error: null }],
  ]) {
    const c = connected();
    const { fetch, sent } = scriptedFetch(script);
    assert.deepEqual(await c.disconnect({ fetch }), { remote: result });
    assert.equal(sent[0].method, "POST");
    assert.equal(sent[0].url, `${BROKER}/disconnect`);
    assert.equal(c.status, "registered");
  }
  const c = connected();
  const { fetch } = scriptedFetch([response(503), response(503), response(503)]);
  const out = await c.disconnect({ fetch, sleep: async () => {} });
  assert.equal(out.remote.result, "failed");
  assert.ok(out.remote.error instanceof TesseraError);
  assert.equal(out.remote.error.code, "server_unavailable");
  assert.equal(out.remote.error.status, 503);
  assert.equal(c.status, "registered");
  await assert.rejects(c.disconnect({ fetch }), { code: "not_connected" });
});

test("uninstall plan: disconnect, deregister, wipe — and report failures", async () => {
  const c = connected();
  const id = c.installId;
  const { fetch, sent } = scriptedFetch([response(204), response(404)]);
  const persisted = [];
  const report = await c.uninstall({ fetch, onPersist: (s) => void persisted.push(s) });
  assert.deepEqual(report, { disconnect: { result: "ok", error: null }, deregister: { result: "ok", error: null } });
  assert.deepEqual(sent.map((r) => `${r.method} ${r.url}`), [`POST ${BROKER}/disconnect`, `DELETE ${BROKER}/installations/${id}`]);
  assert.equal(c.status, "not_registered");
  assert.equal(persisted.at(-1), c.toJSON());

  const d = connected();
  const failing = scriptedFetch([response(400, '{"error":"nope"}'), new Error("offline"), new Error("offline"), new Error("offline")]);
  const r2 = await d.uninstall({ fetch: failing.fetch, sleep: async () => {} });
  assert.equal(r2.disconnect.result, "failed");
  assert.equal(r2.disconnect.error.code, "client_error");
  assert.equal(r2.disconnect.error.reason, "nope");
  assert.equal(r2.deregister.result, "failed");
  assert.equal(r2.deregister.error.code, "server_unavailable");
  assert.equal(d.status, "not_registered");

  // A site copy never touches the original registration.
  const e = connected();
  e.checkSite("https://copy.example");
  const none = scriptedFetch([]);
  assert.deepEqual(await e.uninstall({ fetch: none.fetch }), {
    disconnect: { result: "skipped", error: null },
    deregister: { result: "skipped", error: null },
  });
  assert.equal(none.sent.length, 0);
  assert.equal(e.status, "not_registered");
});

test("headers in: a record, pairs, a Headers or a Map give the same signature", () => {
  const c = connected();
  const opts = { now: NOW, nonce: "same-nonce" };
  const forms = [
    { "Content-Type": "application/json", "X-Trace": "t1" },
    [["Content-Type", "application/json"], ["X-Trace", "t1"]],
    new Map([["Content-Type", "application/json"], ["X-Trace", "t1"]]),
    new Headers({ "Content-Type": "application/json", "X-Trace": "t1" }),
  ];
  const signed = forms.map((headers) => c.signRequest({ method: "POST", path: "/api/x", headers, body: "{}" }, { ...opts, idempotencyKey: "k" }));
  for (const s of signed.slice(1)) assert.deepEqual(s, signed[0]);
  assert.deepEqual(signed[0].headers.map(([k]) => k), ["content-type", "content-digest", "authorization", "idempotency-key", "x-trace", "signature-input", "signature"]);
});

// API behaviour of the built package: state, registration, connect → callback
// → signed call, classification, site identity, sealed state, broker side.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { Console } from "node:console";
import util from "node:util";
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
import { ACCOUNT, CODE, NOW, SEED, completeWith, connectAnswer, response, scriptedFetch, stateOf, text } from "./helpers.mjs";

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

/** A connected companion (token `btk_test`, account ACCOUNT). */
export async function connected() {
  const c = registered();
  const state = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  await completeWith(c, `${RETURN}?state=${state}&code=${CODE}`, "btk_test", { now: NOW + 5, clock: () => (NOW + 5) * 1000 });
  return c;
}

const secretOf = (c) => JSON.parse(c.exportState()).installation.secret;

test("create: fresh state and getters", () => {
  const c = Companion.create({ brokerUrl: BROKER, routes: { connect: "/oauth/connect" }, retry: { maxAttempts: 5 } });
  assert.equal(c.status, "not_registered");
  assert.equal(c.installId, null);
  assert.equal(c.siteUrl, null);
  assert.equal(c.reconnectReason, null);
  assert.equal(c.clockOffset, 0);
  const state = JSON.parse(c.exportState());
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

test("state round-trip: exportState → importState (string or parsed) is lossless", async () => {
  const c = await connected();
  const json = c.exportState();
  for (const restored of [Companion.importState(json), Companion.importState(JSON.parse(json)), Companion.importState(json, {}), Companion.importState(json, { sealKey: null })]) {
    assert.equal(restored.exportState(), json);
    assert.equal(restored.status, "connected");
    assert.equal(restored.installId, c.installId);
    assert.equal(restored.siteUrl, "https://shop.example");
  }
  assert.throws(() => Companion.importState(json.slice(0, -5)), { code: "state_corrupt" });
  assert.throws(() => Companion.importState(json.replace('"v":1', '"v":99')), { code: "state_version_unsupported" });
});

test("connect → callback → signed call the broker verifies", async () => {
  const c = registered();
  const url = c.connectUrl({ returnUrl: RETURN, scope: "units:read", now: NOW });
  const params = await verifyConnectUrl(url, { secretFor: () => secretOf(c), now: NOW + 1 });
  assert.deepEqual({ ...params, state: typeof params.state }, { installId: c.installId, state: "string", returnUrl: RETURN, scope: "units:read", ts: NOW });
  await assert.rejects(verifyConnectUrl(url.replace("scope=units", "scope=admin"), { secretFor: () => secretOf(c), now: NOW }), { code: "signature_invalid" });
  assert.equal(c.account, null);
  // The callback carries a one-time code; the driver exchanges it with a signed POST.
  const exchange = scriptedFetch([connectAnswer("btk_live", { id: "acct_42", name: "Acme Storage" })]);
  const persistedStates = [];
  const done = await c.completeConnect(`${RETURN}?state=${params.state}&code=${CODE}`, {
    fetch: exchange.fetch,
    onPersist: (json) => void persistedStates.push(JSON.parse(json)),
    clock: () => (NOW + 30) * 1000,
  });
  assert.deepEqual(done, { account: { id: "acct_42", name: "Acme Storage" } });
  assert.deepEqual(c.account, { id: "acct_42", name: "Acme Storage" });
  assert.equal(c.status, "connected");
  assert.equal(exchange.sent.length, 1);
  const ex = exchange.sent[0];
  assert.equal(ex.method, "POST");
  assert.equal(ex.url, `${BROKER}/connect/complete`);
  assert.equal(ex.body, `{"code":"${CODE}","state":"${params.state}"}`);
  const exHeaders = Object.fromEntries(ex.headers);
  assert.equal(exHeaders.authorization, undefined, "the exchange carries no broker token");
  assert.equal(exHeaders["content-type"], "application/json");
  assert.match(exHeaders["idempotency-key"], /^[0-9a-f-]{36}$/);
  const exv = await verifyRequest({ method: ex.method, url: ex.url, headers: ex.headers, body: ex.body }, { secretFor: () => secretOf(c), replayStore: new MemoryReplayStore(), now: NOW + 30 });
  assert.equal(exv.installId, c.installId);
  assert.equal(exv.bearer ?? null, null);
  // The consumed pending connect is persisted before the exchange is sent; the token after it.
  assert.ok(persistedStates.length >= 2);
  assert.equal(persistedStates[0].pending_connect, null);
  assert.equal(persistedStates[0].broker_token, null);
  assert.equal(persistedStates.at(-1).broker_token, "btk_live");
  assert.deepEqual(persistedStates.at(-1).account, { id: "acct_42", name: "Acme Storage" });
  assert.deepEqual(persistedStates.at(-1), JSON.parse(c.exportState()));

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

test("completeConnect: local checks, denied and failed exchanges keep the previous token and account", async () => {
  const c = await connected();
  assert.deepEqual(c.account, ACCOUNT);
  const before = JSON.parse(c.exportState());
  // Reconnect: a wrong state keeps the pending connect; the right one with a 4xx exchange keeps the old token.
  const state = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW + 10 }));
  const none = scriptedFetch([]);
  await assert.rejects(c.completeConnect(`state=x${state}&code=${CODE}`, { fetch: none.fetch, now: NOW + 11 }), { code: "callback_state_mismatch" });
  await assert.rejects(c.completeConnect("nothing=here", { fetch: none.fetch }), { code: "callback_invalid" });
  assert.equal(none.sent.length, 0);
  const refused = scriptedFetch([response(400, '{"error":"connect_code_invalid"}', { "content-type": "application/json" })]);
  await assert.rejects(c.completeConnect(`state=${state}&code=${CODE}`, { fetch: refused.fetch, now: NOW + 12, clock: () => (NOW + 12) * 1000 }), {
    code: "client_error",
    reason: "connect_code_invalid",
  });
  assert.equal(refused.sent.length, 1);
  assert.equal(Object.fromEntries(refused.sent[0].headers).authorization, undefined, "a reconnect never sends the token it replaces");
  assert.equal(c.status, "connected");
  assert.deepEqual(c.account, ACCOUNT);
  assert.equal(JSON.parse(c.exportState()).broker_token, before.broker_token);
  // The pending connect was consumed: the same callback again is invalid_state.
  await assert.rejects(c.completeConnect(`state=${state}&code=${CODE}`, { fetch: none.fetch }), { code: "invalid_state" });

  // error=…, an expired callback, a missing code: nothing is sent, the pending connect is consumed.
  for (const [cb, now, code] of [
    [(s) => `state=${s}&error=access_denied`, NOW + 21, "callback_denied"],
    [(s) => `state=${s}&code=${CODE}`, NOW + 20 + 601, "callback_expired"],
    [(s) => `state=${s}`, NOW + 21, "callback_invalid"],
  ]) {
    const s2 = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW + 20 }));
    const persisted = [];
    await assert.rejects(c.completeConnect(cb(s2), { fetch: none.fetch, now, onPersist: (j) => void persisted.push(JSON.parse(j)) }), { code });
    assert.equal(persisted.at(-1).pending_connect, null, code);
    assert.equal(none.sent.length, 0, code);
    assert.deepEqual(c.account, ACCOUNT, code);
  }

  // A malformed 200 is callback_invalid; the old token stays.
  const s3 = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW + 30 }));
  const bad = scriptedFetch([response(200, '{"broker_token":"btk_new"}')]);
  await assert.rejects(c.completeConnect(`state=${s3}&code=${CODE}`, { fetch: bad.fetch, now: NOW + 31 }), { code: "callback_invalid" });
  assert.equal(JSON.parse(c.exportState()).broker_token, before.broker_token);

  // A successful reconnect replaces token and account.
  const s4 = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW + 40 }));
  const { result } = await completeWith(c, `state=${s4}&code=${CODE}`, "btk_other", { account: { id: "acct_other", name: "" }, now: NOW + 41 });
  assert.deepEqual(result, { account: { id: "acct_other", name: "" } });
  assert.deepEqual(c.account, { id: "acct_other", name: "" });
  assert.equal(JSON.parse(c.exportState()).broker_token, "btk_other");

  // Disconnecting forgets the account.
  await c.disconnect({ fetch: scriptedFetch([response(204)]).fetch });
  assert.equal(c.account, null);
});

test("signRequest is deterministic with now/nonce/idempotencyKey and verifies", async () => {
  const c = await connected();
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
  await assert.rejects(verifyRequest(a, { secretFor: () => secretOf(c), now: NOW + 1000, replayStore: store }), { code: "signature_expired" });
  await assert.rejects(verifyRequest({ ...a, body: "tampered" }, { secretFor: () => secretOf(c), now: NOW, replayStore: store }), { code: "digest_mismatch" });
  await assert.rejects(verifyRequest(a, { secretFor: () => null, now: NOW, replayStore: store }), { code: "unknown_installation" });
  await assert.rejects(verifyRequest({ ...a, headers: [] }, { secretFor: () => secretOf(c), now: NOW, replayStore: store }), { code: "signature_missing" });
  // A host replay store (async) sees the nonce once.
  const seen = new Set();
  const hostStore = { async checkAndInsert(key) { if (seen.has(key)) return false; seen.add(key); return true; } };
  const b2 = c.signRequest({ method: "GET", path: "/api/y" }, { now: NOW, nonce: "nonce-2" });
  await verifyRequest(b2, { secretFor: async () => secretOf(c), now: NOW, replayStore: hostStore });
  await assert.rejects(verifyRequest(b2, { secretFor: async () => secretOf(c), now: NOW, replayStore: hostStore }), { code: "replayed" });
  // Secrets as bytes work too.
  const bytes = Buffer.from(secretOf(c), "base64url");
  await verifyRequest(c.signRequest({ method: "GET", path: "/api/z" }, { now: NOW }), { secretFor: () => new Uint8Array(bytes), now: NOW, replayStore: store });
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
    // Stora's own answers, passed through by the broker.
    [
      { status: 400, headers: { "Tessera-Origin": "stora" }, body: '{"error":{"code":"api_error","request_id":"req_9"}}' },
      { kind: "upstream_failed", code: "api_error", requestId: "req_9", fromStora: true },
    ],
    [
      { status: 429, headers: { "RateLimit-Reset": String(NOW + 5), "Tessera-Origin": "stora" } },
      { kind: "rate_limited", retryAfterMs: 5000, fromStora: true },
    ],
  ];
  for (const [resp, want] of cases) {
    const got = classify(resp, { now: NOW });
    assert.deepEqual(got, { status: resp.status, fromStora: false, ...want }, JSON.stringify(resp));
    assert.deepEqual(Companion.classify(resp, { now: NOW }), got);
  }
});

test("site mismatch blocks signing until resolved (copy or moved)", async () => {
  const c = await connected();
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
  const moved = Companion.importState(c.exportState());
  const { fetch, sent } = scriptedFetch([response(200, "{}")]);
  const persisted = [];
  assert.equal(await moved.siteMoved({ fetch, onPersist: (s) => void persisted.push(s) }), undefined);
  assert.equal(sent[0].method, "PATCH");
  assert.equal(sent[0].url, `${BROKER}/installations/${c.installId}`);
  assert.deepEqual(JSON.parse(sent[0].body), { site_url: "https://staging.shop.example" });
  assert.equal(moved.siteUrl, "https://staging.shop.example");
  assert.equal(moved.status, "connected");
  assert.equal(persisted.at(-1), moved.exportState());

  // "This is a copy": forget the registration; nothing is sent.
  c.resolveSiteAsCopy();
  assert.equal(c.status, "not_registered");
  assert.equal(c.installId, null);
});

test("sealed state: round trip; wrong key, tampering, garbage → state_undecryptable", async () => {
  const c = await connected();
  const key = new Uint8Array(32).fill(9);
  const sealed = c.sealState(key);
  assert.match(sealed, /^tsv1\./);
  assert.ok(!sealed.includes(secretOf(c)));
  assert.equal(Companion.openState(sealed, key).exportState(), c.exportState());
  assert.notEqual(c.sealState(key), sealed, "fresh nonce per seal");
  assert.equal(Companion.openState(c.sealState("a passphrase of 16+ bytes"), "a passphrase of 16+ bytes").status, "connected");
  const flip = sealed.slice(0, 30) + (sealed[30] === "A" ? "B" : "A") + sealed.slice(31);
  for (const bad of [flip, sealed.slice(0, -4), "tsv1.", "garbage", ""]) {
    assert.throws(() => Companion.openState(bad, key), { code: "state_undecryptable", kind: "state_undecryptable" });
  }
  assert.throws(() => Companion.openState(sealed, new Uint8Array(32).fill(8)), { code: "state_undecryptable" });
  assert.throws(() => c.sealState(new Uint8Array(4)), { code: "invalid_input" });
});

// ---- issue 14: toJSON() is a redacted summary; persistence is explicit ------------------

/** Everything `console.log` / `console.error` / `console.dir` print for `value`. */
function consoleOutput(value) {
  let out = "";
  const sink = new Writable({
    write: (chunk, _enc, done) => {
      out += chunk.toString();
      done();
    },
  });
  const con = new Console({ stdout: sink, stderr: sink });
  con.log(value);
  con.log("companion %o %O %j %s", value, value, value, value);
  con.error("failed:", { companion: value });
  con.dir(value, { depth: Infinity, showHidden: true });
  return out;
}

test("toJSON(): JSON.stringify, util.inspect and console.log of a companion show no secret, token or pending state", async () => {
  const c = registered();
  const first = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  await completeWith(c, `${RETURN}?state=${first}&code=${CODE}`, "btk_summary_0123456789abcdef", { now: NOW + 5 });
  // A reconnect in progress: a pending connect as well as the token.
  c.connectUrl({ returnUrl: RETURN, now: NOW + 10 });
  const state = JSON.parse(c.exportState());
  const needles = [state.installation.secret, state.broker_token, state.pending_connect.state];
  for (const n of needles) assert.ok(typeof n === "string" && n.length >= 16, "the state holds all three");
  const summary = { status: "connected", installId: c.installId, siteUrl: "https://shop.example", account: ACCOUNT, reconnectReason: null };
  assert.deepEqual(c.toJSON(), summary);
  assert.deepEqual(JSON.parse(JSON.stringify(c)), summary);
  assert.deepEqual(JSON.parse(JSON.stringify({ nested: [c] })).nested[0], summary);
  const outputs = [
    ["JSON.stringify", JSON.stringify(c)],
    ["JSON.stringify nested", JSON.stringify({ error: new TesseraError("invalid_state", "invalid_state", "x"), companion: c })],
    ["util.inspect", util.inspect(c, { depth: Infinity, showHidden: true, getters: true })],
    ["util.inspect nested", util.inspect({ companion: c, list: [c] }, { depth: Infinity, showHidden: true })],
    ["util.format", util.format("%s %o %O %j", c, c, c, c)],
    ["String", String(c)],
    ["console", consoleOutput(c)],
  ];
  for (const [where, out] of outputs) {
    for (const n of needles) assert.ok(!out.includes(n), `${where} leaks: ${out.slice(0, 300)}`);
  }
  // Logs stay useful: they show where the installation stands.
  assert.match(util.inspect(c), /connected/);
  assert.ok(util.inspect(c).includes(c.installId));
  assert.ok(consoleOutput(c).includes(ACCOUNT.name));
  // The search works: the exported state holds them.
  for (const n of needles) assert.ok(c.exportState().includes(n));
  // A fresh companion's summary; a freed one refuses toJSON() but never breaks a logger.
  assert.deepEqual(JSON.parse(JSON.stringify(Companion.create({ brokerUrl: BROKER }))), {
    status: "not_registered",
    installId: null,
    siteUrl: null,
    account: null,
    reconnectReason: null,
  });
  const freed = await connected();
  freed.free();
  assert.throws(() => JSON.stringify(freed), { code: "invalid_state" });
  assert.doesNotThrow(() => util.inspect(freed));
  assert.doesNotThrow(() => util.inspect(Companion.prototype));
  assert.ok(!("fromJSON" in Companion), "fromJSON is gone: importState");
});

/** A full lifecycle through the drivers → every value `onPersist` received, with the state at that moment. */
async function lifecycle(c) {
  const seen = [];
  const pending = []; // the connect states, never persisted through a driver, but secrets all the same
  const onPersist = (value) => void seen.push({ value, state: c.exportState() });
  if (c.status === "not_registered") {
    c.useSeededEntropy(SEED);
    await c.register(REG, { fetch: scriptedFetch([response(201, "{}")]).fetch, onPersist });
  }
  const state = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  pending.push(state);
  await completeWith(c, `${RETURN}?state=${state}&code=${CODE}`, "btk_persisted_token", { now: NOW + 5, onPersist });
  await c.call({ method: "GET", path: "/api/x" }, { fetch: scriptedFetch([response(401, '{"error":"stora_reconnect_required"}')]).fetch, onPersist }).catch((e) => assert.equal(e.code, "reconnect_required"));
  const again = stateOf(c.connectUrl({ returnUrl: RETURN, now: NOW }));
  pending.push(again);
  await completeWith(c, `${RETURN}?state=${again}&code=${CODE}`, "btk_persisted_token2", { now: NOW + 5, onPersist });
  await c.disconnect({ fetch: scriptedFetch([response(204)]).fetch, onPersist });
  await c.uninstall({ fetch: scriptedFetch([response(404)]).fetch, onPersist });
  assert.equal(c.status, "not_registered");
  seen.pending = pending;
  return seen;
}

test("a seal key (create, importState, openState): every onPersist value is sealed, reopens to the same state, holds no secret", async () => {
  const key = new Uint8Array(32).fill(7);
  const stringKey = "a sealing passphrase of 16+ bytes";
  const plain = registered();
  const cases = [
    ["create({ sealKey })", key, () => Companion.create({ brokerUrl: BROKER, sealKey: key })],
    ["create({ sealKey: string })", stringKey, () => Companion.create({ brokerUrl: BROKER, sealKey: stringKey })],
    ["importState(json, { sealKey })", key, () => Companion.importState(plain.exportState(), { sealKey: key })],
    ["importState(object, { sealKey: ArrayBuffer })", key, () => Companion.importState(JSON.parse(plain.exportState()), { sealKey: key.buffer.slice(0) })],
    ["openState(sealed, key)", key, () => Companion.openState(plain.sealState(key), key)],
    ["openState(sealed, string key)", stringKey, () => Companion.openState(plain.sealState(stringKey), stringKey)],
  ];
  for (const [label, k, make] of cases) {
    const c = make();
    const seen = await lifecycle(c);
    assert.ok(seen.length >= 6, `${label}: ${seen.length} persists`);
    const secrets = new Set(seen.pending);
    for (const { state } of seen) {
      const s = JSON.parse(state);
      if (s.installation) secrets.add(s.installation.secret);
      if (s.broker_token) secrets.add(s.broker_token);
      if (s.pending_connect) secrets.add(s.pending_connect.state);
    }
    assert.ok(secrets.has("btk_persisted_token") && secrets.has("btk_persisted_token2") && secrets.size >= 5, `${label}: the lifecycle held secrets ${secrets.size}`);
    for (const [i, { value, state }] of seen.entries()) {
      assert.match(value, /^tsv1\.[A-Za-z0-9_-]+$/, `${label} persist #${i}: sealed`);
      for (const sec of secrets) assert.ok(!value.includes(sec), `${label} persist #${i}: holds a secret`);
      const reopened = Companion.openState(value, k);
      assert.equal(reopened.exportState(), state, `${label} persist #${i}: reopens to the state of that moment`);
      reopened.free();
      assert.throws(() => Companion.openState(value, "another key of 16+ bytes"), { code: "state_undecryptable" });
      assert.throws(() => Companion.importState(value), { code: "state_corrupt" });
    }
    assert.notEqual(seen[0].value, seen[1].value);
    // What was stored last is where the companion stands.
    assert.equal(Companion.openState(seen.at(-1).value, k).exportState(), c.exportState());
    // A companion reopened from a sealed value keeps sealing.
    const next = Companion.openState(seen.at(-1).value, k);
    assert.match((await lifecycle(next))[0].value, /^tsv1\./);
  }
  // Without a key, onPersist receives the JSON (exportState() at that moment).
  for (const make of [() => Companion.create({ brokerUrl: BROKER }), () => Companion.importState(plain.exportState()), () => Companion.importState(plain.exportState(), { sealKey: undefined })]) {
    const seen = await lifecycle(make());
    assert.ok(seen.length >= 6);
    for (const { value, state } of seen) {
      assert.equal(value, state);
      JSON.parse(value);
    }
  }
  // A key shorter than 16 bytes, or not bytes, is refused.
  for (const bad of ["short", new Uint8Array(15), "", 16, {}, [1, 2]]) {
    assert.throws(() => Companion.create({ brokerUrl: BROKER, sealKey: bad }), { code: "invalid_input" });
    assert.throws(() => Companion.importState(plain.exportState(), { sealKey: bad }), { code: "invalid_input" });
  }
  assert.throws(() => Companion.importState(plain.exportState(), 5), { code: "invalid_input" });
});

test("disconnect: token dropped whatever the broker says", async () => {
  for (const [script, result] of [
    [[response(204)], { result: "ok", error: null }],
    [[response(401, '{"error":"broker_token_invalid"}')], { result: "ok", error: null }],
  ]) {
    const c = await connected();
    const { fetch, sent } = scriptedFetch(script);
    assert.deepEqual(await c.disconnect({ fetch }), { remote: result });
    assert.equal(sent[0].method, "POST");
    assert.equal(sent[0].url, `${BROKER}/disconnect`);
    assert.equal(c.status, "registered");
  }
  const c = await connected();
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
  const c = await connected();
  const id = c.installId;
  const { fetch, sent } = scriptedFetch([response(204), response(404)]);
  const persisted = [];
  const report = await c.uninstall({ fetch, onPersist: (s) => void persisted.push(s) });
  assert.deepEqual(report, { disconnect: { result: "ok", error: null }, deregister: { result: "ok", error: null } });
  assert.deepEqual(sent.map((r) => `${r.method} ${r.url}`), [`POST ${BROKER}/disconnect`, `DELETE ${BROKER}/installations/${id}`]);
  assert.equal(c.status, "not_registered");
  assert.equal(persisted.at(-1), c.exportState());

  const d = await connected();
  const failing = scriptedFetch([response(400, '{"error":"nope"}'), new Error("offline"), new Error("offline"), new Error("offline")]);
  const r2 = await d.uninstall({ fetch: failing.fetch, sleep: async () => {} });
  assert.equal(r2.disconnect.result, "failed");
  assert.equal(r2.disconnect.error.code, "client_error");
  assert.equal(r2.disconnect.error.reason, "nope");
  assert.equal(r2.deregister.result, "failed");
  assert.equal(r2.deregister.error.code, "server_unavailable");
  assert.equal(d.status, "not_registered");

  // A site copy never touches the original registration.
  const e = await connected();
  e.checkSite("https://copy.example");
  const none = scriptedFetch([]);
  assert.deepEqual(await e.uninstall({ fetch: none.fetch }), {
    disconnect: { result: "skipped", error: null },
    deregister: { result: "skipped", error: null },
  });
  assert.equal(none.sent.length, 0);
  assert.equal(e.status, "not_registered");
});

test("headers in: a record, pairs, a Headers or a Map give the same signature", async () => {
  const c = await connected();
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

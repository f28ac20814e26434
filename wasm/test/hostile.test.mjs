// Binding robustness: a catalogue of hostile inputs (tests/hostile/catalogue.json
// plus JavaScript-only values) fed through every public function, method and
// getter of the built package, in every argument position and every field of
// the option/request objects, and with hostile receivers (`this`).
//
// The contract (wasm/npm/README.md, "Bad input"): each hostile call either
// succeeds because the input is in fact valid (only where ACCEPTED below says
// so, with the reason), or throws/rejects with a `TesseraError` whose code is
// not `internal` — except that an exception raised by the caller's own code
// (a getter, a Proxy trap, an iterator, a callback) propagates unchanged. After
// every hostile call a sanity call must still work (no trap, no poisoned wasm
// instance, no borrowed object left behind).
//
// The export walk makes a new export, static, method or getter without a
// SPEC entry fail the test. TESSERA_HOSTILE_SMALL=1 shrinks the "big" size.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as pkg from "tessera-companion";
// Authorization-proxy mode's configuration is the proxy entry's (its own module).
import * as proxyPkg from "tessera-companion/proxy";
import { NOW, SEED } from "./helpers.mjs";

const { Companion, MemoryReplayStore, TesseraError } = pkg;
const CATALOGUE = JSON.parse(readFileSync(new URL("../../tests/hostile/catalogue.json", import.meta.url), "utf8"));
const SMALL = process.env.TESSERA_HOSTILE_SMALL === "1";
const BROKER = "https://broker.example";
const SITE = "https://shop.example";
const RETURN = "chrome-extension://abcdefghijklmnop/options.html";
const REG = { siteUrl: SITE, adminEmail: "owner@shop.example", platform: "chrome-extension", pluginVersion: "1.0.0" };

// ---- the catalogue ----------------------------------------------------------------

function size(name) {
  const n = (SMALL && CATALOGUE.small_sizes[name]) || CATALOGUE.sizes[name];
  assert.ok(Number.isInteger(n), `unknown size ${name}`);
  return n;
}

/** One catalogue recipe → its JavaScript value. */
function expand(e) {
  if ("text" in e) return e.text;
  if ("repeat" in e) {
    const n = typeof e.count === "number" ? e.count : size(e.count);
    return (e.prefix ?? "") + e.repeat.repeat(n) + (e.suffix ?? "");
  }
  if ("nest" in e) return e.nest[0].repeat(e.depth) + (e.core ?? "") + e.nest[1].repeat(e.depth);
  if ("number" in e) {
    const symbolic = { NaN, Infinity, "-Infinity": -Infinity, i64_min: -(2 ** 63), i64_max: 2 ** 63 - 1, u64_max: 2 ** 64 };
    return typeof e.number === "string" ? symbolic[e.number] : e.number;
  }
  if ("pairs" in e) {
    const n = typeof e.pairs === "number" ? e.pairs : size(e.pairs);
    return Array.from({ length: n }, (_, i) => [e.same_name ? "x-same" : `x-h${i}`, "v"]);
  }
  throw new Error(`bad recipe ${JSON.stringify(e)}`);
}

// Expanded once (the big strings are shared, never mutated).
const cat = (list, prefix) => list.map((e) => [`${prefix} ${e.name}`, expand(e)]);
const STRINGS = cat(CATALOGUE.strings, "string");
const URLS = cat(CATALOGUE.urls, "url");
const TIMES = cat(CATALOGUE.times, "time");
const HEADER_NAMES = cat(CATALOGUE.header_names, "header name");
const HEADER_VALUES = cat(CATALOGUE.header_values, "header value");
const HEADER_LISTS = cat(CATALOGUE.header_lists, "header list");

/** Thrown by hostile getters, traps, iterators and callbacks: must come back unchanged. */
const SENTINEL = new Error("hostile caller code");

function throwingProxy() {
  const trap = () => {
    throw SENTINEL;
  };
  return new Proxy({}, { get: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap });
}
function revokedProxy() {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

// JavaScript-only values: [label, factory, kind]. `kind` says which slots
// accept the type (the value may still be refused by the core).
const JS_VALUES = [
  ["undefined", () => undefined, "absent"],
  ["null", () => null, "absent"],
  ["true", () => true, "boolean"],
  ["zero", () => 0, "number"],
  ["negative zero", () => -0, "number"],
  ["NaN", () => NaN, "number"],
  ["bigint", () => 1_700_000_000n, "bigint"],
  ["symbol", () => Symbol("hostile"), "symbol"],
  ["boxed string", () => new String(BROKER), "object"],
  ["boxed number", () => new Number(NOW), "object"],
  ["lone high surrogate", () => "https://shop.example/\uD800", "lone"],
  ["lone low surrogate", () => "\uDC00", "lone"],
  ["plain object", () => ({}), "plain"],
  ["null-prototype object", () => Object.create(null), "plain"],
  ["__proto__ key", () => JSON.parse('{"__proto__":{"brokerUrl":"https://broker.example","status":200}}'), "plain"],
  ["inherited fields", () => Object.create({ brokerUrl: BROKER, method: "GET", path: "/x", status: 200 }), "plain"],
  ["array", () => [], "array"],
  ["array of junk", () => [1, [2], {}], "array"],
  ["function", () => () => {}, "function"],
  ["date", () => new Date(0), "object"],
  ["regexp", () => /x/g, "object"],
  ["map", () => new Map([["a", 1]]), "iterable"],
  ["set", () => new Set(), "iterable"],
  ["Uint8Array", () => new Uint8Array([1, 2, 3]), "bytes"],
  ["Float64Array", () => new Float64Array(2), "bytes"],
  ["DataView", () => new DataView(new ArrayBuffer(4)), "bytes"],
  ["ArrayBuffer", () => new ArrayBuffer(4), "bytes"],
  ["SharedArrayBuffer", () => new SharedArrayBuffer(4), "object"],
  ["promise", () => Promise.resolve("https://broker.example"), "object"],
  ["error object", () => new Error("x"), "object"],
  ["throwing proxy", throwingProxy, "throws"],
  ["revoked proxy", revokedProxy, "revoked"],
  ["throwing toString", () => ({ toString() { throw SENTINEL; }, valueOf() { throw SENTINEL; } }), "plain"],
  ["bad iterator", () => ({ [Symbol.iterator]: () => 5 }), "iterable"],
  ["throwing iterator", () => ({ [Symbol.iterator]() { throw SENTINEL; } }), "throws"],
  ["infinite iterator", () => ({ *[Symbol.iterator]() { for (let i = 0; ; i++) yield [`x-${i}`, "v"]; } }), "iterable"],
];

// ---- slots: what a parameter or field is, and its hostile values -----------------

// Each slot lists its hostile values as [label, factory]. `valid` is a factory
// for a value that works there (the baseline).
const wrongTypes = (accepts) => JS_VALUES.filter(([, , kind]) => !accepts.includes(kind)).map(([l, f]) => [l, f]);
const fromCatalogue = (list) => list.map(([l, v]) => [l, () => v]);

const text = (catalogue = STRINGS) => ({ hostile: () => [...wrongTypes(["lone-ok"]), ...fromCatalogue(catalogue)] });
const optText = (catalogue = STRINGS) => ({
  hostile: () => [...wrongTypes(["absent"]), ...fromCatalogue(catalogue)],
});
const time = (optional = true) => ({
  hostile: () => [...wrongTypes(optional ? ["absent", "number"] : ["number"]), ...fromCatalogue(TIMES)],
});
const count = () => time(true);
const status = () => ({
  hostile: () => [...wrongTypes([]), ...fromCatalogue(TIMES), ["65536", () => 65536], ["-1", () => -1]],
});
const body = () => ({
  hostile: () => [
    ...wrongTypes(["absent", "bytes"]),
    ["1 MiB + 1 bytes", () => new Uint8Array(size("mib_plus_one"))],
    ["big bytes", () => new Uint8Array(size("big"))],
    ["big string body", () => STRINGS.find(([l]) => l === "string big")[1]],
    ["detached ArrayBuffer", detached],
  ],
});
function detached() {
  const b = new ArrayBuffer(8);
  structuredClone(b, { transfer: [b] });
  return b;
}
const key = () => ({
  hostile: () => [
    ...wrongTypes(["bytes"]),
    ["empty key", () => ""],
    ["15-byte key", () => new Uint8Array(15)],
    ["big key", () => new Uint8Array(size("big"))],
    ...fromCatalogue(STRINGS.filter(([l]) => /empty|nul|1 MiB|big/.test(l))),
  ],
});
// An optional seal key (`config.sealKey`, `importState`'s `options.sealKey`).
const optKey = () => ({
  hostile: () => [
    ...wrongTypes(["absent", "bytes"]),
    ["empty key", () => ""],
    ["15-byte key", () => new Uint8Array(15)],
    ["big key", () => new Uint8Array(size("big"))],
    ...fromCatalogue(STRINGS.filter(([l]) => /empty|nul|1 MiB|big/.test(l))),
  ],
});
/** A body that must be given (a push's): `body()`'s values, and absent ones. */
const requiredBody = () => ({ hostile: () => [["undefined", () => undefined], ["null", () => null], ...body().hostile()] });
const fn = (optional = false) => ({ hostile: () => wrongTypes(optional ? ["absent", "function"] : ["function"]) });
const headers = () => ({
  hostile: () => [
    ...wrongTypes(["absent", "plain", "array", "iterable"]),
    ...HEADER_NAMES.map(([l, n]) => [l, () => [[n, "v"]]]),
    ...HEADER_VALUES.map(([l, v]) => [l, () => ({ "x-a": v })]),
    ...fromCatalogue(HEADER_LISTS),
    ["record with number value", () => ({ "x-a": 1 })],
    ["record with lone surrogate value", () => ({ "x-a": "\uD800" })],
    ["record with throwing getter", () => ({ get "x-a"() { throw SENTINEL; } })],
    ["pair of three", () => [["a", "b", "c"]]],
    ["pair with number", () => [["a", 1]]],
    ["pair that is a string", () => ["ab"]],
    ["pairs with lone surrogate name", () => [["x-\uDFFF", "v"]]],
    ["100k-pair Map", () => new Map(HEADER_LISTS.find(([l]) => /100k/.test(l))[1])],
  ],
});

/** An object slot with typed fields; `optional` when the whole object may be absent. */
const object = (fields, { optional = false } = {}) => ({ fields, optional });

/** A record of strings (event variables, metadata); `nulls`: `null` values mean "delete". */
const stringRecord = (optional, nulls = false) => ({
  hostile: () => [
    ...wrongTypes(optional ? ["absent", "plain"] : ["plain"]),
    ["record with number value", () => ({ a: 1 })],
    ["record with lone surrogate value", () => ({ a: "\uD800" })],
    ["record with lone surrogate key", () => ({ "\uDFFF": "v" })],
    ["record with throwing getter", () => ({ get a() { throw SENTINEL; } })],
    ["record with bad key", () => ({ "A B": "v" })],
    ["record with 10k + 1 entries", () => Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`k${i}`, "v"]))],
    ["record with big value", () => ({ a: STRINGS.find(([l]) => l === "string big")[1] })],
    ...(nulls ? [["record with undefined value", () => ({ a: undefined })]] : [["record with null value", () => ({ a: null })]]),
  ],
});
const EVENT = { sourceId: "src_1", templateId: "tpl_1", contactId: "con_1", siteId: "sit_1", description: "d", externalUrl: "https://shop.example/x", variables: { unit: "A-12" } };
const eventSlot = () =>
  object({
    sourceId: text(),
    templateId: text(),
    contactId: optText(),
    siteId: optText(),
    description: optText(),
    externalUrl: optText([...STRINGS, ...URLS]),
    variables: stringRecord(true),
  });

// ---- fixtures -----------------------------------------------------------------------

function registered() {
  const c = Companion.create({ brokerUrl: BROKER });
  c.useSeededEntropy(SEED);
  c.registrationRequest(REG);
  c.handleRegistrationResponse({ status: 201, body: "{}" });
  return c;
}
const REGISTERED = registered().exportState();

function pendingConnect() {
  const c = Companion.importState(REGISTERED);
  const state = new URL(c.connectUrl({ returnUrl: RETURN, now: NOW, state: "hostile-state-0123456789" })).searchParams.get("state");
  assert.equal(state, "hostile-state-0123456789");
  return c;
}
const PENDING = pendingConnect().exportState();
const CALLBACK = `${RETURN}?state=hostile-state-0123456789&code=cc_hostile-0123456789`;
const CONNECT_ANSWER = '{"broker_token":"btk_hostile","account":{"id":"acct_hostile","name":"Hostile Storage"}}';
const connectAnswerFetch = async () => ({ status: 200, headers: { "content-type": "application/json" }, body: CONNECT_ANSWER });
const CONNECTED = await (async () => {
  const c = Companion.importState(PENDING);
  const done = await c.completeConnect(CALLBACK, { fetch: connectAnswerFetch, sleep: () => {}, onPersist: () => {}, now: NOW + 1, clock: () => (NOW + 1) * 1000 });
  assert.deepEqual(done, { account: { id: "acct_hostile", name: "Hostile Storage" } });
  return c.exportState();
})();
const SECRET = JSON.parse(REGISTERED).installation.secret;
const INSTALL_ID = JSON.parse(REGISTERED).installation.id;
const MISMATCH = (() => {
  const c = Companion.importState(CONNECTED);
  assert.equal(c.checkSite("https://moved.example").kind, "mismatch");
  return c.exportState();
})();
const AWAITING = (() => {
  const c = Companion.create({ brokerUrl: BROKER });
  c.registrationRequest(REG);
  c.handleRegistrationResponse({ status: 202, body: JSON.stringify({ challenge: "challenge-0123456789abcdef" }) });
  return c.exportState();
})();
const SEAL_KEY = "0123456789abcdef-hostile";
const SEALED = Companion.importState(CONNECTED).sealState(SEAL_KEY);
const fresh = () => Companion.create({ brokerUrl: BROKER });
const connected = () => Companion.importState(CONNECTED);
const signedRequest = () => connected().signRequest({ method: "POST", path: "/api/x", body: "{}" }, { now: NOW });
const connectLink = () => Companion.importState(REGISTERED).connectUrl({ returnUrl: RETURN, now: NOW });
const ticket = () => Companion.importState(REGISTERED).uninstallUrl({ now: NOW });
const okFetch = async () => ({ status: 204 });
/** Authorization-proxy mode's configuration (`config.proxy`). */
const PROXY = { storaApiUrl: "https://api.stora.example/2025-09", refreshMarginSecs: 60, token: "/t", refresh: "/r", revoke: "/v" };
/** A Web Locks API stand-in (Node has no navigator.locks) that grants at once. */
const STUB_LOCKS = { request: (_name, _options, callback) => Promise.resolve().then(callback) };
/** The broker's answer to a pull: an empty page (a valid one: the baseline succeeds). */
const PUSH_BODY = `{"events":[{"id":"evt_1","type":"contact.created","api_version":"2025-09","created_at":${NOW},"data":{"object":{}}}]}`;
const pageFetch = async () => ({ status: 200, headers: { "content-type": "application/json" }, body: '{"events":[],"cursor":"0","has_more":false}' });
const driverOptions = () => ({ fetch: okFetch, sleep: () => {}, onPersist: () => {}, clock: () => NOW * 1000 });
const driverFields = () => ({
  fetch: fn(true),
  sleep: fn(true),
  onPersist: fn(true),
  clock: fn(true),
  signal: { hostile: () => [...wrongTypes(["absent"]), ["aborted signal", () => AbortSignal.abort(SENTINEL)]] },
  lock: fn(true),
  unlock: fn(true),
});
const driverSlot = () => object(driverFields(), { optional: true });
// register() and siteMoved() also take serveProof.
const proofDriverSlot = () => object({ ...driverFields(), serveProof: fn(true) }, { optional: true });
// Results a `fetch` may resolve with, fed to every driver.
const FETCH_RESULTS = [
  ["fetch → undefined", async () => undefined],
  ["fetch → null", async () => null],
  ["fetch → number", async () => 200],
  ["fetch → string", async () => "200 OK"],
  ["fetch → {}", async () => ({})],
  ["fetch → status string", async () => ({ status: "204" })],
  ["fetch → status NaN", async () => ({ status: NaN })],
  ["fetch → status 70000", async () => ({ status: 70000 })],
  ["fetch → headers number", async () => ({ status: 204, headers: 5 })],
  ["fetch → headers bad pairs", async () => ({ status: 204, headers: [["a"]] })],
  ["fetch → body object", async () => ({ status: 204, body: {} })],
  ["fetch → body lone surrogate", async () => ({ status: 204, body: "\uD800" })],
  ["fetch → throwing status getter", async () => ({ get status() { throw SENTINEL; } })],
  ["fetch → throwing arrayBuffer", async () => ({ status: 204, headers: [], arrayBuffer: async () => { throw SENTINEL; } })],
  ["fetch → arrayBuffer not bytes", async () => ({ status: 204, headers: [], arrayBuffer: async () => "nope" })],
  ["fetch → rejects with null-prototype object", async () => { throw Object.create(null); }],
  ["fetch → rejects with symbol", async () => { throw Symbol("s"); }],
  ["fetch → rejects with SENTINEL-toString", async () => { throw { toString() { throw SENTINEL; } }; }],
  ["fetch → throws synchronously", () => { throw SENTINEL; }],
  ["fetch → 200 with big body", async () => ({ status: 200, body: new Uint8Array(size("big")) })],
  ["fetch → 401 deep json body", async () => ({ status: 401, body: STRINGS.find(([l]) => /arrays 30k/.test(l))[1] })],
  ["fetch → 429 huge retry-after", async () => ({ status: 429, headers: { "retry-after": "9".repeat(400) } })],
  ["fetch → 429 header list 100k", async () => ({ status: 429, headers: HEADER_LISTS.find(([l]) => /100k/.test(l))[1] })],
];
const CLOCKS = [
  ["clock → NaN", () => NaN],
  ["clock → string", () => "now"],
  ["clock → Infinity", () => Infinity],
  ["clock → 1e300", () => 1e300],
  ["clock → -1e300", () => -1e300],
  ["clock → bigint", () => 1n],
  ["clock → throws", () => { throw SENTINEL; }],
];
const secretForSlot = () => ({
  hostile: () => [
    ...wrongTypes(["function"]),
    ["secretFor → number", () => () => 42],
    ["secretFor → object", () => () => ({})],
    ["secretFor → symbol", () => () => Symbol("s")],
    ["secretFor → not base64url", () => () => "not base64url!"],
    ["secretFor → short", () => () => "c2hvcnQ"],
    ["secretFor → lone surrogate", () => () => "\uD800"],
    ["secretFor → big string", () => () => STRINGS.find(([l]) => l === "string big")[1]],
    ["secretFor → empty bytes", () => () => new Uint8Array(0)],
    ["secretFor → big bytes", () => () => new Uint8Array(size("big"))],
    ["secretFor → throws", () => () => { throw SENTINEL; }],
    ["secretFor → rejects", () => async () => { throw SENTINEL; }],
    ["secretFor → promise of junk", () => async () => ({})],
    ["secretFor → thenable getter throws", () => () => ({ get then() { throw SENTINEL; } })],
  ],
});

// ---- every public member ----------------------------------------------------------------

// `receiver` makes a fresh `this`; `args` the baseline arguments (it must
// succeed: checked first); `slots` one per argument.
const SPEC = {
  "Companion.create": {
    call: (_, a) => proxyPkg.Companion.create(...a),
    args: () => [{ brokerUrl: BROKER, routes: { connect: "/c" }, retry: { maxAttempts: 2 }, sealKey: SEAL_KEY, proxy: { ...PROXY } }],
    slots: [
      object({
        brokerUrl: text([...STRINGS, ...URLS]),
        sealKey: optKey(),
        proxy: object(
          { storaApiUrl: text([...STRINGS, ...URLS]), refreshMarginSecs: count(), token: optText(), refresh: optText(), revoke: optText() },
          { optional: true },
        ),
        routes: object({ installations: optText(), connect: optText(URLS), disconnect: optText() }, { optional: true }),
        retry: object(
          { maxAttempts: count(), baseDelayMs: count(), maxDelayMs: count(), maxTotalDelayMs: count(), maxRetryAfterMs: count() },
          { optional: true },
        ),
      }),
    ],
  },
  "Companion.importState": {
    call: (_, a) => Companion.importState(...a),
    args: () => [CONNECTED, { sealKey: SEAL_KEY }],
    slots: [
      {
        hostile: () => [
          ...wrongTypes(["plain", "lone-ok"]),
          ...fromCatalogue(STRINGS),
          ["truncated state", () => CONNECTED.slice(0, CONNECTED.length >> 1)],
          ["state with retry u64 max", () => CONNECTED.replace(/"max_delay_ms":\d+/, '"max_delay_ms":18446744073709551615')],
          ["state with base delay u64 max", () => CONNECTED.replace(/"base_delay_ms":\d+/, '"base_delay_ms":18446744073709551615')],
          ["state with clock offset i64 max", () => CONNECTED.replace(/"clock_offset":-?\d+/, '"clock_offset":9223372036854775807')],
          ["state with clock offset i64 min", () => CONNECTED.replace(/"clock_offset":-?\d+/, '"clock_offset":-9223372036854775808')],
          ["cyclic object", () => { const o = {}; o.o = o; return o; }],
          ["object with bigint", () => ({ v: 1n })],
          ["object nested 20k", () => { let o = {}; for (let i = 0; i < 20000; i++) o = { o }; return o; }],
          ["object with throwing toJSON", () => ({ toJSON() { throw SENTINEL; } })],
        ],
      },
      object({ sealKey: optKey() }, { optional: true }),
    ],
  },
  "Companion.openState": {
    call: (_, a) => Companion.openState(...a),
    args: () => [SEALED, SEAL_KEY],
    slots: [text(), key()],
  },
  "Companion.classify": {
    call: (_, a) => Companion.classify(...a),
    args: () => [{ status: 429, headers: { "retry-after": "3" }, body: "" }, { now: NOW }],
    slots: [object({ status: status(), headers: headers(), body: body() }), object({ now: time() }, { optional: true })],
  },
  "Companion#exportState": { receiver: connected, call: (c) => c.exportState(), args: () => [], slots: [] },
  "Companion#toJSON": { receiver: connected, call: (c) => c.toJSON(), args: () => [], slots: [] },
  "Companion#status": { receiver: connected, get: "status", args: () => [], slots: [] },
  "Companion#installId": { receiver: connected, get: "installId", args: () => [], slots: [] },
  "Companion#siteUrl": { receiver: connected, get: "siteUrl", args: () => [], slots: [] },
  "Companion#reconnectReason": { receiver: connected, get: "reconnectReason", args: () => [], slots: [] },
  "Companion#account": { receiver: connected, get: "account", args: () => [], slots: [] },
  "Companion#clockOffset": { receiver: connected, get: "clockOffset", args: () => [], slots: [] },
  "Companion#useSeededEntropy": {
    receiver: connected,
    call: (c, a) => c.useSeededEntropy(...a),
    args: () => [new Uint8Array(32)],
    slots: [{ hostile: () => [...wrongTypes(["absent", "bytes"]), ["31 bytes", () => new Uint8Array(31)], ["big", () => new Uint8Array(size("big"))], ...fromCatalogue(STRINGS)] }],
  },
  "Companion#register": {
    async: true,
    receiver: fresh,
    call: (c, a) => c.register(...a),
    args: () => [{ ...REG }, { ...driverOptions(), fetch: async () => ({ status: 201 }), serveProof: () => true }],
    slots: [object({ siteUrl: text([...STRINGS, ...URLS]), adminEmail: text(), platform: text(), pluginVersion: text() }), proofDriverSlot()],
    fetchSlot: 1,
  },
  "Companion#registrationRequest": {
    receiver: fresh,
    call: (c, a) => c.registrationRequest(...a),
    args: () => [{ ...REG }],
    slots: [object({ siteUrl: text([...STRINGS, ...URLS]), adminEmail: text(), platform: text(), pluginVersion: text() })],
  },
  "Companion#handleRegistrationResponse": {
    receiver: () => {
      const c = fresh();
      c.registrationRequest(REG);
      return c;
    },
    call: (c, a) => c.handleRegistrationResponse(...a),
    args: () => [{ status: 202, headers: { date: "Tue, 14 Nov 2023 22:13:20 GMT" }, body: '{"challenge":"challenge-0123456789abcdef"}' }],
    slots: [object({ status: status(), headers: headers(), body: body() })],
  },
  "Companion#ownershipProof": { receiver: () => Companion.importState(AWAITING), call: (c) => c.ownershipProof(), args: () => [], slots: [] },
  "Companion#connectUrl": {
    receiver: () => Companion.importState(REGISTERED),
    call: (c, a) => c.connectUrl(...a),
    args: () => [{ returnUrl: RETURN, scope: "units:read", now: NOW, state: "fixed-state-0123456789" }],
    slots: [object({ returnUrl: text([...STRINGS, ...URLS]), scope: optText(), now: time(), state: optText() })],
  },
  "Companion#completeConnect": {
    async: true,
    receiver: () => Companion.importState(PENDING),
    call: (c, a) => c.completeConnect(...a),
    args: () => [CALLBACK, { ...driverOptions(), fetch: connectAnswerFetch, now: NOW + 1 }],
    slots: [text([...STRINGS, ...URLS]), object({ ...driverFields(), now: time() }, { optional: true })],
    fetchSlot: 1,
  },
  "Companion#signRequest": {
    receiver: connected,
    call: (c, a) => c.signRequest(...a),
    args: () => [{ method: "POST", path: "/api/x?a=1", headers: { "x-a": "b" }, body: "{}" }, { now: NOW, nonce: "n0nce", idempotencyKey: "k" }],
    slots: [
      object({ method: text(), path: text([...STRINGS, ...URLS]), headers: headers(), body: body() }),
      object({ now: time(), nonce: optText(), idempotencyKey: optText() }, { optional: true }),
    ],
  },
  "Companion#call": {
    async: true,
    receiver: connected,
    call: (c, a) => c.call(...a),
    args: () => [{ method: "POST", path: "/api/x", headers: [["x-a", "b"]], body: new Uint8Array(2) }, driverOptions()],
    slots: [object({ method: text(), path: text([...STRINGS, ...URLS]), headers: headers(), body: body() }), driverSlot()],
    fetchSlot: 1,
  },
  "Companion#callAndRecord": {
    async: true,
    receiver: connected,
    call: (c, a) => c.callAndRecord(...a),
    args: () => [{ method: "POST", path: "/api/contacts", body: "{}" }, { ...EVENT, variables: { ...EVENT.variables } }, driverOptions()],
    slots: [object({ method: text(), path: text([...STRINGS, ...URLS]), headers: headers(), body: body() }), eventSlot(), driverSlot()],
    fetchSlot: 2,
  },
  "Companion#pullEvents": {
    async: true,
    receiver: connected,
    call: (c, a) => c.pullEvents(...a),
    args: () => [{ ...driverOptions(), fetch: pageFetch, limit: 10 }],
    slots: [object({ ...driverFields(), limit: count() }, { optional: true })],
    fetchSlot: 0,
  },
  "Companion#acknowledgeEvents": {
    async: true,
    receiver: connected,
    call: (c, a) => c.acknowledgeEvents(...a),
    args: () => ["42", { onPersist: () => {} }],
    slots: [text(STRINGS), object({ onPersist: fn(true) }, { optional: true })],
  },
  "Companion#eventsCursor": { receiver: connected, get: "eventsCursor", args: () => [], slots: [] },
  "Companion#verifyPush": {
    receiver: connected,
    call: (c, a) => c.verifyPush(...a),
    args: () => [{ "tessera-push-signature": pkg.signPush(SECRET, INSTALL_ID, PUSH_BODY, NOW) }, PUSH_BODY, NOW],
    slots: [headers(), requiredBody(), time()],
  },
  "Companion#pushRegistrationRequest": {
    receiver: connected,
    call: (c, a) => c.pushRegistrationRequest(...a),
    args: () => [`${SITE}/wp-json/sync/v1/events`],
    slots: [{ hostile: () => [...wrongTypes([]), ...fromCatalogue([...STRINGS, ...URLS])] }],
  },
  signPush: {
    call: (_, a) => pkg.signPush(...a),
    args: () => [SECRET, INSTALL_ID, PUSH_BODY, NOW],
    slots: [key(), text(), requiredBody(), time()],
  },
  "Companion#disconnect": { async: true, receiver: connected, call: (c, a) => c.disconnect(...a), args: () => [driverOptions()], slots: [driverSlot()], fetchSlot: 0 },
  "Companion#revokePrevious": {
    async: true,
    receiver: connected,
    call: (c, a) => c.revokePrevious(...a),
    args: () => ["ins_cHJldmlvdXMtaW5zdGFsbA", driverOptions()],
    slots: [text(STRINGS), driverSlot()],
    fetchSlot: 1,
  },
  "Companion#uninstall": { async: true, receiver: connected, call: (c, a) => c.uninstall(...a), args: () => [driverOptions()], slots: [driverSlot()], fetchSlot: 0 },
  "Companion#reset": {
    async: true,
    receiver: connected,
    call: (c, a) => c.reset(...a),
    args: () => [{ ...REG }, { ...driverOptions(), fetch: async () => ({ status: 201 }), serveProof: () => true }],
    slots: [object({ siteUrl: text([...STRINGS, ...URLS]), adminEmail: text(), platform: text(), pluginVersion: text() }), proofDriverSlot()],
    fetchSlot: 1,
  },
  "Companion#siteMoved": {
    async: true,
    receiver: () => Companion.importState(MISMATCH),
    call: (c, a) => c.siteMoved(...a),
    args: () => [{ ...driverOptions(), fetch: async () => ({ status: 200 }), serveProof: () => true }],
    slots: [proofDriverSlot()],
    fetchSlot: 0,
  },
  "Companion#checkSite": { receiver: connected, call: (c, a) => c.checkSite(...a), args: () => [SITE], slots: [text([...STRINGS, ...URLS])] },
  "Companion#resolveSiteAsCopy": { receiver: () => Companion.importState(MISMATCH), call: (c) => c.resolveSiteAsCopy(), args: () => [], slots: [] },
  "Companion#uninstallUrl": { receiver: connected, call: (c, a) => c.uninstallUrl(...a), args: () => [{ now: NOW }], slots: [object({ now: time() }, { optional: true })] },
  "Companion#sealState": { receiver: connected, call: (c, a) => c.sealState(...a), args: () => [SEAL_KEY], slots: [key()] },
  "Companion#free": { receiver: connected, call: (c) => c.free(), args: () => [], slots: [] },
  readResponse: {
    async: true,
    call: (_, a) => pkg.readResponse(...a),
    args: () => [{ status: 401, headers: [["content-type", "application/json"]], body: '{"error":"stora_reconnect_required"}' }],
    slots: [object({ status: status(), headers: headers(), body: body() })],
  },
  classify: {
    call: (_, a) => pkg.classify(...a),
    args: () => [{ status: 401, headers: [["content-type", "application/json"]], body: '{"error":"stora_reconnect_required"}' }, { now: NOW }],
    slots: [object({ status: status(), headers: headers(), body: body() }), object({ now: time() }, { optional: true })],
  },
  hmacSignGeneric: {
    call: (_, a) => pkg.hmacSignGeneric(...a),
    args: () => [{ method: "POST", url: "https://example.com/foo?param=Value&Pet=dog", headers: { date: "x" }, body: "{}" }, 'sig-b25=("date" "@authority");created=1618884473;keyid="test-shared-secret"', "key"],
    slots: [object({ method: text(), url: text([...STRINGS, ...URLS]), headers: headers(), body: body() }), text(), key()],
  },
  timelineEventRequest: {
    call: (_, a) => pkg.timelineEventRequest(...a),
    args: () => [{ ...EVENT, variables: { ...EVENT.variables } }, "order-7"],
    slots: [eventSlot(), text()],
  },
  validateMetadata: { call: (_, a) => pkg.validateMetadata(...a), args: () => [{ plan: "gold" }], slots: [stringRecord(false)] },
  metadataPatch: {
    call: (_, a) => pkg.metadataPatch(...a),
    args: () => [{ plan: null, tier: "2" }, { plan: "gold" }],
    slots: [stringRecord(false, true), stringRecord(true)],
  },
  contentDigest: { call: (_, a) => pkg.contentDigest(...a), args: () => ["{}"], slots: [body()] },
  webLocks: {
    call: (_, a) => pkg.webLocks(...a),
    args: () => [async () => "state", { timeoutMs: 100, locks: STUB_LOCKS }],
    slots: [
      fn(),
      object(
        { timeoutMs: count(), locks: { hostile: () => [...wrongTypes(["absent"]), ["locks without request", () => ({})]] } },
        { optional: true },
      ),
    ],
  },
  MemoryReplayStore: { call: (_, a) => new MemoryReplayStore(...a), args: () => [10], slots: [count()] },
  "MemoryReplayStore#size": { receiver: () => new MemoryReplayStore(2), get: "size", args: () => [], slots: [] },
  verifyRequest: {
    async: true,
    call: (_, a) => pkg.verifyRequest(...a),
    args: () => [signedRequest(), { secretFor: () => SECRET, replayStore: { checkAndInsert: () => true }, now: NOW, windowSecs: 300 }],
    slots: [
      object({ method: text(), url: text([...STRINGS, ...URLS]), headers: headers(), body: body() }),
      object({
        secretFor: secretForSlot(),
        replayStore: {
          hostile: () => [
            ...wrongTypes([]),
            ["checkAndInsert not a function", () => ({ checkAndInsert: 5 })],
            ["checkAndInsert throws", () => ({ checkAndInsert: () => { throw SENTINEL; } })],
            ["checkAndInsert rejects", () => ({ checkAndInsert: async () => { throw SENTINEL; } })],
            ["checkAndInsert → 'yes'", () => ({ checkAndInsert: () => "yes" })],
            ["checkAndInsert → 'full'", () => ({ checkAndInsert: () => "full" })],
            ["checkAndInsert → promise of 'seen'", () => ({ checkAndInsert: async () => "seen" })],
            ["fake MemoryReplayStore", () => Object.create(MemoryReplayStore.prototype)],
          ],
        },
        now: time(),
        windowSecs: count(),
      }),
    ],
  },
  verifyConnectUrl: {
    async: true,
    call: (_, a) => pkg.verifyConnectUrl(...a),
    args: () => [connectLink(), { secretFor: () => SECRET, now: NOW }],
    slots: [text([...STRINGS, ...URLS]), object({ secretFor: secretForSlot(), now: time() })],
  },
  verifyUninstallTicket: {
    async: true,
    call: (_, a) => pkg.verifyUninstallTicket(...a),
    args: () => [INSTALL_ID, ticket(), { secretFor: () => SECRET, now: NOW, maxAgeSecs: 60 }],
    slots: [text(), text([...STRINGS, ...URLS]), object({ secretFor: secretForSlot(), now: time(), maxAgeSecs: count() })],
  },
  verifyOwnershipProof: {
    call: (_, a) => pkg.verifyOwnershipProof(...a),
    args: () => {
      const c = Companion.importState(AWAITING);
      const state = JSON.parse(AWAITING);
      return [{ secret: state.installation.secret, installId: state.installation.id, challenge: "challenge-0123456789abcdef", proof: c.ownershipProof().body }];
    },
    slots: [object({ secret: key(), installId: text(), challenge: text(), proof: text() })],
  },
  macChecks: { call: (_, a) => pkg.macChecks(...a), args: () => [], slots: [], note: "test hook (test builds only): takes no input" },
  init: { async: true, call: (_, a) => pkg.init(...a), args: () => [], slots: [], note: "Node entry: ready at import; init() ignores its argument. The web entry's init is covered below." },
  initSync: { call: (_, a) => pkg.initSync(...a), args: () => [], slots: [], note: "as init" },
};

// Exports that are not functions taking input.
const EXEMPT = {
  TesseraError: "the error class: its constructor is private (index.d.ts) and toJSON() takes no input",
  "TesseraError#toJSON": "reads only the error's own fields",
  "TesseraError#name": "a string property",
};

// ---- which hostile calls may succeed, and why ------------------------------------------

// [member regex, path regex, label regex, reason]: a hostile call that
// succeeds must match one of these. Everything else must be refused.
const ACCEPTED = [
  [/./, /./, /^(undefined|null)$/, "optional: absent means the default", (path, spec) => isOptionalPath(spec, path)],
  [/./, /./, /^(bad iterator|infinite iterator)$/, "an optional options bag: only its documented fields are read", (path, spec) => isOptionalPath(spec, path)],
  [/./, /\.(now)$/, /^(zero|negative zero|time negative|time very negative)$/, "any whole second is a time (the core's i64); a wrong clock only yields signatures the broker refuses"],
  [/^Companion#(handleRegistrationResponse)$|^(Companion\.)?classify$|^readResponse$/, /\.headers$/, /^(header (name|value) .*|header list (101 distinct|10k duplicates))$/, "a response's headers are whatever the broker sent; the core reads only the ones it knows"],
  [/^(Companion\.)?classify$|^readResponse$/, /\.status$/, /^(zero|negative zero)$/, "status 0 (no response) is a valid input: server_unavailable"],
  [/^(Companion\.)?classify$|^readResponse$|^contentDigest$|^hmacSignGeneric$/, /\.body$|^0$/, /^(1 MiB \+ 1 bytes|big string body|big bytes)$/, "bodies are bytes of any size up to the binding's 64 MiB copy bound (classify reads a bounded prefix; the digest and the generic signer have no limit)"],
  [/./, /\.body$|^0$/, /^detached ArrayBuffer$/, "a detached ArrayBuffer has byteLength 0: it reads as the empty body"],
  [/^hmacSignGeneric$/, /^2$/, /^(empty key|15-byte key|string (empty|nul|embedded nul|percent nul|word null|1 MiB|1 MiB \+ 1 of 2-byte))$/, "the low-level generic signer takes any HMAC key (RFC 2104: any length)"],
  [/^Companion#sealState$|^Companion\.openState$/, /^(0|1)$/, /^(string (1 MiB|1 MiB \+ 1 of 2-byte))$/, "key material of any length ≥ 16 bytes (HKDF input)"],
  [/^Companion\.(create|importState)$/, /^(0|1)\.sealKey$/, /^(string (1 MiB|1 MiB \+ 1 of 2-byte))$/, "a seal key is key material of any length ≥ 16 bytes (HKDF input)"],
  [/^Companion#(register|reset|registrationRequest|checkSite)$/, /siteUrl$|^0$/, /^url (plain http|hex ip)$/, "a site may be plain http; the core normalises the host"],
  [/^Companion#(register|reset|registrationRequest)$/, /\.platform$/, /^string word null$/, "`null` is a valid platform name ([a-z0-9._-]{1,32})"],
  [/^Companion#(register|reset|registrationRequest)$/, /\.pluginVersion$/, /^string (percent .*|bad percent escape|format string|path traversal|word null|json .*)$/, "the plugin version is free text the core JSON-encodes"],
  [/^Companion#connectUrl$/, /\.scope$/, /./, "scope is free text (1-256 visible ASCII) the core percent-encodes"],
  [/^Companion#connectUrl$/, /\.returnUrl$/, /^url (plain http|file|userinfo|port out of range|negative port|open ipv6|bad escape|backslash authority|dot segments|hex ip|long host label)$/, "the core checks only that a return URL is absolute visible ASCII without a fragment (any scheme, e.g. chrome-extension://); which return URLs to redirect to is the broker's decision (see the report)"],
  [/^(Companion#(signRequest|call|callAndRecord)|hmacSignGeneric)$/, /\.method$/, /^string word null$/, "`null` is a valid method token"],
  [/^Companion#(signRequest|call|callAndRecord)$/, /\.path$/, /^url scheme-relative$/, "joined below the broker URL (https://broker.example//broker.example/x): it cannot leave the broker"],
  [/^Companion\.create$/, /\.routes\.connect$/, /^url scheme-relative$/, "joined below the broker URL like a path"],
  [/^Companion#signRequest$/, /\.(nonce|idempotencyKey)$/, /^string word null$/, "`null` is a valid nonce / key token"],
  [/^(Companion#callAndRecord|timelineEventRequest)$/, /\.(sourceId|templateId|contactId|siteId)$/, /^string (percent .*|bad percent escape|format string|path traversal|word null|json (truncated|trailing garbage|nan literal|lone surrogate escape|huge number|proto key))$/, "ids are any 1-100 visible ASCII characters (Stora's ids are opaque); the core JSON-encodes them"],
  [/^(Companion#callAndRecord|timelineEventRequest)$/, /\.description$/, /^string (?!deep|just over|1 MiB|big)/, "the description is free text of at most 1000 characters the core JSON-encodes"],
  [/^timelineEventRequest$/, /^1$/, /^string word null$/, "`null` is a valid external id ([A-Za-z0-9._~-]{1,124})"],
  [/^Companion#revokePrevious$/, /^0$/, /^string word null$/, "`null` is a valid install id token ([A-Za-z0-9._~-]): the broker answers whether it exists"],
  [/^hmacSignGeneric$/, /\.url$/, /^url (plain http|hex ip)$/, "the generic signer signs any absolute http(s) URL"],
  [/^Companion#pushRegistrationRequest$/, /^0$/, /^null$/, "null stops the pushes (DELETE /events/push); undefined is refused"],
  [/^signPush$/, /^1$/, /^string /, "the broker signs for the install id it holds: the id is MAC input only (a wrong one yields a push the plugin refuses)"],
  [/^signPush$/, /^2$/, /^(1 MiB \+ 1 bytes|big string body|big bytes|detached ArrayBuffer)$/, "the broker signs the bytes it sends, of any size up to the binding's copy bound (the plugin refuses a push over 320 KiB)"],
  [/^signPush$/, /^3$/, /^time (negative|very negative)$/, "any whole second is a time (the core's i64); the plugin refuses a stale push"],
  [/^Companion\.importState$/, /^0$/, /^state with (base delay u64 max|clock offset i64 (max|min))$/, "the core accepts these fields as stored (see the extreme-state test and the report)"],
];
function isOptionalPath(spec, path) {
  let slot = { fields: Object.fromEntries(spec.slots.map((s, i) => [String(i), s])), optional: false };
  for (const part of path.split(".")) {
    if (!slot.fields) return false;
    slot = slot.fields[part];
    if (!slot) return false;
  }
  if (slot.fields) return slot.optional;
  // A leaf is optional when its hostile list does not contain undefined.
  return !slot.hostile().some(([l]) => l === "undefined");
}
function accepted(member, path, label, spec) {
  for (const [m, p, l, reason, extra] of ACCEPTED) {
    if (m.test(member) && p.test(path) && l.test(label) && (!extra || extra(path, spec))) return reason;
  }
  return null;
}

// ---- running one hostile call ---------------------------------------------------------

const counts = { calls: 0, refused: 0, accepted: 0, propagated: 0 };
const failures = [];

/** Labels whose value runs caller code that throws SENTINEL (or a revoked proxy's TypeError). */
const CALLER_THROWS = /throwing|throws|rejects|SENTINEL|aborted signal|getter throws|revoked proxy/;

function classifyOutcome(member, path, label, spec, result) {
  counts.calls++;
  const where = `${member} ${path} ← ${label}`;
  if (result.ok) {
    const reason = accepted(member, path, label, spec);
    if (reason) counts.accepted++;
    else failures.push(`${where}: accepted (returned ${preview(result.value)})`);
    return;
  }
  const e = result.error;
  if (e instanceof TesseraError) {
    if (e.code === "internal") failures.push(`${where}: internal error ${e.message}`);
    else counts.refused++;
    return;
  }
  if (CALLER_THROWS.test(label) && (e === SENTINEL || (label.includes("revoked") && e instanceof TypeError && /revoked/.test(e.message)))) {
    counts.propagated++;
    return;
  }
  failures.push(`${where}: threw ${e?.constructor?.name ?? typeof e}: ${String(e?.message ?? e).slice(0, 160)}`);
}

function preview(v) {
  try {
    return String(JSON.stringify(v)).slice(0, 120);
  } catch {
    return String(v);
  }
}

async function invoke(spec, receiver, args) {
  try {
    let value;
    if (spec.get) value = Object.getOwnPropertyDescriptor(protoOf(spec), spec.get).get.call(receiver);
    else if (spec.method) value = protoOf(spec)[spec.method].apply(receiver, args);
    else value = spec.call(receiver, args);
    if (spec.async) {
      assert.ok(value instanceof Promise, "an async API returns a promise (never throws synchronously)");
      value = await value;
    }
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error };
  }
}
const protoOf = (spec) => (spec === SPEC["MemoryReplayStore#size"] ? MemoryReplayStore.prototype : Companion.prototype);
// Methods are called through the prototype, so that any `this` can be passed.
for (const [member, spec] of Object.entries(SPEC)) {
  if (member.includes("#") && !spec.get) spec.method = member.split("#")[1];
}

/** The module still works, and so does the receiver when it is a live Companion. */
async function sanity(receiver) {
  const c = connected();
  const signed = c.signRequest({ method: "GET", path: "/api/sanity" }, { now: NOW });
  assert.equal(signed.method, "GET");
  await pkg.verifyRequest(signed, { secretFor: () => SECRET, now: NOW, replayStore: { checkAndInsert: () => true } });
  assert.equal(pkg.contentDigest("x").slice(0, 8), "sha-256=");
  if (receiver instanceof Companion && Object.getPrototypeOf(receiver) === Companion.prototype && receiver !== Companion.prototype) {
    try {
      assert.equal(typeof receiver.status, "string");
      assert.equal(typeof receiver.exportState(), "string");
    } catch (e) {
      // Only a freed companion (invalid_state) or a fake one (invalid_input) may refuse.
      assert.ok(e instanceof TesseraError && ["invalid_state", "invalid_input"].includes(e.code), `receiver poisoned: ${e}`);
    }
  }
}

/** Sets `value` at `path` ("1.retry.maxAttempts") in a fresh argument list. */
function withValue(args, path, value, { getter = false } = {}) {
  const parts = path.split(".");
  const last = parts.pop();
  let holder = args;
  for (const p of parts) {
    holder[p] = holder[p] === undefined || holder[p] === null ? {} : { ...holder[p] };
    holder = holder[p];
  }
  if (getter) Object.defineProperty(holder, last, { get() { throw SENTINEL; }, enumerable: true, configurable: true });
  else if (value === undefined && holder !== args) delete holder[last];
  else holder[last] = value;
  return args;
}

/** Every [path, label, factory] for one member. */
function hostileCalls(spec) {
  const out = [];
  const walk = (slot, path) => {
    if (slot.fields) {
      const wrong = wrongTypes(slot.optional ? ["absent", "plain", "throws", "revoked"] : ["plain", "throws", "revoked"]);
      for (const [label, f] of [...wrong, ["throwing proxy", throwingProxy], ["revoked proxy", revokedProxy]]) out.push([path, label, f]);
      if (!slot.optional) out.push([path, "undefined", () => undefined], [path, "null", () => null]);
      for (const [name, field] of Object.entries(slot.fields)) {
        out.push([`${path}.${name}`, "throwing getter", "GETTER"]);
        walk(field, `${path}.${name}`);
      }
      return;
    }
    for (const [label, f] of slot.hostile()) out.push([path, label, f]);
  };
  spec.slots.forEach((slot, i) => walk(slot, String(i)));
  return out;
}

// ---- the tests ------------------------------------------------------------------------------

/** Every exported function, class, static, method and getter, as SPEC names. */
function publicMembers() {
  const names = [];
  for (const [name, value] of Object.entries(pkg)) {
    if (typeof value !== "function") {
      names.push(`${name} (not a function)`);
      continue;
    }
    names.push(name);
    const isClass = /^class\b/.test(Function.prototype.toString.call(value));
    if (!isClass) continue;
    for (const s of Object.getOwnPropertyNames(value)) {
      if (["length", "name", "prototype"].includes(s)) continue;
      names.push(`${name}.${s}`);
    }
    for (const m of Object.getOwnPropertyNames(value.prototype)) {
      if (m === "constructor") continue;
      names.push(`${name}#${m}`);
    }
  }
  return names.filter((n) => n !== "Companion" /* not constructible: covered by `new Companion()` below */);
}

test("every public export, static, method and getter has a hostile-input spec", () => {
  const members = publicMembers();
  const covered = new Set([...Object.keys(SPEC), ...Object.keys(EXEMPT)]);
  assert.deepEqual(members.filter((m) => !covered.has(m)), [], "members without a SPEC entry");
  assert.deepEqual([...covered].filter((m) => !members.includes(m)), [], "SPEC entries for members that do not exist");
  assert.ok(members.length >= 40, `only ${members.length} members found`);
});

test("every baseline call succeeds (so a refusal below is caused by the hostile value)", async () => {
  for (const [member, spec] of Object.entries(SPEC)) {
    const receiver = spec.receiver?.();
    const r = await invoke(spec, receiver, spec.args());
    assert.ok(r.ok, `${member} baseline failed: ${r.error?.code ?? ""} ${r.error?.message ?? r.error}`);
    if (spec.fetchSlot !== undefined) {
      const args = spec.args();
      assert.ok(typeof args[spec.fetchSlot].fetch === "function");
    }
  }
});

test("hostile values in every argument position and field, then a sanity call", async () => {
  for (const [member, spec] of Object.entries(SPEC)) {
    for (const [path, label, factory] of hostileCalls(spec)) {
      const receiver = spec.receiver?.();
      const args = factory === "GETTER" ? withValue(spec.args(), path, undefined, { getter: true }) : withValue(spec.args(), path, factory());
      const result = await invoke(spec, receiver, args);
      classifyOutcome(member, path, factory === "GETTER" ? "throwing getter" : label, spec, result);
      await sanity(receiver);
      receiver?.free?.();
    }
  }
  report("arguments");
});

test("hostile receivers: unbound, foreign, prototype, freed, and in the wrong state", async () => {
  const freed = () => {
    const c = connected();
    c.free();
    return c;
  };
  const receivers = [
    ["undefined this", () => undefined],
    ["plain object this", () => ({})],
    ["foreign class this", () => new MemoryReplayStore(1)],
    ["prototype this", () => Companion.prototype],
    ["Object.create(prototype) this", () => Object.create(Companion.prototype)],
    ["throwing proxy this", throwingProxy],
    ["freed this", freed],
    ["unregistered this", fresh],
    ["connected this", connected],
    ["mismatch this", () => Companion.importState(MISMATCH)],
  ];
  for (const [member, spec] of Object.entries(SPEC)) {
    if (!spec.receiver) continue;
    for (const [label, make] of receivers) {
      const receiver = make();
      const result = await invoke(spec, receiver, spec.args());
      const live = ["unregistered this", "connected this", "mismatch this"].includes(label);
      if (result.ok && live) {
        counts.calls++;
        counts.accepted++; // a live companion in another state: the core decides
      } else if (member === "Companion#free" && result.ok && label === "freed this") {
        counts.calls++;
        counts.accepted++; // free() twice is harmless
      } else if (result.ok && member === "MemoryReplayStore#size" && label === "foreign class this") {
        counts.calls++;
        counts.accepted++;
      } else {
        classifyOutcome(member, "this", label === "throwing proxy this" ? "throwing proxy" : label, spec, result);
      }
      await sanity(live ? receiver : undefined);
    }
  }
  // The constructor is private.
  for (const args of [[], [undefined, undefined], [Symbol.for("Companion.construct"), {}]]) {
    classifyOutcome("new Companion", "0", "constructor arguments", {}, await (async () => { try { return { ok: true, value: new Companion(...args) }; } catch (error) { return { ok: false, error }; } })());
  }
  report("receivers");
});

test("hostile fetch results and clocks through every async driver", async () => {
  for (const [member, spec] of Object.entries(SPEC)) {
    if (spec.fetchSlot === undefined) continue;
    for (const [label, f] of [...FETCH_RESULTS.map(([l, f]) => [l, { fetch: f }]), ...CLOCKS.map(([l, c]) => [l, { clock: c }])]) {
      const receiver = spec.receiver();
      const args = spec.args();
      args[spec.fetchSlot] = { ...args[spec.fetchSlot], ...f, sleep: () => {} };
      const result = await invoke(spec, receiver, args);
      if (result.ok && /^fetch → (200|401|429)/.test(label)) {
        counts.calls++;
        counts.accepted++; // a valid (if odd) response: the core classifies it
      } else if (result.ok && member !== "Companion#call" && /^fetch →/.test(label)) {
        // disconnect/uninstall report a failed remote step instead of throwing.
        counts.calls++;
        const steps = member === "Companion#uninstall" || member === "Companion#reset" ? [result.value.disconnect, result.value.deregister] : [result.value?.remote];
        if (member === "Companion#siteMoved" || steps.some((s) => s?.result === "failed" && s.error instanceof TesseraError && s.error.code !== "internal")) counts.accepted++;
        else failures.push(`${member} ${label}: no failed step in ${preview(result.value)}`);
      } else {
        classifyOutcome(member, `${spec.fetchSlot}.fetch`, label, spec, result);
      }
      await sanity(receiver);
    }
  }
  report("drivers");
});

test("hostile serveProof callbacks in register() and siteMoved()", async () => {
  const challengeThen201 = () => {
    let n = 0;
    return async () => (n++ === 0 ? { status: 202, body: '{"challenge":"challenge-0123456789abcdef"}' } : { status: 201 });
  };
  const receivers = [
    ["Companion#register", fresh, (c, o) => c.register({ ...REG }, o)],
    ["Companion#siteMoved", () => Companion.importState(MISMATCH), (c, o) => c.siteMoved(o)],
  ];
  const callbacks = [
    ["serveProof throws", () => () => { throw SENTINEL; }],
    ["serveProof rejects", () => async () => { throw SENTINEL; }],
    ["serveProof → thenable getter throws", () => () => ({ get then() { throw SENTINEL; } })],
    ["serveProof frees the companion", (c) => () => c.free()],
    ["serveProof starts another operation", (c) => () => c.disconnect({ fetch: async () => ({ status: 204 }) })],
  ];
  // Anything but `false` means "served" (docs/HOST-CONTRACT.md): these complete.
  const served = [0, "", null, undefined, "false", {}, [], Symbol("s"), 1n, NaN];
  for (const [member, make, run] of receivers) {
    for (const [label, cb] of callbacks) {
      const c = make();
      let result;
      try {
        result = { ok: true, value: await run(c, { ...driverOptions(), fetch: challengeThen201(), serveProof: cb(c) }) };
      } catch (error) {
        result = { ok: false, error };
      }
      classifyOutcome(member, "1.serveProof", label, { slots: [] }, result);
      await sanity(c);
    }
    for (const value of served) {
      const c = make();
      await run(c, { ...driverOptions(), fetch: challengeThen201(), serveProof: () => value });
      assert.ok(["registered", "connected"].includes(c.status), `${member}: serveProof → ${String(value)} counts as served`);
      counts.calls++;
      counts.accepted++;
    }
  }
  report("serveProof");
});

test("the web entry: init()/initSync() with hostile inputs before the module is loaded", () => {
  const here = fileURLToPath(new URL(".", import.meta.url));
  const code = `
    import * as m from "tessera-companion/web";
    import { readFileSync } from "node:fs";
    const inputs = [() => undefined, () => null, () => 5, () => NaN, () => 1n, () => Symbol("s"), () => "not a url",
      () => "http://127.0.0.1:1/x.wasm", () => "\\uD800", () => ({}), () => [], () => () => {}, () => new Date(0),
      () => new Uint8Array([0, 97, 115, 109]), () => new ArrayBuffer(0), () => new Uint8Array(1 << 20),
      () => Promise.resolve(5), () => Promise.reject(new Error("x")), () => new Response("nope", { status: 404 }),
      () => new Response(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1])), () => new URL("file:///nonexistent.wasm"),
      () => new Proxy({}, { get() { throw new Error("trap"); } })];
    let refused = 0, calls = 0; const bad = [];
    for (const make of inputs) {
      const input = make();
      calls++;
      try { await m.init(input); bad.push("init accepted " + String(input?.constructor?.name ?? typeof input)); }
      catch (e) { if (e instanceof m.TesseraError && e.code !== "internal") refused++; else bad.push("init threw " + e); }
      calls++;
      const again = make();
      if (again instanceof Promise) again.catch(() => {});
      try { m.initSync(again); bad.push("initSync accepted " + String(input?.constructor?.name ?? typeof input)); }
      catch (e) { if (e instanceof m.TesseraError && e.code !== "internal") refused++; else bad.push("initSync threw " + e); }
      calls++;
      try { m.Companion.create({ brokerUrl: "https://broker.example" }); bad.push("usable before init"); }
      catch (e) { if (e instanceof m.TesseraError && e.code === "invalid_state") refused++; else bad.push("before init: " + e); }
    }
    await m.init(readFileSync(new URL("./node_modules/tessera-companion/tessera_wasm_bg.wasm", "file://${here}/")));
    const ok = m.Companion.create({ brokerUrl: "https://broker.example" }).status === "not_registered";
    console.log(JSON.stringify({ calls, refused, bad, ok }));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: here, encoding: "utf8" });
  const r = JSON.parse(out.trim().split("\n").at(-1));
  assert.deepEqual(r.bad, []);
  assert.equal(r.refused, r.calls);
  assert.ok(r.ok, "a valid init() works after the hostile ones");
  counts.calls += r.calls;
  counts.refused += r.refused;
  report("web init");
});

test("extreme values inside a stored state: every method afterwards refuses or works, never traps", async () => {
  const I64_MAX = "9223372036854775807";
  const I64_MIN = "-9223372036854775808";
  const states = [
    ["clock offset i64 max", CONNECTED.replace(/"clock_offset":-?\d+/, `"clock_offset":${I64_MAX}`)],
    ["clock offset i64 min", CONNECTED.replace(/"clock_offset":-?\d+/, `"clock_offset":${I64_MIN}`)],
    ["pending connect created i64 min", PENDING.replace(/"created":-?\d+/, `"created":${I64_MIN}`)],
    ["pending connect created i64 max", PENDING.replace(/"created":-?\d+/, `"created":${I64_MAX}`)],
    ["retry delays u64 max", CONNECTED.replace(/"base_delay_ms":\d+/, '"base_delay_ms":18446744073709551615')],
  ];
  const calls = [
    ["connectUrl", (c) => c.connectUrl({ returnUrl: RETURN, now: NOW })],
    ["completeConnect", (c) => c.completeConnect(CALLBACK, { fetch: connectAnswerFetch, sleep: () => {}, now: NOW, clock: () => NOW * 1000 })],
    ["signRequest", (c) => c.signRequest({ method: "GET", path: "/api/x" }, { now: NOW })],
    ["uninstallUrl", (c) => c.uninstallUrl({ now: NOW })],
    ["call 503s", (c) => c.call({ method: "GET", path: "/api/x" }, { fetch: async () => ({ status: 503 }), sleep: () => {}, clock: () => NOW * 1000 })],
    ["call 429", (c) => c.call({ method: "GET", path: "/api/x" }, { fetch: async () => ({ status: 429 }), sleep: () => {}, clock: () => NOW * 1000 })],
    ["call skew", (c) => c.call({ method: "GET", path: "/api/x" }, { fetch: async () => ({ status: 401, headers: { date: "Fri, 31 Dec 9999 23:59:59 GMT" }, body: '{"error":"signature_expired"}' }), sleep: () => {}, clock: () => NOW * 1000 })],
    ["sealState", (c) => c.sealState(SEAL_KEY)],
    ["checkSite", (c) => c.checkSite("https://other.example")],
  ];
  for (const [label, json] of states) {
    for (const [name, f] of calls) {
      const spec = { slots: [] };
      let result;
      try {
        result = { ok: true, value: await f(Companion.importState(json)) };
      } catch (error) {
        result = { ok: false, error };
      }
      // Success is allowed: the core decides what these stored values mean
      // (its i64 arithmetic on them is in the report); a trap is not.
      if (result.ok) {
        counts.calls++;
        counts.accepted++;
      } else classifyOutcome(`state ${label}`, name, "extreme stored value", spec, result);
      await sanity();
    }
  }
  report("extreme states");
});

test("re-entrancy and use after free from inside callbacks", async () => {
  const cases = [
    ["secretFor reads the store it verifies with", () => {
      const store = new MemoryReplayStore(10);
      return pkg.verifyRequest(signedRequest(), { secretFor: () => (store.size, SECRET), replayStore: store, now: NOW });
    }],
    ["secretFor verifies again with the same store", async () => {
      const store = new MemoryReplayStore(10);
      let nested;
      const secretFor = () => {
        nested = pkg.verifyRequest(signedRequest(), { secretFor: () => SECRET, replayStore: store, now: NOW });
        nested.catch(() => {});
        return SECRET;
      };
      await pkg.verifyRequest(signedRequest(), { secretFor, replayStore: store, now: NOW });
      return nested; // the inner call is the hostile one
    }],
    ["onPersist frees the companion", () => {
      const c = connected();
      return c.disconnect({ fetch: okFetch, onPersist: () => c.free(), clock: () => NOW * 1000 });
    }],
    ["fetch frees the companion", () => {
      const c = connected();
      return c.call({ method: "GET", path: "/x" }, { fetch: async () => (c.free(), { status: 200 }), clock: () => NOW * 1000 });
    }],
    ["sleep frees the companion", () => {
      const c = connected();
      return c.call({ method: "GET", path: "/x" }, { fetch: async () => ({ status: 503 }), sleep: () => c.free(), clock: () => NOW * 1000 });
    }],
  ];
  for (const [label, f] of cases) {
    let result;
    try {
      result = { ok: true, value: await f() };
    } catch (error) {
      result = { ok: false, error };
    }
    classifyOutcome("callbacks", "re-entry", label, { slots: [] }, result);
    await sanity();
  }
  // Using the same companion from a callback (not freeing it) is fine.
  const c = connected();
  const seen = [];
  const res = await c.call({ method: "GET", path: "/x" }, { fetch: async () => (seen.push(c.exportState().length, c.signRequest({ method: "GET", path: "/y" }).method), { status: 200 }), clock: () => NOW * 1000 });
  assert.equal(res.status, 200);
  assert.equal(seen[1], "GET");
  report("re-entrancy");
});

test("a string of the largest length JavaScript allows is refused before it is copied", async () => {
  const max = "x".repeat(2 ** 29 - 24);
  const c = connected();
  const started = Date.now();
  for (const f of [() => Companion.importState(max), () => c.signRequest({ method: "GET", path: max }), () => pkg.contentDigest(max), () => c.completeConnect(max, { fetch: connectAnswerFetch })]) {
    let result;
    try {
      result = { ok: true, value: await f() };
    } catch (error) {
      result = { ok: false, error };
    }
    assert.equal(result.error?.code, "too_large", String(result.error));
    classifyOutcome("largest string", "0", "string of 2^29-24", { slots: [] }, result);
  }
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms: was it copied?`);
});

test("no failures, and the count", () => {
  for (const f of failures) console.log(`FAIL ${f.replace(/\n/g, " ")}`);
  assert.deepEqual(failures, [], `${failures.length} hostile calls broke the contract:\n${failures.join("\n")}`);
  assert.ok(counts.calls > 3000, `only ${counts.calls} hostile calls`);
  console.log(
    `hostile calls (npm package): ${counts.calls} — ${counts.refused} refused with a TesseraError, ` +
      `${counts.propagated} caller exceptions propagated unchanged, ${counts.accepted} accepted as valid`,
  );
});

function report(what) {
  console.log(`# after ${what}: ${JSON.stringify(counts)}, ${failures.length} failures`);
}

test("the default entry refuses a proxy configuration: proxy mode is the proxy entry's", () => {
  assert.throws(
    () => Companion.create({ brokerUrl: BROKER, proxy: { ...PROXY } }),
    (e) => e instanceof TesseraError && e.code === "invalid_input" && /proxy/.test(e.message),
  );
  assert.ok(proxyPkg.Companion.create({ brokerUrl: BROKER, proxy: { ...PROXY } }));
});

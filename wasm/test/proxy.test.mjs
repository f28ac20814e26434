// Authorization-proxy mode in the npm package (docs/PROTOCOL.md §13): the
// `config.proxy` mapping, the refresh lock's driver side (fail-fast without
// lock/unlock, a held lock released when the operation is abandoned, a value
// that is not a state), `webLocks` on a stub LockManager (Node has no
// navigator.locks) with two workers sharing one store, and the tokens never
// shown by toJSON/inspect nor persisted in clear under a seal key. The
// byte-exact conversations are machine.test.mjs's (machine-proxy.json).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { Companion, TesseraError, webLocks } from "tessera-companion/proxy";
import { VECTORS_DIR, response } from "./helpers.mjs";

const PROXY_SCRIPTS = JSON.parse(readFileSync(new URL("machine-proxy.json", VECTORS_DIR), "utf8")).scripts;
const script = (name) => PROXY_SCRIPTS.find((s) => s.name === name) ?? assert.fail(`no script ${name}`);

/** A connected proxy-mode state whose access token expires within the margin at `NOW_MS`. */
const EXPIRING = script("proxy: expiring token refreshed");
const NOW_MS = EXPIRING.steps[0].now * 1000;
const LOCK_NAME = EXPIRING.steps[0].action.name;
const clock = () => NOW_MS;

/** The state with distinctive token values, to look for in anything shown. */
const CANARY = { access: "AT-CANARY-3f9c2a", refresh: "RT-CANARY-7b1e04" };
function canaryState() {
  const s = JSON.parse(EXPIRING.state);
  s.tokens.access_token = CANARY.access;
  s.tokens.refresh_token = CANARY.refresh;
  return JSON.stringify(s);
}

/** The proxy's 200 answer to `POST /refresh`. */
const refreshed = (access, refresh) =>
  response(200, JSON.stringify({ access_token: access, refresh_token: refresh, expires_in: 3600, scope: "units:read" }), {
    "content-type": "application/json",
  });

const GET = { method: "GET", path: "/api/units" };

/** What `p` rejects with (a failure when it resolves). */
async function rejection(p) {
  const e = await p.then(
    (v) => assert.fail(`expected a rejection, got ${JSON.stringify(v)}`),
    (e) => e,
  );
  return e;
}

// ---- configuration -----------------------------------------------------------------

test("config.proxy: defaults, explicit values, and what is refused", () => {
  const proxyOf = (c) => JSON.parse(c.exportState()).config.proxy;
  const c = Companion.create({ brokerUrl: "https://proxy.example", proxy: { storaApiUrl: "https://api.stora.example/2025-09" } });
  assert.deepEqual(proxyOf(c), {
    stora_api_url: "https://api.stora.example/2025-09",
    refresh_margin_secs: 120,
    token: "/token",
    refresh: "/refresh",
    revoke: "/revoke",
  });
  const custom = Companion.create({
    brokerUrl: "https://proxy.example",
    proxy: { storaApiUrl: "https://api.stora.example/v2", refreshMarginSecs: 30, token: "/t", refresh: "/r", revoke: "/v" },
  });
  assert.deepEqual(proxyOf(custom), {
    stora_api_url: "https://api.stora.example/v2",
    refresh_margin_secs: 30,
    token: "/t",
    refresh: "/r",
    revoke: "/v",
  });
  // Broker mode: no proxy configuration.
  assert.equal(proxyOf(Companion.create({ brokerUrl: "https://broker.example" })) ?? null, null);

  for (const [proxy, field] of [
    [{ storaApiURL: "https://api.stora.example" }, "config.proxy.storaApiURL"],
    [{ storaApiUrl: "https://api.stora.example", refreshMargin: 5 }, "config.proxy.refreshMargin"],
    [{}, "config.proxy.storaApiUrl"],
    [{ storaApiUrl: "https://api.stora.example", refreshMarginSecs: -1 }, "config.proxy.refreshMarginSecs"],
    [{ storaApiUrl: "https://api.stora.example", token: 7 }, "config.proxy.token"],
    ["https://api.stora.example", "config.proxy"],
  ]) {
    let err;
    try {
      Companion.create({ brokerUrl: "https://proxy.example", proxy });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof TesseraError, `${JSON.stringify(proxy)} refused`);
    assert.equal(err.code, "invalid_input");
    assert.match(err.message, new RegExp(`\`${field.replace(/\./g, "\\.")}\``), err.message);
  }
  // The core checks the URL itself.
  assert.throws(() => Companion.create({ brokerUrl: "https://proxy.example", proxy: { storaApiUrl: "not a url" } }), {
    code: "invalid_url",
  });
});

// ---- the driver's lock handling ----------------------------------------------------

test("proxy mode: call and callAndRecord without lock and unlock fail at once, before any action", async () => {
  const event = { sourceId: "src_1", templateId: "tpl_1", externalUrl: "https://shop.example/x" };
  for (const missing of [{}, { lock: async () => null }, { unlock: async () => {} }]) {
    const c = Companion.importState(EXPIRING.state);
    let actions = 0;
    const count = async () => void (actions += 1);
    const options = { fetch: count, sleep: count, onPersist: count, clock, ...missing };
    for (const run of [() => c.call(GET, options), () => c.callAndRecord({ method: "POST", path: "/api/units", body: "{}" }, event, options)]) {
      const e = await rejection(run());
      assert.ok(e instanceof TesseraError, String(e));
      assert.equal(e.code, "invalid_input");
      assert.match(e.message, /`options\.lock`/);
    }
    assert.equal(actions, 0, "nothing was fetched, slept or persisted");
    assert.equal(c.exportState(), EXPIRING.state, "the state is untouched");
  }
  // Broker mode needs no lock: the same call fails for its own reason (not registered).
  const broker = Companion.create({ brokerUrl: "https://broker.example" });
  assert.equal((await rejection(broker.call(GET, { fetch: async () => assert.fail("not sent"), clock }))).code, "not_registered");
});

test("proxy mode: a lock that could not be had ends with lock_unavailable, nothing sent, nothing unlocked", async () => {
  const c = Companion.importState(EXPIRING.state);
  const calls = [];
  const e = await rejection(
    c.call(GET, {
      fetch: async (url) => calls.push(["fetch", url]),
      lock: async (name) => (calls.push(["lock", name]), null),
      unlock: async (name) => void calls.push(["unlock", name]),
      clock,
    }),
  );
  assert.equal(e.code, "lock_unavailable");
  assert.deepEqual(calls, [["lock", LOCK_NAME]]);
});

/** Options whose lock hands over `stored` and counts unlocks; `fetch` and the rest from `extra`. */
function locking(stored, extra) {
  const seen = { locks: [], unlocks: [] };
  const options = {
    lock: async (name) => (seen.locks.push(name), stored),
    unlock: async (name) => void seen.unlocks.push(name),
    clock,
    ...extra,
  };
  return { options, seen };
}

test("an abort between lock and unlock still releases the lock", async () => {
  const c = Companion.importState(EXPIRING.state);
  const ac = new AbortController();
  const reason = new Error("the host gave up");
  const { options, seen } = locking(EXPIRING.state, {
    signal: ac.signal,
    // The refresh is in flight when the host aborts: fetch rejects with the reason.
    fetch: async (url) => {
      assert.equal(url, "https://proxy.example/refresh");
      assert.deepEqual(seen.unlocks, [], "still held while the refresh is out");
      ac.abort(reason);
      throw reason;
    },
  });
  assert.equal(await rejection(c.call(GET, options)), reason);
  assert.deepEqual(seen.locks, [LOCK_NAME]);
  assert.deepEqual(seen.unlocks, [LOCK_NAME], "released once, in finally");
});

test("an exception between lock and unlock (a failing onPersist) still releases the lock", async () => {
  const c = Companion.importState(EXPIRING.state);
  const boom = new Error("disk full");
  const { options, seen } = locking(EXPIRING.state, {
    fetch: async () => refreshed("at_new", "rt_new"),
    onPersist: async () => {
      assert.deepEqual(seen.unlocks, [], "the new pair is persisted before the lock is released");
      throw boom;
    },
  });
  assert.equal(await rejection(c.call(GET, options)), boom);
  assert.deepEqual(seen.unlocks, [LOCK_NAME]);
});

test("a lock that resolves to something other than a state is invalid_input, and is released", async () => {
  const c = Companion.importState(EXPIRING.state);
  const { options, seen } = locking(42, { fetch: async () => assert.fail("nothing is sent") });
  const e = await rejection(c.call(GET, options));
  assert.equal(e.code, "invalid_input");
  assert.match(e.message, /options\.lock/);
  assert.deepEqual(seen.unlocks, [LOCK_NAME]);
});

test("an unlock that fails while an abandoned operation is released does not hide the operation's error", async () => {
  const c = Companion.importState(EXPIRING.state);
  let unlocks = 0;
  const options = {
    lock: async () => EXPIRING.state,
    unlock: async () => {
      unlocks += 1;
      throw new Error("unlock failed");
    },
    fetch: async () => {
      throw new TesseraError("invalid_input", "invalid_input", "a transport bug");
    },
    onPersist: async () => {},
    clock,
  };
  const e = await rejection(c.call(GET, options));
  assert.equal(e.message, "a transport bug");
  assert.equal(unlocks, 1, "the release was attempted");
});

// ---- webLocks ----------------------------------------------------------------------

/** A LockManager stand-in: exclusive locks granted in request order; an aborted waiter leaves the queue. */
class StubLocks {
  #queues = new Map();
  requests = [];
  request(name, options, callback) {
    this.requests.push({ name, mode: options.mode, signal: options.signal });
    const queue = this.#queues.get(name) ?? [];
    this.#queues.set(name, queue);
    return new Promise((resolve, reject) => {
      const entry = {
        run: async () => {
          try {
            resolve(await callback({ name, mode: options.mode }));
          } catch (e) {
            reject(e);
          } finally {
            queue.shift();
            queue[0]?.run();
          }
        },
      };
      options.signal?.addEventListener(
        "abort",
        () => {
          const i = queue.indexOf(entry);
          if (i > 0) {
            queue.splice(i, 1);
            reject(options.signal.reason);
          }
        },
        { once: true },
      );
      queue.push(entry);
      if (queue.length === 1) entry.run();
    });
  }
  held(name) {
    return (this.#queues.get(name) ?? []).length > 0;
  }
}

test("webLocks: holds the lock until unlock, hands over the stored state, times out to null", async () => {
  const locks = new StubLocks();
  let store = "stored-1";
  const a = webLocks(async () => store, { locks, timeoutMs: 1000 });
  const b = webLocks(() => store, { locks, timeoutMs: 30 });
  assert.equal(await a.lock("tessera-refresh-x"), "stored-1");
  assert.equal(locks.requests[0].mode, "exclusive");
  assert.ok(locks.requests[0].signal instanceof AbortSignal, "a timeout signal is passed");
  assert.ok(locks.held("tessera-refresh-x"));
  // b waits its 30 ms while a holds the lock: null. (AbortSignal.timeout's
  // timer does not keep Node's event loop alive: a ref'd one does, meanwhile.)
  const alive = setInterval(() => {}, 1000);
  try {
    assert.equal(await b.lock("tessera-refresh-x"), null);
  } finally {
    clearInterval(alive);
  }
  // Another name is independent.
  assert.equal(await b.lock("tessera-refresh-y"), "stored-1");
  await b.unlock("tessera-refresh-y");
  // a waiter gets the lock once a releases it, and reads the store as it is then.
  const c = webLocks(() => store, { locks, timeoutMs: 1000 });
  const waiting = c.lock("tessera-refresh-x");
  store = "stored-2";
  await a.unlock("tessera-refresh-x");
  assert.equal(await waiting, "stored-2");
  await c.unlock("tessera-refresh-x");
  assert.ok(!locks.held("tessera-refresh-x"), "released");
  await c.unlock("tessera-refresh-x"); // not held: harmless
});

test("webLocks: a failing loadState releases the lock; bad arguments and no Web Locks API are invalid_input", async () => {
  const locks = new StubLocks();
  const boom = new Error("storage failed");
  const p = webLocks(async () => {
    throw boom;
  }, { locks });
  assert.equal(await rejection(p.lock("n")), boom);
  assert.ok(!locks.held("n"), "released after loadState failed");
  const notString = webLocks(async () => ({ state: 1 }), { locks });
  assert.equal((await rejection(notString.lock("n"))).code, "invalid_input");
  assert.ok(!locks.held("n"));

  assert.throws(() => webLocks("state"), { code: "invalid_input" });
  assert.throws(() => webLocks(() => "", { timeoutMs: -1, locks }), { code: "invalid_input" });
  // The global navigator.locks is the default; without it (Node), invalid_input.
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  try {
    Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true, writable: true });
    assert.throws(() => webLocks(() => ""), { code: "invalid_input", message: /navigator\.locks/ });
    Object.defineProperty(globalThis, "navigator", { value: { locks }, configurable: true, writable: true });
    const g = webLocks(() => "from-global");
    assert.equal(await g.lock("g"), "from-global");
    await g.unlock("g");
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
    else delete globalThis.navigator;
  }
});

test("webLocks + the driver: two workers with an expiring token, one shared store → one refresh, both calls use the new token", async () => {
  const locks = new StubLocks();
  let store = EXPIRING.state;
  const pair = () => webLocks(async () => store, { locks });
  const sent = { refresh: 0, bearers: [] };
  const fetch = async (url, init) => {
    if (url === "https://proxy.example/refresh") {
      sent.refresh += 1;
      await new Promise((r) => setTimeout(r, 10)); // the other worker reaches the lock meanwhile
      return refreshed(`at_${sent.refresh + 1}`, `rt_${sent.refresh + 1}`);
    }
    sent.bearers.push(new Map(init.headers).get("authorization"));
    return response(200, "[]");
  };
  const worker = () => {
    const c = Companion.importState(EXPIRING.state);
    return c.call(GET, { fetch, clock, onPersist: (s) => void (store = s), ...pair() });
  };
  const [r1, r2] = await Promise.all([worker(), worker()]);
  assert.deepEqual([r1.status, r2.status], [200, 200]);
  assert.equal(sent.refresh, 1, "one refresh per expiry");
  assert.deepEqual(sent.bearers, ["Bearer at_2", "Bearer at_2"]);
  assert.equal(JSON.parse(store).tokens.refresh_token, "rt_2");
  assert.ok(!locks.held(LOCK_NAME));
});

// ---- the tokens are never shown ----------------------------------------------------

test("proxy mode: toJSON, inspect and errors never show the tokens; a seal key keeps them out of onPersist", async () => {
  const shown = (v) => {
    for (const t of [CANARY.access, CANARY.refresh]) assert.ok(!v.includes(t), `a token shows in: ${v}`);
  };
  const c = Companion.importState(canaryState());
  assert.equal(c.status, "connected");
  shown(JSON.stringify(c));
  shown(inspect(c, { depth: 10, showHidden: true }));
  shown(`${c}`);
  assert.ok(c.exportState().includes(CANARY.access), "exportState is the state itself (the canary is there)");

  // invalid_grant from the proxy: the error and its JSON carry no token either.
  const sealKey = new Uint8Array(32).fill(7);
  const sealed = Companion.importState(canaryState(), { sealKey });
  const persisted = [];
  const e = await rejection(
    sealed.call(GET, {
      clock,
      fetch: async () => response(400, JSON.stringify({ error: "invalid_grant", error_description: "gone" })),
      lock: async () => sealed.sealState(sealKey),
      unlock: async () => {},
      onPersist: (s) => void persisted.push(s),
    }),
  );
  assert.equal(e.code, "reconnect_required");
  shown(JSON.stringify(e));
  shown(inspect(e, { depth: 10, showHidden: true }));
  assert.ok(persisted.length > 0);
  for (const s of persisted) {
    shown(s);
    assert.doesNotThrow(() => Companion.openState(s, sealKey), "onPersist got the sealed state");
  }
  shown(inspect(sealed));
});

// The machine scripts (tests/vectors/machine*.json, docs/HOST-CONTRACT.md §6)
// replayed through the packed package's real driver: `register`, `call`,
// `disconnect`, `uninstall`, `reset`, `siteMoved`, `completeConnect`, `revokePrevious` and `pullEvents` run with a scripted `fetch`,
// `sleep`, `onPersist`, `serveProof`, `lock`, `unlock` (authorization-proxy mode) and `clock`. Every action the driver
// performs must be the script's next action, byte for byte, in order; the
// clock must be read exactly once per event, just before it is fed (a
// connect completion's start reads it once, for its checks and the start
// event: the script's `now`); the
// completion (or error code and status) and the final state must match. A
// `pull_events` script with `"acknowledge": true` that ended with a page then
// acknowledges it (`acknowledgeEvents(page.cursor)`): whether the cursor moved
// is the script's `acknowledged`, and its `onPersist` gets the state iff it moved.
//
// Then deliberately wrong drivers: the packed package copied to a temporary
// directory with one textual mutation of driver.js or api.js each (skip a
// persist, retry a send on its own, take an opaque redirect for a network
// error, keep the refresh lock, …). Each must
// fail the replay: the scripts are what stops a driver from drifting.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as pkg from "tessera-companion";
// Authorization-proxy mode is in the package's proxy entry (its own module).
import * as proxyPkg from "tessera-companion/proxy";
import { VECTORS_DIR, text, vectorFiles } from "./helpers.mjs";

/** Every script of every tests/vectors/machine*.json file, as [file, script]. */
function machineScripts() {
  const out = [];
  for (const file of vectorFiles().filter((f) => /^machine.*\.json$/.test(f)).sort()) {
    const doc = JSON.parse(readFileSync(new URL(file, VECTORS_DIR), "utf8"));
    for (const script of doc.scripts) out.push([file, script]);
  }
  return out;
}

const SCRIPTS = machineScripts();

const hexBytes = (hex) => Uint8Array.from(hex.match(/../g), (b) => parseInt(b, 16));

/** Which callback performs each action, and which events may answer it. */
const ANSWERS = {
  send: ["response", "transport_error"],
  sleep: ["slept"],
  persist: ["persisted"],
  serve_proof: ["proof_served", "proof_deferred"],
  lock: ["locked", "lock_unavailable"],
  unlock: ["unlocked"],
};

/** A remote step as the scripts write it: `{ result, error: code | null }`. */
function stepOut(step, TesseraError) {
  assert.deepEqual(Object.keys(step), ["result", "error"], "a remote step is exactly { result, error }");
  if (step.error === null) return { result: step.result, error: null };
  assert.ok(step.error instanceof TesseraError, "a failed step carries a TesseraError");
  return { result: step.result, error: step.error.code };
}

/** What an operation returned, in the scripts' `result` form. */
function resultOut(op, value, TesseraError) {
  switch (op) {
    case "register":
      return { registration: value };
    case "call":
      return { response: { status: value.status, body: text(value.body) } };
    case "disconnect":
      assert.deepEqual(Object.keys(value), ["remote"]);
      return { disconnected: { remote: stepOut(value.remote, TesseraError) } };
    case "uninstall":
      assert.deepEqual(Object.keys(value), ["disconnect", "deregister"]);
      return {
        uninstalled: { disconnect: stepOut(value.disconnect, TesseraError), deregister: stepOut(value.deregister, TesseraError) },
      };
    case "reset":
      assert.deepEqual(Object.keys(value), ["disconnect", "deregister", "registration"]);
      return {
        reset: {
          disconnect: stepOut(value.disconnect, TesseraError),
          deregister: stepOut(value.deregister, TesseraError),
          registration: value.registration,
        },
      };
    case "site_moved":
      assert.equal(value, undefined, "siteMoved() resolves to undefined");
      return { site_moved: {} };
    case "complete_connect":
      assert.deepEqual(Object.keys(value), ["account"]);
      assert.deepEqual(Object.keys(value.account), ["id", "name"]);
      return { connected: { account: { ...value.account } } };
    case "call_and_record": {
      assert.deepEqual(Object.keys(value), ["response", "event"]);
      const { ok, error } = value.event;
      assert.deepEqual(Object.keys(value.event), ok ? ["ok"] : ["ok", "error"], "event is { ok: true } or { ok: false, error }");
      if (!ok) assert.ok(error instanceof TesseraError, "a failed event carries a TesseraError");
      return {
        recorded: {
          response: { status: value.response.status, body: text(value.response.body) },
          event: ok ? { result: "ok", error: null } : { result: "failed", error: error.code },
        },
      };
    }
    case "revoke_previous":
      assert.deepEqual(Object.keys(value), ["revoked"]);
      return { previous_revoked: { revoked: value.revoked } };
    case "pull_events":
      return { events: pageOut(value) };
    default:
      throw new Error(`unknown operation ${op}`);
  }
}

/** A page of `pullEvents` in the scripts' form; `data` must be `dataJson` parsed. */
function pageOut(page) {
  assert.deepEqual(Object.keys(page), ["events", "cursor", "hasMore"]);
  const events = page.events.map((e) => {
    assert.deepEqual(Object.keys(e), ["id", "type", "apiVersion", "createdAt", "data", "dataJson"]);
    assert.deepEqual(e.data, JSON.parse(e.dataJson), "data is dataJson parsed");
    return { id: e.id, type: e.type, api_version: e.apiVersion, created_at: e.createdAt, data_json: e.dataJson };
  });
  return { events, cursor: page.cursor, has_more: page.hasMore };
}

/**
 * Replays one script through `api` (a loaded tessera-companion). Resolves when
 * the driver did exactly what the script says; rejects with the first
 * deviation otherwise. Deviations are recorded as well as thrown, because a
 * driver may swallow what a callback throws (a rejected fetch is a network
 * error to it).
 */
async function replay(api, script) {
  const { Companion, TesseraError } = api;
  const steps = script.steps;
  const deviations = [];
  const deviate = (message) => {
    const e = new assert.AssertionError({ message: `${script.name}: ${message}` });
    deviations.push(e);
    throw e;
  };
  const check = (ok, message) => ok || deviate(message);

  const op = script.operation;
  const c = Companion.importState(script.state);
  c.useSeededEntropy(hexBytes(script.seed));
  const ac = new AbortController();
  const ABORTED = new Error("aborted by the script");

  let at = 0; // the step whose action the driver is performing
  let clockReads = 0;
  let persisting = false; // an onPersist has not finished yet

  /** The driver performs steps[at].action as `type`; returns the event that answers it. */
  function perform(type, inspect) {
    check(!persisting, `step ${at}: ${type} while onPersist was still running (a persist must be awaited)`);
    const action = steps[at]?.action;
    check(action?.type === type, `step ${at}: the driver performs ${type}, the script expects ${action?.type ?? "nothing"}`);
    inspect(action);
    at += 1;
    const event = steps[at]?.event;
    check(event !== undefined, `step ${at}: no event left to answer ${type}`);
    if (event.type === "abort") {
      ac.abort(ABORTED);
      throw ABORTED;
    }
    check(ANSWERS[type].includes(event.type), `step ${at}: script error, ${event.type} cannot answer ${type}`);
    return event;
  }

  const clock = () => {
    check(!persisting, `clock read while onPersist was still running`);
    if (steps.length === 0) {
      // A refused start: only a start that needs the time reads the clock, once (the script's `now`).
      check(clockReads === 0, "the clock was read more than once for a refused start");
      clockReads += 1;
      return script.now * 1000;
    }
    check(clockReads === at, `clock read ${clockReads - at + 1} times for the event of step ${at}, or away from its feed`);
    return steps[clockReads++].now * 1000;
  };
  if (op.op === "complete_connect" && steps.length > 0) {
    // One reading serves the start's checks and the start event.
    assert.equal(steps[0].now, script.now, `${script.name}: script error, the start's now differs from the first step's`);
  }

  const fetch = async (url, init) => {
    const event = perform("send", ({ request: r }) => {
      const expected = { method: r.method, headers: r.headers, redirect: "manual", credentials: "omit" };
      if (r.body !== "") expected.body = r.body;
      const got = { ...init, signal: undefined };
      delete got.signal;
      if (got.body !== undefined) got.body = text(got.body);
      check(url === r.url, `step ${at}: url ${url}, expected ${r.url}`);
      try {
        assert.deepEqual(got, expected);
      } catch (e) {
        deviate(`step ${at}: fetch init differs: ${e.message}`);
      }
      check(init.signal === ac.signal, `step ${at}: the operation's signal is not passed to fetch`);
    });
    if (event.type === "transport_error") {
      if (event.kind === "network") throw new TypeError("fetch failed");
      // What a browser's fetch gives for `redirect: "manual"`.
      return { type: "opaqueredirect", status: 0, headers: new Headers(), arrayBuffer: async () => new ArrayBuffer(0) };
    }
    // A plain response keeps the scripted header names and order exactly.
    return { status: event.status, headers: event.headers, body: event.body };
  };
  const sleep = async (ms) => {
    perform("sleep", (a) => check(ms === a.ms, `step ${at}: sleep ${ms} ms, expected ${a.ms}`));
  };
  const onPersist = async (state) => {
    perform("persist", (a) => {
      check(state === a.state, `step ${at}: persisted state differs:\n  got      ${state}\n  expected ${a.state}`);
      check(c.exportState() === state, `step ${at}: the state to persist is not the companion's state`);
    });
    persisting = true;
    await new Promise((resolve) => setImmediate(resolve));
    persisting = false;
  };
  const serveProof = async (proof) => {
    const event = perform("serve_proof", (a) => {
      try {
        assert.deepEqual(proof, a.proof);
      } catch (e) {
        deviate(`step ${at}: proof differs: ${e.message}`);
      }
    });
    return event.type === "proof_served";
  };

  // The refresh lock: `locked` gives the state as stored now, `lock_unavailable` null.
  const lock = async (name) => {
    const event = perform("lock", (a) => check(name === a.name, `step ${at}: lock ${name}, expected ${a.name}`));
    return event.type === "locked" ? event.state : null;
  };
  const unlock = async (name) => {
    perform("unlock", (a) => check(name === a.name, `step ${at}: unlock ${name}, expected ${a.name}`));
  };

  const options = { fetch, sleep, onPersist, serveProof, lock, unlock, clock, signal: ac.signal };
  let run;
  switch (op.op) {
    case "register": {
      const r = op.registration;
      run = c.register({ siteUrl: r.site_url, adminEmail: r.admin_email, platform: r.platform, pluginVersion: r.plugin_version }, options);
      break;
    }
    case "call":
      run = c.call({ method: op.request.method, path: op.request.path, headers: op.request.headers, body: op.request.body }, options);
      break;
    case "call_and_record": {
      const e = op.event;
      const event = { sourceId: e.source_id, templateId: e.template_id, contactId: e.contact_id, siteId: e.site_id };
      Object.assign(event, { description: e.description, externalUrl: e.external_url, variables: e.variables });
      run = c.callAndRecord({ method: op.request.method, path: op.request.path, headers: op.request.headers, body: op.request.body }, event, options);
      break;
    }
    case "disconnect":
      run = c.disconnect(options);
      break;
    case "uninstall":
      run = c.uninstall(options);
      break;
    case "reset": {
      const r = op.registration;
      run = c.reset({ siteUrl: r.site_url, adminEmail: r.admin_email, platform: r.platform, pluginVersion: r.plugin_version }, options);
      break;
    }
    case "site_moved":
      run = c.siteMoved(options);
      break;
    case "revoke_previous":
      run = c.revokePrevious(op.install_id, options);
      break;
    case "pull_events":
      run = c.pullEvents({ ...options, limit: op.limit });
      break;
    case "complete_connect": {
      // The driver's completeConnect takes no serveProof: an unknown option is ignored.
      const { serveProof: _, ...driver } = options;
      run = c.completeConnect(op.callback, driver);
      break;
    }
    default:
      throw new Error(`unknown operation ${op.op}`);
  }
  let value;
  let error;
  let threw = false;
  try {
    value = await run;
  } catch (e) {
    threw = true;
    error = e;
  }
  if (deviations.length > 0) throw deviations[0];

  const last = steps.at(-1);
  if (script.start_error !== undefined) {
    assert.ok(threw && error instanceof TesseraError, `${script.name}: expected ${script.start_error}, got ${threw ? error : "success"}`);
    assert.equal(error.code, script.start_error, script.name);
    assert.equal(at, 0, `${script.name}: nothing may happen before a refused start`);
    // Only the connect completion needs the time to start (and reads it at most once).
    assert.ok(clockReads <= (op.op === "complete_connect" ? 1 : 0), `${script.name}: ${clockReads} clock reads before a refused start`);
  } else if (last.event.type === "abort") {
    assert.equal(error, ABORTED, `${script.name}: the abort reason ends the operation (got ${threw ? error : "success"})`);
    assert.equal(at, steps.length - 1, `${script.name}: aborted at step ${at}`);
    assert.equal(clockReads, steps.length - 1, `${script.name}: no event is fed after the abort`);
  } else {
    assert.equal(at, steps.length - 1, `${script.name}: the driver stopped at step ${at} of ${steps.length}`);
    assert.equal(clockReads, steps.length, `${script.name}: clock reads`);
    const done = last.action;
    assert.equal(done?.type, "done", `${script.name}: the script ends with done`);
    if (done.error !== undefined) {
      assert.ok(threw && error instanceof TesseraError, `${script.name}: expected ${done.error.code}, got ${threw ? error : JSON.stringify(value)}`);
      assert.deepEqual({ code: error.code, status: error.status ?? null }, done.error, script.name);
    } else {
      assert.ok(!threw, `${script.name}: expected a result, got ${error}`);
      assert.deepEqual(resultOut(op.op, value, TesseraError), done.result, script.name);
    }
  }
  // The host acknowledges the page it handled (before the final state is compared).
  if (op.op === "pull_events" && op.acknowledge && !threw && value !== undefined) {
    const persisted = [];
    const moved = await c.acknowledgeEvents(value.cursor, { onPersist: (state) => void persisted.push(state) });
    assert.equal(moved, script.acknowledged, `${script.name}: acknowledging the page moved the cursor: ${moved}`);
    assert.deepEqual(persisted, moved ? [c.exportState()] : [], `${script.name}: onPersist gets the state iff the cursor moved`);
  } else {
    assert.equal(script.acknowledged, undefined, `${script.name}: script error, nothing to acknowledge`);
  }
  assert.equal(c.exportState(), script.final_state, `${script.name}: final state`);
  c.free();
}

/** The entry a script runs on: the proxy entry for proxy mode's scripts. */
function entryFor(api, file) {
  return file === "machine-proxy.json" ? api.proxy : api.root;
}

/** Replays every script through `api` ({root, proxy} entries) → the names of those that failed, with why. */
async function replayAll(api) {
  const failed = [];
  for (const [file, script] of SCRIPTS) {
    try {
      await replay(entryFor(api, file), script);
    } catch (e) {
      const why = String(e.message).split("\n")[0].replace(`${script.name}: `, "");
      failed.push(`${file}: ${script.name}: ${why}`);
    }
  }
  return failed;
}

test("the machine scripts exist", () => {
  assert.ok(SCRIPTS.length >= 40, `only ${SCRIPTS.length} machine scripts`);
  assert.ok(SCRIPTS.some(([f]) => f === "machine-proxy.json"), "the proxy scripts are replayed");
  const ops = new Set(SCRIPTS.map(([, s]) => s.operation.op));
  assert.deepEqual([...ops].sort(), ["call", "call_and_record", "complete_connect", "disconnect", "pull_events", "register", "reset", "revoke_previous", "site_moved", "uninstall"]);
  for (const [file, s] of SCRIPTS) assert.equal(typeof s.now, "number", `${file}: ${s.name} has a top-level now`);
});

test("every machine script replays through the package's driver", async (t) => {
  let n = 0;
  for (const [file, script] of SCRIPTS) {
    await t.test(`${file}: ${script.name}`, () => replay(entryFor({ root: pkg, proxy: proxyPkg }, file), script));
    n += 1;
  }
  console.log(`replayed ${n} machine scripts`);
  assert.ok(n >= 40);
});

// ---- deliberately wrong drivers ------------------------------------------------------

const PKG_DIR = path.dirname(fileURLToPath(import.meta.resolve("tessera-companion/package.json")));
const temps = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** The packed package with `from` replaced by `to` in `file`, loaded as a fresh module. */
async function mutant(from, to, file = "driver.js") {
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-mutant-"));
  temps.push(dir);
  cpSync(PKG_DIR, dir, { recursive: true });
  const target = path.join(dir, file);
  const source = readFileSync(target, "utf8");
  assert.equal(source.split(from).length, 2, `the mutation target occurs exactly once in ${file}: ${from}`);
  writeFileSync(target, source.replace(from, to));
  // The proxy entry carries its own copy of the plugin-side JS: mutated alike.
  const proxyTarget = path.join(dir, "proxy", file);
  writeFileSync(proxyTarget, readFileSync(proxyTarget, "utf8").replace(from, to));
  return {
    root: await import(pathToFileURL(path.join(dir, "index.node.js")).href),
    proxy: await import(pathToFileURL(path.join(dir, "proxy", "index.node.js")).href),
  };
}

const scriptsWith = (pred) => SCRIPTS.filter(([, s]) => s.steps.some(pred)).map(([f, s]) => `${f}: ${s.name}`);

const MUTANTS = [
  {
    name: "skips the persist",
    from: "if (onPersist) await onPersist(action.state);",
    to: "",
    // Every script with a persist action.
    mustFail: () => scriptsWith((st) => st.action?.type === "persist"),
  },
  {
    name: "does not await the persist",
    from: "if (onPersist) await onPersist(action.state);",
    to: "if (onPersist) void onPersist(action.state);",
    mustFail: () => scriptsWith((st) => st.action?.type === "persist"),
  },
  {
    name: "retries a rejected fetch on its own",
    from: `            failure = e;
            parts = "network";`,
    to: `            failure = e;
            try {
              parts = await readResponse(await fetchFn(url, init));
            } catch {
              parts = "network";
            }`,
    mustFail: () => scriptsWith((st) => st.event.type === "transport_error" && st.event.kind === "network"),
  },
  {
    name: "takes an opaque redirect for a network error",
    from: `res?.type === "opaqueredirect" ? "redirect"`,
    to: `res?.type === "opaqueredirect" ? "network"`,
    mustFail: () => scriptsWith((st) => st.event.type === "transport_error" && st.event.kind === "redirect"),
  },
  {
    name: "follows redirects",
    from: `redirect: "manual"`,
    to: `redirect: "follow"`,
    mustFail: () => scriptsWith((st) => st.action?.type === "send"),
  },
  {
    name: "serves the proof even when told to defer",
    from: "(await serveProof(action.proof)) !== false",
    to: "(await serveProof(action.proof), true)",
    mustFail: () => scriptsWith((st) => st.event.type === "proof_deferred"),
  },
  {
    name: "reads the clock twice for one event",
    from: "action = core.stepSlept(call, nowSecs(clock));",
    to: "nowSecs(clock);\n          action = core.stepSlept(call, nowSecs(clock));",
    mustFail: () => scriptsWith((st) => st.event.type === "slept"),
  },
  {
    name: "reads the clock before sending instead of before feeding the answer",
    from: `          let parts;
          let failure;`,
    to: `          let parts;
          let failure;
          const early = nowSecs(clock);`,
    mustFail: () => scriptsWith((st) => st.action?.type === "send"),
  },
  {
    name: "reads the clock again for the start event of a connect completion",
    from: "let action = core.stepStart(call, startNow ?? nowSecs(clock));",
    to: "let action = core.stepStart(call, nowSecs(clock));",
    mustFail: () => connectScripts((s) => s.steps.length > 0),
  },
  {
    name: "checks the callback against the wall clock instead of the clock option",
    file: "api.js",
    from: `"options.now") ?? now());`,
    to: `"options.now") ?? Math.floor(Date.now() / 1000));`,
    // The script's callbacks are minutes old by its clock and years old by the wall clock.
    mustFail: () => connectScripts((s) => s.steps.length > 0 && s.steps.at(-1).action?.error?.code !== "callback_expired"),
  },
  {
    name: "drops the account from the connect completion",
    file: "api.js",
    from: "return drive(this, start, options);\n  }\n\n  /**\n   * Signs one request",
    to: "return drive(this, start, options).then(() => ({}));\n  }\n\n  /**\n   * Signs one request",
    mustFail: () => connectScripts((s) => s.steps.at(-1)?.action?.result?.connected !== undefined),
  },
  {
    name: "moves the events cursor itself, without an acknowledgement",
    file: "api.js",
    from: ".then(c.eventPage)",
    to: ".then(async (p) => (await this.acknowledgeEvents(p.cursor), c.eventPage(p)))",
    // Acknowledged pages then move nothing more; an unacknowledged one moves the stored cursor.
    mustFail: () => scriptsWhere((s) => s.acknowledged === true || (s.operation.acknowledge === false && pageOf(s) !== undefined)),
  },
  {
    name: "loses the events' data",
    file: "conv.js",
    from: "data: JSON.parse(e.dataJson),",
    to: "data: {},",
    mustFail: () => scriptsWhere((s) => pageOf(s)?.events.length > 0),
  },
  {
    name: "keeps the refresh lock",
    from: "await refreshLock.release(action.name);",
    to: "",
    mustFail: () => scriptsWith((st) => st.action?.type === "unlock"),
  },
  {
    name: "feeds its own state instead of the stored one after the lock",
    from: "core.stepLocked(call, stored, now)",
    to: "core.stepLocked(call, core.toJson(), now)",
    // The scripts where another worker stored something else meanwhile.
    mustFail: () => scriptsWhere(lockedStateChanged),
  },
  {
    name: "takes a lock it could not have for a held one",
    from: "stored === null ? core.stepLockUnavailable(call, now)",
    to: "stored === null ? core.stepLocked(call, core.toJson(), now)",
    mustFail: () => scriptsWith((st) => st.event.type === "lock_unavailable"),
  },
];

/** The events page a script's operation ends with, if it does. */
const pageOf = (s) => s.steps.at(-1)?.action?.result?.events;

const scriptsWhere = (pred) => SCRIPTS.filter(([, s]) => pred(s)).map(([f, s]) => `${f}: ${s.name}`);

/** A `locked` event hands over a state other than the one this companion last persisted. */
function lockedStateChanged(script) {
  let last = script.state;
  for (const st of script.steps) {
    if (st.event.type === "locked" && st.event.state !== last) return true;
    if (st.action?.type === "persist") last = st.action.state;
  }
  return false;
}

/** The complete_connect scripts matching `pred`, by name. */
const connectScripts = (pred) =>
  SCRIPTS.filter(([, s]) => s.operation.op === "complete_connect" && pred(s)).map(([f, s]) => `${f}: ${s.name}`);

for (const m of MUTANTS) {
  test(`a driver that ${m.name} fails the replay`, async () => {
    const api = await mutant(m.from, m.to, m.file);
    const failed = await replayAll(api);
    const expected = m.mustFail();
    assert.ok(expected.length > 0, "the scripts exercise this rule");
    const missed = expected.filter((name) => !failed.some((f) => f.startsWith(`${name}: `)));
    assert.deepEqual(missed, [], `scripts that did not catch the mutant "${m.name}"`);
    console.log(`mutant "${m.name}": ${failed.length} of ${SCRIPTS.length} scripts fail, e.g. ${failed[0]}`);
  });
}

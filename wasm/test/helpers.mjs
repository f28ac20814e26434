// Shared helpers for the tessera-companion tests. Tests import the built
// package by name: scripts/test.d/10-wasm.sh unpacks the npm tarball into
// wasm/test/node_modules/tessera-companion.
import { readFileSync, readdirSync } from "node:fs";
import assert from "node:assert/strict";

export const VECTORS_DIR = new URL("../../tests/vectors/", import.meta.url);

/** The cases of one shared vector file. */
export function vectors(file) {
  return JSON.parse(readFileSync(new URL(file, VECTORS_DIR), "utf8")).cases;
}

/** Every vector file name. */
export function vectorFiles() {
  return readdirSync(VECTORS_DIR).filter((f) => f.endsWith(".json"));
}

export const text = (bytes) => new TextDecoder().decode(bytes);

/** Runs `fn`; returns its value, or `{ error: code }` when it throws a TesseraError. */
export function outcome(TesseraError, fn) {
  try {
    return { value: fn() };
  } catch (e) {
    assert.ok(e instanceof TesseraError, `expected a TesseraError, got ${e?.constructor?.name}: ${e}`);
    return { error: e.code };
  }
}

/** Async `outcome`. */
export async function outcomeAsync(TesseraError, fn) {
  try {
    return { value: await fn() };
  } catch (e) {
    assert.ok(e instanceof TesseraError, `expected a TesseraError, got ${e?.constructor?.name}: ${e}`);
    return { error: e.code };
  }
}

/** Header pairs as the vectors write them (ordered object), order-checked. */
export function assertHeaders(actualPairs, expectedObject, msg) {
  assert.deepEqual(actualPairs, Object.entries(expectedObject), msg);
}

/** A response as `fetch` would return it. */
export function response(status, body = "", headers = {}) {
  return new Response(status === 204 || status === 304 ? null : body, { status, headers });
}

/** A fake fetch that answers from a script and records what it was sent. */
export function scriptedFetch(script) {
  const sent = [];
  const fn = async (url, init) => {
    sent.push({ url, ...init, body: init.body === undefined ? "" : text(init.body) });
    const next = script.shift();
    if (next === undefined) throw new Error("script exhausted");
    if (next instanceof Error) throw next;
    return typeof next === "function" ? next(url, init) : next;
  };
  return { fetch: fn, sent };
}

/** A fake sleep that records the delays instead of waiting. */
export function recordingSleep() {
  const slept = [];
  return { sleep: async (ms) => void slept.push(ms), slept };
}

export const SEED = new Uint8Array(32).fill(42);
export const NOW = 1_700_000_000;

/** The Stora account the fake exchanges below report. */
export const ACCOUNT = Object.freeze({ id: "acct_test_1", name: "Test Storage Ltd" });

/** The broker's 200 answer to `POST /connect/complete` (docs/PROTOCOL.md §5.4.1). */
export function connectAnswer(brokerToken, account = ACCOUNT) {
  return response(200, JSON.stringify({ broker_token: brokerToken, account }), {
    "content-type": "application/json",
    "cache-control": "no-store",
  });
}

/**
 * Completes a connect whose exchange the fake broker answers with
 * `brokerToken` (and `account`) → `{ result, sent }`: what completeConnect
 * resolved to and the requests it sent. `options` go to the driver as well
 * (e.g. `now` for the callback's checks).
 */
export async function completeWith(companion, callback, brokerToken, options = {}) {
  const { account = ACCOUNT, ...driver } = options;
  const { fetch, sent } = scriptedFetch([connectAnswer(brokerToken, account)]);
  const result = await companion.completeConnect(callback, { fetch, sleep: async () => {}, ...driver });
  return { result, sent };
}

/** The `state` of a connect URL. */
export const stateOf = (connectUrl) => new URL(connectUrl).searchParams.get("state");

/** A well-formed connect code (16-256 of `[A-Za-z0-9-._~]`). */
export const CODE = "cc_test0123456789abcdefABCDEF";

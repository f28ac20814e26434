// What the secrets tests print and search (secrets.test.mjs,
// proxy-secrets.test.mjs): a value printed every way a plugin might print
// it, errors with their stack and fields, and the encodings a secret is
// searched for in.

import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { Console } from "node:console";
import util from "node:util";
import { TesseraError } from "tessera-companion";

/** Everything printed, with where it came from and the secret kinds allowed there. */
export class Capture {
  items = [];
  add(place, value, allow = []) {
    this.items.push([place, String(value), allow]);
  }
  /** Prints `value` every way a plugin might. */
  print(place, value, { allow = [] } = {}) {
    this.add(`inspect ${place}`, util.inspect(value, { depth: Infinity, showHidden: true, getters: true }), allow);
    this.add(`format ${place}`, util.format("%s %o %O %j", value, value, value, value), allow);
    let out = "";
    const sink = new Writable({
      write: (chunk, _enc, done) => {
        out += chunk.toString();
        done();
      },
    });
    const console = new Console({ stdout: sink, stderr: sink });
    console.log(value);
    console.error("failed:", value);
    console.dir(value, { depth: Infinity });
    console.table([value]);
    this.add(`console output of ${place}`, out, allow);
    try {
      this.add(`String ${place}`, String(value), allow);
    } catch {
      // objects without a string form
    }
    try {
      this.add(`JSON ${place}`, JSON.stringify(value), allow);
      this.add(`JSON nested ${place}`, JSON.stringify({ context: { value }, list: [value] }), allow);
    } catch {
      // not serialisable (BigInt, cycles)
    }
  }
  error(place, e) {
    assert.ok(e instanceof TesseraError, `${place}: expected a TesseraError, got ${e}`);
    this.print(place, e);
    this.add(`stack ${place}`, e.stack);
    this.add(`message ${place}`, e.message);
    this.add(`fields ${place}`, JSON.stringify({ ...e }));
  }
}

export async function rejects(cap, place, promiseOrFn) {
  try {
    await (typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn);
  } catch (e) {
    cap.error(place, e);
    return e;
  }
  assert.fail(`${place}: expected an error`);
}

export function forms(value, raw) {
  const out = [value, encodeURIComponent(value), Buffer.from(value).toString("base64"), Buffer.from(value).toString("hex")];
  if (raw) out.push(raw.toString("hex"), raw.toString("hex").toUpperCase(), raw.toString("base64"), encodeURIComponent(raw.toString("base64")));
  return out.filter((f) => f.length >= 16);
}

/**
 * Searches every place (`[place, text, kinds allowed there]`) for every value
 * `held` (value → kind), in every form of `forms()`, and for `canary` (the
 * prefix of every code and token the fake Stora issues: allowed only where
 * Stora's code or a Stora token is) → `{ needles, leaks, allowedHits }`.
 */
export function search(held, places, canary) {
  const needles = [];
  for (const [value, kind] of held) {
    const raw = kind === "secret" ? Buffer.from(value, "base64url") : undefined;
    for (const f of forms(value, raw)) needles.push([kind, f]);
  }
  const leaks = [];
  let allowedHits = 0;
  for (const [place, text, allow] of places) {
    for (const [kind, needle] of needles) {
      if (!text.includes(needle)) continue;
      if (allow.includes(kind)) allowedHits += 1;
      else leaks.push(`${kind} in ${place}: ${text.slice(0, 200)}`);
    }
    if (text.includes(canary) && !["canary", "access token", "refresh token"].some((k) => allow.includes(k))) {
      leaks.push(`a Stora code or token in ${place}: ${text.slice(0, 200)}`);
    }
  }
  return { needles, leaks, allowedHits };
}

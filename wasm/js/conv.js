// Type conversion between plain JavaScript values and the wasm exports.
// Only shapes and types are checked here; every rule about the values
// themselves (URLs, methods, header syntax, sizes) belongs to the core.

import { TesseraError, invalidArgument } from "./error.js";

/** The empty body. */
export const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** A required string. */
export function str(v, field) {
  if (typeof v !== "string") throw invalidArgument(field, "a string");
  return v;
}

/** An optional string: undefined and null mean absent. */
export function optStr(v, field) {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalidArgument(field, "a string");
  return v;
}

/** A plain object (the options bags and the request/response records). */
export function obj(v, field) {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalidArgument(field, "an object");
  return v;
}

/** An optional options bag. */
export function optObj(v, field) {
  return v === undefined || v === null ? {} : obj(v, field);
}

/** A required function. */
export function fn(v, field) {
  if (typeof v !== "function") throw invalidArgument(field, "a function");
  return v;
}

/** An optional function. */
export function optFn(v, field) {
  return v === undefined || v === null ? undefined : fn(v, field);
}

/** A whole number of seconds/milliseconds/status, as the core's integer. */
export function int(v, field) {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw invalidArgument(field, "an integer");
  return v;
}

/** An optional integer. */
export function optInt(v, field) {
  return v === undefined || v === null ? undefined : int(v, field);
}

/** Body bytes: Uint8Array, ArrayBuffer, any ArrayBuffer view, or a string (UTF-8). */
export function bytes(v, field) {
  if (v === undefined || v === null) return EMPTY;
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") return encoder.encode(v);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw invalidArgument(field, "a Uint8Array, an ArrayBuffer or a string");
}

/** A required byte string (keys, seeds). */
export function reqBytes(v, field) {
  if (v === undefined || v === null) throw invalidArgument(field, "a Uint8Array or a string");
  return bytes(v, field);
}

/**
 * Headers as a flat [name, value, name, value, …] string array. Accepts a
 * record of strings, an iterable of [name, value] pairs (arrays, `Headers`,
 * `Map`), or nothing.
 */
export function headerList(v, field) {
  const out = [];
  if (v === undefined || v === null) return out;
  if (typeof v !== "object") throw invalidArgument(field, "a record or an iterable of [name, value] pairs");
  if (typeof v[Symbol.iterator] === "function") {
    for (const pair of v) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
        throw invalidArgument(field, "[name, value] string pairs");
      }
      out.push(pair[0], pair[1]);
    }
    return out;
  }
  for (const name of Object.keys(v)) {
    const value = v[name];
    if (typeof value !== "string") throw invalidArgument(`${field}.${name}`, "a string");
    out.push(name, value);
  }
  return out;
}

/** A flat string array back to [name, value] pairs. */
export function pairs(flat) {
  const out = new Array(flat.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = [flat[2 * i], flat[2 * i + 1]];
  return out;
}

/** `[packed, body]` from the wasm side (see `request_out` in src/convert.rs) → `{ method, url, headers, body }`. */
export function unpackRequest(pair) {
  const packed = pair[0];
  const fields = [];
  for (let i = 0; i < packed.length; ) {
    let n = 0;
    for (let ch = packed.charCodeAt(i++); ch !== 58; ch = packed.charCodeAt(i++)) n = n * 10 + ch - 48;
    fields.push(packed.slice(i, i + n));
    i += n;
  }
  const headers = new Array((fields.length - 2) >> 1);
  for (let k = 0; k < headers.length; k++) headers[k] = [fields[2 + 2 * k], fields[3 + 2 * k]];
  return { method: fields[0], url: fields[1], headers, body: pair[1] };
}

/** Unix seconds now, from the host clock (`Date.now()` unless a clock is given). */
export function nowSecs(clock = Date.now) {
  return Math.floor(clock() / 1000);
}

/** `options.now` as unix seconds, or the host clock's now. */
export function optNow(v, field) {
  const n = optInt(v, field);
  return n === undefined ? nowSecs() : n;
}

/** A wasm trap would mean a bug; it still surfaces as a TesseraError. */
export function rethrow(e) {
  if (typeof WebAssembly !== "undefined" && e instanceof WebAssembly.RuntimeError) {
    throw new TesseraError("internal", "internal", "tessera-companion hit an internal error", { cause: e });
  }
  throw e;
}

// Type conversion between plain JavaScript values and the wasm exports.
// Only shapes and types are checked here; every rule about the values
// themselves (URLs, methods, header syntax, sizes) belongs to the core.
//
// Two bounds are the binding's own, because they are about copying into
// WebAssembly memory rather than about the values: no single string or byte
// input over MAX_INPUT (wasm32 has a 4 GiB address space, its memory never
// shrinks, and an allocation that does not fit aborts the instance), and no
// header list over MAX_HEADER_PAIRS entries (an endless iterable would
// otherwise never end). Both are far above every limit of the core.

import { TesseraError, invalidArgument } from "./error.js";

/** The empty body. */
export const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** Largest string (UTF-16 code units) or byte input copied into wasm memory. */
export const MAX_INPUT = 64 * 1024 * 1024;
/** Most [name, value] pairs read from one header list. */
export const MAX_HEADER_PAIRS = 10_000;

function tooLarge(field, limit) {
  return new TesseraError("too_large", "invalid_input", `\`${field}\` is too large (limit ${limit})`);
}

const wellFormed =
  typeof String.prototype.isWellFormed === "function"
    ? (s) => s.isWellFormed()
    : (s) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

/** A string that can cross into Rust unchanged: bounded, and valid Unicode (no lone surrogate). */
function text(v, field) {
  if (v.length > MAX_INPUT) throw tooLarge(field, MAX_INPUT);
  if (!wellFormed(v)) throw invalidArgument(field, "a well-formed string (it contains a lone surrogate)");
  return v;
}

/** A required string. */
export function str(v, field) {
  if (typeof v !== "string") throw invalidArgument(field, "a string");
  return text(v, field);
}

/** An optional string: undefined and null mean absent. */
export function optStr(v, field) {
  if (v === undefined || v === null) return undefined;
  return str(v, field);
}

/**
 * A plain object (the options bags and the request/response records): not an
 * array, a function, a boxed primitive, a Date, a Map, a typed array, ….
 */
export function obj(v, field) {
  if (typeof v !== "object" || v === null || Array.isArray(v) || Object.prototype.toString.call(v) !== "[object Object]") {
    throw invalidArgument(field, "an object");
  }
  return v;
}

/** An optional options bag. */
export function optObj(v, field) {
  return v === undefined || v === null ? {} : obj(v, field);
}

/**
 * A response object of a synchronous function: a plain `{ status, headers,
 * body }`. A fetch `Response` (its body is read asynchronously) is refused
 * with a pointer to the async readers.
 */
export function responseObj(v, field) {
  if (isFetchResponse(v)) {
    throw invalidArgument(
      field,
      "a plain { status, headers, body } object (a fetch Response's body can only be read asynchronously: " +
        "pass `await readResponse(response)`)",
    );
  }
  return obj(v, field);
}

/** A fetch `Response` or look-alike: not a plain object, with `arrayBuffer()`. */
function isFetchResponse(v) {
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.arrayBuffer === "function" &&
    Object.prototype.toString.call(v) !== "[object Object]"
  );
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

/** ArrayBuffer / view → Uint8Array (a detached buffer reads as empty, its byteLength being 0). */
function view(v, field) {
  if (v.byteLength > MAX_INPUT) throw tooLarge(field, MAX_INPUT);
  if (v instanceof Uint8Array) return v;
  if (v.byteLength === 0) return EMPTY;
  return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Bytes only: Uint8Array, ArrayBuffer or any ArrayBuffer view. */
export function binary(v, field) {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return view(v, field);
  throw invalidArgument(field, "an ArrayBuffer or a Uint8Array");
}

/** Body bytes: Uint8Array, ArrayBuffer, any ArrayBuffer view, or a string (UTF-8). */
export function bytes(v, field) {
  if (v === undefined || v === null) return EMPTY;
  if (typeof v === "string") return encoder.encode(text(v, field));
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return view(v, field);
  throw invalidArgument(field, "a Uint8Array, an ArrayBuffer or a string");
}

/** A required byte string (keys, seeds). */
export function reqBytes(v, field) {
  if (v === undefined || v === null) throw invalidArgument(field, "a Uint8Array or a string");
  return bytes(v, field);
}

/** An optional byte string (a seal key): `undefined` when absent. */
export function optBytes(v, field) {
  return v === undefined || v === null ? undefined : reqBytes(v, field);
}

/** A secret as the broker stores it: base64url text (checked as a string) or bytes. */
export function secretValue(v, field) {
  if (typeof v === "string") return text(v, field);
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const b = view(v, field);
    // The wasm side reads a Uint8Array; copy other views.
    return b === v || b === EMPTY ? b : new Uint8Array(b);
  }
  throw invalidArgument(field, "a base64url string or bytes");
}

/**
 * Headers as a flat [name, value, name, value, …] string array. Accepts a
 * plain record of strings, an iterable of [name, value] pairs (arrays,
 * `Headers`, `Map`), or nothing.
 */
export function headerList(v, field) {
  const out = [];
  if (v === undefined || v === null) return out;
  const expected = "a record or an iterable of [name, value] pairs";
  if (typeof v !== "object") throw invalidArgument(field, expected);
  const iterate = v[Symbol.iterator];
  if (typeof iterate === "function") {
    const it = iterate.call(v);
    if (typeof it !== "object" || it === null || typeof it.next !== "function") throw invalidArgument(field, expected);
    for (;;) {
      const step = it.next();
      if (typeof step !== "object" || step === null) throw invalidArgument(field, expected);
      if (step.done) return out;
      if (out.length >= 2 * MAX_HEADER_PAIRS) {
        it.return?.();
        throw tooLarge(field, MAX_HEADER_PAIRS);
      }
      const pair = step.value;
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
        throw invalidArgument(field, "[name, value] string pairs");
      }
      out.push(text(pair[0], field), text(pair[1], field));
    }
  }
  if (Object.prototype.toString.call(v) !== "[object Object]") throw invalidArgument(field, expected);
  const names = Object.keys(v);
  if (names.length > MAX_HEADER_PAIRS) throw tooLarge(field, MAX_HEADER_PAIRS);
  for (const name of names) {
    const value = v[name];
    if (typeof value !== "string") throw invalidArgument(`${field}.${name}`, "a string");
    out.push(text(name, field), text(value, field));
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
  const ms = clock();
  const secs = typeof ms === "number" ? Math.floor(ms / 1000) : NaN;
  if (!Number.isSafeInteger(secs)) throw invalidArgument("options.clock()", "a finite number of milliseconds");
  return secs;
}

/** `options.now` as unix seconds, or the host clock's now. */
export function optNow(v, field) {
  const n = optInt(v, field);
  return n === undefined ? nowSecs() : n;
}

// ---- responses ---------------------------------------------------------------

const decoder = new TextDecoder(); // like Response#text(): invalid UTF-8 reads as U+FFFD, a BOM is dropped

/**
 * Gives a `{ status, headers, body }` the readers of a fetch `Response`: `ok`
 * (a 2xx status), `text()` and `json()`, Promise-returning as fetch's are
 * (`json()` rejects with JSON.parse's SyntaxError, as fetch's does), and
 * readable any number of times. They are non-enumerable: the object still
 * compares, clones (structuredClone, chrome.runtime messaging) and
 * serialises as its three fields.
 */
export function withReaders(res) {
  const text = async () => decoder.decode(res.body);
  Object.defineProperties(res, {
    ok: { value: res.status >= 200 && res.status <= 299, configurable: true },
    text: { value: text, writable: true, configurable: true },
    json: { value: async () => JSON.parse(await text()), writable: true, configurable: true },
  });
  return res;
}

/**
 * One of Stora's events as the wasm side gives it (`{ id, type, apiVersion,
 * createdAt, dataJson }`, a pulled or a pushed one) → the public shape, with
 * `data`, its `dataJson` parsed (the core checked it is a JSON object with no
 * member twice). `dataJson` stays, as the broker sent it, for numbers beyond
 * a double's precision.
 */
export function storaEvent(e) {
  return {
    id: e.id,
    type: e.type,
    apiVersion: e.apiVersion,
    createdAt: e.createdAt,
    data: JSON.parse(e.dataJson),
    dataJson: e.dataJson,
  };
}

/** A page of Stora's events as the wasm export gives it (`{ events, cursor, hasMore }`) → the public shape. */
export function eventPage(page) {
  const events = page.events.map(storaEvent);
  return { events, cursor: page.cursor, hasMore: page.hasMore };
}

/**
 * A fetch `Response` (or look-alike: `status`, iterable `headers`,
 * `arrayBuffer()`) or a plain `{ status, headers?, body? }` → `{ status,
 * headers: [name, value][], body: Uint8Array }` with `withReaders`'s
 * readers: the form the synchronous functions (`classify`,
 * `handleRegistrationResponse`) take. Async: a Response's body is read here.
 */
export async function readResponse(response) {
  if (typeof response !== "object" || response === null) {
    throw invalidArgument("response", "a fetch Response or a { status, headers, body } object");
  }
  const fetched = isFetchResponse(response);
  if (!fetched) obj(response, "response");
  const status = int(response.status, "response.status");
  if (status < 0 || status > 65535) throw invalidArgument("response.status", "an HTTP status (0-65535)");
  const headers = pairs(headerList(response.headers, "response.headers"));
  // The result owns its bytes: a Response's are fresh, a plain object's are copied.
  const body = fetched
    ? binary(await response.arrayBuffer(), "response.arrayBuffer()")
    : bytes(response.body, "response.body").slice();
  return withReaders({ status, headers, body });
}

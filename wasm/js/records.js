// Timeline Events and Stora metadata: the pure helpers, and the event
// conversion `Companion#callAndRecord` uses. Types and shapes only; every
// rule (ids, lengths, URL, key syntax, limits) is the core's.

import { metadataPatchCore, timelineEventRequestCore, validateMetadataCore } from "./tessera_wasm.js";
import { invalidArgument } from "./error.js";
import { ensureReady, plugin } from "./ready.js";
import * as c from "./conv.js";

const { guarded } = plugin;

/** At most this many entries are read from one record (the core's limits are far lower). */
const MAX_ENTRIES = 10_000;

/**
 * A plain object as a flat [name, value, …] list; values are strings, or
 * also `null` when `nulls` (then returns `[set, deleted]`).
 */
function record(v, field, nulls = false) {
  c.obj(v, field);
  // An iterable is not a record (a Map-like object would read as empty).
  if (Symbol.iterator in v) throw invalidArgument(field, "a plain object of strings, not an iterable");
  const names = Object.keys(v);
  if (names.length > MAX_ENTRIES) throw invalidArgument(field, `at most ${MAX_ENTRIES} entries`);
  const set = [];
  const deleted = [];
  for (const name of names) {
    const value = v[name];
    if (nulls && value === null) deleted.push(c.str(name, field));
    else if (typeof value === "string") set.push(c.str(name, field), c.str(value, `${field}.${name}`));
    else throw invalidArgument(`${field}.${name}`, nulls ? "a string or null" : "a string");
  }
  return nulls ? [set, deleted] : set;
}

/**
 * `{ sourceId, templateId, contactId?, siteId?, description?, externalUrl?,
 * variables? }` → the core's argument list (variables flat, in order).
 */
export function eventArgs(event, field) {
  c.obj(event, field);
  return [
    c.str(event.sourceId, `${field}.sourceId`),
    c.str(event.templateId, `${field}.templateId`),
    c.optStr(event.contactId, `${field}.contactId`),
    c.optStr(event.siteId, `${field}.siteId`),
    c.optStr(event.description, `${field}.description`),
    c.optStr(event.externalUrl, `${field}.externalUrl`),
    event.variables === undefined || event.variables === null ? [] : record(event.variables, `${field}.variables`),
  ];
}

/**
 * The request recording `event` for the action `externalId` (`POST
 * /api/timeline/events`, `Idempotency-Key: tle-<externalId>`) →
 * `{ method, path, headers, body }`, ready for `companion.call`.
 */
export function timelineEventRequest(event, externalId) {
  ensureReady();
  const args = [...eventArgs(event, "event"), c.str(externalId, "externalId")];
  return guarded(() => timelineEventRequestCore(...args));
}

/** Checks a metadata object against Stora's rules (≤ 20 keys, `[a-z0-9._:-]{1,40}`, values ≤ 500 characters). */
export function validateMetadata(metadata) {
  ensureReady();
  const flat = record(metadata, "metadata");
  guarded(() => validateMetadataCore(flat));
}

/**
 * The JSON merge-patch body `{"metadata":{…}}` for `changes` (`null` deletes
 * a key), keys sorted; with `current`, the merged result is checked too.
 */
export function metadataPatch(changes, current) {
  ensureReady();
  const [set, deleted] = record(changes, "changes", true);
  const has = current !== undefined && current !== null;
  const now = has ? record(current, "current") : [];
  return guarded(() => metadataPatchCore(set, deleted, has, now));
}

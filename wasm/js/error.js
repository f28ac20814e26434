// The one error class of tessera-companion. The wasm module constructs it
// through `fromCore` (imported by the generated glue), so every core error
// reaches JavaScript as a TesseraError with the core's stable code.

const EXTRA = [
  "status",
  "retryAfterMs",
  "reason",
  "requestId",
  "registered",
  "current",
  "wireStatus",
  "wireCode",
  "description",
  "details",
];

/**
 * Every failure of tessera-companion: `code` is the stable machine-readable
 * code of the Rust core (`Error::code()`), `kind` its family.
 * Messages and `toJSON()` never contain a secret or a token.
 */
export class TesseraError extends Error {
  /**
   * @param {string} code
   * @param {string} kind
   * @param {string} message
   * @param {{status?: number, retryAfterMs?: number, reason?: string, requestId?: string,
   *          registered?: string, current?: string, wireStatus?: number, wireCode?: string,
   *          description?: string, details?: object, cause?: unknown}} [extra]
   */
  constructor(code, kind, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.kind = kind;
    // Only the fields that apply, so logs show what matters.
    for (const k of EXTRA) if (extra[k] !== undefined) this[k] = extra[k];
  }

  /** A plain, secret-free view (no stack, no cause). */
  toJSON() {
    const out = { name: this.name, code: this.code, kind: this.kind, message: this.message };
    for (const k of EXTRA) if (this[k] !== undefined) out[k] = this[k];
    return out;
  }
}

Object.defineProperty(TesseraError.prototype, "name", {
  value: "TesseraError",
  writable: true,
  configurable: true,
  enumerable: false,
});

/**
 * Called by the wasm module for every core error. Absent fields arrive as
 * `undefined`; `wireStatus`/`wireCode` (the core's `Error::wire_code()`)
 * only for verification failures; `description`/`details` only for
 * client_error (the broker's or Stora's explanation, cleaned and bounded by
 * the core: not secret, so `toJSON()` keeps them).
 * @returns {TesseraError}
 */
export function fromCore(
  code,
  kind,
  message,
  status,
  retryAfterMs,
  reason,
  requestId,
  registered,
  current,
  wireStatus,
  wireCode,
  description,
  details,
) {
  return new TesseraError(code, kind, message, {
    status,
    retryAfterMs,
    reason,
    requestId,
    registered,
    current,
    wireStatus,
    wireCode,
    description,
    details: parseDetails(details),
  });
}

/**
 * Stora's `error.details` (compact JSON text from the core) as an object or
 * array; `undefined` when absent, not an object or array, or cut by the
 * core's 2048-byte bound (a cut text ends in `…` and does not parse).
 * @param {string | undefined} text
 * @returns {object | undefined}
 */
function parseDetails(text) {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === "object" ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A wrong JavaScript argument (type conversion failed before reaching the core). */
export function invalidArgument(field, expected) {
  return new TesseraError("invalid_input", "invalid_input", `invalid \`${field}\`: expected ${expected}`);
}

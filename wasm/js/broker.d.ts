// Types of tessera-companion's broker side (Node only; mirrors wasm/js/broker.js).
// Importable as `tessera-companion` under Node, or `tessera-companion/broker`.

import type { BodyInput, HeaderList, HeadersInput, StoraEvent } from "./index.web.js";

/** A per-installation secret as the broker stores it: base64url text or bytes. */
export type SecretValue = string | Uint8Array | ArrayBuffer | ArrayBufferView;

/** Maps an install id to its secret (null/undefined when unknown); may be async. */
export type SecretLookup = (
  installId: string,
) => SecretValue | null | undefined | PromiseLike<SecretValue | null | undefined>;

/**
 * A replay store's answer when asked to record a nonce: `"fresh"` (it was not
 * live and is now kept: the request verifies), `"seen"` (a replay: 401
 * `replayed`) or `"full"` (this installation's share is full: 503
 * `replay_store_full`, fail closed). `true` / `false` are accepted as
 * `"fresh"` / `"seen"`.
 */
export type ReplayAnswer = "fresh" | "seen" | "full" | boolean;

/**
 * A host nonce store (a database or cache shared by the broker's processes):
 * record `key` until `expiresAt` (unix seconds) and answer whether it was new.
 * It is asked only after the request's MAC verified.
 * `key` is `installId + ":" + nonce`: bound what each installation may hold, never one limit for all.
 */
export interface ReplayStore {
  checkAndInsert(key: string, expiresAt: number, now: number): ReplayAnswer | PromiseLike<ReplayAnswer>;
}

/**
 * The core's in-memory nonce store, bounded per installation: an installation
 * holding `capacity` live nonces (default 1,000) is refused until they expire;
 * no other installation is affected.
 */
export class MemoryReplayStore {
  constructor(capacity?: number);
  readonly size: number;
}

/** A request as the broker received it; `url` absolute, as the public URL. */
export interface IncomingRequest {
  method: string;
  url: string;
  headers?: HeadersInput | null;
  body?: BodyInput | null;
}

export interface VerifyOptions {
  secretFor: SecretLookup;
  /** Required (there is no default store): one MemoryReplayStore kept for the process, or a shared ReplayStore. */
  replayStore: MemoryReplayStore | ReplayStore;
  /** Broker clock, unix seconds; default now. */
  now?: number;
  /** Accepted |created - now|, seconds (default 300). */
  windowSecs?: number;
}

export interface Verified {
  installId: string;
  created: number;
  expires: number;
  nonce: string;
  idempotencyKey?: string;
  /** The covered bearer token (the broker token), if any. */
  bearer?: string;
}

export function verifyRequest(request: IncomingRequest, options: VerifyOptions): Promise<Verified>;

export interface ConnectParams {
  installId: string;
  state: string;
  returnUrl: string;
  scope?: string;
  ts: number;
}

export function verifyConnectUrl(url: string, options: { secretFor: SecretLookup; now?: number }): Promise<ConnectParams>;

export function verifyUninstallTicket(
  installId: string,
  url: string,
  options: { secretFor: SecretLookup; now?: number; maxAgeSecs?: number },
): Promise<number>;

export function verifyOwnershipProof(args: {
  secret: SecretValue;
  installId: string;
  challenge: string;
  proof: string;
  /** Broker clock, unix seconds; default now. */
  now?: number;
}): void;

/**
 * What every verification failure (a TesseraError of kind `verification`, or
 * `invalid_request` for a malformed request) carries: the answer the broker
 * sends, decided by the core. Answer with exactly these.
 */
export interface WireAnswer {
  /** HTTP status: 401 for a signature, 503 for a full replay store, 403 for an ownership proof, 400 for a malformed request. */
  wireStatus: number;
  /** The body's `error` code. */
  wireCode: string;
  /** Response headers, lowercase names in order: content-type, cache-control, and `date` on `signature_expired`. */
  wireHeaders: Record<string, string>;
  /** The JSON body, `{"error": code, "error_description": message}`. */
  wireBody: string;
}

// ---- pushed events (docs/PROTOCOL.md §14.4) ------------------------------------

/**
 * Broker side: the `Tessera-Push-Signature` value of a push of `body` (the
 * exact bytes POSTed; a string is UTF-8) to the installation `installId`
 * holding `secret`, signed at `now` (unix seconds; default now).
 */
export function signPush(secret: SecretValue, installId: string, body: BodyInput, now?: number): string;

/** What `Companion#pushRegistrationRequest` returns: a request for `call()`. */
export interface PushRegistrationRequest {
  /** `PUT` registers the URL, `DELETE` stops the pushes. */
  method: "PUT" | "DELETE";
  /** `/events/push`. */
  path: string;
  headers: HeaderList;
  /** `{"url":"…"}` (the URL normalised), or empty for `DELETE`. */
  body: string;
}

declare module "./index.web.js" {
  interface Companion {
    /**
     * Node only (an extension cannot receive a push): verifies a push the
     * broker POSTed to the site → its events, as `pullEvents` gives them.
     * `body`: the raw body exactly as received; `now`: unix seconds (default
     * now). Refusals: `signature_missing`, `signature_malformed`,
     * `signature_expired`, `signature_invalid` (kind `verification`, with
     * `wireStatus` / `wireCode`), `response_invalid`, `too_large`,
     * `not_registered`. Answer the broker 2xx only when it returned; the
     * cursor does not move (keep events by id).
     */
    verifyPush(headers: HeadersInput | null | undefined, body: BodyInput, now?: number): StoraEvent[];
    /**
     * Node only: the request registering `url` (on the site's own origin) as
     * the site's push URL (`PUT /events/push`), or with `null` stopping the
     * pushes (`DELETE /events/push`); send it with `call()`.
     */
    pushRegistrationRequest(url: string | null): PushRegistrationRequest;
  }

  interface TesseraError {
    /** Broker side, a verification refusal: the response headers to send (see WireAnswer). */
    readonly wireHeaders?: Record<string, string>;
    /** Broker side, a verification refusal: the JSON body to send (see WireAnswer). */
    readonly wireBody?: string;
  }
}

// ---- low level ---------------------------------------------------------------------

/** A request for `hmacSignGeneric`. */
export interface GenericRequest {
  method: string;
  url: string;
  headers?: HeadersInput | null;
  body?: BodyInput | null;
}

/** What `hmacSignGeneric` returns. */
export interface GenericSignature {
  /** The RFC 9421 §2.5 signature base that was signed. */
  signatureBase: string;
  /** The `Signature` field value, `label=:base64:`. */
  signature: string;
}

/**
 * Generic RFC 9421 HMAC-SHA256 signing for the one member of a Signature-Input
 * value (any covered components), e.g. RFC 9421 Appendix B.2.5.
 */
export function hmacSignGeneric(request: GenericRequest, signatureInput: string, key: BodyInput): GenericSignature;

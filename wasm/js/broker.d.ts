// Types of tessera-companion's broker side (Node only; mirrors wasm/js/broker.js).
// Importable as `tessera-companion` under Node, or `tessera-companion/broker`.

import type { BodyInput, HeadersInput } from "./index.web.js";

/** A per-installation secret as the broker stores it: base64url text or bytes. */
export type SecretValue = string | Uint8Array | ArrayBuffer | ArrayBufferView;

/** Maps an install id to its secret (null/undefined when unknown); may be async. */
export type SecretLookup = (
  installId: string,
) => SecretValue | null | undefined | PromiseLike<SecretValue | null | undefined>;

/**
 * A host nonce store: return true when `key` was new and is now kept until `expiresAt`.
 * `key` is `installId + ":" + nonce`: bound what each installation may hold, never one limit for all.
 */
export interface ReplayStore {
  checkAndInsert(key: string, expiresAt: number, now: number): boolean | PromiseLike<boolean>;
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
  /** Default: one MemoryReplayStore per loaded module. */
  replayStore?: MemoryReplayStore | ReplayStore;
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
}): void;

// The 32-byte key that seals the package's state, kept out of chrome.storage.
//
// A non-extractable AES-GCM "wrapping key" (WebCrypto, extractable = false)
// lives in this extension's IndexedDB: a CryptoKey is structured-clonable
// into IndexedDB and stays non-extractable there, so no script can read its
// bytes, it can only encrypt and decrypt with it. chrome.storage.local holds
// only the seal key encrypted under it (WRAPPED_KEY: "wk1." + base64 of a
// 12-byte IV and the AES-GCM ciphertext of the 32 bytes); the raw seal key
// exists only in memory, while a state is opened or sealed. Works the same in
// the MV3 service worker and in the extension pages (both have indexedDB and
// crypto.subtle). Callers serialise access (tessera-host.js's Web Lock).
//
// What this protects against, and what not: README.md, "The seal key".

import { TesseraError } from "./companion.js";

/** chrome.storage.local: the wrapped seal key; the plaintext one of older versions. */
export const WRAPPED_KEY = "tessera.wrappedSealKey";
export const LEGACY_KEY = "tessera.sealKey";

const DB = "tessera-keys";
const STORE = "keys";
const WRAPPING_KEY_ID = "seal-key-wrapping";
const PREFIX = "wk1.";

function toBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text) {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}

/** Runs one request on the key store and resolves with its result. */
function idb(mode, op) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      db.onversionchange = () => db.close(); // never block a deleteDatabase
      const tx = db.transaction(STORE, mode);
      const req = op(tx.objectStore(STORE));
      tx.oncomplete = () => (db.close(), resolve(req.result));
      tx.onerror = tx.onabort = () => (db.close(), reject(tx.error ?? req.error));
    };
  });
}

/** The IndexedDB wrapping key, or undefined when there is none (first run, or lost). */
async function loadWrappingKey() {
  const key = await idb("readonly", (s) => s.get(WRAPPING_KEY_ID));
  return key instanceof CryptoKey ? key : undefined;
}

/** Makes and stores a fresh non-extractable wrapping key (replacing any other). */
async function newWrappingKey() {
  const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  await idb("readwrite", (s) => s.put(key, WRAPPING_KEY_ID));
  return key;
}

async function wrap(wrappingKey, sealKey) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, wrappingKey, sealKey));
  const blob = new Uint8Array(iv.length + ct.length);
  blob.set(iv);
  blob.set(ct, iv.length);
  return PREFIX + toBase64(blob);
}

/** The seal key, or undefined when `wrapped` does not open under `wrappingKey`. */
async function unwrap(wrappingKey, wrapped) {
  if (!wrappingKey || !wrapped.startsWith(PREFIX)) return undefined;
  try {
    const blob = fromBase64(wrapped.slice(PREFIX.length));
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: blob.subarray(0, 12) }, wrappingKey, blob.subarray(12));
    return plain.byteLength === 32 ? new Uint8Array(plain) : undefined;
  } catch {
    return undefined;
  }
}

/** Wraps `sealKey` under the stored wrapping key (made now if there is none) and stores it. */
async function store(sealKey, wrappingKey) {
  wrappingKey ??= (await loadWrappingKey()) ?? (await newWrappingKey());
  await chrome.storage.local.set({ [WRAPPED_KEY]: await wrap(wrappingKey, sealKey) });
  return sealKey;
}

/**
 * The raw 32-byte seal key, in memory only.
 *
 * - First run (no key anywhere): draws 32 random bytes, wraps and stores them.
 * - An older version's plaintext `tessera.sealKey`: wraps it, stores the
 *   wrapped key, then removes the plaintext one (the same key: the sealed
 *   state keeps opening).
 * - A wrapped key that cannot be unwrapped (the IndexedDB wrapping key is gone
 *   or differs): when there is a sealed state (`hasState`), throws
 *   `state_undecryptable`, the same error as a state that does not open, so
 *   the pages offer "Forget local state"; nothing is replaced silently. With no
 *   sealed state there is nothing to lose, and a fresh key is made.
 */
export async function loadSealKey(hasState) {
  const stored = await chrome.storage.local.get([WRAPPED_KEY, LEGACY_KEY]);
  const wrapped = stored[WRAPPED_KEY];
  const legacy = stored[LEGACY_KEY];
  if (typeof wrapped === "string") {
    const wrappingKey = await loadWrappingKey();
    const key = await unwrap(wrappingKey, wrapped);
    if (key) {
      // A migration interrupted after the wrapped key was written.
      if (legacy !== undefined) await chrome.storage.local.remove(LEGACY_KEY);
      return key;
    }
    if (hasState) {
      throw new TesseraError(
        "state_undecryptable",
        "state_undecryptable",
        "the seal key cannot be unwrapped (its wrapping key in IndexedDB is missing or different), so the stored state cannot be opened",
      );
    }
    return store(crypto.getRandomValues(new Uint8Array(32)), wrappingKey);
  }
  if (typeof legacy === "string") {
    const key = await store(fromBase64(legacy));
    await chrome.storage.local.remove(LEGACY_KEY);
    return key;
  }
  return store(crypto.getRandomValues(new Uint8Array(32)));
}

/** Forgets the stored seal key (wrapped and legacy); the wrapping key stays for the next one. */
export async function forgetSealKey() {
  await chrome.storage.local.remove([WRAPPED_KEY, LEGACY_KEY]);
}

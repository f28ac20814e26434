// Every shared vector in tests/vectors/*.json through the npm API, byte for byte.
import { describe, it, test } from "node:test";
import assert from "node:assert/strict";
import {
  Companion,
  TesseraError,
  classify,
  hmacSignGeneric,
  MemoryReplayStore,
  metadataPatch,
  timelineEventRequest,
  validateMetadata,
  verifyConnectUrl,
  verifyOwnershipProof,
  verifyRequest,
  verifyUninstallTicket,
} from "tessera-companion";
import { assertHeaders, outcome, outcomeAsync, text, vectorFiles, vectors } from "./helpers.mjs";

const handled = new Set();
const cases = (file) => {
  handled.add(file);
  return vectors(file);
};
const pendingConnect = (c) => JSON.parse(c.exportState()).pending_connect !== null;

describe("signing.json: signRequest", () => {
  for (const v of cases("signing.json")) {
    it(v.name, () => {
      const r = outcome(TesseraError, () => Companion.importState(v.state).signRequest(v.request, v.options));
      if (v.expected.error) {
        assert.equal(r.error, v.expected.error, v.name);
        return;
      }
      assert.equal(r.error, undefined, `${v.name}: ${r.error}`);
      const got = r.value;
      assert.equal(got.method, v.expected.method, v.name);
      assert.equal(got.url, v.expected.url, v.name);
      assertHeaders(got.headers, v.expected.headers, v.name);
      assert.equal(text(got.body), v.expected.body, v.name);
    });
  }
});

describe("classification.json: classify", () => {
  for (const v of cases("classification.json")) {
    it(v.name, () => {
      const o = classify(v.response, { now: v.now });
      const got = {
        kind: o.kind, status: o.status, code: o.code ?? null, retryAfterMs: o.retryAfterMs ?? null,
        requestId: o.requestId ?? null, fromStora: o.fromStora, description: o.description ?? null,
        details: o.details ?? null,
      };
      assert.deepEqual(got, v.expected, v.name);
    });
  }
});

describe("connect.json: connectUrl", () => {
  for (const v of cases("connect.json")) {
    it(v.name, () => {
      const c = Companion.importState(v.state);
      const r = outcome(TesseraError, () => c.connectUrl(v.input));
      if (v.expected.error) assert.deepEqual({ error: r.error }, { error: v.expected.error }, v.name);
      else assert.deepEqual({ url: r.value, status: c.status }, v.expected, v.name);
    });
  }
});

describe("callback.json: completeConnect", () => {
  for (const v of cases("callback.json")) {
    it(v.name, async () => {
      const c = Companion.importState(v.state);
      // Every request the completion sends is answered with `answer`; the clock stands at `now`.
      const sent = [];
      const fetch = async (url, init) => {
        sent.push({
          method: init.method,
          url,
          body: init.body === undefined ? "" : text(init.body),
          authorization: init.headers.some(([name]) => name.toLowerCase() === "authorization"),
        });
        return { status: v.answer.status, headers: [], body: v.answer.body };
      };
      const r = await outcomeAsync(TesseraError, () =>
        c.completeConnect(v.callback, { fetch, sleep: async () => {}, clock: () => v.now * 1000 }),
      );
      const got = { status: c.status, pendingConnect: pendingConnect(c) };
      if (c.account !== null) got.account = c.account;
      if (sent.length > 0) got.sent = sent;
      if (r.error !== undefined) got.error = r.error;
      else assert.deepEqual(r.value, { account: c.account }, v.name);
      assert.deepEqual(got, v.expected, v.name);
    });
  }
});

/** A refusal as the vectors write it: the code and the wire answer the error carries. */
function refusal(e) {
  assert.ok(e instanceof TesseraError, `expected a TesseraError, got ${e}`);
  assert.deepEqual(Object.keys(e.wireHeaders ?? {}), Object.keys(e.wireHeaders ?? {}).map((k) => k.toLowerCase()));
  return { error: e.code, answer: { status: e.wireStatus, code: e.wireCode, headers: e.wireHeaders, body: e.wireBody } };
}

/** Runs `fn`; its value, or the refusal it threw. */
async function refusalOr(fn) {
  try {
    return { value: await fn() };
  } catch (e) {
    return { refused: refusal(e) };
  }
}

/** `expected` with its answer's headers compared in order (the vectors' objects are ordered). */
function assertRefusal(got, expected, name) {
  assert.deepEqual(got, expected, name);
  if (expected.answer) assert.deepEqual(Object.entries(got.answer.headers), Object.entries(expected.answer.headers), name);
}

describe("verify.json: verifyRequest in order with one fresh replay store, refusals with their wire answer", () => {
  for (const v of cases("verify.json")) {
    it(v.name, async () => {
      // 64 live nonces per installation, as in every runner (tests/vectors/README.md).
      const replayStore = new MemoryReplayStore(64);
      const got = [];
      for (const req of v.requests) {
        const r = await refusalOr(() => verifyRequest(req, { secretFor: (id) => v.secrets[id], now: v.now, replayStore }));
        got.push(r.refused ?? { installId: r.value.installId, nonce: r.value.nonce, created: r.value.created });
      }
      assert.equal(got.length, v.expected.length, v.name);
      got.forEach((g, i) => assertRefusal(g, v.expected[i], `${v.name} #${i}`));
    });
  }
});

describe("verify_links.json: verifyConnectUrl, verifyUninstallTicket, verifyOwnershipProof with their wire answers", () => {
  const run = {
    connect: (v) => verifyConnectUrl(v.url, { secretFor: (id) => v.secrets[id], now: v.now }),
    uninstall: async (v) => ({ ts: await verifyUninstallTicket(v.installId, v.url, { secretFor: (id) => v.secrets[id], now: v.now }) }),
    ownership: (v) => {
      verifyOwnershipProof({ secret: v.secrets[v.installId], installId: v.installId, challenge: v.challenge, proof: v.proof, now: v.now });
      return { ok: true };
    },
  };
  for (const v of cases("verify_links.json")) {
    it(`${v.kind}: ${v.name}`, async () => {
      assert.ok(run[v.kind], `unknown kind ${v.kind}`);
      const r = await refusalOr(() => run[v.kind](v));
      const got = r.refused ?? Object.fromEntries(Object.entries(r.value).filter(([, x]) => x !== undefined));
      assertRefusal(got, v.expected, v.name);
    });
  }
});

describe("seal.json: openState", () => {
  for (const v of cases("seal.json")) {
    it(v.name, () => {
      const r = outcome(TesseraError, () => Companion.openState(v.sealed, v.keyMaterial).exportState());
      assert.deepEqual(r.error ? { error: r.error } : { state: r.value }, v.expected, v.name);
    });
  }
});

describe("ownership.json: handleRegistrationResponse", () => {
  for (const v of cases("ownership.json")) {
    it(v.name, () => {
      const c = Companion.importState(v.state);
      const r = outcome(TesseraError, () => c.handleRegistrationResponse(v.response));
      const got = r.error ? { error: r.error, status: c.status } : { ...r.value, status: c.status };
      assert.deepEqual(got, v.expected, v.name);
    });
  }
});

describe("push.json: verifyPush, pushRegistrationRequest (broker module, on the companion's state)", () => {
  const wire = (e) => ({ id: e.id, type: e.type, api_version: e.apiVersion, created_at: e.createdAt, data_json: e.dataJson });
  for (const v of cases("push.json")) {
    it(v.name, () => {
      const c = Companion.importState(v.state);
      if ("url" in v) {
        const r = outcome(TesseraError, () => c.pushRegistrationRequest(v.url));
        if (r.error) return assert.deepEqual({ error: r.error }, v.expected, v.name);
        const { method, path, headers, body } = r.value;
        assert.deepEqual({ method, path, body }, v.expected, v.name);
        // The request `call()` takes: JSON when there is a body, nothing else.
        assert.deepEqual(headers, body === "" ? [] : [["content-type", "application/json"]], v.name);
        return;
      }
      // The body as received: as text, and as the same bytes.
      for (const body of [v.body, new TextEncoder().encode(v.body)]) {
        const r = outcome(TesseraError, () => c.verifyPush(v.headers, body, v.now));
        if (r.error) {
          assert.deepEqual({ error: r.error }, v.expected, v.name);
          continue;
        }
        assert.deepEqual({ events: r.value.map(wire) }, v.expected, v.name);
        for (const e of r.value) assert.deepEqual(e.data, JSON.parse(e.dataJson), v.name);
      }
    });
  }
});

describe("uninstall_url.json: uninstallUrl", () => {
  for (const v of cases("uninstall_url.json")) {
    it(v.name, () => {
      const r = outcome(TesseraError, () => Companion.importState(v.state).uninstallUrl({ now: v.now }));
      assert.deepEqual(r.error ? { error: r.error } : { url: r.value }, v.expected, v.name);
    });
  }
});

describe("rfc9421.json: generic HMAC signing (Appendix B.2.5)", () => {
  for (const v of cases("rfc9421.json")) {
    it(v.name, () => {
      const key = Buffer.from(v.keyBase64, "base64");
      assert.deepEqual(hmacSignGeneric(v.request, v.signatureInput, key), v.expected, v.name);
    });
  }
});

describe("inputs.json: create + registrationRequest", () => {
  for (const v of cases("inputs.json")) {
    it(v.name, () => {
      const r = outcome(TesseraError, () => {
        const c = Companion.create({ brokerUrl: v.input.brokerUrl });
        if (v.input.registration) c.registrationRequest(v.input.registration);
        return true;
      });
      assert.deepEqual(r.error ? { error: r.error } : { ok: true }, v.expected, v.name);
    });
  }
});

/** `{ error, message }` of a TesseraError, or the value. */
function withMessage(fn) {
  try {
    return { value: fn() };
  } catch (e) {
    assert.ok(e instanceof TesseraError, `expected a TesseraError, got ${e}`);
    return { error: { error: e.code, message: e.message } };
  }
}

/** A vector's snake_case event → the npm shape. */
const jsEvent = (e) => ({
  sourceId: e.source_id,
  templateId: e.template_id,
  contactId: e.contact_id,
  siteId: e.site_id,
  description: e.description,
  externalUrl: e.external_url,
  variables: e.variables,
});

describe("timeline.json: timelineEventRequest", () => {
  for (const v of cases("timeline.json")) {
    it(v.name, () => {
      const r = withMessage(() => timelineEventRequest(jsEvent(v.event), v.external_id));
      if (v.expected.error) return assert.deepEqual(r.error, v.expected, v.name);
      assert.equal(r.error, undefined, `${v.name}: ${JSON.stringify(r.error)}`);
      const { method, path, headers, body } = r.value;
      assert.deepEqual({ method, path, body }, { method: v.expected.method, path: v.expected.path, body: v.expected.body });
      assertHeaders(headers, v.expected.headers, v.name);
    });
  }
});

describe("metadata.json: validateMetadata, metadataPatch", () => {
  for (const v of cases("metadata.json")) {
    it(v.name, () => {
      const r = "metadata" in v ? withMessage(() => validateMetadata(v.metadata)) : withMessage(() => metadataPatch(v.changes, v.current));
      if (v.expected.error) return assert.deepEqual(r.error, v.expected, v.name);
      assert.equal(r.error, undefined, `${v.name}: ${JSON.stringify(r.error)}`);
      assert.deepEqual("metadata" in v ? { ok: r.value === undefined } : { body: r.value }, v.expected, v.name);
    });
  }
});

test("every vector file is exercised", () => {
  // The machine scripts are replayed through the driver by machine.test.mjs.
  for (const f of vectorFiles()) if (/^machine.*\.json$/.test(f)) handled.add(f);
  // proxy-*.json: the authorization proxy's tokens, a Rust-only API (core/tests/vectors.rs).
  for (const f of vectorFiles()) if (/^proxy-.*\.json$/.test(f)) handled.add(f);
  assert.deepEqual(vectorFiles().filter((f) => !handled.has(f)), []);
});

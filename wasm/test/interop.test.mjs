// Interop with an independent RFC 9421 implementation from npm
// (http-message-signatures), both directions, and RFC 9421 Appendix B.2.5.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { httpbis, createSigner, createVerifier } from "http-message-signatures";
import { Companion, MemoryReplayStore, contentDigest, hmacSignGeneric, verifyRequest } from "tessera-companion";
import { CODE, SEED, completeWith, stateOf } from "./helpers.mjs";

const PROFILE_PARAMS = ["created", "expires", "nonce", "alg", "keyid", "tag"];

async function connected() {
  const c = Companion.create({ brokerUrl: "https://broker.example:8443/base" });
  c.useSeededEntropy(SEED);
  c.registrationRequest({ siteUrl: "https://shop.example", adminEmail: "a@shop.example", platform: "chrome-extension", pluginVersion: "1" });
  c.handleRegistrationResponse({ status: 201 });
  const now = Math.floor(Date.now() / 1000);
  const state = stateOf(c.connectUrl({ returnUrl: "chrome-extension://abc/cb", now }));
  await completeWith(c, `state=${state}&code=${CODE}`, "btk_interop");
  c.useSeededEntropy(null);
  const secret = Buffer.from(JSON.parse(c.exportState()).installation.secret, "base64url");
  return { c, secret };
}

/** Verifies with the npm implementation; resolves true / false / null. */
function npmVerify(signed, secret, installId) {
  return httpbis.verifyMessage(
    {
      keyLookup: async (params) => (params.keyid === installId ? { id: installId, algs: ["hmac-sha256"], verify: createVerifier(secret, "hmac-sha256") } : null),
      requiredFields: ["@method", "@authority", "@path", "@query", "content-digest"],
      requiredParams: PROFILE_PARAMS,
    },
    { method: signed.method, url: signed.url, headers: Object.fromEntries(signed.headers) },
  );
}

test("tessera-companion signatures verify with http-message-signatures", async () => {
  const { c, secret } = await connected();
  const requests = [
    { method: "GET", path: "/api/orders" },
    { method: "GET", path: "/api/orders?limit=3&after=u_%2F1" },
    { method: "POST", path: "/api/units", headers: { "content-type": "application/json" }, body: '{"name":"A1","size":"5x5"}' },
    { method: "PATCH", path: "/api/units/u_1", headers: { "Content-Type": "application/merge-patch+json", "X-Extra": "not covered" }, body: "{}" },
    { method: "DELETE", path: "/api/units/u_1", headers: { "idempotency-key": "caller-key-1" } },
  ];
  for (const req of requests) {
    const signed = c.signRequest(req);
    assert.equal(await npmVerify(signed, secret, c.installId), true, `${req.method} ${req.path}`);
    // Any change to a covered component fails with the npm verifier too.
    const tampered = { ...signed, headers: signed.headers.map(([k, v]) => [k, k === "content-digest" ? contentDigest("other") : v]) };
    assert.equal(await npmVerify(tampered, secret, c.installId), false);
    assert.equal(await npmVerify({ ...signed, url: signed.url.replace("/api/", "/apx/") }, secret, c.installId), false);
    assert.equal(await npmVerify(signed, Buffer.alloc(32, 1), c.installId), false);
  }
});

test("signatures made by http-message-signatures with the profile verify with tessera-companion", async () => {
  const { c, secret } = await connected();
  const url = "https://broker.example:8443/base/api/units?limit=3";
  const body = '{"name":"A1"}';
  const headers = {
    "content-type": "application/json",
    "content-digest": contentDigest(body),
    authorization: "Bearer btk_interop",
    "idempotency-key": "npm-key-1",
  };
  const signed = await httpbis.signMessage(
    {
      key: createSigner(secret, "hmac-sha256", c.installId),
      name: "tessera",
      fields: ["@method", "@authority", "@path", "@query", "content-type", "content-digest", "authorization", "idempotency-key"],
      params: PROFILE_PARAMS,
      paramValues: { nonce: "npm-nonce-1", tag: "tessera-v1" },
    },
    { method: "POST", url, headers },
  );
  const v = await verifyRequest({ method: "POST", url, headers: signed.headers, body }, { secretFor: (id) => (id === c.installId ? new Uint8Array(secret) : null), replayStore: new MemoryReplayStore() });
  assert.equal(v.installId, c.installId);
  assert.equal(v.nonce, "npm-nonce-1");
  assert.equal(v.idempotencyKey, "npm-key-1");
  assert.equal(v.bearer, "btk_interop");
});

test("RFC 9421 Appendix B.2.5 (hmac-sha256, key test-shared-secret)", async () => {
  const key = Buffer.from("uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==", "base64");
  const request = {
    method: "POST",
    url: "https://example.com/foo?param=Value&Pet=dog",
    headers: {
      host: "example.com",
      date: "Tue, 20 Apr 2021 02:07:55 GMT",
      "content-type": "application/json",
      "content-digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
      "content-length": "18",
    },
    body: '{"hello": "world"}',
  };
  const input = 'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"';
  const out = hmacSignGeneric(request, input, key);
  assert.equal(out.signature, "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:");
  assert.equal(
    out.signatureBase,
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n"@authority": example.com\n"content-type": application/json\n"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
  );
  // The same base through node:crypto and the npm implementation.
  assert.equal(createHmac("sha256", key).update(out.signatureBase).digest("base64"), "pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=");
  const npm = await httpbis.signMessage(
    {
      key: createSigner(key, "hmac-sha256", "test-shared-secret"),
      name: "sig-b25",
      fields: ["date", "@authority", "content-type"],
      params: ["created", "keyid"],
      paramValues: { created: new Date(1618884473 * 1000) },
    },
    { method: request.method, url: request.url, headers: request.headers },
  );
  assert.equal(npm.headers.Signature, "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:");
  assert.equal(npm.headers["Signature-Input"], input);
});

// The npm package against the core's one table of error codes (tessera_core::CODES,
// printed by `cargo run -q -p tessera-core --example codes`): the ErrorCode and
// ErrorKind unions of the packed .d.ts name exactly the core's codes and kinds,
// the README's table of errors lists them, and a verification failure carries
// the wire status and code of its row.
// scripts/test.d/10-wasm.sh writes the table and passes it as TESSERA_CODES_JSON;
// without it the test prints the table itself with cargo.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Companion, MemoryReplayStore, TesseraError, verifyOwnershipProof, verifyRequest } from "tessera-companion";
import { NOW, SEED } from "./helpers.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The core's table: [{code, kind, wire_status, wire_code}], in enum order. */
function coreTable() {
  const file = process.env.TESSERA_CODES_JSON;
  const json = file
    ? readFileSync(file, "utf8")
    : execFileSync("cargo", ["run", "-q", "-p", "tessera-core", "--example", "codes"], { cwd: ROOT, encoding: "utf8" });
  const rows = JSON.parse(json);
  assert.ok(Array.isArray(rows) && rows.length > 0, "the core's code table is empty");
  return rows;
}

const TABLE = coreTable();
const ROW = new Map(TABLE.map((r) => [r.code, r]));

/** The string literals of `export type <name> = | "a" | "b" …;` in a declaration file. */
function union(dts, name) {
  const m = dts.match(new RegExp(`export type ${name} =([^;]*);`));
  assert.ok(m, `no \`export type ${name}\` in the packed index.web.d.ts`);
  return [...m[1].matchAll(/\|\s*"([^"]+)"/g)].map((x) => x[1]);
}

/** `want` and `got` as lists, with what is missing or extra spelled out on failure. */
function assertSameList(got, want, what) {
  const missing = want.filter((x) => !got.includes(x));
  const extra = got.filter((x) => !want.includes(x));
  assert.deepEqual(got, want, `${what}: missing ${JSON.stringify(missing)}, not in the core ${JSON.stringify(extra)} (or another order)`);
}

test("the .d.ts ErrorCode and ErrorKind unions are exactly the core's codes and kinds, in the core's order", () => {
  const dts = readFileSync(new URL("./node_modules/tessera-companion/index.web.d.ts", import.meta.url), "utf8");
  assertSameList(union(dts, "ErrorCode"), TABLE.map((r) => r.code), "ErrorCode");
  assertSameList(union(dts, "ErrorKind"), [...new Set(TABLE.map((r) => r.kind))], "ErrorKind");
});

test("the package README's table of errors lists every code under its kind", () => {
  const readme = readFileSync(new URL("./node_modules/tessera-companion/README.md", import.meta.url), "utf8");
  // | `kind` | `code`, `code` (notes) | what to do |
  const rows = new Map();
  for (const m of readme.matchAll(/^\| `([a-z_]+)` \| ([^|]*) \|/gm)) rows.set(m[1], [...m[2].matchAll(/`([a-z_]+)`/g)].map((x) => x[1]));
  const kinds = [...new Set(TABLE.map((r) => r.kind))];
  assertSameList([...rows.keys()].filter((k) => kinds.includes(k) || rows.get(k).some((c) => ROW.has(c))), kinds, "README kinds");
  for (const { code, kind } of TABLE) {
    assert.ok(rows.get(kind)?.includes(code), `README: \`${code}\` is not listed under kind \`${kind}\``);
  }
});

/** A registered companion and its secret (seeded: reproducible). */
function registered() {
  const c = Companion.create({ brokerUrl: "https://broker.example" });
  c.useSeededEntropy(SEED);
  c.registrationRequest({ siteUrl: "https://shop.example", adminEmail: "owner@shop.example", platform: "wordpress", pluginVersion: "1" });
  c.handleRegistrationResponse({ status: 201 });
  return { c, secret: JSON.parse(c.exportState()).installation.secret };
}

/** The error a promise rejects with, or a function throws. */
async function failure(fn) {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof TesseraError, `expected a TesseraError, got ${e}`);
    return e;
  }
  assert.fail("expected a failure");
}

test("verification failures carry wireStatus/wireCode (the core's Error::wire_code), like PHP's VerificationException", async () => {
  const { c, secret } = registered();
  const wrongSecret = new Uint8Array(32).fill(7);
  const secretFor = () => secret;
  const signed = (nonce) => c.signRequest({ method: "POST", path: "/api/x", body: "abc" }, { now: NOW, nonce });
  const tamperedInput = (req) => ({
    ...req,
    headers: req.headers.map(([k, v]) => [k, k === "signature-input" ? v.replace("created=", "created=x") : v]),
  });
  const full = new MemoryReplayStore(1);
  await verifyRequest(signed("n-0"), { secretFor, now: NOW, replayStore: full });
  const proofArgs = { secret, installId: c.installId, challenge: "challenge-0123456789abcdef", proof: "not-the-proof" };

  const raised = [
    await failure(() => verifyRequest({ ...signed("n-1"), headers: [] }, { secretFor, now: NOW, replayStore: new MemoryReplayStore() })),
    await failure(() => verifyRequest(tamperedInput(signed("n-2")), { secretFor, now: NOW, replayStore: new MemoryReplayStore() })),
    await failure(() => verifyRequest(signed("n-3"), { secretFor: () => wrongSecret, now: NOW, replayStore: new MemoryReplayStore() })),
    await failure(() => verifyRequest(signed("n-4"), { secretFor, now: NOW + 10_000, replayStore: new MemoryReplayStore() })),
    await failure(async () => {
      const store = new MemoryReplayStore();
      const req = signed("n-5");
      await verifyRequest(req, { secretFor, now: NOW, replayStore: store });
      await verifyRequest(req, { secretFor, now: NOW, replayStore: store });
    }),
    await failure(() => verifyRequest({ ...signed("n-6"), body: "abd" }, { secretFor, now: NOW, replayStore: new MemoryReplayStore() })),
    await failure(() => verifyRequest(signed("n-7"), { secretFor: () => null, now: NOW, replayStore: new MemoryReplayStore() })),
    await failure(() => verifyRequest(signed("n-8"), { secretFor, now: NOW, replayStore: full })),
    await failure(() => verifyOwnershipProof(proofArgs)),
  ];
  // Every verification code of the table is raised here, for real — but the
  // authorization proxy's, which only the Rust core's proxy API raises (the
  // npm package has no proxy API; core/tests/proxy_*.rs raise them).
  const proxyOnly = new Set(["proxy_state_invalid", "proxy_state_expired", "code_context_invalid", "code_context_expired", "code_context_mismatch"]);
  for (const code of proxyOnly) assert.deepEqual([ROW.get(code)?.kind, ROW.get(code)?.wire_status], ["verification", 400], code);
  assertSameList(
    raised.map((e) => e.code),
    TABLE.filter((r) => r.kind === "verification" && !proxyOnly.has(r.code)).map((r) => r.code),
    "verification codes raised",
  );
  for (const e of raised) {
    const row = ROW.get(e.code);
    assert.equal(e.kind, "verification", e.code);
    assert.equal(e.wireStatus, row.wire_status, e.code);
    assert.equal(e.wireCode, row.wire_code, e.code);
    assert.ok([401, 403, 503].includes(e.wireStatus), `${e.code}: ${e.wireStatus}`);
    const json = JSON.parse(JSON.stringify(e));
    assert.equal(json.wireStatus, row.wire_status, e.code);
    assert.equal(json.wireCode, row.wire_code, e.code);
    assert.equal(JSON.stringify(e).includes(secret), false, e.code);
  }
  // Two fixed points, in case the table and the binding drifted together.
  assert.deepEqual([raised[0].wireStatus, raised[0].wireCode], [401, "signature_missing"]);
  assert.deepEqual([raised[7].wireStatus, raised[7].wireCode], [503, "replay_store_full"]);
});

test("errors of any other kind have no wireStatus/wireCode, in the object or its toJSON", async () => {
  const cases = [
    await failure(() => Companion.create({ brokerUrl: "http://evil.example" })),
    await failure(() => Companion.importState("{")),
    await failure(() => verifyRequest({ method: "POST", url: "https://broker.example/x", body: new Uint8Array((1 << 20) + 1) }, { secretFor: () => null })),
  ];
  for (const e of cases) {
    assert.notEqual(e.kind, "verification");
    assert.ok(ROW.has(e.code), `${e.code} is in the core's table`);
    assert.equal(e.wireStatus, undefined, e.code);
    assert.equal(e.wireCode, undefined, e.code);
    assert.equal("wireStatus" in e.toJSON() || "wireCode" in e.toJSON(), false, e.code);
  }
});

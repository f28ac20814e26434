// Measurements (not a test): signs per second for tessera-companion vs the npm
// RFC 9421 implementation http-message-signatures vs a hand-rolled node:crypto
// HMAC over the same signature base (the floor), side by side in one run; then
// cold start (import + init + first sign) in fresh processes.
//
//   bash scripts/build-wasm.sh && node wasm/bench/bench.mjs [seconds-per-round]
//
// All three sign the same request with the same key, nonce, time and
// Idempotency-Key, and produce the same Signature value (checked first). The
// npm implementation and the floor also compute the Content-Digest, which
// tessera-companion computes as part of signing.
import { createHash, createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { httpbis, createSigner } from "http-message-signatures";

const PKG = new URL("../pkg/", import.meta.url);
const { Companion } = await import(new URL("index.node.js", PKG));
const SECONDS = Number(process.argv[2] ?? 1);

const NOW = 1_700_000_000;
const NONCE = "bench-nonce-0123456789";
const IDEM = "bench-idempotency-key-1";
const BODY = '{"unit":"A-101","size":"5x10","tenant":"t_123"}';
const c = Companion.create({ brokerUrl: "https://broker.example" });
await c.register(
  { siteUrl: "https://shop.example", adminEmail: "a@shop.example", platform: "chrome-extension", pluginVersion: "1" },
  { fetch: async () => ({ status: 201 }) },
);
const state = new URL(c.connectUrl({ returnUrl: "chrome-extension://abc/cb", now: NOW })).searchParams.get("state");
await c.completeConnect(`state=${state}&code=cc_bench0123456789abcd`, {
  now: NOW,
  fetch: async () => ({ status: 200, body: '{"broker_token":"btk_bench_token","account":{"id":"a","name":"b"}}' }),
});
const ID = c.installId;
const SECRET = Buffer.from(JSON.parse(c.exportState()).installation.secret, "base64url");
const REQUEST = { method: "POST", path: "/api/units?limit=3", headers: { "content-type": "application/json" }, body: BODY };
const OPTS = { now: NOW, nonce: NONCE, idempotencyKey: IDEM };
const URL_ = "https://broker.example/api/units?limit=3";

// 1. tessera-companion
const tessera = () => c.signRequest(REQUEST, OPTS);

// 2. http-message-signatures (plus the Content-Digest it needs as input)
const signer = createSigner(SECRET, "hmac-sha256", ID);
const FIELDS = ["@method", "@authority", "@path", "@query", "content-type", "content-digest", "authorization", "idempotency-key"];
const PARAMS = ["created", "expires", "nonce", "alg", "keyid", "tag"];
const paramValues = { created: new Date(NOW * 1000), nonce: NONCE, tag: "tessera-v1" };
const npm = () =>
  httpbis.signMessage(
    { key: signer, name: "tessera", fields: FIELDS, params: PARAMS, paramValues },
    {
      method: "POST",
      url: URL_,
      headers: {
        "content-type": "application/json",
        "content-digest": `sha-256=:${createHash("sha256").update(BODY).digest("base64")}:`,
        authorization: "Bearer btk_bench_token",
        "idempotency-key": IDEM,
      },
    },
  );

// 3. the floor: node:crypto over the same base, built with a template
const PARAMS_TEXT = `("@method" "@authority" "@path" "@query" "content-type" "content-digest" "authorization" "idempotency-key");created=${NOW};expires=${NOW + 300};nonce="${NONCE}";alg="hmac-sha256";keyid="${ID}";tag="tessera-v1"`;
const floor = () => {
  const digest = `sha-256=:${createHash("sha256").update(BODY).digest("base64")}:`;
  const base = `"@method": POST\n"@authority": broker.example\n"@path": /api/units\n"@query": ?limit=3\n"content-type": application/json\n"content-digest": ${digest}\n"authorization": Bearer btk_bench_token\n"idempotency-key": ${IDEM}\n"@signature-params": ${PARAMS_TEXT}`;
  const mac = createHmac("sha256", SECRET).update(base).digest("base64");
  return [
    ["content-type", "application/json"],
    ["content-digest", digest],
    ["authorization", "Bearer btk_bench_token"],
    ["idempotency-key", IDEM],
    ["signature-input", `tessera=${PARAMS_TEXT}`],
    ["signature", `tessera=:${mac}:`],
  ];
};

// Same output from all three.
const want = Object.fromEntries(tessera().headers).signature;
const fromNpm = (await npm()).headers.Signature;
const fromFloor = Object.fromEntries(floor()).signature;
if (want !== fromNpm || want !== fromFloor) {
  console.error("signatures differ:", { want, fromNpm, fromFloor });
  process.exit(1);
}

// Rates are per CPU second of this process (user + system), so that other
// load on a shared machine does not skew the comparison; wall-clock rates
// are printed too.
async function rate(fn, isAsync) {
  const deadline = performance.now() + SECONDS * 1000;
  let n = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  while (performance.now() < deadline) {
    for (let i = 0; i < 200; i++) isAsync ? await fn() : fn();
    n += 200;
  }
  const cpu = process.cpuUsage(c0);
  return { cpu: n / ((cpu.user + cpu.system) / 1e6), wall: n / ((performance.now() - t0) / 1000) };
}

for (let i = 0; i < 2000; i++) { tessera(); floor(); await npm(); } // warm-up
const rounds = { tessera: [], npm: [], floor: [] };
for (let r = 0; r < 3; r++) {
  rounds.tessera.push(await rate(tessera, false));
  rounds.npm.push(await rate(npm, true));
  rounds.floor.push(await rate(floor, false));
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pick = (k, what) => median(rounds[k].map((r) => r[what]));
const t = pick("tessera", "cpu"), n = pick("npm", "cpu"), f = pick("floor", "cpu");
const fmt = (x) => Math.round(x).toLocaleString("en-US").padStart(9);
console.log(`signs per CPU-second (median of 3 rounds of ${SECONDS}s; wall-clock in brackets), same request, key and signature`);
console.log(`  tessera-companion        ${fmt(t)}  [${fmt(pick("tessera", "wall"))}]  ${(1e6 / t).toFixed(1)} µs/sign`);
console.log(`  http-message-signatures  ${fmt(n)}  [${fmt(pick("npm", "wall"))}]  tessera = ${(t / n).toFixed(2)}x the npm peer (goal >= 3x)`);
console.log(`  node:crypto floor        ${fmt(f)}  [${fmt(pick("floor", "wall"))}]  floor = ${(f / t).toFixed(2)}x tessera (goal <= 3x)`);

// Cold start in fresh processes: import (+ instantiate) and the first sign.
const STATE = c.exportState();
const cold = (entry) => `
  const t0 = performance.now();
  const m = await import(${JSON.stringify(new URL(entry, PKG).href)});
  ${entry === "index.web.js" ? `const { readFileSync } = await import("node:fs"); await m.init(readFileSync(new URL("tessera_wasm_bg.wasm", ${JSON.stringify(PKG.href)})));` : ""}
  const t1 = performance.now();
  const c = m.Companion.importState(${JSON.stringify(STATE)});
  const t2 = performance.now();
  c.signRequest(${JSON.stringify(REQUEST)});
  const t3 = performance.now();
  console.log(JSON.stringify([t1 - t0, t2 - t1, t3 - t2, t3 - t0]));`;
for (const entry of ["index.node.js", "index.web.js"]) {
  const runs = [];
  for (let i = 0; i < 9; i++) {
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", cold(entry)], { cwd: fileURLToPath(PKG), encoding: "utf8" });
    runs.push(JSON.parse(out));
  }
  const col = (k) => median(runs.map((r) => r[k])).toFixed(1);
  console.log(
    `cold start, ${entry} (median of 9 fresh processes): import+init ${col(0)} ms, restore state ${col(1)} ms, ` +
      `first sign ${col(2)} ms (goal <= 10 ms), total ${col(3)} ms`,
  );
}

// Errors keep their cause (issue 17, item 5), over real sockets: a broker on
// 127.0.0.1 registers and connects the companion, then stops listening; every
// driver path (register, connect completion, call, disconnect, uninstall)
// against that closed port ends as `server_unavailable` whose `cause` is
// fetch's rejection (its own `cause.code` ECONNREFUSED), while
// `JSON.stringify` of the error shows neither the cause nor a secret.
// Needs no tessera-e2e-env: the stand-in broker is a plain node:http server.

import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Companion } from "tessera-companion";

const TOKEN = "btk_e2e_errors_0123456789abcdef";
const RETURN = "https://shop.example/wp-admin/admin.php?page=tessera";
const REG = { siteUrl: "https://shop.example", adminEmail: "owner@shop.example", platform: "wordpress", pluginVersion: "1.0.0" };
const fast = { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } };

/** A stand-in broker on 127.0.0.1: 201 to the registration, the token to the connect completion. */
async function listen() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/installations") {
        res.writeHead(201, { "content-type": "application/json" }).end("{}");
      } else if (req.method === "POST" && req.url === "/connect/complete") {
        res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
        res.end(JSON.stringify({ broker_token: TOKEN, account: { id: "acct_1", name: "Shop" } }));
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const close = (server) => new Promise((resolve) => server.close(resolve));

/** The rejection a closed port gives, as the cause of a server_unavailable. */
function assertRefused(e, secrets) {
  assert.equal(e.code, "server_unavailable", String(e));
  assert.equal(e.status, undefined);
  assert.ok(e.cause instanceof Error, "the last rejection is the cause");
  assert.equal(e.cause.cause?.code, "ECONNREFUSED", `cause: ${e.cause} / ${e.cause.cause}`);
  const json = JSON.stringify(e);
  assert.equal(json.includes("cause"), false, json);
  assert.equal(json.includes("ECONNREFUSED"), false, json);
  for (const s of secrets) assert.equal(json.includes(s), false, "no secret in JSON");
  return true;
}

test("a closed port: every driver path keeps fetch's rejection as cause, and JSON shows neither it nor a secret", async () => {
  const server = await listen();
  const broker = `http://127.0.0.1:${server.address().port}`;
  // Registered and connected for real, then the broker goes away.
  const c = Companion.create({ brokerUrl: broker, ...fast });
  assert.deepEqual(await c.register(REG), { outcome: "registered" });
  const secret = JSON.parse(c.exportState()).installation.secret;
  const pending = Companion.importState(c.exportState());
  const connectUrl = c.connectUrl({ returnUrl: RETURN });
  const state = new URL(connectUrl).searchParams.get("state");
  await c.completeConnect(`${RETURN}&state=${state}&code=cc_e2e0123456789abcdef`);
  assert.equal(c.status, "connected");
  await close(server);
  const secrets = [secret, TOKEN];

  // register(): a fresh companion against the closed port.
  const fresh = Companion.create({ brokerUrl: broker, ...fast });
  await assert.rejects(fresh.register(REG), (e) => assertRefused(e, []));
  // completeConnect()
  const url2 = pending.connectUrl({ returnUrl: RETURN });
  const state2 = new URL(url2).searchParams.get("state");
  await assert.rejects(pending.completeConnect(`${RETURN}&state=${state2}&code=cc_e2e0123456789abcdef`), (e) => assertRefused(e, [secret]));
  // call()
  await assert.rejects(c.call({ method: "GET", path: "/api/orders" }), (e) => assertRefused(e, secrets));
  // disconnect() and uninstall() report a failed remote step instead of throwing.
  const copy = Companion.importState(c.exportState());
  const out = await c.disconnect();
  assert.equal(out.remote.result, "failed");
  assertRefused(out.remote.error, secrets);
  assert.equal(JSON.stringify(out).includes("ECONNREFUSED"), false);
  const report = await copy.uninstall();
  for (const step of [report.disconnect, report.deregister]) {
    assert.equal(step.result, "failed");
    assertRefused(step.error, secrets);
  }
  assert.notEqual(report.disconnect.error.cause, report.deregister.error.cause, "each step keeps its own rejection");
});

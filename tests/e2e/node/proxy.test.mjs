// Authorization-proxy mode end to end (docs/PROTOCOL.md §13) with the packed
// npm package: tessera-proxy-env (fake Stora + reference proxy + site) on
// 127.0.0.1. Connect through the proxy, call Stora directly, Stora expires
// the token → one refresh, several companions of one "site" refreshing at
// once → one refresh per expiry and none bricked, revoke at Stora →
// reconnect_required, disconnect (revoked at Stora), uninstall.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Companion } from "tessera-companion/proxy";
import { startProxyEnv } from "./env.mjs";

const env = await startProxyEnv();
after(() => env.stop());

const OPERATOR = "opr_node_proxy";

/**
 * One site's storage and refresh lock, as every context of an extension
 * shares them: the state last persisted, and one lock per name (a promise
 * chain) whose `lock` resolves to the stored state once it is held.
 */
function siteStore() {
  let stored = null;
  const tails = new Map();
  const releases = new Map();
  return {
    get stored() {
      return stored;
    },
    options: {
      onPersist: (state) => {
        stored = state;
      },
      lock: async (name) => {
        const previous = tails.get(name) ?? Promise.resolve();
        let release;
        const held = new Promise((resolve) => (release = resolve));
        tails.set(name, previous.then(() => held));
        await previous;
        releases.set(name, release);
        return stored;
      },
      unlock: async (name) => {
        releases.get(name)?.();
      },
    },
  };
}

const proxyCompanion = () => Companion.create({ brokerUrl: env.broker, proxy: { storaApiUrl: env.storaApi } });

test("proxy mode: the whole life of an installation, and concurrent refreshes", async () => {
  const site = siteStore();
  const c = proxyCompanion();
  await env.register(c, site.options);
  const { account } = await env.connect(c, OPERATOR, undefined, site.options);
  assert.ok(account.id);
  assert.equal(c.status, "connected");
  assert.deepEqual(c.account, account, "the connected account shows (no broker token in this mode)");

  // Calls go to Stora itself.
  const first = await c.call({ method: "GET", path: "/api/account" }, site.options);
  assert.equal(first.status, 200);
  assert.equal((await env.storaRequests("/2025-09/account")).length >= 1, true);

  // Stora expires the token: refused, one refresh through the proxy, retried.
  let before = (await env.storaCounters()).refreshes;
  await env.storaControl("expire_tokens", { operator: OPERATOR });
  assert.equal((await c.call({ method: "GET", path: "/api/account" }, site.options)).status, 200);
  assert.equal((await env.storaCounters()).refreshes, before + 1);

  // Six companions of the same site (workers with their own copy of the
  // stored state), all refused at once: one refresh, every call succeeds.
  await env.storaControl("expire_tokens", { operator: OPERATOR });
  before = await env.storaCounters();
  const workers = Array.from({ length: 6 }, () => Companion.importState(site.stored));
  const results = await Promise.allSettled(workers.map((w) => w.call({ method: "GET", path: "/api/account" }, site.options)));
  const after = await env.storaCounters();
  const failed = results.filter((r) => r.status === "rejected");
  console.log(`concurrent refresh (npm): 6 workers, ${after.refreshes - before.refreshes} refresh at Stora, ${failed.length} failed`);
  assert.deepEqual(failed, []);
  assert.equal(after.refreshes - before.refreshes, 1);
  assert.equal(after.invalid_grants, before.invalid_grants, "no rotated refresh token was sent again");

  // The operator revokes the grant at Stora: the next call asks for a reconnect.
  const fresh = Companion.importState(site.stored);
  await env.storaControl("revoke_grant", { operator: OPERATOR });
  await assert.rejects(fresh.call({ method: "GET", path: "/api/account" }, site.options), (e) => {
    assert.equal(e.code, "reconnect_required");
    return true;
  });
  assert.equal(fresh.status, "reconnect_required");

  // Reconnect, disconnect (revoked at Stora), uninstall.
  await env.connect(fresh, OPERATOR, undefined, site.options);
  const revokes = (await env.storaCounters()).revokes;
  const { remote } = await fresh.disconnect(site.options);
  assert.equal(remote.result, "ok");
  assert.equal((await env.storaCounters()).revokes, revokes + 1);
  const report = await fresh.uninstall(site.options);
  assert.equal(report.deregister.result, "ok");
});

test("proxy mode: a call without lock and unlock fails before anything is sent", async () => {
  const site = siteStore();
  const c = proxyCompanion();
  await env.register(c, site.options);
  await env.connect(c, "opr_node_nolock", undefined, site.options);
  await assert.rejects(c.call({ method: "GET", path: "/api/account" }, { onPersist: site.options.onPersist }), (e) => {
    assert.equal(e.code, "invalid_input");
    assert.match(e.message, /lock/);
    return true;
  });
});

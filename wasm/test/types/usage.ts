// Type-level tests of the published index.d.ts: typical extension code must
// compile under `strict`, and misuse must not (@ts-expect-error lines).
import {
  Companion,
  TesseraError,
  classify,
  init,
  verifyRequest,
  MemoryReplayStore,
  hmacSignGeneric,
  signPush,
  type PushRegistrationRequest,
  type ReplayStore,
  metadataPatch,
  timelineEventRequest,
  validateMetadata,
  type Account,
  type CompanionSummary,
  type ConnectResult,
  type DriverOptions,
  type EventPage,
  type StoraEvent,
  type ErrorCode,
  type HttpRequest,
  type HttpResponse,
  type Outcome,
  type OwnershipProof,
  type RegistrationOutcome,
  type RemoteStep,
  type SiteCheck,
  type RecordedCall,
  type Status,
  type TimelineEvent,
  type UninstallReport,
  type Verified,
  webLocks,
  type ProxyConfig,
  type RefreshLock,
} from "tessera-companion";

declare const storage: { get(k: string): Promise<string | undefined>; set(k: string, v: string): Promise<void> };
declare const sealKey: Uint8Array;

export async function background(): Promise<void> {
  await init(new URL("https://ext.example/tessera_wasm_bg.wasm"));
  await init(fetch("/tessera_wasm_bg.wasm"));
  await init(new Uint8Array(8));

  const sealed = await storage.get("tessera");
  // With a seal key every onPersist value is the sealed state: store it as-is.
  const companion = sealed
    ? Companion.openState(sealed, sealKey)
    : Companion.create({ brokerUrl: "https://broker.example", sealKey });
  const restored: Companion = Companion.importState(companion.exportState(), { sealKey: "a string key of 16+ bytes" });
  const plain: Companion = Companion.importState(JSON.parse(restored.exportState()) as object);
  const summary: CompanionSummary = companion.toJSON();
  const logged: string | null = summary.installId;
  void [plain, logged];
  const status: Status = companion.status;
  const id: string | null = companion.installId;

  const outcome: RegistrationOutcome = await companion.register(
    { siteUrl: "chrome-extension://abc", adminEmail: "a@b.example", platform: "chrome-extension", pluginVersion: "1.0.0" },
    {
      onPersist: (json) => storage.set("tessera", json),
      serveProof: async (proof: OwnershipProof) => {
        await storage.set(proof.path, proof.body);
      },
    },
  );
  if (outcome.outcome === "ownership_challenge") {
    const body: string = outcome.proof.body;
    void body;
  }
  const deferred: RegistrationOutcome = await companion.register(
    { siteUrl: "https://shop.example", adminEmail: "a@b.example", platform: "wordpress", pluginVersion: "1" },
    { serveProof: () => false },
  );
  void deferred;
  // The low-level pair stays typed.
  const reg: HttpRequest = companion.registrationRequest({
    siteUrl: "chrome-extension://abc",
    adminEmail: "a@b.example",
    platform: "chrome-extension",
    pluginVersion: "1.0.0",
  });
  void reg;

  const url: string = companion.connectUrl({ returnUrl: "chrome-extension://abc/cb.html", scope: "units:read" });
  // The callback the browser came back to (`?state=…&code=…`): exchanged over the driver.
  const connected: ConnectResult = await companion.completeConnect(url, { onPersist: (json) => storage.set("tessera", json) });
  const shown: string = `${connected.account.name} (${connected.account.id})`;
  const current: Account | null = companion.account;
  void [shown, current?.id];

  const options: DriverOptions = {
    onPersist: (json) => storage.set("tessera", companion.sealState(sealKey) + json.length),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
  try {
    const r: HttpResponse = await companion.call({ method: "GET", path: "/api/units" }, options);
    const first: [string, string] | undefined = r.headers[0];
    void first;
  } catch (e) {
    if (e instanceof TesseraError) {
      const code: ErrorCode = e.code;
      if (e.kind === "rate_limited") setTimeout(() => {}, e.retryAfterMs ?? 1000);
      if (e.code === "reconnect_required") console.log(e.reason);
      void code;
    }
  }
  const d = await companion.disconnect();
  const step: RemoteStep = d.remote;
  if (step.result === "failed") console.log(step.error.code, step.error.cause);
  else {
    const none: null = step.error;
    void none;
  }
  const report: UninstallReport = await companion.uninstall({ fetch: (u, i) => fetch(u, i) });
  void report;

  const check: SiteCheck = companion.checkSite("https://shop.example");
  if (check.kind === "mismatch") console.log(check.registered, check.current);
  const o: Outcome = classify({ status: 429, headers: { "retry-after": "3" } });
  const retry: number | undefined = o.retryAfterMs;
  void [status, id, retry];

  const v: Verified = await verifyRequest(
    { method: "GET", url: "https://broker.example/api/units", headers: [["signature", "x"]] },
    { secretFor: async (installId) => (installId ? "secret" : null), replayStore: new MemoryReplayStore(10) },
  );
  // A host replay store answers "fresh" | "seen" | "full" (or a promise of one).
  const shared: ReplayStore = { checkAndInsert: async (key, expiresAt, now) => (key && expiresAt >= now ? "fresh" : "full") };
  try {
    await verifyRequest({ method: "GET", url: "https://broker.example/x" }, { secretFor: () => null, replayStore: shared });
  } catch (e) {
    // A refusal carries the core's wire answer.
    if (e instanceof TesseraError && e.wireHeaders !== undefined) {
      const headers: Record<string, string> = e.wireHeaders;
      const body: string | undefined = e.wireBody;
      void [headers, body];
    }
  }
  // @ts-expect-error there is no default replay store
  await verifyRequest({ method: "GET", url: "https://broker.example/x" }, { secretFor: () => null });
  // @ts-expect-error a store answers "fresh", "seen" or "full"
  const wrong: ReplayStore = { checkAndInsert: () => "yes" };
  void wrong;
  const sig: string = hmacSignGeneric({ method: "GET", url: "https://a.example/" }, 'sig=("@method")', "key").signature;
  void [v.installId, sig];

  // @ts-expect-error brokerUrl is required
  Companion.create({});
  // @ts-expect-error a seal key is bytes or a string
  Companion.create({ brokerUrl: "https://broker.example", sealKey: 16 });
  // @ts-expect-error fromJSON is gone: importState
  Companion.fromJSON("{}");
  // @ts-expect-error toJSON() is a redacted summary, not the state string
  const notState: string = companion.toJSON();
  // @ts-expect-error the summary never carries the secret
  void companion.toJSON().secret;
  // @ts-expect-error the constructor is private
  new Companion();
  // @ts-expect-error methods are strings
  companion.signRequest({ method: 1, path: "/x" });
  // @ts-expect-error unknown status value
  const bad: Status = "connectd";
  // @ts-expect-error codes are a closed union
  const badCode: ErrorCode = "nope";
  // @ts-expect-error a RemoteStep that failed carries its error
  const noErr: RemoteStep = { result: "failed" };
  // @ts-expect-error every RemoteStep has `error` (null when none)
  const noNull: RemoteStep = { result: "ok" };
  // @ts-expect-error a registration needs all four fields
  void companion.register({ siteUrl: "https://shop.example" });
  // @ts-expect-error serveProof is for register() and siteMoved()
  void companion.call({ method: "GET", path: "/x" }, { serveProof: () => false });
  // @ts-expect-error completeConnect is async: its result is a promise
  const sync: ConnectResult = companion.completeConnect(url);
  // @ts-expect-error account is null while not connected
  const always: Account = companion.account;
  const redirected: ErrorCode = "redirected";
  void [bad, badCode, noErr, noNull, redirected, sync, always, notState];
}

/** Stora's events: pull a page, handle it, acknowledge its cursor. */
export async function events(companion: Companion): Promise<number> {
  const page: EventPage = await companion.pullEvents({ limit: 10, onPersist: (json) => storage.set("tessera", json) });
  for (const e of page.events) {
    const event: StoraEvent = e;
    const created: number = event.createdAt;
    const object: unknown = event.data.object;
    const raw: string = event.dataJson;
    void [created, object, raw, event.type, event.apiVersion, event.id];
  }
  const moved: boolean = await companion.acknowledgeEvents(page.cursor, { onPersist: (json) => storage.set("tessera", json) });
  const cursor: string | null = companion.eventsCursor;
  const invalid: ErrorCode = "response_invalid";
  // @ts-expect-error the limit is a number
  void companion.pullEvents({ limit: "10" });
  // @ts-expect-error the cursor is a string
  void companion.acknowledgeEvents(42);
  // @ts-expect-error eventsCursor is read-only
  companion.eventsCursor = "7";
  void [moved, cursor, invalid, page.hasMore];
  return page.events.length;
}

/** Pushed events (Node): the broker signs, the site verifies the raw body, then registers its URL. */
export async function push(companion: Companion, headers: Headers, raw: Uint8Array): Promise<StoraEvent[]> {
  const header: string = signPush("c2VjcmV0", "ins_1", raw, 1_700_000_000);
  const events: StoraEvent[] = companion.verifyPush(headers, raw);
  companion.verifyPush({ "tessera-push-signature": header }, "{}", 1_700_000_000);
  const put: PushRegistrationRequest = companion.pushRegistrationRequest("https://shop.example/hook");
  await companion.call(put);
  await companion.call(companion.pushRegistrationRequest(null));
  // @ts-expect-error stopping the pushes is an explicit null
  companion.pushRegistrationRequest();
  // @ts-expect-error the body is required (bytes as received, or text)
  companion.verifyPush(headers);
  // @ts-expect-error now is unix seconds
  companion.verifyPush(headers, raw, new Date());
  return events;
}

/** Timeline Events and metadata. */
export async function records(companion: Companion): Promise<string> {
  const event: TimelineEvent = { sourceId: "src_1", templateId: "tpl_1", contactId: "con_1", externalUrl: "https://shop.example/x", variables: { unit: "A-12" } };
  const out: RecordedCall = await companion.callAndRecord({ method: "POST", path: "/api/contacts", body: "{}" }, event);
  const status: number = out.response.status;
  if (!out.event.ok) {
    const e: TesseraError = out.event.error;
    void e;
  }
  const req = timelineEventRequest(event, "order-7");
  await companion.call(req);
  validateMetadata({ plan: "gold" });
  // @ts-expect-error metadata values are strings
  validateMetadata({ plan: 1 });
  // @ts-expect-error an event needs a templateId
  const noTemplate: TimelineEvent = { sourceId: "src_1" };
  void [status, noTemplate];
  return metadataPatch({ plan: null, tier: "2" }, { plan: "gold" });
}

/** Authorization-proxy mode: the config, a Web Locks refresh lock, a call under it. */
export async function proxyMode(): Promise<number> {
  const proxy: ProxyConfig = { storaApiUrl: "https://api.stora.example/2025-09", refreshMarginSecs: 120 };
  const companion = Companion.create({ brokerUrl: "https://proxy.example", sealKey, proxy });
  const locks: RefreshLock = webLocks(async () => (await storage.get("tessera")) ?? "", { timeoutMs: 10_000 });
  const res: HttpResponse = await companion.call(
    { method: "GET", path: "/api/contacts" },
    { onPersist: (s) => storage.set("tessera", s), ...locks },
  );
  // @ts-expect-error storaApiUrl is required
  const noUrl: ProxyConfig = { refreshMarginSecs: 60 };
  // @ts-expect-error lock resolves to the stored state or null
  const badLock: DriverOptions = { lock: async () => 1, unlock: async () => {} };
  // @ts-expect-error loadState gives the stored state
  webLocks(async () => 1);
  void [noUrl, badLock];
  return res.status;
}

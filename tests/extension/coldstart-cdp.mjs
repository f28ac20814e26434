// A minimal Chrome DevTools Protocol client over --remote-debugging-pipe, for
// the cold-start bench (coldstart.mjs). Not Playwright: Playwright attaches to
// every new service worker with waitForDebuggerOnStart and resumes it from
// Node, which would add a round trip to every wake being measured. Here
// nothing attaches to the workers: they start and run as in a user's browser.

import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

/** A Chromium started with --remote-debugging-pipe (fd 3: to the browser, fd 4: from it). */
export class Browser {
  #child;
  #nextId = 1;
  #pending = new Map();
  #listeners = new Set();
  #buffer = "";

  /** Launches `executable` headless with a fresh profile and the given extra args. */
  static launch(executable, profileDir, extraArgs) {
    const args = [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-features=DisableLoadExtensionCommandLineSwitch",
      `--user-data-dir=${profileDir}`,
      "--remote-debugging-pipe",
      ...extraArgs,
      "about:blank",
    ];
    const child = spawn(executable, args, { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
    return new Browser(child);
  }

  constructor(child) {
    this.#child = child;
    child.stderr.on("data", () => {}); // Chromium's own noise
    child.stdio[4].on("data", (chunk) => this.#receive(chunk));
    child.on("exit", () => {
      for (const { reject } of this.#pending.values()) reject(new Error("the browser exited"));
      this.#pending.clear();
    });
  }

  /** The browser process id (renderers are its descendants). */
  get pid() {
    return this.#child.pid;
  }

  #receive(chunk) {
    this.#buffer += chunk.toString("utf8");
    let end;
    while ((end = this.#buffer.indexOf("\0")) >= 0) {
      const message = JSON.parse(this.#buffer.slice(0, end));
      this.#buffer = this.#buffer.slice(end + 1);
      if (message.id !== undefined) {
        const waiter = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(`${waiter.method}: ${message.error.message}`));
        else waiter?.resolve(message.result);
      } else {
        for (const listener of this.#listeners) listener(message);
      }
    }
  }

  /** Sends one command (to the browser, or to a flat session) and awaits its result. */
  send(method, params = {}, sessionId) {
    const id = this.#nextId++;
    const message = JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) });
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      this.#child.stdio[3].write(message + "\0");
    });
  }

  /** Calls `listener({ method, params, sessionId })` for every event; returns the unsubscribe function. */
  on(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Opens `url` in a new tab, attached (flat session); returns { targetId, sessionId }. */
  async open(url) {
    const { targetId } = await this.send("Target.createTarget", { url });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    // Until the page itself (not the initial about:blank) has loaded.
    const loaded = `location.href === ${JSON.stringify(url)} && document.readyState === "complete"`;
    for (const end = Date.now() + 15_000; !(await this.evaluate(sessionId, loaded).catch(() => false)); ) {
      if (Date.now() > end) throw new Error(`${url} did not load`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return { targetId, sessionId };
  }

  /** Evaluates `expression` (awaiting a promise) in a session; returns its JSON value. */
  async evaluate(sessionId, expression) {
    const { result, exceptionDetails } = await this.send(
      "Runtime.evaluate",
      { expression, awaitPromise: true, returnByValue: true },
      sessionId,
    );
    if (exceptionDetails) {
      throw new Error(`evaluate: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
    }
    return result.value;
  }

  /** Closes a tab. */
  close(targetId) {
    return this.send("Target.closeTarget", { targetId });
  }

  /** Ends the browser. */
  async quit() {
    await this.send("Browser.close").catch(() => {});
    await new Promise((resolve) => {
      if (this.#child.exitCode !== null) return resolve();
      const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
      this.#child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** The pids of the processes descending from `rootPid` (from /proc). */
function descendants(rootPid) {
  const parent = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parent.set(Number(entry), ppid);
    } catch {
      // the process ended while listing
    }
  }
  const out = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid), hops = 0; p !== undefined && hops < 64; p = parent.get(p), hops++) {
      if (p === rootPid) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

/** The renderer processes of the browser `rootPid` (Chromium rewrites its argv: space-separated). */
export function renderers(rootPid) {
  return descendants(rootPid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split(/[\0 ]/).includes("--type=renderer");
    } catch {
      return false; // gone
    }
  });
}

/** The renderer of `rootPid` running a service worker now (a thread named "ServiceWorker thread"), if any. */
export function serviceWorkerProcess(rootPid) {
  for (const pid of renderers(rootPid)) {
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        if (readFileSync(`/proc/${pid}/task/${task}/comm`, "utf8").startsWith("ServiceWorker")) return pid;
      }
    } catch {
      // gone
    }
  }
  return undefined;
}

/** True while process `pid` exists. */
export function alive(pid) {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}

// Prints the cold-start bench's numbers (coldstart.mjs): medians and p90 of
// every phase, package beside the floor, warm beside cold.

/** The q-quantile (nearest rank) of numbers. */
function quantile(xs, q) {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const fmt = (x) => (x === undefined || Number.isNaN(x) ? "     -" : x.toFixed(1).padStart(6));
const cell = (xs) => (xs.some((x) => x === undefined) ? "      -      " : `${fmt(quantile(xs, 0.5))} /${fmt(quantile(xs, 0.9))}`);

/** Phases (ms) of one wake's marks, from the worker's performance.now() (its time origin is the worker's start). */
function phases(m) {
  const after = (a, b) => (m[a] === undefined || m[b] === undefined ? undefined : m[a] - m[b]);
  const initStart = m.compiled ?? m.message;
  return {
    "wake → reply (page)": m.rtt,
    "worker start → first line": m.t0,
    "first line → first signed": after("signed", "t0"),
    "  imports evaluated": after("imported", "t0"),
    "  until the message": after("message", "imported"),
    "  fetch .wasm (split)": after("fetched", "message"),
    "  compileStreaming (split)": after("compiled", "fetched"),
    "  init() / instantiate": m.init === undefined ? undefined : m.init - initStart,
    "  state read (wait)": m.stored === undefined ? undefined : m.stored - (m.init ?? m.message),
    "  restore / importKey": after("restored", "stored"),
    "  first sign": after("signed", "restored"),
  };
}

/** Prints the table and the summary lines. */
export function report({ product, wakes, samples, packages, coldWaits }) {
  console.log(`cold start in an MV3 service worker, ${product}, ${wakes} wakes per column`);
  console.log("each cell: median / p90 in ms; warm = the extension's renderer process alive, cold = a new process");
  for (const { key, pkg } of packages) console.log(`  ${key}: ${pkg}`);
  const columns = Object.keys(samples).sort();
  const rows = Object.keys(phases({}));
  const width = 28;
  for (const condition of ["warm", "cold"]) {
    const cols = columns.filter((c) => c.startsWith(`${condition}/`));
    console.log("");
    console.log(`${condition.padEnd(width)}${cols.map((c) => c.slice(condition.length + 1).padStart(15)).join("")}`);
    for (const row of rows) {
      const cells = cols.map((c) => samples[c].map((m) => phases(m)[row]));
      if (cells.every((xs) => xs.every((x) => x === undefined))) continue;
      console.log(`${row.padEnd(width)}${cells.map((xs) => cell(xs).padStart(15)).join("")}`);
    }
    const fresh = cols.map((c) => `${samples[c].filter((m) => m.newProcess).length} of ${samples[c].length}`);
    console.log(`${"in a new renderer process".padEnd(width)}${fresh.map((x) => x.padStart(15)).join("")}`);
  }
  console.log("");
  const med = (c, row) => quantile(samples[c].map((m) => phases(m)[row]), 0.5);
  for (const { key } of packages) {
    for (const condition of ["warm", "cold"]) {
      const floor = `${condition}/floor/floor`;
      const pkg = `${condition}/${key}/init`;
      console.log(
        `${key}, ${condition}: first line → first signed ${fmt(med(pkg, "first line → first signed"))} ms; ` +
          `wake → reply ${fmt(med(pkg, "wake → reply (page)"))} ms vs floor ${fmt(med(floor, "wake → reply (page)"))} ms: ` +
          `added ${fmt(med(pkg, "wake → reply (page)") - med(floor, "wake → reply (page)"))} ms`,
      );
    }
  }
  console.log(`(before the cold wakes: ${coldWaits} polls of 5 ms in all until the workers' processes had ended)`);
}

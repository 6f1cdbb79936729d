/**
 * `make bench`: the six measurements, each its own script in its own process
 * (so one's leftovers never slow the next), then bench/results.json and
 * bench/results.md. Every figure is a median over repeated runs. The machine
 * is shared: the run and each measurement first wait (up to BENCH_QUIET_MAX_S,
 * 180 s) for the 1-minute load average to fall under BENCH_QUIET_LOAD (2, the
 * load under which the targets are judged), and the load is recorded before
 * each measurement.
 * The mesh runs mutual TLS as deployed: the certificates are issued once, into
 * the run's work directory (BENCH_TLS_DIR), for every measurement.
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/main.ts [ipc] [hop] [e2e] [events] [footprint] [node-memory]
 * Naming some measurements reruns only those (the others keep their last
 * figures); `main.ts report` only renders results.md from results.json again.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeMachine, loadNow, waitForQuiet } from "./lib/machine.js";
import { ROOT, TSX_ARGS } from "./lib/process.js";
import { renderResults } from "./lib/report.js";
import { benchCertificates } from "./lib/tls.js";

const ALL = ["ipc", "hop", "e2e", "events", "footprint", "node-memory"] as const;
const chosen = process.argv.slice(2).length > 0 ? ALL.filter((name) => process.argv.includes(name)) : [...ALL];
const work = mkdtempSync(join(tmpdir(), "bazaar-bench-"));
const previous = existsSync(join(ROOT, "bench", "results.json"))
  ? (JSON.parse(readFileSync(join(ROOT, "bench", "results.json"), "utf8")) as Record<string, unknown>)
  : {};

const quiet = { below: numberSetting("BENCH_QUIET_LOAD", 2), maxMs: numberSetting("BENCH_QUIET_MAX_S", 180) * 1000 };
/** Wait for a quiet machine before measuring; the seconds waited, to record beside the load. */
async function settle(what: string): Promise<number> {
  if (chosen.length === 0 || loadNow()[0]! < quiet.below) return 0;
  console.log(`bench: waiting for the 1-minute load average (${loadNow()[0]}) to fall under ${quiet.below} before ${what} (at most ${quiet.maxMs / 1000} s)`);
  return Math.round((await waitForQuiet(quiet)) / 1000);
}

const waitedBeforeStart = await settle("the run");
const machine = describeMachine();
console.log(`bench: ${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}, load average ${machine.loadAverage.join(" ")}`);
// The machine line describes the run that measured something; a report-only call keeps it.
const results: Record<string, unknown> = { ...previous, machine: chosen.length > 0 || !previous.machine ? machine : previous.machine };
const loadBefore: Record<string, number[]> = { ...((previous.loadBefore as Record<string, number[]> | undefined) ?? {}) };
const wallSeconds: Record<string, number> = { ...((previous.wallSeconds as Record<string, number> | undefined) ?? {}) };
const quietWaitSeconds: Record<string, number> = {
  ...((previous.quietWaitSeconds as Record<string, number> | undefined) ?? {}),
  ...(chosen.length > 0 && { start: waitedBeforeStart }),
};
const runBegan = Date.now();
try {
  if (chosen.length > 0) {
    // Inherited by every measurement's process (and their children): issued once, gone with the work directory.
    process.env.BENCH_TLS_DIR = join(work, "certs");
    benchCertificates();
    console.log(`bench: certificates issued in ${Math.round((Date.now() - runBegan) / 1000)} s`);
  }
  for (const name of chosen) {
    quietWaitSeconds[name] = await settle(name);
    loadBefore[name] = loadNow();
    const out = join(work, `${name}.json`);
    const began = Date.now();
    console.log(`bench: ${name} (load average ${loadBefore[name]!.join(" ")})`);
    execFileSync(process.execPath, [...TSX_ARGS, join(ROOT, "bench", `${name}.ts`), out], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    results[name] = JSON.parse(readFileSync(out, "utf8"));
    wallSeconds[name] = Math.round((Date.now() - began) / 1000);
    console.log(`bench: ${name} done in ${wallSeconds[name]} s`);
  }
  // The whole run only when it ran everything: a partial rerun keeps the last full run's total.
  if (chosen.length === ALL.length) wallSeconds.total = Math.round((Date.now() - runBegan) / 1000);
} finally {
  rmSync(work, { recursive: true, force: true });
}
/** `figures` in the order the measurements run, whatever order a partial rerun left them in. */
const RUN_ORDER: string[] = ["start", ...ALL, "total"];
const inRunOrder = <T>(figures: Record<string, T>): Record<string, T> =>
  Object.fromEntries(Object.entries(figures).sort(([a], [b]) => RUN_ORDER.indexOf(a) - RUN_ORDER.indexOf(b)));
results.loadBefore = inRunOrder(loadBefore);
results.quietWaitSeconds = inRunOrder(quietWaitSeconds);
if (chosen.length > 0) results.quiet = { load: quiet.below, maxSeconds: quiet.maxMs / 1000 };
results.wallSeconds = inRunOrder(wallSeconds);
if (chosen.length > 0) results.loadAfter = loadNow();
writeFileSync(join(ROOT, "bench", "results.json"), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(ROOT, "bench", "results.md"), renderResults(results));
console.log(`bench: wrote bench/results.md and bench/results.json\n\n${readFileSync(join(ROOT, "bench", "results.md"), "utf8").split("\n## ")[1] ?? ""}`);

/** A non-negative number from the environment, or `fallback`; anything else stops the run with the setting's name. */
function numberSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return value;
}

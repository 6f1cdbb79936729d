/**
 * bench/results.md from bench/results.json: the machine, the targets met or
 * missed, each measurement's table, then the hand-written analysis
 * (bench/analysis.md: profiles and where the time goes), which the numbers alone
 * cannot say.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Machine } from "./machine.js";
import { ROOT } from "./process.js";

/* The shapes the measurement scripts write (only what the report reads). */
interface Latency {
  requestsPerSecond: number;
  p50Us: number;
  p99Us: number;
  ratioToBare: number;
  rounds: number[];
}
interface Hop {
  rounds: number;
  seconds: number;
  rows: { key: string; label: string; logBytesPerRequest: number; inFlight100: Latency; inFlight1: Latency }[];
}
interface Fixed {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errorRate: number;
  okPerSecond: number;
}
interface Step {
  offeredPerSecond: number;
  okPerSecond: number;
  errorRate: number;
  p99Ms: number;
  errors: Record<string, number>;
}
interface E2e {
  seconds: number;
  rounds: number;
  workers: number;
  fixed: Record<string, Record<string, Fixed>>;
  steps: Record<string, Step[]>;
  sustained: Record<string, number>;
  sustainedRule: string;
  underLoad: Record<string, { rate: number; peakRssMb: Record<string, number>; cpuSecondsPerSecond: Record<string, number> }>;
}
interface Events {
  messages: number;
  rounds: number;
  relayPerSecond: number;
  rawPerSecond: number;
  ratio: number;
  perRound: { relay: number; raw: number; ratio: number }[];
  latency: { ratePerSecond: number; seconds: number; delivered: number; expected: number; p50Ms: number; p99Ms: number; maxMs: number };
}
interface Footprint {
  firstStartMs: number;
  restartMs: number;
  restartRuns: number[];
  idleRssMb: Record<string, number>;
  makeUp: { skipped?: string; upMs?: number; idleRssMb?: Record<string, number> };
}

const TARGET_NAMES = { http: "gateway (HTTP)", grpc: "orders (gRPC)" } as Record<string, string>;
const ms = (us: number) => `${(us / 1000).toFixed(us < 10_000 ? 2 : 0)} ms`;
/** A latency in ms, or a dash when nothing succeeded to measure. */
const latency = (value: number | null) => (value === null || !Number.isFinite(value) ? "—" : `${value >= 100 ? Math.round(value) : value} ms`);
const yes = (met: boolean) => (met ? "met" : "**missed**");
const table = (header: string[], rows: (string | number)[][]) =>
  [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((row) => `| ${row.join(" | ")} |`)].join("\n");

export function renderResults(results: Record<string, unknown>): string {
  const machine = results.machine as Machine;
  const hop = results.hop as Hop | undefined;
  const e2e = results.e2e as E2e | undefined;
  const events = results.events as Events | undefined;
  const footprint = results.footprint as Footprint | undefined;
  const loadBefore = (results.loadBefore ?? {}) as Record<string, number[]>;
  const out: string[] = [];

  out.push(
    "# Benchmark results",
    "",
    "Written by `make bench` (bench/main.ts); do not edit by hand — the analysis at the end comes from `bench/analysis.md`.",
    "",
    `- Machine: ${machine.cores} cores, ${machine.cpuModel}; Node ${machine.node}; ${machine.date.slice(0, 10)}`,
    `- Load average (1, 5, 15 min) at start: ${machine.loadAverage.join(", ")}; before each measurement: ${Object.entries(loadBefore)
      .map(([name, load]) => `${name} ${load[0]}`)
      .join(", ")}. The machine is shared: a 1-minute load above ${machine.cores} means other work was competing for the cores.`,
    "- Every figure is the median over repeated runs (rounds interleaved where two things are compared). Plaintext gRPC: TLS is not built yet.",
    "",
  );

  out.push("## Targets", "");
  const rows: string[][] = [];
  const runtime = hop?.rows.find((row) => row.key === "runtime");
  const catalog = hop?.rows.find((row) => row.key === "catalog");
  if (runtime && catalog) {
    rows.push(["hop: runtime stack / bare grpc-js, 100 in flight", "≥ 0.85", runtime.inFlight100.ratioToBare.toFixed(2), yes(runtime.inFlight100.ratioToBare >= 0.85)]);
    rows.push(["hop: runtime stack / bare grpc-js, 1 in flight", "≥ 0.85", runtime.inFlight1.ratioToBare.toFixed(2), yes(runtime.inFlight1.ratioToBare >= 0.85)]);
    rows.push(["hop: real catalog GetProduct / bare, 100 in flight", "≥ 0.85", catalog.inFlight100.ratioToBare.toFixed(2), yes(catalog.inFlight100.ratioToBare >= 0.85)]);
    rows.push(["hop: real catalog GetProduct / bare, 1 in flight", "≥ 0.85", catalog.inFlight1.ratioToBare.toFixed(2), yes(catalog.inFlight1.ratioToBare >= 0.85)]);
  }
  if (e2e) {
    for (const target of Object.keys(e2e.sustained)) {
      rows.push([`orders/s sustained, ${TARGET_NAMES[target]}`, "≥ 400", String(e2e.sustained[target]), yes(e2e.sustained[target]! >= 400)]);
      const at200 = e2e.fixed[target]?.["200"];
      if (at200) rows.push([`p99 at 200 orders/s, ${TARGET_NAMES[target]}`, "≤ 100 ms", `${latency(at200.p99Ms)} (${(at200.errorRate * 100).toFixed(1)}% errors)`, yes(at200.p99Ms <= 100 && at200.errorRate < 0.01)]);
    }
  }
  if (events) {
    rows.push(["outbox relay / raw JetStream publish", "≥ 0.8", events.ratio.toFixed(2), yes(events.ratio >= 0.8)]);
    rows.push([`commit-to-consumer p99 at ${events.latency.ratePerSecond} events/s`, "≤ 100 ms", `${events.latency.p99Ms} ms`, yes(events.latency.p99Ms <= 100)]);
  }
  if (footprint) {
    const up = footprint.makeUp.upMs ?? footprint.restartMs;
    rows.push([footprint.makeUp.upMs ? "`make up` to all SERVING (existing data)" : "mesh start to all SERVING (existing data, as make up)", "≤ 5 s", `${(up / 1000).toFixed(1)} s`, yes(up <= 5000)]);
    const services = Object.entries(footprint.idleRssMb).filter(([name]) => name !== "nats");
    const worst = Math.max(...services.map(([, mb]) => mb));
    rows.push(["resident memory per service, idle (worst)", "≤ 100 MB", `${worst.toFixed(0)} MB`, yes(worst <= 100)]);
  }
  out.push(table(["figure", "target", "measured", ""], rows), "");

  if (hop) {
    out.push(
      "## 1. Hop overhead: CatalogService.GetProduct",
      "",
      `h2load (one HTTP/2 connection, a prepared gRPC body) pinned to core 1, each server pinned to core 0, ${hop.rounds} interleaved rounds × ${hop.seconds} s (+1 s warm-up) per server and concurrency; ratio = the server's req/s ÷ bare grpc-js's in the same round (median). Log bytes: what the server wrote per request at LOG_LEVEL=info.`,
      "",
      table(
        ["server", "req/s, 100 in flight (× bare)", "p50 / p99", "req/s, 1 in flight (× bare)", "p50 / p99", "log bytes/req"],
        hop.rows.map((row) => [
          row.label,
          `${row.inFlight100.requestsPerSecond.toLocaleString("en")} (${row.inFlight100.ratioToBare.toFixed(2)})`,
          `${ms(row.inFlight100.p50Us)} / ${ms(row.inFlight100.p99Us)}`,
          `${row.inFlight1.requestsPerSecond.toLocaleString("en")} (${row.inFlight1.ratioToBare.toFixed(2)})`,
          `${ms(row.inFlight1.p50Us)} / ${ms(row.inFlight1.p99Us)}`,
          row.logBytesPerRequest,
        ]),
      ),
      "",
    );
  }
  if (e2e) {
    out.push(
      "## 2. End to end: PlaceOrder",
      "",
      `The whole mesh (5 services with embedded PGlite in data directories, nats-server, the gateway; LOG_LEVEL=info to files) on this machine, inventory stocked deep so no order runs out. Open-loop load from ${e2e.workers} processes: sends scheduled by the clock, latency from the scheduled time, a fresh idempotency key per order, tok_visa (the simulated card provider answers after 20 ms). ${e2e.rounds} rounds × ${e2e.seconds} s per fixed rate.`,
      "",
      table(
        ["path", "rate", "p50", "p95", "p99", "errors"],
        Object.entries(e2e.fixed).flatMap(([target, rates]) =>
          Object.entries(rates).map(([rate, fixed]) => [TARGET_NAMES[target] ?? target, `${rate}/s`, latency(fixed.p50Ms), latency(fixed.p95Ms), latency(fixed.p99Ms), `${(fixed.errorRate * 100).toFixed(1)}%`]),
        ),
      ),
      "",
      `Rising rates (${e2e.seconds} s each; sustained = ${e2e.sustainedRule}):`,
      "",
      table(
        ["path", "offered/s", "answered OK/s", "errors", "p99", "sustained"],
        Object.entries(e2e.steps).flatMap(([target, steps]) =>
          steps.map((step) => [
            TARGET_NAMES[target] ?? target,
            step.offeredPerSecond,
            step.okPerSecond,
            `${(step.errorRate * 100).toFixed(1)}%${Object.keys(step.errors).length > 0 ? ` (${Object.entries(step.errors).map(([code, count]) => `${code} ${count}`).join(", ")})` : ""}`,
            latency(step.p99Ms),
            step.errorRate < 0.01 && step.p99Ms <= 1000 ? "yes" : "no",
          ]),
        ),
      ),
      "",
      "CPU used per process (CPU-seconds per second) and peak RSS, at the highest sustained step (or the first step if none was):",
      "",
      table(
        ["path @ rate", ...Object.keys(Object.values(e2e.underLoad)[0]?.peakRssMb ?? {})],
        Object.entries(e2e.underLoad).flatMap(([target, load]) => [
          [`${TARGET_NAMES[target]} @ ${load.rate}/s, CPU`, ...Object.values(load.cpuSecondsPerSecond).map(String)],
          [`${TARGET_NAMES[target]} @ ${load.rate}/s, peak RSS MB`, ...Object.values(load.peakRssMb).map(String)],
        ]),
      ),
      "",
    );
  }
  if (events) {
    out.push(
      "## 3. Event pipeline",
      "",
      `${events.messages} OrderPlaced events per round, ${events.rounds} interleaved rounds, against a real nats-server: OutboxRelay.relayBatch (select 256 unsent rows, publish them pipelined, mark them sent) until the outbox is empty, versus publishing the same messages straight to JetStream from the same process in windows of 256.`,
      "",
      table(
        ["", "events/s"],
        [
          ["outbox relay (PGlite in memory)", events.relayPerSecond.toLocaleString("en")],
          ["raw pipelined JetStream publish", events.rawPerSecond.toLocaleString("en")],
          ["ratio (median of per-round ratios)", events.ratio.toFixed(2)],
        ],
      ),
      "",
      `Commit-to-consumer latency: one OrderPlaced per transaction at ${events.latency.ratePerSecond}/s for ${events.latency.seconds} s, the relay running as services run it (polls every 20 ms when idle), a durable EventConsumers consumer with its inbox in its own database: p50 **${events.latency.p50Ms} ms**, p99 **${events.latency.p99Ms} ms**, max ${events.latency.maxMs} ms (${events.latency.delivered}/${events.latency.expected} delivered).`,
      "",
    );
  }
  if (footprint) {
    const names = Object.keys(footprint.idleRssMb);
    out.push(
      "## 4. Footprint",
      "",
      `Start to every component ready, as \`make up\` starts them (nats-server, then the five services together, then the gateway): first-ever (empty data directories) **${(footprint.firstStartMs / 1000).toFixed(1)} s**; with existing data directories **${(footprint.restartMs / 1000).toFixed(1)} s** (runs: ${footprint.restartRuns.map((run) => (run / 1000).toFixed(1)).join(", ")} s).` +
        (footprint.makeUp.upMs
          ? ` The real \`make up\` (including make's up-to-date build check) took ${(footprint.makeUp.upMs / 1000).toFixed(1)} s.`
          : ` The real \`make up\` on the default ports: ${footprint.makeUp.skipped}.`),
      "",
      table(["", ...names], [["idle RSS (MB)", ...names.map((name) => String(footprint.idleRssMb[name]))]]),
      "",
    );
  }
  const analysis = join(ROOT, "bench", "analysis.md");
  if (existsSync(analysis)) out.push(readFileSync(analysis, "utf8").trim(), "");
  return `${out.join("\n")}\n`;
}

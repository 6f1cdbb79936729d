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
  serverCpu?: number;
  generatorCpu?: number;
}
type HopRow = { key: string; label: string; logBytesPerRequest: number; inFlight100: Latency; inFlight1: Latency };
interface Hop {
  rounds: number;
  seconds: number;
  rows: HopRow[];
  /** The mutual TLS series (absent from runs before TLS). */
  tls?: { generator: string; caller: string; negotiated?: string; rows: HopRow[] };
}
interface Measured {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errorRate: number;
  okPerSecond: number;
}
/** A fixed rate above one the target could not sustain is not run (bench/e2e.ts). */
type Fixed = Measured | { notRun: string };
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

const TARGET_NAMES = { http: "gateway (HTTP)", grpc: "orders (gRPC, mTLS as the gateway)" } as Record<string, string>;
const ms = (us: number) => `${(us / 1000).toFixed(us < 10_000 ? 2 : 0)} ms`;
/** A latency in ms, or a dash when nothing succeeded to measure. */
const latency = (value: number | null) => (value === null || !Number.isFinite(value) ? "—" : `${value >= 100 ? Math.round(value) : value} ms`);
const yes = (met: boolean) => (met ? "met" : "**missed**");
const table = (header: string[], rows: (string | number)[][]) =>
  [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((row) => `| ${row.join(" | ")} |`)].join("\n");
const percent = (share: number | undefined) => (share === undefined || !Number.isFinite(share) ? "—" : `${Math.round(share * 100)}%`);
/** The server's CPU share and, from it, its CPU time per answered call (medians of both: approximate, but independent of the generator's speed). */
const serverCpu = (latency: Latency) =>
  latency.serverCpu === undefined ? "—" : `${percent(latency.serverCpu)} (${Math.round((latency.serverCpu / latency.requestsPerSecond) * 1e6)} µs/call)`;
/** One hop table: req/s with the ratio to the series' baseline, latencies, how busy the server's core was. */
const hopTable = (rows: HopRow[], baseline: string, withGenerator: boolean) =>
  table(
    [
      "server",
      `req/s, 100 in flight (× ${baseline})`,
      "p50 / p99",
      `req/s, 1 in flight (× ${baseline})`,
      "p50 / p99",
      withGenerator ? "server / generator CPU, 100 in flight" : "server CPU, 100 in flight",
      "log bytes/req",
    ],
    rows.map((row) => [
      row.label,
      `${row.inFlight100.requestsPerSecond.toLocaleString("en")} (${row.inFlight100.ratioToBare.toFixed(2)})`,
      `${ms(row.inFlight100.p50Us)} / ${ms(row.inFlight100.p99Us)}`,
      `${row.inFlight1.requestsPerSecond.toLocaleString("en")} (${row.inFlight1.ratioToBare.toFixed(2)})`,
      `${ms(row.inFlight1.p50Us)} / ${ms(row.inFlight1.p99Us)}`,
      withGenerator ? `${serverCpu(row.inFlight100)} / ${percent(row.inFlight100.generatorCpu)}` : serverCpu(row.inFlight100),
      row.logBytesPerRequest,
    ]),
  );

export function renderResults(results: Record<string, unknown>): string {
  const machine = results.machine as Machine;
  const hop = results.hop as Hop | undefined;
  const e2e = results.e2e as E2e | undefined;
  const events = results.events as Events | undefined;
  const footprint = results.footprint as Footprint | undefined;
  const loadBefore = (results.loadBefore ?? {}) as Record<string, number[]>;
  const loadAfter = results.loadAfter as number[] | undefined;
  const wallSeconds = (results.wallSeconds ?? {}) as Record<string, number>;
  const out: string[] = [];

  out.push(
    "# Benchmark results",
    "",
    "Written by `make bench` (bench/main.ts); do not edit by hand — the analysis at the end comes from `bench/analysis.md`.",
    "",
    `- Machine: ${machine.cores} cores, ${machine.cpuModel}; Node ${machine.node}; ${machine.date.slice(0, 10)}`,
    `- Load average (1, 5, 15 min) at start: ${machine.loadAverage.join(", ")}; before each measurement: ${Object.entries(loadBefore)
      .map(([name, load]) => `${name} ${load[0]}`)
      .join(", ")}${loadAfter ? `; at the end: ${loadAfter.join(", ")}` : ""}. The machine is shared: a 1-minute load above ${machine.cores} means other work was competing for the cores.`,
    ...(Object.keys(wallSeconds).length > 0
      ? [`- Wall time: ${Object.entries(wallSeconds).map(([name, seconds]) => `${name} ${seconds} s`).join(", ")}.`]
      : []),
    "- Every figure is the median over repeated runs (rounds interleaved where two things are compared).",
    "- Security as deployed: mutual TLS on every gRPC hop and to NATS (the development CA's certificates, issued for the run; NATS users from deploy/nats/nats.conf), authorization on every call. The exception is the hop table's plaintext series (TLS_MODE=insecure), because h2load cannot present a client certificate; its mutual TLS series uses a Node load generator instead.",
    "",
  );

  out.push("## Targets", "");
  const rows: string[][] = [];
  const runtime = hop?.rows.find((row) => row.key === "runtime");
  const catalog = hop?.rows.find((row) => row.key === "catalog");
  if (runtime && catalog) {
    rows.push(["hop, plaintext (h2load): runtime stack / bare grpc-js, 100 in flight", "≥ 0.85", runtime.inFlight100.ratioToBare.toFixed(2), yes(runtime.inFlight100.ratioToBare >= 0.85)]);
    rows.push(["hop, plaintext (h2load): runtime stack / bare grpc-js, 1 in flight", "≥ 0.85", runtime.inFlight1.ratioToBare.toFixed(2), yes(runtime.inFlight1.ratioToBare >= 0.85)]);
    rows.push(["hop, plaintext (h2load): real catalog GetProduct / bare, 100 in flight", "≥ 0.85", catalog.inFlight100.ratioToBare.toFixed(2), yes(catalog.inFlight100.ratioToBare >= 0.85)]);
    rows.push(["hop, plaintext (h2load): real catalog GetProduct / bare, 1 in flight", "≥ 0.85", catalog.inFlight1.ratioToBare.toFixed(2), yes(catalog.inFlight1.ratioToBare >= 0.85)]);
  }
  const runtimeMtls = hop?.tls?.rows.find((row) => row.key === "runtime-mtls");
  const catalogMtls = hop?.tls?.rows.find((row) => row.key === "catalog-mtls");
  if (runtimeMtls && catalogMtls) {
    for (const [name, row] of [["runtime stack", runtimeMtls], ["real catalog GetProduct", catalogMtls]] as const) {
      for (const inFlight of [100, 1] as const) {
        const ratio = row[`inFlight${inFlight}`].ratioToBare;
        rows.push([`hop, mutual TLS (Node generator): ${name} / bare grpc-js mTLS, ${inFlight} in flight`, "≥ 0.85", ratio.toFixed(2), yes(ratio >= 0.85)]);
      }
    }
  }
  if (e2e) {
    for (const target of Object.keys(e2e.sustained)) {
      rows.push([`orders/s sustained, ${TARGET_NAMES[target]}`, "≥ 400", String(e2e.sustained[target]), yes(e2e.sustained[target]! >= 400)]);
      const at200 = e2e.fixed[target]?.["200"];
      if (at200 && "notRun" in at200) rows.push([`p99 at 200 orders/s, ${TARGET_NAMES[target]}`, "≤ 100 ms", `not run: the fixed ${at200.notRun}`, yes(false)]);
      else if (at200) rows.push([`p99 at 200 orders/s, ${TARGET_NAMES[target]}`, "≤ 100 ms", `${latency(at200.p99Ms)} (${(at200.errorRate * 100).toFixed(1)}% errors)`, yes(at200.p99Ms <= 100 && at200.errorRate < 0.01)]);
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
      `Each server pinned to core 0, the load generator to core 1, one HTTP/2 connection, ${hop.rounds} interleaved rounds × ${hop.seconds} s (+1 s warm-up) per server and concurrency; ratio = the server's req/s ÷ the series' bare grpc-js's in the same round (median). Server CPU: CPU-seconds per second the server used while loaded (100% = its whole core; less means the generator or the other work on the machine was the limit), and that CPU time per answered call, which does not depend on the generator's speed (only on how calls batch per read). Log bytes: what the server wrote per request at LOG_LEVEL=info.`,
      "",
      "**Plaintext, loaded by h2load** with a prepared gRPC body. The runtime and the catalog run with TLS_MODE=insecure (plaintext, no caller identity, no authorization): h2load cannot present a client certificate, which the mesh's servers require. These rows are the middleware and the query without TLS.",
      "",
      hopTable(hop.rows, "bare", false),
      "",
    );
    if (hop.tls) {
      out.push(
        `**Mutual TLS, loaded by a Node generator, not h2load** (${hop.tls.generator}: the same closed loop, the same body, presenting the ${hop.tls.caller}'s certificate; a call counts when grpc-status is 0; negotiated: ${hop.tls.negotiated ?? "unknown"}). Every TLS server presents the catalog's certificate with the same credentials the runtime makes; the runtime stack and the catalog also run the authorization interceptor (deploy/authz-policy.yaml), as deployed. The last row is the plaintext bare server under this same generator: its ratio is what TLS costs bare grpc-js. The Node generator is slower than h2load, so compare these rows with each other, never with the plaintext table; where the generator's core is the busier one, the ratios understate the servers' differences.`,
        "",
        hopTable(hop.tls.rows, "bare mTLS", true),
        "",
      );
    }
  }
  if (e2e) {
    out.push(
      "## 2. End to end: PlaceOrder",
      "",
      `The whole mesh (5 services with embedded PGlite in data directories, nats-server, the gateway; LOG_LEVEL=info to files) on this machine, as deployed: mutual TLS and authorization on every gRPC hop, NATS over mutual TLS with a user per service. Inventory stocked deep so no order runs out. The gateway path is HTTP with a customer's bearer token; the direct path calls orders' PlaceOrder over mutual TLS with the gateway's certificate. Open-loop load from ${e2e.workers} processes: sends scheduled by the clock, latency from the scheduled time, a fresh idempotency key per order, tok_visa (the simulated card provider answers after 20 ms). ${e2e.rounds} rounds × ${e2e.seconds} s per fixed rate; a rate not sustained is measured once, and higher fixed rates are not run (the rising series below shows where capacity ends).`,
      "",
      table(
        ["path", "rate", "p50", "p95", "p99", "errors"],
        Object.entries(e2e.fixed).flatMap(([target, rates]) =>
          Object.entries(rates).map(([rate, fixed]) =>
            "notRun" in fixed
              ? [TARGET_NAMES[target] ?? target, `${rate}/s`, `not run: the fixed ${fixed.notRun}`, "", "", ""]
              : [TARGET_NAMES[target] ?? target, `${rate}/s`, latency(fixed.p50Ms), latency(fixed.p95Ms), latency(fixed.p99Ms), `${(fixed.errorRate * 100).toFixed(1)}%`],
          ),
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
      `${events.messages} OrderPlaced events per round, ${events.rounds} interleaved rounds, against a real nats-server run as deployed (deploy/nats/nats.conf: mutual TLS, users from certificates): OutboxRelay.relayBatch (select 256 unsent rows, publish them pipelined, mark them sent) until the outbox is empty, versus publishing the same messages straight to JetStream from the same process in windows of 256; both on one TLS connection as the orders user, the one allowed to publish orders.* events.`,
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
      `Commit-to-consumer latency: one OrderPlaced per transaction at ${events.latency.ratePerSecond}/s for ${events.latency.seconds} s, on a fresh server (no user may purge the stream), the relay running as services run it (woken by each commit through the Outbox; an idle relay also looks once a second), a durable EventConsumers consumer with its inbox in its own database, connected as the inventory user: p50 **${events.latency.p50Ms} ms**, p99 **${events.latency.p99Ms} ms**, max ${events.latency.maxMs} ms (${events.latency.delivered}/${events.latency.expected} delivered).`,
      "",
    );
  }
  if (footprint) {
    const names = Object.keys(footprint.idleRssMb);
    out.push(
      "## 4. Footprint",
      "",
      `Start to every component ready, as \`make up\` starts them (nats-server, then the five services together, then the gateway; mutual TLS, certificates issued beforehand): first-ever (empty data directories) **${(footprint.firstStartMs / 1000).toFixed(1)} s**; with existing data directories **${(footprint.restartMs / 1000).toFixed(1)} s** (runs: ${footprint.restartRuns.map((run) => (run / 1000).toFixed(1)).join(", ")} s).` +
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

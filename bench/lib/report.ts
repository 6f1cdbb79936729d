/**
 * bench/results.md from bench/results.json: the machine, the targets met or
 * missed, each measurement's table, then the hand-written analysis
 * (bench/analysis.md: profiles and where the time goes), which the numbers alone
 * cannot say.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Machine } from "./machine.js";
import { IDLE_SETTLE_MAX_MS, IDLE_SETTLE_MS } from "./idle.js";
import { ROOT } from "./process.js";

/* The shapes the measurement scripts write (only what the report reads). */
interface Latency {
  requestsPerSecond: number;
  p50Us: number;
  p99Us: number;
  ratioToBare: number;
  /** The baseline's server CPU per call over this server's, median of the rounds (absent from runs before 2026-12-07). */
  cpuRatioToBare?: number;
  rounds: number[];
  serverCpu?: number;
  generatorCpu?: number;
}
type HopRow = { key: string; label: string; logBytesPerRequest: number; inFlight100: Latency; inFlight1: Latency };
interface Hop {
  rounds: number;
  seconds: number;
  /** Every server's Node flags (absent from runs before they were given). */
  nodeFlags?: string[];
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
  /** The load generator's own CPU per order answered (ms); absent from runs before it was measured. */
  generatorCpuMsPerOrder?: number;
}
interface Ipc {
  messageBytes: number;
  roundTrips: number;
  rounds: number;
  cases: Record<string, { label: string; wallUs: number; cpuUs: number }>;
  /** The far end's CPU per message when messages come `pauseMs` apart (0: back to back). */
  paused?: Array<{ pauseMs: number; echoCpuUs: number; timesBackToBack: number }>;
}
interface PerOrderMessages {
  grpcCalls: number;
  eventsPublished: number;
  eventsApplied: number;
  /** Absent from runs made before they were counted. */
  statements?: number;
  statementsBy?: Record<string, number>;
  transactions: number;
  /** Absent from runs made before they were counted. */
  rowsReadWhole?: number;
}
type UnderLoad = Record<
  string,
  {
    rate: number;
    peakRssMb: Record<string, number>;
    cpuSecondsPerSecond: Record<string, number>;
    /** Absent from runs made before they were counted. */
    cpuMsPerOrder?: Record<string, number>;
    messagesPerOrder?: PerOrderMessages;
    /** Average PostgreSQL backends in each state during the load (db-waits.ts); absent from earlier runs. */
    databaseWaits?: Record<string, number>;
  }
>;
interface E2e {
  seconds: number;
  rounds: number;
  workers: number;
  sustainedRule: string;
  fixed: Record<string, Record<string, Fixed>>;
  steps: Record<string, Step[]>;
  sustained: Record<string, number>;
  underLoad: UnderLoad;
}
interface EventsLatency { ratePerSecond: number; seconds: number; delivered: number; expected: number; p50Ms: number; p99Ms: number; maxMs: number }
interface Events {
  messages: number;
  rounds: number;
  rawPerSecond: number;
  relayPerSecond: number;
  ratio: number;
  /** CPU µs per event (this process, nats-server, PostgreSQL); absent from runs before it was measured. */
  rawCpuUsPerEvent?: { bench: number; nats: number; postgres: number; all: number };
  relayCpuUsPerEvent?: { bench: number; nats: number; postgres: number; all: number };
  latency: EventsLatency;
}
interface Footprint {
  firstStartMs: number;
  restartMs: number;
  restartRuns: number[];
  /** Each process's RSS, and the cluster's PSS (all its processes) as "postgres". */
  idleRssMb: Record<string, number>;
  makeUp: { skipped?: string; upMs?: number; existingData?: boolean; idleRssMb?: Record<string, number> };
}
interface NodeMemoryVariant {
  node: string;
  flags: string[];
  idleMb: Record<string, number>;
  idlePssMb?: Record<string, number>;
  peakMb: Record<string, number>;
  afterMb: Record<string, number>;
  cpuMsPerOrder: number;
  okPerSecond: number;
  p99Ms: number;
}
interface NodeMemory {
  rate: number;
  seconds: number;
  rounds: number;
  variants: NodeMemoryVariant[];
}
/**
 * A measurement's figures when they have the shape this code writes (`key` is one
 * of its fields), else nothing: results.json from runs on two database backends
 * held them per backend, and a partial rerun keeps the others' old figures.
 */
function current<T>(measured: unknown, key: keyof T & string): T | undefined {
  return typeof measured === "object" && measured !== null && key in measured ? (measured as T) : undefined;
}

const TARGET_NAMES = { http: "gateway (HTTP)", grpc: "orders (gRPC, mTLS as the gateway)" } as Record<string, string>;
/** Issue targets: the runtime's server stack and the real catalog against bare grpc-js, the relay against raw publishing. */
const STACK_TARGET = 0.9;
const CATALOG_TARGET = 0.85;
const RELAY_TARGET = 0.9;
/** The CPU cells of an events row: this process, nats-server, PostgreSQL, all (dashes for a run from before they were measured). */
const cpuCells = (cpu: Events["rawCpuUsPerEvent"]) => (cpu ? [cpu.bench, cpu.nats, cpu.postgres, cpu.all].map((us) => us.toFixed(1)) : ["—", "—", "—", "—"]);
const ms = (us: number) => `${(us / 1000).toFixed(us < 10_000 ? 2 : 0)} ms`;
/** A latency in ms, or a dash when nothing succeeded to measure. */
const latency = (value: number | null) => (value === null || !Number.isFinite(value) ? "—" : `${value >= 100 ? Math.round(value) : value} ms`);
const yes = (met: boolean) => (met ? "met" : "**missed**");
/** Ratios rounded down, so a figure shown never seems to meet a target it missed (0.847 is 0.84, not 0.85). */
const ratio = (value: number) => (Math.floor(value * 100) / 100).toFixed(2);
const table = (header: string[], rows: (string | number)[][]) =>
  [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((row) => `| ${row.join(" | ")} |`)].join("\n");
const percent = (share: number | undefined) => (share === undefined || !Number.isFinite(share) ? "—" : `${Math.round(share * 100)}%`);
/** The server's CPU share and, from it, its CPU time per answered call (medians of both: approximate, but independent of the generator's speed). */
const serverCpu = (latency: Latency) =>
  latency.serverCpu === undefined ? "—" : `${percent(latency.serverCpu)} (${Math.round((latency.serverCpu / latency.requestsPerSecond) * 1e6)} µs/call)`;
/** A hop ratio as the targets table gives it: req/s against the baseline's (what the target is judged on), and CPU per call against the baseline's. */
const hopRatio = (latency: Latency) =>
  latency.cpuRatioToBare === undefined ? ratio(latency.ratioToBare) : `${ratio(latency.ratioToBare)} (CPU per call: ${ratio(latency.cpuRatioToBare)})`;
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
      `${row.inFlight100.requestsPerSecond.toLocaleString("en")} (${ratio(row.inFlight100.ratioToBare)})`,
      `${ms(row.inFlight100.p50Us)} / ${ms(row.inFlight100.p99Us)}`,
      `${row.inFlight1.requestsPerSecond.toLocaleString("en")} (${ratio(row.inFlight1.ratioToBare)})`,
      `${ms(row.inFlight1.p50Us)} / ${ms(row.inFlight1.p99Us)}`,
      withGenerator ? `${serverCpu(row.inFlight100)} / ${percent(row.inFlight100.generatorCpu)}` : serverCpu(row.inFlight100),
      row.logBytesPerRequest,
    ]),
  );

export function renderResults(results: Record<string, unknown>): string {
  const machine = results.machine as Machine;
  const ipc = results.ipc as Ipc | undefined;
  const hop = results.hop as Hop | undefined;
  const e2e = current<E2e>(results.e2e, "sustained");
  const events = current<Events>(results.events, "latency");
  const footprint = current<Footprint>(results.footprint, "restartMs");
  const loadBefore = (results.loadBefore ?? {}) as Record<string, number[]>;
  const loadAfter = results.loadAfter as number[] | undefined;
  const wallSeconds = (results.wallSeconds ?? {}) as Record<string, number>;
  const quietWait = (results.quietWaitSeconds ?? {}) as Record<string, number>;
  const quiet = results.quiet as { load: number; maxSeconds: number } | undefined;
  const afterWait = (seconds: number | undefined) => (seconds ? ` (after ${seconds} s waiting for it to fall)` : "");
  const out: string[] = [];

  out.push(
    "# Benchmark results",
    "",
    "Written by `make bench` (bench/main.ts); do not edit by hand — the analysis at the end comes from `bench/analysis.md`.",
    "",
    `- Machine: ${machine.cores} cores, ${machine.cpuModel}; Node ${machine.node}; ${machine.date.slice(0, 10)}`,
    `- Load average (1, 5, 15 min) at start: ${machine.loadAverage.join(", ")}${afterWait(quietWait.start)}; before each measurement: ${Object.entries(loadBefore)
      .map(([name, load]) => `${name} ${load[0]}${afterWait(quietWait[name])}`)
      .join(", ")}${loadAfter ? `; at the end: ${loadAfter.join(", ")}` : ""}. The machine is shared: a 1-minute load above ${machine.cores} means other work was competing for the cores.${quiet ? ` The run and each measurement first waited up to ${quiet.maxSeconds} s for the 1-minute load to fall under ${quiet.load}.` : ""}`,
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
    rows.push(["hop, plaintext (h2load): runtime stack / bare grpc-js, 100 in flight", `≥ ${STACK_TARGET}`, hopRatio(runtime.inFlight100), yes(runtime.inFlight100.ratioToBare >= STACK_TARGET)]);
    rows.push(["hop, plaintext (h2load): runtime stack / bare grpc-js, 1 in flight", `≥ ${STACK_TARGET}`, hopRatio(runtime.inFlight1), yes(runtime.inFlight1.ratioToBare >= STACK_TARGET)]);
    rows.push(["hop, plaintext (h2load): real catalog GetProduct / bare, 100 in flight", `≥ ${CATALOG_TARGET}`, hopRatio(catalog.inFlight100), yes(catalog.inFlight100.ratioToBare >= CATALOG_TARGET)]);
    rows.push(["hop, plaintext (h2load): real catalog GetProduct / bare, 1 in flight", `≥ ${CATALOG_TARGET}`, hopRatio(catalog.inFlight1), yes(catalog.inFlight1.ratioToBare >= CATALOG_TARGET)]);
  }
  const runtimeMtls = hop?.tls?.rows.find((row) => row.key === "runtime-mtls");
  const catalogMtls = hop?.tls?.rows.find((row) => row.key === "catalog-mtls");
  if (runtimeMtls && catalogMtls) {
    for (const [name, row, target] of [["runtime stack", runtimeMtls, STACK_TARGET], ["real catalog GetProduct", catalogMtls, CATALOG_TARGET]] as const) {
      for (const inFlight of [100, 1] as const) {
        const latency = row[`inFlight${inFlight}`];
        rows.push([`hop, mutual TLS (Node generator): ${name} / bare grpc-js mTLS, ${inFlight} in flight`, `≥ ${target}`, hopRatio(latency), yes(latency.ratioToBare >= target)]);
      }
    }
  }
  for (const [target, sustained] of Object.entries(e2e?.sustained ?? {})) {
    rows.push([`orders/s sustained, ${TARGET_NAMES[target]}`, "≥ 400", String(sustained), yes(sustained >= 400)]);
    const at200 = e2e!.fixed[target]?.["200"];
    if (at200 && "notRun" in at200) rows.push([`p99 at 200 orders/s, ${TARGET_NAMES[target]}`, "≤ 100 ms", `not run: the fixed ${at200.notRun}`, yes(false)]);
    else if (at200) {
      const met = at200.p99Ms <= 100 && at200.errorRate < 0.01;
      rows.push([`p99 at 200 orders/s, ${TARGET_NAMES[target]}`, "≤ 100 ms", `${latency(at200.p99Ms)} (${(at200.errorRate * 100).toFixed(1)}% errors)`, yes(met)]);
    }
  }
  if (events) {
    rows.push(["outbox relay / raw JetStream publish", `≥ ${RELAY_TARGET}`, ratio(events.ratio), yes(events.ratio >= RELAY_TARGET)]);
    rows.push([`commit-to-consumer p99 at ${events.latency.ratePerSecond} events/s`, "≤ 100 ms", `${events.latency.p99Ms} ms`, yes(events.latency.p99Ms <= 100)]);
  }
  if (footprint) {
    // The real `make up` on existing data, when it was timed, is the figure itself (make's up-to-date check included).
    const up = footprint.makeUp.upMs !== undefined && footprint.makeUp.existingData ? footprint.makeUp.upMs : footprint.restartMs;
    rows.push(["mesh start to all SERVING (existing data, as make up, the cluster included)", "≤ 3 s", `${(up / 1000).toFixed(1)} s`, yes(up <= 3000)]);
    const services = Object.entries(footprint.idleRssMb).filter(([name]) => name !== "nats" && name !== "postgres");
    const worst = Math.max(...services.map(([, mb]) => mb));
    rows.push(["resident memory per service, idle (worst)", "≤ 100 MB", `${worst.toFixed(0)} MB`, yes(worst <= 100)]);
  }
  out.push(
    "Every service on its own database and login of one embedded PostgreSQL cluster, as `make up` runs it (the PostgreSQL 18 binaries npm ships, the server's default settings). The hop figures measure one server at a time (the catalog's database on a throwaway cluster of the same binaries).",
    "",
    table(["figure", "target", "measured", ""], rows),
    "",
  );

  if (ipc) {
    out.push(
      "## 0. The machine: one message between processes",
      "",
      `Every figure below is made of messages between processes (a gRPC call, an SQL statement, a NATS publish and its ack). Their unit price on this machine: a ${ipc.messageBytes}-byte message over loopback TCP and back, one at a time, ${ipc.roundTrips.toLocaleString("en-US")} round trips × ${ipc.rounds} rounds (median); CPU is both ends' (bench/ipc.ts).`,
      "",
      table(
        ["ends", "wall per round trip", "CPU per round trip"],
        Object.values(ipc.cases).map((entry) => [entry.label, `${entry.wallUs} µs`, `**${entry.cpuUs} µs**`]),
      ),
      "",
    );
    if (ipc.paused) {
      out.push(
        "The same message to the process on the other core, one at a time with a pause between messages, as a service sleeps between calls at a modest rate: the CPU of that end per message (every thread's, from the scheduler's counters), which does the same work each time. A process woken from sleep pays several times more for the same work, so the mesh's CPU per order falls as the rate rises and its processes sleep less (section 2).",
        "",
        table(
          ["messages", "echo end's CPU per message", "× back to back"],
          ipc.paused.map((entry) => [
            entry.pauseMs === 0 ? "back to back" : `one every ${entry.pauseMs} ms (${Math.round(1000 / entry.pauseMs)}/s)`,
            `**${entry.echoCpuUs} µs**`,
            String(entry.timesBackToBack),
          ]),
        ),
        "",
      );
    }
  }

  if (hop) {
    out.push(
      "## 1. Hop overhead: CatalogService.GetProduct",
      "",
      `Each server pinned to core 0, the load generator to core 1, one HTTP/2 connection, ${hop.nodeFlags ? `every server (bare grpc-js too) with the services' Node flags (${hop.nodeFlags.join(" ")}), ` : ""}each loaded once at 100 in flight before the rounds (not counted) and logging to stdout, which a \`cat\` copies to a file (as a container runtime reads a service's stdout; straight into a file on this machine's disk, a log write now and then waited on the file system's journal and held the call behind it), ${hop.rounds} interleaved rounds × ${hop.seconds} s (+1 s warm-up) per server and concurrency; ratio = the server's req/s ÷ the series' bare grpc-js's in the same round (median). Server CPU: CPU-seconds per second the server used while loaded (100% = its whole core; less means the generator or the other work on the machine was the limit), and that CPU time per answered call, which does not depend on the generator's speed (only on how calls batch per read). Log bytes: what the server wrote per request at LOG_LEVEL=info.`,
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
      `The whole mesh (5 services, nats-server, the gateway; LOG_LEVEL=info to files) on this machine, started as \`make up\` starts it and as deployed: mutual TLS and authorization on every gRPC hop, NATS over mutual TLS with a user per service, every service on its own database and login of the mesh's embedded PostgreSQL cluster (its processes are the "postgres" column, memory as PSS since they share buffers). Inventory stocked deep so no order runs out. The gateway path is HTTP with a customer's bearer token; the direct path calls orders' PlaceOrder over mutual TLS with the gateway's certificate. Open-loop load from ${e2e.workers} processes on the same two cores: sends scheduled by the clock, latency from the scheduled time, a fresh idempotency key per order, tok_visa (the simulated card provider answers after 20 ms); the generator speaks HTTP/1.1 on raw keep-alive sockets and gRPC on node:http2 (bench/lib/http1-client.ts, bench/lib/h2-grpc.ts), not node:http or grpc-js, so it takes less of the cores the mesh is measured on (its own CPU per order is in the rising table). ${e2e.rounds} rounds × ${e2e.seconds} s per fixed rate; a rate not sustained is measured once, and higher fixed rates are not run (the rising series below shows where capacity ends).`,
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
        ["path", "offered/s", "answered OK/s", "errors", "p99", "sustained", "generator CPU per order"],
        Object.entries(e2e.steps).flatMap(([target, steps]) =>
          steps.map((step) => [
            TARGET_NAMES[target] ?? target,
            step.offeredPerSecond,
            step.okPerSecond,
            `${(step.errorRate * 100).toFixed(1)}%${Object.keys(step.errors).length > 0 ? ` (${Object.entries(step.errors).map(([code, count]) => `${code} ${count}`).join(", ")})` : ""}`,
            latency(step.p99Ms),
            step.errorRate < 0.01 && step.p99Ms <= 1000 ? "yes" : "no",
            step.generatorCpuMsPerOrder === undefined ? "—" : `${step.generatorCpuMsPerOrder} ms`,
          ]),
        ),
      ),
      "",
      "CPU used per process (CPU-seconds per second) and peak memory (RSS; the PostgreSQL cluster's processes together as PSS), at the highest sustained step (or the first step if none was):",
      "",
    );
    const names = Object.keys(Object.values(e2e.underLoad)[0]?.peakRssMb ?? {});
    out.push(
      table(
        ["path @ rate", ...names],
        Object.entries(e2e.underLoad).flatMap(([target, load]) => [
          [`${TARGET_NAMES[target]} @ ${load.rate}/s, CPU`, ...names.map((name) => String(load.cpuSecondsPerSecond[name] ?? "—"))],
          [`${TARGET_NAMES[target]} @ ${load.rate}/s, peak MB`, ...names.map((name) => String(load.peakRssMb[name] ?? "—"))],
        ]),
      ),
      "",
    );
    const counted = Object.entries(e2e.underLoad).filter(([, load]) => load.cpuMsPerOrder && load.messagesPerOrder);
    if (counted.length > 0) {
      const sum = (values: Record<string, number>) => Math.round(Object.values(values).reduce((total, value) => total + value, 0) * 100) / 100;
      out.push(
        "Per order at the same step: the CPU each process spent from the start of the load until its backlog settled (the relays and consumers finish an order's work after its answer; settled: the mesh under 10% of a core for a second) divided by the orders answered, and the messages the mesh exchanged for them, counted by the mesh itself (each service's /metrics: gRPC calls its services handled, health and reflection left out, events its relay published and its consumers applied, statements it sent to its database, BEGIN and COMMIT included; PostgreSQL's pg_stat_database: transactions on the services' databases, a relay's or sweeper's idle look included; pg_stat_user_tables: rows read by reading a table whole, which a plan that grows with the shop's history would show), from before the load until its backlog settled:",
        "",
        table(
          ["path @ rate", ...names, "all", "gRPC calls", "events published", "events applied", "SQL statements", "transactions", "table rows read whole"],
          counted.map(([target, load]) => [
            `${TARGET_NAMES[target]} @ ${load.rate}/s, CPU ms per order`,
            ...names.map((name) => String(load.cpuMsPerOrder![name] ?? "—")),
            `**${sum(load.cpuMsPerOrder!)}**`,
            String(load.messagesPerOrder!.grpcCalls),
            String(load.messagesPerOrder!.eventsPublished),
            String(load.messagesPerOrder!.eventsApplied),
            statementsCell(load.messagesPerOrder!),
            String(load.messagesPerOrder!.transactions),
            load.messagesPerOrder!.rowsReadWhole === undefined ? "—" : String(load.messagesPerOrder!.rowsReadWhole),
          ]),
        ),
        "",
      );
    }
    const waited = Object.entries(e2e.underLoad).filter(([, load]) => load.databaseWaits);
    if (waited.length > 0) {
      const classes = Object.keys(waited[0]![1].databaseWaits!);
      out.push(
        "What the services' PostgreSQL backends were doing at the same step: the average number of backends in each state, from pg_stat_activity every 50 ms (WAL flush: waiting for a commit to reach the disk, LWLock WALWrite/WALInsert or IO Wal*; row locks: Lock; client: waiting for the service's next message):",
        "",
        table(
          ["path @ rate", ...classes],
          waited.map(([target, load]) => [`${TARGET_NAMES[target]} @ ${load.rate}/s`, ...classes.map((name) => String(load.databaseWaits![name] ?? "—"))]),
        ),
        "",
      );
    }
  }
  if (events) {
    const { latency: delivery } = events;
    out.push(
      "## 3. Event pipeline",
      "",
      `${events.messages.toLocaleString("en")} OrderPlaced events per round, ${events.rounds} interleaved rounds (who goes first alternates) after an uncounted round of each side, against a real nats-server run as deployed (deploy/nats/nats.conf: mutual TLS, users from certificates): OutboxRelay.relayBatch (one statement deletes the previous batch's rows and selects the next 256; they are published pipelined) until the outbox is empty, the outbox in its own database of an embedded PostgreSQL cluster started as \`make up\` starts its own, versus publishing the same messages straight to JetStream from the same process in windows of 256; all on one TLS connection as the orders user, the one allowed to publish orders.* events.`,
      "",
      table(
        ["", "events/s", "ratio to raw (median of per-round ratios)", "CPU µs per event: this process", "nats-server", "PostgreSQL", "all"],
        [
          ["outbox relay", events.relayPerSecond.toLocaleString("en"), ratio(events.ratio), ...cpuCells(events.relayCpuUsPerEvent)],
          ["raw pipelined JetStream publish", events.rawPerSecond.toLocaleString("en"), "1", ...cpuCells(events.rawCpuUsPerEvent)],
        ],
      ),
      "",
      `Commit-to-consumer latency: one OrderPlaced per transaction at ${delivery.ratePerSecond}/s for ${delivery.seconds} s, on a fresh nats-server (no user may purge the stream), the relay running as services run it (each commit through the Outbox hands its event over in memory and wakes it; it also reads the table once a second), a durable EventConsumers consumer with its inbox in its own database of the same cluster, connected as the inventory user:`,
      "",
      table(
        ["p50", "p99", "max", "delivered"],
        [[`${delivery.p50Ms} ms`, `**${delivery.p99Ms} ms**`, `${delivery.maxMs} ms`, `${delivery.delivered}/${delivery.expected}`]],
      ),
      "",
    );
  }
  if (footprint) {
    const { makeUp } = footprint;
    const names = Object.keys(footprint.idleRssMb);
    out.push(
      "## 4. Footprint",
      "",
      `Start to every component ready, as \`make up\` starts them (the PostgreSQL cluster and a database and login per service, nats-server, then every service and the gateway at once, from their bundles; mutual TLS, certificates issued beforehand): first-ever (an empty data directory: initdb and provisioning included) and with existing data (the cluster starts again on its data). Idle memory once every Node process has given back what start-up grew (its idle collection counted in bazaar_idle_collections_total; read ${IDLE_SETTLE_MS / 1000}–${IDLE_SETTLE_MAX_MS / 1000} s after every component is ready): each process's RSS, and the cluster's as the "postgres" column: all its processes' PSS together (they share their buffers, which RSS would count once per process).` +
        (makeUp.upMs !== undefined
          ? ` The real \`make up\` (${makeUp.existingData ? "with existing data" : "first-ever"}, including make's up-to-date build check) took ${(makeUp.upMs / 1000).toFixed(1)} s.`
          : ` The real \`make up\` on the default ports: ${makeUp.skipped}.`),
      "",
      table(
        ["first-ever start", "start with existing data (runs)"],
        [[`${(footprint.firstStartMs / 1000).toFixed(1)} s`, `**${(footprint.restartMs / 1000).toFixed(1)} s** (${footprint.restartRuns.map((ms_) => (ms_ / 1000).toFixed(1)).join(", ")} s)`]],
      ),
      "",
      table(
        ["", ...names.map((name) => (name === "postgres" ? "postgres (PSS, all its processes)" : name))],
        [["idle memory (MB)", ...names.map((name) => footprint.idleRssMb[name]!.toFixed(1))]],
      ),
      "",
    );
  }
  const nodeMemory = results["node-memory"] as NodeMemory | undefined;
  if (nodeMemory) out.push(...renderNodeMemory(nodeMemory));
  const analysis = join(ROOT, "bench", "analysis.md");
  if (existsSync(analysis)) out.push(readFileSync(analysis, "utf8").trim(), "");
  return `${out.join("\n")}\n`;
}

/** Statements per order, and by service when counted so. */
function statementsCell(messages: PerOrderMessages): string {
  if (messages.statements === undefined) return "—";
  const by = Object.entries(messages.statementsBy ?? {}).filter(([, count]) => count > 0);
  return by.length === 0 ? String(messages.statements) : `${messages.statements} (${by.map(([name, count]) => `${name} ${count}`).join(", ")})`;
}

/** Section 5: memory per process on each Node and set of flags, with the CPU per order it costs. */
function renderNodeMemory(memory: NodeMemory): string[] {
  const label = (variant: NodeMemoryVariant) => `Node ${variant.node.replace(/^v/, "")}, ${variant.flags.length > 0 ? `\`${variant.flags.join(" ")}\`` : "V8 defaults"}`;
  const names = Object.keys(memory.variants[0]?.idleMb ?? {});
  const worst = (mb: Record<string, number> | undefined) => (mb ? `${Math.max(...Object.values(mb)).toFixed(0)} MB` : "—");
  const perProcess = (pick: (variant: NodeMemoryVariant) => Record<string, number> | undefined) =>
    memory.variants.map((variant) => [label(variant), ...names.map((name) => pick(variant)?.[name]?.toFixed(0) ?? "—")]);
  return [
    "## 5. Memory per Node",
    "",
    `Each service and the gateway on every Node and set of flags compared, the whole mesh as \`make up\` runs it (its embedded PostgreSQL cluster, mutual TLS), ${memory.rounds} interleaved rounds: resident memory idle (once every process has run its idle collection, ${IDLE_SETTLE_MS / 1000}–${IDLE_SETTLE_MAX_MS / 1000} s after every component is ready), its peak under ${memory.rate} orders/s through the gateway for ${memory.seconds} s, and the CPU all six Node processes used per order in that load. RSS counts the pages of the Node binary each process has touched (~50 MB), which all of them share; PSS gives each process its share of those.`,
    "",
    table(
      ["Node, flags", "idle RSS (worst)", "idle PSS (worst)", `peak RSS at ${memory.rate}/s (worst)`, "CPU per order (six Node processes)", "p99"],
      memory.variants.map((variant) => [label(variant), worst(variant.idleMb), worst(variant.idlePssMb), worst(variant.peakMb), `${variant.cpuMsPerOrder.toFixed(1)} ms`, latency(variant.p99Ms)]),
    ),
    "",
    table(["idle RSS (MB)", ...names], perProcess((variant) => variant.idleMb)),
    "",
    table(["idle PSS (MB)", ...names], perProcess((variant) => variant.idlePssMb)),
    "",
    table([`peak RSS at ${memory.rate}/s (MB)`, ...names], perProcess((variant) => variant.peakMb)),
    "",
  ];
}

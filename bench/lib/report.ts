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
type Backend = "pglite" | "postgres";
interface Ipc {
  messageBytes: number;
  roundTrips: number;
  rounds: number;
  cases: Record<string, { label: string; wallUs: number; cpuUs: number }>;
}
const BACKEND_NAMES: Record<Backend, string> = { pglite: "PGlite", postgres: "PostgreSQL" };
type UnderLoad = Record<string, { rate: number; peakRssMb: Record<string, number>; cpuSecondsPerSecond: Record<string, number> }>;
/** One backend's end-to-end figures. */
interface E2eRun {
  fixed: Record<string, Record<string, Fixed>>;
  steps: Record<string, Step[]>;
  sustained: Record<string, number>;
  underLoad: UnderLoad;
}
interface E2e {
  seconds: number;
  rounds: number;
  workers: number;
  sustainedRule: string;
  /** Absent from runs before the PostgreSQL variant: the run itself is then PGlite's. */
  backends?: Partial<Record<Backend, E2eRun>>;
}
interface EventsLatency { ratePerSecond: number; seconds: number; delivered: number; expected: number; p50Ms: number; p99Ms: number; maxMs: number }
interface EventsRun {
  relayPerSecond: number;
  ratio: number;
  perRound: { relay: number; raw: number; ratio: number }[];
  latency: EventsLatency;
}
interface Events {
  messages: number;
  rounds: number;
  rawPerSecond: number;
  backends?: Partial<Record<Backend, EventsRun>>;
}
interface FootprintRun {
  firstStartMs: number;
  restartMs: number;
  restartRuns: number[];
  idleRssMb: Record<string, number>;
}
interface Footprint {
  backends?: Partial<Record<Backend, FootprintRun>>;
  makeUp: { skipped?: string; upMs?: number; idleRssMb?: Record<string, number> };
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
/** Each backend's figures; a result written before the PostgreSQL variant is all PGlite's. */
function byBackend<Run>(measured: { backends?: Partial<Record<Backend, Run>> } | undefined): [Backend, Run][] {
  if (!measured) return [];
  const backends = measured.backends ?? { pglite: measured as unknown as Run };
  return (Object.keys(BACKEND_NAMES) as Backend[]).filter((backend) => backends[backend]).map((backend) => [backend, backends[backend]!]);
}

const TARGET_NAMES = { http: "gateway (HTTP)", grpc: "orders (gRPC, mTLS as the gateway)" } as Record<string, string>;
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
    rows.push(["hop, plaintext (h2load): runtime stack / bare grpc-js, 100 in flight", "≥ 0.85", ratio(runtime.inFlight100.ratioToBare), yes(runtime.inFlight100.ratioToBare >= 0.85)]);
    rows.push(["hop, plaintext (h2load): runtime stack / bare grpc-js, 1 in flight", "≥ 0.85", ratio(runtime.inFlight1.ratioToBare), yes(runtime.inFlight1.ratioToBare >= 0.85)]);
    rows.push(["hop, plaintext (h2load): real catalog GetProduct / bare, 100 in flight", "≥ 0.85", ratio(catalog.inFlight100.ratioToBare), yes(catalog.inFlight100.ratioToBare >= 0.85)]);
    rows.push(["hop, plaintext (h2load): real catalog GetProduct / bare, 1 in flight", "≥ 0.85", ratio(catalog.inFlight1.ratioToBare), yes(catalog.inFlight1.ratioToBare >= 0.85)]);
  }
  const runtimeMtls = hop?.tls?.rows.find((row) => row.key === "runtime-mtls");
  const catalogMtls = hop?.tls?.rows.find((row) => row.key === "catalog-mtls");
  if (runtimeMtls && catalogMtls) {
    for (const [name, row] of [["runtime stack", runtimeMtls], ["real catalog GetProduct", catalogMtls]] as const) {
      for (const inFlight of [100, 1] as const) {
        const toBare = row[`inFlight${inFlight}`].ratioToBare;
        rows.push([`hop, mutual TLS (Node generator): ${name} / bare grpc-js mTLS, ${inFlight} in flight`, "≥ 0.85", ratio(toBare), yes(toBare >= 0.85)]);
      }
    }
  }
  // From here one figure per backend, side by side: [measured, verdict] per backend, a dash where not run.
  const e2eRuns = byBackend<E2eRun>(e2e);
  const eventRuns = byBackend<EventsRun>(events);
  const footprintRuns = byBackend<FootprintRun>(footprint);
  const backends = (Object.keys(BACKEND_NAMES) as Backend[]).filter((backend) =>
    [e2eRuns, eventRuns, footprintRuns].some((runs) => runs.some(([name]) => name === backend)),
  );
  if (backends.length === 0) backends.push("pglite");
  /** A row whose figure exists per backend: `cell` gives [measured, met] or nothing where that backend has no figure. */
  const perBackend = <Run>(label: string, target: string, runs: [Backend, Run][], cell: (run: Run) => [string, boolean] | undefined) => {
    const cells = backends.flatMap((backend) => {
      const run = runs.find(([name]) => name === backend)?.[1];
      const value = run === undefined ? undefined : cell(run);
      return value ? [value[0], yes(value[1])] : ["—", ""];
    });
    rows.push([label, target, ...cells]);
  };
  // The hop rows measure one server (the catalog on PGlite): in the first backend's column.
  for (const row of rows) row.splice(4, 0, ...backends.slice(1).flatMap(() => ["—", ""]));
  for (const target of Object.keys(e2eRuns[0]?.[1].sustained ?? {})) {
    perBackend(`orders/s sustained, ${TARGET_NAMES[target]}`, "≥ 400", e2eRuns, (run) => {
      const value = run.sustained[target];
      return value === undefined ? undefined : [String(value), value >= 400];
    });
    perBackend(`p99 at 200 orders/s, ${TARGET_NAMES[target]}`, "≤ 100 ms", e2eRuns, (run) => {
      const at200 = run.fixed[target]?.["200"];
      if (!at200) return undefined;
      if ("notRun" in at200) return [`not run: the fixed ${at200.notRun}`, false];
      return [`${latency(at200.p99Ms)} (${(at200.errorRate * 100).toFixed(1)}% errors)`, at200.p99Ms <= 100 && at200.errorRate < 0.01];
    });
  }
  perBackend("outbox relay / raw JetStream publish", "≥ 0.8", eventRuns, (run) => [ratio(run.ratio), run.ratio >= 0.8]);
  if (eventRuns[0]) {
    perBackend(`commit-to-consumer p99 at ${eventRuns[0][1].latency.ratePerSecond} events/s`, "≤ 100 ms", eventRuns, (run) => [`${run.latency.p99Ms} ms`, run.latency.p99Ms <= 100]);
  }
  if (footprint) {
    // The real `make up` runs PGlite: it replaces the PGlite start figure when it was timed.
    const upMs = (backend: Backend, run: FootprintRun) => (backend === "pglite" && footprint.makeUp.upMs ? footprint.makeUp.upMs : run.restartMs);
    perBackend("mesh start to all SERVING (existing data, as make up)", "≤ 5 s", footprintRuns, (run) => {
      const backend = footprintRuns.find(([, candidate]) => candidate === run)![0];
      const up = upMs(backend, run);
      return [`${(up / 1000).toFixed(1)} s`, up <= 5000];
    });
    perBackend("resident memory per service, idle (worst)", "≤ 100 MB", footprintRuns, (run) => {
      const worst = Math.max(...Object.entries(run.idleRssMb).filter(([name]) => name !== "nats" && name !== "postgres").map(([, mb]) => mb));
      return [`${worst.toFixed(0)} MB`, worst <= 100];
    });
  }
  out.push(
    "Measured per database backend: every service on embedded PGlite (as `make up` runs it), and every service on its own database of one real PostgreSQL server (as compose and Kubernetes run it). The hop figures are one server's (the catalog on PGlite).",
    "",
    table(["figure", "target", ...backends.flatMap((backend) => [BACKEND_NAMES[backend], ""])], rows),
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
  }

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
      `The whole mesh (5 services, nats-server, the gateway; LOG_LEVEL=info to files) on this machine, as deployed: mutual TLS and authorization on every gRPC hop, NATS over mutual TLS with a user per service. Run once per database backend: every service on embedded PGlite in its data directory (as \`make up\`), then every service on its own database of one PostgreSQL server on this machine (as compose and Kubernetes; Debian's postgresql, fsync=off, started before the mesh; its processes are the "postgres" column, memory as PSS since they share buffers). Inventory stocked deep so no order runs out. The gateway path is HTTP with a customer's bearer token; the direct path calls orders' PlaceOrder over mutual TLS with the gateway's certificate. Open-loop load from ${e2e.workers} processes: sends scheduled by the clock, latency from the scheduled time, a fresh idempotency key per order, tok_visa (the simulated card provider answers after 20 ms). ${e2e.rounds} rounds × ${e2e.seconds} s per fixed rate; a rate not sustained is measured once, and higher fixed rates are not run (the rising series below shows where capacity ends).`,
      "",
      table(
        ["backend", "path", "rate", "p50", "p95", "p99", "errors"],
        e2eRuns.flatMap(([backend, run]) =>
          Object.entries(run.fixed).flatMap(([target, rates]) =>
            Object.entries(rates).map(([rate, fixed]) =>
              "notRun" in fixed
                ? [BACKEND_NAMES[backend], TARGET_NAMES[target] ?? target, `${rate}/s`, `not run: the fixed ${fixed.notRun}`, "", "", ""]
                : [BACKEND_NAMES[backend], TARGET_NAMES[target] ?? target, `${rate}/s`, latency(fixed.p50Ms), latency(fixed.p95Ms), latency(fixed.p99Ms), `${(fixed.errorRate * 100).toFixed(1)}%`],
            ),
          ),
        ),
      ),
      "",
      `Rising rates (${e2e.seconds} s each; sustained = ${e2e.sustainedRule}):`,
      "",
      table(
        ["backend", "path", "offered/s", "answered OK/s", "errors", "p99", "sustained"],
        e2eRuns.flatMap(([backend, run]) =>
          Object.entries(run.steps).flatMap(([target, steps]) =>
            steps.map((step) => [
              BACKEND_NAMES[backend],
              TARGET_NAMES[target] ?? target,
              step.offeredPerSecond,
              step.okPerSecond,
              `${(step.errorRate * 100).toFixed(1)}%${Object.keys(step.errors).length > 0 ? ` (${Object.entries(step.errors).map(([code, count]) => `${code} ${count}`).join(", ")})` : ""}`,
              latency(step.p99Ms),
              step.errorRate < 0.01 && step.p99Ms <= 1000 ? "yes" : "no",
            ]),
          ),
        ),
      ),
      "",
      "CPU used per process (CPU-seconds per second) and peak memory (RSS; the PostgreSQL server's processes together as PSS), at the highest sustained step (or the first step if none was):",
      "",
    );
    for (const [backend, run] of e2eRuns) {
      const names = Object.keys(Object.values(run.underLoad)[0]?.peakRssMb ?? {});
      out.push(
        table(
          [`${BACKEND_NAMES[backend]}: path @ rate`, ...names],
          Object.entries(run.underLoad).flatMap(([target, load]) => [
            [`${TARGET_NAMES[target]} @ ${load.rate}/s, CPU`, ...names.map((name) => String(load.cpuSecondsPerSecond[name] ?? "—"))],
            [`${TARGET_NAMES[target]} @ ${load.rate}/s, peak MB`, ...names.map((name) => String(load.peakRssMb[name] ?? "—"))],
          ]),
        ),
        "",
      );
    }
  }
  if (events) {
    const first = eventRuns[0]?.[1];
    out.push(
      "## 3. Event pipeline",
      "",
      `${events.messages} OrderPlaced events per round, ${events.rounds} interleaved rounds (the order rotates each round), against a real nats-server run as deployed (deploy/nats/nats.conf: mutual TLS, users from certificates): OutboxRelay.relayBatch (one statement marks the previous batch sent and selects the next 256 unsent rows; they are published pipelined) until the outbox is empty, with the outbox in in-memory PGlite and in a database of a PostgreSQL server on this machine (fsync=off), versus publishing the same messages straight to JetStream from the same process in windows of 256; all on one TLS connection as the orders user, the one allowed to publish orders.* events.`,
      "",
      table(
        ["", "events/s", "ratio to raw (median of per-round ratios)"],
        [
          ...eventRuns.map(([backend, run]) => [`outbox relay (${BACKEND_NAMES[backend]})`, run.relayPerSecond.toLocaleString("en"), ratio(run.ratio)]),
          ["raw pipelined JetStream publish", events.rawPerSecond.toLocaleString("en"), "1"],
        ],
      ),
      "",
      `Commit-to-consumer latency: one OrderPlaced per transaction at ${first?.latency.ratePerSecond}/s for ${first?.latency.seconds} s, on a fresh server (no user may purge the stream), the relay running as services run it (woken by each commit through the Outbox; an idle relay also looks once a second), a durable EventConsumers consumer with its inbox in its own database on the same backend, connected as the inventory user:`,
      "",
      table(
        ["backend", "p50", "p99", "max", "delivered"],
        eventRuns.map(([backend, run]) => [BACKEND_NAMES[backend], `${run.latency.p50Ms} ms`, `**${run.latency.p99Ms} ms**`, `${run.latency.maxMs} ms`, `${run.latency.delivered}/${run.latency.expected}`]),
      ),
      "",
    );
  }
  if (footprint) {
    const names = [...new Set(footprintRuns.flatMap(([, run]) => Object.keys(run.idleRssMb)))];
    out.push(
      "## 4. Footprint",
      "",
      "Start to every component ready, as `make up` starts them (nats-server, then the five services together, then the gateway; mutual TLS, certificates issued beforehand), first-ever (empty data directories, or new databases) and with existing data; on PostgreSQL the server is already running (started before the clock, as in a deployment), and its memory is all its processes' PSS." +
        (footprint.makeUp.upMs
          ? ` The real \`make up\` (PGlite, including make's up-to-date build check) took ${(footprint.makeUp.upMs / 1000).toFixed(1)} s.`
          : ` The real \`make up\` on the default ports: ${footprint.makeUp.skipped}.`),
      "",
      table(
        ["backend", "first-ever start", "start with existing data (runs)"],
        footprintRuns.map(([backend, run]) => [
          BACKEND_NAMES[backend],
          `${(run.firstStartMs / 1000).toFixed(1)} s`,
          `**${(run.restartMs / 1000).toFixed(1)} s** (${run.restartRuns.map((ms_) => (ms_ / 1000).toFixed(1)).join(", ")} s)`,
        ]),
      ),
      "",
      table(
        ["idle memory (MB)", ...names],
        footprintRuns.map(([backend, run]) => [BACKEND_NAMES[backend], ...names.map((name) => (run.idleRssMb[name] === undefined ? "—" : run.idleRssMb[name]!.toFixed(1)))]),
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
    `Each service and the gateway on every Node and set of flags compared, the whole mesh on one PostgreSQL server (mutual TLS), ${memory.rounds} interleaved rounds: resident memory idle (3 s after every component is ready), its peak under ${memory.rate} orders/s through the gateway for ${memory.seconds} s, and the CPU all six Node processes used per order in that load. RSS counts the pages of the Node binary each process has touched (~50 MB), which all of them share; PSS gives each process its share of those.`,
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

/**
 * Measurement 2, end to end: PlaceOrder through the gateway (HTTP) and directly
 * on orders (gRPC, mutual TLS with the gateway's certificate), on the whole mesh
 * (every service, NATS, the gateway; mutual TLS throughout) started as `make up`
 * starts it, with deep stock so "out of stock" never counts as capacity.
 * Fixed rates give latency percentiles; a rising series of rates gives the
 * highest one sustained. Also samples each process's resident memory and CPU
 * under that load, the mesh's PostgreSQL cluster (each service on its own
 * database, as `make up` runs it) counted as one "postgres" process.
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/e2e.ts <out.json>
 * Env: BENCH_E2E_SECONDS (5), BENCH_E2E_ROUNDS (2), BENCH_E2E_WORKERS (2),
 *      BENCH_E2E_RATES ("50,100,200"), BENCH_PROFILE_DIR (CPU profiles of the mesh processes),
 *      BENCH_E2E_STEPS ("25,50,75,100,150,200,300,400")
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type LoadGenerator, type LoadResult, startLoadGenerator } from "./lib/loadgen.js";
import { sampleWaits, type WaitClass } from "./lib/db-waits.js";
import { type BenchMesh, deepenStock, SERVICES, startMesh } from "./lib/mesh.js";
import { cpuSeconds, rssMb } from "./lib/process.js";
import { median, round } from "./lib/stats.js";
import { perOrder, type Tally, tally } from "./lib/tally.js";

const SECONDS = Number(process.env.BENCH_E2E_SECONDS) || 5;
const ROUNDS = Number(process.env.BENCH_E2E_ROUNDS) || 2;
const WORKERS = Number(process.env.BENCH_E2E_WORKERS) || 2;
const list = (value: string | undefined, fallback: number[]) => (value ? value.split(",").map(Number) : fallback);
const RATES = list(process.env.BENCH_E2E_RATES, [50, 100, 200]);
const STEPS = list(process.env.BENCH_E2E_STEPS, [25, 50, 75, 100, 150, 200, 300, 400]);
/** A step is sustained when under 1% of orders fail and the queue does not grow (p99 stays under a second). */
const MAX_ERROR_RATE = 0.01;
const MAX_SUSTAINED_P99_MS = 1000;
const sustained = (result: LoadResult) => result.errorRate < MAX_ERROR_RATE && result.p99Ms <= MAX_SUSTAINED_P99_MS;
const TARGETS = ["http", "grpc"] as const;

const work = mkdtempSync(join(tmpdir(), "bazaar-bench-e2e-"));
const runId = `bench${Date.now().toString(36)}`;
let keep = false;

/**
 * The processes whose CPU and memory count: the mesh's, plus the PostgreSQL
 * cluster's (all its processes as one, memory as PSS since they share buffers).
 */
interface Meter {
  names: string[];
  cpu(): Record<string, number>;
  memoryMb(): Record<string, number>;
}
function meter(mesh: BenchMesh): Meter {
  const processes = [...mesh.processes.values()];
  return {
    names: [...processes.map((started) => started.name), "postgres"],
    cpu: () => ({
      ...Object.fromEntries(processes.map((started) => [started.name, cpuSeconds(started.pid)])),
      postgres: mesh.cluster.cpuSeconds(),
    }),
    memoryMb: () => ({
      ...Object.fromEntries(processes.map((started) => [started.name, rssMb(started.pid)])),
      postgres: mesh.cluster.pssMb(),
    }),
  };
}

/** Peak memory and CPU seconds of every process while `load` runs. */
async function sampled<T>(meter_: Meter, load: () => Promise<T>): Promise<{ result: T; peakRssMb: Record<string, number>; cpu: Record<string, number> }> {
  const peak: Record<string, number> = {};
  const cpuBefore = meter_.cpu();
  const sample = () => {
    for (const [name, mb] of Object.entries(meter_.memoryMb())) peak[name] = Math.max(peak[name] ?? 0, mb);
  };
  const timer = setInterval(sample, 250);
  try {
    const result = await load();
    sample();
    const cpuAfter = meter_.cpu();
    const cpu = Object.fromEntries(meter_.names.map((name) => [name, round(cpuAfter[name]! - cpuBefore[name]!, 2)]));
    return { result, peakRssMb: Object.fromEntries(Object.entries(peak).map(([name, mb]) => [name, round(mb, 1)])), cpu };
  } finally {
    clearInterval(timer);
  }
}

/**
 * After an overloaded run the relays, consumers and timed-out sagas keep
 * working for a while: wait (up to 8 s) until the mesh uses under 10% of a core.
 */
async function settle(meter_: Meter): Promise<void> {
  const total = () => Object.values(meter_.cpu()).reduce((sum, seconds) => sum + seconds, 0);
  const deadline = Date.now() + 8_000;
  for (;;) {
    const before = total();
    await sleep(1000);
    if (total() - before < 0.1 || Date.now() > deadline) return;
  }
}

/** Rounded: the median of two runs is their mean, with a float's tail. */
const summary = (runs: LoadResult[]) => ({
  p50Ms: round(median(runs.map((run) => run.p50Ms)), 1),
  p95Ms: round(median(runs.map((run) => run.p95Ms)), 1),
  p99Ms: round(median(runs.map((run) => run.p99Ms)), 1),
  errorRate: round(median(runs.map((run) => run.errorRate)), 4),
  okPerSecond: round(median(runs.map((run) => run.okPerSecond)), 1),
  runs,
});

/** The fixed rates and the rising series, on a mesh of its own. */
async function measure() {
  let mesh: BenchMesh | undefined;
  let loadGenerator: LoadGenerator | undefined;
  try {
    // BENCH_PROFILE_DIR: every mesh process writes a V8 CPU profile there when it exits.
    const profileDir = process.env.BENCH_PROFILE_DIR;
    const nodeArgs = (name: string) => (profileDir ? ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, name)}`] : []);
    // Deep stock, given before the inventory starts, so no order runs out.
    let products: string[] = [];
    mesh = await startMesh(join(work, "data"), join(work, "logs"), {
      nodeArgs,
      beforeServices: async (databaseUrl) => void (products = await deepenStock(databaseUrl("inventory"), 10_000_000)),
    });
    const meter_ = meter(mesh);
    const started = mesh;
    const address = (target: (typeof TARGETS)[number]) => (target === "http" ? started.gatewayUrl : started.grpc.orders);
    let counter = 0;
    // One set of generator processes for every run: warm, as the mesh is after its own warm-up.
    const generator = (loadGenerator = startLoadGenerator(WORKERS));
    const load = (target: (typeof TARGETS)[number], rate: number) =>
      generator.run({ target, address: address(target), rate, seconds: SECONDS, keyPrefix: `${runId}-${(counter += 1)}`, products, deadlineMs: 6000, tlsDir: started.tlsDir });

    // Warm up both paths (JIT, connections, database caches) before anything counts; if that overloaded
    // a slow machine, the backlog must be gone before the first measured run.
    for (const target of TARGETS) {
      await load(target, 50);
      await settle(meter_);
    }

    const fixed: Record<string, Record<number, LoadResult[]>> = {};
    /** The lowest rate this target could not sustain in the first round, if any. */
    const overloadedAt = (target: string) => RATES.find((rate) => fixed[target]?.[rate]?.[0] && !sustained(fixed[target]![rate]![0]!));
    for (let round_ = 0; round_ < ROUNDS; round_ += 1) {
      for (const rate of RATES) {
        for (const target of round_ % 2 === 0 ? TARGETS : [...TARGETS].reverse()) {
          // An overloaded rate is measured once, and a higher one not at all: repeating
          // an overload only repeats the timeouts (and the minutes of a `make bench`).
          const overloaded = overloadedAt(target);
          if (overloaded !== undefined && rate >= overloaded) continue;
          const result = await load(target, rate);
          ((fixed[target] ??= {})[rate] ??= []).push(result);
          console.error(`e2e ${target} @${rate}/s: ok ${result.okPerSecond}/s errors ${(result.errorRate * 100).toFixed(2)}% p50 ${result.p50Ms} p95 ${result.p95Ms} p99 ${result.p99Ms} ms ${JSON.stringify(result.errors)}`);
          await settle(meter_);
        }
      }
    }

    const steps: Record<string, LoadResult[]> = {};
    const underLoad: Record<
      string,
      { rate: number; peakRssMb: Record<string, number>; cpuSecondsPerSecond: Record<string, number>; cpuMsPerOrder: Record<string, number>; messagesPerOrder: Tally; databaseWaits: Record<WaitClass, number> }
    > = {};
    const counted = () => tally(started.admin, started.cluster.superuserUrl);
    for (const target of TARGETS) {
      for (const rate of STEPS) {
        const before = await counted();
        const waits = await sampleWaits(started.cluster.superuserUrl(), SERVICES);
        const samplerBefore = waits.backendCpuSeconds();
        const cpuAtStart = meter_.cpu();
        const { result, peakRssMb, cpu } = await sampled(meter_, () => load(target, rate));
        // The cluster's CPU is the services' backends': not the sampler's own.
        const samplerCpu = waits.backendCpuSeconds() - samplerBefore;
        cpu.postgres = round(cpu.postgres! - samplerCpu, 2);
        const databaseWaits = await waits.stop();
        (steps[target] ??= []).push(result);
        const held = sustained(result);
        console.error(`e2e step ${target} @${rate}/s: ok ${result.okPerSecond}/s errors ${(result.errorRate * 100).toFixed(2)}% p99 ${result.p99Ms} ms ${held ? "sustained" : "NOT sustained"}`);
        await settle(meter_); // let the relays and consumers catch up before the next step (and before counting)
        // An order's work outlasts the load's window (its events relayed and applied): counted until it settled, as its messages are.
        const cpuAtEnd = meter_.cpu();
        const spent = (name: string) => cpuAtEnd[name]! - cpuAtStart[name]! - (name === "postgres" ? samplerCpu : 0);
        if (!underLoad[target] || held) {
          underLoad[target] = {
            rate,
            peakRssMb,
            cpuSecondsPerSecond: Object.fromEntries(Object.entries(cpu).map(([name, seconds]) => [name, round(seconds / SECONDS, 2)])),
            // The orders answered, and what every process spent from the load's start until its backlog settled.
            cpuMsPerOrder: Object.fromEntries(meter_.names.map((name) => [name, round((spent(name) * 1000) / Math.max(result.ok, 1), 2)])),
            messagesPerOrder: perOrder(before, await counted(), result.ok),
            databaseWaits,
          };
        }
        if (!held) break;
      }
    }

    return {
      meshStartMs: round(mesh.startMs, 0),
      fixed: Object.fromEntries(
        TARGETS.map((target) => [
          target,
          Object.fromEntries(
            RATES.map((rate) => [rate, fixed[target]?.[rate] ? summary(fixed[target][rate]) : { notRun: `${overloadedAt(target)}/s was not sustained` }]),
          ),
        ]),
      ),
      steps,
      sustained: Object.fromEntries(
        TARGETS.map((target) => {
          const ok = (steps[target] ?? []).filter(sustained);
          return [target, ok.length > 0 ? Math.max(...ok.map((step) => step.offeredPerSecond)) : 0];
        }),
      ),
      underLoad,
    };
  } finally {
    await loadGenerator?.stop();
    await mesh?.stop();
  }
}

try {
  const report = {
    seconds: SECONDS,
    rounds: ROUNDS,
    workers: WORKERS,
    sustainedRule: `error rate < ${MAX_ERROR_RATE * 100}% and p99 <= ${MAX_SUSTAINED_P99_MS} ms over ${SECONDS} s at a constant arrival rate`,
    ...(await measure()),
  };
  writeFileSync(process.argv[2] ?? join(work, "e2e.json"), JSON.stringify(report, null, 2));
} catch (error) {
  keep = true;
  console.error(`e2e failed; logs kept in ${work}/logs`);
  throw error;
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}

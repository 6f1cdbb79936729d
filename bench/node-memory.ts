/**
 * Measurement 6, memory per Node: each process's resident memory idle, at its
 * peak under a steady order load (after a warm-up), and idle again after it, for every Node
 * binary named and every set of node flags, with the CPU per order beside it
 * (a smaller young generation trades memory for more frequent scavenges, so
 * both figures belong together). The whole mesh as `make up` runs it, mutual
 * TLS as deployed, each start on a fresh data directory (its own PostgreSQL
 * cluster, new databases); the variants run interleaved, round after round, so
 * a change in the machine's load touches them all alike.
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/node-memory.ts <out.json>
 * Env: BENCH_NODES (other Node binaries to compare with this one, comma-separated,
 *      e.g. /usr/bin/node), BENCH_MEMORY_VARIANTS (flag sets separated by "|",
 *      default: V8's defaults | the services' own flags), BENCH_MEMORY_RATE (100
 *      orders/s), BENCH_MEMORY_SECONDS (10), BENCH_MEMORY_ROUNDS (2)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SERVICE_NODE_FLAGS } from "@bazaar/runtime/process";
import { startLoadGenerator } from "./lib/loadgen.js";
import { idleCollectionCounts, metricsUrlsOf, settleIdle } from "./lib/idle-settle.js";
import { deepenStock, startMesh } from "./lib/mesh.js";
import { pssMb } from "./lib/postgres.js";
import { cpuSeconds, rssMb } from "./lib/process.js";
import { median, round } from "./lib/stats.js";

const RATE = Number(process.env.BENCH_MEMORY_RATE) || 100;
const SECONDS = Number(process.env.BENCH_MEMORY_SECONDS) || 10;
const ROUNDS = Number(process.env.BENCH_MEMORY_ROUNDS) || 2;
const WARM_UP_SECONDS = 5;
const nodes = [process.execPath, ...(process.env.BENCH_NODES?.split(",").filter(Boolean) ?? [])];
const variants = process.env.BENCH_MEMORY_VARIANTS?.split("|").map((flags) => flags.split(" ").filter(Boolean)) ?? [[], [...SERVICE_NODE_FLAGS]];
const version = (node: string) => execFileSync(node, ["--version"], { encoding: "utf8" }).trim();

interface Reading {
  idleMb: Record<string, number>;
  /** Idle, each process's proportional share: the Node binary's pages (~50 MB of each RSS) are shared by all of them. */
  idlePssMb: Record<string, number>;
  peakMb: Record<string, number>;
  afterMb: Record<string, number>;
  cpuMsPerOrder: number;
  okPerSecond: number;
  p99Ms: number;
}

const work = mkdtempSync(join(tmpdir(), "bazaar-bench-node-memory-"));

async function measure(node: string, flags: string[], run: number): Promise<Reading> {
  let products: string[] = [];
  const dataRoot = join(work, `data-${run}`);
  const mesh = await startMesh(dataRoot, join(work, `logs-${run}`), {
    node,
    nodeFlags: flags,
    beforeServices: async (databaseUrl) => void (products = await deepenStock(databaseUrl("inventory"), 10_000_000)),
  });
  const services = [...mesh.processes.values()].filter((started) => started.name !== "nats");
  const memory = () => Object.fromEntries(services.map((started) => [started.name, round(rssMb(started.pid), 1)]));
  const cpu = () => services.reduce((sum, started) => sum + cpuSeconds(started.pid), 0);
  const generator = startLoadGenerator(2);
  const urls = metricsUrlsOf(mesh);
  try {
    await settleIdle(urls);
    const idleMb = memory();
    const idlePssMb = Object.fromEntries(services.map((started) => [started.name, round(pssMb([started.pid]), 1)]));
    const peakMb: Record<string, number> = { ...idleMb };
    const timer = setInterval(() => {
      for (const [name, mb] of Object.entries(memory())) peakMb[name] = Math.max(peakMb[name]!, mb);
    }, 250);
    const load = (seconds: number, name: string) =>
      generator.run({
        target: "http",
        address: mesh.gatewayUrl,
        rate: RATE,
        seconds,
        keyPrefix: `memory-${Date.now().toString(36)}-${run}-${name}`,
        products,
        deadlineMs: 6000,
        tlsDir: mesh.tlsDir,
      });
    // A warm-up (JIT, connections, TLS sessions, database caches) counts for the peak but not for the CPU per order.
    await load(WARM_UP_SECONDS, "warm-up");
    const cpuBefore = cpu();
    const measured = await load(SECONDS, "measured");
    clearInterval(timer);
    const cpuMsPerOrder = ((cpu() - cpuBefore) * 1000) / Math.max(1, measured.ok);
    await settleIdle(urls, await idleCollectionCounts(urls));
    return { idleMb, idlePssMb, peakMb, afterMb: memory(), cpuMsPerOrder: round(cpuMsPerOrder, 2), okPerSecond: measured.okPerSecond, p99Ms: measured.p99Ms };
  } finally {
    await generator.stop();
    await mesh.stop();
    rmSync(dataRoot, { recursive: true, force: true }); // a cluster per start: keep the disk from filling over the rounds
  }
}

const medianOf = (readings: Reading[], pick: (reading: Reading) => Record<string, number>) =>
  Object.fromEntries(Object.keys(pick(readings[0]!)).map((name) => [name, round(median(readings.map((reading) => pick(reading)[name]!)), 1)]));

try {
  const readings = new Map<string, Reading[]>();
  let run = 0;
  for (let round_ = 0; round_ < ROUNDS; round_ += 1) {
    for (const node of nodes) {
      for (const flags of variants) {
        const key = JSON.stringify([node, flags]);
        const reading = await measure(node, flags, (run += 1));
        readings.set(key, [...(readings.get(key) ?? []), reading]);
        console.error(`node-memory ${version(node)} [${flags.join(" ") || "V8 defaults"}] round ${round_ + 1}: idle ${JSON.stringify(reading.idleMb)}, peak ${JSON.stringify(reading.peakMb)}, ${reading.cpuMsPerOrder} ms CPU/order`);
      }
    }
  }
  const report = {
    rate: RATE,
    seconds: SECONDS,
    rounds: ROUNDS,
    variants: [...readings].map(([key, runs]) => {
      const [node, flags] = JSON.parse(key) as [string, string[]];
      return {
        node: version(node),
        flags,
        idleMb: medianOf(runs, (reading) => reading.idleMb),
        idlePssMb: medianOf(runs, (reading) => reading.idlePssMb),
        peakMb: medianOf(runs, (reading) => reading.peakMb),
        afterMb: medianOf(runs, (reading) => reading.afterMb),
        cpuMsPerOrder: round(median(runs.map((reading) => reading.cpuMsPerOrder)), 2),
        okPerSecond: round(median(runs.map((reading) => reading.okPerSecond)), 1),
        p99Ms: round(median(runs.map((reading) => reading.p99Ms)), 1),
      };
    }),
  };
  writeFileSync(process.argv[2] ?? join(work, "node-memory.json"), JSON.stringify(report, null, 2));
} finally {
  rmSync(work, { recursive: true, force: true });
}

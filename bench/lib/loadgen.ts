/**
 * The open-loop load generator: `workers` processes (bench/loadgen-worker.ts)
 * share one rate and one start time, interleaved by phase, so one process's
 * event loop is never the limit. Results are merged into one latency set.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { WorkerPlan, WorkerResult } from "../loadgen-worker.js";
import { ROOT, TSX_ARGS } from "./process.js";
import { quantile, round } from "./stats.js";

/** A worker process: resolves `ready` once it has loaded, `result` when it is done. */
function startWorker(plan: WorkerPlan): { ready: Promise<void>; go(startAt: number): void; result: Promise<WorkerResult> } {
  const child = spawn(process.execPath, [...TSX_ARGS, join(ROOT, "bench", "loadgen-worker.ts"), JSON.stringify(plan)], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  let markReady = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    if (output.startsWith("ready\n")) markReady();
  });
  const result = new Promise<WorkerResult>((resolve, reject) =>
    child.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(output.trim().split("\n").pop()!) as WorkerResult) : reject(new Error(`load worker exited ${code}`)),
    ),
  );
  return { ready, go: (startAt) => child.stdin.end(`${startAt}\n`), result };
}

export interface LoadResult {
  offeredPerSecond: number;
  seconds: number;
  sent: number;
  ok: number;
  errorRate: number;
  errors: Record<string, number>;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Orders answered successfully per second of the run. */
  okPerSecond: number;
  generatorLagP99Ms: number;
  /** The generator's own CPU per order answered (ms), from the first send to the last answer, its start-up left out. */
  generatorCpuMsPerOrder: number;
}

export interface LoadOptions {
  target: "grpc" | "http";
  address: string;
  rate: number;
  seconds: number;
  workers: number;
  keyPrefix: string;
  products: string[];
  deadlineMs?: number;
  /** The mesh's certificates: the gRPC target is called with the gateway's, as the gateway calls orders. */
  tlsDir: string;
}

export async function constantRate(options: LoadOptions): Promise<LoadResult> {
  const plans: WorkerPlan[] = Array.from({ length: options.workers }, (_, index) => ({
    target: options.target,
    address: options.address,
    rate: options.rate / options.workers,
    seconds: options.seconds,
    phase: index / options.workers,
    keyPrefix: `${options.keyPrefix}-w${index}`,
    deadlineMs: options.deadlineMs ?? 10_000,
    products: options.products,
    tlsDir: options.tlsDir,
  }));
  const workers = plans.map(startWorker);
  await Promise.all(workers.map((worker) => worker.ready));
  // Everyone loaded: start together, shortly, so the first sends are not late.
  const startAt = Date.now() + 200;
  for (const worker of workers) worker.go(startAt);
  const results = await Promise.all(workers.map((worker) => worker.result));
  const latencies = results.flatMap((result) => result.latenciesMs);
  const errors: Record<string, number> = {};
  for (const result of results) for (const [reason, count] of Object.entries(result.errors)) errors[reason] = (errors[reason] ?? 0) + count;
  const sent = results.reduce((sum, result) => sum + result.sent, 0);
  const failed = Object.values(errors).reduce((sum, count) => sum + count, 0);
  return {
    offeredPerSecond: options.rate,
    seconds: options.seconds,
    sent,
    ok: latencies.length,
    errorRate: round(failed / Math.max(1, sent), 4),
    errors,
    p50Ms: round(quantile(latencies, 0.5), 1),
    p95Ms: round(quantile(latencies, 0.95), 1),
    p99Ms: round(quantile(latencies, 0.99), 1),
    okPerSecond: round(latencies.length / options.seconds, 1),
    generatorLagP99Ms: Math.max(...results.map((result) => result.sendLagP99Ms)),
    generatorCpuMsPerOrder: round((results.reduce((sum, result) => sum + result.cpuSeconds, 0) * 1000) / Math.max(1, latencies.length), 3),
  };
}

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

/** A worker process, serving one run after another: each a plan line, "ready", a start time, a result line. */
function startWorker(): { prepare(plan: WorkerPlan): Promise<void>; go(startAt: number): Promise<WorkerResult>; stop(): Promise<void> } {
  const child = spawn(process.execPath, [...TSX_ARGS, join(ROOT, "bench", "loadgen-worker.ts")], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  let buffered = "";
  const waiting: Array<{ resolve(line: string): void; reject(error: Error): void }> = [];
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let end = buffered.indexOf("\n"); end >= 0; end = buffered.indexOf("\n")) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      waiting.shift()?.resolve(line);
    }
  });
  void exited.then((code) => waiting.splice(0).forEach((wait) => wait.reject(new Error(`load worker exited ${code}`))));
  const ask = (line: string) =>
    new Promise<string>((resolve, reject) => {
      waiting.push({ resolve, reject });
      child.stdin.write(`${line}\n`);
    });
  return {
    prepare: async (plan) => {
      const answer = await ask(JSON.stringify(plan));
      if (answer !== "ready") throw new Error(`load worker answered ${answer}`);
    },
    go: async (startAt) => JSON.parse(await ask(String(startAt))) as WorkerResult,
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
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

/** `workers` processes that run one load after another (warm: their code compiled by the earlier runs). */
export interface LoadGenerator {
  run(options: Omit<LoadOptions, "workers">): Promise<LoadResult>;
  stop(): Promise<void>;
}

export function startLoadGenerator(workerCount: number): LoadGenerator {
  const workers = Array.from({ length: workerCount }, startWorker);
  return {
    run: async (options) => {
      const plans: WorkerPlan[] = workers.map((_, index) => ({
        target: options.target,
        address: options.address,
        rate: options.rate / workers.length,
        seconds: options.seconds,
        phase: index / workers.length,
        keyPrefix: `${options.keyPrefix}-w${index}`,
        deadlineMs: options.deadlineMs ?? 10_000,
        products: options.products,
        tlsDir: options.tlsDir,
      }));
      await Promise.all(workers.map((worker, index) => worker.prepare(plans[index]!)));
      // Everyone connected: start together, shortly, so the first sends are not late.
      const startAt = Date.now() + 200;
      return merge(options, await Promise.all(workers.map((worker) => worker.go(startAt))));
    },
    stop: async () => void (await Promise.all(workers.map((worker) => worker.stop()))),
  };
}

/** One load on workers of its own, stopped after it. */
export async function constantRate(options: LoadOptions): Promise<LoadResult> {
  const generator = startLoadGenerator(options.workers);
  try {
    return await generator.run(options);
  } finally {
    await generator.stop();
  }
}

/** The workers' results as one: their latencies merged, their errors and CPU summed. */
function merge(options: Omit<LoadOptions, "workers">, results: WorkerResult[]): LoadResult {
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

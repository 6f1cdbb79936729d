/**
 * h2load (nghttp2-client) as an independent HTTP/2 load generator for gRPC
 * unary calls: one prepared request body (the 5-byte gRPC frame header plus the
 * serialized request), the gRPC headers, a fixed number of calls in flight, for
 * a fixed duration. Latency percentiles come from its per-request log. And
 * nodeH2load, the same in Node, for servers that require a client certificate.
 */
import { execFile, spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { ROOT } from "./process.js";
import { quantile } from "./stats.js";

const run = promisify(execFile);

/** One load the Node worker (bench/h2load-node-worker.ts) runs, sent as a JSON line on its stdin. */
export interface NodeLoadPlan {
  url: string;
  bodyFile: string;
  inFlight: number;
  seconds: number;
  warmUpSeconds: number;
  /** PEM files: the CA that signed the server, and this client's certificate and key. Unset: plaintext (h2c). */
  tls?: { ca: string; cert: string; key: string };
  /** The server's pid: its CPU use over the measured window is reported, to show which side was the limit. */
  serverPid: number;
}


/** A gRPC message as it travels: uncompressed flag 0, 4-byte big-endian length, bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

export function writeBody(path: string, message: Uint8Array): void {
  writeFileSync(path, grpcFrame(message));
}

export interface H2loadOptions {
  url: string;
  bodyFile: string;
  inFlight: number;
  seconds: number;
  warmUpSeconds: number;
  /** Pin h2load to this core (the server gets the other one). */
  core: number;
  logFile: string;
}

export interface H2loadResult {
  requestsPerSecond: number;
  succeeded: number;
  failed: number;
  p50Us: number;
  p99Us: number;
  /** The Node generator over TLS: the protocol and cipher negotiated, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384". */
  tls?: string;
  /** CPU-seconds per second the server used while loaded (1 = its whole core): below 1, the generator or the machine was the limit. */
  serverCpu?: number;
  /** The same for the Node generator (h2load's is not measured). */
  generatorCpu?: number;
}

export async function h2load(options: H2loadOptions): Promise<H2loadResult> {
  rmSync(options.logFile, { force: true });
  const args = [
    "-c", String(options.core),
    "h2load",
    "-c", "1",
    "-m", String(options.inFlight),
    "-D", String(options.seconds),
    `--warm-up-time=${options.warmUpSeconds}`,
    "-H", "content-type: application/grpc",
    "-H", "te: trailers",
    "-d", options.bodyFile,
    `--log-file=${options.logFile}`,
    options.url,
  ];
  const { stdout } = await run("taskset", args, { maxBuffer: 16 * 1024 * 1024 });
  const rate = /finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(stdout);
  const counts = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(stdout);
  if (!rate || !counts) throw new Error(`unexpected h2load output:\n${stdout}`);
  // Each line: start time (µs since the epoch), HTTP status, µs until the response ended.
  const lines = readFileSync(options.logFile, "utf8").trim().split("\n");
  const latencies = lines.map((line) => Number(line.split("\t")[2])).filter((value) => Number.isFinite(value));
  rmSync(options.logFile, { force: true });
  return {
    requestsPerSecond: Number(rate[1]),
    succeeded: Number(counts[1]),
    failed: Number(counts[2]),
    p50Us: quantile(latencies, 0.5),
    p99Us: quantile(latencies, 0.99),
  };
}

/** The Node stand-in for h2load: one load at a time, on a new connection each. */
export interface NodeH2load {
  load(options: Omit<H2loadOptions, "logFile" | "core"> & Pick<NodeLoadPlan, "tls" | "serverPid">): Promise<H2loadResult>;
  stop(): Promise<void>;
}

/**
 * bench/h2load-node-worker.ts pinned to `core` like h2load, for servers that
 * require a client certificate (`tls`: its PEM files and the CA). One process
 * for every load, so Node's start-up is paid once. A Node generator is slower
 * than h2load: compare its figures with each other, never with h2load's.
 */
export function startNodeH2load(core: number): NodeH2load {
  const worker = join(ROOT, "bench", "h2load-node-worker.ts");
  const child = spawn("taskset", ["-c", String(core), process.execPath, "--import", "tsx", worker], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    async load(options) {
      const plan: NodeLoadPlan = {
        url: options.url,
        bodyFile: options.bodyFile,
        inFlight: options.inFlight,
        seconds: options.seconds,
        warmUpSeconds: options.warmUpSeconds,
        tls: options.tls,
        serverPid: options.serverPid,
      };
      child.stdin.write(`${JSON.stringify(plan)}\n`);
      const answer = await answers.next();
      if (answer.done) throw new Error(`the Node load generator exited (${child.exitCode ?? child.signalCode})`);
      return JSON.parse(answer.value) as H2loadResult;
    },
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}

/**
 * h2load (nghttp2-client) as an independent HTTP/2 load generator for gRPC
 * unary calls: one prepared request body (the 5-byte gRPC frame header plus the
 * serialized request), the gRPC headers, a fixed number of calls in flight, for
 * a fixed duration. Latency percentiles come from its per-request log.
 */
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { quantile } from "./stats.js";

const run = promisify(execFile);

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

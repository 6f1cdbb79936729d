/**
 * Child processes for the benchmarks: free ports, pinning to a core, waiting
 * until something answers, resident memory, and stopping what we started (by
 * pid, never by name), on Ctrl-C too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** How the bench runs its own TypeScript, as the Makefile's TSX does. */
export const TSX_ARGS = ["--conditions=bazaar-source", "--import", "tsx"];

export { freePort } from "@bazaar/runtime/free-port";

export interface Started {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Where its stdout and stderr go. */
  log: string;
}

/** Everything this process started, killed if the bench is interrupted (Ctrl-C) so nothing is left running. */
const children = new Set<ChildProcess>();
/** What no child handle reaches (a server that detached itself, as pg_ctl's does): stopped on Ctrl-C too. */
const cleanups = new Set<() => void>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const child of children) child.kill("SIGKILL");
    for (const cleanup of cleanups) {
      try {
        cleanup();
      } catch {
        // the others must still run
      }
    }
    process.exit(130);
  });
}

/** Run `cleanup` (synchronous: the process exits right after) if the bench is interrupted; returns its removal. */
export function onInterrupt(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/**
 * Start `command` with output appended to `log`; `core` pins it with taskset
 * (the pid is then taskset's, which execs the command, so it is the same process).
 * With `through` "pipe", its stdout and stderr go to a reader, a `cat` that
 * copies them to `log`, as a deployed service's stdout goes to its container
 * runtime: a write then never waits on the file system's journal, which held a
 * server's calls behind its log writes in the hop (bench/analysis.md). Node's
 * pipes are socket pairs.
 */
export function startProcess(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, log: string, core?: number, through: "file" | "pipe" = "file"): Started {
  const fd = openSync(log, "a");
  const [file, argv] = core === undefined ? [command, args] : ["taskset", ["-c", String(core), command, ...args]];
  const output = through === "pipe" ? "pipe" : fd;
  const child = spawn(file, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", output, output] });
  if (through === "pipe") {
    // One reader per stream; each ends when the child closes its end.
    for (const stream of [child.stdout, child.stderr]) {
      track(spawn("cat", [], { stdio: [stream, fd, fd] }));
      stream?.destroy(); // the cat has its own copy of the pipe's end; this process never reads it
    }
  }
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  track(child);
  return { name, child, pid: child.pid, log };
}

function track(child: ChildProcess): void {
  child.on("error", () => {});
  children.add(child);
  child.once("exit", () => children.delete(child));
}

/** Resolves when `ready()` is true; throws if the process exits first or `timeoutMs` passes. */
export async function waitFor(started: Started, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (started.child.exitCode !== null || started.child.signalCode !== null) {
      throw new Error(`${started.name} exited before it was ready; last lines of ${started.log}:\n${tail(started.log, 15)}`);
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${started.name} not ready after ${timeoutMs} ms; last lines:\n${tail(started.log, 15)}`);
    await sleep(50);
  }
}

export function tail(file: string, lines: number): string {
  return existsSync(file) ? readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "(no log)";
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(started: Started, graceMs = 10_000): Promise<void> {
  const { child } = started;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Resident set size in MB from /proc/<pid>/status (VmRSS), or NaN if unreadable. */
export function rssMb(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds (user + system) the process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    // After "pid (comm) ": state is field 0, utime 11, stime 12 (in clock ticks, 100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds every thread of the process has run, from the scheduler's
 * nanosecond counters (/proc/<pid>/task/<tid>/schedstat): for short spans,
 * where cpuSeconds' 10 ms ticks are too coarse. NaN if the process is gone.
 * A thread that ended takes its time with it: compare spans of a process
 * whose threads live throughout (Node's do).
 */
export function preciseCpuSeconds(pid: number): number {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return Number.NaN;
  }
  let nanoseconds = 0;
  for (const thread of threads) {
    try {
      nanoseconds += Number(readFileSync(`/proc/${pid}/task/${thread}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // ended since the listing
    }
  }
  return nanoseconds / 1e9;
}

/** True when http://url answers 200. */
export async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
  await response.arrayBuffer();
  return response.status === 200;
}

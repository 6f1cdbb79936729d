/**
 * The benchmarks' PostgreSQL: a cluster started as `make up` starts its own
 * (lib/src/db/postgres-cluster.ts: the binaries npm ships, password logins,
 * the server's default settings, fsync included) but in a directory of ours
 * and on a free port; and readings of its processes (the postmaster and every
 * process it forked), so a measurement can count the cluster's memory and CPU
 * beside the services'.
 */
import { readdirSync, readFileSync } from "node:fs";
import { type RunningCluster, startCluster, stopCluster } from "@bazaar/runtime/db/postgres-cluster";
import { freePort, onInterrupt } from "./process.js";

export interface BenchCluster {
  /** The postmaster's process id. */
  pid: number;
  superuserUrl: RunningCluster["superuserUrl"];
  url: RunningCluster["url"];
  /** The postmaster and its children (backends, checkpointer, walwriter, ...) as they are now. */
  pids(): number[];
  /** CPU seconds the whole cluster has used so far, exited backends included. */
  cpuSeconds(): number;
  /** Its processes' memory together (PSS: they share their buffers). */
  pssMb(): number;
  stop(): void;
}

/** Start (initdb first when `dataDir` holds no cluster) a cluster as `make up` does; resolves once it accepts connections. */
export async function startBenchCluster(dataDir: string, logFile: string): Promise<BenchCluster> {
  const cluster = await startCluster({ dataDir, port: await freePort(), logFile, auth: "password" });
  // pg_ctl detaches the server from us: a Ctrl-C would otherwise leave it running.
  const forget = onInterrupt(() => stopCluster(dataDir));
  return {
    pid: cluster.pid,
    superuserUrl: cluster.superuserUrl,
    url: cluster.url,
    pids: () => clusterPids(cluster.pid),
    cpuSeconds: () => clusterCpuSeconds(cluster.pid),
    pssMb: () => pssMb(clusterPids(cluster.pid)),
    stop() {
      stopCluster(dataDir);
      forget();
    },
  };
}

/** The postmaster and every live process whose parent it is (/proc/<pid>/stat names the parent). */
export function clusterPids(postmaster: number): number[] {
  const children = readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => Number(statFields(pid)[1]) === postmaster);
  return [postmaster, ...children];
}

/**
 * CPU seconds of the cluster: its live processes' own time plus the time of
 * backends that have exited (a pool closes idle connections), which the
 * postmaster collected as its children's time. NaN once the postmaster is gone.
 */
export function clusterCpuSeconds(postmaster: number): number {
  const [, ...children] = clusterPids(postmaster);
  const fields = statFields(postmaster);
  if (fields.length === 0) return Number.NaN;
  // After "pid (comm) ": utime 11, stime 12, cutime 13, cstime 14 (clock ticks, 100 per second on Linux).
  const own = (values: string[]) => (values.length === 0 ? 0 : (Number(values[11]) + Number(values[12])) / 100);
  const exited = (Number(fields[13]) + Number(fields[14])) / 100;
  return own(fields) + exited + children.reduce((sum, pid) => sum + own(statFields(pid)), 0);
}

/** The fields of /proc/<pid>/stat after "pid (comm) " (state 0, ppid 1, ...), or none once it has exited. */
function statFields(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ").at(-1)!.split(" ");
  } catch {
    return []; // exited since it was listed: its time is now the postmaster's children's
  }
}

/**
 * Proportional set size in MB of a group of processes (/proc/<pid>/smaps_rollup):
 * PostgreSQL's processes share their buffers, so adding their RSS would count
 * the shared memory once per process; PSS splits it among them.
 */
export function pssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      kb += match ? Number(match[1]) : 0;
    } catch {
      // gone between listing and reading: a backend that just exited
    }
  }
  return kb / 1024;
}

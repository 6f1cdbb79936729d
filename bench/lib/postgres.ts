/**
 * A real PostgreSQL server for the benchmarks' PostgreSQL variants: the test
 * support's throwaway cluster (lib/test/support/postgres.ts: Debian's
 * postgresql binaries, initdb in a temp dir, trust auth on 127.0.0.1, a free
 * port, fsync=off), with one database per service as deploy/postgres/init.sql
 * makes them for compose. Its processes are found by port, so the footprint
 * and the load figures can include the server's own memory and CPU.
 */
import { readdirSync, readFileSync } from "node:fs";
import { startTestPostgres, type TestPostgres } from "../../lib/test/support/postgres.js";

export type Backend = "pglite" | "postgres";
export const BACKENDS: readonly Backend[] = ["pglite", "postgres"];

/** BENCH_BACKENDS="postgres" (or "pglite") runs one backend alone, e.g. for a profile. */
export function chosenBackends(): Backend[] {
  const wanted = process.env.BENCH_BACKENDS?.split(",").map((name) => name.trim());
  return wanted ? BACKENDS.filter((backend) => wanted.includes(backend)) : [...BACKENDS];
}

export interface BenchPostgres {
  server: TestPostgres;
  /** DATABASE_URL for `database` on this server. */
  url(database: string): string;
  /** Drop (if there) and create each database: a first-ever start. */
  freshDatabases(names: readonly string[]): Promise<void>;
  /** The server's processes (postmaster and its backends), for memory. */
  pids(): number[];
  /**
   * CPU seconds the whole server has used so far: its live processes' own time
   * plus the time of backends that have exited (a pool closes idle connections),
   * which the postmaster collected as its children's time.
   */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

export async function startBenchPostgres(): Promise<BenchPostgres> {
  const server = await startTestPostgres();
  const port = new URL(server.url()).port;
  const pids = () => serverPids(port);
  return {
    server,
    url: (database) => server.url(database),
    async freshDatabases(names) {
      const { default: pg } = await import("pg");
      const client = new pg.Client(server.url());
      await client.connect();
      try {
        for (const name of names) {
          await client.query(`drop database if exists ${name} with (force)`);
          await client.query(`create database ${name}`);
        }
      } finally {
        await client.end();
      }
    },
    pids,
    cpuSeconds() {
      const [postmaster, ...backends] = pids();
      if (postmaster === undefined) return Number.NaN;
      const fields = statFields(postmaster);
      // After "pid (comm) ": utime 11, stime 12, cutime 13, cstime 14 (clock ticks, 100 per second on Linux).
      const own = (values: string[]) => (Number(values[11]) + Number(values[12])) / 100;
      const exited = (Number(fields[13]) + Number(fields[14])) / 100;
      return own(fields) + exited + backends.reduce((sum, pid) => sum + own(statFields(pid)), 0);
    },
    stop: () => server.stop(),
  };
}

/** The postmaster listening on `port` (its command line says `-p <port>`) and every process it forked. */
function serverPids(port: string): number[] {
  const all = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry));
  const read = (pid: string, file: string) => {
    try {
      return readFileSync(`/proc/${pid}/${file}`, "utf8");
    } catch {
      return "";
    }
  };
  const postmaster = all.find((pid) => {
    const argv = read(pid, "cmdline").split("\0");
    return argv[0]?.endsWith("/postgres") && argv[argv.indexOf("-p") + 1] === port;
  });
  if (!postmaster) return [];
  const children = all.filter((pid) => read(pid, "stat").split(") ")[1]?.split(" ")[1] === postmaster);
  return [postmaster, ...children].map(Number);
}

function statFields(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
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

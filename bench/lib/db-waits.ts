import pg from "pg";
import { cpuSeconds } from "./process.js";

/**
 * What the services' PostgreSQL backends are doing while a load runs, sampled
 * from pg_stat_activity: on CPU, waiting for a WAL flush (a durable commit),
 * for a row lock, or for their client's next message. Reported as the average
 * number of backends in each state, so "WAL flush 1.2" means that at any moment
 * about one backend and a fifth were waiting for a commit to reach the disk.
 * One look every SAMPLE_MS. The sampler's own backend is not a service's:
 * backendCpuSeconds() lets a measurement take its CPU out of the cluster's.
 */
const SAMPLE_MS = 50;

export type WaitClass = "on CPU" | "WAL flush" | "row locks" | "client" | "other";

const classOf = (type: string | null, event: string | null): WaitClass => {
  if (type === null) return "on CPU";
  if ((type === "LWLock" && (event === "WALWrite" || event === "WALInsert")) || (type === "IO" && event?.startsWith("Wal"))) return "WAL flush";
  if (type === "Lock") return "row locks";
  if (type === "Client") return "client";
  return "other";
};

/** Start sampling the non-idle client backends of `databases`; stop() gives the averages. */
export async function sampleWaits(
  superuserUrl: string,
  databases: readonly string[],
): Promise<{ backendCpuSeconds(): number; stop(): Promise<Record<WaitClass, number>> }> {
  const client = new pg.Client(superuserUrl);
  await client.connect();
  const [{ pid }] = (await client.query<{ pid: number }>("select pg_backend_pid() as pid")).rows as [{ pid: number }];
  const totals: Record<WaitClass, number> = { "on CPU": 0, "WAL flush": 0, "row locks": 0, client: 0, other: 0 };
  let looks = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ wait_event_type: string | null; wait_event: string | null }>(
        "select wait_event_type, wait_event from pg_stat_activity where backend_type = 'client backend' and state <> 'idle' and datname = any($1) and pid <> pg_backend_pid()",
        [databases],
      );
      looks += 1;
      for (const row of rows) totals[classOf(row.wait_event_type, row.wait_event)] += 1;
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
  })();
  return {
    backendCpuSeconds: () => cpuSeconds(pid),
    async stop() {
      running = false;
      await loop;
      await client.end();
      return Object.fromEntries(Object.entries(totals).map(([name, count]) => [name, Math.round((count / Math.max(looks, 1)) * 100) / 100])) as Record<WaitClass, number>;
    },
  };
}

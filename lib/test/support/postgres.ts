import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type RunningCluster, startCluster, stopCluster } from "../../src/db/postgres-cluster.js";
import { freePort } from "./process.js";

/**
 * A throwaway PostgreSQL cluster from the binaries npm ships (the same ones
 * `make up` runs): a temporary directory, a free port of 127.0.0.1, no passwords,
 * and nothing written to disk that a crash would need (fsync, full page writes and
 * synchronous commit off: it is deleted at the end). test/global-setup.ts starts
 * one for the whole run; a test that stops or breaks its server starts its own.
 */
export interface TestPostgres {
  url(database?: string): string;
  createDatabase(name: string): Promise<void>;
  /** The postmaster's process id and the cluster's directory, for tests that break it. */
  readonly pid: number;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export const THROWAWAY_SETTINGS = { fsync: "off", full_page_writes: "off", synchronous_commit: "off" };

export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "bazaar-pg-"));
  const dataDir = join(dir, "data");
  let cluster: RunningCluster;
  try {
    cluster = await startCluster({ dataDir, port: await freePort(), logFile: join(dir, "postgres.log"), auth: "trust", settings: THROWAWAY_SETTINGS });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = (database = "postgres") => cluster.superuserUrl(database);
  return {
    url,
    pid: cluster.pid,
    dataDir,
    async createDatabase(name) {
      const client = new pg.Client(url());
      await client.connect();
      try {
        await client.query(`create database ${name}`);
      } finally {
        await client.end();
      }
    },
    async stop() {
      stopCluster(dataDir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./process.js";

/**
 * A throwaway PostgreSQL server for tests that need the real thing: its own
 * data directory in /tmp, trust auth on 127.0.0.1, stopped and deleted by
 * stop(). Needs PostgreSQL's server binaries (Debian: apt-get install postgresql).
 */
export interface TestPostgres {
  url(database?: string): string;
  createDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

function findBinDir(): string {
  const onPath = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" }).stdout.trim();
  if (onPath) return join(onPath, "..");
  const debian = "/usr/lib/postgresql";
  const versions = existsSync(debian) ? readdirSync(debian).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((v) => join(debian, v, "bin")).find((dir) => existsSync(join(dir, "initdb")));
  if (!found) throw new Error("PostgreSQL server binaries not found: apt-get install -y postgresql (or brew install postgresql)");
  return found;
}

/** PostgreSQL refuses to run as root; as root, run it as the `postgres` user. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = findBinDir();
  const dir = mkdtempSync(join(tmpdir(), "bazaar-pg-"));
  if (process.getuid?.() === 0) {
    const ids = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim();
    const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim();
    chownSync(dir, Number(ids), Number(gid));
  }
  const initdb = spawnSync(...asServerUser(join(bin, "initdb"), ["-D", join(dir, "data"), "-U", "bazaar", "-A", "trust", "-E", "UTF8"]), {
    encoding: "utf8",
  });
  if (initdb.status !== 0) throw new Error(`initdb failed: ${initdb.stderr}`);

  const port = await freePort();
  const server: ChildProcess = spawn(
    ...asServerUser(join(bin, "postgres"), ["-D", join(dir, "data"), "-h", "127.0.0.1", "-p", String(port), "-k", dir, "-c", "fsync=off"]),
    { stdio: "ignore" },
  );
  const url = (database = "postgres") => `postgres://bazaar@127.0.0.1:${port}/${database}`;
  await waitForServer(url(), server);

  return {
    url,
    async createDatabase(name) {
      const client = new pg.Client(url());
      await client.connect();
      await client.query(`create database ${name}`);
      await client.end();
    },
    async stop() {
      const exited = new Promise((resolve) => server.once("exit", resolve));
      // Signal the postmaster itself (runuser does not pass signals on): fast shutdown.
      spawnSync(...asServerUser(join(bin, "pg_ctl"), ["-D", join(dir, "data"), "-m", "fast", "-w", "stop"]));
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForServer(url: string, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`postgres exited with ${server.exitCode}`);
    const client = new pg.Client(url);
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

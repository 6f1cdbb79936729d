/**
 * Measurement 4, footprint: how long the whole mesh takes from nothing running
 * to every component ready, started as `make up` starts it (lib/mesh.ts:
 * nats-server, then the five services together, then the gateway), first with
 * empty data directories (a first-ever up) and then several times on the
 * existing ones (a cold restart); and each process's resident memory (VmRSS)
 * once idle. Both backends: embedded PGlite (as `make up`), and every service on
 * its own database of one real PostgreSQL server (as compose runs it), which is
 * started before the clock (in a deployment it is already up) and whose memory
 * is given as the "postgres" column (all its processes' PSS: they share buffers).
 *
 * With BENCH_MAKE_UP=1 it also times the real `make up` on the default ports,
 * reading RSS from .run/<name>.pid, then `make down` — only if nothing of a
 * local mesh is running, since tests use those ports too.
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/footprint.ts <out.json>
 * Env: BENCH_FOOTPRINT_RESTARTS (2), BENCH_MAKE_UP, BENCH_BACKENDS ("pglite,postgres")
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { GATEWAY_HTTP_PORT, NATS_PORT, PORTS } from "@bazaar/runtime/ports";
import { type BenchMesh, SERVICES, startMesh } from "./lib/mesh.js";
import { type Backend, type BenchPostgres, chosenBackends, pssMb, startBenchPostgres } from "./lib/postgres.js";
import { ROOT, rssMb } from "./lib/process.js";
import { median, round } from "./lib/stats.js";

const RESTARTS = Number(process.env.BENCH_FOOTPRINT_RESTARTS) || 2;
const IDLE_SETTLE_MS = 3000;

const work = mkdtempSync(join(tmpdir(), "bazaar-bench-footprint-"));
const idleRss = (mesh: BenchMesh, postgres: BenchPostgres | undefined) => ({
  ...Object.fromEntries([...mesh.processes.values()].map((started) => [started.name, round(rssMb(started.pid), 1)])),
  ...(postgres ? { postgres: round(pssMb(postgres.pids()), 1) } : {}),
});

async function oneStart(backend: Backend, postgres: BenchPostgres | undefined): Promise<{ startMs: number; rss: Record<string, number> }> {
  const pg = postgres;
  const mesh = await startMesh(join(work, backend, "data"), join(work, backend, "logs"), pg ? { databaseUrl: (name) => pg.url(name) } : {});
  try {
    await sleep(IDLE_SETTLE_MS);
    return { startMs: round(mesh.startMs, 0), rss: idleRss(mesh, postgres) };
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
  const ports = [NATS_PORT, GATEWAY_HTTP_PORT, ...Object.values(PORTS).flatMap((port) => [port.grpc, port.admin])];
  const runDir = join(ROOT, ".run");
  const pidFiles = existsSync(runDir) ? readdirSync(runDir).filter((file) => file.endsWith(".pid")) : [];
  const busy = (await Promise.all(ports.map(listening))).some(Boolean);
  if (busy || pidFiles.length > 0) return { skipped: "a local mesh or a test is using the default ports" };
  const existingData = existsSync(join(ROOT, ".data"));
  const began = performance.now();
  execFileSync("make", ["-s", "up"], { cwd: ROOT, stdio: "ignore" });
  const upMs = round(performance.now() - began, 0);
  try {
    await sleep(IDLE_SETTLE_MS);
    const rss = Object.fromEntries(
      readdirSync(runDir)
        .filter((file) => file.endsWith(".pid"))
        .map((file) => [file.slice(0, -4), round(rssMb(Number(readFileSync(join(runDir, file), "utf8").trim())), 1)]),
    );
    return { upMs, existingData, idleRssMb: rss };
  } finally {
    execFileSync("make", ["-s", "down"], { cwd: ROOT, stdio: "ignore" });
  }
}

/** A first-ever start (empty data directories, or new databases), then RESTARTS on the existing data. */
async function measure(backend: Backend) {
  const postgres = backend === "postgres" ? await startBenchPostgres() : undefined;
  try {
    await postgres?.freshDatabases(SERVICES);
    const first = await oneStart(backend, postgres);
    console.error(`footprint ${backend} first-ever start: ${first.startMs} ms`);
    const restarts: { startMs: number; rss: Record<string, number> }[] = [];
    for (let index = 0; index < RESTARTS; index += 1) {
      restarts.push(await oneStart(backend, postgres));
      console.error(`footprint ${backend} restart ${index + 1}/${RESTARTS}: ${restarts.at(-1)!.startMs} ms`);
    }
    const names = Object.keys(restarts[0]!.rss);
    return {
      firstStartMs: first.startMs,
      restartMs: median(restarts.map((restart) => restart.startMs)),
      restartRuns: restarts.map((restart) => restart.startMs),
      idleRssMb: Object.fromEntries(names.map((name) => [name, round(median(restarts.map((restart) => restart.rss[name]!)), 1)])),
    };
  } finally {
    await postgres?.stop();
  }
}

try {
  const backends: Record<string, Awaited<ReturnType<typeof measure>>> = {};
  for (const backend of chosenBackends()) backends[backend] = await measure(backend);
  const report = {
    backends,
    makeUp: process.env.BENCH_MAKE_UP === "1" ? await realMakeUp() : { skipped: "set BENCH_MAKE_UP=1 to time the real make up on the default ports" },
  };
  writeFileSync(process.argv[2] ?? join(work, "footprint.json"), JSON.stringify(report, null, 2));
} finally {
  rmSync(work, { recursive: true, force: true });
}

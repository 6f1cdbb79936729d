/**
 * The local mesh runner end to end: `scripts/mesh.ts up`, a second `up`, then
 * `down`, run as real processes against the real nats-server and the built catalog.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus, HealthService } from "@bazaar/gen/grpc/health/v1/health";
import { createClient } from "@bazaar/runtime/grpc/client";
import { NATS_MONITOR_PORT, PORTS } from "@bazaar/runtime/ports";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUN_DIR = join(ROOT, ".run");
// A first start initialises PGlite (~7 s on two cores); leave room for a loaded machine.
const TEST_TIMEOUT_MS = 120_000;

interface RunResult {
  code: number;
  output: string;
}

/** Run `scripts/mesh.ts <command>` the way the Makefile does; never throws on a non-zero exit. */
function mesh(command: string): Promise<RunResult> {
  const args = ["--conditions=bazaar-source", "--import", "tsx", "scripts/mesh.ts", command];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: TEST_TIMEOUT_MS }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, output: stdout + stderr });
    });
  });
}

function pidOf(name: string): number {
  return Number(readFileSync(join(RUN_DIR, `${name}.pid`), "utf8").trim());
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

describe("make up / make down (scripts/mesh.ts)", () => {
  let pids: { nats: number; catalog: number } | undefined;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, "services/catalog/dist/main.js"))) {
      throw new Error("services/catalog/dist/main.js is missing: run `make build` (or `npm run build`) before this test");
    }
    // Start from nothing, so `up` really starts the processes this test checks.
    await mesh("down");
  }, TEST_TIMEOUT_MS);

  // Whatever happened above, leave nothing running.
  afterAll(async () => {
    await mesh("down");
  }, TEST_TIMEOUT_MS);

  it("up starts NATS and catalog, and returns once both are healthy", async () => {
    const result = await mesh("up");
    expect(result.code, result.output).toBe(0);

    pids = { nats: pidOf("nats"), catalog: pidOf("catalog") };
    expect(isAlive(pids.nats)).toBe(true);
    expect(isAlive(pids.catalog)).toBe(true);

    const client = createClient(HealthService, `127.0.0.1:${PORTS.catalog.grpc}`, { deadlineMs: 1000 });
    try {
      const { status } = await client.check({ service: "" });
      expect(status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      client.close();
    }

    const healthz = await fetch(`http://127.0.0.1:${NATS_MONITOR_PORT}/healthz`);
    expect(healthz.status).toBe(200);
  }, TEST_TIMEOUT_MS);

  it("a second up succeeds and starts nothing new", async () => {
    expect(pids, "the first up must have succeeded").toBeDefined();
    const result = await mesh("up");
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain("already running");
    expect({ nats: pidOf("nats"), catalog: pidOf("catalog") }).toEqual(pids);
  }, TEST_TIMEOUT_MS);

  it("down stops every process and removes the pid files", async () => {
    expect(pids, "the first up must have succeeded").toBeDefined();
    const result = await mesh("down");
    expect(result.code, result.output).toBe(0);

    expect(existsSync(join(RUN_DIR, "nats.pid"))).toBe(false);
    expect(existsSync(join(RUN_DIR, "catalog.pid"))).toBe(false);
    expect(isAlive(pids!.nats)).toBe(false);
    expect(isAlive(pids!.catalog)).toBe(false);
  }, TEST_TIMEOUT_MS);
});

/**
 * The local mesh runner end to end: `scripts/mesh.ts up`, a second `up`, then
 * `down`, run as real processes: the real nats-server and every built service.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus, HealthService } from "@bazaar/gen/grpc/health/v1/health";
import { status } from "@grpc/grpc-js";
import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { createClient } from "@bazaar/runtime/grpc/client";
import { createTransport } from "@bazaar/runtime/security/transport";
import { failureOf } from "@bazaar/runtime/testing";
import { isRunning } from "../lib/test/support/process.js";
import { devBearer } from "./support/auth.js";
import { dashboardQueries } from "./observability/dashboard.js";
import { startPrometheus } from "./observability/prometheus.js";
import { CONSOLE_HTTP_PORT, GATEWAY_HTTP_PORT, NATS_MONITOR_PORT } from "@bazaar/shop/ports";
import { PORTS, type ServiceName } from "../scripts/shop.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUN_DIR = join(ROOT, ".run");
// A first start runs initdb for the cluster (~1.5 s); leave room for a loaded machine.
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

/** Every process `make up` starts: PostgreSQL (its postmaster), NATS, each gRPC service of the port map, the gateway. */
const SERVICES = Object.keys(PORTS) as ServiceName[];
const COMPONENTS = ["postgres", "nats", ...SERVICES, "gateway"];
const GATEWAY = `http://127.0.0.1:${GATEWAY_HTTP_PORT}`;

/** Processes whose command line names the cluster in .data/postgres: the postmaster and every backend. */
function clusterProcesses(): number[] {
  const dataDir = join(ROOT, ".data", "postgres");
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(dataDir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The order as the gateway shows it to its customer. */
async function orderStatus(orderId: string): Promise<number> {
  return (await fetch(`${GATEWAY}/api/orders/${orderId}`, { headers: await devBearer("mesh-test") })).status;
}

/** `make up` issues certs/; a client holds `identity`'s certificate from there. */
const as = (identity: string, service: ServiceName) => ({
  deadlineMs: 2000,
  retry: false as const,
  credentials: createTransport({ TLS_MODE: "mtls", TLS_DIR: join(ROOT, "certs") }, identity).client(service),
});

async function grpcStatus(service: ServiceName) {
  const client = createClient(HealthService, `127.0.0.1:${PORTS[service].grpc}`, as("operator", service));
  try {
    return (await client.check({ service: "" })).status;
  } finally {
    client.close();
  }
}

describe("make up / make down (scripts/mesh.ts)", () => {
  let pids: Record<string, number> | undefined;
  let placedOrder: string | undefined;
  const currentPids = () => Object.fromEntries(COMPONENTS.map((name) => [name, pidOf(name)]));

  beforeAll(async () => {
    const unbuilt = [...SERVICES, "gateway", "console"].filter((name) => !existsSync(join(ROOT, "services", name, "dist/main.js")));
    if (unbuilt.length > 0) throw new Error(`not built: ${unbuilt.join(", ")}; run \`make build\` before this test`);
    // Start from nothing, so `up` really starts the processes this test checks.
    await mesh("down");
  }, TEST_TIMEOUT_MS);

  // Whatever happened above, leave nothing running.
  afterAll(async () => {
    await mesh("down");
  }, TEST_TIMEOUT_MS);

  it("up starts PostgreSQL, NATS, every service, the gateway and the console, returns once all are healthy, and prints the console's address", async () => {
    const result = await mesh("up");
    expect(result.code, result.output).toBe(0);

    pids = currentPids();
    for (const [name, pid] of Object.entries(pids)) expect(isRunning(pid), name).toBe(true);
    for (const service of SERVICES) expect(await grpcStatus(service), service).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await fetch(`http://127.0.0.1:${NATS_MONITOR_PORT}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${GATEWAY_HTTP_PORT}/healthz`)).status).toBe(200);
    expect(result.output).toContain(`console: http://127.0.0.1:${CONSOLE_HTTP_PORT}/console`);
    expect((await fetch(`http://127.0.0.1:${CONSOLE_HTTP_PORT}/console`)).status).toBe(200);
  }, TEST_TIMEOUT_MS);

  it("a second up succeeds and starts nothing new", async () => {
    expect(pids, "the first up must have succeeded").toBeDefined();
    const result = await mesh("up");
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain("already running");
    expect(currentPids()).toEqual(pids);
  }, TEST_TIMEOUT_MS);

  it("speaks mutual TLS only, and each certificate may call what deploy/authz-policy.yaml grants it", async () => {
    expect(pids, "the first up must have succeeded").toBeDefined();
    const catalog = `127.0.0.1:${PORTS.catalog.grpc}`;
    const plaintext = createClient(CatalogServiceService, catalog, { deadlineMs: 2000, retry: false });
    expect((await failureOf(plaintext.getProduct({ id: "v60-dripper" }))).code).toBe(status.UNAVAILABLE);
    plaintext.close();

    const operator = createClient(CatalogServiceService, catalog, as("operator", "catalog"));
    expect((await operator.getProduct({ id: "v60-dripper" })).product?.id).toBe("v60-dripper");
    operator.close();

    // Orders prices with BatchGetProducts; listing the catalog is not in its grant.
    const orders = createClient(CatalogServiceService, catalog, as("orders", "catalog"));
    const denied = await failureOf(orders.listProducts({ pageSize: 1, pageToken: "" }));
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    expect(denied.details).toBe("orders may not call bazaar.catalog.v1.CatalogService/ListProducts");
    orders.close();
  }, TEST_TIMEOUT_MS);

  it("Prometheus, with the project's scrape config, finds every target up and data for the dashboard", async () => {
    expect(pids, "the first up must have succeeded").toBeDefined();
    // Traffic for the panels: an order (gateway → orders → catalog, inventory, payments; events) and a NOT_FOUND.
    const gateway = GATEWAY;
    const order = await fetch(`${gateway}/api/orders`, {
      method: "POST",
      // `make up`'s gateway checks tokens with deploy/dev.env's key, as `npm run -s token` signs them.
      headers: { "content-type": "application/json", "idempotency-key": `mesh-test-${Date.now()}`, ...(await devBearer("mesh-test")) },
      body: JSON.stringify({ customer_id: "mesh-test", items: [{ product_id: "v60-dripper", quantity: 1 }], payment_token: "tok_visa" }),
    });
    expect(order.status, await order.clone().text()).toBe(201);
    placedOrder = ((await order.json()) as { order: { id: string } }).order.id;
    expect((await fetch(`${gateway}/api/products/no-such-product`)).status).toBe(404);

    const prometheus = await startPrometheus();
    try {
      await expect
        .poll(async () => (await prometheus.targets()).filter((t) => t.health === "up").length, { timeout: 30_000, interval: 500 })
        .toBe(SERVICES.length + 1);
      // Failures and dead letters have no series until something fails; their names are checked in dashboard.test.ts.
      const onlyAfterFailures = /bazaar_events_(failed|dead_lettered)_total/;
      for (const { panel, expr } of dashboardQueries().filter((q) => !onlyAfterFailures.test(q.expr))) {
        await expect.poll(async () => (await prometheus.query(expr)).length, { timeout: 30_000, interval: 500, message: `${panel}: ${expr}` }).toBeGreaterThan(0);
      }
    } finally {
      await prometheus.stop();
    }
  }, TEST_TIMEOUT_MS);

  it("down stops every process, the cluster included, and removes the pid files; up again finds the data", async () => {
    expect(placedOrder, "the order of the Prometheus test").toBeDefined();
    const result = await mesh("down");
    expect(result.code, result.output).toBe(0);
    for (const [name, pid] of Object.entries(pids!)) {
      expect(existsSync(join(RUN_DIR, `${name}.pid`)), name).toBe(false);
      expect(isRunning(pid), name).toBe(false);
    }
    expect(clusterProcesses()).toEqual([]);

    const again = await mesh("up");
    expect(again.code, again.output).toBe(0);
    expect(await orderStatus(placedOrder!)).toBe(200);
  }, TEST_TIMEOUT_MS);

  it("after kill -9 of every process of the mesh, up recovers and the data is intact", async () => {
    expect(placedOrder, "the order of the Prometheus test").toBeDefined();
    const victims = [...Object.values(currentPids()), ...clusterProcesses()];
    for (const pid of victims) process.kill(pid, "SIGKILL");
    await expect.poll(() => victims.filter(isRunning), { timeout: 10_000 }).toEqual([]);

    const result = await mesh("up");
    expect(result.code, result.output).toBe(0);
    for (const service of SERVICES) expect(await grpcStatus(service), service).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(await orderStatus(placedOrder!)).toBe(200);

    const down = await mesh("down");
    expect(down.code, down.output).toBe(0);
    expect(clusterProcesses()).toEqual([]);
  }, TEST_TIMEOUT_MS);
});

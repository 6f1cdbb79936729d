import { spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AdminServer, startAdminServer } from "@bazaar/runtime/admin";
import { parseConfig } from "@bazaar/runtime/config";
import { Health, ServingStatus } from "@bazaar/runtime/grpc/health";
import { createLogger } from "@bazaar/runtime/logger";
import { gatewayConfig } from "../../services/gateway/src/config.js";
import { type RunningEdge as RunningGateway } from "@bazaar/runtime/edge";
import { startGateway } from "../../services/gateway/src/module.js";
import { ROOT } from "./support/deploy.js";
import { meshCertificates } from "../support/certs.js";

/**
 * The image's HEALTHCHECK script, run as the container runs it (a separate node
 * process, exit code = verdict) against a real admin server (what a service's
 * ADMIN_ADDR serves, over the gRPC health state) and the real gateway.
 * Workspace imports resolve to sources here, to dist/ in the image.
 */
function probe(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=bazaar-source", "--import", "tsx", "scripts/healthcheck.mjs"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output }));
  });
}

/** A port nothing listens on: bound by the OS, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe("scripts/healthcheck.mjs (the image's HEALTHCHECK)", () => {
  const health = new Health(["bazaar.catalog.v1.CatalogService"]);
  let admin: AdminServer;
  let gateway: RunningGateway;

  beforeAll(async () => {
    admin = await startAdminServer("127.0.0.1:0", health);
    // Configured as deployed: mutual TLS to the services (none runs here; /readyz doesn't call them).
    const services = { CATALOG_ADDR: "127.0.0.1:1", ORDERS_ADDR: "127.0.0.1:1", NOTIFICATIONS_ADDR: "127.0.0.1:1" };
    const env = { HTTP_ADDR: "127.0.0.1:0", ...services, LOG_LEVEL: "silent", AUTH_JWT_SECRET: "healthcheck-test-key-healthcheck-test-key", TLS_DIR: meshCertificates() };
    gateway = await startGateway(parseConfig(gatewayConfig, env), createLogger("gateway", "silent"));
  });
  afterAll(async () => {
    await admin?.close();
    await gateway?.stop();
  });

  it("asks the admin port's /readyz: fails while NOT_SERVING (starting or draining), passes once SERVING", async () => {
    health.setAll(ServingStatus.NOT_SERVING);
    expect(await probe({ SERVICE: "catalog", ADMIN_ADDR: `0.0.0.0:${admin.port}` })).toMatchObject({ code: 1, output: expect.stringContaining("503 {\"status\":\"NOT_SERVING\"}") });
    health.setAll(ServingStatus.SERVING);
    expect(await probe({ SERVICE: "catalog", ADMIN_ADDR: `0.0.0.0:${admin.port}` })).toMatchObject({ code: 0, output: expect.stringContaining("200 {\"status\":\"SERVING\"}") });
  });

  it("fails when nothing answers", async () => {
    expect(await probe({ SERVICE: "orders", ADMIN_ADDR: `0.0.0.0:${await closedPort()}` })).toMatchObject({ code: 1, output: expect.stringContaining("unreachable") });
  });

  it("asks the gateway's /readyz over HTTP", async () => {
    expect(await probe({ SERVICE: "gateway", HTTP_ADDR: `0.0.0.0:${gateway.port}` })).toMatchObject({ code: 0 });
  });

  it("asks the console's /readyz over HTTP, on its own HTTP port", async () => {
    // A stand-in for the console's HTTP server: the script asks only /readyz.
    const server = createHttpServer((request, response) => response.writeHead(request.url === "/readyz" ? 200 : 404).end('{"status":"SERVING"}'));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as { port: number };
      expect(await probe({ SERVICE: "console", HTTP_ADDR: `0.0.0.0:${port}` })).toMatchObject({ code: 0, output: expect.stringContaining("console: /readyz answered 200") });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await probe({ SERVICE: "console", HTTP_ADDR: `0.0.0.0:${await closedPort()}` })).toMatchObject({ code: 1 });
  });

  it("refuses to guess which service it checks", async () => {
    expect(await probe({ SERVICE: "shop" })).toMatchObject({ code: 2, output: expect.stringContaining("SERVICE must name a service of this image") });
  });
});

import { spawn } from "node:child_process";
import { createServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "@bazaar/runtime/config";
import { Health, ServingStatus } from "@bazaar/runtime/grpc/health";
import { bindServer } from "@bazaar/runtime/grpc/server";
import { createLogger } from "@bazaar/runtime/logger";
import { gatewayConfig } from "../../services/gateway/src/config.js";
import { type RunningGateway, startGateway } from "../../services/gateway/src/gateway.js";
import { ROOT } from "./support/deploy.js";

/**
 * The image's HEALTHCHECK script, run as the container runs it (a separate node
 * process, exit code = verdict) against a real gRPC health service and the real
 * gateway. Workspace imports resolve to sources here, to dist/ in the image.
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
  const server = new grpc.Server();
  const health = new Health(["bazaar.catalog.v1.CatalogService"]);
  let grpcPort = 0;
  let gateway: RunningGateway;

  beforeAll(async () => {
    health.addTo(server);
    grpcPort = await bindServer(server, "127.0.0.1:0");
    gateway = await startGateway(parseConfig(gatewayConfig, { HTTP_ADDR: "127.0.0.1:0", LOG_LEVEL: "silent" }), createLogger("gateway", "silent"));
  });
  afterAll(async () => {
    server.forceShutdown();
    await gateway?.stop();
  });

  it("fails while the service is NOT_SERVING (starting or draining), passes once it is SERVING", async () => {
    health.setAll(ServingStatus.NOT_SERVING);
    expect(await probe({ SERVICE: "catalog", GRPC_ADDR: `0.0.0.0:${grpcPort}` })).toMatchObject({ code: 1, output: expect.stringContaining("NOT_SERVING") });
    health.setAll(ServingStatus.SERVING);
    expect(await probe({ SERVICE: "catalog", GRPC_ADDR: `0.0.0.0:${grpcPort}` })).toMatchObject({ code: 0, output: expect.stringContaining("SERVING") });
  });

  it("fails when nothing answers", async () => {
    expect(await probe({ SERVICE: "orders", GRPC_ADDR: `0.0.0.0:${await closedPort()}` })).toMatchObject({ code: 1, output: expect.stringContaining("unreachable") });
  });

  it("asks the gateway's /readyz over HTTP", async () => {
    expect(await probe({ SERVICE: "gateway", HTTP_ADDR: `0.0.0.0:${gateway.port}` })).toMatchObject({ code: 0 });
  });

  it("refuses to guess which service it checks", async () => {
    expect(await probe({ SERVICE: "shop" })).toMatchObject({ code: 2, output: expect.stringContaining("SERVICE must be") });
  });
});

import type { Server } from "node:http";
import { type AddressInfo } from "node:net";
import { splitAddress } from "./config.js";
import { createNodeHttpServer } from "./http-server.js";
import { type Health, ServingStatus } from "./grpc/health.js";
import { registry } from "./observability/metrics.js";

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The admin HTTP port, for orchestrators and scrapers rather than clients:
 * /healthz answers 200 while the process is alive (liveness); /readyz answers
 * 200 only while gRPC health says SERVING (readiness), 503 otherwise;
 * /metrics serves Prometheus metrics.
 */
export async function startAdminServer(address: string, health: Health): Promise<AdminServer> {
  const server: Server = createNodeHttpServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const reply = (code: number, body: unknown) => {
      response.writeHead(code, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (request.method !== "GET" && request.method !== "HEAD") return reply(405, { error: "method not allowed" });
    if (path === "/healthz") return reply(200, { status: "alive" });
    if (path === "/readyz") {
      const status = ServingStatus[health.status()];
      return reply(health.status() === ServingStatus.SERVING ? 200 : 503, { status });
    }
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => {
          response.writeHead(200, { "content-type": registry.contentType });
          response.end(text);
        },
        (error: unknown) => reply(500, { error: String(error) }),
      );
      return;
    }
    return reply(404, { error: `no such path: ${path}` });
  });
  const { host, port } = splitAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

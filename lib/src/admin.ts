import type { IncomingMessage, Server } from "node:http";
import { type AddressInfo } from "node:net";
import { splitAddress } from "./config.js";
import { type Faults, isFaultKind, FAULT_KINDS } from "./faults.js";
import { createNodeHttpServer, readSmallBody } from "./http-server.js";
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
 * /metrics serves Prometheus metrics. Given `faults` (BAZAAR_FAULTS=1, development
 * only), /faults lists them and PUT or DELETE /faults/<kind> switches one on
 * (body {"seconds": n}) or off; without it there is no such path.
 */
export async function startAdminServer(address: string, health: Health, faults?: Faults): Promise<AdminServer> {
  const server: Server = createNodeHttpServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const reply = (code: number, body: unknown) => {
      response.writeHead(code, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (faults !== undefined && (path === "/faults" || path?.startsWith("/faults/"))) {
      faultRequest(faults, request.method ?? "GET", path.slice("/faults/".length), request).then(
        ([code, body]) => reply(code, body),
        (error: unknown) => reply(400, { error: (error as Error).message }),
      );
      return;
    }
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

/** GET /faults, PUT /faults/<kind> {"seconds": n}, DELETE /faults/<kind>: the status and the body to answer. */
async function faultRequest(faults: Faults, method: string, kind: string, request: IncomingMessage): Promise<[number, unknown]> {
  if (kind === "" && method === "GET") return [200, { active: faults.active() }];
  if (!isFaultKind(kind)) return [404, { error: `no such fault: ${JSON.stringify(kind)}; the faults are ${FAULT_KINDS.join(", ")}` }];
  if (method === "DELETE") {
    faults.clear(kind);
    return [200, { active: faults.active() }];
  }
  if (method !== "PUT") return [405, { error: "method not allowed: PUT or DELETE a fault" }];
  const body = await smallJson(request);
  const seconds = typeof body === "object" && body !== null ? (body as { seconds?: unknown }).seconds : undefined;
  faults.set(kind, seconds as number); // throws naming `seconds` when it is not a whole number in range
  return [200, { active: faults.active() }];
}

/** A JSON body of at most 1 KiB. */
async function smallJson(request: IncomingMessage): Promise<unknown> {
  const text = await readSmallBody(request, 1024);
  if (text === undefined) throw new Error("body: expected at most 1 KiB of JSON");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error('body: expected JSON such as {"seconds": 60}');
  }
}

import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { parseConfig } from "@bazaar/runtime/config";
import { bindServer } from "@bazaar/runtime/grpc/server";
import { signCustomerToken, type SignOptions } from "@bazaar/shop/customer-token";
import { authConfig, gatewayConfig } from "../src/config.js";
import { type RunningEdge as RunningGateway } from "@bazaar/runtime/edge";
import { startGateway } from "../src/module.js";

// Helpers for the gateway's component tests: fake gRPC services at the edges,
// and the gateway itself in-process on a free port.

export interface FakeServer {
  address: string;
  /** Stop at once: the next call to `address` finds nobody listening. */
  stop(): void;
}

/** A plain grpc-js server on a free port of 127.0.0.1, answering with `implementation`. */
export async function startFakeServer(
  definition: grpc.ServiceDefinition,
  implementation: grpc.UntypedServiceImplementation,
): Promise<FakeServer> {
  const server = new grpc.Server();
  server.addService(definition, implementation);
  const port = await bindServer(server, "127.0.0.1:0");
  return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

/** The failure a fake answers with: a status code and its message. */
export const failWith = (code: grpc.status, details: string): Partial<grpc.StatusObject> => ({ code, details });

/** The token settings of every test gateway: a key of this run's own, so no test leans on the dev key. */
export const testAuth = parseConfig(authConfig, { AUTH_JWT_SECRET: `gateway-test-${randomBytes(24).toString("hex")}` });

/** The Authorization header of `customerId`, signed as the test gateways expect (or as `options` skew it). */
export async function bearer(customerId: string, options?: SignOptions): Promise<{ authorization: string }> {
  return { authorization: `Bearer ${await signCustomerToken(testAuth, customerId, options)}` };
}

/** A gateway on a free port of 127.0.0.1, checking tokens with testAuth; unset addresses point at a port nobody listens on. */
export async function startTestGateway(env: NodeJS.ProcessEnv): Promise<RunningGateway & { url: string }> {
  const config = parseConfig(gatewayConfig, {
    HTTP_ADDR: "127.0.0.1:0",
    CATALOG_ADDR: "127.0.0.1:1",
    ORDERS_ADDR: "127.0.0.1:1",
    NOTIFICATIONS_ADDR: "127.0.0.1:1",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
    SHUTDOWN_GRACE_MS: "2000",
    AUTH_JWT_SECRET: testAuth.AUTH_JWT_SECRET,
    // The fake services behind it are plaintext; test/security and the e2e mesh cover mTLS.
    TLS_MODE: "insecure",
    ...env,
  });
  const gateway = await startGateway(config);
  return { ...gateway, url: `http://127.0.0.1:${gateway.port}` };
}

/** A JSON POST with an Idempotency-Key, as a well-behaved client sends PlaceOrder. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The error body every failure has. */
export interface ErrorJson {
  error: { code: string; message: string; field_violations?: Array<{ field: string; description: string }> };
}

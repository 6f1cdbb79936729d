import * as grpc from "@grpc/grpc-js";
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthService } from "@bazaar/gen/grpc/health/v1/health";
import { createClient } from "@bazaar/runtime/grpc/client";
import { createTransport } from "@bazaar/runtime/security/transport";
import { failureOf } from "@bazaar/runtime/testing";
import { describe, expect, it } from "vitest";
import { meshCertificates } from "../support/certs.js";

// Real gRPC handshakes with the certificates `make certs` issues: a certificate
// that may only call (the gateway's, the operator's) cannot stand in for a
// server, and one that may only serve (NATS's) cannot call. The clients accept
// the identity the certificate names, so what refuses it is its purpose alone.

const TLS_DIR = meshCertificates();
const transportOf = (identity: string) => createTransport({ TLS_MODE: "mtls", TLS_DIR }, identity);

/** A bare gRPC server answering health checks, presenting `identity`'s certificate; run `use` against its address, then stop it. */
async function withServerAs(identity: string, use: (address: string) => Promise<void>): Promise<void> {
  const server = new grpc.Server();
  server.addService(HealthService, {
    check: (_call: unknown, callback: grpc.sendUnaryData<{ status: ServingStatus }>) => callback(null, { status: ServingStatus.SERVING }),
  } as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", transportOf(identity).server(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  try {
    await use(`127.0.0.1:${port}`);
  } finally {
    server.forceShutdown();
  }
}

/** A health check of `address` as `caller`, expecting the server to be `server`. */
function healthCheck(address: string, caller: string, server: string) {
  const client = createClient(HealthService, address, { deadlineMs: 5000, credentials: transportOf(caller).client(server), retry: false });
  return { call: client.check({ service: "" }), close: () => client.close() };
}

describe("what a certificate may be used for", () => {
  it("lets a service's certificate serve and call: the handshake itself works", async () => {
    await withServerAs("catalog", async (address) => {
      const { call, close } = healthCheck(address, "orders", "catalog");
      expect((await call).status).toBe(ServingStatus.SERVING);
      close();
    });
  });

  it.each(["gateway", "operator", "nats-admin"])("refuses a server presenting the %s's certificate, which may only call", async (identity) => {
    await withServerAs(identity, async (address) => {
      const { call, close } = healthCheck(address, "orders", identity);
      const failure = await failureOf(call);
      expect(failure.code).toBe(grpc.status.UNAVAILABLE);
      expect(failure.details).toMatch(/unsuitable certificate purpose/);
      close();
    });
  });
});

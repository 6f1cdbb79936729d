import { tmpdir } from "node:os";
import { join } from "node:path";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { TLSSocket } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthService } from "@bazaar/gen/grpc/health/v1/health";
import { PaymentServiceService } from "@bazaar/gen/bazaar/payments/v1/payments";
import { ConfigError } from "@bazaar/runtime/config";
import { createClient } from "@bazaar/runtime/grpc/client";
import { newId } from "@bazaar/runtime/ids";
import { registry } from "@bazaar/runtime/observability/metrics";
import { createTransport } from "@bazaar/runtime/security/transport";
import { failureOf, startTestService } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { meshCertificates } from "../support/certs.js";
import { ReflectionClient } from "../../lib/test/support/reflection-client.js";
import { ensureCertificates } from "../../scripts/certs/issue.js";
import { paymentService } from "../../services/payments/src/service.js";
import { migrationsDir } from "../../services/payments/src/store.js";
import { POLICY_FILE } from "@bazaar/shop/identities";

// Payments with mutual TLS and the shipped authorization policy
// (deploy/authz-policy.yaml), called over real sockets by clients holding the
// certificates `make certs` issues: who gets in, and who may call what.

const TLS_DIR = meshCertificates();
let service: Awaited<ReturnType<typeof startTestService>>;

beforeAll(async () => {
  service = await startTestService("payments", { migrationsDir, services: [paymentService] }, { TLS_MODE: "mtls", TLS_DIR, AUTHZ_POLICY_FILE: POLICY_FILE });
});
afterAll(async () => {
  await service?.stop();
});

/** A payments client holding `identity`'s certificate from `dir`. */
function paymentsAs(identity: string, dir = TLS_DIR, expectedServer = "payments") {
  const transport = createTransport({ TLS_MODE: "mtls", TLS_DIR: dir }, identity);
  return createClient(PaymentServiceService, service.address, { deadlineMs: 5000, credentials: transport.client(expectedServer), retry: false });
}

const charge = {
  idempotencyKey: `key-${randomUUID()}`,
  orderId: newId("ord"),
  customerId: "cust_42",
  amount: { currencyCode: "EUR", minorUnits: 1200 },
  paymentToken: "tok_visa",
};

describe("who gets a response", () => {
  it("refuses a plaintext client", async () => {
    const client = createClient(PaymentServiceService, service.address, { deadlineMs: 3000, retry: false });
    expect((await failureOf(client.getPayment({ paymentId: "pay_x" }))).code).toBe(grpc.status.UNAVAILABLE);
    client.close();
  });

  it("refuses a TLS client without a client certificate", async () => {
    const { files } = createTransport({ TLS_MODE: "mtls", TLS_DIR }, "operator");
    const credentials = grpc.credentials.createSsl(readFileSync(files!.ca), null, null, { checkServerIdentity: () => undefined });
    const client = createClient(PaymentServiceService, service.address, { deadlineMs: 3000, credentials, retry: false });
    expect((await failureOf(client.getPayment({ paymentId: "pay_x" }))).code).toBe(grpc.status.UNAVAILABLE);
    client.close();
  });

  it("refuses a certificate from another CA, even with a known identity", async () => {
    const other = mkdtempSync(join(tmpdir(), "bazaar-other-ca-"));
    ensureCertificates(other, ["orders", "payments"]);
    // The client trusts the service's CA (so the server side is what refuses it).
    copyFileSync(join(TLS_DIR, "ca.pem"), join(other, "ca.pem"));
    const client = paymentsAs("orders", other);
    expect((await failureOf(client.charge(charge))).code).toBe(grpc.status.UNAVAILABLE);
    client.close();
  });

  it("does not talk to a server that is not the service it meant to call", async () => {
    const client = paymentsAs("orders", TLS_DIR, "catalog");
    const failure = await failureOf(client.charge(charge));
    expect(failure.code).toBe(grpc.status.UNAVAILABLE);
    client.close();
  });
});

describe("what each identity may call (deploy/authz-policy.yaml)", () => {
  it("lets orders charge", async () => {
    const client = paymentsAs("orders");
    const response = await client.charge(charge);
    expect(response.payment?.orderId).toBe(charge.orderId);
    client.close();
  });

  it("answers PERMISSION_DENIED, naming caller and method, to a known caller outside the policy", async () => {
    for (const identity of ["gateway", "operator", "catalog"]) {
      const client = paymentsAs(identity);
      const failure = await failureOf(client.charge({ ...charge, idempotencyKey: `key-${randomUUID()}` }));
      expect(failure.code, identity).toBe(grpc.status.PERMISSION_DENIED);
      expect(failure.details).toBe(`${identity} may not call bazaar.payments.v1.PaymentService/Charge`);
      client.close();
    }
    // Refusals are RPCs like any other for the dashboards.
    const handled = await registry.getSingleMetric("grpc_server_handled_total")!.get();
    const denied = handled.values.find((v) => v.labels.grpc_method === "Charge" && v.labels.grpc_code === "PERMISSION_DENIED");
    expect(denied?.value).toBeGreaterThanOrEqual(3);
  });

  it("lets the operator call read methods, health and reflection", async () => {
    const client = paymentsAs("operator");
    // Allowed through to the handler: an unknown payment is the handler's NOT_FOUND, not a refusal.
    expect((await failureOf(client.getPayment({ paymentId: newId("pay") }))).code).toBe(grpc.status.NOT_FOUND);
    client.close();

    const { client: operatorCredentials } = createTransport({ TLS_MODE: "mtls", TLS_DIR }, "operator");
    const health = createClient(HealthService, service.address, { deadlineMs: 3000, credentials: operatorCredentials("payments") });
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    health.close();

    const reflection = new ReflectionClient(service.address, "v1", operatorCredentials("payments"));
    const listed = await reflection.ask({ listServices: "" });
    reflection.close();
    expect(listed.listServicesResponse?.service.map((s) => s.name)).toContain("bazaar.payments.v1.PaymentService");
  });

  it("reads each caller's certificate once per connection, and keeps connections apart", async () => {
    const reads = vi.spyOn(TLSSocket.prototype, "getPeerCertificate");
    // The server's end of a connection is the socket on the service's port (clients read theirs too).
    const port = Number(service.address.split(":").at(-1));
    const serverReads = () => reads.mock.contexts.filter((socket) => (socket as TLSSocket).localPort === port).length;
    try {
      const operator = paymentsAs("operator");
      const gateway = paymentsAs("gateway");
      for (let i = 0; i < 5; i++) {
        // Interleaved on two connections: each call is judged as its own connection's caller.
        expect((await failureOf(operator.getPayment({ paymentId: newId("pay") }))).code).toBe(grpc.status.NOT_FOUND);
        expect((await failureOf(gateway.getPayment({ paymentId: newId("pay") }))).code).toBe(grpc.status.PERMISSION_DENIED);
      }
      expect(serverReads()).toBe(2);
      operator.close();
      gateway.close();
    } finally {
      reads.mockRestore();
    }
  });

  it("grants orders no more than it needs: reading a payment is not in its list", async () => {
    const client = paymentsAs("orders");
    const failure = await failureOf(client.getPayment({ paymentId: newId("pay") }));
    expect(failure.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(failure.details).toBe("orders may not call bazaar.payments.v1.PaymentService/GetPayment");
    client.close();
  });
});

describe("configuration", () => {
  it("stops a service with mTLS on and no certificates, saying how to make them", async () => {
    const empty = mkdtempSync(join(tmpdir(), "bazaar-no-certs-"));
    const error = await startTestService("payments", { migrationsDir, services: [paymentService] }, { TLS_MODE: "mtls", TLS_DIR: empty, AUTHZ_POLICY_FILE: POLICY_FILE }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/TLS_DIR: cannot read .*ca\.pem; run `make certs`/);
  });

  it("stops a service under mutual TLS that has no policy to authorize its callers with", async () => {
    const error = await startTestService("payments", { migrationsDir, services: [paymentService] }, { TLS_MODE: "mtls", TLS_DIR }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("AUTHZ_POLICY_FILE: is required under mutual TLS");
  });

  it("stops a service whose policy names a method the contracts do not have", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "bazaar-policy-")), "policy.yaml");
    writeFileSync(file, "identities: [orders, payments]\ncallers:\n  orders:\n    - bazaar.payments.v1.PaymentService/Chrage\n");
    const error = await startTestService("payments", { migrationsDir, services: [paymentService] }, { TLS_MODE: "mtls", TLS_DIR, AUTHZ_POLICY_FILE: file }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('callers.orders: "bazaar.payments.v1.PaymentService/Chrage" names no method of the contracts');
  });
});

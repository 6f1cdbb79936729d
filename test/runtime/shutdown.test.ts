import { status, type ServiceError } from "@grpc/grpc-js";
import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { afterEach, describe, expect, it } from "vitest";
import { createClient } from "@bazaar/runtime/grpc/client";
import { freshDatabase } from "@bazaar/runtime/testing";
import { type ServiceProcess, spawnTs } from "../../lib/test/support/process.js";

// Graceful shutdown of a real process: SIGTERM while a call is in flight.

const running: ServiceProcess[] = [];
afterEach(() => running.splice(0).forEach((p) => p.kill()));

async function startSlowService(env: NodeJS.ProcessEnv) {
  const service = spawnTs("test/runtime/fixtures/slow-service.ts", {
    GRPC_ADDR: "127.0.0.1:0",
    ADMIN_ADDR: "127.0.0.1:0",
    DATABASE_URL: await freshDatabase("shutdown"),
    // What draining does is the subject here, not the transport.
    TLS_MODE: "insecure",
    ...env,
  });
  running.push(service);
  const { grpc_port } = await service.logLine("listening");
  await service.logLine("serving");
  const address = `127.0.0.1:${grpc_port as number}`;
  return { service, address, client: createClient(CatalogServiceService, address, { deadlineMs: 10_000 }) };
}

describe("graceful shutdown", () => {
  it("finishes the in-flight call, refuses new ones, then exits 0", async () => {
    const { service, address, client } = await startSlowService({ SLOW_MS: "1500" });
    const inFlight = client.getProduct({ id: "in-flight" });
    await service.logLine("handling");
    service.child.kill("SIGTERM");
    await service.logLine("draining");

    const late = createClient(CatalogServiceService, address, { deadlineMs: 2000 });
    const refused = await late.getProduct({ id: "too-late" }).catch((e: ServiceError) => e);
    late.close();
    expect((refused as ServiceError).code).toBe(status.UNAVAILABLE);

    expect((await inFlight).product?.id).toBe("in-flight");
    client.close();
    expect(await service.exited).toBe(0);
    expect(service.lines.find((l) => l.msg === "stopped")).toMatchObject({ in_flight_finished: true });
  });

  it("cuts calls that outlive the grace period and still exits 0", async () => {
    const { service, client } = await startSlowService({ SLOW_MS: "20000", SHUTDOWN_GRACE_MS: "300" });
    const inFlight = client.getProduct({ id: "too-slow" }).catch((e: ServiceError) => e);
    await service.logLine("handling");
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
    const error = (await inFlight) as ServiceError;
    expect([status.UNAVAILABLE, status.CANCELLED, status.INTERNAL]).toContain(error.code);
    client.close();
    expect(service.lines.find((l) => l.msg === "stopped")).toMatchObject({ in_flight_finished: false });
  });

  it("drains on SIGINT too", async () => {
    const { service, client } = await startSlowService({});
    client.close();
    service.child.kill("SIGINT");
    expect(await service.exited).toBe(0);
  });
});

import * as grpc from "@grpc/grpc-js";
import { CatalogServiceService, type GetProductResponse } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { afterAll, describe, expect, it } from "vitest";
import { createClient } from "@bazaar/runtime/grpc/client";
import { bindServer } from "@bazaar/runtime/grpc/server";
import { freePort } from "../../lib/test/support/process.js";

// Two replicas of a service behind one target: 127.0.0.1 and 127.0.0.2 (both
// loopback on Linux) on the same port, named together as a resolver would
// return a headless Service's pods.

const servers: grpc.Server[] = [];
afterAll(() => servers.forEach((server) => server.forceShutdown()));

async function replica(host: string, port: number, served: string[]): Promise<void> {
  const server = new grpc.Server();
  server.addService(CatalogServiceService, {
    getProduct: (_call: unknown, callback: grpc.sendUnaryData<GetProductResponse>) => {
      served.push(host);
      callback(null, { product: undefined });
    },
  } as unknown as grpc.UntypedServiceImplementation);
  await bindServer(server, `${host}:${port}`);
  servers.push(server);
}

describe("a client of a target with several addresses", () => {
  it("spreads its calls over every replica (round_robin), not only the first it reached", async () => {
    const port = await freePort();
    const served: string[] = [];
    await replica("127.0.0.1", port, served);
    await replica("127.0.0.2", port, served);
    const catalog = createClient(CatalogServiceService, `ipv4:127.0.0.1:${port},127.0.0.2:${port}`, { deadlineMs: 5000, breaker: false });
    for (let i = 0; i < 20; i++) await catalog.getProduct({ id: "v60-dripper" });
    catalog.close();
    expect(served.filter((host) => host === "127.0.0.1").length).toBeGreaterThan(0);
    expect(served.filter((host) => host === "127.0.0.2").length).toBeGreaterThan(0);
  });
});

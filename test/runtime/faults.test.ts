/**
 * Faults on purpose at the call guard (lib/src/grpc/call-guard.ts), on a real
 * grpc-js server serving a stub of the catalog's contract: "fail" answers
 * UNAVAILABLE without the handler, "slow" holds the call before it, health and
 * reflection are never touched. Here rather than in lib/test: the runtime's own
 * tests use none of the shop's contracts.
 */
import * as grpc from "@grpc/grpc-js";
import { CatalogServiceClient, CatalogServiceService, type GetProductRequest, type GetProductResponse } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { HealthClient, HealthCheckResponse_ServingStatus as ServingStatus } from "@bazaar/gen/grpc/health/v1/health";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Faults, SLOW_FAULT_DELAY_MS } from "@bazaar/runtime/faults";
import { callGuard } from "@bazaar/runtime/grpc/call-guard";
import { Health } from "@bazaar/runtime/grpc/health";
import { bindServer } from "@bazaar/runtime/grpc/server";
import { createLogger } from "@bazaar/runtime/logger";
import { grpcServerMetrics } from "@bazaar/runtime/observability/metrics";

describe("a server's calls while a fault is on (the call guard)", () => {
  const faults = new Faults();
  const health = new Health(["bazaar.catalog.v1.CatalogService"]);
  /** When each GetProduct reached its handler (performance.now()). */
  const handled: number[] = [];
  let server: grpc.Server;
  let catalog: CatalogServiceClient;
  let healthClient: HealthClient;

  beforeAll(async () => {
    // Plaintext: no policy, so the guard is the metrics and the faults.
    server = new grpc.Server({ interceptors: [callGuard({ logger: createLogger("faults-test", "silent"), faults }).interceptor] });
    health.addTo(server);
    server.addService(CatalogServiceService, {
      getProduct: (call: grpc.ServerUnaryCall<GetProductRequest, GetProductResponse>, callback: grpc.sendUnaryData<GetProductResponse>) => {
        handled.push(performance.now());
        callback(null, { product: undefined });
      },
    });
    const port = await bindServer(server, "127.0.0.1:0");
    health.setAll(ServingStatus.SERVING);
    catalog = new CatalogServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    healthClient = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  afterAll(() => {
    catalog?.close();
    healthClient?.close();
    server?.forceShutdown();
  });
  beforeEach(() => {
    for (const kind of ["slow", "fail", "pause-consumers"] as const) faults.clear(kind);
    handled.length = 0;
  });

  const getProduct = () =>
    new Promise<{ code: grpc.status; details?: string }>((resolve) =>
      catalog.getProduct({ id: "v60-dripper" }, (error) => resolve(error === null ? { code: grpc.status.OK } : { code: error.code, details: error.details })),
    );
  const checkHealth = () =>
    new Promise<ServingStatus | grpc.status>((resolve) => healthClient.check({ service: "" }, (error, response) => resolve(error === null ? response.status : error.code)));
  /** grpc_server_handled_total of GetProduct with this code. */
  const handledTotal = async (code: keyof typeof grpc.status) =>
    (await grpcServerMetrics.handled.get()).values.find(
      ({ labels }) => labels.grpc_service === "bazaar.catalog.v1.CatalogService" && labels.grpc_method === "GetProduct" && labels.grpc_code === code,
    )?.value ?? 0;

  it("lets calls through untouched while no fault is on", async () => {
    const before = await handledTotal("OK");
    expect(await getProduct()).toEqual({ code: grpc.status.OK });
    expect(handled).toHaveLength(1);
    expect(await handledTotal("OK")).toBe(before + 1);
  });

  it('leaves calls alone under "pause-consumers", which is for event consumers only', async () => {
    faults.set("pause-consumers", 30);
    expect(await getProduct()).toEqual({ code: grpc.status.OK });
    expect(handled).toHaveLength(1);
  });

  it('answers UNAVAILABLE under "fail" without running the handler, and counts the call as UNAVAILABLE', async () => {
    const before = await handledTotal("UNAVAILABLE");
    faults.set("fail", 30);
    const answer = await getProduct();
    expect(answer.code).toBe(grpc.status.UNAVAILABLE);
    expect(answer.details).toContain("failing on purpose");
    expect(handled).toEqual([]);
    expect(await handledTotal("UNAVAILABLE")).toBe(before + 1);
  });

  it('keeps health checks answering while "fail" is on: probes must not see the fault', async () => {
    faults.set("fail", 30);
    expect(await checkHealth()).toBe(ServingStatus.SERVING);
    expect((await getProduct()).code).toBe(grpc.status.UNAVAILABLE);
  });

  it("serves again once the fault is cleared", async () => {
    faults.set("fail", 30);
    expect((await getProduct()).code).toBe(grpc.status.UNAVAILABLE);
    faults.clear("fail");
    expect(await getProduct()).toEqual({ code: grpc.status.OK });
    expect(handled).toHaveLength(1);
  });

  it('holds each call SLOW_FAULT_DELAY_MS before its handler under "slow", then answers it', async () => {
    faults.set("slow", 30);
    const sent = performance.now();
    expect(await getProduct()).toEqual({ code: grpc.status.OK });
    expect(handled).toHaveLength(1);
    // A lower bound (timers may fire a millisecond early), not a speed target.
    expect(handled[0]! - sent).toBeGreaterThanOrEqual(SLOW_FAULT_DELAY_MS - 50);
  });
});

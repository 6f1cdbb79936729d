import * as grpc from "@grpc/grpc-js";
import { CatalogServiceService, type GetProductRequest, type GetProductResponse } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { HealthCheckResponse_ServingStatus, HealthService } from "@bazaar/gen/grpc/health/v1/health";
import { afterEach, describe, expect, it } from "vitest";
import { dependencyUnavailable, unavailable } from "@bazaar/runtime/errors";
import { toStatus } from "@bazaar/runtime/grpc/status";
import { createClient } from "@bazaar/runtime/grpc/client";
import { isRetryableMethod } from "@bazaar/runtime/grpc/resilience";
import { addUnaryService, bindServer } from "@bazaar/runtime/grpc/server";
import { createLogger } from "@bazaar/runtime/logger";
import { CIRCUIT_STATE, clientResilienceMetrics } from "@bazaar/runtime/observability/metrics";
import { failureOf } from "@bazaar/runtime/testing";

// The client's resilience against real gRPC servers on free ports: retries only
// where the contract allows them and only within the deadline, a circuit breaker
// per downstream that opens on its failures (and only on those) and recovers by
// itself, a bulkhead, and an incoming deadline that caps every outgoing call.

/** A product answer, the same whatever was asked. */
const PRODUCT: GetProductResponse = {
  product: { id: "v60-dripper", name: "V60", description: "", price: { currencyCode: "EUR", minorUnits: 2250 }, categories: [] },
};

type Answer = (call: grpc.ServerUnaryCall<unknown, unknown>) => Promise<{ code: grpc.status; details?: string } | unknown>;

/** A real gRPC server whose `method` answers what the test says, counting the calls it received. */
interface TestServer {
  address: string;
  port: number;
  received: Array<{ at: number; deadline: number }>;
  answer: Answer;
  stop(): void;
}

const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((close) => close()));

async function startServer(definition: grpc.ServiceDefinition, method: string, answer: Answer, port = 0): Promise<TestServer> {
  const server = new grpc.Server();
  const test: TestServer = { address: "", port: 0, received: [], answer, stop: () => server.forceShutdown() };
  server.addService(definition, {
    [method]: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const deadline = call.getDeadline();
      test.received.push({ at: Date.now(), deadline: deadline instanceof Date ? deadline.getTime() : deadline });
      test.answer(call).then((outcome) => {
        if (outcome instanceof Failure) callback({ code: outcome.code, details: outcome.details, ...(outcome.metadata ? { metadata: outcome.metadata } : {}) });
        else callback(null, outcome);
      });
    },
  });
  test.port = await bindServer(server, `127.0.0.1:${port}`);
  test.address = `127.0.0.1:${test.port}`;
  cleanup.push(test.stop);
  return test;
}

class Failure {
  constructor(
    readonly code: grpc.status,
    readonly details = grpc.status[code],
    readonly metadata?: grpc.Metadata,
  ) {}
}

const fail = (code: grpc.status) => async () => new Failure(code);
const succeed = async () => PRODUCT;

function client<D extends grpc.ServiceDefinition>(definition: D, address: string, options: Partial<Parameters<typeof createClient>[2]> = {}) {
  const created = createClient(definition, address, { deadlineMs: 5000, ...options });
  cleanup.push(() => created.close());
  return created;
}

async function breakerGauge(target: string): Promise<number | undefined> {
  return (await clientResilienceMetrics.breakerState.get()).values.find((value) => value.labels.target === target)?.value;
}

const GET_PRODUCT: GetProductRequest = { id: "v60-dripper" };

describe("which methods are retried", () => {
  it("follows each method's idempotency_level in the compiled contracts", () => {
    expect(isRetryableMethod("/bazaar.catalog.v1.CatalogService/GetProduct")).toBe(true); // NO_SIDE_EFFECTS
    expect(isRetryableMethod("/bazaar.payments.v1.PaymentService/Charge")).toBe(true); // IDEMPOTENT
    expect(isRetryableMethod("/grpc.health.v1.Health/Check")).toBe(false); // no option
    expect(isRetryableMethod("/no.such.Service/Method")).toBe(false);
  });
});

describe("retries", () => {
  it("an idempotent method succeeds after transient UNAVAILABLE", async () => {
    let calls = 0;
    const server = await startServer(CatalogServiceService, "getProduct", async () => (++calls <= 2 ? new Failure(grpc.status.UNAVAILABLE, "warming up") : PRODUCT));
    const catalog = client(CatalogServiceService, server.address, { breaker: false });

    expect((await catalog.getProduct(GET_PRODUCT)).product?.id).toBe("v60-dripper");
    expect(server.received).toHaveLength(3);
  });

  it("a method without the option is never retried", async () => {
    const server = await startServer(HealthService, "check", fail(grpc.status.UNAVAILABLE));
    const health = client(HealthService, server.address, { breaker: false });

    expect((await failureOf(health.check({ service: "" }))).code).toBe(grpc.status.UNAVAILABLE);
    expect(server.received).toHaveLength(1);
  });

  it("does not retry when the server pushes back (grpc-retry-pushback-ms < 0: it already retried downstream)", async () => {
    const answered = toStatus(dependencyUnavailable("payments is unavailable"));
    const server = await startServer(CatalogServiceService, "getProduct", async () => new Failure(grpc.status.UNAVAILABLE, answered.details, answered.metadata));
    const catalog = client(CatalogServiceService, server.address, { breaker: false });

    const failure = await failureOf(catalog.getProduct(GET_PRODUCT));
    expect(failure.code).toBe(grpc.status.UNAVAILABLE);
    expect(failure.metadata.get("grpc-retry-pushback-ms")).toEqual(["-1"]);
    expect(server.received).toHaveLength(1);
  });

  it("retries after the pause the server asks for (grpc-retry-pushback-ms >= 0)", async () => {
    let calls = 0;
    const pushback = new grpc.Metadata();
    pushback.set("grpc-retry-pushback-ms", "300");
    const server = await startServer(CatalogServiceService, "getProduct", async () => (++calls === 1 ? new Failure(grpc.status.UNAVAILABLE, "busy", pushback) : PRODUCT));
    const catalog = client(CatalogServiceService, server.address, { breaker: false });

    expect((await catalog.getProduct(GET_PRODUCT)).product?.id).toBe("v60-dripper");
    expect(server.received).toHaveLength(2);
    // Full jitter would pause under 50 ms; the server's 300 ms is what the client waited.
    expect(server.received[1]!.at - server.received[0]!.at).toBeGreaterThanOrEqual(250);
  });

  it("does not retry a client error", async () => {
    const server = await startServer(CatalogServiceService, "getProduct", fail(grpc.status.NOT_FOUND));
    const catalog = client(CatalogServiceService, server.address);

    expect((await failureOf(catalog.getProduct(GET_PRODUCT))).code).toBe(grpc.status.NOT_FOUND);
    expect(server.received).toHaveLength(1);
  });

  it("stop at the call's deadline, whatever the attempt bound, and no attempt carries a later deadline", async () => {
    const server = await startServer(CatalogServiceService, "getProduct", fail(grpc.status.UNAVAILABLE));
    const catalog = client(CatalogServiceService, server.address, {
      breaker: false,
      retry: { maxAttempts: 10_000, initialBackoffMs: 10, maxBackoffMs: 40 },
    });

    const deadline = Date.now() + 600;
    const error = await failureOf(catalog.getProduct(GET_PRODUCT, { deadlineMs: 600 }));

    expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(error.code);
    expect(server.received.length).toBeGreaterThan(1);
    expect(server.received.length).toBeLessThan(10_000);
    // Every attempt shares the call's one deadline (give or take the transit time grpc-timeout does not count).
    for (const attempt of server.received) expect(attempt.deadline).toBeLessThanOrEqual(deadline + 250);
  });
});

describe("circuit breaker", () => {
  it("opens after consecutive failures, then fails at once without reaching the server", async () => {
    const server = await startServer(CatalogServiceService, "getProduct", fail(grpc.status.UNAVAILABLE));
    const catalog = client(CatalogServiceService, server.address, {
      target: "opens-test",
      retry: false,
      breaker: { consecutiveFailures: 3, halfOpenAfterMs: 60_000 },
    });
    expect(await breakerGauge("opens-test")).toBe(CIRCUIT_STATE.closed);

    for (let i = 0; i < 3; i++) expect((await failureOf(catalog.getProduct(GET_PRODUCT))).code).toBe(grpc.status.UNAVAILABLE);
    expect(catalog.circuit()).toBe("open");
    expect(await breakerGauge("opens-test")).toBe(CIRCUIT_STATE.open);

    const fast = await failureOf(catalog.getProduct(GET_PRODUCT));
    expect(fast.code).toBe(grpc.status.UNAVAILABLE);
    expect(fast.details).toBe("opens-test circuit open");
    expect(server.received).toHaveLength(3);
  });

  it("is not opened by client errors such as NOT_FOUND", async () => {
    const server = await startServer(CatalogServiceService, "getProduct", fail(grpc.status.NOT_FOUND));
    const catalog = client(CatalogServiceService, server.address, { target: "not-found-test", breaker: { consecutiveFailures: 3 } });

    for (let i = 0; i < 10; i++) expect((await failureOf(catalog.getProduct(GET_PRODUCT))).code).toBe(grpc.status.NOT_FOUND);
    expect(server.received).toHaveLength(10);
    expect(catalog.circuit()).toBe("closed");
    expect(await breakerGauge("not-found-test")).toBe(CIRCUIT_STATE.closed);
  });

  it("is not opened by an UNAVAILABLE the downstream answered on purpose (trouble further down)", async () => {
    // What orders answers while payments is down: orders itself is up, and its own breaker guards payments.
    const answered = toStatus(unavailable("payments is unavailable (UNAVAILABLE: payments circuit open)"));
    const server = await startServer(CatalogServiceService, "getProduct", async () => new Failure(grpc.status.UNAVAILABLE, answered.details, answered.metadata));
    const catalog = client(CatalogServiceService, server.address, { target: "answered-test", retry: false, breaker: { consecutiveFailures: 3 } });

    for (let i = 0; i < 6; i++) expect((await failureOf(catalog.getProduct(GET_PRODUCT))).code).toBe(grpc.status.UNAVAILABLE);
    expect(server.received).toHaveLength(6);
    expect(catalog.circuit()).toBe("closed");
  });

  it("half-opens, and closes when the server is back; the gauge and the log follow", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger("resilience-test", "info", { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const first = await startServer(CatalogServiceService, "getProduct", succeed);
    const catalog = client(CatalogServiceService, first.address, {
      target: "recovers-test",
      logger,
      retry: false,
      breaker: { consecutiveFailures: 3, halfOpenAfterMs: 300 },
    });
    await catalog.getProduct(GET_PRODUCT);

    // The server goes away: connection refused is UNAVAILABLE, three in a row open the circuit.
    first.stop();
    while (catalog.circuit() !== "open") expect((await failureOf(catalog.getProduct(GET_PRODUCT))).code).toBe(grpc.status.UNAVAILABLE);
    expect(await breakerGauge("recovers-test")).toBe(CIRCUIT_STATE.open);

    // It comes back on the same port, holding each call until the test lets it answer.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const second = await startServer(CatalogServiceService, "getProduct", async () => (await released, PRODUCT), first.port);

    // Calls fail at once until the breaker lets a trial through (and the channel has reconnected).
    let trial: Promise<unknown>;
    for (;;) {
      const arrived = second.received.length;
      trial = catalog.getProduct(GET_PRODUCT).catch((error: unknown) => error);
      await Promise.race([trial, until(() => second.received.length > arrived)]);
      if (second.received.length > arrived) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(catalog.circuit()).toBe("half_open");
    expect(await breakerGauge("recovers-test")).toBe(CIRCUIT_STATE.half_open);

    release();
    expect(await trial).toEqual(PRODUCT);
    expect(catalog.circuit()).toBe("closed");
    expect(await breakerGauge("recovers-test")).toBe(CIRCUIT_STATE.closed);
    expect(await catalog.getProduct(GET_PRODUCT)).toEqual(PRODUCT);

    const states = lines.filter((line) => line.target === "recovers-test").map((line) => line.circuit);
    expect(states).toContain("open");
    expect(states).toContain("half_open");
    expect(states.at(-1)).toBe("closed");
  });
});

describe("bulkhead", () => {
  it("limits the calls in flight to one downstream and refuses the excess with RESOURCE_EXHAUSTED", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const server = await startServer(CatalogServiceService, "getProduct", async () => (await released, PRODUCT));
    const catalog = client(CatalogServiceService, server.address, { bulkhead: { maxConcurrent: 2, maxQueued: 1 } });

    const admitted = [catalog.getProduct(GET_PRODUCT), catalog.getProduct(GET_PRODUCT), catalog.getProduct(GET_PRODUCT)];
    const refused = await failureOf(catalog.getProduct(GET_PRODUCT));
    expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);

    await until(() => server.received.length === 2);
    release();
    expect(await Promise.all(admitted)).toEqual([PRODUCT, PRODUCT, PRODUCT]);
    expect(server.received).toHaveLength(3);
  });
});

describe("deadline propagation", () => {
  /** A front service whose handler calls the back server with a client whose own default is far longer. */
  async function frontOf(back: TestServer, outgoing: (downstream: ReturnType<typeof createClient<typeof HealthService>>) => Promise<unknown>) {
    const downstream = client(HealthService, back.address, { deadlineMs: 30_000 });
    const server = new grpc.Server();
    addUnaryService(
      server,
      CatalogServiceService,
      () => ({
        getProduct: async () => {
          await outgoing(downstream);
          return PRODUCT;
        },
        batchGetProducts: async () => ({ products: [], maxAge: undefined }),
        listProducts: async () => ({ products: [], nextPageToken: "" }),
      }),
      createLogger("front", "silent"),
    );
    const port = await bindServer(server, "127.0.0.1:0");
    cleanup.push(() => server.forceShutdown());
    return client(CatalogServiceService, `127.0.0.1:${port}`, { retry: false });
  }

  const serving = async () => ({ status: HealthCheckResponse_ServingStatus.SERVING });

  it("an incoming deadline shorter than the client's default reaches the downstream", async () => {
    const back = await startServer(HealthService, "check", serving);
    const front = await frontOf(back, (health) => health.check({ service: "" }));

    const incoming = Date.now() + 2000;
    await front.getProduct(GET_PRODUCT, { deadlineMs: 2000 });

    expect(back.received).toHaveLength(1);
    // Without propagation it would be now + 30 s.
    expect(back.received[0]!.deadline).toBeLessThanOrEqual(incoming + 250);
  });

  it("a compensation marked outlivesCaller keeps its own budget", async () => {
    const back = await startServer(HealthService, "check", serving);
    const front = await frontOf(back, (health) => health.check({ service: "" }, { deadlineMs: 20_000, outlivesCaller: true }));

    const incoming = Date.now() + 2000;
    await front.getProduct(GET_PRODUCT, { deadlineMs: 2000 });

    expect(back.received[0]!.deadline).toBeGreaterThan(incoming + 5000);
  });

  it("a call made after the incoming deadline passed fails DEADLINE_EXCEEDED without being sent", async () => {
    const back = await startServer(HealthService, "check", serving);
    let outcome: unknown;
    const front = await frontOf(back, async (health) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      outcome = await health.check({ service: "" }).catch((error: unknown) => error);
    });

    expect((await failureOf(front.getProduct(GET_PRODUCT, { deadlineMs: 200 }))).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await until(() => outcome !== undefined);
    expect((outcome as grpc.ServiceError).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(back.received).toHaveLength(0);
  });
});

/** Resolves once `condition` holds (checked every 10 ms); the test's own timeout bounds it. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

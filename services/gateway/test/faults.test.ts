import { type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { NotificationServiceService } from "@bazaar/gen/bazaar/notifications/v1/notifications";
import { OrderServiceService, type PlaceOrderRequest, type PlaceOrderResponse } from "@bazaar/gen/bazaar/orders/v1/orders";
import { afterEach, describe, expect, it } from "vitest";
import { bearer, type ErrorJson, type FakeServer, postJson, startFakeServer, startTestGateway } from "./support.js";

// What HTTP clients see when the mesh misbehaves: a service that is gone, one
// that never answers, and the gateway itself shutting down mid-request. Each
// test has its own gateway and fakes, so stopping one breaks nothing else.

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fake(definition: Parameters<typeof startFakeServer>[0], implementation: Parameters<typeof startFakeServer>[1]): Promise<FakeServer> {
  const server = await startFakeServer(definition, implementation);
  cleanups.push(() => server.stop());
  return server;
}

async function gatewayWith(env: NodeJS.ProcessEnv) {
  const gateway = await startTestGateway(env);
  cleanups.push(() => gateway.stop());
  return gateway;
}

/** A PlaceOrder that tells the test when it has arrived, and answers only when released. */
function heldPlaceOrder() {
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => (arrived = resolve));
  const held: Array<() => void> = [];
  const placeOrder = (call: ServerUnaryCall<PlaceOrderRequest, unknown>, callback: sendUnaryData<PlaceOrderResponse>) => {
    held.push(() => callback(null, { order: undefined }));
    arrived();
  };
  return { placeOrder, arrival, release: () => held.splice(0).forEach((answer) => answer()) };
}

const order = { customer_id: "cus_1", items: [{ product_id: "v60-dripper", quantity: 1 }], payment_token: "tok_visa" };

describe("downstream faults", () => {
  it("answers 503 UNAVAILABLE once the service behind a route is gone", async () => {
    const notifications = await fake(NotificationServiceService, {
      listNotifications: (_call: unknown, callback: sendUnaryData<unknown>) => callback(null, { notifications: [], nextPageToken: "" }),
    });
    const gateway = await gatewayWith({ NOTIFICATIONS_ADDR: notifications.address });
    const url = `${gateway.url}/api/customers/cus_1/notifications`;
    const asCustomer = { headers: await bearer("cus_1") };
    expect((await fetch(url, asCustomer)).status).toBe(200);

    notifications.stop();
    const response = await fetch(url, asCustomer);
    expect(response.status).toBe(503);
    expect(((await response.json()) as ErrorJson).error.code).toBe("UNAVAILABLE");
  });

  it("answers 504 DEADLINE_EXCEEDED when a service never answers within REQUEST_TIMEOUT_MS", async () => {
    const silent = heldPlaceOrder();
    cleanups.push(silent.release);
    const orders = await fake(OrderServiceService, { placeOrder: silent.placeOrder });
    const gateway = await gatewayWith({ ORDERS_ADDR: orders.address, REQUEST_TIMEOUT_MS: "200" });

    const response = await postJson(`${gateway.url}/api/orders`, order, { "idempotency-key": "key-deadline", ...(await bearer("cus_1")) });
    expect(response.status).toBe(504);
    expect(((await response.json()) as ErrorJson).error.code).toBe("DEADLINE_EXCEEDED");
  });
});

describe("graceful shutdown", () => {
  it("finishes the in-flight request, refuses new connections, then stops", async () => {
    const slow = heldPlaceOrder();
    const orders = await fake(OrderServiceService, { placeOrder: slow.placeOrder });
    const gateway = await gatewayWith({ ORDERS_ADDR: orders.address, SHUTDOWN_GRACE_MS: "30000" });

    const inFlight = postJson(`${gateway.url}/api/orders`, order, { "idempotency-key": "key-in-flight", ...(await bearer("cus_1")) });
    await slow.arrival;
    const stopped = gateway.stop();

    await expect(fetch(`${gateway.url}/healthz`)).rejects.toThrow();
    slow.release();
    const response = await inFlight;
    expect(response.status).toBe(201);
    expect(response.headers.get("connection")).toBe("close");
    await stopped;
  });
});

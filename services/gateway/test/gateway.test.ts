import { status, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { NotificationKind, NotificationServiceService, type ListNotificationsRequest } from "@bazaar/gen/bazaar/notifications/v1/notifications";
import {
  type CancelOrderRequest,
  type Order,
  OrderServiceService,
  OrderStatus,
  type OrderServiceServer,
  type PlaceOrderRequest,
} from "@bazaar/gen/bazaar/orders/v1/orders";
import { invalid } from "@bazaar/runtime/errors";
import { toStatus } from "@bazaar/runtime/grpc/status";
import { startTestService } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogService } from "../../catalog/src/service.js";
import { migrationsDir } from "../../catalog/src/store.js";
import { bearer, type ErrorJson, failWith, type FakeServer, postJson, startFakeServer, startTestGateway } from "./support.js";

// The gateway as HTTP clients see it: in-process on a free port, in front of a
// REAL catalog (gRPC + in-memory PostgreSQL) and small FAKE orders and
// notifications services (those are being built elsewhere; fakes at the edges).
// Order and notification routes are called as customer cus_1 (auth.test.ts
// covers the tokens themselves).

let catalog: Awaited<ReturnType<typeof startTestService>>;
let orders: FakeServer;
let notifications: FakeServer;
let gateway: Awaited<ReturnType<typeof startTestGateway>>;
const placed: PlaceOrderRequest[] = [];
const cancelled: CancelOrderRequest[] = [];
const listed: ListNotificationsRequest[] = [];

function orderOf(request: PlaceOrderRequest): Order {
  return {
    id: "ord_1",
    customerId: request.customerId,
    lines: request.items.map((item) => ({
      productId: item.productId,
      productName: "V60 Dripper",
      quantity: item.quantity,
      unitPrice: { currencyCode: "EUR", minorUnits: 2500 },
      lineTotal: { currencyCode: "EUR", minorUnits: 2500 * item.quantity },
    })),
    total: { currencyCode: "EUR", minorUnits: 2500 },
    status: OrderStatus.ORDER_STATUS_CONFIRMED,
    statusReason: "",
    paymentId: "pay_1",
    createdAt: new Date("2026-01-02T03:04:05.000Z"),
    updatedAt: new Date("2026-01-02T03:04:05.000Z"),
  };
}

/** Orders with canned answers; the payment token picks the failure, as a test card number would. */
const fakeOrders: OrderServiceServer = {
  placeOrder: (call: ServerUnaryCall<PlaceOrderRequest, unknown>, callback: sendUnaryData<{ order: Order }>) => {
    placed.push(call.request);
    if (call.request.paymentToken === "tok_chargeDeclined") return callback(failWith(status.FAILED_PRECONDITION, "card declined"));
    if (call.request.paymentToken === "tok_broken") return callback(failWith(status.INTERNAL, "boom at 10.0.0.7"));
    const badQuantity = call.request.items.findIndex((item) => item.quantity < 1);
    if (badQuantity >= 0) {
      return callback(toStatus(invalid([{ field: `items[${badQuantity}].quantity`, description: "must be between 1 and 100" }])));
    }
    callback(null, { order: orderOf(call.request) });
  },
  // cus_1's orders: the gateway reads one before it cancels it.
  getOrder: (call, callback) =>
    ["ord_1", "ord_2"].includes(call.request.orderId)
      ? callback(null, { order: { ...orderOf({ customerId: "cus_1", items: [], paymentToken: "", idempotencyKey: "" }), id: call.request.orderId } })
      : callback(failWith(status.NOT_FOUND, `order ${call.request.orderId} not found`)),
  listOrders: (_call, callback) => callback(failWith(status.UNIMPLEMENTED, "not in this fake")),
  cancelOrder: (call, callback) => {
    cancelled.push(call.request);
    const order = orderOf({ customerId: "cus_1", items: [], paymentToken: "", idempotencyKey: "" });
    callback(null, { order: { ...order, id: call.request.orderId, status: OrderStatus.ORDER_STATUS_CANCELLED, statusReason: call.request.reason } });
  },
};

beforeAll(async () => {
  catalog = await startTestService("catalog", { migrationsDir, services: [catalogService] });
  orders = await startFakeServer(OrderServiceService, fakeOrders);
  notifications = await startFakeServer(NotificationServiceService, {
    listNotifications: (call: ServerUnaryCall<ListNotificationsRequest, unknown>, callback: sendUnaryData<unknown>) => {
      listed.push(call.request);
      callback(null, {
        notifications: [
          {
            id: "ntf_1",
            customerId: call.request.customerId,
            orderId: "ord_1",
            kind: NotificationKind.NOTIFICATION_KIND_ORDER_CONFIRMED,
            message: "Your order ord_1 is confirmed.",
            sourceEventId: "evt_1",
            createdAt: new Date("2026-01-02T03:04:05.000Z"),
          },
        ],
        nextPageToken: "next",
      });
    },
  });
  gateway = await startTestGateway({ CATALOG_ADDR: catalog.address, ORDERS_ADDR: orders.address, NOTIFICATIONS_ADDR: notifications.address });
});
afterAll(async () => {
  await gateway?.stop();
  orders?.stop();
  notifications?.stop();
  await catalog?.stop();
});

const get = (path: string) => fetch(`${gateway.url}${path}`);
/** GET or POST as customer `customer` (cus_1 unless said). */
const getAs = async (path: string, customer = "cus_1") => fetch(`${gateway.url}${path}`, { headers: await bearer(customer) });
const postAs = async (path: string, body: unknown, customer = "cus_1") => postJson(`${gateway.url}${path}`, body, await bearer(customer));
const placeOrder = async (body: unknown, headers: Record<string, string> = { "idempotency-key": "key-0001" }, customer = "cus_1") =>
  postJson(`${gateway.url}/api/orders`, body, { ...(await bearer(customer)), ...headers });
const aGoodOrder = { customer_id: "cus_1", items: [{ product_id: "v60-dripper", quantity: 1 }], payment_token: "tok_visa" };

async function errorOf(response: Response): Promise<ErrorJson["error"]> {
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  return ((await response.json()) as ErrorJson).error;
}

describe("products (real catalog)", () => {
  it("lists a page with the proto3 JSON shape, and follows next_page_token", async () => {
    const first = await get("/api/products?page_size=3");
    expect(first.status).toBe(200);
    const page = (await first.json()) as { products: Array<{ id: string; price: unknown }>; nextPageToken: string };
    expect(page.products).toHaveLength(3);
    expect(page.products[0]!.price).toEqual({ currencyCode: "EUR", minorUnits: expect.any(Number) });
    expect(page.nextPageToken).not.toBe("");

    const second = (await (await get(`/api/products?page_size=3&page_token=${encodeURIComponent(page.nextPageToken)}`)).json()) as typeof page;
    expect(second.products[0]!.id > page.products[2]!.id).toBe(true);
  });

  it("gets one product", async () => {
    const response = await get("/api/products/espresso-machine");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      product: {
        id: "espresso-machine",
        name: "Dual Boiler Espresso Machine",
        description: expect.any(String),
        price: { currencyCode: "EUR", minorUnits: 189900 },
        categories: ["machines", "espresso"],
      },
    });
  });

  it("answers 404 NOT_FOUND for an unknown product", async () => {
    const response = await get("/api/products/no-such-product");
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toEqual({ code: "NOT_FOUND", message: expect.stringContaining("no-such-product") });
  });

  it("passes the catalog's field violations through as 400 for a bad id", async () => {
    const response = await get("/api/products/NOT%20A%20SLUG");
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.field_violations).toEqual([{ field: "id", description: expect.any(String) }]);
  });

  it("passes page_size range errors from the catalog through, naming page_size", async () => {
    const response = await get("/api/products?page_size=500");
    expect(response.status).toBe(400);
    expect((await errorOf(response)).field_violations?.map((v) => v.field)).toEqual(["page_size"]);
  });

  it.each(["abc", "2.5", "1e3", "99999999999"])("refuses page_size=%s itself with 400 naming page_size", async (size) => {
    const response = await get(`/api/products?page_size=${size}`);
    expect(response.status).toBe(400);
    expect((await errorOf(response)).field_violations).toEqual([{ field: "page_size", description: expect.any(String) }]);
  });
});

describe("POST /api/orders", () => {
  it("places an order: 201, the order, a Location, and the Idempotency-Key as idempotency_key", async () => {
    const response = await placeOrder(aGoodOrder, { "idempotency-key": "key-happy-path" });
    expect(response.status).toBe(201);
    expect(response.headers.get("location")).toBe("/api/orders/ord_1");
    const { order } = (await response.json()) as { order: Record<string, unknown> };
    expect(order).toMatchObject({
      id: "ord_1",
      customerId: "cus_1",
      status: "ORDER_STATUS_CONFIRMED",
      total: { currencyCode: "EUR", minorUnits: 2500 },
      createdAt: "2026-01-02T03:04:05.000Z",
    });
    expect(placed.at(-1)).toEqual({
      customerId: "cus_1",
      items: [{ productId: "v60-dripper", quantity: 1 }],
      paymentToken: "tok_visa",
      idempotencyKey: "key-happy-path",
    });
  });

  it("accepts lowerCamelCase names too", async () => {
    const body = { customerId: "cus_2", items: [{ productId: "chemex-6-cup", quantity: 2 }], paymentToken: "tok_visa" };
    expect((await placeOrder(body, { "idempotency-key": "key-camel-case" }, "cus_2")).status).toBe(201);
    expect(placed.at(-1)).toMatchObject({ customerId: "cus_2", items: [{ productId: "chemex-6-cup", quantity: 2 }], paymentToken: "tok_visa" });
  });

  it("answers 400 naming the header when Idempotency-Key is missing", async () => {
    const before = placed.length;
    const response = await placeOrder(aGoodOrder, {});
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("Idempotency-Key") });
    expect(placed.length).toBe(before);
  });

  it("answers 400 for malformed JSON", async () => {
    const response = await placeOrder('{"customer_id": "cus_1",');
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/^body is not valid JSON: /) });
  });

  it("answers 400 naming every field of the wrong type", async () => {
    const response = await placeOrder({ customer_id: 42, items: [{ product_id: "v60-dripper", quantity: "two" }, "x"], extra: true });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.field_violations?.map((v) => v.field)).toEqual(["customer_id", "items[0].quantity", "items[1]"]);
    expect(error.message).toContain("items[0].quantity");
  });

  it("answers 400 naming items when it is not an array, and when the body is not an object", async () => {
    const notArray = await placeOrder({ ...aGoodOrder, items: { product_id: "v60-dripper" } });
    expect(notArray.status).toBe(400);
    expect((await errorOf(notArray)).field_violations).toEqual([{ field: "items", description: expect.any(String) }]);
    const notObject = await placeOrder([aGoodOrder]);
    expect(notObject.status).toBe(400);
  });

  it("answers 413 for a body over 64 KiB, with a declared length or chunked", async () => {
    const huge = JSON.stringify({ ...aGoodOrder, padding: "x".repeat(70 * 1024) });
    const declared = await placeOrder(huge);
    expect(declared.status).toBe(413);
    expect((await errorOf(declared)).code).toBe("RESOURCE_EXHAUSTED");

    const bytes = new TextEncoder().encode(huge);
    const chunked = await fetch(`${gateway.url}/api/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "key-chunked", ...(await bearer("cus_1")) },
      body: new ReadableStream({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 8192) controller.enqueue(bytes.slice(at, at + 8192));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it("answers 415 for a body that is not JSON", async () => {
    const response = await fetch(`${gateway.url}/api/orders`, {
      method: "POST",
      headers: { "content-type": "text/plain", "idempotency-key": "key-0415", ...(await bearer("cus_1")) },
      body: JSON.stringify(aGoodOrder),
    });
    expect(response.status).toBe(415);
  });

  it("passes the service's field violations through as 400", async () => {
    const response = await placeOrder({ ...aGoodOrder, items: [{ product_id: "v60-dripper", quantity: 0 }] });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).field_violations).toEqual([{ field: "items[0].quantity", description: "must be between 1 and 100" }]);
  });

  it("answers 409 for FAILED_PRECONDITION (card declined)", async () => {
    const response = await placeOrder({ ...aGoodOrder, payment_token: "tok_chargeDeclined" });
    expect(response.status).toBe(409);
    expect(await errorOf(response)).toEqual({ code: "FAILED_PRECONDITION", message: "card declined" });
  });

  it("answers 502 for a downstream fault, without its internals", async () => {
    const response = await placeOrder({ ...aGoodOrder, payment_token: "tok_broken" });
    expect(response.status).toBe(502);
    const error = await errorOf(response);
    expect(error.code).toBe("INTERNAL");
    expect(error.message).not.toContain("10.0.0.7");
  });
});

describe("orders by id", () => {
  it("gets an order", async () => {
    const response = await getAs("/api/orders/ord_1");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ order: { id: "ord_1", status: "ORDER_STATUS_CONFIRMED" } });
  });

  it("answers 404 for an unknown order", async () => {
    const response = await getAs("/api/orders/ord_missing");
    expect(response.status).toBe(404);
    expect((await errorOf(response)).message).toContain("ord_missing");
  });

  it("cancels with a reason, or with no body at all", async () => {
    const withReason = await postAs("/api/orders/ord_1/cancel", { reason: "changed my mind" });
    expect(withReason.status).toBe(200);
    expect(await withReason.json()).toMatchObject({ order: { id: "ord_1", status: "ORDER_STATUS_CANCELLED", statusReason: "changed my mind" } });
    expect(cancelled.at(-1)).toEqual({ orderId: "ord_1", reason: "changed my mind" });

    const bare = await fetch(`${gateway.url}/api/orders/ord_2/cancel`, { method: "POST", headers: await bearer("cus_1") });
    expect(bare.status).toBe(200);
    expect(cancelled.at(-1)).toEqual({ orderId: "ord_2", reason: "" });
  });

  it("answers 400 naming reason when it is not a string", async () => {
    const response = await postAs("/api/orders/ord_1/cancel", { reason: ["no"] });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).field_violations).toEqual([{ field: "reason", description: expect.any(String) }]);
  });
});

describe("notifications", () => {
  it("lists a customer's notifications, passing paging through", async () => {
    const response = await getAs("/api/customers/cus_1/notifications?page_size=5&page_token=abc");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      notifications: [
        {
          id: "ntf_1",
          customerId: "cus_1",
          orderId: "ord_1",
          kind: "NOTIFICATION_KIND_ORDER_CONFIRMED",
          message: "Your order ord_1 is confirmed.",
          sourceEventId: "evt_1",
          createdAt: "2026-01-02T03:04:05.000Z",
        },
      ],
      nextPageToken: "next",
    });
    expect(listed.at(-1)).toEqual({ customerId: "cus_1", pageSize: 5, pageToken: "abc" });
  });
});

describe("routing and probes", () => {
  it("answers /healthz and /readyz", async () => {
    expect((await get("/healthz")).status).toBe(200);
    expect((await get("/readyz")).status).toBe(200);
  });

  it.each(["/nope", "/api", "/api/products/", "/api/orders/ord_1/cancel/again"])("answers 404 JSON for %s", async (path) => {
    const response = await get(path);
    expect(response.status).toBe(404);
    expect((await errorOf(response)).code).toBe("NOT_FOUND");
  });

  it("answers 405 with Allow for a known path and the wrong method", async () => {
    const response = await fetch(`${gateway.url}/api/products`, { method: "DELETE" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
    expect((await fetch(`${gateway.url}/api/orders`, { method: "GET" })).headers.get("allow")).toBe("POST");
  });

  it("answers 400 for a path parameter that is not valid percent-encoding", async () => {
    expect((await getAs("/api/orders/%E0%A4%A")).status).toBe(400);
  });
});

import { randomUUID } from "node:crypto";
import { status, type ServiceError } from "@grpc/grpc-js";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { CatalogServiceService, type Product } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { InventoryServiceService, ReservationStatus } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { OrderCancelled, OrderPlaced, OrderRejected } from "@bazaar/gen/bazaar/orders/v1/events";
import { type Order, OrderServiceService, OrderStatus, type PlaceOrderRequest } from "@bazaar/gen/bazaar/orders/v1/orders";
import { PaymentServiceService, PaymentStatus } from "@bazaar/gen/bazaar/payments/v1/payments";
import { type Duration } from "@bazaar/gen/google/protobuf/duration";
import { type Database } from "@bazaar/runtime/db/database";
import { type Outbox } from "@bazaar/runtime/events/outbox";
import { notFound, preconditionFailed, unavailable } from "@bazaar/runtime/errors";
import { fieldViolationsOf } from "@bazaar/runtime/grpc/status";
import { createClient, type PromiseClient } from "@bazaar/runtime/grpc/client";
import { encodePageToken } from "@bazaar/runtime/pagination";
import { type Implementation } from "@bazaar/runtime/service";
import { failureOf, startTestService } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestNats, type TestNats } from "../../../test/support/nats.js";
import { freePort } from "../../../lib/test/support/process.js";
import { type Downstream } from "../src/place-order.js";
import { rejectStalledOrders, STALLED_REASON } from "../src/recovery.js";
import { orders as ordersModule } from "../src/module.js";
import { orderServiceWith } from "../src/service.js";
import { migrationsDir } from "../src/store.js";
import { type Fake, neverAnswers, startFake } from "./fakes.js";

// Orders as clients see it: real gRPC on a free port, real migrations on an
// database of its own on the test cluster (PostgreSQL), a real nats-server so the outbox relay really
// publishes, and fake catalog, inventory and payments servers at its edges.

/**
 * PlaceOrder's whole budget in this test. Small enough that "payments never answers"
 * takes seconds, large enough for a slow, shared CI machine (1 s proved too tight).
 */
const BUDGET_MS = 4000;

const PRODUCTS: Product[] = [
  { id: "v60-dripper", name: "Hario V60 Dripper", description: "", price: { currencyCode: "EUR", minorUnits: 2250 }, categories: [] },
  { id: "chemex-6-cup", name: "Chemex 6-Cup", description: "", price: { currencyCode: "EUR", minorUnits: 4800 }, categories: [] },
  { id: "aeropress-original", name: "AeroPress Original", description: "", price: { currencyCode: "EUR", minorUnits: 3999 }, categories: [] },
  { id: "kettle-usd", name: "Gooseneck Kettle", description: "", price: { currencyCode: "USD", minorUnits: 6500 }, categories: [] },
  // Only the test of kept answers orders it: no other test sees it kept.
  { id: "hand-grinder", name: "Hand Grinder", description: "", price: { currencyCode: "EUR", minorUnits: 8900 }, categories: [] },
];

/** How long the fake catalog says its answers stay fresh: unset (ask every time) but in the one test that sets it. */
let catalogMaxAge: Duration | undefined;

/** The payment id the fake payments service gives an order: valid, and predictable by the test. */
const paymentIdFor = (orderId: string) => `pay_${orderId.slice("ord_".length)}`;

let nats: TestNats;
let catalog: Fake<typeof CatalogServiceService>;
let inventory: Fake<typeof InventoryServiceService>;
let payments: Fake<typeof PaymentServiceService>;
let downstream: Downstream;
let service: Awaited<ReturnType<typeof startTestService>>;
/** The service's own database, to look at its outbox and to plant rows a test cannot make through the API. */
let db: Database;
/** The service's outbox, for the stalled-order sweeper a test runs at the moment it chooses. */
let outbox: Outbox;
let orders: PromiseClient<typeof OrderServiceService>;
let connection: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  [nats, catalog, inventory, payments] = await Promise.all([
    startTestNats(),
    startFake(CatalogServiceService, {
      getProduct: ({ id }) => {
        const product = PRODUCTS.find((p) => p.id === id);
        if (!product) throw notFound(`product ${id} not found`);
        return { product };
      },
      // As the real catalog: NOT_FOUND names the first unknown id.
      batchGetProducts: ({ ids }) => {
        const missing = ids.find((id) => !PRODUCTS.some((p) => p.id === id));
        if (missing !== undefined) throw notFound(`product ${missing} not found`);
        return { products: ids.map((id) => PRODUCTS.find((p) => p.id === id)!), maxAge: catalogMaxAge };
      },
      listProducts: () => ({ products: PRODUCTS, nextPageToken: "" }),
    }),
    startFake(InventoryServiceService, {
      getStock: ({ productId }) => ({ stock: { productId, available: 10, reserved: 0 } }),
      reserveStock: ({ orderId, lines }) => ({ reservation: { orderId, lines, status: ReservationStatus.RESERVATION_STATUS_HELD } }),
      releaseReservation: ({ orderId }) => ({ reservation: { orderId, lines: [], status: ReservationStatus.RESERVATION_STATUS_RELEASED } }),
      commitReservation: ({ orderId }) => ({ reservation: { orderId, lines: [], status: ReservationStatus.RESERVATION_STATUS_COMMITTED } }),
    }),
    startFake(PaymentServiceService, {
      charge: ({ orderId, customerId, amount }) => ({
        payment: {
          id: paymentIdFor(orderId),
          orderId,
          customerId,
          amount,
          status: PaymentStatus.PAYMENT_STATUS_CAPTURED,
          declineReason: "",
          createdAt: new Date(),
          updatedAt: new Date(),
        },
      }),
      refund: () => {
        throw preconditionFailed("not used by these tests");
      },
      getPayment: ({ paymentId }) => {
        throw notFound(`payment ${paymentId} not found`);
      },
    }),
  ]);
  downstream = {
    catalog: createClient(CatalogServiceService, catalog.address, { deadlineMs: BUDGET_MS }),
    inventory: createClient(InventoryServiceService, inventory.address, { deadlineMs: BUDGET_MS }),
    payments: createClient(PaymentServiceService, payments.address, { deadlineMs: BUDGET_MS }),
  };
  const ordersService = orderServiceWith(downstream, BUDGET_MS);
  const seeingTheDatabase: Implementation = {
    ...ordersService,
    create: (deps) => {
      db = deps.db;
      outbox = deps.outbox;
      return ordersService.create(deps);
    },
  };
  service = await startTestService(
    "orders",
    { migrationsDir, services: [seeingTheDatabase], events: { publishes: ordersModule.publishes } },
    { NATS_URL: nats.url },
  );
  orders = createClient(OrderServiceService, service.address, { deadlineMs: 10_000 });
  connection = await connect({ servers: nats.url });
  jsm = await jetstreamManager(connection);
});

afterAll(async () => {
  orders?.close();
  await service?.stop();
  for (const client of Object.values(downstream ?? {})) client.close();
  for (const fake of [catalog, inventory, payments]) fake?.stop();
  await connection?.close();
  await nats?.stop();
});

beforeEach(() => {
  for (const fake of [catalog, inventory, payments]) fake.reset();
  catalogMaxAge = undefined;
});

// --- helpers ---------------------------------------------------------------

/** A customer of one test, so tests never see each other's orders. */
const newCustomer = () => `cust-${randomUUID().slice(0, 8)}`;

const placeRequest = (overrides: Partial<PlaceOrderRequest> = {}): PlaceOrderRequest => ({
  customerId: newCustomer(),
  items: [
    { productId: "v60-dripper", quantity: 3 },
    { productId: "chemex-6-cup", quantity: 1 },
  ],
  paymentToken: "tok_visa",
  idempotencyKey: `key-${randomUUID()}`,
  ...overrides,
});

async function place(overrides: Partial<PlaceOrderRequest> = {}): Promise<Order> {
  const { order } = await orders.placeOrder(placeRequest(overrides));
  return order!;
}

/** The order id orders used with its dependencies, for a call that failed (and so returned none). */
function orderIdSentToInventory(): string {
  const [reserve, ...more] = inventory.requests("reserveStock");
  expect(more).toEqual([]);
  return reserve!.orderId;
}

interface Published<T> {
  eventId: string;
  eventType: string;
  event: T;
}

/** The ORDERS stream's messages read so far (a stream only grows here): each look reads only the new ones. */
const streamRead: Array<{ subject: string; eventId: string; eventType: string; data: Uint8Array }> = [];
let streamReadThrough = 0;

/** Every message on `subject` in the ORDERS stream, decoded. */
async function publishedOn<T>(subject: string, type: { decode(bytes: Uint8Array): T }): Promise<Array<Published<T>>> {
  const info = await jsm.streams.info("ORDERS").catch(() => undefined);
  if (info && info.state.messages > 0) {
    for (let seq = Math.max(info.state.first_seq, streamReadThrough + 1); seq <= info.state.last_seq; seq++) {
      const message = await jsm.streams.getMessage("ORDERS", { seq }).catch(() => undefined);
      if (!message) break; // read again at the next look
      streamRead.push({
        subject: message.subject,
        eventId: message.header.get("Nats-Msg-Id"),
        eventType: message.header.get("Bazaar-Event-Type"),
        data: message.data,
      });
      streamReadThrough = seq;
    }
  }
  return streamRead
    .filter((message) => message.subject === subject)
    .map((message) => ({ eventId: message.eventId, eventType: message.eventType, event: type.decode(message.data) }));
}

/** Wait until JetStream holds the event about `orderId` on `subject`, and return it (there must be exactly one). */
async function eventAbout<T extends { orderId: string }>(subject: string, type: { decode(bytes: Uint8Array): T }, orderId: string) {
  const about = async () => (await publishedOn(subject, type)).filter((message) => message.event.orderId === orderId);
  await expect.poll(about, { timeout: 10_000 }).toHaveLength(1);
  return (await about())[0]!;
}

/**
 * The ids of the events recorded on `subject` about `orderId`: rows still in the outbox and events
 * already published (the relay deletes a row once JetStream has it). The table is read first: a row
 * gone by then was published before, so the stream, read second, holds it.
 */
async function eventIdsAbout(subject: string, type: { decode(bytes: Uint8Array): { orderId: string } }, orderId: string) {
  const rows = await db.query<{ id: string; payload: Uint8Array }>("select id, payload from outbox where subject = $1 order by seq", [subject]);
  const unsent = rows.filter((row) => type.decode(row.payload).orderId === orderId).map((row) => row.id);
  const published = (await publishedOn(subject, type)).filter((message) => message.event.orderId === orderId).map((message) => message.eventId);
  return [...new Set([...published, ...unsent])];
}

// --- PlaceOrder ------------------------------------------------------------

describe("PlaceOrder", () => {
  it("confirms an order at the catalog's prices, charges its total once by order id, and publishes OrderPlaced", async () => {
    const request = placeRequest();
    const { order } = await orders.placeOrder(request);

    expect(order).toMatchObject({
      id: expect.stringMatching(/^ord_[0-9a-f]{32}$/),
      customerId: request.customerId,
      status: OrderStatus.ORDER_STATUS_CONFIRMED,
      statusReason: "",
      total: { currencyCode: "EUR", minorUnits: 3 * 2250 + 4800 },
      lines: [
        {
          productId: "v60-dripper",
          productName: "Hario V60 Dripper",
          quantity: 3,
          unitPrice: { currencyCode: "EUR", minorUnits: 2250 },
          lineTotal: { currencyCode: "EUR", minorUnits: 6750 },
        },
        {
          productId: "chemex-6-cup",
          productName: "Chemex 6-Cup",
          quantity: 1,
          unitPrice: { currencyCode: "EUR", minorUnits: 4800 },
          lineTotal: { currencyCode: "EUR", minorUnits: 4800 },
        },
      ],
    });
    const orderId = order!.id;
    expect(order!.paymentId).toBe(paymentIdFor(orderId));

    // What the dependencies were asked.
    expect(catalog.requests("batchGetProducts")).toEqual([{ ids: ["v60-dripper", "chemex-6-cup"] }]);
    expect(inventory.requests("reserveStock")).toEqual([
      {
        orderId,
        lines: [
          { productId: "v60-dripper", quantity: 3 },
          { productId: "chemex-6-cup", quantity: 1 },
        ],
      },
    ]);
    expect(payments.requests("charge")).toEqual([
      {
        idempotencyKey: orderId,
        orderId,
        customerId: request.customerId,
        amount: { currencyCode: "EUR", minorUnits: 11550 },
        paymentToken: "tok_visa",
      },
    ]);
    expect(inventory.requests("releaseReservation")).toEqual([]);

    // It is stored as answered.
    expect((await orders.getOrder({ orderId })).order).toEqual(order);

    // OrderPlaced really reaches JetStream, under the outbox row's id.
    const published = await eventAbout("orders.order.placed", OrderPlaced, orderId);
    expect(published.event).toMatchObject({
      orderId,
      customerId: request.customerId,
      total: { currencyCode: "EUR", minorUnits: 11550 },
      paymentId: paymentIdFor(orderId),
      lines: order!.lines,
    });
    expect(published.eventType).toBe("bazaar.orders.v1.OrderPlaced");
    expect(await eventIdsAbout("orders.order.placed", OrderPlaced, orderId)).toEqual([published.eventId]);
    // Published, so its row is gone from the outbox.
    await expect.poll(() => db.query("select id from outbox where id = $1", [published.eventId]), { timeout: 10_000 }).toEqual([]);
  });

  it("prices a basket again from the catalog's last answer while the catalog said it stays fresh", async () => {
    catalogMaxAge = { seconds: 60, nanos: 0 };
    const items = [{ productId: "hand-grinder", quantity: 2 }];
    const first = await place({ items });
    const second = await place({ items });
    expect(catalog.requests("batchGetProducts")).toEqual([{ ids: ["hand-grinder"] }]);
    expect(second.total).toEqual({ currencyCode: "EUR", minorUnits: 17_800 });
    expect(second.lines).toEqual(first.lines);
    // A basket with a product it has not kept is asked for whole.
    await place({ items: [...items, { productId: "v60-dripper", quantity: 1 }] });
    expect(catalog.requests("batchGetProducts")).toEqual([{ ids: ["hand-grinder"] }, { ids: ["hand-grinder", "v60-dripper"] }]);
  });

  it("answers a retry with the same key with the same order, charging once", async () => {
    const request = placeRequest();
    const first = await orders.placeOrder(request);
    const again = await orders.placeOrder(request);
    expect(again).toEqual(first);
    expect(payments.requests("charge")).toHaveLength(1);
    expect(inventory.requests("reserveStock")).toHaveLength(1);
    expect(await eventIdsAbout("orders.order.placed", OrderPlaced, first.order!.id)).toHaveLength(1);
  });

  it("refuses the same key with a different request with FAILED_PRECONDITION", async () => {
    const request = placeRequest();
    await orders.placeOrder(request);
    const error = await failureOf(orders.placeOrder({ ...request, items: [{ productId: "aeropress-original", quantity: 1 }] }));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toContain("idempotency_key");
    expect(payments.requests("charge")).toHaveLength(1);
  });

  it("keeps each customer's keys their own: another customer's same key places another order and learns nothing of the first", async () => {
    const key = `key-${randomUUID()}`;
    const first = await place({ idempotencyKey: key });
    const other = await place({ idempotencyKey: key, items: [{ productId: "aeropress-original", quantity: 1 }] });
    expect(other.id).not.toBe(first.id);
    expect(other.customerId).not.toBe(first.customerId);
    expect(other.status).toBe(OrderStatus.ORDER_STATUS_CONFIRMED);
    expect(payments.requests("charge")).toHaveLength(2);
    // The first customer's retry still finds their own order.
    const again = await orders.placeOrder(placeRequest({ customerId: first.customerId, idempotencyKey: key, items: first.lines.map(({ productId, quantity }) => ({ productId, quantity })) }));
    expect(again.order?.id).toBe(first.id);
  });

  it("rejects an order whose card is declined: releases the stock, records REJECTED, publishes OrderRejected, answers a retry the same", async () => {
    payments.behave.charge = () => {
      throw preconditionFailed("card declined: insufficient funds");
    };
    const request = placeRequest();
    const error = await failureOf(orders.placeOrder(request));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toBe("card declined: insufficient funds");

    const orderId = orderIdSentToInventory();
    expect(inventory.requests("releaseReservation")).toEqual([{ orderId }]);
    const { order } = await orders.getOrder({ orderId });
    expect(order).toMatchObject({
      id: orderId,
      customerId: request.customerId,
      status: OrderStatus.ORDER_STATUS_REJECTED,
      statusReason: "card declined: insufficient funds",
      paymentId: "",
    });

    const published = await eventAbout("orders.order.rejected", OrderRejected, orderId);
    expect(published.event).toMatchObject({ orderId, customerId: request.customerId, reason: "card declined: insufficient funds" });
    expect(await eventIdsAbout("orders.order.rejected", OrderRejected, orderId)).toEqual([published.eventId]);

    // A retry gets the same answer and does not try the card again.
    payments.reset();
    const retried = await failureOf(orders.placeOrder(request));
    expect({ code: retried.code, details: retried.details }).toEqual({ code: error.code, details: error.details });
    expect(payments.requests("charge")).toEqual([]);
  });

  it("rejects an order that is out of stock with FAILED_PRECONDITION, never charging", async () => {
    inventory.behave.reserveStock = () => {
      throw preconditionFailed("not enough stock of v60-dripper: 1 available");
    };
    const error = await failureOf(orders.placeOrder(placeRequest()));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toContain("v60-dripper");
    expect(payments.requests("charge")).toEqual([]);
    const orderId = orderIdSentToInventory();
    expect((await orders.getOrder({ orderId })).order?.status).toBe(OrderStatus.ORDER_STATUS_REJECTED);
  });

  it("rejects an unknown product with NOT_FOUND, releasing whatever was held, never charging", async () => {
    const error = await failureOf(orders.placeOrder(placeRequest({ items: [{ productId: "no-such-grinder", quantity: 1 }] })));
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.details).toContain("no-such-grinder");
    expect(payments.requests("charge")).toEqual([]);
    const orderId = orderIdSentToInventory();
    expect(inventory.requests("releaseReservation")).toEqual([{ orderId }]);
  });

  it("rejects items priced in several currencies with FAILED_PRECONDITION, never charging", async () => {
    const error = await failureOf(
      orders.placeOrder(
        placeRequest({
          items: [
            { productId: "v60-dripper", quantity: 1 },
            { productId: "kettle-usd", quantity: 1 },
          ],
        }),
      ),
    );
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toMatch(/currenc/);
    expect(payments.requests("charge")).toEqual([]);
    expect(inventory.requests("releaseReservation")).toEqual([{ orderId: orderIdSentToInventory() }]);
  });

  it("answers UNAVAILABLE when payments is down, and releases the stock", async () => {
    const closedPort = await freePort();
    const working = downstream.payments;
    downstream.payments = createClient(PaymentServiceService, `127.0.0.1:${closedPort}`, { deadlineMs: BUDGET_MS });
    try {
      const error = await failureOf(orders.placeOrder(placeRequest()));
      expect(error.code).toBe(status.UNAVAILABLE);
      // Customer words: the dead connection's details stay in orders' log.
      expect(error.details).toBe("payments is unavailable");
    } finally {
      downstream.payments.close();
      downstream.payments = working;
    }
    const orderId = orderIdSentToInventory();
    expect(inventory.requests("releaseReservation")).toEqual([{ orderId }]);
    expect((await orders.getOrder({ orderId })).order?.status).toBe(OrderStatus.ORDER_STATUS_REJECTED);
  });

  it("tells a retry after a passing fault the order's fate, a final status, not UNAVAILABLE forever; a new key places it", async () => {
    const closedPort = await freePort();
    const working = downstream.payments;
    downstream.payments = createClient(PaymentServiceService, `127.0.0.1:${closedPort}`, { deadlineMs: BUDGET_MS });
    const request = placeRequest();
    try {
      expect((await failureOf(orders.placeOrder(request))).code).toBe(status.UNAVAILABLE);
    } finally {
      downstream.payments.close();
      downstream.payments = working;
    }
    // Payments is back. The retry the UNAVAILABLE invited learns what happened, once and for all.
    const orderId = orderIdSentToInventory();
    const retry = await failureOf(orders.placeOrder(request));
    expect(retry.code).toBe(status.FAILED_PRECONDITION);
    expect(retry.details).toBe(`order ${orderId} was rejected (payments is unavailable); its stock and any charge are given back: place it again with a new idempotency_key`);
    expect(payments.requests("charge")).toEqual([]);
    const placed = await orders.placeOrder({ ...request, idempotencyKey: `${request.idempotencyKey}-2` });
    expect(placed.order?.status).toBe(OrderStatus.ORDER_STATUS_CONFIRMED);
  });

  it("answers DEADLINE_EXCEEDED when payments never answers within the budget, and releases the stock", async () => {
    payments.behave.charge = neverAnswers;
    const error = await failureOf(orders.placeOrder(placeRequest()));
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    // Orders' own answer, not the test client's deadline (5 s).
    expect(error.details).toBe("payments did not answer in time");
    expect(payments.requests("charge")).toHaveLength(1);
    const orderId = orderIdSentToInventory();
    expect(inventory.requests("releaseReservation")).toEqual([{ orderId }]);
    expect((await orders.getOrder({ orderId })).order).toMatchObject({
      status: OrderStatus.ORDER_STATUS_REJECTED,
      statusReason: "payments did not answer in time",
    });
  });

  it("answers DEADLINE_EXCEEDED when inventory never answers, never charging", async () => {
    inventory.behave.reserveStock = neverAnswers;
    const error = await failureOf(orders.placeOrder(placeRequest()));
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    expect(error.details).toBe("inventory did not answer in time");
    expect(payments.requests("charge")).toEqual([]);
    expect(inventory.requests("releaseReservation")).toEqual([{ orderId: orderIdSentToInventory() }]);
  });

  it("answers INVALID_ARGUMENT naming every bad field, without calling anyone", async () => {
    const error = await failureOf(
      orders.placeOrder({
        customerId: "not a customer",
        items: [
          { productId: "v60-dripper", quantity: 0 },
          { productId: "v60-dripper", quantity: 1 },
        ],
        paymentToken: "",
        idempotencyKey: "short",
      }),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error).map((violation) => violation.field)).toEqual([
      "customer_id",
      "items[0].quantity",
      "items[1].product_id",
      "payment_token",
      "idempotency_key",
    ]);
    expect(catalog.requests("batchGetProducts")).toEqual([]);
    expect(inventory.requests("reserveStock")).toEqual([]);
    expect(payments.requests("charge")).toEqual([]);
  });

  it("takes the same key sent 5 times at once as one order, charged once", async () => {
    // A slow charge keeps the first call in flight while the others arrive.
    const charge = payments.behave.charge;
    payments.behave.charge = async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return charge(request);
    };
    const request = placeRequest();
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => orders.placeOrder(request)));

    const placed = results.flatMap((result) => (result.status === "fulfilled" ? [result.value.order!.id] : []));
    const refused = results.flatMap((result) => (result.status === "rejected" ? [(result.reason as ServiceError).code] : []));
    expect(placed.length).toBeGreaterThanOrEqual(1);
    expect(new Set(placed).size).toBe(1);
    expect(refused.every((code) => code === status.ABORTED)).toBe(true);
    expect(payments.requests("charge")).toHaveLength(1);

    const { orders: stored } = await orders.listOrders({ customerId: request.customerId, pageSize: 0, pageToken: "" });
    expect(stored.map((order) => order.id)).toEqual([placed[0]]);
    // Once it is placed, the key answers with it.
    expect((await orders.placeOrder(request)).order?.id).toBe(placed[0]);
  });
});

// --- GetOrder --------------------------------------------------------------

describe("GetOrder", () => {
  it("answers NOT_FOUND for an order that does not exist", async () => {
    const error = await failureOf(orders.getOrder({ orderId: `ord_${"0".repeat(32)}` }));
    expect(error.code).toBe(status.NOT_FOUND);
  });

  it("answers INVALID_ARGUMENT naming order_id for a malformed id", async () => {
    const error = await failureOf(orders.getOrder({ orderId: "42" }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error)).toEqual([{ field: "order_id", description: expect.any(String) }]);
  });
});

// --- CancelOrder -----------------------------------------------------------

describe("CancelOrder", () => {
  it("cancels a confirmed order and publishes OrderCancelled; cancelling again changes nothing", async () => {
    const placed = await place();
    const { order: cancelled } = await orders.cancelOrder({ orderId: placed.id, reason: "changed my mind" });
    expect(cancelled).toMatchObject({
      id: placed.id,
      status: OrderStatus.ORDER_STATUS_CANCELLED,
      statusReason: "changed my mind",
      total: placed.total,
      paymentId: placed.paymentId,
    });

    const published = await eventAbout("orders.order.cancelled", OrderCancelled, placed.id);
    expect(published.event).toMatchObject({
      orderId: placed.id,
      customerId: placed.customerId,
      paymentId: placed.paymentId,
      reason: "changed my mind",
    });
    expect(await eventIdsAbout("orders.order.cancelled", OrderCancelled, placed.id)).toEqual([published.eventId]);

    const { order: again } = await orders.cancelOrder({ orderId: placed.id, reason: "really" });
    expect(again).toEqual(cancelled);
    expect(await eventIdsAbout("orders.order.cancelled", OrderCancelled, placed.id)).toEqual([published.eventId]);
  });

  it("gives a cancellation without a reason a default one", async () => {
    const placed = await place();
    const { order } = await orders.cancelOrder({ orderId: placed.id, reason: "" });
    expect(order?.statusReason).toBe("cancelled by the customer");
  });

  it("refuses to cancel a rejected order with FAILED_PRECONDITION", async () => {
    payments.behave.charge = () => {
      throw preconditionFailed("card declined");
    };
    await failureOf(orders.placeOrder(placeRequest()));
    const orderId = orderIdSentToInventory();
    const error = await failureOf(orders.cancelOrder({ orderId, reason: "" }));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect((await orders.getOrder({ orderId })).order?.status).toBe(OrderStatus.ORDER_STATUS_REJECTED);
    expect(await eventIdsAbout("orders.order.cancelled", OrderCancelled, orderId)).toEqual([]);
  });

  it("answers NOT_FOUND for an order that does not exist", async () => {
    const error = await failureOf(orders.cancelOrder({ orderId: `ord_${"f".repeat(32)}`, reason: "" }));
    expect(error.code).toBe(status.NOT_FOUND);
  });

  it("answers INVALID_ARGUMENT naming every bad field", async () => {
    const error = await failureOf(orders.cancelOrder({ orderId: "", reason: "x".repeat(501) }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error).map((violation) => violation.field)).toEqual(["order_id", "reason"]);
  });
});

// --- ListOrders ------------------------------------------------------------

describe("ListOrders", () => {
  async function allPages(customerId: string, pageSize: number): Promise<Order[][]> {
    const pages: Order[][] = [];
    let pageToken = "";
    do {
      const page = await orders.listOrders({ customerId, pageSize, pageToken });
      pages.push(page.orders);
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && pages.length < 10);
    return pages;
  }

  it("pages through a customer's orders newest first, each once", async () => {
    const customerId = newCustomer();
    const placedIds: string[] = [];
    for (let i = 0; i < 5; i++) placedIds.push((await place({ customerId })).id);
    await place(); // someone else's

    const pages = await allPages(customerId, 2);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((order) => order.id)).toEqual([...placedIds].reverse());
    expect(pages.flat().every((order) => order.customerId === customerId)).toBe(true);
  });

  it("pages correctly through orders created within the same millisecond (PostgreSQL keeps microseconds)", async () => {
    const customerId = newCustomer();
    const ids = ["ord_" + "3".repeat(32), "ord_" + "2".repeat(32), "ord_" + "1".repeat(32)];
    // Newest first: .000300, .000200, .000100 of the same millisecond.
    for (const [index, id] of ids.entries()) {
      await db.query(
        `insert into orders (id, customer_id, idempotency_key, request_digest, status, status_reason, failure_kind, created_at, updated_at)
         values ($1, $2, $3, '', 'REJECTED', 'planted by the test', 'precondition-failed', $4, $4)`,
        [id, customerId, `key-${id}`, `2026-01-01T00:00:00.000${3 - index}00Z`],
      );
    }
    const pages = await allPages(customerId, 1);
    expect(pages.flat().map((order) => order.id)).toEqual(ids);
  });

  it("answers an empty page for a customer without orders", async () => {
    expect(await orders.listOrders({ customerId: newCustomer(), pageSize: 0, pageToken: "" })).toEqual({ orders: [], nextPageToken: "" });
  });

  it("answers INVALID_ARGUMENT naming every bad field", async () => {
    const error = await failureOf(orders.listOrders({ customerId: "", pageSize: 1000, pageToken: "not-a-token" }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error).map((violation) => violation.field)).toEqual(["customer_id", "page_size", "page_token"]);
  });

  it("answers INVALID_ARGUMENT, not INTERNAL, for a page token with a forged timestamp", async () => {
    const forged = encodePageToken({ createdAt: "not a time", id: "ord_" + "0".repeat(32) });
    const error = await failureOf(orders.listOrders({ customerId: "alice", pageSize: 2, pageToken: forged }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error).map((violation) => violation.field)).toEqual(["page_token"]);
  });
});

// --- races: every status change is a guarded transition --------------------

describe("a saga racing the stalled-order sweeper", () => {
  it("loses to a rejection that came first: no OrderPlaced, the charge refunded, the stock released, the caller told the order's fate", async () => {
    // The charge answers only when the test says: meanwhile the sweeper finds the order PENDING and rejects it.
    let chargeStarted!: () => void;
    const charging = new Promise<void>((resolve) => (chargeStarted = resolve));
    let answerCharge!: () => void;
    const answered = new Promise<void>((resolve) => (answerCharge = resolve));
    const capture = payments.behave.charge;
    payments.behave.charge = async (request) => {
      chargeStarted();
      await answered;
      return capture(request);
    };
    payments.behave.refund = ({ paymentId }) => ({
      payment: { id: paymentId, orderId: "", customerId: "", amount: undefined, status: PaymentStatus.PAYMENT_STATUS_REFUNDED, declineReason: "", createdAt: new Date(), updatedAt: new Date() },
    });

    const placing = failureOf(orders.placeOrder(placeRequest()));
    await charging;
    const orderId = orderIdSentToInventory();
    expect(await rejectStalledOrders({ db, outbox }, 0)).toContain(orderId);
    answerCharge();

    // The order is final (rejected, compensated): the caller is told so, and to use a new key.
    const error = await placing;
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toContain(`order ${orderId} was rejected (${STALLED_REASON})`);
    expect(error.details).toContain("new idempotency_key");
    const { order } = await orders.getOrder({ orderId });
    expect(order?.status).toBe(OrderStatus.ORDER_STATUS_REJECTED);
    expect(order?.lines).toEqual([]);
    expect(payments.requests("refund").map((request) => request.paymentId)).toEqual([paymentIdFor(orderId)]);
    expect(inventory.requests("releaseReservation").map((request) => request.orderId)).toEqual([orderId]);
    expect(await eventIdsAbout("orders.order.placed", OrderPlaced, orderId)).toEqual([]);
    expect(await eventIdsAbout("orders.order.rejected", OrderRejected, orderId)).toHaveLength(1);
  });

  it("wins when it confirmed first: the sweeper leaves a CONFIRMED order alone", async () => {
    const placed = await place();
    expect(await rejectStalledOrders({ db, outbox }, 0)).not.toContain(placed.id);
    const { order } = await orders.getOrder({ orderId: placed.id });
    expect(order?.status).toBe(OrderStatus.ORDER_STATUS_CONFIRMED);
    expect(await eventIdsAbout("orders.order.rejected", OrderRejected, placed.id)).toEqual([]);
  });
});

describe("any interleaving of a saga with the sweeper and a cancel", () => {
  /** A small seeded generator, so a failing interleaving can be replayed (ORDERS_INTERLEAVING_SEED). */
  function random(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it("ends every order in one final state with exactly the events of that state", async () => {
    const seed = Number(process.env.ORDERS_INTERLEAVING_SEED) || Date.now() % 100_000;
    const next = random(seed);
    payments.behave.refund = ({ paymentId }) => ({
      payment: { id: paymentId, orderId: "", customerId: "", amount: undefined, status: PaymentStatus.PAYMENT_STATUS_REFUNDED, declineReason: "", createdAt: new Date(), updatedAt: new Date() },
    });
    const capture = payments.behave.charge;
    for (let round = 0; round < 25; round++) {
      const answer = (["approve", "decline", "fail"] as const)[Math.floor(next() * 3)]!;
      let chargeAsked!: () => void;
      const asked = new Promise<void>((resolve) => (chargeAsked = resolve));
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      payments.behave.charge = async (request) => {
        chargeAsked();
        await gate;
        if (answer === "decline") throw preconditionFailed("card declined: insufficient funds");
        if (answer === "fail") throw unavailable("payments is restarting");
        return capture(request);
      };
      const placing = orders.placeOrder(placeRequest()).then(
        () => "ok",
        (error: ServiceError) => status[error.code],
      );
      await asked;
      const orderId = inventory.requests("reserveStock").at(-1)!.orderId;
      // The three things that can happen to a PENDING order, in a random order.
      const steps = ["sweep", "answer", "cancel"].sort(() => next() - 0.5);
      for (const step of steps) {
        if (step === "sweep") await rejectStalledOrders({ db, outbox }, 0);
        if (step === "answer") openGate();
        if (step === "cancel") await orders.cancelOrder({ orderId, reason: "changed my mind" }).catch(() => undefined);
      }
      const outcome = await placing;
      const { order } = await orders.getOrder({ orderId });
      const events = {
        placed: (await eventIdsAbout("orders.order.placed", OrderPlaced, orderId)).length,
        rejected: (await eventIdsAbout("orders.order.rejected", OrderRejected, orderId)).length,
        cancelled: (await eventIdsAbout("orders.order.cancelled", OrderCancelled, orderId)).length,
      };
      const seen = { seed, round, answer, steps, outcome, status: OrderStatus[order!.status], events };
      const expected: Record<string, typeof events> = {
        ORDER_STATUS_CONFIRMED: { placed: 1, rejected: 0, cancelled: 0 },
        ORDER_STATUS_CANCELLED: { placed: 1, rejected: 0, cancelled: 1 },
        ORDER_STATUS_REJECTED: { placed: 0, rejected: 1, cancelled: 0 },
      };
      expect(events, JSON.stringify(seen)).toEqual(expected[OrderStatus[order!.status]]);
      // Charged and kept only when it went through: an approved charge of a rejected order is given back.
      if (answer !== "approve") expect(order!.status, JSON.stringify(seen)).toBe(OrderStatus.ORDER_STATUS_REJECTED);
      if (answer === "approve" && order!.status === OrderStatus.ORDER_STATUS_REJECTED) {
        expect(payments.requests("refund").map((request) => request.paymentId), JSON.stringify(seen)).toContain(paymentIdFor(orderId));
      }
      if (outcome === "ok") expect([OrderStatus.ORDER_STATUS_CONFIRMED, OrderStatus.ORDER_STATUS_CANCELLED], JSON.stringify(seen)).toContain(order!.status);
    }
  });
});

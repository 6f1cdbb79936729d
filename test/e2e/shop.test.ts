/**
 * The shop end to end, over real processes: nats-server with JetStream, the five
 * gRPC services from their compiled dist/ and the HTTP gateway (see
 * test/support/mesh.ts). Each scenario uses its own customers and products, so
 * the scenarios do not disturb each other's stock; they run in file order, and
 * the last one audits the event streams that all the others filled.
 * Run `make build` (or `npm run -s build`) first.
 */
import { randomUUID } from "node:crypto";
import { type ServiceError, status } from "@grpc/grpc-js";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OrderCancelled, OrderPlaced } from "@bazaar/gen/bazaar/orders/v1/events";
import { OrderStatus } from "@bazaar/gen/bazaar/orders/v1/orders";
import { PaymentCaptured, PaymentRefunded } from "@bazaar/gen/bazaar/payments/v1/events";
import { PaymentStatus } from "@bazaar/gen/bazaar/payments/v1/payments";
import { DEAD_LETTER_HEADERS, durableNameOf } from "@bazaar/runtime/events/consumer";
import { events } from "@bazaar/shop/events";
import { DEAD_LETTER_STREAM, EVENT_TYPE_HEADER, type EventType } from "@bazaar/runtime/events/event-type";
import { createTransport } from "@bazaar/runtime/security/transport";
import { grpcurl } from "../support/grpcurl.js";
import { devBearer } from "../support/auth.js";
import { CONSUMERS, type Mesh, startMesh } from "../support/mesh.js";
import {
  newKey,
  notificationKindsOf,
  openShop,
  orderRequest,
  placeUntilAnswered,
  priceOf,
  type Shop,
  stockOf,
} from "../support/shop.js";
import { duplicateIds, readStream } from "../support/streams.js";

/** Starting six processes with in-memory PostgreSQL on two shared cores takes a while. */
const MESH_START_MS = 300_000;
const SCENARIO_MS = 90_000;
/** For what happens through events: the relay, JetStream, a consumer's transaction. */
const EVENTUALLY = { timeout: 30_000, interval: 100 };

let mesh: Mesh;
let shop: Shop;

beforeAll(async () => {
  mesh = await startMesh();
  shop = await openShop(mesh);
}, MESH_START_MS);

afterAll(async () => {
  await shop?.close();
  await mesh?.stop();
}, MESH_START_MS);

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    if (mesh) console.error(`logs of the mesh when the test failed:\n${mesh.logTails()}`);
  });
});

/** Orders the scenarios saw CONFIRMED (some cancelled later): the audit expects one OrderPlaced and one charge each. */
const confirmedOrderIds: string[] = [];
/** Orders cancelled after confirmation: one OrderCancelled and one refund each. */
const cancelledOrderIds: string[] = [];
/** Nats-Msg-Ids of events the tests published themselves, not the shop: the audit leaves them out. */
const injectedMessageIds: string[] = [];
/** Nats-Msg-Ids of the garbage the poison scenario published: the only messages allowed to be dead-lettered. */
const poisonMessageIds: string[] = [];

const eventsOf = async (stream: string, typeName: string) =>
  (await readStream(shop.jsm, stream)).filter((message) => message.eventType === typeName && !injectedMessageIds.includes(message.msgId));

/** Publish bytes as a publisher's relay would (type header, fresh Nats-Msg-Id); returns the id and stream sequence. */
async function injectBytes(type: EventType<unknown>, data: Uint8Array): Promise<{ msgId: string; seq: number }> {
  const msgId = `evt_${randomUUID().replaceAll("-", "")}`;
  injectedMessageIds.push(msgId);
  const headers = natsHeaders();
  headers.set(EVENT_TYPE_HEADER, type.typeName);
  const ack = await shop.js.publish(type.subject, data, { msgID: msgId, headers });
  return { msgId, seq: ack.seq };
}

const inject = <T>(type: EventType<T>, message: T) => injectBytes(type, type.encode(message));

/** The order ids in the shop's events of one type, oldest first. */
const orderIdsOf = async (stream: string, typeName: string, decode: (data: Uint8Array) => { orderId: string }) =>
  (await eventsOf(stream, typeName)).map((message) => decode(message.data).orderId);

/** What DEAD_LETTERS holds for one original event (one letter per consumer that gave up on it). */
const deadLettersOf = async (eventId: string) =>
  (await readStream(shop.jsm, DEAD_LETTER_STREAM.name)).filter((letter) => letter.header(DEAD_LETTER_HEADERS.eventId) === eventId);

const count = (ids: string[], id: string) => ids.filter((candidate) => candidate === id).length;

describe("1. a happy order over gRPC", () => {
  it("confirms at the catalog's prices, moves the stock, captures the payment and tells the customer", async () => {
    const customerId = "e2e-happy";
    const items = [
      { productId: "v60-dripper", quantity: 2 },
      { productId: "paper-filters-v60", quantity: 3 },
    ];
    const prices = await Promise.all(items.map((item) => priceOf(shop, item.productId)));
    const total = items.reduce((sum, item, index) => sum + prices[index]! * item.quantity, 0);
    const before = await Promise.all(items.map((item) => stockOf(shop, item.productId)));

    const { order } = await shop.orders.placeOrder(orderRequest({ customerId, items, paymentToken: "tok_visa" }));
    confirmedOrderIds.push(order!.id);
    expect(order).toMatchObject({ customerId, status: OrderStatus.ORDER_STATUS_CONFIRMED, total: { currencyCode: "EUR", minorUnits: total } });
    expect(order!.lines.map((line) => [line.productId, line.quantity, line.unitPrice?.minorUnits])).toEqual(
      items.map((item, index) => [item.productId, item.quantity, prices[index]]),
    );

    // Reserved at once; committed (reserved back where it was) once inventory consumes OrderPlaced.
    for (const [index, item] of items.entries()) {
      expect((await stockOf(shop, item.productId)).available).toBe(before[index]!.available - item.quantity);
      await expect
        .poll(() => stockOf(shop, item.productId), EVENTUALLY)
        .toEqual({ productId: item.productId, available: before[index]!.available - item.quantity, reserved: before[index]!.reserved });
    }

    const { payment } = await shop.payments.getPayment({ paymentId: order!.paymentId });
    expect(payment).toMatchObject({
      id: order!.paymentId,
      orderId: order!.id,
      customerId,
      status: PaymentStatus.PAYMENT_STATUS_CAPTURED,
      amount: { currencyCode: "EUR", minorUnits: total },
    });

    await expect.poll(() => notificationKindsOf(shop, customerId, order!.id), EVENTUALLY).toEqual(["ORDER_CONFIRMED"]);
  }, SCENARIO_MS);
});

describe("2. the same flow through the HTTP gateway", () => {
  const api = (path: string, init?: RequestInit) => fetch(`${mesh.gatewayUrl}${path}`, init);
  /** A request of `customerId`, with their bearer token (orders and notifications want one). */
  const apiAs = async (customerId: string, path: string, init: RequestInit = {}) =>
    api(path, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...(await devBearer(customerId)) } });
  let placedOverHttp: string | undefined;

  it("POST /api/orders answers 201, and the order and its notification can be read back", async () => {
    const customerId = "e2e-http";
    const productIds = ["aeropress-original", "hand-grinder"];
    const prices = await Promise.all(
      productIds.map(async (id) => {
        const response = await api(`/api/products/${id}`);
        expect(response.status).toBe(200);
        return Number(((await response.json()) as { product: { price: { minorUnits: number | string } } }).product.price.minorUnits);
      }),
    );

    const created = await apiAs(customerId, "/api/orders", {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": newKey("http") },
      body: JSON.stringify({
        customer_id: customerId,
        items: productIds.map((id) => ({ product_id: id, quantity: 1 })),
        payment_token: "tok_visa",
      }),
    });
    const body = (await created.json()) as { order: { id: string; status: string; total: { currencyCode: string; minorUnits: unknown } } };
    expect(created.status, JSON.stringify(body)).toBe(201);
    const orderId = body.order.id;
    confirmedOrderIds.push(orderId);
    placedOverHttp = orderId;
    expect(created.headers.get("location")).toBe(`/api/orders/${orderId}`);
    expect(body.order.status).toBe("ORDER_STATUS_CONFIRMED");
    expect(body.order.total.currencyCode).toBe("EUR");
    expect(Number(body.order.total.minorUnits)).toBe(prices[0]! + prices[1]!);

    const read = await apiAs(customerId, `/api/orders/${orderId}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ order: { id: orderId, customerId, status: "ORDER_STATUS_CONFIRMED" } });

    await expect
      .poll(async () => {
        const response = await apiAs(customerId, `/api/customers/${customerId}/notifications`);
        const { notifications = [] } = (await response.json()) as { notifications?: Array<{ orderId: string; kind: string }> };
        return notifications.filter((notification) => notification.orderId === orderId).map((notification) => notification.kind);
      }, EVENTUALLY)
      .toEqual(["NOTIFICATION_KIND_ORDER_CONFIRMED"]);
  }, SCENARIO_MS);

  it("another customer gets 404 for that order, word for word as for one that does not exist, and cannot cancel it", async () => {
    expect(placedOverHttp, "the scenario above must have placed its order").toBeDefined();
    const orderId = placedOverHttp!;
    const missing = `ord_${randomUUID().replaceAll("-", "")}`;
    /** Status and body, the order id made neutral, so answers about two ids compare. */
    const answer = async (response: Response, id: string) => ({ status: response.status, body: (await response.text()).replaceAll(id, "<id>") });
    const asOther = (path: string, init?: RequestInit) => apiAs("e2e-http-someone-else", path, init);

    const read = await answer(await asOther(`/api/orders/${orderId}`), orderId);
    expect(read.status).toBe(404);
    expect(read).toEqual(await answer(await asOther(`/api/orders/${missing}`), missing));
    const cancel = await answer(await asOther(`/api/orders/${orderId}/cancel`, { method: "POST" }), orderId);
    expect(cancel).toEqual(await answer(await asOther(`/api/orders/${missing}/cancel`, { method: "POST" }), missing));
    expect((await asOther("/api/customers/e2e-http/notifications")).status).toBe(404);

    const { order } = await shop.orders.getOrder({ orderId });
    expect(order?.status).toBe(OrderStatus.ORDER_STATUS_CONFIRMED);
  }, SCENARIO_MS);
});

describe("3. one idempotency key, one order, one charge", () => {
  /** The audit of one order: exactly one OrderPlaced and one PaymentCaptured, and the payment is the order's. */
  async function expectOneOrderAndOneCharge(orderId: string, paymentId: string) {
    const placed = () => orderIdsOf("ORDERS", events.orderPlaced.typeName, OrderPlaced.decode);
    const captured = () => orderIdsOf("PAYMENTS", events.paymentCaptured.typeName, PaymentCaptured.decode);
    await expect.poll(async () => count(await placed(), orderId), EVENTUALLY).toBe(1);
    await expect.poll(async () => count(await captured(), orderId), EVENTUALLY).toBe(1);
    const { payment } = await shop.payments.getPayment({ paymentId });
    expect(payment).toMatchObject({ orderId, status: PaymentStatus.PAYMENT_STATUS_CAPTURED });
  }

  it("a retry with the key gets the first order back", async () => {
    const request = orderRequest({ customerId: "e2e-retry", items: [{ productId: "cupping-spoon", quantity: 2 }], paymentToken: "tok_visa" });
    const first = await placeUntilAnswered(shop, request);
    const again = await placeUntilAnswered(shop, request);
    confirmedOrderIds.push(first.id);
    expect(again).toEqual(first);
    await expectOneOrderAndOneCharge(first.id, first.paymentId);
  }, SCENARIO_MS);

  it("concurrent calls with one key all get the same order", async () => {
    const request = orderRequest({ customerId: "e2e-concurrent-retry", items: [{ productId: "tamper-58mm", quantity: 1 }], paymentToken: "tok_visa" });
    const answers = await Promise.all(Array.from({ length: 5 }, () => placeUntilAnswered(shop, request)));
    const ids = new Set(answers.map((order) => order.id));
    expect(ids.size).toBe(1);
    expect(new Set(answers.map((order) => order.paymentId)).size).toBe(1);
    expect(answers[0]!.status).toBe(OrderStatus.ORDER_STATUS_CONFIRMED);
    confirmedOrderIds.push(answers[0]!.id);
    await expectOneOrderAndOneCharge(answers[0]!.id, answers[0]!.paymentId);
  }, SCENARIO_MS);

  it("curl sending the same Idempotency-Key twice gets the same order", async () => {
    const key = newKey("http-retry");
    const post = async () => {
      const response = await fetch(`${mesh.gatewayUrl}/api/orders`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key, ...(await devBearer("e2e-http-retry")) },
        body: JSON.stringify({ customer_id: "e2e-http-retry", items: [{ product_id: "descaler-500ml", quantity: 1 }], payment_token: "tok_visa" }),
      });
      expect(response.status).toBe(201);
      return ((await response.json()) as { order: { id: string; paymentId: string } }).order;
    };
    const first = await post();
    const second = await post();
    expect(second.id).toBe(first.id);
    confirmedOrderIds.push(first.id);
    await expectOneOrderAndOneCharge(first.id, first.paymentId);
  }, SCENARIO_MS);
});

describe("4. a declined card", () => {
  it("is FAILED_PRECONDITION, leaves a REJECTED order, no charge, the stock as it was, and tells the customer", async () => {
    const customerId = "e2e-declined";
    const productId = "chemex-6-cup";
    const before = await stockOf(shop, productId);
    const request = orderRequest({ customerId, items: [{ productId, quantity: 2 }], paymentToken: "tok_declined" });

    await expect(shop.orders.placeOrder(request)).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringContaining("card_declined"),
    });
    // A retry with the key gets the same answer, and charges nothing more.
    await expect(shop.orders.placeOrder(request)).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });

    const { orders } = await shop.as("operator").orders.listOrders({ customerId, pageSize: 10, pageToken: "" });
    expect(orders).toHaveLength(1);
    const orderId = orders[0]!.id;
    const { order } = await shop.orders.getOrder({ orderId });
    expect(order).toMatchObject({ id: orderId, status: OrderStatus.ORDER_STATUS_REJECTED, paymentId: "" });
    expect(order!.statusReason).toContain("card_declined");

    await expect.poll(() => stockOf(shop, productId), EVENTUALLY).toEqual(before);
    await expect.poll(() => notificationKindsOf(shop, customerId, orderId), EVENTUALLY).toEqual(["ORDER_REJECTED"]);
    // By now OrderRejected went through the relay; a capture would have been recorded before the decline was answered.
    expect(await orderIdsOf("PAYMENTS", events.paymentCaptured.typeName, PaymentCaptured.decode)).not.toContain(orderId);
  }, SCENARIO_MS);
});

describe("5. more than the shelf holds", () => {
  it("is FAILED_PRECONDITION naming the product, and moves no stock", async () => {
    const productId = "cold-brew-tower";
    const before = await stockOf(shop, productId);
    const request = orderRequest({ customerId: "e2e-greedy", items: [{ productId, quantity: before.available + 1 }], paymentToken: "tok_visa" });
    await expect(shop.orders.placeOrder(request)).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringContaining(productId),
    });
    expect(await stockOf(shop, productId)).toEqual(before);
  }, SCENARIO_MS);
});

describe("6. a product nobody sells", () => {
  it("is NOT_FOUND", async () => {
    const request = orderRequest({ customerId: "e2e-unknown", items: [{ productId: "no-such-product", quantity: 1 }], paymentToken: "tok_visa" });
    await expect(shop.orders.placeOrder(request)).rejects.toMatchObject({
      code: status.NOT_FOUND,
      details: expect.stringContaining("no-such-product"),
    });
  }, SCENARIO_MS);
});

describe("7. cancelling a confirmed order", () => {
  it("is CANCELLED at once; the refund, the restock and the notifications follow through events", async () => {
    const customerId = "e2e-cancel";
    const items = [
      { productId: "gooseneck-kettle", quantity: 1 },
      { productId: "knock-box", quantity: 2 },
    ];
    const before = await Promise.all(items.map((item) => stockOf(shop, item.productId)));
    const placed = await placeUntilAnswered(shop, orderRequest({ customerId, items, paymentToken: "tok_mastercard" }));
    expect(placed.status).toBe(OrderStatus.ORDER_STATUS_CONFIRMED);
    confirmedOrderIds.push(placed.id);

    // Straight away, as a customer who changed their mind would: OrderPlaced may still be on its way.
    const { order } = await shop.orders.cancelOrder({ orderId: placed.id, reason: "changed my mind" });
    cancelledOrderIds.push(placed.id);
    expect(order).toMatchObject({ id: placed.id, status: OrderStatus.ORDER_STATUS_CANCELLED, statusReason: "changed my mind" });
    // Cancelling again changes nothing.
    expect((await shop.orders.cancelOrder({ orderId: placed.id, reason: "" })).order!.status).toBe(OrderStatus.ORDER_STATUS_CANCELLED);

    await expect
      .poll(async () => (await shop.payments.getPayment({ paymentId: placed.paymentId })).payment!.status, EVENTUALLY)
      .toBe(PaymentStatus.PAYMENT_STATUS_REFUNDED);
    for (const [index, item] of items.entries()) {
      await expect.poll(() => stockOf(shop, item.productId), EVENTUALLY).toEqual(before[index]);
    }
    await expect
      .poll(() => notificationKindsOf(shop, customerId, placed.id), EVENTUALLY)
      .toEqual(["ORDER_CANCELLED", "ORDER_CONFIRMED", "PAYMENT_REFUNDED"]);
  }, SCENARIO_MS);
});

describe("7b. a cancellation that overtakes its OrderPlaced", () => {
  // Consumers of different subjects run independently, so inventory can apply an order's
  // OrderCancelled before its OrderPlaced (a backlog on one subject is enough). Forced here by
  // publishing the two events of one reservation in that order, as orders' relay would.
  it("gives the stock back once and acknowledges the late OrderPlaced without dead-lettering it", async () => {
    const productId = "milk-pitcher-600ml";
    const orderId = `ord_${randomUUID().replaceAll("-", "")}`;
    const customerId = "e2e-out-of-order";
    const before = await stockOf(shop, productId);
    await shop.as("orders").inventory.reserveStock({ orderId, lines: [{ productId, quantity: 1 }] });

    await inject(events.orderCancelled, OrderCancelled.fromPartial({ orderId, customerId, reason: "overtaking", occurredAt: new Date() }));
    await expect.poll(() => stockOf(shop, productId), EVENTUALLY).toEqual(before);

    const placed = await inject(events.orderPlaced, OrderPlaced.fromPartial({ orderId, customerId, occurredAt: new Date() }));
    const durable = durableNameOf("inventory", events.orderPlaced.subject);
    // What became of it: a dead letter is written before its message is terminated, so look there first.
    const outcome = async () => {
      const [letter] = await deadLettersOf(placed.msgId);
      if (letter) return `dead-lettered: ${letter.header(DEAD_LETTER_HEADERS.reason)}`;
      const { ack_floor } = await shop.jsm.consumers.info("ORDERS", durable);
      return ack_floor.stream_seq >= placed.seq ? "acknowledged" : "pending";
    };
    await expect.poll(outcome, EVENTUALLY).not.toBe("pending");
    expect(await outcome()).toBe("acknowledged");
    expect(await stockOf(shop, productId)).toEqual(before);
  }, SCENARIO_MS);
});

describe("8. a rush on the last units", () => {
  it("sells exactly what is on the shelf and never goes below zero", async () => {
    const productId = "espresso-machine";
    const before = await stockOf(shop, productId);
    expect(before).toMatchObject({ available: 2, reserved: 0 });

    // Watch the stock while the orders race; every reading must be a possible one.
    const readings: Array<{ available: number; reserved: number }> = [];
    let racing = true;
    const watcher = (async () => {
      while (racing) {
        readings.push(await stockOf(shop, productId));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, index) =>
        shop.orders.placeOrder(orderRequest({ customerId: `e2e-rush-${index}`, items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" })),
      ),
    );
    racing = false;
    await watcher;

    const confirmed = outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value.order!] : []));
    const refused = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason as { code: number; details: string }] : []));
    expect(confirmed.map((order) => order.status)).toEqual([OrderStatus.ORDER_STATUS_CONFIRMED, OrderStatus.ORDER_STATUS_CONFIRMED]);
    expect(refused).toHaveLength(4);
    for (const error of refused) expect(error).toMatchObject({ code: status.FAILED_PRECONDITION, details: expect.stringContaining(productId) });
    confirmedOrderIds.push(...confirmed.map((order) => order.id));

    for (const reading of readings) {
      expect(reading.available).toBeGreaterThanOrEqual(0);
      expect(reading.reserved).toBeGreaterThanOrEqual(0);
      expect(reading.available + reading.reserved).toBeLessThanOrEqual(2);
    }
    expect((await stockOf(shop, productId)).available).toBe(0);
    await expect.poll(() => stockOf(shop, productId), EVENTUALLY).toEqual({ productId, available: 0, reserved: 0 });
  }, SCENARIO_MS);
});

describe("10. a poison message", () => {
  it("is dead-lettered by each consumer of its subject, and the shop keeps working", async () => {
    const subject = events.orderPlaced.subject;
    // Field 1 declared as a 16-byte string with 2 bytes behind it: no protobuf decoder accepts this.
    const garbage = Uint8Array.from([0x0a, 0x10, 0xde, 0xad]);
    const { msgId } = await injectBytes(events.orderPlaced, garbage);
    poisonMessageIds.push(msgId);

    const consumers = Object.entries(CONSUMERS)
      .filter(([, types]) => types!.some((type) => type.subject === subject))
      .map(([service]) => durableNameOf(service, subject));
    expect(consumers.sort()).toEqual(["inventory-orders_order_placed", "notifications-orders_order_placed"]);

    await expect.poll(async () => (await deadLettersOf(msgId)).map((letter) => letter.subject).sort(), EVENTUALLY).toEqual(
      consumers.map((durable) => `dead.${durable}`),
    );
    for (const letter of await deadLettersOf(msgId)) {
      expect(letter.header(DEAD_LETTER_HEADERS.reason)).toContain(`not a valid ${events.orderPlaced.typeName}`);
      expect(letter.header(DEAD_LETTER_HEADERS.subject)).toBe(subject);
      expect(consumers).toContain(letter.header(DEAD_LETTER_HEADERS.consumer));
      expect(letter.eventType).toBe(events.orderPlaced.typeName);
      expect(Buffer.from(letter.data)).toEqual(Buffer.from(garbage));
    }

    // Both consumers are still alive: a real order after the poison is committed and notified.
    const customerId = "e2e-after-poison";
    const productId = "travel-mug";
    const before = await stockOf(shop, productId);
    const order = await placeUntilAnswered(shop, orderRequest({ customerId, items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" }));
    expect(order.status).toBe(OrderStatus.ORDER_STATUS_CONFIRMED);
    confirmedOrderIds.push(order.id);
    await expect.poll(() => notificationKindsOf(shop, customerId, order.id), EVENTUALLY).toEqual(["ORDER_CONFIRMED"]);
    await expect.poll(() => stockOf(shop, productId), EVENTUALLY).toEqual({ ...before, available: before.available - 1 });
  }, SCENARIO_MS);
});

describe("11. a client that knows only the address", () => {
  it("places an order through server reflection, as grpcurl does with the gateway's certificate", async () => {
    const asGateway = createTransport({ TLS_MODE: "mtls", TLS_DIR: mesh.tlsDir }, "gateway").client("orders");
    const request = {
      customer_id: "e2e-grpcurl",
      items: [{ product_id: "moka-pot-6-cup", quantity: 1 }],
      payment_token: "tok_visa",
      idempotency_key: newKey("grpcurl"),
    };
    const answer = (await grpcurl(mesh.grpc.orders, "bazaar.orders.v1.OrderService/PlaceOrder", request, asGateway)) as { order: { id: string; status: string; total: { currencyCode: string; minorUnits: string } } };
    expect(answer.order.status).toBe("ORDER_STATUS_CONFIRMED");
    // proto3 JSON: int64 travels as a string.
    expect(answer.order.total).toEqual({ currencyCode: "EUR", minorUnits: String(await priceOf(shop, "moka-pot-6-cup")) });
    confirmedOrderIds.push(answer.order.id);
  }, SCENARIO_MS);

  it("is refused without a client certificate, and refused writes with the operator's", async () => {
    const plaintext = await grpcurl(mesh.grpc.orders, "bazaar.orders.v1.OrderService/GetOrder", { order_id: "ord_x" }).catch((e: ServiceError) => e);
    expect((plaintext as ServiceError).code).toBe(status.UNAVAILABLE);
    const asOperator = createTransport({ TLS_MODE: "mtls", TLS_DIR: mesh.tlsDir }, "operator").client("orders");
    const write = await grpcurl(mesh.grpc.orders, "bazaar.orders.v1.OrderService/CancelOrder", { order_id: "ord_x" }, asOperator).catch((e: ServiceError) => e);
    expect((write as ServiceError).code).toBe(status.PERMISSION_DENIED);
  }, SCENARIO_MS);
});

describe("9. the event streams, after everything above", () => {
  const sorted = (ids: readonly string[]) => [...ids].sort();

  it("hold every event once, and one OrderPlaced and one charge per confirmed order", async () => {
    expect(confirmedOrderIds.length).toBeGreaterThanOrEqual(10);
    // Each relay runs on its own and may still be publishing the last events: wait for the
    // expected set (a duplicate would keep it from ever matching, and show in the diff).
    const expected = [
      ["ORDERS", events.orderPlaced.typeName, OrderPlaced.decode, confirmedOrderIds],
      ["ORDERS", events.orderCancelled.typeName, OrderCancelled.decode, cancelledOrderIds],
      ["PAYMENTS", events.paymentCaptured.typeName, PaymentCaptured.decode, confirmedOrderIds],
      ["PAYMENTS", events.paymentRefunded.typeName, PaymentRefunded.decode, cancelledOrderIds],
    ] as const;
    for (const [stream, typeName, decode, orderIds] of expected) {
      await expect
        .poll(async () => sorted(await orderIdsOf(stream, typeName, decode)), { ...EVENTUALLY, message: `${typeName} per order` })
        .toEqual(sorted(orderIds));
    }

    // No event was stored twice: the relays' Nats-Msg-Id let JetStream drop any republish.
    for (const stream of ["ORDERS", "PAYMENTS"]) {
      const messages = await readStream(shop.jsm, stream);
      expect(messages.filter((message) => message.msgId === ""), `${stream} messages without Nats-Msg-Id`).toEqual([]);
      expect(duplicateIds(messages), `${stream} duplicates`).toEqual({});
    }

    // Nothing of the normal flow was dead-lettered: only the poison is there.
    const deadLetters = await readStream(shop.jsm, DEAD_LETTER_STREAM.name);
    expect(deadLetters.map((letter) => letter.header(DEAD_LETTER_HEADERS.eventId)).filter((id) => !poisonMessageIds.includes(id))).toEqual([]);
    expect(duplicateIds(deadLetters)).toEqual({});
  }, SCENARIO_MS);
});

import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { InventoryServiceService } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { PaymentServiceService } from "@bazaar/gen/bazaar/payments/v1/payments";
import { EVENT_TYPE_HEADER, MESSAGE_ID_HEADER } from "@bazaar/runtime/events/event-type";
import { events } from "@bazaar/shop/events";
import { createClient } from "@bazaar/runtime/grpc/client";
import { type RunningService } from "@bazaar/runtime/service";
import { startTestService } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNats, type TestNats } from "../support/nats.js";
import { catalogService } from "../../services/catalog/src/service.js";
import { migrationsDir as catalogMigrations } from "../../services/catalog/src/store.js";
import { inventoryService } from "../../services/inventory/src/service.js";
import { migrationsDir as inventoryMigrations } from "../../services/inventory/src/store.js";
import { orders as ordersModule } from "../../services/orders/src/module.js";
import { orderServiceWith } from "../../services/orders/src/service.js";
import { migrationsDir as ordersMigrations } from "../../services/orders/src/store.js";
import { paymentService } from "../../services/payments/src/service.js";
import { migrationsDir as paymentsMigrations } from "../../services/payments/src/store.js";
import { currentRegistry, eventMessages } from "./support/descriptors.js";
import { type DynamicClient, methodsOf } from "./support/dynamic-client.js";
import { readStream } from "../support/streams.js";
import { decodeStrictly } from "./support/events.js";
import { loadExamples, replay } from "./support/examples.js";
import { type Bus, clientsFor, openBus } from "./support/mesh.js";
import { MISSING_METHOD } from "./support/provider.js";

// Publisher side of the event contracts: the real orders and payments services
// (in-process, real databases, orders calling the real catalog, inventory and
// payments) do real work; whatever their outbox relays put on a real JetStream
// is captured and decoded as the type the contract declares for its subject.

let nats: TestNats;
let bus: Bus;
let services: RunningService[] = [];
let clients: Record<string, DynamicClient> = {};
const closers: Array<() => void> = [];

beforeAll(async () => {
  nats = await startTestNats();
  const env = { NATS_URL: nats.url };
  const [catalog, inventory, payments] = await Promise.all([
    startTestService("catalog", { migrationsDir: catalogMigrations, services: [catalogService] }),
    startTestService("inventory", { migrationsDir: inventoryMigrations, services: [inventoryService] }),
    startTestService("payments", { migrationsDir: paymentsMigrations, services: [paymentService], events: { publishes: [events.paymentCaptured, events.paymentRefunded] } }, env),
  ]);
  const downstream = {
    catalog: createClient(CatalogServiceService, catalog.address, { deadlineMs: 5000 }),
    inventory: createClient(InventoryServiceService, inventory.address, { deadlineMs: 5000 }),
    payments: createClient(PaymentServiceService, payments.address, { deadlineMs: 5000 }),
  };
  closers.push(...Object.values(downstream).map((client) => () => client.close()));
  const orders = await startTestService("orders", { migrationsDir: ordersMigrations, services: [orderServiceWith(downstream, 5000)], events: { publishes: ordersModule.publishes } }, env);
  services = [orders, catalog, inventory, payments];
  clients = clientsFor({ orders: orders.address, payments: payments.address });
  bus = await openBus(nats.url);
});
afterAll(async () => {
  for (const client of Object.values(clients)) client.close();
  await bus?.close();
  // Orders first: it still holds clients of the others.
  for (const service of services) await service.stop();
  for (const close of closers) close();
  await nats?.stop();
});

describe("what the publishers really publish", () => {
  it("is, for every subject of the contracts, the one message type declared for it", async () => {
    const answers = new Map<string, unknown>();
    const run = async (service: string, step: Parameters<typeof replay>[1]) => {
      const problems = await replay(clients[service]!, step, answers);
      if (problems.length > 0) throw new Error(`${service}.${step.method} "${step.name}": ${problems.join("; ")}`);
    };
    // A placed order (OrderPlaced, PaymentCaptured), cancelled (OrderCancelled), refunded
    // (PaymentRefunded), and a declined one (OrderRejected).
    const place = (key: string, token: string) => ({
      customer_id: "publisher-test",
      items: [{ product_id: "moka-pot-6-cup", quantity: 2 }],
      payment_token: token,
      idempotency_key: key,
    });
    await run("orders", { name: "placed", method: "PlaceOrder", request: place("contract-publisher-1", "tok_visa"), response: { order: { status: "ORDER_STATUS_CONFIRMED" } } });
    await run("orders", { name: "cancelled", method: "CancelOrder", request: { order_id: "${placed.order.id}", reason: "testing" }, response: { order: { status: "ORDER_STATUS_CANCELLED" } } });
    await run("payments", { name: "refunded", method: "Refund", request: { payment_id: "${placed.order.payment_id}", reason: "testing" }, response: { payment: { status: "PAYMENT_STATUS_REFUNDED" } } });
    await run("orders", { name: "rejected", method: "PlaceOrder", request: place("contract-publisher-2", "tok_declined"), status: "FAILED_PRECONDITION" });

    const declared = new Map(eventMessages(currentRegistry()).map((event) => [event.subject, event.typeName]));
    const captured = async () => [...(await readStream(bus.jsm, "ORDERS")), ...(await readStream(bus.jsm, "PAYMENTS"))];
    await expect.poll(async () => new Set((await captured()).map((message) => message.subject)).size, { timeout: 20_000, interval: 100 }).toBe(declared.size);

    const placedOrder = answers.get("placed") as { order: { id: string; payment_id: string } };
    const problems: string[] = [];
    for (const message of await captured()) {
      const typeName = declared.get(message.subject);
      if (!typeName) {
        problems.push(`${message.subject}: no message of the contracts declares this subject`);
        continue;
      }
      const header = message.header(EVENT_TYPE_HEADER);
      if (header !== typeName) problems.push(`${message.subject}: Bazaar-Event-Type is "${header}", the contract says ${typeName}`);
      if (!/^evt_[0-9a-f]{32}$/.test(message.header(MESSAGE_ID_HEADER))) problems.push(`${message.subject}: no event id in Nats-Msg-Id`);
      const { message: decoded, unknownFields } = decodeStrictly(currentRegistry(), typeName, message.data);
      if (unknownFields.length > 0) problems.push(`${message.subject}: fields ${unknownFields.join(", ")} are not in ${typeName}`);
      const orderId = decoded.orderId as string;
      if (!/^ord_[0-9a-f]{32}$/.test(orderId)) problems.push(`${message.subject}: order_id ${JSON.stringify(orderId)} is not an order id`);
      if (typeName !== "bazaar.orders.v1.OrderRejected" && orderId !== placedOrder.order.id) problems.push(`${message.subject}: order_id ${orderId}, expected ${placedOrder.order.id}`);
      if (decoded.customerId !== "publisher-test") problems.push(`${message.subject}: customer_id ${JSON.stringify(decoded.customerId)}`);
    }
    if (problems.length > 0) throw new Error(`published events do not match their contracts:\n  ${problems.join("\n  ")}`);
  });

  it("a published OrderPlaced carries what its consumers read", async () => {
    const [message] = (await readStream(bus.jsm, "ORDERS")).filter((m) => m.subject === "orders.order.placed");
    expect(message, "orders published no OrderPlaced").toBeDefined();
    const { message: placed } = decodeStrictly(currentRegistry(), "bazaar.orders.v1.OrderPlaced", message!.data);
    expect(placed).toMatchObject({
      customerId: "publisher-test",
      lines: [{ productId: "moka-pot-6-cup", quantity: 2 }],
      total: { currencyCode: "EUR", minorUnits: 6580n },
    });
  });
});

// Orders is verified against its own examples here too, since this file already runs its dependencies.
describe("provider bazaar.orders.v1.OrderService (contracts/examples/orders.json)", () => {
  const examples = loadExamples("orders");
  const answers = new Map<string, unknown>();
  it("registers every method of its contract (none UNIMPLEMENTED or without a handler), each with an example", async () => {
    const missing: string[] = [];
    for (const method of methodsOf(examples.service)) {
      const outcome = await clients.orders!.call(method, {});
      if (!outcome.ok && MISSING_METHOD.has(outcome.error.code)) missing.push(`${method}: ${outcome.error.details}`);
      if (!examples.interactions.some((example) => example.method === method)) missing.push(`${method}: no example`);
    }
    expect(missing).toEqual([]);
  });
  for (const example of examples.interactions) {
    it(`${example.method}: ${example.name}`, async () => {
      const problems = await replay(clients.orders!, example, answers);
      if (problems.length > 0) throw new Error(`${examples.service}/${example.method} broke example "${example.name}" of contracts/examples/orders.json:\n  ${problems.join("\n  ")}`);
    });
  }
});

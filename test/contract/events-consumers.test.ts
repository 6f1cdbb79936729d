import { DEAD_LETTER_HEADERS } from "@bazaar/runtime/events/consumer";
import { type RunningService } from "@bazaar/runtime/service";
import { startTestService } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNats, type TestNats } from "../support/nats.js";
import { inventoryEventHandlers } from "../../services/inventory/src/events.js";
import { inventoryService } from "../../services/inventory/src/service.js";
import { migrationsDir as inventoryMigrations } from "../../services/inventory/src/store.js";
import { notificationEventHandlers } from "../../services/notifications/src/events.js";
import { notificationsService } from "../../services/notifications/src/service.js";
import { migrationsDir as notificationsMigrations } from "../../services/notifications/src/store.js";
import { paymentEventHandlers } from "../../services/payments/src/events.js";
import { paymentService } from "../../services/payments/src/service.js";
import { migrationsDir as paymentsMigrations } from "../../services/payments/src/store.js";
import { currentRegistry, eventMessages } from "./support/descriptors.js";
import { type DynamicClient } from "./support/dynamic-client.js";
import { decodeStrictly, encodeJson, type ExampleEvent, loadExampleEvents, newerRegistry, type Step } from "./support/events.js";
import { readStream } from "../support/streams.js";
import { replay } from "./support/examples.js";
import { loadConsumers } from "./support/expectations.js";
import { type Bus, clientsFor, eventually, openBus } from "./support/mesh.js";

// Consumer side of the event contracts: every example event of
// contracts/examples/events.json, encoded from the contract's descriptors, is
// published on a real JetStream and consumed by the real handlers of the
// consuming services (in-process, real databases). Also: a newer producer's
// event with added fields is accepted; an event of the wrong type is dead-lettered.

const examples = loadExampleEvents();
const consumers = loadConsumers();
let nats: TestNats;
let bus: Bus;
let services: RunningService[] = [];
let clients: Record<string, DynamicClient> = {};

beforeAll(async () => {
  nats = await startTestNats();
  const env = { NATS_URL: nats.url };
  // Payments consumes but does not publish here: its PaymentRefunded would reach
  // notifications and blur which event caused which notification.
  const started = await Promise.all([
    startTestService("notifications", { migrationsDir: notificationsMigrations, services: [notificationsService], events: { consumes: notificationEventHandlers } }, env),
    startTestService("inventory", { migrationsDir: inventoryMigrations, services: [inventoryService], events: { consumes: inventoryEventHandlers } }, env),
    startTestService("payments", { migrationsDir: paymentsMigrations, services: [paymentService], events: { consumes: paymentEventHandlers } }, env),
  ]);
  services = started;
  clients = clientsFor({ notifications: started[0].address, inventory: started[1].address, payments: started[2].address });
  bus = await openBus(nats.url);
});
afterAll(async () => {
  for (const client of Object.values(clients)) client.close();
  await bus?.close();
  await Promise.all(services.map((service) => service.stop()));
  await nats?.stop();
});

async function setUp(steps: Step[] | undefined, answers: Map<string, unknown>, what: string): Promise<void> {
  for (const step of steps ?? []) {
    const problems = await replay(clients[step.consumer]!, step, answers);
    if (problems.length > 0) throw new Error(`${what}: setting up with ${step.consumer}.${step.method} failed:\n  ${problems.join("\n  ")}`);
  }
}

async function observe(steps: Step[] | undefined, answers: Map<string, unknown>, what: string): Promise<void> {
  for (const step of steps ?? []) {
    await eventually(clients[step.consumer]!, step, answers, `${what}: consumer "${step.consumer}" did not show the effect (${step.method} "${step.name}")`);
  }
}

describe("example events (contracts/examples/events.json)", () => {
  it("cover every subject of the contracts, and each example observes every consumer of its subject", () => {
    const subjects = eventMessages(currentRegistry()).map((event) => event.subject).sort();
    expect(examples.map((example) => example.subject).sort()).toEqual(subjects);
    for (const example of examples) {
      const declaredBy = consumers.filter((c) => c.events?.some((event) => event.subject === example.subject)).map((c) => c.consumer).sort();
      const observed = [...new Set((example.then ?? []).map((step) => step.consumer))].sort();
      expect(observed, `${example.name}: "then" must check every consumer of ${example.subject}`).toEqual(declaredBy);
    }
  });

  it.each(examples.map((example) => [example.name, example] as const))("%s is applied by the real consumers", async (_, example: ExampleEvent) => {
    const what = `event ${example.subject} (${example.message}, example "${example.name}")`;
    const answers = new Map<string, unknown>();
    await setUp(example.given, answers, what);
    const eventId = await bus.publish(example.subject, example.message, encodeJson(currentRegistry(), example.message, example.payload));
    answers.set("event", { id: eventId });
    await observe(example.then, answers, what);
  });
});

describe("forward compatibility", () => {
  it("an OrderCancelled from a newer producer, with fields today's contract lacks, is applied by every consumer", async () => {
    const typeName = "bazaar.orders.v1.OrderCancelled";
    const newer = newerRegistry(currentRegistry(), typeName, [
      { name: "cancelled_by", number: 6, type: "string" },
      { name: "loyalty_points", number: 7, type: "int64" },
    ]);
    const orderId = "ord_000000000000000000000000000000f1";
    const bytes = encodeJson(newer, typeName, {
      order_id: orderId,
      customer_id: "kim",
      payment_id: "pay_000000000000000000000000000000f1",
      reason: "found a cheaper one",
      occurred_at: "2025-03-02T09:00:00Z",
      cancelled_by: "support-agent-7",
      loyalty_points: 120,
    });
    // The bytes really carry fields 6 and 7, unknown to today's contract.
    expect(decodeStrictly(currentRegistry(), typeName, bytes).unknownFields.sort()).toEqual([6, 7]);

    const answers = new Map<string, unknown>();
    const what = "newer OrderCancelled";
    await setUp(
      [
        { consumer: "inventory", name: "reserve", method: "ReserveStock", request: { order_id: orderId, lines: [{ product_id: "cupping-spoon", quantity: 4 }] } },
        {
          consumer: "payments",
          name: "charge",
          method: "Charge",
          request: { idempotency_key: orderId, order_id: orderId, customer_id: "kim", amount: { currency_code: "EUR", minor_units: 4800 }, payment_token: "tok_visa" },
        },
      ],
      answers,
      what,
    );
    const eventId = await bus.publish("orders.order.cancelled", typeName, bytes);
    await observe(
      [
        { consumer: "inventory", name: "released", method: "GetStock", request: { product_id: "cupping-spoon" }, response: { stock: { available: 25, reserved: 0 } } },
        { consumer: "payments", name: "refunded", method: "GetPayment", request: { payment_id: "${charge.payment.id}" }, response: { payment: { status: "PAYMENT_STATUS_REFUNDED" } } },
        {
          consumer: "notifications",
          name: "told",
          method: "ListNotifications",
          request: { customer_id: "kim" },
          response: { notifications: [{ kind: "NOTIFICATION_KIND_ORDER_CANCELLED", message: `Your order ${orderId} has been cancelled: found a cheaper one.`, source_event_id: eventId }] },
        },
      ],
      answers,
      what,
    );
  });
});

describe("an event of the wrong type", () => {
  it("is dead-lettered by every consumer of the subject, not misread", async () => {
    // An OrderPlaced, declared as such, on the OrderCancelled subject.
    const placed = examples.find((example) => example.message === "bazaar.orders.v1.OrderPlaced")!;
    const payload = { ...(placed.payload as Record<string, unknown>), order_id: "ord_000000000000000000000000000000f2", customer_id: "judy" };
    const eventId = await bus.publish("orders.order.cancelled", placed.message, encodeJson(currentRegistry(), placed.message, payload));

    const expected = consumers.filter((c) => c.events?.some((event) => event.subject === "orders.order.cancelled")).map((c) => c.consumer).sort();
    const deadFor = async () =>
      (await readStream(bus.jsm, "DEAD_LETTERS"))
        .filter((message) => message.header(DEAD_LETTER_HEADERS.eventId) === eventId)
        .map((message) => ({ subject: message.subject, reason: message.header(DEAD_LETTER_HEADERS.reason) }))
        .sort((a, b) => a.subject.localeCompare(b.subject));
    await expect.poll(deadFor, { timeout: 20_000, interval: 100 }).toHaveLength(expected.length);
    const dead = await deadFor();
    expect(dead.map((letter) => letter.subject)).toEqual(expected.map((consumer) => `dead.${consumer}-orders_order_cancelled`));
    for (const letter of dead) expect(letter.reason).toContain("got bazaar.orders.v1.OrderPlaced");

    // Nothing was applied: judy was never told her order was cancelled.
    expect(await replay(clients.notifications!, { name: "judy", method: "ListNotifications", request: { customer_id: "judy" }, response: { notifications: [] } }, new Map())).toEqual([]);
  });
});

import { randomUUID } from "node:crypto";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { InventoryServiceService } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { NotificationKind, NotificationServiceService } from "@bazaar/gen/bazaar/notifications/v1/notifications";
import { OrderServiceService } from "@bazaar/gen/bazaar/orders/v1/orders";
import { PaymentServiceService } from "@bazaar/gen/bazaar/payments/v1/payments";
import { events } from "@bazaar/shop/events";
import { connectNats } from "@bazaar/runtime/events/nats";
import { createClient } from "@bazaar/runtime/grpc/client";
import { createLogger } from "@bazaar/runtime/logger";
import { createTransport } from "@bazaar/runtime/security/transport";
import { type RunningService } from "@bazaar/runtime/service";
import { startTestService } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meshCertificates } from "../support/certs.js";
import { startTestNats, type TestNats } from "../support/nats.js";
import { certificateFiles } from "../../scripts/certs/issue.js";
import { catalogService } from "../../services/catalog/src/service.js";
import { migrationsDir as catalogMigrations } from "../../services/catalog/src/store.js";
import { inventoryEventHandlers } from "../../services/inventory/src/events.js";
import { inventoryService } from "../../services/inventory/src/service.js";
import { migrationsDir as inventoryMigrations } from "../../services/inventory/src/store.js";
import { notificationEventHandlers } from "../../services/notifications/src/events.js";
import { notificationsService } from "../../services/notifications/src/service.js";
import { migrationsDir as notificationsMigrations } from "../../services/notifications/src/store.js";
import { orders as ordersModule } from "../../services/orders/src/module.js";
import { orderServiceWith } from "../../services/orders/src/service.js";
import { migrationsDir as ordersMigrations } from "../../services/orders/src/store.js";
import { paymentEventHandlers } from "../../services/payments/src/events.js";
import { paymentService } from "../../services/payments/src/service.js";
import { migrationsDir as paymentsMigrations } from "../../services/payments/src/store.js";
import { POLICY_FILE } from "@bazaar/shop/identities";

// The real services (in-process, wired as their main.ts wires them) with
// TLS_MODE=mtls, against a nats-server running deploy/nats/nats.conf: each
// connects to NATS as its own user over mutual TLS, and an order placed and
// cancelled travels as events from orders to inventory, payments and
// notifications, and payments' refund on to notifications.

const TLS_DIR = meshCertificates();
const logger = createLogger("nats-events-test", process.env.LOG_LEVEL ?? "silent");
const closers: Array<() => unknown> = [];
let nats: TestNats;
const services: RunningService[] = [];
let orders: ReturnType<typeof createClient<typeof OrderServiceService>>;
let notifications: ReturnType<typeof createClient<typeof NotificationServiceService>>;

beforeAll(async () => {
  nats = await startTestNats({ config: "deploy/nats/nats.conf", certs: TLS_DIR });
  const env = { NATS_URL: nats.url, TLS_MODE: "mtls", TLS_DIR, AUTHZ_POLICY_FILE: POLICY_FILE };
  /**
   * Start one service, and if it uses NATS wait until it is connected before the
   * next: these services share one event loop here, and one's database start
   * can stall another's TLS handshake past the server's timeout (separate
   * processes in the mesh don't have this problem).
   */
  const start = async (...[name, options]: Parameters<typeof startTestService>) => {
    const service = await startTestService(name, options, env);
    services.unshift(service); // stopped in reverse order of start
    if (options.events) await nats.connected(name);
    return service;
  };
  const catalog = await start("catalog", { migrationsDir: catalogMigrations, services: [catalogService] });
  const payments = await start("payments", {
    migrationsDir: paymentsMigrations,
    services: [paymentService],
    events: { publishes: [events.paymentCaptured, events.paymentRefunded], consumes: paymentEventHandlers },
  });
  const inventory = await start("inventory", { migrationsDir: inventoryMigrations, services: [inventoryService], events: { consumes: inventoryEventHandlers } });
  const notifier = await start("notifications", { migrationsDir: notificationsMigrations, services: [notificationsService], events: { consumes: notificationEventHandlers } });
  // Orders calls its dependencies as services/orders/src/main.ts does: with the orders certificate.
  const asOrders = createTransport({ TLS_MODE: "mtls", TLS_DIR }, "orders");
  const downstream = {
    catalog: createClient(CatalogServiceService, catalog.address, { deadlineMs: 5000, credentials: asOrders.client("catalog") }),
    inventory: createClient(InventoryServiceService, inventory.address, { deadlineMs: 5000, credentials: asOrders.client("inventory") }),
    payments: createClient(PaymentServiceService, payments.address, { deadlineMs: 5000, credentials: asOrders.client("payments") }),
  };
  closers.push(...Object.values(downstream).map((client) => () => client.close()));
  const ordersService = await start("orders", { migrationsDir: ordersMigrations, services: [orderServiceWith(downstream, 5000)], events: { publishes: ordersModule.publishes } });
  // The shop's public side calls as the gateway.
  const asGateway = createTransport({ TLS_MODE: "mtls", TLS_DIR }, "gateway");
  orders = createClient(OrderServiceService, ordersService.address, { deadlineMs: 10_000, credentials: asGateway.client("orders") });
  notifications = createClient(NotificationServiceService, notifier.address, { deadlineMs: 5000, credentials: asGateway.client("notifications") });
  closers.push(() => orders.close(), () => notifications.close());
});
afterAll(async () => {
  for (const service of services) await service.stop(); // orders first: it holds clients of the others
  for (const close of closers) await close();
  await nats?.stop();
});

/** A look at JetStream as `service`: its own user may read its own streams and consumers. */
async function lookAs<T>(service: string, look: (jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const connection = await connectNats(nats.url, service, logger, certificateFiles(TLS_DIR, service));
  try {
    return await look(await jetstreamManager(connection));
  } finally {
    await connection.close();
  }
}

describe("events between the real services, each as its own NATS user over mutual TLS", () => {
  it("carry an order placed and cancelled to inventory, payments and notifications, and the refund to notifications", async () => {
    const customerId = `nats-tls-${randomUUID().slice(0, 8)}`;
    const { order } = await orders.placeOrder({
      customerId,
      items: [{ productId: "moka-pot-6-cup", quantity: 1 }],
      paymentToken: "tok_visa",
      idempotencyKey: `key-${randomUUID()}`,
    });
    await orders.cancelOrder({ orderId: order!.id, reason: "testing NATS permissions" });

    // Notifications consumed OrderPlaced and OrderCancelled from orders, and PaymentRefunded
    // from payments, which published it after consuming OrderCancelled.
    const kinds = async () => (await notifications.listNotifications({ customerId, pageSize: 0, pageToken: "" })).notifications.map((n) => n.kind).sort();
    await expect.poll(kinds, { timeout: 30_000, interval: 200 }).toEqual(
      [NotificationKind.NOTIFICATION_KIND_ORDER_CONFIRMED, NotificationKind.NOTIFICATION_KIND_ORDER_CANCELLED, NotificationKind.NOTIFICATION_KIND_PAYMENT_REFUNDED].sort(),
    );

    // Payments published through its outbox as the payments user: the capture and the refund.
    const published = await lookAs("payments", async (jsm) => (await jsm.streams.info("PAYMENTS", { subjects_filter: ">" })).state.subjects);
    expect(published).toEqual({ [events.paymentCaptured.subject]: 1, [events.paymentRefunded.subject]: 1 });

    // Inventory took both order events and acked them; nobody dead-lettered anything.
    const inventory = async () =>
      lookAs("inventory", async (jsm) => {
        const placed = await jsm.consumers.info("ORDERS", "inventory-orders_order_placed");
        const cancelled = await jsm.consumers.info("ORDERS", "inventory-orders_order_cancelled");
        return {
          acked: [placed.ack_floor.stream_seq > 0, cancelled.ack_floor.stream_seq > 0],
          outstanding: placed.num_pending + placed.num_ack_pending + cancelled.num_pending + cancelled.num_ack_pending,
          deadLetters: (await jsm.streams.info("DEAD_LETTERS")).state.messages,
        };
      });
    await expect.poll(inventory, { timeout: 30_000, interval: 200 }).toEqual({ acked: [true, true], outstanding: 0, deadLetters: 0 });
  });
});

/**
 * A customer's and an auditor's view of a running mesh: one typed gRPC client
 * per service, a JetStream connection to read the streams, and the few
 * questions the end-to-end scenarios keep asking. The mesh runs mutual TLS
 * with deploy/authz-policy.yaml, so each client holds the certificate of an
 * identity allowed to make its calls: the gateway's for orders (as customers
 * reach it), the operator's (read methods) for the rest; `as` gives another.
 */
import { randomUUID } from "node:crypto";
import { jetstream, type JetStreamClient, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { type NatsConnection } from "@nats-io/transport-node";
import { status } from "@grpc/grpc-js";
import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { InventoryServiceService, type StockLevel } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { type Notification, NotificationKind, NotificationServiceService } from "@bazaar/gen/bazaar/notifications/v1/notifications";
import { type Order, OrderServiceService, type PlaceOrderRequest } from "@bazaar/gen/bazaar/orders/v1/orders";
import { PaymentServiceService } from "@bazaar/gen/bazaar/payments/v1/payments";
import { createClient, hasStatus, type PromiseClient } from "@bazaar/runtime/grpc/client";
import { createTransport } from "@bazaar/runtime/security/transport";
import { connectAs } from "./nats.js";
import { type Mesh } from "./mesh.js";

/** Longer than orders' whole PlaceOrder budget, so a slow call fails with the service's status, not ours. */
const CALL_DEADLINE_MS = 30_000;

export interface Clients {
  catalog: PromiseClient<typeof CatalogServiceService>;
  inventory: PromiseClient<typeof InventoryServiceService>;
  orders: PromiseClient<typeof OrderServiceService>;
  payments: PromiseClient<typeof PaymentServiceService>;
  notifications: PromiseClient<typeof NotificationServiceService>;
}

export interface Shop extends Clients {
  /** Clients holding `identity`'s certificate (e.g. "orders" to reserve stock as the saga does). */
  as(identity: string): Clients;
  /** As the operator: read-only. */
  nats: NatsConnection;
  /** As orders: publishes orders' events (to inject some). */
  js: JetStreamClient;
  jsm: JetStreamManager;
  close(): Promise<void>;
}

/** One client per service, each call carrying `identity`'s certificate. */
function clientsAs(mesh: Mesh, identity: string): Clients {
  const transport = createTransport({ TLS_MODE: "mtls", TLS_DIR: mesh.tlsDir }, identity);
  const options = (peer: string) => ({ deadlineMs: CALL_DEADLINE_MS, credentials: transport.client(peer) });
  return {
    catalog: createClient(CatalogServiceService, mesh.grpc.catalog, options("catalog")),
    inventory: createClient(InventoryServiceService, mesh.grpc.inventory, options("inventory")),
    orders: createClient(OrderServiceService, mesh.grpc.orders, options("orders")),
    payments: createClient(PaymentServiceService, mesh.grpc.payments, options("payments")),
    notifications: createClient(NotificationServiceService, mesh.grpc.notifications, options("notifications")),
  };
}

export async function openShop(mesh: Mesh): Promise<Shop> {
  // The audit reads with the operator's read-only NATS user; events are injected as their publisher, orders.
  const nats = await connectAs(mesh.natsUrl, mesh.tlsDir, "operator");
  const publisher = await connectAs(mesh.natsUrl, mesh.tlsDir, "orders");
  const opened: Clients[] = [];
  const as = (identity: string) => {
    const clients = clientsAs(mesh, identity);
    opened.push(clients);
    return clients;
  };
  const operator = as("operator");
  return {
    ...operator,
    orders: as("gateway").orders,
    as,
    nats,
    js: jetstream(publisher),
    jsm: await jetstreamManager(nats),
    async close() {
      opened.forEach((clients) => Object.values(clients).forEach((client) => client.close()));
      await nats.close();
      await publisher.close();
    },
  };
}

/** A fresh idempotency key, as a client makes one per order. */
export const newKey = (label: string) => `${label}-${randomUUID()}`;

/** A PlaceOrder request with a key of its own; send the same object again to retry it. */
export const orderRequest = (order: Omit<PlaceOrderRequest, "idempotencyKey">): PlaceOrderRequest => ({ ...order, idempotencyKey: newKey("e2e") });

/**
 * PlaceOrder as a well-behaved client sends it: ABORTED means "the first call
 * with this key is still running, retry", so it retries that, and only that.
 */
export async function placeUntilAnswered(shop: Shop, request: PlaceOrderRequest): Promise<Order> {
  const deadline = Date.now() + CALL_DEADLINE_MS;
  for (;;) {
    try {
      return (await shop.orders.placeOrder(request)).order!;
    } catch (error) {
      if (!hasStatus(error, status.ABORTED) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

export async function stockOf(shop: Shop, productId: string): Promise<StockLevel> {
  return (await shop.inventory.getStock({ productId })).stock!;
}

export async function priceOf(shop: Shop, productId: string): Promise<number> {
  return (await shop.catalog.getProduct({ id: productId })).product!.price!.minorUnits;
}

/** Every notification of a customer (all pages), newest first. */
export async function notificationsOf(shop: Shop, customerId: string): Promise<Notification[]> {
  const all: Notification[] = [];
  let pageToken = "";
  do {
    const page = await shop.notifications.listNotifications({ customerId, pageSize: 50, pageToken });
    all.push(...page.notifications);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return all;
}

/** The kinds of notification an order caused so far, by name, sorted ("ORDER_CONFIRMED", ...). */
export async function notificationKindsOf(shop: Shop, customerId: string, orderId: string): Promise<string[]> {
  return (await notificationsOf(shop, customerId))
    .filter((notification) => notification.orderId === orderId)
    .map((notification) => NotificationKind[notification.kind].replace("NOTIFICATION_KIND_", ""))
    .sort();
}

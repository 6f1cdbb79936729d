/**
 * Load and bookkeeping for chaos scenarios: customers placing orders the way a
 * careful client does (one idempotency key per order, retried with the same key
 * while the answer is "try again"), and an audit of what the shop recorded,
 * published and told the customers afterwards.
 */
import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { type NatsConnection } from "@nats-io/transport-node";
import { InventoryServiceService } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { NotificationKind, NotificationServiceService } from "@bazaar/gen/bazaar/notifications/v1/notifications";
import { OrderPlaced } from "@bazaar/gen/bazaar/orders/v1/events";
import { type Order, OrderServiceService, OrderStatus } from "@bazaar/gen/bazaar/orders/v1/orders";
import { PaymentCaptured, PaymentRefunded } from "@bazaar/gen/bazaar/payments/v1/events";
import { createClient, type PromiseClient } from "@bazaar/runtime/grpc/client";
import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { createTransport } from "@bazaar/runtime/security/transport";
import { connectAs } from "../../support/nats.js";
import { readStream } from "../../support/streams.js";
import { STALLED_REASON } from "../../../services/orders/src/recovery.js";
import { type ChaosMesh, PLACE_ORDER_TIMEOUT_MS } from "./mesh.js";

export interface Shop {
  /** As the gateway calls orders (placing), and as the operator (reading). */
  orders: PromiseClient<typeof OrderServiceService>;
  ordersReader: PromiseClient<typeof OrderServiceService>;
  inventory: PromiseClient<typeof InventoryServiceService>;
  notifications: PromiseClient<typeof NotificationServiceService>;
  nats: NatsConnection;
  jsm: JetStreamManager;
  /** Read-only looks at what no API shows: inventory's reservations, the card network's books. */
  inventoryDb: Database;
  paymentsDb: Database;
  close(): Promise<void>;
}

/** The test's own clients retry nothing and have no breaker: every failure is seen as it is. */
export async function openShop(mesh: ChaosMesh): Promise<Shop> {
  const as = (identity: string, peer: string) => ({
    deadlineMs: PLACE_ORDER_TIMEOUT_MS + 5000,
    retry: false as const,
    breaker: false as const,
    bulkhead: false as const,
    credentials: createTransport({ TLS_MODE: "mtls", TLS_DIR: mesh.tlsDir }, identity).client(peer),
  });
  // The audit reads the streams as the operator (a read-only NATS user).
  const nats = await connectAs(mesh.nats.url, mesh.tlsDir, "operator", { maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const clients = {
    orders: createClient(OrderServiceService, mesh.services.orders.address, as("gateway", "orders")),
    ordersReader: createClient(OrderServiceService, mesh.services.orders.address, as("operator", "orders")),
    inventory: createClient(InventoryServiceService, mesh.services.inventory.address, as("operator", "inventory")),
    notifications: createClient(NotificationServiceService, mesh.services.notifications.address, as("operator", "notifications")),
  };
  const databases = { inventoryDb: await openDatabase(mesh.databases.inventory), paymentsDb: await openDatabase(mesh.databases.payments) };
  return {
    ...clients,
    ...databases,
    nats,
    jsm: await jetstreamManager(nats),
    async close() {
      Object.values(clients).forEach((client) => client.close());
      await Promise.all(Object.values(databases).map((db) => db.close()));
      await nats.close();
    },
  };
}

/** Products the load buys, one unit each, round robin (the mesh has plenty of each). */
const PRODUCTS = ["v60-dripper", "aeropress-original", "chemex-6-cup", "hand-grinder", "travel-mug", "moka-pot-6-cup", "knock-box", "paper-filters-v60"];
/**
 * How long a careful client keeps asking: an answer that orders itself gave is
 * final (it carries google.rpc.Status details), except "still being placed"
 * (ABORTED) and "starting"; anything else (no connection, a drain, our own
 * deadline) is asked again with the same key.
 */
const GIVE_UP_MS = 60_000;
/** A key that keeps answering "still being placed" longer than a whole saga's budget belongs to a saga that will never finish. */
const STUCK_AFTER_MS = PLACE_ORDER_TIMEOUT_MS + 4000;

export interface Outcome {
  key: string;
  customerId: string;
  /** confirmed: the API answered with a CONFIRMED order; rejected: orders' final refusal; unknown: no final answer before giving up. */
  result: "confirmed" | "rejected" | "unknown";
  orderId?: string;
  code?: string;
  /** The status of every failed attempt before the outcome (sent again with the same key). */
  failures?: string[];
}

export interface Load {
  customers: string[];
  /** Resolves when every order has its outcome. */
  done: Promise<Outcome[]>;
  /** Orders that have their outcome so far. */
  finished(): number;
  /** Start no new orders (those begun still get their outcome). */
  stop(): void;
}

/** `count` orders (Infinity: until stopped) from 10 customers of `scenario`, `concurrency` at a time. */
export function placeOrders(shop: Shop, scenario: string, count: number, concurrency = 8): Load {
  const customers = Array.from({ length: 10 }, (_, i) => `${scenario}-c${i}`);
  const outcomes: Outcome[] = [];
  let next = 0;
  let stopped = false;
  const worker = async () => {
    while (next < count && !stopped) {
      const index = next++;
      outcomes.push(await placeOne(shop, customers[index % customers.length]!, PRODUCTS[index % PRODUCTS.length]!, `${scenario}-${index}-${randomUUID()}`));
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker)).then(() => outcomes);
  return { customers, done, finished: () => outcomes.length, stop: () => void (stopped = true) };
}

/** True if orders' handler itself answered with this status (the runtime attaches google.rpc.Status details to every status it sends). */
function answeredByOrders(error: grpc.ServiceError): boolean {
  return (error.metadata?.get("grpc-status-details-bin").length ?? 0) > 0 && !/ is starting$/.test(error.details);
}

async function placeOne(shop: Shop, customerId: string, productId: string, key: string): Promise<Outcome> {
  const request = { customerId, items: [{ productId, quantity: 1 }], paymentToken: "tok_visa", idempotencyKey: key };
  const giveUp = Date.now() + GIVE_UP_MS;
  const failures: string[] = [];
  let abortedSince: number | undefined;
  for (;;) {
    try {
      const { order } = await shop.orders.placeOrder(request);
      return { key, customerId, result: order?.status === OrderStatus.ORDER_STATUS_CONFIRMED ? "confirmed" : "rejected", orderId: order?.id, failures };
    } catch (error) {
      const failure = error as grpc.ServiceError;
      const code = grpc.status[failure.code]!;
      if (failure.code !== grpc.status.ABORTED && answeredByOrders(failure)) return { key, customerId, result: "rejected", code, failures };
      failures.push(code);
      if (failure.code === grpc.status.ABORTED) abortedSince ??= Date.now();
      else abortedSince = undefined;
      if (Date.now() > giveUp || (abortedSince !== undefined && Date.now() - abortedSince > STUCK_AFTER_MS)) {
        return { key, customerId, result: "unknown", code, failures };
      }
      await new Promise((resolve) => setTimeout(resolve, 150 + Math.random() * 150));
    }
  }
}

/**
 * A read for the audit, once the service answers: right after a restart the
 * reader's own channel may still be in its reconnect backoff (its last attempt
 * met the restart), and a read refused meanwhile says nothing about the data.
 */
async function whenReachable<T>(read: () => Promise<T>): Promise<T> {
  const giveUp = Date.now() + 15_000;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if ((error as grpc.ServiceError).code !== grpc.status.UNAVAILABLE || Date.now() > giveUp) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Every order of `customers`, as orders has them recorded. */
export async function ordersOf(shop: Shop, customers: readonly string[]): Promise<Order[]> {
  const all: Order[] = [];
  for (const customerId of customers) {
    let pageToken = "";
    do {
      const page = await whenReachable(() => shop.ordersReader.listOrders({ customerId, pageSize: 100, pageToken }));
      all.push(...page.orders);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }
  return all;
}

/** ORDER_CONFIRMED notifications of `customers`, by order id (a count per order). */
export async function confirmationsOf(shop: Shop, customers: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const customerId of customers) {
    let pageToken = "";
    do {
      const page = await whenReachable(() => shop.notifications.listNotifications({ customerId, pageSize: 100, pageToken }));
      for (const notification of page.notifications) {
        if (notification.kind === NotificationKind.NOTIFICATION_KIND_ORDER_CONFIRMED) counts.set(notification.orderId, (counts.get(notification.orderId) ?? 0) + 1);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }
  return counts;
}

/** A gauge's value from a process's /metrics (the first series whose labels include `labels`); undefined if absent. */
export async function gauge(adminPort: number, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const found = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

export interface Counts {
  /** PlaceOrder calls made (one per idempotency key, retries not counted). */
  placed: number;
  /** Orders the API answered CONFIRMED. */
  confirmed: number;
  /** Orders recorded CONFIRMED by orders (includes any whose answer the client never got). */
  recorded: number;
  rejected: number;
  /** Keys that never got a final answer (e.g. a PENDING order whose saga was cut by a crash). */
  unknown: number;
  /** Orders a cut saga left behind: still PENDING, or already rejected by orders' stalled-order sweep. */
  pending: number;
  /** OrderPlaced events in the stream for these orders. */
  events: number;
  /** ORDER_CONFIRMED notifications for these orders. */
  notifications: number;
  /** PaymentCaptured events for these orders. */
  charges: number;
  /** Extra copies: events, notifications or charges beyond one per order. */
  duplicates: number;
  /** Orders charged more than once. */
  doubleCharges: number;
  /** Orders still PENDING when the audit gave up waiting: a saga cut and not yet swept. */
  stillPending: number;
  /** Orders CONFIRMED without a charge that stands (none captured, or refunded): an order given away. */
  confirmedUncharged: number;
  /** Orders charged, not CONFIRMED and not refunded (e.g. stuck PENDING): money taken for no order. */
  chargedUnconfirmed: number;
  /** Charges the card network made that payments has not recorded as CAPTURED or REFUNDED (whole mesh). */
  moneyUnrecorded: number;
  /** Payments still PENDING (whole mesh): a charge whose outcome nobody recorded yet. */
  paymentsPending: number;
  /** Orders whose stock disagrees with their status: CONFIRMED but not sold, or not CONFIRMED but held or sold. */
  stockMismatched: number;
  /** Confirmed orders without their event or notification, or confirmed by the API but not recorded. */
  lost: number;
  /** Rows left in orders' outbox (bazaar_outbox_pending_events), undefined if its relay is not running. */
  outboxPending: number | undefined;
  /** How long the events and notifications took to catch up after the load. */
  settleMs: number;
}

/**
 * What the shop did with a scenario's orders, once the dust has settled: waits
 * until orders' outbox is empty and every recorded order's notification has
 * arrived (or `settleMs` passes), then counts from the streams and the APIs.
 */
export async function audit(shop: Shop, mesh: ChaosMesh, customers: readonly string[], outcomes: readonly Outcome[], settleMs = 60_000): Promise<Counts> {
  const deadline = Date.now() + settleMs;
  const started = Date.now();
  // Events, notifications, the sweep of what a cut saga left PENDING and the refunds that follow all
  // arrive a little later: count again until everything is settled, or the time is up.
  for (;;) {
    const counts = await countOnce(shop, mesh, customers, outcomes);
    const settled =
      counts.outboxPending === 0 &&
      counts.lost === 0 &&
      counts.stillPending === 0 &&
      counts.chargedUnconfirmed === 0 &&
      counts.confirmedUncharged === 0 &&
      counts.moneyUnrecorded === 0 &&
      counts.paymentsPending === 0 &&
      counts.stockMismatched === 0;
    if (settled || Date.now() > deadline) return { ...counts, settleMs: Date.now() - started };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function countOnce(shop: Shop, mesh: ChaosMesh, customers: readonly string[], outcomes: readonly Outcome[]): Promise<Counts> {
  const all = await ordersOf(shop, customers);
  const recorded = all.filter((order) => order.status === OrderStatus.ORDER_STATUS_CONFIRMED);
  const confirmations = await confirmationsOf(shop, customers);
  const outboxPending = await gauge(mesh.services.orders.adminPort, "bazaar_outbox_pending_events", { service: "orders" });
  const ours = new Set(all.map((order) => order.id));

  const placedEvents = countBy(
    (await readStream(shop.jsm, "ORDERS")).filter((m) => m.subject === "orders.order.placed").map((m) => OrderPlaced.decode(m.data).orderId),
    ours,
  );
  const paymentEvents = await readStream(shop.jsm, "PAYMENTS");
  const captures = countBy(paymentEvents.filter((m) => m.subject === "payments.payment.captured").map((m) => PaymentCaptured.decode(m.data).orderId), ours);
  const refunded = new Set(paymentEvents.filter((m) => m.subject === "payments.payment.refunded").map((m) => PaymentRefunded.decode(m.data).orderId));
  const recordedIds = new Set(recorded.map((order) => order.id));
  const apiConfirmed = outcomes.filter((outcome) => outcome.result === "confirmed");
  const extra = (counts: Map<string, number>) => [...counts.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  const lost =
    apiConfirmed.filter((outcome) => !recordedIds.has(outcome.orderId!)).length +
    recorded.filter((order) => !placedEvents.has(order.id) || !confirmations.has(order.id)).length;

  return {
    placed: outcomes.length,
    confirmed: apiConfirmed.length,
    recorded: recorded.length,
    rejected: outcomes.filter((outcome) => outcome.result === "rejected").length,
    unknown: outcomes.filter((outcome) => outcome.result === "unknown").length,
    pending: all.filter((order) => order.status === OrderStatus.ORDER_STATUS_PENDING || order.statusReason === STALLED_REASON).length,
    events: sum(placedEvents),
    notifications: sum(new Map([...confirmations].filter(([id]) => ours.has(id)))),
    charges: sum(captures),
    duplicates: extra(placedEvents) + extra(confirmations) + extra(captures),
    doubleCharges: [...captures.values()].filter((n) => n > 1).length,
    chargedUnconfirmed: [...captures.keys()].filter((id) => !recordedIds.has(id) && !refunded.has(id)).length,
    ...(await moneyAndStock(shop, all)),
    stillPending: all.filter((order) => order.status === OrderStatus.ORDER_STATUS_PENDING).length,
    confirmedUncharged: recorded.filter((order) => !captures.has(order.id) || refunded.has(order.id)).length,
    lost,
    outboxPending,
    settleMs: 0,
  };
}

/** What the card network's books and inventory's reservations say about the money and stock invariant. */
async function moneyAndStock(shop: Shop, orders: readonly Order[]): Promise<Pick<Counts, "moneyUnrecorded" | "paymentsPending" | "stockMismatched">> {
  const [money] = await shop.paymentsDb.query<{ unrecorded: number; pending: number }>(
    `select (select count(*)::int from simulated_card_ledger l left join payments p on p.id = l.charge_id
              where l.outcome = 'APPROVED' and (p.status is null or p.status not in ('CAPTURED', 'REFUNDED'))) as unrecorded,
            (select count(*)::int from payments where status = 'PENDING') as pending`,
  );
  const reservations = new Map(
    (await shop.inventoryDb.query<{ order_id: string; status: string }>("select order_id, status from reservations where order_id = any($1::text[])", [orders.map((order) => order.id)])).map(
      (row) => [row.order_id, row.status],
    ),
  );
  const stockMismatched = orders.filter((order) => {
    const stock = reservations.get(order.id);
    return order.status === OrderStatus.ORDER_STATUS_CONFIRMED ? stock !== "COMMITTED" : stock === "HELD" || stock === "COMMITTED";
  }).length;
  return { moneyUnrecorded: money!.unrecorded, paymentsPending: money!.pending, stockMismatched };
}

function countBy(ids: readonly string[], only: ReadonlySet<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) if (only.has(id)) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

const sum = (counts: Map<string, number>) => [...counts.values()].reduce((total, n) => total + n, 0);

/** One line per scenario, the numbers the issue asks for first. */
export function report(scenario: string, counts: Counts): string {
  const { placed, confirmed, events, notifications, duplicates, lost, ...rest } = counts;
  return `chaos ${scenario}: placed=${placed} confirmed=${confirmed} events=${events} notifications=${notifications} duplicates=${duplicates} lost=${lost} | ${Object.entries(rest)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(" ")}`;
}

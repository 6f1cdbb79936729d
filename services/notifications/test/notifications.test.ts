import { status } from "@grpc/grpc-js";
import { jetstream, jetstreamManager, type JetStreamManager, type PubAck } from "@nats-io/jetstream";
import { connect, headers, nanos, type NatsConnection } from "@nats-io/transport-node";
import {
  type Notification,
  NotificationKind,
  NotificationServiceService,
} from "@bazaar/gen/bazaar/notifications/v1/notifications";
import { OrderCancelled, OrderPlaced, OrderRejected } from "@bazaar/gen/bazaar/orders/v1/events";
import { PaymentRefunded } from "@bazaar/gen/bazaar/payments/v1/events";
import { fieldViolationsOf } from "@bazaar/runtime/grpc/status";
import { events } from "@bazaar/shop/events";
import { DEAD_LETTER_STREAM, EVENT_TYPE_HEADER, type EventType, streamOf } from "@bazaar/runtime/events/event-type";
import { ensureStream } from "@bazaar/runtime/events/nats";
import { durableNameOf, type EventHandler } from "@bazaar/runtime/events/consumer";
import { createClient, type PromiseClient } from "@bazaar/runtime/grpc/client";
import { newId } from "@bazaar/runtime/ids";
import { freshDatabase, failureOf, startTestService } from "@bazaar/runtime/testing";
import { openDatabase } from "@bazaar/runtime/db/database";
import { migrate } from "@bazaar/runtime/db/migrate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNats, type TestNats } from "../../../test/support/nats.js";
import { notificationEventHandlers } from "../src/events.js";
import { notificationsService } from "../src/service.js";
import { migrationsDir } from "../src/store.js";

// The notifications service as the mesh sees it: a real nats-server with
// JetStream, events published the way the outbox relay publishes them, the
// service in-process with its durable consumers and an in-memory PostgreSQL,
// and ListNotifications over real gRPC.

let nats: TestNats;
let connection: NatsConnection;
let jsm: JetStreamManager;
let service: Awaited<ReturnType<typeof startTestService>>;
let notifications: PromiseClient<typeof NotificationServiceService>;

/** How long an event may take to reach the database: consumers start in the background. */
const EVENTUAL = { timeout: 20_000 };

beforeAll(async () => {
  nats = await startTestNats();
  connection = await connect({ servers: nats.url });
  jsm = await jetstreamManager(connection);
  // The streams exist before anything is published, as the publishers' relays
  // ensure in the mesh. ORDERS gets a short duplicate window, so a test can
  // publish an event id again and have JetStream deliver it again.
  const orders = streamOf(events.orderPlaced.subject);
  await jsm.streams.add({ ...orders, duplicate_window: nanos(500) });
  await ensureStream(jsm, streamOf(events.paymentRefunded.subject));

  service = await startTestService(
    "notifications",
    { migrationsDir, services: [notificationsService], events: { consumes: notificationEventHandlers } },
    { NATS_URL: nats.url },
  );
  notifications = createClient(NotificationServiceService, service.address, { deadlineMs: 5000 });
});
afterAll(async () => {
  notifications?.close();
  await service?.stop();
  await connection?.close();
  await nats?.stop();
});

/** Publish as the outbox relay does: Nats-Msg-Id = event id, the type in Bazaar-Event-Type. */
async function publish<T>(type: EventType<T>, message: T, eventId = newId("evt")): Promise<{ eventId: string; ack: PubAck }> {
  const h = headers();
  h.set(EVENT_TYPE_HEADER, type.typeName);
  const ack = await jetstream(connection).publish(type.subject, type.encode(message), { msgID: eventId, headers: h });
  return { eventId, ack };
}

/** The stream sequence up to which the service's consumer of `subject` has acknowledged everything. */
async function acknowledgedUpTo(subject: string): Promise<number> {
  // The runtime names a durable "<service>-<subject with _ for .>".
  const info = await jsm.consumers.info(streamOf(subject).name, durableNameOf("notifications", subject));
  return info.ack_floor.stream_seq;
}

async function listAll(customerId: string): Promise<Notification[]> {
  return (await notifications.listNotifications({ customerId, pageSize: 100, pageToken: "" })).notifications;
}

const NOTIFICATION_ID = /^ntf_[0-9a-f]{32}$/;
const eur = (minorUnits: number) => ({ currencyCode: "EUR", minorUnits });

describe("each event becomes the customer's notification", () => {
  it("OrderPlaced → ORDER_CONFIRMED with item count and total", async () => {
    const orderId = newId("ord");
    const { eventId } = await publish(
      events.orderPlaced,
      OrderPlaced.fromPartial({
        orderId,
        customerId: "alice",
        lines: [{ productId: "aeropress-original", productName: "AeroPress Original", quantity: 2, unitPrice: eur(3999), lineTotal: eur(7998) }],
        total: eur(7998),
        paymentId: newId("pay"),
      }),
    );
    await expect.poll(() => listAll("alice"), EVENTUAL).toHaveLength(1);
    expect(await listAll("alice")).toEqual([
      {
        id: expect.stringMatching(NOTIFICATION_ID),
        customerId: "alice",
        orderId,
        kind: NotificationKind.NOTIFICATION_KIND_ORDER_CONFIRMED,
        message: `Your order ${orderId} is confirmed: 2 items, total EUR 79.98.`,
        sourceEventId: eventId,
        createdAt: expect.any(Date),
      },
    ]);
  });

  it("OrderRejected → ORDER_REJECTED with the reason", async () => {
    const orderId = newId("ord");
    const { eventId } = await publish(events.orderRejected, OrderRejected.fromPartial({ orderId, customerId: "bob", reason: "out of stock: v60-dripper" }));
    await expect.poll(() => listAll("bob"), EVENTUAL).toHaveLength(1);
    expect(await listAll("bob")).toEqual([
      expect.objectContaining({
        orderId,
        kind: NotificationKind.NOTIFICATION_KIND_ORDER_REJECTED,
        message: `Your order ${orderId} could not be placed: out of stock: v60-dripper.`,
        sourceEventId: eventId,
      }),
    ]);
  });

  it("OrderCancelled → ORDER_CANCELLED", async () => {
    const orderId = newId("ord");
    const { eventId } = await publish(events.orderCancelled, OrderCancelled.fromPartial({ orderId, customerId: "carol", paymentId: newId("pay") }));
    await expect.poll(() => listAll("carol"), EVENTUAL).toHaveLength(1);
    expect(await listAll("carol")).toEqual([
      expect.objectContaining({
        orderId,
        kind: NotificationKind.NOTIFICATION_KIND_ORDER_CANCELLED,
        message: `Your order ${orderId} has been cancelled.`,
        sourceEventId: eventId,
      }),
    ]);
  });

  it("PaymentRefunded → PAYMENT_REFUNDED with the amount", async () => {
    const orderId = newId("ord");
    const { eventId } = await publish(
      events.paymentRefunded,
      PaymentRefunded.fromPartial({ paymentId: newId("pay"), orderId, customerId: "dave", amount: eur(4950), reason: "order cancelled" }),
    );
    await expect.poll(() => listAll("dave"), EVENTUAL).toHaveLength(1);
    expect(await listAll("dave")).toEqual([
      expect.objectContaining({
        orderId,
        kind: NotificationKind.NOTIFICATION_KIND_PAYMENT_REFUNDED,
        message: `Your refund of EUR 49.50 for order ${orderId} is on its way.`,
        sourceEventId: eventId,
      }),
    ]);
  });
});

describe("an event id has its effect once", () => {
  it("when JetStream delivers the same event twice (the inbox)", async () => {
    const cancelled = OrderCancelled.fromPartial({ orderId: newId("ord"), customerId: "erin" });
    const { eventId } = await publish(events.orderCancelled, cancelled);
    await expect.poll(() => listAll("erin"), EVENTUAL).toHaveLength(1);

    // Past ORDERS' 500 ms duplicate window, JetStream stores and delivers the same id again.
    await new Promise((resolve) => setTimeout(resolve, 700));
    const again = await publish(events.orderCancelled, cancelled, eventId);
    expect(again.ack.duplicate).toBe(false);
    await expect.poll(() => acknowledgedUpTo(events.orderCancelled.subject), EVENTUAL).toBeGreaterThanOrEqual(again.ack.seq);
    expect((await listAll("erin")).map((n) => n.sourceEventId)).toEqual([eventId]);
  });

  it("when two consumers see one id, so the inbox (keyed per consumer) lets both through (the unique source_event_id)", async () => {
    const orderId = newId("ord");
    const { eventId } = await publish(events.orderRejected, OrderRejected.fromPartial({ orderId, customerId: "frank", reason: "card declined" }));
    await expect.poll(() => listAll("frank"), EVENTUAL).toHaveLength(1);

    // Another stream, so JetStream's own de-duplication does not apply either.
    const refund = PaymentRefunded.fromPartial({ paymentId: newId("pay"), orderId, customerId: "frank", amount: eur(100) });
    const { ack } = await publish(events.paymentRefunded, refund, eventId);
    await expect.poll(() => acknowledgedUpTo(events.paymentRefunded.subject), EVENTUAL).toBeGreaterThanOrEqual(ack.seq);
    expect(await listAll("frank")).toEqual([
      expect.objectContaining({ sourceEventId: eventId, kind: NotificationKind.NOTIFICATION_KIND_ORDER_REJECTED }),
    ]);
    // Absorbed as a duplicate, not failed until dead-lettered.
    expect((await jsm.streams.info(DEAD_LETTER_STREAM.name)).state.messages).toBe(0);
  });
});

describe("events delivered together", () => {
  it("are recorded by one insert, each once: a second delivery, in the batch or after it, writes nothing", async () => {
    const db = await openDatabase(await freshDatabase("notifications-batch"));
    try {
      await migrate(db, migrationsDir);
      const handler = notificationEventHandlers.find((one) => one.type === events.orderPlaced) as EventHandler<OrderPlaced>;
      if (handler.kind !== "idempotent") throw new Error("notifications' handlers are expected to apply batches");
      const delivery = (eventId: string) => ({ event: OrderPlaced.fromPartial({ orderId: `ord_${eventId}`, customerId: "heidi", total: eur(100) }), eventId });
      const context = { db, subject: events.orderPlaced.subject };
      expect(await handler.apply([delivery("evt_1")], context)).toEqual([true]);
      expect(await handler.apply([delivery("evt_2"), delivery("evt_3"), delivery("evt_2"), delivery("evt_1")], context)).toEqual([true, true, false, false]);
      const rows = await db.query<{ source_event_id: string }>("select source_event_id from notifications order by source_event_id");
      expect(rows.map((row) => row.source_event_id)).toEqual(["evt_1", "evt_2", "evt_3"]);
    } finally {
      await db.close();
    }
  });
});

describe("ListNotifications", () => {
  it("pages through 7 notifications 3 at a time, newest first, each once", async () => {
    const orderIds = Array.from({ length: 7 }, () => newId("ord"));
    for (const orderId of orderIds) {
      await publish(events.orderPlaced, OrderPlaced.fromPartial({ orderId, customerId: "grace", lines: [{ quantity: 1 }], total: eur(2500) }));
    }
    await expect.poll(() => listAll("grace"), EVENTUAL).toHaveLength(7);

    const pages: Notification[][] = [];
    let pageToken = "";
    do {
      const page = await notifications.listNotifications({ customerId: "grace", pageSize: 3, pageToken });
      pages.push(page.notifications);
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && pages.length < 10);

    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    const listed = pages.flat();
    expect(listed).toEqual(await listAll("grace"));
    expect(new Set(listed.map((n) => n.orderId))).toEqual(new Set(orderIds));
    const newestFirst = [...listed].sort(
      (a, b) => b.createdAt!.getTime() - a.createdAt!.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
    );
    expect(listed.map((n) => n.id)).toEqual(newestFirst.map((n) => n.id));
  });

  it("answers an empty list for a customer it has never notified", async () => {
    expect(await notifications.listNotifications({ customerId: "nobody-here", pageSize: 0, pageToken: "" })).toEqual({
      notifications: [],
      nextPageToken: "",
    });
  });

  it.each(["", "not a customer id!"])("answers INVALID_ARGUMENT naming customer_id for %j", async (customerId) => {
    const error = await failureOf(notifications.listNotifications({ customerId, pageSize: 0, pageToken: "" }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error)).toEqual([{ field: "customer_id", description: expect.any(String) }]);
  });

  it("answers INVALID_ARGUMENT naming every bad field at once", async () => {
    const error = await failureOf(notifications.listNotifications({ customerId: "", pageSize: 500, pageToken: "not-a-token" }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(error).map((v) => v.field)).toEqual(["customer_id", "page_size", "page_token"]);
  });
});

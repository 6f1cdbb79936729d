import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { headers, nanos, type NatsConnection } from "@nats-io/transport-node";
import { OrderCancelled } from "@bazaar/gen/bazaar/orders/v1/events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsAdminConfig, parseConfig } from "@bazaar/runtime/config";
import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrate, RUNTIME_MIGRATIONS } from "@bazaar/runtime/db/migrate";
import { events } from "@bazaar/shop/events";
import { DEAD_LETTER_HEADERS, EventConsumers, INBOX_RETENTION_MARGIN_MS, on } from "@bazaar/runtime/events/consumer";
import { NATS_ADMIN, provisionStreams } from "@bazaar/runtime/events/dead-letters";
import { EVENT_TYPE_HEADER } from "@bazaar/runtime/events/event-type";
import { connectNats } from "@bazaar/runtime/events/nats";
import { Outbox } from "@bazaar/runtime/events/outbox";
import { createLogger } from "@bazaar/runtime/logger";
import { freshDatabase } from "@bazaar/runtime/testing";
import { certificateFiles } from "../../scripts/certs/issue.js";
import { testCertificates } from "../support/test-certificates.js";
import { startTestNats, type TestNats } from "../support/nats.js";
import { spawnTs } from "../../lib/test/support/process.js";
import { SHOP_EVENT_STREAMS } from "@bazaar/shop/streams";

// Dead letters, stream limits and inbox pruning on a real nats-server with the
// shop's users (deploy/nats/nats.conf) and a real database: the streams as
// nats-admin declares them, and `make replay-dead-letters` (shop/src/nats-admin.ts)
// run as its own process, as nats-admin, against two consumers of one subject.

// The shop's NATS users these tests connect as, and the server's own certificate.
const CERTS = testCertificates(["nats", NATS_ADMIN, "operator", "orders", "inventory", "notifications"]);
const logger = createLogger("dead-letters-test", process.env.LOG_LEVEL ?? "silent");
const DAY_MS = 86_400_000;

let nats: TestNats;
let db: Database;
const connections: NatsConnection[] = [];

/** A connection as `identity`'s NATS user, made as the runtime makes it. */
async function as(identity: string): Promise<{ connection: NatsConnection; jsm: JetStreamManager }> {
  const connection = await connectNats(nats.url, identity, logger, certificateFiles(CERTS, identity));
  connections.push(connection);
  return { connection, jsm: await jetstreamManager(connection) };
}

beforeAll(async () => {
  // startTestNats declares the streams as nats-admin, as `make up` does.
  [nats, db] = await Promise.all([startTestNats({ config: "deploy/nats/nats.conf", certs: CERTS }), freshDatabase("dead_letters").then(openDatabase)]);
  await migrate(db, RUNTIME_MIGRATIONS);
  await db.exec("create table applied (consumer text, event_id text, order_id text)");
});
afterAll(async () => {
  for (const connection of connections) await connection.close();
  await db?.close();
  await nats?.stop();
});

describe("stream limits, as nats-admin declares them", () => {
  it("gives every stream its max_age and max_bytes, and brings an existing stream to new ones", async () => {
    const { jsm } = await as(NATS_ADMIN);
    const defaults = parseConfig(natsAdminConfig(), {});
    const limitsOf = async (stream: string) => {
      const { max_age, max_bytes } = (await jsm.streams.info(stream)).config;
      return { max_age, max_bytes };
    };
    expect(await limitsOf("ORDERS")).toEqual({ max_age: nanos(7 * DAY_MS), max_bytes: 512 * 1024 ** 2 });
    expect(await limitsOf("PAYMENTS")).toEqual({ max_age: nanos(defaults.NATS_EVENT_MAX_AGE), max_bytes: defaults.NATS_EVENT_MAX_BYTES });
    expect(await limitsOf("DEAD_LETTERS")).toEqual({ max_age: nanos(30 * DAY_MS), max_bytes: 256 * 1024 ** 2 });

    const changed = parseConfig(natsAdminConfig(), { NATS_EVENT_MAX_AGE: "3d", NATS_DEAD_LETTER_MAX_BYTES: "128MiB" });
    await provisionStreams(jsm, changed, SHOP_EVENT_STREAMS);
    expect(await limitsOf("ORDERS")).toEqual({ max_age: nanos(3 * DAY_MS), max_bytes: 512 * 1024 ** 2 });
    expect(await limitsOf("DEAD_LETTERS")).toEqual({ max_age: nanos(30 * DAY_MS), max_bytes: 128 * 1024 ** 2 });
    await provisionStreams(jsm, defaults, SHOP_EVENT_STREAMS);
    expect(await limitsOf("ORDERS")).toEqual({ max_age: nanos(7 * DAY_MS), max_bytes: 512 * 1024 ** 2 });
  });
});

describe("dead letters replayed (make replay-dead-letters)", () => {
  let inventoryBroken = true;
  const consumers: EventConsumers[] = [];

  /** `service`'s consumer of OrderCancelled, connected as its NATS user, recording what it applied. */
  async function consumer(service: string, maxDeliver: number) {
    const { connection, jsm } = await as(service);
    const handler = on(events.orderCancelled, async (event, { tx, eventId }) => {
      if (service === "inventory" && inventoryBroken) throw new Error("inventory cannot release this order");
      await tx.query("insert into applied (consumer, event_id, order_id) values ($1, $2, $3)", [service, eventId, event.orderId]);
    });
    const started = new EventConsumers([handler], { db, outbox: new Outbox(), js: jetstream(connection), jsm, logger }, { service, maxDeliver, backoffMs: 20 });
    await started.start();
    consumers.push(started);
    return { jsm, durable: started.durableName(events.orderCancelled.subject) };
  }

  const applied = (orderId: string) => db.query<{ consumer: string; event_id: string }>("select consumer, event_id from applied where order_id = $1 order by consumer", [orderId]);
  const replay = async (...args: string[]) => {
    const admin = spawnTs("shop/src/nats-admin.ts", { NATS_URL: nats.url, TLS_DIR: CERTS, LOG_LEVEL: "info" }, ["replay-dead-letters", ...args]);
    expect(await admin.exited, admin.stderr).toBe(0);
    return admin.lines.find((line) => line.msg === "dead letters replayed")?.replayed;
  };

  afterAll(async () => {
    for (const started of consumers) await started.stop();
  });

  it("applies the event at the consumer that failed, once; the one that applied it only acks; a second replay does nothing", async () => {
    const inventory = await consumer("inventory", 1);
    const notifications = await consumer("notifications", 5);
    const { connection: orders, jsm: ordersJsm } = await as("orders");
    const { jsm: operator } = await as("operator");

    // orders publishes as its relay does: the event id as Nats-Msg-Id.
    const eventHeaders = headers();
    eventHeaders.set(EVENT_TYPE_HEADER, events.orderCancelled.typeName);
    const body = OrderCancelled.encode(OrderCancelled.fromPartial({ orderId: "ord_replayed", reason: "changed my mind" })).finish();
    const published = await jetstream(orders).publish(events.orderCancelled.subject, body, { msgID: "evt_replayed", headers: eventHeaders });

    const lettersFor = async (eventId: string) => {
      const info = await operator.streams.info("DEAD_LETTERS");
      const found = [];
      for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
        const letter = await operator.streams.getMessage("DEAD_LETTERS", { seq });
        if (letter?.header.get(DEAD_LETTER_HEADERS.eventId) === eventId) found.push(letter);
      }
      return found;
    };
    await expect.poll(() => lettersFor("evt_replayed"), { timeout: 15_000 }).toHaveLength(1);
    expect((await lettersFor("evt_replayed"))[0]!.header.get(DEAD_LETTER_HEADERS.consumer)).toBe(inventory.durable);
    await expect.poll(() => applied("ord_replayed"), { timeout: 15_000 }).toEqual([{ consumer: "notifications", event_id: "evt_replayed" }]);

    inventoryBroken = false; // the fix is deployed
    // Well inside ORDERS' duplicate window (2 minutes) of the original: its Nats-Msg-Id would be dropped.
    expect(await replay("--consumer", "inventory")).toBe(1);
    await expect.poll(() => applied("ord_replayed"), { timeout: 15_000 }).toEqual([
      { consumer: "inventory", event_id: "evt_replayed" },
      { consumer: "notifications", event_id: "evt_replayed" },
    ]);
    // notifications got the replayed event too and acknowledged it without applying it again.
    const replayedSeq = (await ordersJsm.streams.info("ORDERS")).state.last_seq;
    expect(replayedSeq).toBeGreaterThan(published.seq);
    await expect.poll(async () => (await notifications.jsm.consumers.info("ORDERS", notifications.durable)).ack_floor.stream_seq, { timeout: 15_000 }).toBe(replayedSeq);
    expect(await applied("ord_replayed")).toHaveLength(2);
    expect(await lettersFor("evt_replayed")).toEqual([]);

    expect(await replay()).toBe(0);
    expect((await ordersJsm.streams.info("ORDERS")).state.last_seq).toBe(replayedSeq);
    expect(await applied("ord_replayed")).toHaveLength(2);
  });

  it("rejects bad arguments with a usage line, exit 2", async () => {
    const admin = spawnTs("shop/src/nats-admin.ts", { NATS_URL: nats.url, TLS_DIR: CERTS }, ["replay-dead-letters", "--durable", "x"]);
    expect(await admin.exited).toBe(2);
    expect(admin.stderr).toContain("usage: nats-admin provision | replay-dead-letters");
  });
});

describe("inbox pruning", () => {
  it("deletes a consumer's inbox rows older than its stream's and DEAD_LETTERS' max_age together, and no other", async () => {
    const { connection, jsm } = await as("inventory");
    const pruner = new EventConsumers([on(events.orderPlaced, async () => {})], { db, outbox: new Outbox(), js: jetstream(connection), jsm, logger }, { service: "inventory" });
    const durable = pruner.durableName(events.orderPlaced.subject);
    // ORDERS keeps an event 7 days, DEAD_LETTERS a letter 30: a row may be needed for 37 days, plus the margin.
    const horizonMs = 37 * DAY_MS + INBOX_RETENTION_MARGIN_MS;
    const row = (consumer: string, eventId: string, ageMs: number) =>
      db.query("insert into inbox (consumer, event_id, subject, received_at) values ($1, $2, 'orders.order.placed', now() - $3 * interval '1 millisecond')", [consumer, eventId, ageMs]);
    await row(durable, "evt_past_horizon", horizonMs + 60_000);
    await row(durable, "evt_inside_horizon", horizonMs - 60_000);
    await row("notifications-orders_order_placed", "evt_other_consumer", horizonMs + 60_000);
    const left = async () => (await db.query<{ event_id: string }>("select event_id from inbox where event_id like 'evt_%_horizon' or event_id = 'evt_other_consumer' order by event_id")).map((r) => r.event_id);

    // It prunes once at start, then every inboxPruneEveryMs.
    await pruner.start();
    try {
      await expect.poll(left, { timeout: 10_000 }).toEqual(["evt_inside_horizon", "evt_other_consumer"]);
      expect(await pruner.pruneInbox()).toBe(0);
    } finally {
      await pruner.stop();
    }
  });
});

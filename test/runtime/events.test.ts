import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, headers, nanos, type NatsConnection } from "@nats-io/transport-node";
import { OrderCancelled, OrderPlaced } from "@bazaar/gen/bazaar/orders/v1/events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrate, RUNTIME_MIGRATIONS } from "@bazaar/runtime/db/migrate";
import { DEAD_LETTER_HEADERS, EventConsumers, on, onIdempotent } from "@bazaar/runtime/events/consumer";
import { EVENT_TYPE_HEADER, eventType } from "@bazaar/runtime/events/event-type";
import { Outbox, type OutboxEntry, outboxInsert, OutboxRelay } from "@bazaar/runtime/events/outbox";
import { ensureStream } from "@bazaar/runtime/events/nats";
import { createLogger } from "@bazaar/runtime/logger";
import { freshDatabase, recordingStatements } from "@bazaar/runtime/testing";
import { startTestNats, type TestNats } from "../support/nats.js";

// The event bus against a real nats-server with JetStream and a real database.

const orderPlaced = eventType("bazaar.orders.v1.OrderPlaced", OrderPlaced);
const orderCancelled = eventType("bazaar.orders.v1.OrderCancelled", OrderCancelled);
const logger = createLogger("events-test", process.env.LOG_LEVEL ?? "silent");

let nats: TestNats;
let db: Database;
let connection: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  [nats, db] = await Promise.all([startTestNats(), freshDatabase("events").then(openDatabase)]);
  await migrate(db, RUNTIME_MIGRATIONS);
  await db.exec("create table applied (event_id text, order_id text)");
  connection = await connect({ servers: nats.url });
  jsm = await jetstreamManager(connection);
  // A short duplicate window, so the test can redeliver an event id on purpose.
  await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"], duplicate_window: nanos(500) });
});
afterAll(async () => {
  await connection?.close();
  await db?.close();
  await nats?.stop();
});

const placed = (orderId: string) =>
  OrderPlaced.fromPartial({ orderId, customerId: "alice", paymentId: "pay_1", total: { currencyCode: "EUR", minorUnits: 100 } });

/** Whether `sql` reads events from the outbox table (the relay's table reads; not its deletes or its gauges' counts). */
const readsOutboxRows = (sql: string) => /\bselect\b[^;]*\bpayload\b[^;]*\bfrom outbox\b/.test(sql);

/** `event`'s row written straight into the table, as another replica or an earlier run leaves one (at key `seq` if given). */
const insertOutboxRow = (event: OutboxEntry, seq?: number) =>
  db.query(`insert into outbox (seq, id, subject, type_name, payload, headers) values (coalesce($1, nextval('outbox_seq_seq')), $2, $3, $4, $5, $6)`, [
    seq ?? null,
    event.id,
    event.subject,
    event.typeName,
    event.payload,
    JSON.stringify(event.headers),
  ]);

async function publishedOn(stream: string, subject: string) {
  const messages = [];
  const info = await jsm.streams.info(stream);
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const message = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
    if (message && message.subject === subject) messages.push(message);
  }
  return messages;
}

describe("event types", () => {
  it("take their subject from the contract", () => {
    expect(orderPlaced.subject).toBe("orders.order.placed");
    expect(orderCancelled.subject).toBe("orders.order.cancelled");
    expect(() => eventType("bazaar.catalog.v1.Product", { encode: () => ({ finish: () => new Uint8Array() }), decode: () => ({}) })).toThrow(
      /declares no \(bazaar\.options\.v1\.event_subject\)/,
    );
  });
});

describe("outbox relay", () => {
  it("publishes what a transaction recorded, once, with the event id as Nats-Msg-Id", async () => {
    const outbox = new Outbox();
    const eventId = await db.transaction((tx) => outbox.add(tx, orderPlaced, placed("ord_relay"), { traceparent: "00-abc-def-01" }));
    const relay = new OutboxRelay(db, jetstream(connection), logger);
    relay.start("test");
    await expect.poll(() => db.query("select id from outbox"), { timeout: 10_000 }).toEqual([]);
    await relay.stop();

    const [message, ...others] = await publishedOn("ORDERS", "orders.order.placed");
    expect(others).toEqual([]);
    expect(message!.header.get("Nats-Msg-Id")).toBe(eventId);
    expect(message!.header.get(EVENT_TYPE_HEADER)).toBe("bazaar.orders.v1.OrderPlaced");
    expect(message!.header.get("traceparent")).toBe("00-abc-def-01");
    expect(OrderPlaced.decode(message!.data).orderId).toBe("ord_relay");
  });

  it("publishes an event folded into the statement that makes its change, only if that change was made, and is woken by it", async () => {
    const outbox = new Outbox();
    const relay = new OutboxRelay(db, jetstream(connection), logger, { idleMs: 600_000 });
    relay.start("test", outbox);
    await expect.poll(() => db.query("select id from outbox")).toEqual([]);
    // One statement: the change (a row in applied), and its event only where the change happened.
    const record = async (orderId: string, change: boolean) => {
      const event = outbox.entry(orderPlaced, placed(orderId), { traceparent: "00-folded-01" });
      const recorded = outboxInsert("recorded", [{ event }], 3, "exists (select 1 from changed)");
      const [row] = await db.query<{ changed: boolean }>(
        `with changed as (insert into applied (event_id, order_id) select $1, $2 where ${change} returning 1), ${recorded.sql}
         select exists (select 1 from changed) as changed`,
        [event.id, orderId, ...recorded.params],
      );
      if (row!.changed) outbox.recorded(db, event);
      return event.id;
    };
    const skipped = await record("ord_folded_unchanged", false);
    const eventId = await record("ord_folded", true);
    await expect.poll(() => db.query("select id from outbox where id = $1", [eventId]), { timeout: 10_000 }).toEqual([]);
    await relay.stop();
    expect(await db.query("select id from outbox where id = $1", [skipped])).toEqual([]);
    const [message] = (await publishedOn("ORDERS", "orders.order.placed")).filter((candidate) => OrderPlaced.decode(candidate.data).orderId === "ord_folded");
    expect(message!.header.get("Nats-Msg-Id")).toBe(eventId);
    expect(message!.header.get(EVENT_TYPE_HEADER)).toBe("bazaar.orders.v1.OrderPlaced");
    expect(message!.header.get("traceparent")).toBe("00-folded-01");
  });

  it("is woken by a commit through its outbox, not by polling; a rolled-back event never leaves", async () => {
    const outbox = new Outbox();
    // An idle poll far longer than the test: only the commit can make it publish.
    const relay = new OutboxRelay(db, jetstream(connection), logger, { idleMs: 600_000 });
    relay.start("test", outbox);
    await expect.poll(() => db.query("select id from outbox")).toEqual([]);
    await db
      .transaction(async (tx) => {
        await outbox.add(tx, orderPlaced, placed("ord_rolled_back"));
        throw new Error("the change failed");
      })
      .catch(() => {});
    const eventId = await db.transaction((tx) => outbox.add(tx, orderPlaced, placed("ord_woken")));
    await expect.poll(() => db.query("select id from outbox where id = $1", [eventId]), { timeout: 10_000 }).toEqual([]);
    await relay.stop();
    const orderIds = (await publishedOn("ORDERS", "orders.order.placed")).map((message) => OrderPlaced.decode(message.data).orderId);
    expect(orderIds).toContain("ord_woken");
    expect(orderIds).not.toContain("ord_rolled_back");
  });

  it("publishes what this process committed from memory: no read of the table, one statement deletes their rows", async () => {
    const outbox = new Outbox();
    // The relay's own statements, as it sends them to the real database.
    const sent: string[] = [];
    const counted: Database = {
      ...db,
      query: (sql, params) => {
        sent.push(sql);
        return db.query(sql, params);
      },
    };
    // Rows an earlier test left unsent would make the start read a loop of statements (publish, then delete
    // and fetch, then look again), the last of them possibly after the count below starts: none are left.
    await db.query("delete from outbox");
    const relay = new OutboxRelay(counted, jetstream(connection), logger, { idleMs: 600_000, deleteDelayMs: 300 });
    relay.start("test", outbox);
    await expect.poll(() => sent.length).toBeGreaterThan(0); // its one read of the table at start, which finds nothing
    sent.length = 0;
    const ids = await Promise.all(["ord_handed_1", "ord_handed_2", "ord_handed_3"].map((orderId) => db.transaction((tx) => outbox.add(tx, orderPlaced, placed(orderId)))));
    const published = async () => (await publishedOn("ORDERS", "orders.order.placed")).filter((message) => ids.includes(message.header.get("Nats-Msg-Id")));
    await expect.poll(async () => (await published()).length, { timeout: 10_000 }).toBe(3);
    await expect.poll(() => db.query("select id from outbox where id = any($1)", [ids]), { timeout: 10_000 }).toEqual([]);
    await relay.stop();
    expect(sent.filter((sql) => readsOutboxRows(sql))).toEqual([]);
    // Deleted within the delay, a few at a time: at most one statement per event, usually one for all.
    const deletes = sent.filter((sql) => sql.startsWith("delete from outbox"));
    expect(deletes.length).toBeGreaterThan(0);
    expect(deletes.length).toBeLessThanOrEqual(ids.length);
  });

  it("reads the table every idleMs even while busy with its own events: a row another replica left is published too", async () => {
    const outbox = new Outbox();
    // Every publish the relay makes, by event id: JetStream would drop a duplicate silently.
    const js = jetstream(connection);
    const publishes = new Map<string, number>();
    const counting = Object.create(js) as typeof js;
    counting.publish = (subject, payload, options) => {
      if (options?.msgID) publishes.set(options.msgID, (publishes.get(options.msgID) ?? 0) + 1);
      return js.publish(subject, payload, options);
    };
    // Its reads of the table start late, as on a busy database: meanwhile it publishes from memory
    // events those reads will still find unsent.
    const slowReads: Database = {
      ...db,
      query: async (sql, params) => {
        if (readsOutboxRows(sql)) await new Promise((resolve) => setTimeout(resolve, 60));
        return db.query(sql, params);
      },
    };
    const relay = new OutboxRelay(slowReads, counting, logger, { idleMs: 300 });
    relay.start("test", outbox);
    await expect.poll(() => db.query("select id from outbox")).toEqual([]);
    // Busy: its own events every 20 ms, each waking it, so it is never idle for a whole idleMs.
    let busy = true;
    const own = (async () => {
      for (let i = 0; busy; i++) {
        await db.transaction((tx) => outbox.add(tx, orderPlaced, placed(`ord_busy_${i}`)));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    // Another replica's row: in the table, never handed to this relay.
    const foreign = new Outbox().entry(orderPlaced, placed("ord_foreign"));
    await insertOutboxRow(foreign);
    try {
      await expect.poll(() => db.query("select id from outbox where id = $1", [foreign.id]), { timeout: 10_000 }).toEqual([]);
      // Busy across several reads of the table, each a chance to publish one of its own events twice.
      await expect.poll(() => publishes.size, { timeout: 10_000 }).toBeGreaterThanOrEqual(40);
    } finally {
      busy = false;
      await own;
      await relay.stop();
    }
    expect(await db.query("select id from outbox")).toEqual([]);
    // Its reads of the table while busy never published again what it had published from memory.
    expect([...publishes].filter(([, count]) => count > 1)).toEqual([]);
  });

  it("keeps events while NATS is away and publishes them when it is back", async () => {
    const outbox = new Outbox();
    const relayConnection = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    const relay = new OutboxRelay(db, jetstream(relayConnection, { timeout: 1000 }), logger, { maxBackoffMs: 500 });
    // Through the outbox: the event is handed over in memory, fails to publish, and is found in the table later.
    relay.start("test", outbox);
    await expect.poll(() => db.query("select id from outbox")).toEqual([]);
    await nats.stopServer();
    await db.transaction((tx) => outbox.add(tx, orderPlaced, placed("ord_outage")));
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the relay tries and fails meanwhile
    expect(await db.query("select id from outbox")).toHaveLength(1);
    await nats.startServer();
    await expect.poll(() => db.query("select id from outbox"), { timeout: 20_000 }).toEqual([]);
    await relay.stop();
    await relayConnection.close();
    // The earlier connection of this test file reconnects by itself.
    const outageEvents = async () => (await publishedOn("ORDERS", "orders.order.placed")).filter((message) => OrderPlaced.decode(message.data).orderId === "ord_outage");
    await expect.poll(async () => (await outageEvents()).length, { timeout: 10_000 }).toBe(1);
  });

  it("deletes a batch's rows with the next fetch, without publishing it again, and the last one's on stop", async () => {
    const outbox = new Outbox();
    const relay = new OutboxRelay(db, jetstream(connection), logger);
    const unsent = async () => (await db.query<{ id: string }>("select id from outbox order by seq")).map((row) => row.id);
    const first = await db.transaction((tx) => outbox.add(tx, orderPlaced, placed("ord_batch_1")));
    expect(await relay.relayBatch()).toBe(1);
    const second = await db.transaction((tx) => outbox.add(tx, orderPlaced, placed("ord_batch_2")));
    // The statement that deletes the first batch's rows fetches the second: the first is not among it.
    expect(await relay.relayBatch()).toBe(1);
    expect(await unsent()).not.toContain(first);
    await relay.stop();
    expect(await unsent()).toEqual([]);
    const ids = (await publishedOn("ORDERS", "orders.order.placed")).map((message) => message.header.get("Nats-Msg-Id"));
    expect(ids.filter((id) => id === first || id === second)).toEqual([first, second]);
  });

  it("publishes a row read from the table byte for byte, whatever its size", async () => {
    // Payloads of 0 bytes up to a few KB: the relay reads them in base64, which PostgreSQL wraps every 76 characters.
    const events = [OrderPlaced.fromPartial({}), ...[1, 40, 41, 3000].map((length) => placed(`ord_size_${"x".repeat(length)}`))].map((message) =>
      new Outbox().entry(orderPlaced, message),
    );
    for (const event of events) await insertOutboxRow(event);
    const relay = new OutboxRelay(db, jetstream(connection), logger);
    while ((await relay.relayBatch()) > 0);
    await relay.stop();
    const published = new Map((await publishedOn("ORDERS", "orders.order.placed")).map((message) => [message.header.get("Nats-Msg-Id"), message.data]));
    expect(events.map((event) => event.payload.length)).toContain(0);
    for (const event of events) expect(Buffer.from(published.get(event.id)!).equals(Buffer.from(event.payload))).toBe(true);
  });

  it("reads on from the last row it read, and still publishes a row committed late below it", async () => {
    // Rows at keys far above the rest, as a long-running shop's are; a row committed late took its key before them.
    const row = (seq: number, orderId: string) => insertOutboxRow(new Outbox().entry(orderPlaced, placed(orderId)), seq);
    const reads: unknown[][] = [];
    const recorded: Database = { ...db, query: (sql, params) => (readsOutboxRows(sql) && reads.push(params ?? []), db.query(sql, params)) };
    const relay = new OutboxRelay(recorded, jetstream(connection), logger, { batchSize: 1 });
    for (const [index, seq] of [1_000_001, 1_000_002, 1_000_003].entries()) await row(seq, `ord_floor_${index}`);
    expect(await relay.relayBatch()).toBe(1);
    await row(999_999, "ord_floor_late");
    while ((await relay.relayBatch()) > 0);
    await relay.stop();
    expect(await db.query("select id from outbox")).toEqual([]);
    const orderIds = (await publishedOn("ORDERS", "orders.order.placed")).map((message) => OrderPlaced.decode(message.data).orderId);
    expect(orderIds.filter((id) => id.startsWith("ord_floor_"))).toEqual(["ord_floor_0", "ord_floor_1", "ord_floor_2", "ord_floor_late"]);
    // Each read after a batch started above that batch's last row; the pass ended with a read from the start, which found the late one.
    const floors = reads.map((params) => params[4]);
    expect(floors.slice(0, 3)).toEqual([0, 1_000_001, 1_000_002]);
    expect(floors).toContain(0);
    expect(floors.lastIndexOf(0)).toBeGreaterThan(2);
  });

  it("starts a long pass over the table again from the start every idleMs", async () => {
    const outbox = new Outbox();
    const reads: unknown[][] = [];
    const recorded: Database = { ...db, query: (sql, params) => (readsOutboxRows(sql) && reads.push(params ?? []), db.query(sql, params)) };
    const relay = new OutboxRelay(recorded, jetstream(connection), logger, { batchSize: 1, idleMs: 100 });
    for (let index = 0; index < 4; index++) await db.transaction((tx) => outbox.add(tx, orderPlaced, placed(`ord_pass_${index}`)));
    expect(await relay.relayBatch()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    while ((await relay.relayBatch()) > 0);
    await relay.stop();
    expect(await db.query("select id from outbox")).toEqual([]);
    // The first read and the one after the pause began at the start; the others above the batch before.
    const fromStart = reads.map((params, index) => [index, params[4]]).filter(([, floor]) => floor === 0).map(([index]) => index);
    expect(fromStart.slice(0, 2)).toEqual([0, 2]);
    expect(reads[1]![4]).toBeGreaterThan(0);
  });

  it("fetches the next batch while the current one is being published", async () => {
    const outbox = new Outbox();
    for (const orderId of ["ord_overlap_1", "ord_overlap_2"]) await db.transaction((tx) => outbox.add(tx, orderPlaced, placed(orderId)));
    // The relay's statements are counted, and its publishes wait for the test's go-ahead.
    const fetches: string[] = [];
    const counted: Database = { ...db, query: (sql, params) => (fetches.push(sql), db.query(sql, params)) };
    let publishing = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const js = jetstream(connection);
    const gated = { publish: (...args: Parameters<typeof js.publish>) => (publishing++, held.then(() => js.publish(...args))) } as unknown as typeof js;
    const relay = new OutboxRelay(counted, gated, logger, { batchSize: 1 });

    const first = relay.relayBatch();
    await expect.poll(() => publishing).toBe(1);
    // Before the first batch's publish is acknowledged, the second batch has been asked for.
    await expect.poll(() => fetches.length).toBe(2);
    release();
    expect(await first).toBe(1);
    expect(await relay.relayBatch()).toBe(1); // the prefetched batch: no statement of its own before publishing
    expect(fetches.length).toBe(3);
    await relay.relayBatch();
    await relay.stop();
    expect(await db.query("select id from outbox")).toEqual([]);
    const orderIds = (await publishedOn("ORDERS", "orders.order.placed")).map((message) => OrderPlaced.decode(message.data).orderId);
    expect(orderIds.filter((id) => id.startsWith("ord_overlap_"))).toEqual(["ord_overlap_1", "ord_overlap_2"]);
  });
});

describe("the outbox relay's statements", () => {
  it("reach the rows they delete and fetch by index, on a backlog of 20,000 rows never analyzed", async () => {
    const backlog = await freshDatabase("events_outbox_backlog").then(openDatabase);
    try {
      await migrate(backlog, RUNTIME_MIGRATIONS);
      // On a stream of their own: the other tests read ORDERS message by message.
      await ensureStream(jsm, { name: "BACKLOG", subjects: ["backlog.>"] });
      const event = new Outbox().entry(orderPlaced, placed("ord_backlog"));
      await backlog.query(
        `insert into outbox (id, subject, type_name, payload, headers)
           select 'evt_backlog_' || n, 'backlog.placed', $1, $2, $3 from generate_series(1, 20000) as n`,
        [event.typeName, event.payload, JSON.stringify(event.headers)],
      );
      const recorded = recordingStatements(backlog);
      const outbox = new Outbox();
      const relay = new OutboxRelay({ ...backlog, query: recorded.query }, jetstream(connection), logger, { batchSize: 64, deleteDelayMs: 0 });
      // Rows read from the table (deleted by key), then an event handed over in memory (deleted by id).
      relay.start("backlog-test", outbox);
      await expect.poll(async () => (await backlog.query<{ n: number }>("select count(*)::int as n from outbox"))[0]!.n, { timeout: 10_000 }).toBeLessThan(19_800);
      const handed = await backlog.transaction((tx) => outbox.add(tx, orderPlaced, placed("ord_backlog_handed")));
      await expect.poll(() => backlog.query("select id from outbox where id = $1", [handed]), { timeout: 10_000 }).toEqual([]);
      await relay.stop();
      expect(await recorded.tablesReadWhole()).toEqual([]);
    } finally {
      await backlog.close();
    }
  }, 60_000);
});

describe("the outbox's upgrade to deleting sent rows", () => {
  it("drops the rows an earlier version marked sent and keeps the unsent ones, which the relay then publishes", async () => {
    const earlier = await freshDatabase("events_outbox_upgrade").then(openDatabase);
    try {
      await migrate(earlier, RUNTIME_MIGRATIONS, { through: "runtime_002_inbox_received.sql" });
      const event = new Outbox().entry(orderPlaced, placed("ord_upgraded"));
      const row = (id: string, sent: boolean) =>
        earlier.query(`insert into outbox (id, subject, type_name, payload, headers, sent_at) values ($1, $2, $3, $4, $5, ${sent ? "now()" : "null"})`, [
          id,
          event.subject,
          event.typeName,
          event.payload,
          JSON.stringify(event.headers),
        ]);
      await row("evt_upgrade_sent", true);
      await row(event.id, false);
      expect(await migrate(earlier, RUNTIME_MIGRATIONS)).toEqual(["runtime_003_outbox_deletes_sent.sql"]);
      expect(await earlier.query("select id from outbox")).toEqual([{ id: event.id }]);

      const relay = new OutboxRelay(earlier, jetstream(connection), logger);
      relay.start("upgrade-test");
      await expect.poll(() => earlier.query("select id from outbox"), { timeout: 10_000 }).toEqual([]);
      await relay.stop();
      const ids = (await publishedOn("ORDERS", "orders.order.placed")).map((message) => message.header.get("Nats-Msg-Id"));
      expect(ids).toContain(event.id);
      expect(ids).not.toContain("evt_upgrade_sent");
    } finally {
      await earlier.close();
    }
  });
});

describe("consumers", () => {
  let consumers: EventConsumers;
  let failuresLeft = 0;
  let outagesLeft = 0;

  beforeAll(async () => {
    await ensureStream(jsm, { name: "ORDERS", subjects: ["orders.>"] });
    consumers = new EventConsumers(
      [
        on(orderCancelled, async (event, { tx, eventId }) => {
          if (event.orderId === "ord_always_fails") throw new Error("cannot handle this one");
          if (failuresLeft > 0) {
            failuresLeft -= 1;
            throw new Error("failed once, then works");
          }
          if (outagesLeft > 0) {
            outagesLeft -= 1;
            // What pg throws while its server is away: the infrastructure's failure, not the message's.
            throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
          }
          await tx.query("insert into applied (event_id, order_id) values ($1, $2)", [eventId, event.orderId]);
        }),
      ],
      { db, outbox: new Outbox(), js: jetstream(connection), jsm, logger },
      { service: "test", maxDeliver: 2, backoffMs: 20 },
    );
    await consumers.start();
  });
  afterAll(() => consumers?.stop());

  function publishCancelled(orderId: string, eventId: string, body?: Uint8Array, typeName = "bazaar.orders.v1.OrderCancelled") {
    const h = headers();
    h.set(EVENT_TYPE_HEADER, typeName);
    return jetstream(connection).publish("orders.order.cancelled", body ?? OrderCancelled.encode(OrderCancelled.fromPartial({ orderId })).finish(), {
      msgID: eventId,
      headers: h,
    });
  }

  const appliedFor = (orderId: string) => db.query("select event_id from applied where order_id = $1", [orderId]);

  it("applies an event once even when it is delivered twice", async () => {
    await publishCancelled("ord_twice", "evt_twice");
    await expect.poll(() => appliedFor("ord_twice"), { timeout: 10_000 }).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 700)); // past the stream's duplicate window
    const again = await publishCancelled("ord_twice", "evt_twice");
    expect(again.duplicate).toBe(false);
    await expect.poll(async () => (await jsm.consumers.info("ORDERS", consumers.durableName("orders.order.cancelled"))).ack_floor.stream_seq, { timeout: 10_000 }).toBe(again.seq);
    expect(await appliedFor("ord_twice")).toEqual([{ event_id: "evt_twice" }]);
  });

  it("redelivers after a failure and applies once", async () => {
    failuresLeft = 1;
    await publishCancelled("ord_transient", "evt_transient");
    await expect.poll(() => appliedFor("ord_transient"), { timeout: 10_000 }).toHaveLength(1);
  });

  it("waits out an outage longer than maxDeliver deliveries: a transient failure never dead-letters", async () => {
    outagesLeft = 5; // more deliveries than maxDeliver (2) allows for failures of the message itself
    await publishCancelled("ord_outage", "evt_ord_outage");
    await expect.poll(() => appliedFor("ord_outage"), { timeout: 15_000 }).toHaveLength(1);
    expect(outagesLeft).toBe(0);
    const dead = (await publishedOn("DEAD_LETTERS", "dead.test-orders_order_cancelled").catch(() => [])).filter(
      (m) => m.header.get(DEAD_LETTER_HEADERS.eventId) === "evt_ord_outage",
    );
    expect(dead).toEqual([]);
  });

  it("brings a consumer an earlier version made (max_deliver 6) to unlimited deliveries, keeping its position", async () => {
    const legacy = new EventConsumers([on(orderCancelled, async () => {})], { db, outbox: new Outbox(), js: jetstream(connection), jsm, logger }, { service: "legacy" });
    const durable = legacy.durableName("orders.order.cancelled");
    await jsm.consumers.add("ORDERS", { durable_name: durable, filter_subject: "orders.order.cancelled", ack_policy: AckPolicy.Explicit, max_deliver: 6 });
    await legacy.start();
    try {
      expect((await jsm.consumers.info("ORDERS", durable)).config.max_deliver).toBe(-1);
    } finally {
      await legacy.stop();
      await jsm.consumers.delete("ORDERS", durable);
    }
  });

  it.each([
    ["bytes that do not decode", "ord_garbage", new Uint8Array([0x0a, 0xff, 0xff]), undefined, "not a valid bazaar.orders.v1.OrderCancelled"],
    ["a message of the wrong type", "ord_wrong_type", undefined, "bazaar.orders.v1.OrderPlaced", "got bazaar.orders.v1.OrderPlaced"],
    ["a handler that keeps failing", "ord_always_fails", undefined, undefined, "cannot handle this one"],
  ])("dead-letters %s instead of redelivering forever", async (_what, orderId, body, typeName, reason) => {
    await publishCancelled(orderId, `evt_${orderId}`, body, typeName);
    await ensureStream(jsm, { name: "DEAD_LETTERS", subjects: ["dead.>"] });
    const deadFor = async () =>
      (await publishedOn("DEAD_LETTERS", "dead.test-orders_order_cancelled")).filter(
        (m) => m.header.get(DEAD_LETTER_HEADERS.eventId) === `evt_${orderId}`,
      );
    await expect.poll(deadFor, { timeout: 15_000 }).toHaveLength(1);
    const [dead] = await deadFor();
    expect(dead!.header.get(DEAD_LETTER_HEADERS.reason)).toContain(reason);
    expect(dead!.header.get(DEAD_LETTER_HEADERS.subject)).toBe("orders.order.cancelled");
    expect(await appliedFor(orderId)).toEqual([]);
  });
});

describe("idempotent consumers", () => {
  let consumers: EventConsumers;
  /** The orders of each batch the handler was given, in order. */
  const batchesSeen: string[][] = [];
  let flakyLeft = 0;

  beforeAll(async () => {
    await db.exec("create table sold (order_id text primary key)");
    consumers = new EventConsumers(
      [
        onIdempotent(orderPlaced, async (deliveries, { db: database }) => {
          const orderIds = deliveries.map(({ event }) => event.orderId);
          batchesSeen.push(orderIds);
          const failing = (orderId: string) => orderId.endsWith("_flaky") && flakyLeft > 0;
          const rows = await database.query<{ order_id: string }>("insert into sold (order_id) select unnest($1::text[]) on conflict do nothing returning order_id", [
            orderIds.filter((orderId) => !failing(orderId)),
          ]);
          const sold = new Set(rows.map((row) => row.order_id));
          const outcomes = orderIds.map((orderId) => (failing(orderId) ? new Error(`${orderId} failed this time`) : sold.has(orderId)));
          if (orderIds.some(failing)) flakyLeft -= 1;
          return outcomes;
        }),
      ],
      { db, outbox: new Outbox(), js: jetstream(connection), jsm, logger },
      // A long linger, so that events published together are handed over together.
      { service: "batching", maxDeliver: 2, backoffMs: 20, batchLingerMs: 300 },
    );
    await consumers.start();
  });
  afterAll(() => consumers?.stop());

  const publishPlaced = (orderId: string, body?: Uint8Array) => {
    const h = headers();
    h.set(EVENT_TYPE_HEADER, "bazaar.orders.v1.OrderPlaced");
    return jetstream(connection).publish("orders.order.placed", body ?? OrderPlaced.encode(placed(orderId)).finish(), { msgID: `evt_${orderId}`, headers: h });
  };
  const soldOf = async (orderIds: string[]) =>
    (await db.query<{ order_id: string }>("select order_id from sold where order_id = any($1) order by order_id", [orderIds])).map((row) => row.order_id);
  const timesGiven = (orderId: string) => batchesSeen.filter((batch) => batch.includes(orderId)).length;
  const settled = async () => {
    const info = await jsm.consumers.info("ORDERS", consumers.durableName("orders.order.placed"));
    return info.num_pending + info.num_ack_pending;
  };

  it("apply the events delivered together in one call, and acknowledge each of them", async () => {
    const orderIds = Array.from({ length: 10 }, (_, index) => `ord_together_${index}`);
    await Promise.all(orderIds.map((orderId) => publishPlaced(orderId)));
    await expect.poll(() => soldOf(orderIds), { timeout: 10_000 }).toEqual([...orderIds].sort());
    await expect.poll(settled, { timeout: 10_000 }).toBe(0);
    expect(Math.max(...batchesSeen.map((batch) => batch.filter((orderId) => orderIds.includes(orderId)).length))).toBeGreaterThan(1);
    for (const orderId of orderIds) expect(timesGiven(orderId), orderId).toBe(1);
  });

  it("redeliver only the event that failed; the rest of its batch is applied once", async () => {
    flakyLeft = 1;
    const orderIds = ["ord_batch_a", "ord_batch_b", "ord_batch_flaky", "ord_batch_c"];
    await Promise.all(orderIds.map((orderId) => publishPlaced(orderId)));
    await expect.poll(() => soldOf(orderIds), { timeout: 10_000 }).toEqual([...orderIds].sort());
    await expect.poll(settled, { timeout: 10_000 }).toBe(0);
    expect(timesGiven("ord_batch_flaky")).toBe(2);
    for (const orderId of ["ord_batch_a", "ord_batch_b", "ord_batch_c"]) expect(timesGiven(orderId), orderId).toBe(1);
  });

  it("dead-letter a message of a batch that does not decode, and apply the others", async () => {
    const orderIds = ["ord_beside_garbage_1", "ord_beside_garbage_2"];
    await Promise.all([...orderIds.map((orderId) => publishPlaced(orderId)), publishPlaced("ord_placed_garbage", new Uint8Array([0x0a, 0xff, 0xff]))]);
    await expect.poll(() => soldOf(orderIds), { timeout: 10_000 }).toEqual(orderIds);
    const deadFor = async () =>
      (await publishedOn("DEAD_LETTERS", "dead.batching-orders_order_placed")).filter((m) => m.header.get(DEAD_LETTER_HEADERS.eventId) === "evt_ord_placed_garbage");
    await expect.poll(deadFor, { timeout: 10_000 }).toHaveLength(1);
    expect(timesGiven("ord_placed_garbage")).toBe(0);
  });
});

describe("the event catalog", () => {
  it("binds every event message of the contracts to its declared subject, one type per subject", async () => {
    const { events } = await import("@bazaar/shop/events");
    const { allEventSubjects } = await import("@bazaar/runtime/contracts");
    const bound = new Map(Object.values(events).map((type) => [type.subject, type.typeName]));
    expect(bound).toEqual(allEventSubjects());
  });
});

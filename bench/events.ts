/**
 * Measurement 3, the event pipeline, against a real nats-server run as
 * deployed (deploy/nats/nats.conf: mutual TLS, a user per service):
 * - throughput: N outbox rows (OrderPlaced, inserted in bulk beforehand) relayed
 *   by OutboxRelay.relayBatch until none is left, versus the same messages
 *   published straight to JetStream from the same process, pipelined in windows
 *   of the relay's batch size; interleaved rounds, ratio per round. Both sides
 *   publish on one connection as the "orders" user (its certificate), the one
 *   allowed to publish orders.* events, so TLS is on both sides of the ratio.
 * - latency: orders-like transactions commit one OrderPlaced each at a steady
 *   rate while the relay runs as services run it (OutboxRelay.start) and an
 *   EventConsumers consumer (inbox, its own database) handles them; the figure
 *   is from the insert's commit to the handler starting. The consumer is the
 *   inventory's (its user may consume orders.order.placed), on a fresh server:
 *   no user may purge the throughput rounds' messages from the stream.
 * Relay, consumer and producer share this one process (in the mesh they are
 * separate processes); each has its own database where the mesh has one. Both
 * figures are taken on both backends: in-memory PGlite, and a database each on
 * one real PostgreSQL server (lib/postgres.ts); the throughput rounds interleave
 * the two relays with the raw publishing they are compared with.
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/events.ts <out.json>
 * Env: BENCH_EVENTS_N (3000), BENCH_EVENTS_ROUNDS (3), BENCH_EVENTS_RATE (100/s), BENCH_EVENTS_SECONDS (5),
 *      BENCH_BACKENDS ("pglite,postgres")
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { type OrderPlaced } from "@bazaar/gen/bazaar/orders/v1/events";
import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrate } from "@bazaar/runtime/db/migrate";
import { events } from "@bazaar/runtime/events/catalog";
import { EventConsumers, on } from "@bazaar/runtime/events/consumer";
import { streamOf } from "@bazaar/runtime/events/event-type";
import { connectNats, ensureStream } from "@bazaar/runtime/events/nats";
import { Outbox, OutboxRelay } from "@bazaar/runtime/events/outbox";
import { newId } from "@bazaar/runtime/ids";
import { createLogger } from "@bazaar/runtime/logger";
import { type BenchNats, startNats } from "./lib/nats.js";
import { type Backend, type BenchPostgres, chosenBackends, startBenchPostgres } from "./lib/postgres.js";
import { ROOT } from "./lib/process.js";
import { median, quantile, round } from "./lib/stats.js";
import { benchCertificates, certificateFiles } from "./lib/tls.js";

const N = Number(process.env.BENCH_EVENTS_N) || 3000;
const ROUNDS = Number(process.env.BENCH_EVENTS_ROUNDS) || 3;
const RATE = Number(process.env.BENCH_EVENTS_RATE) || 100;
const SECONDS = Number(process.env.BENCH_EVENTS_SECONDS) || 5;
const BATCH = 256; // the relay's default batch size: raw publishing gets the same pipeline depth

const now = () => performance.timeOrigin + performance.now();
const logger = createLogger("bench", "silent");
const type = events.orderPlaced;

const placed = (index: number): OrderPlaced => ({
  orderId: newId("ord"),
  customerId: `bench-${index % 97}`,
  lines: [
    {
      productId: "v60-dripper",
      productName: "Hario V60 Dripper 02",
      quantity: 1,
      unitPrice: { currencyCode: "EUR", minorUnits: 2500 },
      lineTotal: { currencyCode: "EUR", minorUnits: 2500 },
    },
  ],
  total: { currencyCode: "EUR", minorUnits: 2500 },
  paymentId: newId("pay"),
  occurredAt: new Date(),
});

const certs = benchCertificates();
/** A connection as `service`'s NATS user, made as the services make theirs (inbox prefix, TLS files). */
const connectAs = (nats: BenchNats, service: string) => connectNats(nats.url, service, logger, certificateFiles(certs, service));

const backends = chosenBackends();
const servers: BenchNats[] = [];
const connections: NatsConnection[] = [];
const dbs: Database[] = [];
let postgres: BenchPostgres | undefined;

/** A migrated database on `backend`: in-memory PGlite, or a fresh database `name` on the PostgreSQL server. */
async function database(backend: Backend, name: string): Promise<Database> {
  let url = "memory://";
  if (backend === "postgres") {
    postgres ??= await startBenchPostgres();
    await postgres.freshDatabases([name]);
    url = postgres.url(name);
  }
  const db = await openDatabase({ url, dataDir: "" });
  dbs.push(db);
  await migrate(db, join(ROOT, "lib", "migrations"));
  return db;
}

/** A fresh nats-server with the orders stream declared by its publisher, as the orders service declares it. */
async function freshNats() {
  const nats = await startNats({ certs });
  servers.push(nats);
  const producer = await connectAs(nats, "orders");
  connections.push(producer);
  await ensureStream(await jetstreamManager(producer), streamOf(type.subject));
  return { nats, js: jetstream(producer) };
}

/** Relay and raw throughput, interleaved: the backends' relays and raw publishing, in a rotating order per round. */
async function throughput() {
  const { js } = await freshNats();
  const outbox = new Outbox();
  const producerDbs = Object.fromEntries(await Promise.all(backends.map(async (backend) => [backend, await database(backend, "events_producer")] as const)));
  const relayOnce = async (backend: Backend) => {
    const db = producerDbs[backend]!;
    await db.transaction(async (tx) => {
      for (let index = 0; index < N; index += 1) await outbox.add(tx, type, placed(index));
    });
    const relay = new OutboxRelay(db, js, logger);
    const started = now();
    let sent = 0;
    for (let batch = await relay.relayBatch(); batch > 0; batch = await relay.relayBatch()) sent += batch;
    if (sent !== N) throw new Error(`relay (${backend}) published ${sent} of ${N}`);
    return N / ((now() - started) / 1000);
  };
  const rawOnce = async () => {
    const messages = Array.from({ length: N }, (_, index) => ({ id: newId("evt"), payload: type.encode(placed(index)) }));
    const started = now();
    for (let offset = 0; offset < N; offset += BATCH) {
      await Promise.all(
        messages.slice(offset, offset + BATCH).map((message) => {
          const headers = natsHeaders();
          headers.set("Bazaar-Event-Type", type.typeName);
          return js.publish(type.subject, message.payload, { msgID: message.id, headers });
        }),
      );
    }
    return N / ((now() - started) / 1000);
  };
  await rawOnce(); // warm-up: connection, JIT
  const sides = ["raw", ...backends] as const;
  const rates: Record<string, number[]> = Object.fromEntries(sides.map((side) => [side, []]));
  for (let round_ = 0; round_ < ROUNDS; round_ += 1) {
    // Rotate who goes first, so no side always runs on a warmer (or busier) machine.
    const order = sides.map((_, index) => sides[(index + round_) % sides.length]!);
    for (const side of order) rates[side]!.push(side === "raw" ? await rawOnce() : await relayOnce(side));
    console.error(`events round ${round_ + 1}/${ROUNDS}: ${sides.map((side) => `${side} ${round(rates[side]!.at(-1)!, 0)}/s`).join(" ")}`);
  }
  const raw = rates.raw!;
  return {
    rawPerSecond: round(median(raw), 0),
    rawPerRound: raw.map((rate) => round(rate, 0)),
    relay: Object.fromEntries(
      backends.map((backend) => {
        const relay = rates[backend]!;
        const ratios = relay.map((rate, index) => rate / raw[index]!);
        return [
          backend,
          {
            relayPerSecond: round(median(relay), 0),
            ratio: round(median(ratios), 3),
            perRound: relay.map((rate, index) => ({ relay: round(rate, 0), raw: round(raw[index]!, 0), ratio: round(ratios[index]!, 3) })),
          },
        ];
      }),
    ),
  };
}

/**
 * Commit-to-consumer latency under a steady load, producer and consumer on `backend`. The consumer
 * delivers from the start of the stream, and no user may purge it: a fresh server each time.
 */
async function latency(backend: Backend) {
  const { js, nats } = await freshNats();
  const producerDb = await database(backend, "events_latency_producer");
  const outbox = new Outbox();
  const consumer = await connectAs(nats, "inventory");
  connections.push(consumer);
  const consumerDb = await database(backend, "events_latency_consumer");
  const committedAt = new Map<string, number>();
  const latencies: number[] = [];
  const consumers = new EventConsumers(
    [
      on(type, async (_event, context) => {
        const committed = committedAt.get(context.eventId);
        if (committed !== undefined) latencies.push(now() - committed);
      }),
    ],
    { db: consumerDb, js: jetstream(consumer), jsm: await jetstreamManager(consumer), logger },
    // Its durable, inventory-orders_order_placed, is one the inventory user may create and pull from.
    { service: "inventory" },
  );
  await consumers.start();
  const relay = new OutboxRelay(producerDb, js, logger);
  relay.start("orders", outbox);
  const total = RATE * SECONDS;
  const began = now();
  const commits: Promise<void>[] = [];
  for (let index = 0; index < total; index += 1) {
    const due = began + (index * 1000) / RATE;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    commits.push(
      producerDb
        .transaction((tx) => outbox.add(tx, type, placed(index)))
        .then((id) => void committedAt.set(id, now())),
    );
  }
  await Promise.all(commits);
  const deadline = now() + 20_000;
  while (latencies.length < total && now() < deadline) await sleep(50);
  await relay.stop();
  await consumers.stop();
  const result = {
    ratePerSecond: RATE,
    seconds: SECONDS,
    delivered: latencies.length,
    expected: total,
    p50Ms: round(quantile(latencies, 0.5), 1),
    p99Ms: round(quantile(latencies, 0.99), 1),
    maxMs: round(Math.max(...latencies), 1),
  };
  console.error(`events latency (${backend}) @${RATE}/s: p50 ${result.p50Ms} ms p99 ${result.p99Ms} ms (${latencies.length}/${total})`);
  return result;
}

try {
  const measured = await throughput();
  const latencies: Record<string, Awaited<ReturnType<typeof latency>>> = {};
  for (const backend of backends) latencies[backend] = await latency(backend);
  const report = {
    messages: N,
    rounds: ROUNDS,
    batch: BATCH,
    rawPerSecond: measured.rawPerSecond,
    rawPerRound: measured.rawPerRound,
    backends: Object.fromEntries(backends.map((backend) => [backend, { ...measured.relay[backend]!, latency: latencies[backend]! }])),
  };
  writeFileSync(process.argv[2] ?? "events.json", JSON.stringify(report, null, 2));
} finally {
  for (const connection of connections) await connection.close();
  for (const db of dbs) await db.close();
  for (const server of servers) await server.stop();
  await postgres?.stop();
}
process.exit(0);

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
 * separate processes); each has its own database and login where the mesh has
 * one, on a PostgreSQL cluster started as `make up` starts its own
 * (lib/postgres.ts: the server's default settings, fsync included).
 *
 * Usage: node --conditions=bazaar-source --import tsx bench/events.ts <out.json>
 * Env: BENCH_EVENTS_N (20000: fewer made rounds of a fraction of a second, whose ratio moved 0.5–1.2 with the machine), BENCH_EVENTS_ROUNDS (6: even, so each side goes first as often; whoever ran second in a round was up to 1.5× faster in one run), BENCH_EVENTS_RATE (100/s), BENCH_EVENTS_SECONDS (5)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { type OrderPlaced } from "@bazaar/gen/bazaar/orders/v1/events";
import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrate } from "@bazaar/runtime/db/migrate";
import { ensureOwnDatabase } from "@bazaar/runtime/db/provision";
import { events } from "@bazaar/shop/events";
import { EventConsumers, on } from "@bazaar/runtime/events/consumer";
import { streamOf } from "@bazaar/runtime/events/event-type";
import { connectNats, ensureStream } from "@bazaar/runtime/events/nats";
import { Outbox, OutboxRelay } from "@bazaar/runtime/events/outbox";
import { newId } from "@bazaar/runtime/ids";
import { createLogger } from "@bazaar/runtime/logger";
import { devDatabasePassword } from "../scripts/dev-env.js";
import { type BenchNats, startNats } from "./lib/nats.js";
import { type BenchCluster, startBenchCluster } from "./lib/postgres.js";
import { cpuSeconds, ROOT } from "./lib/process.js";
import { median, quantile, round } from "./lib/stats.js";
import { benchCertificates, certificateFiles } from "./lib/tls.js";

const N = Number(process.env.BENCH_EVENTS_N) || 20000;
const ROUNDS = Number(process.env.BENCH_EVENTS_ROUNDS) || 6;
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

const work = mkdtempSync(join(tmpdir(), "bazaar-bench-events-"));
const servers: BenchNats[] = [];
const connections: NatsConnection[] = [];
const dbs: Database[] = [];
let cluster: BenchCluster | undefined;

/** A new migrated database `name`, reached through its own login as a service reaches its own. */
async function database(name: string): Promise<Database> {
  cluster ??= await startBenchCluster(join(work, "postgres"), join(work, "postgres.log"));
  await ensureOwnDatabase(cluster.superuserUrl(), name, devDatabasePassword(name));
  const db = await openDatabase(cluster.url(name, name, devDatabasePassword(name)));
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

/** CPU microseconds per event of each process a side keeps busy: this one, nats-server, the PostgreSQL cluster (the relay's statements). */
interface CpuPerEvent {
  bench: number;
  nats: number;
  postgres: number;
  all: number;
}

/** Run `side`, which handles N events, and measure its rate and the CPU each process spent on it. */
async function measured(nats: BenchNats, side: () => Promise<void>): Promise<{ perSecond: number; cpu: CpuPerEvent }> {
  const postgres = () => cluster?.cpuSeconds() ?? 0;
  const before = { bench: process.cpuUsage(), nats: cpuSeconds(nats.started.pid), postgres: postgres() };
  const started = now();
  await side();
  const perSecond = N / ((now() - started) / 1000);
  const benchUs = process.cpuUsage(before.bench);
  const cpu = {
    bench: (benchUs.user + benchUs.system) / N,
    nats: ((cpuSeconds(nats.started.pid) - before.nats) * 1e6) / N,
    postgres: ((postgres() - before.postgres) * 1e6) / N,
  };
  return { perSecond, cpu: { ...cpu, all: cpu.bench + cpu.nats + cpu.postgres } };
}

/** Relay and raw throughput, interleaved: who goes first alternates per round. */
async function throughput() {
  const { js, nats } = await freshNats();
  const outbox = new Outbox();
  const db = await database("events_producer");
  const relayOnce = async () => {
    await db.transaction(async (tx) => {
      for (let index = 0; index < N; index += 1) await outbox.add(tx, type, placed(index));
    });
    const relay = new OutboxRelay(db, js, logger);
    return measured(nats, async () => {
      let sent = 0;
      for (let batch = await relay.relayBatch(); batch > 0; batch = await relay.relayBatch()) sent += batch;
      if (sent !== N) throw new Error(`relay published ${sent} of ${N}`);
    });
  };
  const rawOnce = async () => {
    const messages = Array.from({ length: N }, (_, index) => ({ id: newId("evt"), payload: type.encode(placed(index)) }));
    return measured(nats, async () => {
      for (let offset = 0; offset < N; offset += BATCH) {
        await Promise.all(
          messages.slice(offset, offset + BATCH).map((message) => {
            const headers = natsHeaders();
            headers.set("Bazaar-Event-Type", type.typeName);
            return js.publish(type.subject, message.payload, { msgID: message.id, headers });
          }),
        );
      }
    });
  };
  // Warm-up, both sides: the connection, and each side's code compiled before it is measured
  // (with raw publishing alone warmed, the relay's first round ran its code cold: 0.64–0.81 of raw).
  await rawOnce();
  await relayOnce();
  const raw: Array<{ perSecond: number; cpu: CpuPerEvent }> = [];
  const relay: Array<{ perSecond: number; cpu: CpuPerEvent }> = [];
  for (let round_ = 0; round_ < ROUNDS; round_ += 1) {
    // Alternate who goes first, so neither side always runs on a warmer (or busier) machine.
    if (round_ % 2 === 0) raw.push(await rawOnce());
    relay.push(await relayOnce());
    if (round_ % 2 === 1) raw.push(await rawOnce());
    console.error(
      `events round ${round_ + 1}/${ROUNDS}: raw ${round(raw.at(-1)!.perSecond, 0)}/s (${round(raw.at(-1)!.cpu.all, 1)} µs CPU/event)` +
        ` relay ${round(relay.at(-1)!.perSecond, 0)}/s (${round(relay.at(-1)!.cpu.all, 1)} µs CPU/event)`,
    );
  }
  const ratios = relay.map((side, index) => side.perSecond / raw[index]!.perSecond);
  const cpuMedian = (sides: typeof raw): CpuPerEvent => {
    const of = (key: keyof CpuPerEvent) => round(median(sides.map((side) => side.cpu[key])), 1);
    return { bench: of("bench"), nats: of("nats"), postgres: of("postgres"), all: of("all") };
  };
  return {
    rawPerSecond: round(median(raw.map((side) => side.perSecond)), 0),
    rawPerRound: raw.map((side) => round(side.perSecond, 0)),
    relayPerSecond: round(median(relay.map((side) => side.perSecond)), 0),
    ratio: round(median(ratios), 3),
    // CPU per event: what each side costs whatever the machine's other work leaves it (the rates depend on that).
    rawCpuUsPerEvent: cpuMedian(raw),
    relayCpuUsPerEvent: cpuMedian(relay),
    perRound: relay.map((side, index) => ({ relay: round(side.perSecond, 0), raw: round(raw[index]!.perSecond, 0), ratio: round(ratios[index]!, 3) })),
  };
}

/**
 * Commit-to-consumer latency under a steady load, producer and consumer each on its own database.
 * The consumer delivers from the start of the stream, and no user may purge it: a fresh nats-server.
 */
async function latency() {
  const { js, nats } = await freshNats();
  const producerDb = await database("events_latency_producer");
  const outbox = new Outbox();
  const consumer = await connectAs(nats, "inventory");
  connections.push(consumer);
  const consumerDb = await database("events_latency_consumer");
  const committedAt = new Map<string, number>();
  const latencies: number[] = [];
  const consumers = new EventConsumers(
    [
      on(type, async (_event, context) => {
        const committed = committedAt.get(context.eventId);
        if (committed !== undefined) latencies.push(now() - committed);
      }),
    ],
    { db: consumerDb, outbox: new Outbox(), js: jetstream(consumer), jsm: await jetstreamManager(consumer), logger },
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
  console.error(`events latency @${RATE}/s: p50 ${result.p50Ms} ms p99 ${result.p99Ms} ms (${latencies.length}/${total})`);
  return result;
}

try {
  const report = { messages: N, rounds: ROUNDS, batch: BATCH, ...(await throughput()), latency: await latency() };
  writeFileSync(process.argv[2] ?? "events.json", JSON.stringify(report, null, 2));
} finally {
  for (const connection of connections) await connection.close();
  for (const db of dbs) await db.close();
  for (const server of servers) await server.stop();
  cluster?.stop();
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);

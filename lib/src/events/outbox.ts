import { type JetStreamClient } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { columnsOf, type Database, type Queryable } from "../db/database.js";
import { newId } from "../ids.js";
import { type Logger } from "../logger.js";
import { eventMetrics, outboxOldestAge, outboxPending } from "../observability/metrics.js";
import { injectedHeaders } from "../observability/tracing.js";
import { EVENT_TYPE_HEADER, type EventType } from "./event-type.js";

/**
 * The transactional outbox. A handler records an event in the same database
 * transaction as the change it describes, so there is never a change without
 * its event or an event without its change; the relay publishes it later.
 */
export class Outbox {
  private readonly listeners = new Set<(events: readonly OutboxEntry[]) => void>();

  /**
   * Call `listener` with the events recorded here each time they are committed
   * (the relay publishes them without reading them back); returns an unsubscribe.
   */
  onCommitted(listener: (events: readonly OutboxEntry[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Record `message` for publishing; returns its event id (its Nats-Msg-Id). */
  async add<T>(tx: Queryable, type: EventType<T>, message: T, headers: Record<string, string> = {}): Promise<string> {
    const event = this.entry(type, message, headers);
    await tx.query(`insert into outbox (${OUTBOX_COLUMNS}) values ($1, $2, $3, $4, $5)`, outboxValues(event));
    this.recorded(tx, event);
    return event.id;
  }

  /**
   * `message` as an outbox row, for a data-modifying statement that records it
   * together with the change it describes (outboxInsert): one round trip to the
   * database, where add() inside a transaction takes BEGIN, the change, the
   * insert and COMMIT. Call recorded() once that statement has written it.
   */
  entry<T>(type: EventType<T>, message: T, headers: Record<string, string> = {}): OutboxEntry {
    return {
      id: newId("evt"),
      subject: type.subject,
      typeName: type.typeName,
      payload: Buffer.from(type.encode(message)),
      // traceparent: the consumer's span continues the trace of the request that made the change.
      headers: { ...injectedHeaders(), ...headers, [EVENT_TYPE_HEADER]: type.typeName },
    };
  }

  /**
   * Hand `events` to the relay once what `written` wrote is committed (at once
   * for a statement outside a transaction). Only events it did write: one
   * handed over is published as it is, without reading the table.
   */
  recorded(written: Queryable, ...events: OutboxEntry[]): void {
    written.afterCommit(() => this.listeners.forEach((listener) => listener(events)));
  }
}

/** An event as its outbox row, made by Outbox.entry. */
export interface OutboxEntry extends OutboxRow {
  typeName: string;
}

const OUTBOX_COLUMNS = "id, subject, type_name, payload, headers";
const outboxValues = (event: OutboxEntry) => [event.id, event.subject, event.typeName, event.payload, JSON.stringify(event.headers)];

/**
 * The outbox rows of `events` as a common table expression `name` of a
 * data-modifying statement, each written only if `condition` holds (SQL over
 * the statement's other expressions, where `e.key` is the key given with the
 * event, e.g. the id of the row whose change it describes), in the order
 * given; its parameters are numbered from `first`. A statement runs in one
 * transaction, so each change and its event commit together, or neither does.
 */
export function outboxInsert(name: string, events: Array<{ event: OutboxEntry; key?: string }>, first: number, condition: string): { sql: string; params: unknown[] } {
  const arrays = ["text", "text", "text", "bytea", "jsonb", "text"].map((type, offset) => `$${first + offset}::${type}[]`).join(", ");
  return {
    sql: `${name} as (
       insert into outbox (${OUTBOX_COLUMNS})
       select e.id, e.subject, e.type_name, e.payload, e.headers
         from unnest(${arrays}) with ordinality as e(id, subject, type_name, payload, headers, key, n)
        where ${condition}
        order by e.n
     )`,
    params: columnsOf(
      events,
      ({ event }) => event.id,
      ({ event }) => event.subject,
      ({ event }) => event.typeName,
      ({ event }) => event.payload,
      ({ event }) => JSON.stringify(event.headers),
      ({ key }) => key ?? null,
    ),
  };
}

interface OutboxRow {
  /** Its primary key, when it was read from the table (an event handed over in memory never learns it). */
  seq?: number;
  id: string;
  subject: string;
  payload: Uint8Array;
  headers: Record<string, string>;
}

export interface RelayOptions {
  /** Rows published per round trip to the database. */
  batchSize: number;
  /**
   * How often the relay reads the table anyway, busy or idle. An event
   * recorded through the Outbox given to start() is handed over in memory and
   * wakes it at once; this catches rows written otherwise (another replica's,
   * or before a restart).
   */
  idleMs: number;
  /** Ceiling of the exponential backoff while NATS is away. */
  maxBackoffMs: number;
  /**
   * How long the rows of events JetStream acknowledged may wait to be deleted,
   * so one statement deletes many. Until then they still read as unsent: a
   * relay that dies meanwhile publishes them again, and JetStream drops them as
   * duplicates of their Nats-Msg-Id.
   */
  deleteDelayMs: number;
}

/** Events handed over that may wait in memory; beyond, they are read from the table. */
const MAX_HANDED = 4096;

const DEFAULTS: RelayOptions = {
  batchSize: 256,
  idleMs: 1000,
  maxBackoffMs: 5000,
  deleteDelayMs: 250,
};

/**
 * Publishes outbox rows to JetStream, with Nats-Msg-Id set to the event id, and
 * deletes the acknowledged ones: what was published is in the stream, and a
 * row left in the table is one not published yet. The events this process commits
 * through its Outbox are handed over in memory and published at once, without
 * reading them back; the table is read, oldest first, when the relay starts,
 * every idleMs (rows another replica or an earlier run left) and after a
 * failure. JetStream drops a duplicate id within its window, so a
 * crash between publish and delete (or a second relay) cannot publish an event
 * twice. While NATS is away it backs off and retries; rows wait in the table,
 * also across restarts.
 */
export class OutboxRelay {
  private running = false;
  private service: string | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Set when an event was committed since the current batch began: the relay must look again before pausing. */
  private signalled = false;
  private unsubscribe: (() => void) | undefined;
  /** Committed events handed over by the Outbox, not yet published. */
  private handed: OutboxRow[] = [];
  /**
   * True while the table must be read: at start, every idleMs (rows another
   * replica or an earlier run left), and after handed events were dropped to
   * it (a failed publish, too many waiting); false once a read finds nothing.
   */
  private reading = true;
  private readAt = 0;
  /** How many times handed events were dropped to the table: a read that began before a drop may have missed them. */
  private drops = 0;
  /**
   * Ids lately published from memory. A read of the table that began before
   * their rows were deleted can still return them: they are not published again.
   */
  private readonly fromMemory = new Set<string>();
  /**
   * Events JetStream acknowledged whose rows are still in the table: the
   * statement that fetches the next batch deletes them, or one statement once
   * deleteDelayMs has passed or a batch has gathered; stop() and a failed batch
   * delete them at once.
   */
  private acked: RowKey[] = [];
  private ackedSince = 0;
  /** The next batch, fetched while the current one was being published. */
  private prefetched: Promise<OutboxRow[]> | undefined;
  /**
   * The highest key read from the table in this pass over it: the next read
   * starts above it. A deleted row's index entry stays until vacuum, and reads
   * from the start walked over every one of them again, batch after batch
   * (bench/analysis.md). A row whose transaction took its key before another's
   * but committed after it lands below the floor: a pass ends with a read from
   * the start, and a pass restarts from the start every idleMs.
   */
  private floor: number | undefined;
  private passBegan = 0;
  private readonly options: RelayOptions;

  constructor(
    private readonly db: Database,
    private readonly js: JetStreamClient,
    private readonly logger: Logger,
    options: Partial<RelayOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /**
   * `service` labels the outbox gauges (pending rows, oldest age) sampled at
   * each scrape; events committed through `outbox` are handed to the relay and
   * wake it at once.
   */
  start(service: string, outbox?: Outbox): void {
    this.running = true;
    this.unsubscribe = outbox?.onCommitted((events) => {
      this.handed.push(...events);
      // Too many waiting (NATS away, a backlog): the table holds them, memory need not.
      if (this.handed.length > MAX_HANDED) this.dropHanded();
      this.signalled = true;
      this.wake?.();
    });
    this.loop = this.run();
    outboxPending.set(service, async () => {
      const [row] = await this.db.query<{ n: number }>("select count(*)::int as n from outbox");
      return [{ labels: { service }, value: row?.n ?? 0 }];
    });
    outboxOldestAge.set(service, async () => {
      const [row] = await this.db.query<{ age: number | null }>(
        "select extract(epoch from now() - min(created_at))::float8 as age from outbox",
      );
      return [{ labels: { service }, value: row?.age ?? 0 }];
    });
    this.service = service;
  }

  async stop(): Promise<void> {
    if (this.service) {
      outboxPending.delete(this.service);
      outboxOldestAge.delete(this.service);
    }
    this.running = false;
    this.unsubscribe?.();
    this.wake?.();
    await this.loop;
    // The last batch (of the loop, or of a direct relayBatch call): no row JetStream acknowledged is left.
    await this.dropPrefetched();
    await this.deleteAcked().catch((error: unknown) => this.logger.warn({ err: error }, "outbox relay could not delete its last batch's rows"));
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        this.signalled = false;
        if (Date.now() - this.readAt >= this.options.idleMs) this.reading = true;
        const sent = await this.relayBatch();
        failures = 0;
        const deleteDue = this.acked.length >= this.options.batchSize || Date.now() - this.ackedSince >= this.options.deleteDelayMs;
        if (this.acked.length > 0 && deleteDue) await this.deleteAcked();
        if (sent > 0 || this.signalled) continue;
        if (this.acked.length > 0) {
          // Quiet for now: delete them when the delay is up (sooner if events keep coming and a batch gathers).
          await this.pause(this.options.deleteDelayMs - (Date.now() - this.ackedSince));
          continue;
        }
        if (!this.signalled) await this.pause(this.options.idleMs - (Date.now() - this.readAt));
      } catch (error) {
        failures += 1;
        // What was handed over is in the table: read from there once NATS is back.
        this.dropHanded();
        const backoff = Math.min(this.options.maxBackoffMs, 50 * 2 ** failures);
        const delay = Math.round(backoff / 2 + (Math.random() * backoff) / 2); // jitter: replicas don't retry in step
        this.logger.warn({ err: error, retry_in_ms: delay }, "outbox relay could not publish; will retry");
        await this.pause(delay);
      }
    }
  }

  /**
   * Publish one batch, pipelined: the events handed over, or, while the table
   * is being read, its oldest rows (not those handed over). While a batch read from the table is
   * in flight, one statement deletes the previous batch's rows and fetches the next
   * (not the rows in flight), so the database's round trip costs the relay no
   * time. If some publishes fail, the acknowledged ones are deleted at once and
   * the rest are retried: consumers are idempotent and do not rely on order
   * across events.
   */
  async relayBatch(): Promise<number> {
    if (this.handed.length > 0) {
      const rows = this.handed.splice(0, this.options.batchSize);
      for (const row of rows) this.fromMemory.add(row.id);
      // Bounded: an id's row is deleted within deleteDelayMs, long before this many more have gone out.
      for (const id of this.fromMemory) {
        if (this.fromMemory.size <= MAX_HANDED * 2) break;
        this.fromMemory.delete(id);
      }
      return this.publish(rows, false);
    }
    if (!this.reading) return 0;
    const prefetched = this.prefetched;
    this.prefetched = undefined;
    const unpublished = (rows: OutboxRow[]) => rows.filter((row) => !this.fromMemory.has(row.id));
    let read = prefetched ? await prefetched : [];
    let rows = unpublished(read);
    const dropsBefore = this.drops;
    if (rows.length === 0) {
      // An empty prefetch may predate rows committed since, or stop at the floor above one committed late: look again, from the start.
      this.floor = undefined;
      read = await this.deleteAndFetch([]);
      rows = unpublished(read);
    }
    if (rows.length > 0) {
      this.raiseFloor(read.at(-1)!.seq!);
      // Handed over while this read ran: published from here, not from memory as well.
      const fetched = new Set(rows.map((row) => row.id));
      this.handed = this.handed.filter((row) => !fetched.has(row.id));
      return this.publish(rows, true);
    }
    // Drained, unless events were dropped to the table while this read ran (it may have missed them).
    if (this.drops === dropsBefore) {
      this.reading = false;
      this.readAt = Date.now();
    }
    return 0;
  }

  /** Forget the handed events (they are in the table) and read it, from the start. */
  private dropHanded(): void {
    this.handed = [];
    this.drops += 1;
    this.reading = true;
    this.floor = undefined;
  }

  /** The next read starts above `seq` (the last of a batch read), unless this pass is idleMs old: then from the start again. */
  private raiseFloor(seq: number): void {
    const now = Date.now();
    if (this.floor === undefined) this.passBegan = now;
    this.floor = now - this.passBegan >= this.options.idleMs ? undefined : seq;
  }

  private async publish(rows: OutboxRow[], fetchNext: boolean): Promise<number> {
    const results = Promise.allSettled(
      rows.map((row) => this.js.publish(row.subject, row.payload, { msgID: row.id, headers: toNatsHeaders(row.headers) })),
    );
    if (fetchNext) {
      this.prefetched = this.deleteAndFetch(rows);
      this.prefetched.catch(() => {}); // the next call awaits it (and sees its failure); not unhandled meanwhile
    }
    const settled = await results;
    const ackedRows = rows.filter((_, index) => settled[index]!.status === "fulfilled");
    // Not published after all: a read of the table must find them again.
    rows.forEach((row, index) => {
      if (settled[index]!.status === "rejected") this.fromMemory.delete(row.id);
    });
    countPublished(ackedRows);
    if (this.acked.length === 0) this.ackedSince = Date.now();
    for (const { seq, id } of ackedRows) this.acked.push({ seq, id });
    const failure = settled.find((result) => result.status === "rejected");
    if (failure) {
      this.floor = undefined; // the rows that failed are below it
      await this.dropPrefetched(); // fetched again after the backoff
      await this.deleteAcked(); // now, not after the backoff
      throw (failure as PromiseRejectedResult).reason;
    }
    return ackedRows.length;
  }

  /**
   * Delete the acknowledged events' rows and fetch the next batch, skipping
   * `inFlight` (rows read from the table), in one statement; if it fails, the
   * events stay to be deleted. The delete runs in a data-modifying CTE, whose
   * changes the rest of the statement cannot see: the select excludes the rows
   * it deletes by itself. `not in (select unnest …)` is hashed once; `<> all(…)`
   * would compare each row with every key (measured on PostgreSQL: 11 ms a
   * batch against 6–7 ms).
   */
  private deleteAndFetch(inFlight: OutboxRow[]): Promise<OutboxRow[]> {
    return this.deleting((deleted) => {
      const [deletedSeqs, deletedIds] = byKey(deleted);
      const floor = this.floor ?? 0;
      // Keys at or below the floor are skipped by it already: usually all of them.
      const skippedSeqs = [...deletedSeqs, ...inFlight.map((row) => row.seq!)].filter((seq) => seq > floor);
      // Rows handed over in memory are published from there: not fetched a second time.
      const skippedIds = [...deletedIds, ...this.handed.map((row) => row.id)];
      return this.db
        .query<FetchedRow>(
          `with sent as (delete from outbox where ${DELETED})
           select seq, id, subject, encode(payload, 'base64') as payload, headers from outbox
            where seq > $5 and seq not in (select unnest($3::bigint[])) and id not in (select unnest($4::text[]))
            order by seq limit $6`,
          [deletedSeqs, deletedIds, skippedSeqs, skippedIds, floor, this.options.batchSize],
        )
        .then((rows) => rows.map(({ seq, id, subject, payload, headers }) => ({ seq, id, subject, payload: Buffer.from(payload, "base64"), headers })));
    });
  }

  private async deleteAcked(): Promise<void> {
    if (this.acked.length === 0) return;
    await this.deleting((deleted) => this.db.query(`delete from outbox where ${DELETED}`, byKey(deleted)));
  }

  /** Hand the acknowledged events to `statement`, which deletes their rows; if it fails, they stay to be deleted. */
  private async deleting<T>(statement: (deleted: RowKey[]) => Promise<T>): Promise<T> {
    const deleted = this.acked;
    this.acked = [];
    try {
      return await statement(deleted);
    } catch (error) {
      this.acked.push(...deleted);
      throw error;
    }
  }

  /** Forget a prefetched batch (its rows stay and are fetched again); what its statement deleted stays deleted. */
  private async dropPrefetched(): Promise<void> {
    const prefetched = this.prefetched;
    this.prefetched = undefined;
    await prefetched?.catch(() => {});
  }

  /** Wait `ms`, or until woken (an event was committed, or stop): resolves true if woken. */
  private pause(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (woken: boolean) => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(woken);
      };
      const timer = setTimeout(() => done(false), Math.max(0, ms));
      this.wake = () => done(true);
    });
  }
}

/**
 * A row as the relay reads it: its payload in base64. pg hands a bytea column
 * over as hex text, twice the payload's size, which the client copies into a
 * string and decodes: reading a batch of OrderPlaced rows took ~3 µs of the
 * relay's CPU a row that way and ~2 in base64 (bench/analysis.md).
 */
type FetchedRow = Omit<OutboxRow, "payload"> & { payload: string };

/** What finds an event's row: its primary key if it was read from the table, else its id. */
type RowKey = Pick<OutboxRow, "seq" | "id">;

/**
 * The rows of acknowledged events, given as byKey()'s $1 and $2. A row read
 * from the table goes by its primary key: draining a backlog, the statement
 * that deleted and fetched by the text id used ~14 µs of PostgreSQL's CPU an
 * event, by the bigint key ~9.5 (bench/analysis.md).
 */
const DELETED = "seq = any($1::bigint[]) or id = any($2::text[])";

/** `rows` as the arrays of their primary keys (those read from the table) and of the others' ids. */
function byKey(rows: readonly RowKey[]): [seqs: number[], ids: string[]] {
  const seqs: number[] = [];
  const ids: string[] = [];
  for (const { seq, id } of rows) {
    if (seq === undefined) ids.push(id);
    else seqs.push(seq);
  }
  return [seqs, ids];
}

/** One counter increment per subject and batch, not per row (prom-client hashes the labels on every call). */
function countPublished(rows: OutboxRow[]): void {
  const perSubject = new Map<string, number>();
  for (const row of rows) perSubject.set(row.subject, (perSubject.get(row.subject) ?? 0) + 1);
  for (const [subject, count] of perSubject) eventMetrics.published.inc({ subject }, count);
}

function toNatsHeaders(values: Record<string, string>) {
  const result = natsHeaders();
  for (const [key, value] of Object.entries(values)) result.set(key, value);
  return result;
}

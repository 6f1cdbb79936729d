import { AckPolicy, type ConsumerConfig, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, nanos } from "@nats-io/transport-node";
import { type Database, type Queryable } from "../db/database.js";
import { type Context, context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { type Faults } from "../faults.js";
import { type Logger } from "../logger.js";
import { type Outbox } from "./outbox.js";
import { consumerPending, eventMetrics } from "../observability/metrics.js";
import { extractContext, startSpan } from "../observability/tracing.js";
import { deleteInBatches, PRUNE_EVERY_MS } from "../db/prune.js";
import { type PeriodicJob, startPeriodic } from "../periodic.js";
import { DEAD_LETTER_STREAM, EVENT_ID_HEADER, EVENT_TYPE_HEADER, type EventType, MESSAGE_ID_HEADER, streamOf } from "./event-type.js";
import { ensureStream } from "./nats.js";
import { isTransient } from "./transient.js";
import { batches } from "./batches.js";

/** What an event handler gets besides the event: the transaction its effect must use, and the service's outbox. */
export interface EventContext {
  /** The consumer's database transaction; the inbox row is in it too. */
  tx: Queryable;
  /** Events the handler publishes in turn go here, in `tx`. */
  outbox: Outbox;
  eventId: string;
  subject: string;
}

/** What an idempotent handler gets besides its events: the database (no transaction) and their subject. */
export interface IdempotentContext {
  db: Queryable;
  subject: string;
}

/** One event of a batch an idempotent handler applies, with its id. */
export interface Delivery<T> {
  event: T;
  eventId: string;
}

/**
 * What became of one event of a batch: true if it changed something now, false
 * if an earlier delivery already had (nothing changed), an Error if this event
 * failed (it alone is retried, and dead-lettered if it keeps failing).
 */
export type Outcome = boolean | Error;

/**
 * How one event type is applied. "inbox": in a transaction with an inbox row
 * (consumer, event id), so a redelivery changes nothing whatever the effect
 * (BEGIN, the inbox row, the effect, COMMIT: four statements at least), one
 * event at a time. "idempotent": the effect is one statement that a redelivery
 * leaves as it is by itself (a unique key, a state it moves out of), so it runs
 * alone, without an inbox row, and for a batch of events at once: the events
 * delivered together cost one round trip and one commit.
 */
export type EventHandler<T> =
  | { kind: "inbox"; type: EventType<T>; handle(event: T, context: EventContext): Promise<void> }
  | { kind: "idempotent"; type: EventType<T>; apply(deliveries: Delivery<T>[], context: IdempotentContext): Promise<Outcome[]> };

/** A typed handler for one event type, applied in a transaction with an inbox row. */
export function on<T>(type: EventType<T>, handle: (event: T, context: EventContext) => Promise<void>): EventHandler<T> {
  return { kind: "inbox", type, handle };
}

/**
 * A typed handler whose effect, for a batch of events, is a single statement
 * that is idempotent by itself: applying the same event again must change
 * nothing (an insert keyed by the event id with `on conflict do nothing`, an
 * update guarded by the state it leaves). It may not publish events (no outbox:
 * that needs a transaction). `apply` answers an Outcome per event, in order;
 * if it throws, every event of the batch failed.
 */
export function onIdempotent<T>(type: EventType<T>, apply: (deliveries: Delivery<T>[], context: IdempotentContext) => Promise<Outcome[]>): EventHandler<T> {
  return { kind: "idempotent", type, apply };
}

export interface ConsumerOptions {
  /** The consuming service, e.g. "notifications"; with the subject, it names the durable consumer. */
  service: string;
  /** Failures of the message itself (not transient ones: transient.ts) before it is dead-lettered. */
  maxDeliver?: number;
  /** The first redelivery delay; it doubles with each failure, up to 10 s (30 s for transient failures). */
  backoffMs?: number;
  /** How long JetStream waits for an ack before redelivering. */
  ackWaitMs?: number;
  /** How often old inbox rows are deleted (pruneInbox). */
  inboxPruneEveryMs?: number;
  /** Faults switched on for development (faults.ts): while "pause-consumers" is on, deliveries wait in the stream. */
  faults?: Faults;
  /** The most events an idempotent handler applies at once. */
  maxBatch?: number;
  /** How long the first event of a batch waits for others before an idempotent handler applies it (inbox handlers never wait). */
  batchLingerMs?: number;
}

/**
 * Declare the durable consumer, or bring an existing one to `config` (a consumer
 * made by an earlier version keeps its name, position and pending acks).
 */
async function addOrUpdateConsumer(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }): Promise<void> {
  try {
    await jsm.consumers.add(stream, config);
  } catch (error) {
    const existing = await jsm.consumers.info(stream, config.durable_name).catch(() => undefined);
    if (!existing) throw error;
    const { durable_name: _name, filter_subject: _filter, deliver_policy: _deliver, ...changeable } = config;
    await jsm.consumers.update(stream, config.durable_name, changeable);
  }
}

/** The durable consumer `service` reads `subject` with (no dots allowed in names); also its inbox rows' consumer. */
export const durableNameOf = (service: string, subject: string) => `${service}-${subject.replaceAll(".", "_")}`;

/**
 * Apply a decoded event once per consumer: its handler runs in one transaction
 * with an inbox row (consumer, event id), so a redelivered event finds the row
 * and changes nothing; an idempotent handler's one statement runs alone, as a
 * batch of one. True if it was applied now, false if seen before. The JetStream
 * consumers below apply events the same way (idempotent ones by the batch, with
 * applyBatch); tests that deliver events by hand call this.
 */
export async function applyOnce<T>(
  service: { db: Database; outbox: Outbox },
  handler: EventHandler<T>,
  event: T,
  delivery: { consumer: string; eventId: string; subject: string },
): Promise<boolean> {
  if (handler.kind === "idempotent") {
    const [outcome] = await applyBatch(handler, [{ event, eventId: delivery.eventId }], { db: service.db, subject: delivery.subject });
    if (outcome instanceof Error) throw outcome;
    return outcome!;
  }
  return service.db.transaction(async (tx) => {
    const fresh = await tx.query(
      "insert into inbox (consumer, event_id, subject) values ($1, $2, $3) on conflict do nothing returning event_id",
      [delivery.consumer, delivery.eventId, delivery.subject],
    );
    if (fresh.length === 0) return false; // seen before: its effect is already committed
    await handler.handle(event, { tx, outbox: service.outbox, eventId: delivery.eventId, subject: delivery.subject });
    return true;
  });
}

/** An idempotent handler's outcomes for a batch, one per event, or an Error for all of them. */
async function applyBatch<T>(
  handler: Extract<EventHandler<T>, { kind: "idempotent" }>,
  deliveries: Delivery<T>[],
  context: IdempotentContext,
): Promise<Outcome[]> {
  const outcomes = await handler.apply(deliveries, context);
  if (outcomes.length !== deliveries.length) {
    throw new Error(`the ${handler.type.typeName} handler answered ${outcomes.length} outcomes for ${deliveries.length} events`);
  }
  return outcomes;
}

/** As many as a consumer pulls ahead (consume's max_messages below). */
const DEFAULT_MAX_BATCH = 64;
/**
 * Long enough that at a few hundred orders a second an idempotent handler's
 * statement and commit serve several events (bench/analysis.md), short beside
 * what a consumer's latency may be (commit to consumer p99 ≤ 100 ms).
 */
const DEFAULT_BATCH_LINGER_MS = 10;

/** Header names added to a dead letter, next to the original headers. */
export const DEAD_LETTER_HEADERS = {
  reason: "Bazaar-Dead-Reason",
  consumer: "Bazaar-Dead-Consumer",
  subject: "Bazaar-Original-Subject",
  eventId: "Bazaar-Original-Event-Id",
} as const;

class Poison extends Error {}

/** What a handler threw, as an Error (its message names it if it was not one). */
const asError = (thrown: unknown): Error => (thrown instanceof Error ? thrown : new Error(`handler threw ${String(thrown)}`));

/** A message as the consumer received it: its span and ids, and its event or why it has none. */
interface Received {
  message: JsMsg;
  span: Span;
  active: Context;
  eventId: string;
  consumer: string;
  subject: string;
  event?: unknown;
  failure?: Error;
}

/**
 * How long past the sum of its stream's and DEAD_LETTERS' max_age an inbox row is
 * kept anyway: the clocks of NATS and PostgreSQL need not agree.
 */
export const INBOX_RETENTION_MARGIN_MS = 24 * 3600_000;

/**
 * One durable JetStream pull consumer per handled subject, with explicit acks.
 * Each message is applied in one database transaction together with an inbox
 * row (consumer, event id): a redelivered event finds its row and is only
 * acked, so it takes effect once (an idempotent handler's statement sees to
 * that by itself: onIdempotent, which applies the messages delivered within
 * batchLingerMs of each other, and those that queued while it worked, in one
 * statement; each is still acked, logged and traced on its own). A message
 * that cannot be decoded or has the wrong type is poison: copied to the
 * DEAD_LETTERS stream at once and terminated. One whose handler keeps failing
 * is dead-lettered after `maxDeliver` failures; a transient failure (a
 * connection, the database going away: transient.ts) is redelivered with a
 * capped backoff for as long as it lasts and does not count. Consumers are declared here at start, idempotently;
 * the streams, and DEAD_LETTERS, only looked up: their owners declare them.
 *
 * The event id is the Bazaar-Event-Id header when there is one (a dead letter
 * replayed under a JetStream message id of its own keeps its event's id there),
 * else the Nats-Msg-Id the outbox relay gave it.
 */
export class EventConsumers {
  private readonly subscriptions: ConsumerMessages[] = [];
  private readonly loops: Promise<void>[] = [];
  private readonly maxDeliver: number;
  private readonly ackWaitMs: number;
  private readonly backoffMs: number;
  private readonly maxBatch: number;
  private readonly batchLingerMs: number;
  /**
   * Failures of each message that count toward maxDeliver, by consumer and event id.
   * JetStream's delivery count cannot tell them from transient ones. Kept in memory:
   * a restart (or another replica) starts the count again, which gives a message
   * more tries, never fewer. An entry goes when its message is acked or dead-lettered.
   */
  private readonly failures = new Map<string, number>();
  private pruneJob: PeriodicJob | undefined;
  private running = false;

  constructor(
    private readonly handlers: EventHandler<unknown>[],
    private readonly deps: { db: Database; outbox: Outbox; js: JetStreamClient; jsm: JetStreamManager; logger: Logger },
    private readonly options: ConsumerOptions,
  ) {
    this.maxDeliver = options.maxDeliver ?? 5;
    this.ackWaitMs = options.ackWaitMs ?? 30_000;
    this.backoffMs = options.backoffMs ?? 200;
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    this.batchLingerMs = options.batchLingerMs ?? DEFAULT_BATCH_LINGER_MS;
  }

  /** The durable name of this service's consumer of `subject` (no dots allowed in names). */
  durableName(subject: string): string {
    return durableNameOf(this.options.service, subject);
  }

  async start(): Promise<void> {
    const { js, jsm } = this.deps;
    // Looked up only: the administrator declares it (provisionStreams), no service may change it.
    await ensureStream(jsm, DEAD_LETTER_STREAM);
    this.running = true;
    for (const handler of this.handlers) {
      const stream = streamOf(handler.type.subject);
      await ensureStream(jsm, stream);
      const durable = this.durableName(handler.type.subject);
      await addOrUpdateConsumer(jsm, stream.name, {
        durable_name: durable,
        filter_subject: handler.type.subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(this.ackWaitMs),
        // Unlimited: this class decides when a message is dead-lettered, counting only its own failures.
        max_deliver: -1,
      });
      const messages = await (await js.consumers.get(stream.name, durable)).consume({ max_messages: DEFAULT_MAX_BATCH });
      this.subscriptions.push(messages);
      consumerPending.set(`${stream.name}/${durable}`, async () => {
        const info = await jsm.consumers.info(stream.name, durable);
        return [{ labels: { stream: stream.name, consumer: durable }, value: info.num_pending + info.num_ack_pending }];
      });
      this.loops.push(this.run(messages, handler));
      this.deps.logger.info({ stream: stream.name, durable, subject: handler.type.subject }, "consuming");
    }
    this.pruneJob = startPeriodic("inbox prune", this.options.inboxPruneEveryMs ?? PRUNE_EVERY_MS, this.deps.logger, async () => {
      const pruned = await this.pruneInbox();
      if (pruned > 0) this.deps.logger.info({ pruned }, "deleted inbox rows no delivery can need");
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.pruneJob?.stop();
    for (const handler of this.handlers) {
      consumerPending.delete(`${streamOf(handler.type.subject).name}/${this.durableName(handler.type.subject)}`);
    }
    for (const messages of this.subscriptions) messages.stop();
    await Promise.all(this.loops);
  }

  /**
   * Delete this service's inbox rows that no delivery can need any more. An
   * event reaches a consumer from its stream until the stream's max_age, and
   * again from a dead-letter replay until DEAD_LETTERS' max_age after that, so
   * a row older than the two together (plus a margin) is never looked at
   * again. A stream without a max_age keeps its rows forever. Returns how many went.
   */
  async pruneInbox(): Promise<number> {
    const maxAgeMs = async (stream: string) => (await this.deps.jsm.streams.info(stream)).config.max_age / 1e6;
    const deadLetters = await maxAgeMs(DEAD_LETTER_STREAM.name);
    let total = 0;
    for (const handler of this.handlers) {
      if (handler.kind === "idempotent") continue; // it keeps no inbox rows
      const events = await maxAgeMs(streamOf(handler.type.subject).name);
      if (events <= 0 || deadLetters <= 0) continue;
      total += await deleteInBatches(
        this.deps.db,
        "inbox",
        "consumer = $1 and received_at < now() - $2 * interval '1 millisecond'",
        [this.durableName(handler.type.subject), events + deadLetters + INBOX_RETENTION_MARGIN_MS],
        () => this.running,
      );
    }
    return total;
  }

  private async run(messages: ConsumerMessages, handler: EventHandler<unknown>): Promise<void> {
    // An idempotent handler applies the events delivered together in one statement; an inbox handler one at a time.
    const [maxBatch, lingerMs] = handler.kind === "idempotent" ? [this.maxBatch, this.batchLingerMs] : [1, 0];
    for await (const batch of batches(messages, maxBatch, lingerMs)) await this.process(batch, handler);
  }

  private async process(messages: JsMsg[], handler: EventHandler<unknown>): Promise<void> {
    const pausedMs = this.options.faults?.remainingMs("pause-consumers") ?? 0;
    if (pausedMs > 0) {
      // Handed back untouched, not a failure; offered again each second, so switching the fault off resumes at once.
      for (const message of messages) message.nak(Math.min(pausedMs, 1000));
      return;
    }
    const received = messages.map((message) => this.receive(message, handler));
    const decoded = received.filter((delivery) => delivery.failure === undefined);
    const outcomes = await this.apply(decoded, handler);
    const settled = new Map(decoded.map((delivery, index) => [delivery, outcomes[index]!]));
    for (const delivery of received) {
      await context.with(delivery.active, () => this.settle(delivery, delivery.failure ?? settled.get(delivery)!));
      delivery.span.end();
    }
  }

  /** What became of each decoded delivery: an idempotent handler's one statement for all, or an inbox transaction each. */
  private async apply(decoded: Received[], handler: EventHandler<unknown>): Promise<Outcome[]> {
    if (decoded.length === 0) return [];
    if (handler.kind === "idempotent") {
      // The batch's one statement is every event's: it runs outside their spans (it needs no outbox).
      const deliveries = decoded.map(({ event, eventId }) => ({ event, eventId }));
      return applyBatch(handler, deliveries, { db: this.deps.db, subject: handler.type.subject }).catch((error: unknown) => decoded.map(() => asError(error)));
    }
    const outcomes: Outcome[] = [];
    for (const delivery of decoded) {
      // An inbox handler runs in its event's span: what it publishes continues that event's trace.
      outcomes.push(await context.with(delivery.active, () => applyOnce(this.deps, handler, delivery.event, delivery).catch(asError)));
    }
    return outcomes;
  }

  /** A delivery's span (continuing the trace of the request that published it), ids and decoded event (or why not). */
  private receive(message: JsMsg, handler: EventHandler<unknown>): Received {
    const headers = Object.fromEntries([...(message.headers ?? [])].map(([key, values]) => [key.toLowerCase(), values[0]]));
    const span = startSpan(
      `${message.subject} process`,
      SpanKind.CONSUMER,
      { "messaging.system": "nats", "messaging.destination.name": message.subject },
      extractContext(headers),
    );
    const eventId = message.headers?.get(EVENT_ID_HEADER) || message.headers?.get(MESSAGE_ID_HEADER) || `${message.info.stream}:${message.seq}`;
    const delivery: Received = { message, span, active: trace.setSpan(context.active(), span), eventId, consumer: this.durableName(message.subject), subject: message.subject };
    try {
      delivery.event = this.decode(message, handler.type);
    } catch (error) {
      delivery.failure = error as Error;
    }
    return delivery;
  }

  /** Ack what was applied (or seen before); redeliver or dead-letter what failed. */
  private async settle(delivery: Received, outcome: Outcome): Promise<void> {
    const { message, eventId, consumer } = delivery;
    const failureKey = `${consumer}/${eventId}`;
    const log = this.deps.logger.child({ subject: message.subject, event_id: eventId, delivery: message.info.deliveryCount });
    if (!(outcome instanceof Error)) {
      message.ack();
      this.failures.delete(failureKey);
      eventMetrics.consumed.inc({ subject: message.subject, consumer, outcome: outcome ? "applied" : "duplicate" });
      log.info({ applied: outcome }, outcome ? "event applied" : "duplicate event acknowledged");
      return;
    }
    const error = outcome;
    delivery.span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    const poison = error instanceof Poison;
    const transient = !poison && isTransient(error);
    if (!poison) eventMetrics.failed.inc({ subject: message.subject, consumer: consumer });
    const failures = (this.failures.get(failureKey) ?? 0) + (transient ? 0 : 1);
    if (poison || failures >= this.maxDeliver) {
      this.failures.delete(failureKey);
      await this.deadLetter(message, error.message, log, eventId);
    } else {
      this.failures.set(failureKey, failures);
      const attempt = Math.min(message.info.deliveryCount, 16);
      const delay = Math.min(transient ? 30_000 : 10_000, this.backoffMs * 2 ** attempt);
      log.warn({ err: error, transient, retry_in_ms: delay }, "event handler failed; will be redelivered");
      message.nak(delay);
    }
  }

  /** Decode as the contract's type; a different declared type or undecodable bytes is poison. */
  private decode<T>(message: JsMsg, type: EventType<T>): T {
    const declared = message.headers?.get(EVENT_TYPE_HEADER);
    if (declared && declared !== type.typeName) {
      throw new Poison(`${message.subject} carries ${type.typeName}, got ${declared}`);
    }
    try {
      return type.decode(message.data);
    } catch (error) {
      throw new Poison(`not a valid ${type.typeName}: ${(error as Error).message}`);
    }
  }

  /** Keep the message in DEAD_LETTERS, then terminate it; if NATS cannot take it now, redeliver later. */
  private async deadLetter(message: JsMsg, reason: string, log: Logger, eventId: string): Promise<void> {
    const durable = this.durableName(message.subject);
    const headers = natsHeaders();
    for (const [key, values] of message.headers ?? []) for (const value of values) headers.append(key, value);
    headers.set(DEAD_LETTER_HEADERS.reason, reason.slice(0, 1024));
    headers.set(DEAD_LETTER_HEADERS.consumer, durable);
    headers.set(DEAD_LETTER_HEADERS.subject, message.subject);
    headers.set(DEAD_LETTER_HEADERS.eventId, eventId);
    try {
      await this.deps.js.publish(`dead.${durable}`, message.data, {
        headers,
        msgID: `${durable}:${message.info.stream}:${message.seq}`,
      });
      message.term(reason.slice(0, 256));
      eventMetrics.deadLettered.inc({ subject: message.subject, consumer: durable });
      log.error({ reason }, "event dead-lettered");
    } catch (error) {
      log.warn({ err: error }, "could not dead-letter the event; will be redelivered");
      message.nak(1000);
    }
  }
}

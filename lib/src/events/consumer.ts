import { AckPolicy, type ConsumerConfig, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, nanos } from "@nats-io/transport-node";
import { type Database, type Queryable } from "../db/database.js";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
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

/** What an event handler gets besides the event: the transaction its effect must use, and the service's outbox. */
export interface EventContext {
  /** The consumer's database transaction; the inbox row is in it too. */
  tx: Queryable;
  /** Events the handler publishes in turn go here, in `tx`. */
  outbox: Outbox;
  eventId: string;
  subject: string;
}

/** What an idempotent handler gets besides the event: the database (no transaction) and the event's id. */
export interface IdempotentContext {
  db: Queryable;
  eventId: string;
  subject: string;
}

/**
 * How one event type is applied. "inbox": in a transaction with an inbox row
 * (consumer, event id), so a redelivery changes nothing whatever the effect
 * (BEGIN, the inbox row, the effect, COMMIT: four statements at least).
 * "idempotent": the effect is one statement that a redelivery leaves as it is
 * by itself (a unique key, a state it moves out of), so it runs alone: one
 * round trip, no inbox row.
 */
export type EventHandler<T> =
  | { kind: "inbox"; type: EventType<T>; handle(event: T, context: EventContext): Promise<void> }
  | { kind: "idempotent"; type: EventType<T>; apply(event: T, context: IdempotentContext): Promise<boolean> };

/** A typed handler for one event type, applied in a transaction with an inbox row. */
export function on<T>(type: EventType<T>, handle: (event: T, context: EventContext) => Promise<void>): EventHandler<T> {
  return { kind: "inbox", type, handle };
}

/**
 * A typed handler whose effect is a single statement that is idempotent by
 * itself: applying the same event again must change nothing (an insert keyed
 * by the event id with `on conflict do nothing`, an update guarded by the
 * state it leaves). It may not publish events (no outbox: that needs a
 * transaction). `apply` answers whether this delivery changed anything.
 */
export function onIdempotent<T>(type: EventType<T>, apply: (event: T, context: IdempotentContext) => Promise<boolean>): EventHandler<T> {
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
 * and changes nothing; an idempotent handler's one statement runs alone. True
 * if it was applied now, false if seen before. The JetStream consumers below
 * call it for every message; tests that deliver events by hand call it too, so
 * both apply them the same way.
 */
export async function applyOnce<T>(
  service: { db: Database; outbox: Outbox },
  handler: EventHandler<T>,
  event: T,
  delivery: { consumer: string; eventId: string; subject: string },
): Promise<boolean> {
  if (handler.kind === "idempotent") return handler.apply(event, { db: service.db, eventId: delivery.eventId, subject: delivery.subject });
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

/** Header names added to a dead letter, next to the original headers. */
export const DEAD_LETTER_HEADERS = {
  reason: "Bazaar-Dead-Reason",
  consumer: "Bazaar-Dead-Consumer",
  subject: "Bazaar-Original-Subject",
  eventId: "Bazaar-Original-Event-Id",
} as const;

class Poison extends Error {}

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
 * that by itself: onIdempotent). A message that cannot be decoded or has the
 * wrong type is poison: copied to the DEAD_LETTERS stream at once and
 * terminated. One whose handler keeps failing is dead-lettered after
 * `maxDeliver` failures; a transient failure (a connection, the database going
 * away: transient.ts) is redelivered with a capped backoff for as long as it
 * lasts and does not count. Consumers are declared here at start, idempotently;
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
      const messages = await (await js.consumers.get(stream.name, durable)).consume({ max_messages: 64 });
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
    for await (const message of messages) {
      // Each delivery continues the trace of the request that published it (traceparent header).
      const headers = Object.fromEntries([...(message.headers ?? [])].map(([key, values]) => [key.toLowerCase(), values[0]]));
      const span = startSpan(
        `${message.subject} process`,
        SpanKind.CONSUMER,
        { "messaging.system": "nats", "messaging.destination.name": message.subject },
        extractContext(headers),
      );
      await context.with(trace.setSpan(context.active(), span), () => this.process(message, handler));
      span.end();
    }
  }

  private async process(message: JsMsg, handler: EventHandler<unknown>): Promise<void> {
    const pausedMs = this.options.faults?.remainingMs("pause-consumers") ?? 0;
    if (pausedMs > 0) {
      // Handed back untouched, not a failure; offered again each second, so switching the fault off resumes at once.
      message.nak(Math.min(pausedMs, 1000));
      return;
    }
    const eventId = message.headers?.get(EVENT_ID_HEADER) || message.headers?.get(MESSAGE_ID_HEADER) || `${message.info.stream}:${message.seq}`;
    const consumer = this.durableName(message.subject);
    const failureKey = `${consumer}/${eventId}`;
    const log = this.deps.logger.child({ subject: message.subject, event_id: eventId, delivery: message.info.deliveryCount });
    try {
      const event = this.decode(message, handler.type);
      const applied = await applyOnce(this.deps, handler, event, { consumer, eventId, subject: message.subject });
      message.ack();
      this.failures.delete(failureKey);
      eventMetrics.consumed.inc({ subject: message.subject, consumer, outcome: applied ? "applied" : "duplicate" });
      log.info({ applied }, applied ? "event applied" : "duplicate event acknowledged");
    } catch (error) {
      trace.getActiveSpan()?.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      const poison = error instanceof Poison;
      const transient = !poison && isTransient(error);
      if (!poison) eventMetrics.failed.inc({ subject: message.subject, consumer: consumer });
      const failures = (this.failures.get(failureKey) ?? 0) + (transient ? 0 : 1);
      if (poison || failures >= this.maxDeliver) {
        this.failures.delete(failureKey);
        await this.deadLetter(message, (error as Error).message, log, eventId);
      } else {
        this.failures.set(failureKey, failures);
        const attempt = Math.min(message.info.deliveryCount, 16);
        const delay = Math.min(transient ? 30_000 : 10_000, this.backoffMs * 2 ** attempt);
        log.warn({ err: error, transient, retry_in_ms: delay }, "event handler failed; will be redelivered");
        message.nak(delay);
      }
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

import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, nanos } from "@nats-io/transport-node";
import { type Database, type Queryable } from "../db/database.js";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { type Logger } from "../logger.js";
import { consumerPending, eventMetrics } from "../observability/metrics.js";
import { extractContext, tracer } from "../observability/tracing.js";
import { DEAD_LETTER_STREAM, EVENT_TYPE_HEADER, type EventType, MESSAGE_ID_HEADER, streamOf } from "./event-type.js";
import { ensureStream } from "./nats.js";

/** What an event handler gets besides the event: the transaction its effect must use. */
export interface EventContext {
  /** The consumer's database transaction; the inbox row is in it too. */
  tx: Queryable;
  eventId: string;
  subject: string;
}

export interface EventHandler<T> {
  type: EventType<T>;
  handle(event: T, context: EventContext): Promise<void>;
}

/** A typed handler for one event type. */
export function on<T>(type: EventType<T>, handle: (event: T, context: EventContext) => Promise<void>): EventHandler<T> {
  return { type, handle };
}

export interface ConsumerOptions {
  /** The consuming service, e.g. "notifications"; with the subject, it names the durable consumer. */
  service: string;
  /** Deliveries before a failing message is dead-lettered. */
  maxDeliver?: number;
  /** How long JetStream waits for an ack before redelivering. */
  ackWaitMs?: number;
  /** Replicas of the DEAD_LETTERS stream this service declares (NATS_STREAM_REPLICAS). */
  streamReplicas?: number;
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
 * One durable JetStream pull consumer per handled subject, with explicit acks.
 * Each message is applied in one database transaction together with an inbox
 * row (consumer, event id): a redelivered event finds its row and is only
 * acked, so it takes effect once. A message that cannot be decoded, has the
 * wrong type, or keeps failing is copied to the DEAD_LETTERS stream and
 * terminated, never redelivered forever. Streams and consumers are declared
 * here at start, idempotently.
 */
export class EventConsumers {
  private readonly subscriptions: ConsumerMessages[] = [];
  private readonly loops: Promise<void>[] = [];
  private readonly maxDeliver: number;
  private readonly ackWaitMs: number;

  constructor(
    private readonly handlers: EventHandler<unknown>[],
    private readonly deps: { db: Database; js: JetStreamClient; jsm: JetStreamManager; logger: Logger },
    private readonly options: ConsumerOptions,
  ) {
    this.maxDeliver = options.maxDeliver ?? 5;
    this.ackWaitMs = options.ackWaitMs ?? 30_000;
  }

  /** The durable name of this service's consumer of `subject` (no dots allowed in names). */
  durableName(subject: string): string {
    return `${this.options.service}-${subject.replaceAll(".", "_")}`;
  }

  async start(): Promise<void> {
    const { js, jsm } = this.deps;
    await ensureStream(jsm, DEAD_LETTER_STREAM, this.options.streamReplicas);
    for (const handler of this.handlers) {
      const stream = streamOf(handler.type.subject);
      await ensureStream(jsm, stream);
      const durable = this.durableName(handler.type.subject);
      await jsm.consumers.add(stream.name, {
        durable_name: durable,
        filter_subject: handler.type.subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(this.ackWaitMs),
        max_deliver: this.maxDeliver + 1, // one spare delivery: the one that dead-letters
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
  }

  async stop(): Promise<void> {
    for (const handler of this.handlers) {
      consumerPending.delete(`${streamOf(handler.type.subject).name}/${this.durableName(handler.type.subject)}`);
    }
    for (const messages of this.subscriptions) messages.stop();
    await Promise.all(this.loops);
  }

  private async run(messages: ConsumerMessages, handler: EventHandler<unknown>): Promise<void> {
    for await (const message of messages) {
      // Each delivery continues the trace of the request that published it (traceparent header).
      const headers = Object.fromEntries([...(message.headers ?? [])].map(([key, values]) => [key.toLowerCase(), values[0]]));
      const span = tracer().startSpan(
        `${message.subject} process`,
        { kind: SpanKind.CONSUMER, attributes: { "messaging.system": "nats", "messaging.destination.name": message.subject } },
        extractContext(headers),
      );
      await context.with(trace.setSpan(context.active(), span), () => this.process(message, handler));
      span.end();
    }
  }

  private async process(message: JsMsg, handler: EventHandler<unknown>): Promise<void> {
    const eventId = message.headers?.get(MESSAGE_ID_HEADER) || `${message.info.stream}:${message.seq}`;
    const log = this.deps.logger.child({ subject: message.subject, event_id: eventId, delivery: message.info.deliveryCount });
    try {
      const event = this.decode(message, handler.type);
      const applied = await this.deps.db.transaction(async (tx) => {
        const fresh = await tx.query(
          "insert into inbox (consumer, event_id, subject) values ($1, $2, $3) on conflict do nothing returning event_id",
          [this.durableName(message.subject), eventId, message.subject],
        );
        if (fresh.length === 0) return false; // seen before: its effect is already committed
        await handler.handle(event, { tx, eventId, subject: message.subject });
        return true;
      });
      message.ack();
      eventMetrics.consumed.inc({ subject: message.subject, consumer: this.durableName(message.subject), outcome: applied ? "applied" : "duplicate" });
      log.info({ applied }, applied ? "event applied" : "duplicate event acknowledged");
    } catch (error) {
      trace.getActiveSpan()?.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      const poison = error instanceof Poison;
      if (!poison) eventMetrics.failed.inc({ subject: message.subject, consumer: this.durableName(message.subject) });
      if (poison || message.info.deliveryCount >= this.maxDeliver) {
        await this.deadLetter(message, (error as Error).message, log, eventId);
      } else {
        const delay = Math.min(10_000, 200 * 2 ** message.info.deliveryCount);
        log.warn({ err: error, retry_in_ms: delay }, "event handler failed; will be redelivered");
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

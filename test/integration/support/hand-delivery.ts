import { type Database } from "@bazaar/runtime/db/database";
import { applyOnce, durableNameOf, type EventHandler } from "@bazaar/runtime/events/consumer";
import { type Outbox } from "@bazaar/runtime/events/outbox";

/**
 * Events carried from producers' outboxes to consumers' handlers by hand, at the
 * moment the test chooses, instead of by the outbox relay and JetStream. A test
 * of interleavings must decide when each event takes effect (before a charge
 * settles, after it, between a cancel and its OrderPlaced); a real relay and
 * consumer would apply it whenever they got to it. Everything past the transport
 * is the runtime's own: the real handlers, applied by applyOnce in one
 * transaction with an inbox row, as EventConsumers applies every JetStream
 * message. test/runtime/events.test.ts covers the transport.
 */

export interface Consumer {
  service: string;
  db: Database;
  /** The consumer's own outbox: its handlers publish in turn through it. */
  outbox: Outbox;
  handlers: EventHandler<unknown>[];
}

/** One event on its way to one consumer's handler. */
export interface Delivery {
  consumer: Consumer;
  handler: EventHandler<unknown>;
  eventId: string;
  subject: string;
  payload: Uint8Array;
}

export class HandDelivery {
  /** consumer/event id of every delivery made at least once. */
  private readonly delivered = new Set<string>();

  constructor(
    /** The producers' databases, whose outbox tables hold the events. */
    private readonly producers: Database[],
    private readonly consumers: Consumer[],
  ) {}

  /** Every (event, consumer that handles its subject) pair not delivered yet, in outbox order. */
  async pending(): Promise<Delivery[]> {
    const deliveries: Delivery[] = [];
    for (const producer of this.producers) {
      const rows = await producer.query<{ id: string; subject: string; payload: Uint8Array }>("select id, subject, payload from outbox order by seq");
      for (const row of rows) {
        for (const consumer of this.consumers) {
          const handler = consumer.handlers.find((candidate) => candidate.type.subject === row.subject);
          if (!handler) continue;
          const delivery = { consumer, handler, eventId: row.id, subject: row.subject, payload: row.payload };
          if (!this.delivered.has(keyOf(delivery))) deliveries.push(delivery);
        }
      }
    }
    return deliveries;
  }

  /** Apply one delivery (again, if it was delivered before); true if it took effect now. */
  async deliver(delivery: Delivery): Promise<boolean> {
    const { consumer, handler, eventId, subject } = delivery;
    const event = handler.type.decode(delivery.payload);
    const applied = await applyOnce(consumer, handler, event, { consumer: durableNameOf(consumer.service, subject), eventId, subject });
    this.delivered.add(keyOf(delivery));
    return applied;
  }
}

const keyOf = (delivery: Delivery) => `${delivery.consumer.service}/${delivery.eventId}`;

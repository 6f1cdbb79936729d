import { connectNats, type NatsTls } from "@bazaar/runtime/events/nats";
import { EVENT_ID_HEADER, MESSAGE_ID_HEADER, type EventType } from "@bazaar/runtime/events/event-type";
import { type Logger } from "@bazaar/runtime/logger";
import { events } from "@bazaar/shop/events";
import { type NatsConnection } from "@nats-io/transport-node";

/** One domain event as the page shows it. */
export interface FeedEvent {
  at: string;
  subject: string;
  type: string;
  orderId: string | null;
  traceId: string | null;
  eventId: string | null;
}

/** The newest events kept for a page that opens now. */
const KEPT = 50;

/**
 * Every domain event of the shop as it is published, read with plain NATS
 * subscriptions (no JetStream consumer: the console acknowledges nothing and
 * takes nothing from anyone) as the console's NATS user, which may subscribe
 * to the events' subjects and publish nothing (deploy/k8s/base/nats-authorization.conf).
 */
export function followEvents(natsUrl: string, tls: NatsTls | undefined, logger: Logger, publish: (event: FeedEvent) => void): { recent(): FeedEvent[]; stop(): Promise<void> } {
  const recent: FeedEvent[] = [];
  let connection: NatsConnection | undefined;
  let stopped = false;
  // In the background: the page works (and says the feed is quiet) while NATS is not up yet.
  connectNats(natsUrl, "console", logger, tls).then(
    (opened) => {
      if (stopped) return void opened.close();
      connection = opened;
      for (const type of Object.values(events) as EventType<{ orderId?: string }>[]) {
        opened.subscribe(type.subject, {
          callback: (error, message) => {
            if (error) return logger.warn({ err: error, subject: type.subject }, "event feed subscription failed");
            const event = feedEventOf(type, message.subject, message.data, (name) => message.headers?.get(name) ?? "");
            recent.push(event);
            if (recent.length > KEPT) recent.shift();
            publish(event);
          },
        });
      }
    },
    (error: unknown) => logger.error({ err: error }, "event feed: could not connect to NATS"),
  );
  return {
    recent: () => [...recent],
    stop: async () => {
      stopped = true;
      await connection?.drain().catch(() => {});
    },
  };
}

/** What the page shows of one message: its order (decoded with its subject's type) and its trace (traceparent header). */
export function feedEventOf(type: EventType<{ orderId?: string }>, subject: string, data: Uint8Array, header: (name: string) => string): FeedEvent {
  let orderId: string | null = null;
  try {
    orderId = type.decode(data).orderId || null;
  } catch {
    // Not this subject's message type: shown without its order, never dropped.
  }
  return {
    at: new Date().toISOString(),
    subject,
    type: type.typeName,
    orderId,
    traceId: /^[\da-f]{2}-([\da-f]{32})-/.exec(header("traceparent"))?.[1] ?? null,
    eventId: header(EVENT_ID_HEADER) || header(MESSAGE_ID_HEADER) || null,
  };
}

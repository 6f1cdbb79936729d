import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection } from "@nats-io/transport-node";
import { type Database } from "../db/database.js";
import { type Faults } from "../faults.js";
import { type Logger } from "../logger.js";
import { EventConsumers, type EventHandler } from "./consumer.js";
import { type EventType, streamOf } from "./event-type.js";
import { connectNats, ensureStream, type NatsTls } from "./nats.js";
import { type Outbox, OutboxRelay } from "./outbox.js";

export interface EventsOptions {
  service: string;
  natsUrl: string;
  db: Database;
  logger: Logger;
  publishes: EventType<unknown>[];
  handlers: EventHandler<unknown>[];
  /** The outbox the service's handlers record events in: its commits wake the relay. */
  outbox: Outbox;
  /** Client certificate files: connect to NATS over TLS as this service's user. Unset: plaintext. */
  tls?: NatsTls;
  /** Faults switched on for development (faults.ts): "pause-consumers" holds back every delivery. */
  faults?: Faults;
}

/**
 * A service's event plumbing, started in the background once its database is
 * ready: connect to NATS (waiting for it if it is not up yet), look up the
 * streams it publishes to (the administrator declares them: provisionStreams; on
 * a server without users the first service to need one adds it), run the outbox
 * relay and the consumers. A service serves gRPC whether or not NATS is there;
 * events wait in the outbox.
 */
export function startEvents(options: EventsOptions): { stop(): Promise<void> } {
  const { logger } = options;
  let stopped = false;
  let connection: NatsConnection | undefined;
  let relay: OutboxRelay | undefined;
  let consumers: EventConsumers | undefined;

  const started = (async () => {
    connection = await connectNats(options.natsUrl, options.service, logger, options.tls);
    const js = jetstream(connection);
    for (let attempt = 1; !stopped; attempt += 1) {
      try {
        const jsm = await jetstreamManager(connection);
        const streams = new Map(options.publishes.map((type) => [streamOf(type.subject).name, streamOf(type.subject)]));
        for (const stream of streams.values()) await ensureStream(jsm, stream);
        if (options.publishes.length > 0) {
          relay = new OutboxRelay(options.db, js, logger);
          relay.start(options.service, options.outbox);
        }
        if (options.handlers.length > 0) {
          consumers = new EventConsumers(options.handlers, { db: options.db, outbox: options.outbox, js, jsm, logger }, { service: options.service, faults: options.faults });
          await consumers.start();
        }
        return;
      } catch (error) {
        const delay = Math.min(5000, 250 * 2 ** attempt);
        logger.error({ err: error, retry_in_ms: delay }, "could not find its streams or declare its consumers");
        await relay?.stop();
        await consumers?.stop();
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  })();

  return {
    async stop() {
      stopped = true;
      await relay?.stop();
      await consumers?.stop();
      if (connection) {
        await started.catch(() => {});
        await connection.drain().catch(() => {});
      }
    },
  };
}

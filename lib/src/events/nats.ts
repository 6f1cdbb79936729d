import { type JetStreamManager, JetStreamApiError } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type Logger } from "../logger.js";
import { type StreamSpec } from "./event-type.js";

/**
 * A NATS connection that never gives up: the first connect waits for the server,
 * and a lost connection is retried forever, so a NATS outage delays events but
 * never takes a service down (the outbox keeps what it could not publish).
 */
export async function connectNats(url: string, name: string, logger: Logger): Promise<NatsConnection> {
  const connection = await connect({
    servers: url,
    name,
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
  });
  logger.info({ nats: url }, "nats connected");
  void (async () => {
    for await (const status of connection.status()) {
      if (status.type === "disconnect" || status.type === "reconnect") logger.warn({ nats: status.type }, "nats connection");
    }
  })();
  return connection;
}

/**
 * Declare a stream, idempotently: adding a stream that exists with the same
 * configuration is a no-op for JetStream; a different one is updated in place.
 */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  try {
    await jsm.streams.add({ name: spec.name, subjects: spec.subjects });
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || !/already in use/.test(error.message)) throw error;
    await jsm.streams.update(spec.name, { subjects: spec.subjects });
  }
}

import { type JetStreamManager, JetStreamApiCodes, JetStreamApiError, type StreamConfig } from "@nats-io/jetstream";
import { connect, nanos, type NatsConnection, PermissionViolationError } from "@nats-io/transport-node";
import { type Logger } from "../logger.js";
import { type StreamSpec } from "./event-type.js";

/** PEM files for a TLS connection to NATS: the CA to trust and this client's certificate and key. */
export interface NatsTls {
  ca: string;
  cert: string;
  key: string;
}

/**
 * A NATS connection that never gives up: the first connect waits for the server,
 * and a lost connection is retried forever, so a NATS outage delays events but
 * never takes a service down (the outbox keeps what it could not publish).
 *
 * With `tls`, it is mutual TLS with this client's certificate, and the server
 * maps the certificate to the service's user (deploy/nats/nats.conf). The files
 * are read at every (re)connect, so renewed certificates are picked up. Replies
 * come to the inbox prefix _INBOX.<name>, the only one the server lets this user
 * subscribe to, so no service can read another's replies.
 */
/** nats.js's TLS options for these files (any left out: that part is not sent, e.g. no client certificate). */
export function natsTlsOptions(tls: Partial<NatsTls>): { caFile?: string; certFile?: string; keyFile?: string } {
  return { caFile: tls.ca, certFile: tls.cert, keyFile: tls.key };
}

export async function connectNats(url: string, name: string, logger: Logger, tls?: NatsTls): Promise<NatsConnection> {
  const connection = await connect({
    servers: url,
    name,
    inboxPrefix: `_INBOX.${name}`,
    ...(tls ? { tls: natsTlsOptions(tls) } : {}),
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    // Without this, two authorization errors in a row (say, NATS restarted before
    // its users were) would close the connection for good.
    ignoreAuthErrorAbort: true,
    // Without this, every request (each JetStream publish, pull and API call) builds
    // two Errors up front, stack traces included, in case it fails or times out:
    // ~9% of the relay's CPU (bench/analysis.md). A failure still says what failed.
    noAsyncTraces: true,
  });
  logger.info({ nats: url, tls: Boolean(tls) }, "nats connected");
  void (async () => {
    for await (const status of connection.status()) {
      if (status.type === "disconnect" || status.type === "reconnect") logger.warn({ nats: status.type }, "nats connection");
      // A permission violation or an authorization error. A refused request also fails
      // where it was made; this also shows the refused acks and pulls, which fail nowhere else.
      if (status.type === "error") logger.warn({ err: status.error }, "nats refused an operation");
    }
  })();
  return connection;
}

/**
 * How its owner keeps a stream: replicas (NATS_STREAM_REPLICAS), and limits so
 * it cannot grow without end: messages older than maxAgeMs go, and the oldest go
 * first once it holds maxBytes.
 */
export interface StreamSettings {
  replicas: number;
  maxAgeMs: number;
  maxBytes: number;
}

/**
 * Declare a stream, idempotently: nothing to do if it exists as `settings` say,
 * else update it or add it. Looking first means a service that only consumes a
 * stream needs no right to create or change it: it waits (its caller retries)
 * until the owner has declared it. `settings` are for the owner (a publisher
 * for its stream, the provisioner for DEAD_LETTERS): a stream made with other
 * replicas or limits is brought to them; a consumer's look-up passes none and
 * changes nothing.
 */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec, settings?: StreamSettings): Promise<void> {
  let config: StreamConfig;
  try {
    config = (await jsm.streams.info(spec.name)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.StreamNotFound) throw error;
    await addStream(jsm, spec, settings);
    return;
  }
  const wanted = streamConfig(spec, settings);
  const differs = (Object.keys(wanted) as Array<keyof typeof wanted>).some((key) =>
    key === "subjects" ? [...config.subjects].sort().join() !== [...spec.subjects].sort().join() : config[key] !== wanted[key],
  );
  if (differs) await jsm.streams.update(spec.name, wanted);
}

/** The fields of a stream's config that its spec and settings decide. */
function streamConfig(spec: StreamSpec, settings?: StreamSettings) {
  return {
    subjects: spec.subjects,
    ...(settings && { num_replicas: settings.replicas, max_age: nanos(settings.maxAgeMs), max_bytes: settings.maxBytes }),
  };
}

/** Add a stream; if another process added it since we looked, make its config ours. */
async function addStream(jsm: JetStreamManager, spec: StreamSpec, settings?: StreamSettings): Promise<void> {
  try {
    await jsm.streams.add({ name: spec.name, num_replicas: 1, ...streamConfig(spec, settings) });
  } catch (error) {
    if (isPermissionViolation(error)) {
      throw new Error(`stream ${spec.name} does not exist yet, and only its owner may declare it: waiting for it`, { cause: error });
    }
    if (!(error instanceof JetStreamApiError) || !/already in use/.test(error.message)) throw error;
    await jsm.streams.update(spec.name, streamConfig(spec, settings));
  }
}

/** A request NATS refused for this user (nats.js wraps the violation in a RequestError). */
function isPermissionViolation(error: unknown): boolean {
  return error instanceof PermissionViolationError || (error instanceof Error && error.cause instanceof PermissionViolationError);
}

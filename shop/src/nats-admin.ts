/**
 * The NATS administrator's commands, as the nats-admin user (an operator's
 * privilege, never a service's):
 *
 *   node shop/dist/nats-admin.js provision
 *     declare the event streams (ORDERS, PAYMENTS: NATS_EVENT_MAX_AGE, NATS_EVENT_MAX_BYTES)
 *     and DEAD_LETTERS (NATS_DEAD_LETTER_MAX_AGE, NATS_DEAD_LETTER_MAX_BYTES), each with
 *     NATS_STREAM_REPLICAS, or bring them to it; waits for NATS and JetStream.
 *     `make up`, the compose service nats-admin and the Kubernetes Job
 *     nats-provision run it.
 *   node shop/dist/nats-admin.js replay-dead-letters [--consumer <service or durable>] [--subject <subject>]
 *     publish the dead letters again as their events and delete them (`make replay-dead-letters`).
 *
 * It reads NATS_URL, TLS_MODE and TLS_DIR (<TLS_DIR>/nats-admin.pem) like a service.
 * Exit 0 done; 1 failed; 2 bad arguments; 78 bad configuration.
 */
import { parseArgs } from "node:util";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { ConfigError, EXIT_CONFIG, loadConfigOrExit, natsAdminConfig } from "@bazaar/runtime/config";
import { NATS_ADMIN, provisionStreams, replayDeadLetters } from "@bazaar/runtime/events/dead-letters";
import { connectNats } from "@bazaar/runtime/events/nats";
import { createLogger } from "@bazaar/runtime/logger";
import { createTransport } from "@bazaar/runtime/security/transport";
import { SHOP_EVENT_STREAMS, shopStreams } from "./streams.js";

const USAGE = "usage: nats-admin provision | replay-dead-letters [--consumer <service or durable>] [--subject <subject>]";

function usageError(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function commandOf() {
  try {
    const { positionals, values } = parseArgs({ options: { consumer: { type: "string" }, subject: { type: "string" } }, allowPositionals: true, strict: true });
    const [command, ...extra] = positionals;
    if (extra.length > 0 || (command !== "provision" && command !== "replay-dead-letters")) usageError("expected one command: provision or replay-dead-letters");
    if (command === "provision" && (values.consumer !== undefined || values.subject !== undefined)) usageError("provision takes no options");
    return { command, filter: { consumer: values.consumer, subject: values.subject } };
  } catch (error) {
    usageError((error as Error).message);
  }
}

/** jetstreamManager once JetStream answers: a cluster that just started elects its meta leader first. */
async function jetStreamReady(connect: () => Promise<JetStreamManager>, logger: ReturnType<typeof createLogger>): Promise<JetStreamManager> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const jsm = await connect();
      await jsm.getAccountInfo();
      return jsm;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      logger.warn({ err: error }, "JetStream is not ready yet; trying again");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

const { command, filter } = commandOf();
const config = loadConfigOrExit(natsAdminConfig());
const logger = createLogger(NATS_ADMIN, config.LOG_LEVEL);
let tls;
try {
  tls = createTransport(config, NATS_ADMIN, logger).files;
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(EXIT_CONFIG);
}
try {
  // Waits for NATS (and reconnects) like a service: a provisioner may start before it.
  const connection = await connectNats(config.NATS_URL, NATS_ADMIN, logger, tls);
  try {
    const jsm = await jetStreamReady(() => jetstreamManager(connection), logger);
    if (command === "provision") {
      await provisionStreams(jsm, config, SHOP_EVENT_STREAMS);
      logger.info({ streams: [...shopStreams().events, shopStreams().deadLetters].map((stream) => stream.name) }, "streams provisioned");
    } else {
      const replayed = await replayDeadLetters(jetstream(connection), jsm, filter, logger);
      logger.info({ replayed: replayed.length, ...filter }, "dead letters replayed");
    }
  } finally {
    await connection.drain();
  }
} catch (error) {
  logger.fatal({ err: error }, `${command} failed`);
  process.exit(1);
}

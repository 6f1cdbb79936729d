import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { events } from "@bazaar/shop/events";
import { nanos, type NatsConnection, PermissionViolationError } from "@nats-io/transport-node";
import { natsAdminConfig, parseConfig } from "@bazaar/runtime/config";
import { NATS_ADMIN } from "@bazaar/runtime/events/dead-letters";
import { DEAD_LETTER_STREAM, streamOf } from "@bazaar/runtime/events/event-type";
import { connectNats, ensureStream } from "@bazaar/runtime/events/nats";
import { createLogger } from "@bazaar/runtime/logger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meshCertificates } from "../support/certs.js";
import { startTestNats, type TestNats } from "../support/nats.js";
import { repoRoot } from "../../lib/test/support/process.js";
import { certificateFiles } from "../../scripts/certs/issue.js";
import { ALL_DURABLES, ALL_SUBJECTS, configuredUsers, CONSOLE_NEEDS, CONSUMERS, durableOf, NATS_ADMIN_NEEDS, neededBy, OPERATOR, PUBLISHERS, SERVICES, USES } from "./support/nats-needs.js";

// deploy/nats/nats.conf on a real nats-server, with certificates from a test
// CA: what each service may publish and consume (its users are authorization.conf,
// which it includes, as Kubernetes' config does). What a service needs is read
// from the code its main.ts wires (support/nats-needs.ts), so an event or a
// consumer the config does not allow fails here, and so does a permission
// nobody needs. Each check runs as the service, connected as the runtime
// connects it.

const TLS_DIR = meshCertificates();
const logger = createLogger("nats-permissions-test", process.env.LOG_LEVEL ?? "silent");
let nats: TestNats;
const connections = new Map<string, NatsConnection>();

beforeAll(async () => {
  nats = await startTestNats({ config: "deploy/nats/nats.conf", certs: TLS_DIR });
});
afterAll(async () => {
  for (const connection of connections.values()) await connection.close();
  await nats?.stop();
});

/** `service`'s connection, made as the runtime makes it (connectNats with its certificate). */
async function as(service: string): Promise<{ connection: NatsConnection; jsm: JetStreamManager }> {
  let connection = connections.get(service);
  if (!connection) {
    connection = await connectNats(nats.url, service, logger, certificateFiles(TLS_DIR, service));
    connections.set(service, connection);
  }
  return { connection, jsm: await jetstreamManager(connection) };
}

/** What the server refused ("publish <subject>" or "subscription <subject>"); throws if it was allowed or failed otherwise. */
async function refusal(attempt: Promise<unknown>): Promise<string> {
  const error = await attempt.then(
    () => undefined,
    (error: Error) => error,
  );
  if (!error) throw new Error("expected NATS to refuse it, it was allowed");
  const violation = error instanceof PermissionViolationError ? error : error.cause;
  if (!(violation instanceof PermissionViolationError)) throw error;
  return `${violation.operation} ${violation.subject}`;
}

describe("what each service may do: the config against the event catalog", () => {
  it("grants each service that uses events exactly what the runtime needs for them, the operator its look-ups, the console its watching, nats-admin the streams, and nobody else a user", () => {
    // The file nats.conf includes: the users of compose, `make up` and Kubernetes alike.
    const configured = configuredUsers(readFileSync(join(repoRoot, "deploy/nats/authorization.conf"), "utf8"));
    expect(Object.fromEntries(configured)).toEqual({
      ...Object.fromEntries(SERVICES.map((service) => [service, neededBy(service)])),
      operator: OPERATOR,
      console: CONSOLE_NEEDS,
      [NATS_ADMIN]: NATS_ADMIN_NEEDS,
    });
  });

  // The streams exist: nats-admin declared them when the server started (startTestNats, as `make up` does).
  it.each(PUBLISHERS)("%s looks up its streams and publishes each of its subjects, acknowledged by JetStream", async (service) => {
    const { connection, jsm } = await as(service);
    const js = jetstream(connection);
    for (const type of USES[service]!.publishes) {
      await ensureStream(jsm, streamOf(type.subject));
      const ack = await js.publish(type.subject, new Uint8Array(), { msgID: `${service}-${type.subject}` });
      expect(ack.stream).toBe(streamOf(type.subject).name);
    }
  });

  it.each(CONSUMERS)("%s creates its durable consumers, pulls and acks, and dead-letters", async (service) => {
    const { connection, jsm } = await as(service);
    const js = jetstream(connection);
    await ensureStream(jsm, DEAD_LETTER_STREAM);
    for (const { subject } of USES[service]!.consumes) {
      const stream = streamOf(subject);
      const durable = durableOf(service, subject);
      await ensureStream(jsm, stream); // exists: looked up, not declared
      // The configuration EventConsumers.start() asks for.
      await jsm.consumers.add(stream.name, {
        durable_name: durable,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
      });
      const message = await (await js.consumers.get(stream.name, durable)).next({ expires: 10_000 });
      expect(message?.subject, durable).toBe(subject);
      expect(await message!.ackAck()).toBe(true);
      const dead = await js.publish(`dead.${durable}`, new Uint8Array(), { msgID: `dead-${durable}` });
      expect(dead.stream).toBe(DEAD_LETTER_STREAM.name);
    }
  });

  it.each(SERVICES)("%s may publish nothing else: not another's events or dead letters", async (service) => {
    const { connection, jsm } = await as(service);
    const js = jetstream(connection);
    const own = new Set(USES[service]!.publishes.map((type) => type.subject));
    for (const subject of ALL_SUBJECTS.filter((subject) => !own.has(subject))) {
      expect(await refusal(js.publish(subject, new Uint8Array()))).toBe(`publish ${subject}`);
    }
    for (const { durable } of ALL_DURABLES.filter((entry) => entry.service !== service)) {
      expect(await refusal(js.publish(`dead.${durable}`, new Uint8Array()))).toBe(`publish dead.${durable}`);
    }
  });
});

describe("the streams are nats-admin's: no service can erase dead letters or forge events through a stream", () => {
  const STREAMS = ["ORDERS", "PAYMENTS", "DEAD_LETTERS"];

  it.each(SERVICES)("%s can neither change, delete nor purge a stream, nor delete one of its messages", async (service) => {
    const { connection, jsm } = await as(service);
    for (const stream of STREAMS) {
      // The raw request: nats.js's update() would ask for the stream's info first, which not every service may.
      const update = `$JS.API.STREAM.UPDATE.${stream}`;
      const shorter = { name: stream, subjects: [`${stream === "DEAD_LETTERS" ? "dead" : stream.toLowerCase()}.>`], max_age: nanos(1000) };
      expect(await refusal(connection.request(update, JSON.stringify(shorter)))).toBe(`publish ${update}`);
      expect(await refusal(jsm.streams.delete(stream))).toBe(`publish $JS.API.STREAM.DELETE.${stream}`);
      expect(await refusal(jsm.streams.purge(stream))).toBe(`publish $JS.API.STREAM.PURGE.${stream}`);
      expect(await refusal(jsm.streams.deleteMessage(stream, 1))).toBe(`publish $JS.API.STREAM.MSG.DELETE.${stream}`);
    }
  });

  it.each(SERVICES)("%s cannot create a stream that republishes onto a subject it may not publish, not even its own", async (service) => {
    const { jsm } = await as(service);
    const forged = ALL_SUBJECTS.find((subject) => !USES[service]!.publishes.some((type) => type.subject === subject))!;
    const republish = { src: ">", dest: forged };
    const own = `FORGE_${service.toUpperCase()}`;
    expect(await refusal(jsm.streams.add({ name: own, subjects: [`forge.${service}`], republish }))).toBe(`publish $JS.API.STREAM.CREATE.${own}`);
    for (const stream of STREAMS) {
      expect(await refusal(jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`], republish }))).toBe(`publish $JS.API.STREAM.CREATE.${stream}`);
    }
  });

  it("leaves every stream as nats-admin declared it, dead letters and limits included", async () => {
    const { jsm } = await as("operator");
    const deadLetters = await jsm.streams.info("DEAD_LETTERS");
    expect(deadLetters.state.messages).toBeGreaterThan(0); // the consumers' own, published above
    const defaults = parseConfig(natsAdminConfig(), {});
    expect(deadLetters.config).toMatchObject({ max_age: nanos(defaults.NATS_DEAD_LETTER_MAX_AGE), max_bytes: defaults.NATS_DEAD_LETTER_MAX_BYTES });
    expect(deadLetters.config.republish).toBeUndefined();
    for (const stream of ["ORDERS", "PAYMENTS"]) {
      expect((await jsm.streams.info(stream)).config).toMatchObject({ max_age: nanos(defaults.NATS_EVENT_MAX_AGE), max_bytes: defaults.NATS_EVENT_MAX_BYTES });
    }
    expect((await jsm.streams.names().next()).sort()).toEqual(["DEAD_LETTERS", "ORDERS", "PAYMENTS"]);
  });
});

describe("what each service may read", () => {

  it.each(SERVICES)("%s may consume nothing it does not handle, nor read another's consumers or replies", async (service) => {
    const { connection, jsm } = await as(service);
    const handled = new Set(USES[service]!.consumes.map((type) => type.subject));
    for (const subject of ALL_SUBJECTS.filter((subject) => !handled.has(subject))) {
      const { name } = streamOf(subject);
      const durable = durableOf(service, subject);
      expect(await refusal(jsm.consumers.add(name, { durable_name: durable, filter_subject: subject, ack_policy: AckPolicy.Explicit }))).toBe(
        `publish $JS.API.CONSUMER.CREATE.${name}.${durable}.${subject}`,
      );
    }
    for (const { subject, durable } of ALL_DURABLES.filter((entry) => entry.service !== service)) {
      const { name } = streamOf(subject);
      expect(await refusal(jsm.consumers.info(name, durable))).toBe(`publish $JS.API.CONSUMER.INFO.${name}.${durable}`);
      const next = `$JS.API.CONSUMER.MSG.NEXT.${name}.${durable}`;
      expect(await refusal(connection.request(next, JSON.stringify({ batch: 1 })))).toBe(`publish ${next}`);
    }
    // An ephemeral consumer would read a whole stream.
    expect(await refusal(jsm.consumers.add("ORDERS", { ack_policy: AckPolicy.Explicit }))).toBe("publish $JS.API.CONSUMER.CREATE.ORDERS");
    // Core NATS: no listening to event subjects directly, nor to anyone else's inbox.
    const others = SERVICES.filter((other) => other !== service).map((other) => `_INBOX.${other}.>`);
    for (const subject of ["orders.>", "payments.>", "dead.>", "_INBOX.>", ...others]) {
      const subscription = connection.subscribe(subject, { callback: () => {} });
      const error = await subscription.closed;
      expect(error instanceof PermissionViolationError ? `${error.operation} ${error.subject}` : error).toBe(`subscription ${subject}`);
    }
  });
});

describe("what the operator may do", () => {
  it("reads streams, their messages and consumers, after the services wrote them", async () => {
    const { jsm } = await as("operator");
    const orders = await jsm.streams.info("ORDERS");
    expect(orders.state.messages).toBeGreaterThan(0);
    const first = await jsm.streams.getMessage("ORDERS", { seq: orders.state.first_seq });
    expect(first?.subject.startsWith("orders.")).toBe(true);
    const durable = ALL_DURABLES[0]!;
    expect((await jsm.consumers.info(streamOf(durable.subject).name, durable.durable)).name).toBe(durable.durable);
  });

  it("publishes no event, creates, changes or deletes nothing, and pulls no message", async () => {
    const { connection, jsm } = await as("operator");
    const js = jetstream(connection);
    for (const subject of ALL_SUBJECTS) expect(await refusal(js.publish(subject, new Uint8Array()))).toBe(`publish ${subject}`);
    expect(await refusal(jsm.consumers.add("ORDERS", { ack_policy: AckPolicy.Explicit }))).toBe("publish $JS.API.CONSUMER.CREATE.ORDERS");
    expect(await refusal(jsm.streams.delete("ORDERS"))).toBe("publish $JS.API.STREAM.DELETE.ORDERS");
    expect(await refusal(jsm.streams.update("ORDERS", { subjects: ["orders.>"] }))).toBe("publish $JS.API.STREAM.UPDATE.ORDERS");
    const durable = ALL_DURABLES[0]!;
    const next = `$JS.API.CONSUMER.MSG.NEXT.${streamOf(durable.subject).name}.${durable.durable}`;
    expect(await refusal(connection.request(next, JSON.stringify({ batch: 1 })))).toBe(`publish ${next}`);
  });
});

describe("what the development console may do", () => {
  it("sees every event as it is published, and publishes nothing: no event, no JetStream request", async () => {
    const connection = await connectNats(nats.url, "console", logger, certificateFiles(TLS_DIR, "console"));
    try {
      const placed = events.orderPlaced.subject;
      const seen = new Promise<string>((resolve) => connection.subscribe(placed, { max: 1, callback: (_error, message) => resolve(message.subject) }));
      await connection.flush();
      const { connection: orders } = await as("orders");
      await jetstream(orders).publish(placed, new Uint8Array(), { msgID: "console-sees-this" });
      expect(await seen).toBe(placed);
      for (const subject of ALL_SUBJECTS) expect(await refusal(jetstream(connection).publish(subject, new Uint8Array()))).toBe(`publish ${subject}`);
      expect(await refusal(connection.request("$JS.API.INFO", ""))).toBe("publish $JS.API.INFO");
    } finally {
      await connection.close();
    }
  });
});

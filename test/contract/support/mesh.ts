import { randomUUID } from "node:crypto";
import { jetstream, type JetStreamClient, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { EVENT_TYPE_HEADER, streamOf } from "@bazaar/runtime/events/event-type";
import { contractRegistry } from "@bazaar/runtime/contracts";
import { ensureStream } from "@bazaar/runtime/events/nats";
import { SHOP_MODULES } from "../../../scripts/shop.js";
import { dynamicClient, type DynamicClient } from "./dynamic-client.js";
import { replay, type Interaction } from "./examples.js";

/**
 * The gRPC service each service serves, for calls made by name ("inventory"):
 * the one service of its contract package, bazaar.<name>.v1, in the compiled contracts.
 */
export const SERVICE_OF: Record<string, string> = Object.fromEntries(
  SHOP_MODULES.map(({ name }) => {
    const served = [...contractRegistry()].filter((desc) => desc.kind === "service" && desc.file.proto.package === `bazaar.${name}.v1`);
    if (served.length !== 1) throw new Error(`bazaar.${name}.v1 should declare one service, declares ${served.length}`);
    return [name, served[0]!.typeName];
  }),
);

export interface Bus {
  connection: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Publish raw bytes as a producer would: Nats-Msg-Id and Bazaar-Event-Type headers. */
  publish(subject: string, typeName: string, bytes: Uint8Array): Promise<string>;
  close(): Promise<void>;
}

export async function openBus(url: string): Promise<Bus> {
  const connection = await connect({ servers: url });
  const js = jetstream(connection);
  const jsm = await jetstreamManager(connection);
  return {
    connection,
    js,
    jsm,
    async publish(subject, typeName, bytes) {
      await ensureStream(jsm, streamOf(subject));
      const eventId = `evt_${randomUUID().replaceAll("-", "")}`;
      const headers = natsHeaders();
      headers.set(EVENT_TYPE_HEADER, typeName);
      await js.publish(subject, bytes, { msgID: eventId, headers });
      return eventId;
    },
    close: () => connection.close(),
  };
}

/** Dynamic (proto-loader) clients of running services, by service name. */
export function clientsFor(addresses: Record<string, string>): Record<string, DynamicClient> {
  return Object.fromEntries(Object.entries(addresses).map(([name, address]) => [name, dynamicClient(SERVICE_OF[name]!, address)]));
}

/**
 * Replay `step` until it holds: consumers apply events asynchronously, so the
 * effect is awaited, not timed. Throws with the last problems if it never holds.
 */
export async function eventually(client: DynamicClient, step: Interaction, answers: Map<string, unknown>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const problems = await replay(client, step, answers);
    if (problems.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${what}:\n  ${problems.join("\n  ")}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

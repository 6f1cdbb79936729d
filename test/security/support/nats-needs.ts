import { events } from "@bazaar/shop/events";
import { durableNameOf } from "@bazaar/runtime/events/consumer";
import { NATS_ADMIN } from "@bazaar/runtime/events/dead-letters";
import { shopStreams } from "@bazaar/shop/streams";
import { DEAD_LETTER_STREAM, type EventType, streamOf } from "@bazaar/runtime/events/event-type";
import { SHOP_MODULES } from "../../../scripts/shop.js";

/**
 * What each service needs from NATS, read from its module (services/<name>/src/module.ts):
 * the events it publishes and consumes, and the streams and durable names the
 * runtime derives from them. deploy/nats/authorization.conf, the users of every
 * nats-server config, is checked against this.
 */
export const USES: Record<string, { publishes: EventType<unknown>[]; consumes: EventType<unknown>[] }> = Object.fromEntries(
  SHOP_MODULES.filter((module) => (module.publishes ?? []).length + (module.consumes ?? []).length > 0).map((module) => [
    module.name,
    { publishes: module.publishes ?? [], consumes: (module.consumes ?? []).map((handler) => handler.type) },
  ]),
);
export const SERVICES = Object.keys(USES);
export const PUBLISHERS = SERVICES.filter((service) => USES[service]!.publishes.length > 0);
export const CONSUMERS = SERVICES.filter((service) => USES[service]!.consumes.length > 0);
export const ALL_SUBJECTS = Object.values(events).map((type) => type.subject);

/** The durable name the runtime gives `service`'s consumer of `subject`. */
export const durableOf = durableNameOf;

/** Every durable consumer of the shop, with its service and subject. */
export const ALL_DURABLES = CONSUMERS.flatMap((service) =>
  USES[service]!.consumes.map(({ subject }) => ({ service, subject, durable: durableOf(service, subject) })),
);

export interface Permissions {
  publish: string[];
  subscribe: string[];
}

/**
 * The subjects `service` must be allowed, derived from its events the way the
 * runtime uses them (see the list at the top of deploy/nats/authorization.conf).
 */
export function neededBy(service: string): Permissions {
  const { publishes, consumes } = USES[service]!;
  // Every stream is nats-admin's: a service looks up those it publishes to or reads, and DEAD_LETTERS if it consumes.
  const streams = new Set([...publishes, ...consumes].map((type) => streamOf(type.subject).name));
  if (consumes.length > 0) streams.add(DEAD_LETTER_STREAM.name);
  const publish = [
    ...publishes.map((type) => type.subject),
    "$JS.API.INFO",
    ...[...streams].map((stream) => `$JS.API.STREAM.INFO.${stream}`),
    ...consumes.flatMap(({ subject }) => {
      const stream = streamOf(subject).name;
      const durable = durableOf(service, subject);
      return [
        `$JS.API.CONSUMER.CREATE.${stream}.${durable}.${subject}`,
        `$JS.API.CONSUMER.INFO.${stream}.${durable}`,
        `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`,
        `$JS.ACK.${stream}.${durable}.>`,
        `dead.${durable}`,
      ];
    }),
  ];
  return { publish: publish.sort(), subscribe: [`_INBOX.${service}.>`] };
}

/**
 * nats-admin's grant, what lib/src/events/dead-letters.ts does: declare every
 * stream (provisionStreams), read and delete dead letters and publish each
 * again on its event's subject, any event of the catalog (replayDeadLetters).
 */
const { events: EVENT_STREAMS, deadLetters: DEAD_LETTERS } = shopStreams();
export const NATS_ADMIN_NEEDS: Permissions = {
  publish: [
    ...ALL_SUBJECTS,
    "$JS.API.INFO",
    ...[...EVENT_STREAMS, DEAD_LETTERS].flatMap(({ name }) => ["INFO", "CREATE", "UPDATE"].map((op) => `$JS.API.STREAM.${op}.${name}`)),
    ...["MSG.GET", "MSG.DELETE"].map((op) => `$JS.API.STREAM.${op}.${DEAD_LETTERS.name}`),
  ].sort(),
  subscribe: [`_INBOX.${NATS_ADMIN}.>`],
};

/** The operator's read-only grant: stream, message and consumer look-ups; no event, no consumer of its own. */
export const OPERATOR: Permissions = {
  publish: [
    "$JS.API.INFO",
    "$JS.API.STREAM.NAMES",
    "$JS.API.STREAM.LIST",
    "$JS.API.STREAM.INFO.*",
    "$JS.API.STREAM.MSG.GET.*",
    "$JS.API.DIRECT.GET.*",
    "$JS.API.CONSUMER.NAMES.*",
    "$JS.API.CONSUMER.LIST.*",
    "$JS.API.CONSUMER.INFO.*.*",
  ].sort(),
  subscribe: ["_INBOX.operator.>"],
};

/**
 * The development console's grant: plain subscriptions to every event subject
 * (its live feed), replies to its own inbox, and no publishing at all, which
 * also shuts it out of JetStream's API. Its publish list is a deny list: ">".
 */
export const CONSOLE_NEEDS: Permissions = {
  publish: [">"],
  subscribe: [...ALL_SUBJECTS, "_INBOX.console.>"].sort(),
};

/**
 * Each user of a nats-server config's authorization block with its allowed
 * subjects: the quoted strings of its publish and subscribe lists.
 */
export function configuredUsers(config: string): Map<string, Permissions> {
  const quoted = (text: string) => [...text.matchAll(/"([^"]*)"/g)].map((match) => match[1]!).sort();
  const users = new Map<string, Permissions>();
  const start = /^authorization\s*\{/m.exec(config);
  if (!start) throw new Error("no authorization { } block");
  const authorization = config.slice(start.index);
  for (const block of authorization.split(/\n\s*user:\s*/).slice(1)) {
    const [publish = "", subscribe = ""] = block.slice(block.indexOf("publish:")).split("subscribe:");
    users.set(/^[\w-]+/.exec(block)![0], { publish: quoted(publish), subscribe: quoted(subscribe.slice(0, subscribe.indexOf("}"))) });
  }
  return users;
}

import { eventSubjectOf } from "../contracts.js";

/** An event message type with its subject, as the contract declares it. */
export interface EventType<T> {
  /** Full protobuf name, e.g. "bazaar.orders.v1.OrderPlaced"; travels in the Bazaar-Event-Type header. */
  readonly typeName: string;
  /** The NATS subject from the message's (bazaar.options.v1.event_subject) option. */
  readonly subject: string;
  encode(message: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** The encode/decode pair ts-proto generates for every message. */
interface MessageFns<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

/**
 * Bind a generated message to its contract. The subject is read from the
 * compiled contracts, never written in code, so publisher, consumers and docs
 * cannot disagree; a message without a subject fails here, at start.
 */
export function eventType<T>(typeName: string, fns: MessageFns<T>): EventType<T> {
  return {
    typeName,
    subject: eventSubjectOf(typeName),
    encode: (message) => fns.encode(message).finish(),
    decode: (bytes) => fns.decode(bytes),
  };
}

export const EVENT_TYPE_HEADER = "Bazaar-Event-Type";
export const MESSAGE_ID_HEADER = "Nats-Msg-Id";
/**
 * The event id when it differs from the Nats-Msg-Id: a replayed dead letter is
 * published under a message id of its own (JetStream would drop the original's
 * as a duplicate within its window) and keeps its event id here, which consumers
 * read first.
 */
export const EVENT_ID_HEADER = "Bazaar-Event-Id";

export interface StreamSpec {
  name: string;
  subjects: string[];
}

/**
 * The JetStream stream that holds a subject: one per publishing service, named
 * after the subject's first token ("orders.order.placed" → ORDERS, "orders.>").
 */
export function streamOf(subject: string): StreamSpec {
  const root = subject.split(".")[0]!;
  return { name: root.toUpperCase(), subjects: [`${root}.>`] };
}

/** Where messages no consumer could handle are kept, visible and countable. */
export const DEAD_LETTER_STREAM: StreamSpec = { name: "DEAD_LETTERS", subjects: ["dead.>"] };

/**
 * Reading what JetStream really stored, for tests that check the event bus from
 * the outside: every message of a stream, in order, with its headers.
 */
import { type JetStreamManager } from "@nats-io/jetstream";
import { EVENT_TYPE_HEADER, MESSAGE_ID_HEADER } from "@bazaar/runtime/events/event-type";

export interface StreamMessage {
  seq: number;
  subject: string;
  /** Nats-Msg-Id: the publisher's event id. */
  msgId: string;
  /** Bazaar-Event-Type: the protobuf message name it claims to carry. */
  eventType: string;
  header(name: string): string;
  data: Uint8Array;
}

/** Every message of `stream`, oldest first; empty if the stream does not exist yet. */
export async function readStream(jsm: JetStreamManager, stream: string): Promise<StreamMessage[]> {
  const info = await jsm.streams.info(stream).catch(() => undefined);
  if (!info || info.state.messages === 0) return [];
  const messages: StreamMessage[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    // A deleted message leaves a gap in the sequence: skip it.
    const stored = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!stored) continue;
    messages.push({
      seq: stored.seq,
      subject: stored.subject,
      msgId: stored.header.get(MESSAGE_ID_HEADER),
      eventType: stored.header.get(EVENT_TYPE_HEADER),
      header: (name) => stored.header.get(name),
      data: stored.data,
    });
  }
  return messages;
}

/** Message ids that occur more than once, with their count. */
export function duplicateIds(messages: readonly StreamMessage[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const { msgId } of messages) counts.set(msgId, (counts.get(msgId) ?? 0) + 1);
  return Object.fromEntries([...counts].filter(([, count]) => count > 1));
}

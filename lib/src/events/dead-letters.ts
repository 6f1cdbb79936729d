import { type JetStreamClient, type JetStreamManager, type NextMsgRequest, type StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { type NatsAdminConfig } from "../config.js";
import { type Logger } from "../logger.js";
import { DEAD_LETTER_HEADERS } from "./consumer.js";
import { DEAD_LETTER_STREAM, EVENT_ID_HEADER, MESSAGE_ID_HEADER, type StreamSpec } from "./event-type.js";
import { ensureStream } from "./nats.js";

/**
 * The NATS user that declares the streams and replays dead letters: an
 * operator's privilege, never a service's (deploy/nats/authorization.conf). Its
 * certificate is <TLS_DIR>/nats-admin.pem, mapped by its DNS SAN like every user's.
 */
export const NATS_ADMIN = "nats-admin";

/**
 * Declare the event streams and DEAD_LETTERS with their replicas and limits, or bring it to them. Out
 * of band, as the administrator: a service may only look its streams up and
 * publish into them (its events, its dead letters). One that could create or
 * update a stream could give it a republish onto another service's subjects
 * (forging its events), or shorten DEAD_LETTERS' retention to erase them.
 */
export async function provisionStreams(jsm: JetStreamManager, config: NatsAdminConfig, eventStreams: readonly StreamSpec[]): Promise<void> {
  const replicas = config.NATS_STREAM_REPLICAS;
  for (const stream of eventStreams) await ensureStream(jsm, stream, { replicas, maxAgeMs: config.NATS_EVENT_MAX_AGE, maxBytes: config.NATS_EVENT_MAX_BYTES });
  await ensureStream(jsm, DEAD_LETTER_STREAM, { replicas, maxAgeMs: config.NATS_DEAD_LETTER_MAX_AGE, maxBytes: config.NATS_DEAD_LETTER_MAX_BYTES });
}

/** Which dead letters to replay: a consumer (its service, or one durable) and/or the event's subject. */
export interface ReplayFilter {
  consumer?: string;
  subject?: string;
}

export interface ReplayedLetter {
  /** Its sequence in DEAD_LETTERS, where it is deleted now. */
  seq: number;
  consumer: string;
  subject: string;
  eventId: string;
}

const DEAD_LETTER_HEADER_NAMES = new Set(Object.values(DEAD_LETTER_HEADERS).map((name) => name.toLowerCase()));

/**
 * Publish each dead letter that matches `filter` again as the event it was, on
 * its original subject with its original headers, then delete it from
 * DEAD_LETTERS once JetStream acknowledged the event. Every consumer of the
 * subject gets it again: the one that failed applies it, the ones that applied
 * it already find it in their inbox and only ack, because it keeps its event id
 * (Bazaar-Event-Id). It goes out under a JetStream message id of its own, which
 * the stream's duplicate window would not confuse with the original's; that id
 * is the same each time one letter is replayed, so a replay cut between publish
 * and delete and run again is dropped as a duplicate and the letter deleted.
 * Running it again finds nothing left to do.
 */
export async function replayDeadLetters(js: JetStreamClient, jsm: JetStreamManager, filter: ReplayFilter, logger: Logger): Promise<ReplayedLetter[]> {
  const replayed: ReplayedLetter[] = [];
  for (let seq = 1; ; ) {
    // The next letter at or after seq (replayed ones are gone); none left: done.
    // (nats.js types getMessage without next_by_subj, which nats-server has answered since 2.9.)
    const request: NextMsgRequest = { seq, next_by_subj: DEAD_LETTER_STREAM.subjects[0]! };
    const letter = await jsm.streams.getMessage(DEAD_LETTER_STREAM.name, request as unknown as { seq: number });
    if (!letter) return replayed;
    seq = letter.seq + 1;
    const consumer = letter.header.get(DEAD_LETTER_HEADERS.consumer);
    const subject = letter.header.get(DEAD_LETTER_HEADERS.subject);
    const eventId = letter.header.get(DEAD_LETTER_HEADERS.eventId);
    if (!consumer || !subject || !eventId) {
      logger.warn({ seq: letter.seq, subject: letter.subject }, "not a dead letter the runtime wrote (no consumer, subject or event id): left as it is");
      continue;
    }
    if (!matches(filter, consumer, subject)) continue;
    const ack = await js.publish(subject, letter.data, { msgID: `${eventId}:replay:${letter.seq}`, headers: eventHeaders(letter, eventId) });
    await jsm.streams.deleteMessage(DEAD_LETTER_STREAM.name, letter.seq, false);
    logger.info({ seq: letter.seq, consumer, subject, event_id: eventId, stream_seq: ack.seq, duplicate: ack.duplicate }, "dead letter replayed");
    replayed.push({ seq: letter.seq, consumer, subject, eventId });
  }
}

/** A consumer filter names a service (every durable of it) or one durable, <service>-<subject>. */
function matches(filter: ReplayFilter, consumer: string, subject: string): boolean {
  if (filter.subject !== undefined && filter.subject !== subject) return false;
  return filter.consumer === undefined || consumer === filter.consumer || consumer.startsWith(`${filter.consumer}-`);
}

/** The event's own headers, as its publisher sent them, with its id in Bazaar-Event-Id. */
function eventHeaders(letter: StoredMsg, eventId: string): MsgHdrs {
  const headers = natsHeaders();
  for (const [key, values] of letter.header) {
    if (DEAD_LETTER_HEADER_NAMES.has(key.toLowerCase()) || key.toLowerCase() === MESSAGE_ID_HEADER.toLowerCase()) continue;
    for (const value of values) headers.append(key, value);
  }
  headers.set(EVENT_ID_HEADER, eventId);
  return headers;
}

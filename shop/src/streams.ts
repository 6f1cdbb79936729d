import { DEAD_LETTER_STREAM, type StreamSpec, streamOf } from "@bazaar/runtime/events/event-type";
import { events } from "./events.js";

/** The shop's event streams, one per publishing service (ORDERS, PAYMENTS), from the event catalogue. */
export const SHOP_EVENT_STREAMS: readonly StreamSpec[] = [...new Map(Object.values(events).map((type) => [streamOf(type.subject).name, streamOf(type.subject)])).values()];

/** Every stream of the shop: its event streams, and DEAD_LETTERS. */
export function shopStreams(): { events: readonly StreamSpec[]; deadLetters: StreamSpec } {
  return { events: SHOP_EVENT_STREAMS, deadLetters: DEAD_LETTER_STREAM };
}

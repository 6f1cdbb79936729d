import { events } from "@bazaar/shop/events";
import { onIdempotent } from "@bazaar/runtime/events/consumer";
import { type EventType } from "@bazaar/runtime/events/event-type";
import { newId } from "@bazaar/runtime/ids";
import { type NewNotification, orderCancelled, orderConfirmed, orderRejected, paymentRefunded } from "./domain.js";
import { addNotifications } from "./store.js";

/**
 * What the notifications service consumes: each order or payment event
 * becomes the message its customer is sent. A notification is keyed by the
 * event that caused it (source_event_id is unique), so its one insert is
 * idempotent by itself: a redelivered event inserts nothing, and needs no
 * inbox row or transaction around it; the events delivered together are
 * recorded by one insert.
 */

/**
 * The handler of one event type: the notifications its events cause, recorded
 * by one statement; an event whose notification exists already changes nothing.
 */
function record<T>(type: EventType<T>, notify: (event: T) => NewNotification) {
  return onIdempotent(type, async (deliveries, { db }) => {
    const caused = deliveries.map(({ event, eventId }) => ({ id: newId("ntf"), sourceEventId: eventId, notification: notify(event) }));
    const written = await addNotifications(db, caused);
    // An event delivered twice in one batch was written once: the first delivery is the one applied.
    return caused.map(({ sourceEventId }) => written.delete(sourceEventId));
  });
}

export const notificationEventHandlers = [
  record(events.orderPlaced, orderConfirmed),
  record(events.orderRejected, orderRejected),
  record(events.orderCancelled, orderCancelled),
  record(events.paymentRefunded, paymentRefunded),
];
